"""Load a model package in a fresh process and time single-row predictions.

The process imports what serving any package needs, loads the package, sends each canned
row (cycling) through ``ModelPackage.predict_rows`` — the path the server uses — and
reports the load time and the latency percentiles.  The load time is the package's own:
reading it, and importing what only it needs (LightGBM, XGBoost); the imports every
package needs are the same for every model, and timed beside other work they would
make the budget a measure of the machine's load.

Its imports (scikit-learn, skops, numba) take seconds.  A ``ProbeStandby`` is such a
process started ahead — the runner starts it with the Trainer, so the imports overlap the
training — that waits on a Unix socket for one package.  It never
saw the model trained either; when it is not there (another machine, gone after an
earlier attempt), ``probe_in_fresh_process`` starts a process then, as
``python -m shipyard.modeling.infra PACKAGE_DIR ROWS_JSON REQUESTS``.
"""

from __future__ import annotations

import gc
import json
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["InfraReport", "ProbeStandby", "probe_in_fresh_process"]

_SOCKET = "probe.sock"
_ERRORS = "stderr.txt"


@dataclass(frozen=True)
class InfraReport:
    loaded: bool
    load_seconds: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProbeStandby:
    """A process importing what loading a package needs, then waiting for one package.

    ``address`` is its socket; it serves one probe and exits, and exits when its standard
    input closes (the runner ended or died).  ``close`` ends it in any case.
    """

    def __init__(self, process: subprocess.Popen[bytes], folder: Path) -> None:
        self.process = process
        self.folder = folder
        self.address = str(folder / _SOCKET)

    @classmethod
    def start(cls) -> ProbeStandby:
        """Start one; ``OSError`` where it cannot wait on a Unix socket (Windows)."""
        if sys.platform == "win32":
            raise OSError("the probe's standby waits on a Unix socket and a pipe")
        folder = Path(tempfile.mkdtemp(prefix="shipyard-probe-"))
        # Listening before the process starts: a step may connect while it imports.
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(folder / _SOCKET))
            listener.listen(1)
            with (folder / _ERRORS).open("wb") as errors:
                process = subprocess.Popen(
                    [sys.executable, "-m", __name__, "--standby", str(listener.fileno())],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    pass_fds=(listener.fileno(),),
                )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            # Only the standby listens: once it is gone, connecting fails at once.
            listener.close()
        return cls(process, folder)

    def close(self) -> None:
        """End the process (if it still runs) and remove its socket."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def probe_in_fresh_process(
    package: Path,
    rows: list[dict[str, Any]],
    *,
    requests: int,
    timeout: float = 300,
    standby: str | None = None,
) -> InfraReport:
    """Load ``package`` in a process that never held it and measure it serving ``rows``:
    the ``ProbeStandby`` at ``standby`` when it is still there, else a new process."""
    if standby is not None:
        try:
            return _probe_on_standby(standby, package, rows, requests=requests, timeout=timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            pass  # the standby is gone: start a process now
    rows_file = package.parent / f".infra-rows-{time.monotonic_ns()}.json"
    try:
        rows_file.write_text(json.dumps(rows, default=str))
        completed = subprocess.run(
            [sys.executable, "-m", __name__, str(package), str(rows_file), str(requests)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return _no_answer(timeout)
    finally:
        rows_file.unlink(missing_ok=True)
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines()
        return InfraReport(loaded=False, error=lines[-1] if lines else "the process failed")
    return InfraReport(**json.loads(completed.stdout.strip().splitlines()[-1]))


def _probe_on_standby(
    address: str, package: Path, rows: list[dict[str, Any]], *, requests: int, timeout: float
) -> InfraReport:
    job = {"package": str(package), "rows": rows, "requests": requests}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(address)
        try:
            connection.sendall(json.dumps(job, default=str).encode() + b"\n")
            connection.shutdown(socket.SHUT_WR)
            with connection.makefile("rb") as answer:
                line = answer.readline()
        except TimeoutError:
            return _no_answer(timeout)
    if not line:  # it died: its last line of error says why, when it could write one
        try:
            errors = Path(address).with_name(_ERRORS).read_text(errors="replace").split("\n")
        except FileNotFoundError:
            errors = []
        last = next((e for e in reversed(errors) if e.strip()), "the process serving it died")
        return InfraReport(loaded=False, error=last.strip())
    return InfraReport(**json.loads(line))


def _no_answer(timeout: float) -> InfraReport:
    return InfraReport(loaded=False, error=f"the model did not answer within {timeout:.0f} s")


def _import_serving_libraries() -> None:
    """What serving any package needs: scikit-learn and skops, and numba's boosted-tree
    kernel."""
    import shipyard.modeling.package  # noqa: F401
    from shipyard.modeling.trees import load_kernel

    load_kernel()


def _serve(package_dir: Path, rows: list[dict[str, Any]], requests: int) -> str:
    """Load the package and answer ``requests`` single rows; the report as JSON."""
    from shipyard.modeling.package import ModelPackage

    started = time.perf_counter()
    package = ModelPackage.load(package_dir)
    load_seconds = time.perf_counter() - started
    package.predict_rows(rows[:1])  # the first call builds per-column plans
    latencies = []
    for index in range(requests):
        row = rows[index % len(rows)]
        begin = time.perf_counter()
        package.predict_rows([row])
        latencies.append((time.perf_counter() - begin) * 1000)
    report = InfraReport(
        loaded=True,
        load_seconds=load_seconds,
        p50_ms=float(np.percentile(latencies, 50)),
        p99_ms=float(np.percentile(latencies, 99)),
        requests=requests,
    )
    return json.dumps(report.to_dict())


def _standby(listener_fd: int) -> int:
    listener = socket.socket(fileno=listener_fd)
    folder = Path(listener.getsockname()).parent
    try:
        return _wait_and_serve(listener)
    finally:
        # The runner removes it too, unless it was killed: then only this process can.
        shutil.rmtree(folder, ignore_errors=True)


def _wait_and_serve(listener: socket.socket) -> int:
    _import_serving_libraries()
    readable, _, _ = select.select([listener, sys.stdin], [], [])
    if listener not in readable:
        return 0  # the runner closed our input: no probe is coming
    connection, _ = listener.accept()
    listener.close()  # one probe only: a later attempt gets a process of its own
    with connection, connection.makefile("rb") as request:
        job = json.loads(request.readline())
        try:
            answer = _serve(Path(job["package"]), job["rows"], int(job["requests"]))
        except Exception as exc:  # reported as the fresh process's last line of error
            answer = json.dumps(
                InfraReport(
                    loaded=False, error=traceback.format_exception_only(exc)[-1].strip()
                ).to_dict()
            )
        connection.sendall(answer.encode() + b"\n")
    return 0


def _main(arguments: list[str]) -> int:
    if arguments[0] == "--standby":
        return _standby(int(arguments[1]))
    _import_serving_libraries()
    rows = json.loads(Path(arguments[1]).read_text())
    print(_serve(Path(arguments[0]), rows, int(arguments[2])))
    return 0


if __name__ == "__main__":
    code = _main(sys.argv[1:])
    # The interpreter's final garbage collections walk every object scikit-learn made
    # (1.5 s) while the probe's caller waits: leave them to the operating system.
    gc.freeze()
    sys.exit(code)
