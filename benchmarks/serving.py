"""Prediction serving: shipyard's server against MLflow's scoring server and two floors.

These servers answer the same Ames house-price requests on loopback, one at a time, while
wrk drives each with one thread at several concurrencies, with 1-row and 100-row bodies:

- shipyard: ``shipyard serve`` in a fresh ``shipyard quickstart`` project, ``POST /predict``;
  and again as "shipyard binary", the same rows sent to ``POST /v2/models/ames/infer`` as
  the Open Inference Protocol's binary tensors (a JSON header, then raw little-endian
  numbers and length-prefixed text, as tritonclient sends them), asking for the answer as
  binary data too.  Binary data has no null, so the text columns with missing values go
  in the JSON header, as the extension allows;
- MLflow: the same kind of model (an sklearn Pipeline of imputation, scaling, one-hot and
  HistGradientBoostingRegressor) saved with ``mlflow.sklearn.save_model`` and served by
  ``mlflow models serve --env-manager local`` on ``POST /invocations``.  MLflow lives in
  its own virtualenv (``benchmarks/.venv-mlflow``), made on first use, never in shipyard's;
- floor: a bare ASGI callable, no framework, that reads the body and answers a constant,
  on uvicorn as ``shipyard serve`` runs it (one worker, uvicorn's default loop and HTTP
  parser, which are uvloop and httptools when installed, no access log): the best any
  Python server on that uvicorn can do on this machine;
- FastAPI floor: the same constant from a FastAPI app on the same uvicorn, the best any
  FastAPI server can do (``--skip-fastapi-floor`` leaves it out).

The table gives each server's requests per second as a multiple of the floor's, and after
it the targets for shipyard's ``POST /predict`` are checked against the floor of the same
run, each that the run's rows and concurrencies allow:

- 100-row bodies at 64 connections: at least 1,000 req/s, p99 under 100 ms;
- 1-row bodies at 64 connections: at least 0.5x the floor's req/s, p99 under 10 ms;
- 1-row bodies at 1 connection: p50 at most 1.5x the floor's p50.

A run with errors misses its targets.  ``--json`` writes the same checks under
``targets``, and each result's ``floor_ratio``.

Run it with shipyard's virtualenv; it needs ``wrk`` (``apt-get install wrk``; installed
for you when you are root):

    .venv/bin/python benchmarks/serving.py
    .venv/bin/python benchmarks/serving.py --duration 10 --concurrency 1 8 64 --json out.json
    .venv/bin/python benchmarks/serving.py --skip-mlflow --workers 2
    .venv/bin/python benchmarks/serving.py --skip-mlflow --concurrency 1 64 --duration 3
    .venv/bin/python benchmarks/serving.py --skip-mlflow --skip-floor --rows 100 --duration 3
    .venv/bin/python benchmarks/serving.py --skip-mlflow --skip-floor --rows 100 --compact-seconds 2

After its runs, shipyard's line gives the peak resident memory of the prediction log's
compactor process; ``--compact-seconds`` makes the server close and compact its spool files
that often, so that the compactor works under the runs' traffic.

wrk and the server share the machine's cores, as they did for the figures we compare to.
Any non-2xx answer or socket error is reported in red and makes the script exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from peers import BenchmarkError, ensure_venv, shipyard_command, versions

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "serving"
WRK_SCRIPT = ASSETS / "post.lua"
FLOOR_APP = ASSETS / "floor.py"
MLFLOW_TRAINER = ASSETS / "mlflow_model.py"
MLFLOW_VENV = HERE / ".venv-mlflow"
COMPACTOR = "shipyard.serving.compactor"
"""The compactor's module, in its process's command line."""
MODEL_NAME = "ames"
FLOOR = "floor"
"""The bare ASGI floor's name: the targets and the "× floor" column are measured from it."""

console = Console()


# --- servers ---------------------------------------------------------------------------


@dataclass
class Server:
    """A server process started in its own session, so that it and its children stop."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def session(self) -> list[tuple[str, int]]:
        """(state, CPU ticks) of every process in the server's session (Linux /proc)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:  # it ended meanwhile
                continue
            # After "pid (name) ": state is field 3 of stat, session 6, utime 14, stime 15.
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[3]) == self.process.pid:
                found.append((fields[0], int(fields[11]) + int(fields[12])))
        return found

    def peak_mib(self, command_part: str) -> float | None:
        """The peak resident memory (VmHWM) of the session's process whose command line
        holds ``command_part``, in MiB; None when there is none."""
        peaks = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                cmdline = status.with_name("cmdline").read_bytes().replace(b"\0", b" ")
                session = os.getsid(int(status.parent.name))
                text = status.read_text()
            except (OSError, ValueError):  # it ended meanwhile
                continue
            if session == self.process.pid and command_part.encode() in cmdline:
                found = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
                if found:
                    peaks.append(int(found.group(1)) / 1024)
        return max(peaks) if peaks else None

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its children."""
        return sum(ticks for _, ticks in self.session()) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, *, limit: float = 30.0) -> None:
        """Wait until the server has worked off what the last load run left queued."""
        deadline = time.monotonic() + limit
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.cpu_seconds()
            if now - before < 0.25 * 0.1:  # under 10% of one core
                return
            before = now

    def stop(self) -> None:
        """Stop the whole session: a server's workers outlive a leader that died first."""
        for signum, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                self.process.poll()  # reaps the leader, which would linger as a zombie
                if all(state == "Z" for state, _ in self.session()):
                    return
                time.sleep(0.1)


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (Linux /proc/stat)."""
    # user nice system idle iowait irq softirq steal, in ticks
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk runs among them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy(seconds: float = 1.0) -> float:
    """The share of all the machine's CPUs that was busy over ``seconds`` (0..1)."""
    before = busy_cpu_seconds()
    time.sleep(seconds)
    return (busy_cpu_seconds() - before) / seconds / (os.cpu_count() or 1)


def wait_quiet(*, threshold: float, limit: float) -> float:
    """Wait (up to ``limit`` s) until other processes leave the machine nearly idle.

    Two cores shared by wrk and the server leave no room for a third party: a test suite
    running beside the benchmark halves its figures, and OpenMP-parallel models (like
    scikit-learn's histogram gradient boosting) lose far more than that.
    """
    deadline = time.monotonic() + limit
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = machine_busy()
    if busy > threshold:
        console.print(
            f"[yellow]warning: other processes keep {busy:.0%} of the CPUs busy; "
            "the next figures are lower than they would be on a quiet machine[/]"
        )
    return busy


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running(
    name: str,
    command: Sequence[str | Path],
    *,
    port: int,
    ready_path: str,
    log: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    ready_timeout: float = 120.0,
) -> Iterator[Server]:
    """Start a server, wait until ``GET ready_path`` answers 200, and always stop it."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(part) for part in command],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if not server.alive():
                raise BenchmarkError(
                    f"{name} exited with code {process.returncode} before it was ready; "
                    f"its log ends:\n{server.log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(server.base_url + ready_path, timeout=2) as answer,
            ):
                if answer.status == 200:
                    break
            if time.monotonic() > deadline:
                raise BenchmarkError(
                    f"{name} did not answer GET {ready_path} with 200 within "
                    f"{ready_timeout:.0f} s; its log ends:\n{server.log_tail()}"
                )
            time.sleep(0.25)
        yield server
    finally:
        server.stop()


HEADER_LENGTH = "Inference-Header-Content-Length"


def post_json(
    url: str, body: bytes, *, header_length: int | None = None, timeout: float = 60.0
) -> Any:
    """The JSON answer to a JSON body or, with ``header_length``, to a body of binary
    tensors (whose binary answer is read back into ``{"predictions": [...]}``)."""
    headers = {"Content-Type": "application/json"}
    if header_length is not None:
        headers = {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(header_length)}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            binary = answer.headers.get(HEADER_LENGTH)
            content = answer.read()
            return json.loads(content) if binary is None else binary_predictions(content, binary)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise BenchmarkError(f"POST {url} answered {exc.code}: {detail}") from exc
    except OSError as exc:
        raise BenchmarkError(f"POST {url} failed: {exc}") from exc


# --- load generation -------------------------------------------------------------------


@dataclass
class Measurement:
    server: str
    rows: int
    concurrency: int
    duration_s: float
    requests: int
    requests_per_s: float
    latency_ms: dict[str, float]
    non_2xx: int
    socket_errors: dict[str, int]
    wrk_output: str = field(repr=False)
    # CPU use, in cores: the server's and wrk's during the run, and that of every other
    # process on the machine (before the run, and during it).
    server_cores: float = 0.0
    wrk_cores: float = 0.0
    other_cores: float = 0.0
    other_cores_before: float = 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


TIME_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def milliseconds(text: str) -> float:
    """wrk's printed durations ('850.00us', '1.23ms', '2.01s') in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise BenchmarkError(f"cannot read wrk's duration {text!r}")
    return float(match[1]) * TIME_UNITS_MS[match[2]]


def parse_wrk(output: str, *, server: str, rows: int, concurrency: int) -> Measurement:
    """The figures of one ``wrk --latency`` run, read from what it printed."""
    total = re.search(r"(\d+) requests in ([\d.]+\w+),", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    stats = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output)
    if total is None or rate is None or stats is None:
        raise BenchmarkError(f"cannot read wrk's output:\n{output}")
    latency = {
        "mean": milliseconds(stats[1]),
        "stdev": milliseconds(stats[2]),
        "max": milliseconds(stats[3]),
    }
    for percent, value in re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", output, flags=re.MULTILINE):
        latency[f"p{percent}"] = milliseconds(value)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Measurement(
        server=server,
        rows=rows,
        concurrency=concurrency,
        duration_s=milliseconds(total[2]) / 1000,
        requests=int(total[1]),
        requests_per_s=float(rate[1]),
        latency_ms=latency,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=dict(
            zip(
                ("connect", "read", "write", "timeout"),
                (int(n) for n in sockets.groups()) if sockets else (0, 0, 0, 0),
                strict=True,
            )
        ),
        wrk_output=output,
    )


def binary_predictions(content: bytes, header_length: str) -> dict[str, Any]:
    """``{"predictions": [...]}`` from a binary answer's FP64 ``predict`` output."""
    length = int(header_length)
    header = json.loads(content[:length])
    offset = length
    for output in header["outputs"]:
        size = output["parameters"]["binary_data_size"]
        if output["name"] == "predict":
            raw = content[offset : offset + size]
            return {"predictions": np.frombuffer(raw, dtype="<f8").tolist()}
        offset += size
    raise BenchmarkError(f"the binary answer has no predict output: {header}")


def run_wrk(
    url: str,
    body: Path,
    *,
    concurrency: int,
    duration: int,
    timeout: int,
    header_length: int | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{duration}s",
        "--timeout",
        f"{timeout}s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        str(body),
        *([] if header_length is None else [str(header_length)]),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + timeout + 60
    )
    if result.returncode != 0:
        raise BenchmarkError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    return result


def ensure_wrk() -> str:
    """wrk's version line; installs Debian's wrk when missing and we are root."""
    if shutil.which("wrk") is None:
        if os.geteuid() != 0:
            raise BenchmarkError("wrk is not installed: run `sudo apt-get install wrk`")
        with console.status("installing wrk with apt-get..."):
            for command in (
                ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "wrk"],
            ):
                done = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                )
                if done.returncode != 0:
                    raise BenchmarkError(f"{' '.join(command)} failed:\n{done.stderr}")
    # wrk prints its version with its usage and exits 1.
    version = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (version.stdout or version.stderr).splitlines()[0].strip()


# --- request bodies --------------------------------------------------------------------


def write_bodies(
    folder: Path, sizes: Sequence[int]
) -> tuple[dict[str, dict[int, Path]], dict[int, int]]:
    """Request bodies from the Ames rows, in shipyard's and in MLflow's request format,
    and as binary tensors (``binary``), with the length of each binary body's JSON
    header, by rows."""
    from shipyard.demo_data import AMES_TARGET, load_ames

    features = load_ames().drop(columns=[AMES_TARGET])
    bodies: dict[str, dict[int, Path]] = {"instances": {}, "dataframe_records": {}}
    for rows in sizes:
        # to_json writes NaN as null and keeps integers integers.
        records = json.loads(features.head(rows).to_json(orient="records"))
        for key, paths in bodies.items():
            paths[rows] = folder / f"{key}-{rows}.json"
            paths[rows].write_text(json.dumps({key: records}))
    bodies["binary"] = {}
    header_lengths = {}
    for rows in sizes:
        content, header_lengths[rows] = binary_tensors(features.head(rows))
        bodies["binary"][rows] = folder / f"binary-{rows}.bin"
        bodies["binary"][rows].write_bytes(content)
    return bodies, header_lengths


def binary_tensors(frame: Any) -> tuple[bytes, int]:
    """A body of the Open Inference Protocol's binary tensor data extension for the rows of
    ``frame``, asking for binary outputs, and the length of its JSON header.  Integers go
    as INT64, other numbers as FP64 (NaN when missing), text as BYTES; a text column with
    missing values goes as JSON ``data``, which may hold null."""
    inputs: list[dict[str, Any]] = []
    raw: list[bytes] = []
    for column in frame.columns:
        values = frame[column]
        shape = [len(frame)]
        if values.dtype.kind in "iu":
            data = values.to_numpy("<i8").tobytes()
            kind = "INT64"
        elif values.dtype.kind == "f":
            data = values.to_numpy("<f8").tobytes()
            kind = "FP64"
        elif values.isna().any():
            texts = [None if value != value else value for value in values.tolist()]
            inputs.append({"name": column, "datatype": "BYTES", "shape": shape, "data": texts})
            continue
        else:
            data = b"".join(
                struct.pack("<I", len(text)) + text for text in (str(v).encode() for v in values)
            )
            kind = "BYTES"
        inputs.append(
            {"name": column, "datatype": kind, "shape": shape,
             "parameters": {"binary_data_size": len(data)}}
        )  # fmt: skip
        raw.append(data)
    header = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
    return header + b"".join(raw), len(header)


# --- the contestants -------------------------------------------------------------------


def prepare_shipyard(folder: Path, log: Path) -> Path:
    """A quickstart project whose ``ames@production`` is the quickstart's model."""
    project_folder = folder / "shipyard-project"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [shipyard_command(), "quickstart", str(project_folder)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    session = Server("shipyard quickstart", process, "", log)
    try:
        code = process.wait(timeout=900)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(
            f"shipyard quickstart ran for 15 minutes; its log ends:\n{session.log_tail()}"
        ) from None
    finally:
        session.stop()  # and whatever it left running, such as a demo server
    if code != 0 and not (project_folder / "shipyard.yaml").exists():
        raise BenchmarkError(f"shipyard quickstart failed ({code}):\n{session.log_tail()}")
    ensure_production(project_folder)
    return project_folder


def ensure_production(project_folder: Path) -> None:
    """Point ``ames@production`` at the newest version if the quickstart's gate did not.

    On a busy two-core machine the quickstart's infra validation can miss its latency
    budget; the benchmark measures the server, so it promotes the model anyway.
    """
    from shipyard.project import Project

    with Project.open(project_folder) as project:
        if project.registry.find(MODEL_NAME, "production") is not None:
            return
        versions = project.registry.versions(MODEL_NAME)
        if not versions:
            raise BenchmarkError(f"the quickstart in {project_folder} registered no model")
        newest = max(record.version for record in versions)
        project.registry.promote(MODEL_NAME, newest, alias="production", reason="serving benchmark")
    console.print(
        f"[yellow]the quickstart did not promote {MODEL_NAME}; promoted version {newest} "
        "to production for the benchmark[/]"
    )


def mlflow_env(venv: Path, *, omp_threads: int | None = None) -> dict[str, str]:
    # `mlflow models serve` starts `uvicorn` from PATH: it must be the one beside mlflow.
    # MLflow 3 reports usage to its makers; the benchmark talks to loopback only.
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_threads)
    return env


def train_mlflow(venv: Path, folder: Path, log: Path) -> tuple[Path, dict[str, Any]]:
    from shipyard.demo_data import AMES_TARGET, ames_path

    model = folder / "mlflow-model"
    with log.open("wb") as errors:
        done = subprocess.run(
            [
                str(venv / "bin" / "python"),
                str(MLFLOW_TRAINER),
                "--data",
                str(ames_path()),
                "--target",
                AMES_TARGET,
                "--output",
                str(model),
            ],
            env=mlflow_env(venv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            timeout=900,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise BenchmarkError(f"training the MLflow model failed:\n{tail}")
    info: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return model, info


# --- measuring one server --------------------------------------------------------------


@dataclass
class Contestant:
    """One server to measure: how to start it and how to ask it for predictions."""

    name: str
    command: list[str | Path]
    port: int
    ready_path: str
    predict_path: str
    bodies: dict[int, Path]
    predicts: bool = True  # False for the floors, whose answer is a constant
    # Bodies of binary tensors: their JSON header's length, by rows (none: JSON bodies).
    header_lengths: dict[int, int] = field(default_factory=dict)
    cwd: Path | None = None
    env: dict[str, str] | None = None

    def start(self, folder: Path) -> contextlib.AbstractContextManager[Server]:
        return running(
            self.name,
            self.command,
            port=self.port,
            ready_path=self.ready_path,
            log=folder / f"{self.name}.log",
            cwd=self.cwd,
            env=self.env,
        )

    def check(self, answer: Any, rows: int) -> Any:
        """The first prediction of a correct answer to a ``rows``-row body."""
        if not self.predicts:
            return None
        predictions = answer.get("predictions") if isinstance(answer, dict) else None
        if not isinstance(predictions, list) or len(predictions) != rows:
            raise BenchmarkError(
                f"{self.name} should answer {rows} predictions, not {str(answer)[:300]}"
            )
        return predictions[0]


def measure(
    contestant: Contestant, args: argparse.Namespace, folder: Path
) -> tuple[list[Measurement], Any]:
    results: list[Measurement] = []
    first_prediction = None
    with contestant.start(folder) as server:
        url = server.base_url + contestant.predict_path
        for rows, body in contestant.bodies.items():
            header_length = contestant.header_lengths.get(rows)
            answer = contestant.check(
                post_json(url, body.read_bytes(), header_length=header_length), rows
            )
            first_prediction = first_prediction if first_prediction is not None else answer
        if isinstance(first_prediction, int | float):
            console.print(f"  answers; predicts {first_prediction:,.0f} for the first row")
        for rows, body in contestant.bodies.items():
            if args.warmup:
                with console.status(f"{contestant.name}: warming up with {rows}-row bodies"):
                    run_wrk(
                        url,
                        body,
                        concurrency=min(8, max(args.concurrency)),
                        duration=args.warmup,
                        timeout=args.timeout,
                        header_length=contestant.header_lengths.get(rows),
                    )
                    server.wait_idle()
            for concurrency in args.concurrency:
                label = f"{contestant.name}: {rows}-row bodies, {concurrency} connections"
                with console.status(f"{label}: waiting for a quiet machine"):
                    background = wait_quiet(threshold=args.quiet, limit=args.quiet_wait)
                with console.status(f"{label}, {args.duration} s"):
                    machine, serving, client = (
                        busy_cpu_seconds(),
                        server.cpu_seconds(),
                        children_cpu_seconds(),
                    )
                    started = time.monotonic()
                    done = run_wrk(
                        url,
                        body,
                        concurrency=concurrency,
                        duration=args.duration,
                        timeout=args.timeout,
                        header_length=contestant.header_lengths.get(rows),
                    )
                    elapsed = time.monotonic() - started
                    machine = busy_cpu_seconds() - machine
                    serving = server.cpu_seconds() - serving
                    client = children_cpu_seconds() - client
                    server.wait_idle()
                if not server.alive():
                    raise BenchmarkError(
                        f"{contestant.name} died during the run; its log ends:\n{server.log_tail()}"
                    )
                result = parse_wrk(
                    done.stdout, server=contestant.name, rows=rows, concurrency=concurrency
                )
                result.server_cores = serving / elapsed
                result.wrk_cores = client / elapsed
                result.other_cores = max(0.0, machine - serving - client) / elapsed
                result.other_cores_before = background * (os.cpu_count() or 1)
                results.append(result)
                console.print(f"  {label}: {summary(result)}")
                if result.other_cores > args.quiet * (os.cpu_count() or 1):
                    console.print(
                        f"  [yellow]warning: other processes used {result.other_cores:.2f} "
                        "cores during this run; its figures are lower than on a quiet "
                        "machine[/]"
                    )
        compactor = server.peak_mib(COMPACTOR)
        if compactor is not None:
            console.print(f"  the prediction log's compactor: peak RSS {compactor:,.0f} MiB")
    return results, first_prediction


def summary(result: Measurement) -> str:
    text = (
        f"{result.requests_per_s:,.1f} req/s, p50 {ms(result.latency_ms.get('p50'))}, "
        f"p99 {ms(result.latency_ms.get('p99'))}"
    )
    text += f" (CPU cores: server {result.server_cores:.2f}, wrk {result.wrk_cores:.2f})"
    if result.errors:
        text += f" [bold red]{error_text(result)}[/]"
    return text


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    digits = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:.{digits}f} ms"


def error_text(result: Measurement) -> str:
    parts = [f"{result.non_2xx} non-2xx"] if result.non_2xx else []
    parts += [f"{n} {kind}" for kind, n in result.socket_errors.items() if n]
    return ", ".join(parts) or "0"


def floor_contestant(bodies: dict[int, Path], *, framework: str = "asgi") -> Contestant:
    """The bare ASGI floor ("floor") or, with ``framework="fastapi"``, FastAPI's."""
    port = free_port()
    return Contestant(
        FLOOR if framework == "asgi" else "FastAPI floor",
        [sys.executable, FLOOR_APP, "--port", str(port), "--framework", framework],
        port=port,
        ready_path="/health",
        predict_path="/predict",
        bodies=bodies,
        predicts=False,
    )


def shipyard_project(args: argparse.Namespace, folder: Path) -> Path:
    """The project to serve: ``--project``, else a fresh quickstart's."""
    if args.project is not None:
        return Path(args.project).resolve()
    with console.status("shipyard quickstart: training the Ames model..."):
        started = time.perf_counter()
        project = prepare_shipyard(folder, folder / "quickstart.log")
    took = time.perf_counter() - started
    console.print(f"shipyard quickstart project ready in {took:.0f} s")
    return project


def shipyard_contestant(
    args: argparse.Namespace,
    project: Path,
    bodies: dict[int, Path],
    *,
    header_lengths: dict[int, int] | None = None,
) -> Contestant:
    """``shipyard serve`` on ``POST /predict``, or, given the ``header_lengths`` of binary
    bodies, on the Open Inference Protocol's infer route with binary tensors."""
    binary = header_lengths is not None
    port = free_port()
    command: list[str | Path] = [shipyard_command(), "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    env = None
    if args.compact_seconds is not None:  # spool files closed and compacted this often
        seconds = str(args.compact_seconds)
        env = {
            **os.environ,
            "SHIPYARD_SERVE_COMPACT_SECONDS": seconds,
            "SHIPYARD_SERVE_SPOOL_SECONDS": seconds,
        }
    return Contestant(
        "shipyard binary" if binary else "shipyard",
        command,
        port=port,
        ready_path="/v2/health/ready",
        predict_path=f"/v2/models/{MODEL_NAME}/infer" if binary else "/predict",
        bodies=bodies,
        header_lengths=header_lengths or {},
        cwd=project,
        env=env,
    )


def mlflow_contestant(
    args: argparse.Namespace, folder: Path, bodies: dict[int, Path]
) -> tuple[Contestant, dict[str, Any]]:
    """MLflow's scoring server and what its model is: train, save, and get ready to serve."""
    from sklearn import __version__ as sklearn_version

    venv = args.mlflow_venv.resolve()
    # The same scikit-learn as shipyard's: the servers differ, not the trees.
    requirements = [*args.mlflow_requirement, f"scikit-learn=={sklearn_version}"]
    with console.status(f"MLflow virtualenv {venv}: pip install {' '.join(requirements)}"):
        setup = ensure_venv(venv, requirements, folder / "mlflow-install.log", command="mlflow")
    if setup is not None:
        console.print(f"made the MLflow virtualenv in {setup:.0f} s")
    with console.status("training the MLflow model..."):
        model, info = train_mlflow(venv, folder, folder / "mlflow-train.log")
    console.print(
        f"MLflow {info['mlflow']} model saved (eval R² {info['r2']}, "
        f"trained in {info['seconds']:.0f} s)"
    )
    port = free_port()
    command: list[str | Path] = [venv / "bin" / "mlflow", "models", "serve", "-m", model]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    if args.mlflow_workers:
        command += ["-w", str(args.mlflow_workers)]
    contestant = Contestant(
        "MLflow",
        command,
        port=port,
        ready_path="/ping",
        predict_path="/invocations",
        bodies=bodies,
        env=mlflow_env(venv, omp_threads=args.mlflow_omp_threads),
    )
    return contestant, {"venv_setup_s": setup, **info}


# --- reporting -------------------------------------------------------------------------


def by_size(results: list[Measurement], server: str) -> dict[tuple[int, int], Measurement]:
    """``server``'s results by rows and connections."""
    return {(r.rows, r.concurrency): r for r in results if r.server == server}


def ratio(result: Measurement, baseline: dict[tuple[int, int], Measurement]) -> float | None:
    """``result``'s requests per second as a multiple of the baseline's at the same rows
    and connections; None when the baseline has no such run."""
    base = baseline.get((result.rows, result.concurrency))
    return result.requests_per_s / base.requests_per_s if base and base.requests_per_s else None


def results_table(results: list[Measurement], *, title: str) -> Table:
    """One section per body size and concurrency, the servers side by side within it."""
    found = {name: by_size(results, name) for name in (FLOOR, "MLflow")}
    baselines = {name: baseline for name, baseline in found.items() if baseline}
    table = Table(title=title)
    for column in ("rows", "conns", "server", "req/s", "p50", "p99", "errors"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for name in baselines:
        table.add_column(f"× {name}", justify="right")
    groups: dict[tuple[int, int], list[Measurement]] = {}
    for result in results:
        groups.setdefault((result.rows, result.concurrency), []).append(result)
    for key in sorted(groups):
        group = groups[key]
        for index, result in enumerate(group):
            row = [
                str(result.rows) if index == 0 else "",
                str(result.concurrency) if index == 0 else "",
                result.server,
                f"{result.requests_per_s:,.1f}",
                ms(result.latency_ms.get("p50")),
                ms(result.latency_ms.get("p99")),
                f"[bold red]{error_text(result)}[/]" if result.errors else "0",
            ]
            for baseline in baselines.values():
                multiple = ratio(result, baseline)
                row.append("-" if multiple is None else f"{multiple:.2f}×")
            table.add_row(*row, end_section=index == len(group) - 1)
    return table


@dataclass
class Target:
    """One of the serving targets, checked on one run of shipyard's ``POST /predict``."""

    rows: int
    concurrency: int
    goal: str
    measured: str
    met: bool
    floor_ratio: float | None = None  # shipyard's req/s ÷ the bare floor's


def check_targets(results: list[Measurement]) -> list[Target]:
    """The targets that the run's rows, connections and floor runs allow checking."""
    shipyard, floor = by_size(results, "shipyard"), by_size(results, FLOOR)
    targets = []
    if (run := shipyard.get((100, 64))) is not None:
        p99 = run.latency_ms["p99"]
        targets.append(
            Target(
                100, 64, "≥ 1,000 req/s, p99 < 100 ms",
                f"{run.requests_per_s:,.1f} req/s, p99 {ms(p99)}",
                met=run.requests_per_s >= 1000 and p99 < 100 and not run.errors,
                floor_ratio=ratio(run, floor),
            )
        )  # fmt: skip
    if (run := shipyard.get((1, 64))) is not None and (multiple := ratio(run, floor)):
        p99 = run.latency_ms["p99"]
        targets.append(
            Target(
                1, 64, "≥ 0.5× the floor's req/s, p99 < 10 ms",
                f"{run.requests_per_s:,.1f} req/s = {multiple:.2f}× the floor's "
                f"{floor[1, 64].requests_per_s:,.1f}, p99 {ms(p99)}",
                met=multiple >= 0.5 and p99 < 10 and not run.errors,
                floor_ratio=multiple,
            )
        )  # fmt: skip
    if (run := shipyard.get((1, 1))) is not None and (1, 1) in floor:
        p50, floor_p50 = run.latency_ms["p50"], floor[1, 1].latency_ms["p50"]
        targets.append(
            Target(
                1, 1, "p50 ≤ 1.5× the floor's p50",
                f"p50 {ms(p50)} = {p50 / floor_p50:.2f}× the floor's {ms(floor_p50)}",
                met=p50 <= 1.5 * floor_p50 and not run.errors,
                floor_ratio=ratio(run, floor),
            )
        )  # fmt: skip
    return targets


def print_targets(targets: list[Target]) -> None:
    console.print("targets for shipyard's POST /predict (relative ones: to this run's bare floor):")
    for target in targets:
        verdict = "[bold green]met   [/]" if target.met else "[bold red]missed[/]"
        size = f"{target.rows} row{'s' * (target.rows != 1)}, {target.concurrency} "
        size += f"connection{'s' * (target.concurrency != 1)}"
        console.print(f"  {verdict} {size}: {target.goal} — {target.measured}", soft_wrap=True)


# --- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 100], help="rows per body")
    parser.add_argument("--timeout", type=int, default=30, help="wrk's per-request timeout, s")
    parser.add_argument("--workers", type=int, help="passed to `shipyard serve --workers`")
    parser.add_argument("--mlflow-workers", type=int, help="passed to `mlflow models serve -w`")
    parser.add_argument(
        "--mlflow-omp-threads",
        type=int,
        help="OMP_NUM_THREADS for MLflow's server (default: unset, as MLflow leaves it)",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.15,
        help="before each run, wait until at most this share of the CPUs is busy",
    )
    parser.add_argument("--quiet-wait", type=float, default=60, help="waiting for quiet, s")
    parser.add_argument("--project", type=Path, help="serve this shipyard project, no quickstart")
    parser.add_argument("--mlflow-venv", type=Path, default=MLFLOW_VENV)
    parser.add_argument(
        "--mlflow-requirement",
        nargs="+",
        default=["mlflow"],
        help="what pip installs into the MLflow virtualenv (scikit-learn is pinned to "
        "shipyard's version)",
    )
    parser.add_argument("--skip-shipyard", action="store_true")
    parser.add_argument(
        "--skip-binary", action="store_true", help="no run of shipyard with binary tensors"
    )
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-floor", action="store_true", help="run neither floor")
    parser.add_argument(
        "--skip-fastapi-floor", action="store_true", help="run the bare ASGI floor only"
    )
    parser.add_argument(
        "--compact-seconds",
        type=float,
        help="close and compact shipyard's spool files this often (default: the server's "
        "30 s and 60 s), to see the compactor's memory under the runs' traffic",
    )
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if min(args.concurrency) < 1 or min(args.rows) < 1 or args.duration < 1:
        parser.error("--concurrency, --rows and --duration must be positive")
    return args


def interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, folder: Path) -> int:
    wrk_version = ensure_wrk()
    bodies, header_lengths = write_bodies(folder, args.rows)
    contestants: list[Contestant] = []
    report: dict[str, Any] = {
        "settings": {
            key: value if not isinstance(value, Path) else str(value)
            for key, value in vars(args).items()
        },
        "environment": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "wrk": wrk_version,
            "packages": versions(
                "shipyard", "fastapi", "uvicorn", "uvloop", "httptools", "scikit-learn", "pandas"
            ),
        },
        "models": {},
    }

    if not args.skip_floor:
        contestants.append(floor_contestant(bodies["instances"]))
        if not args.skip_fastapi_floor:
            contestants.append(floor_contestant(bodies["instances"], framework="fastapi"))
    if not args.skip_shipyard:
        project = shipyard_project(args, folder)
        contestants.append(shipyard_contestant(args, project, bodies["instances"]))
        if not args.skip_binary:
            binary = shipyard_contestant(
                args, project, bodies["binary"], header_lengths=header_lengths
            )
            contestants.append(binary)
    if not args.skip_mlflow:
        contestant, report["models"]["MLflow"] = mlflow_contestant(
            args, folder, bodies["dataframe_records"]
        )
        contestants.append(contestant)

    if not contestants:
        raise BenchmarkError("every server is skipped: nothing to measure")
    results: list[Measurement] = []
    failures: list[str] = []
    for contestant in contestants:
        console.print(f"[bold]{contestant.name}[/]")
        try:
            measured, first = measure(contestant, args, folder)
        except BenchmarkError as exc:
            # Keep measuring the others: a run takes minutes, and one broken server
            # should not cost the figures of the rest.
            console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
            failures.append(f"{contestant.name}: {exc}")
            continue
        results += measured
        if first is not None:
            report["models"].setdefault(contestant.name, {})["first_row_prediction"] = first

    title = (
        f"serving Ames predictions: wrk -t1, {args.duration} s per run, "
        f"{os.cpu_count()} CPUs shared by client and server"
    )
    targets = check_targets(results)
    if results:
        console.print(results_table(results, title=title))
    if targets:
        print_targets(targets)
    floor = by_size(results, FLOOR)
    report["results"] = [
        {**asdict(result), "floor_ratio": ratio(result, floor)} for result in results
    ]
    report["targets"] = [asdict(target) for target in targets]
    report["failures"] = failures
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {args.json}")
    for result in results:
        if result.errors:
            console.print(
                f"[bold red]error:[/] {result.server} answered errors with {result.rows}-row "
                f"bodies at {result.concurrency} connections: {error_text(result)}"
            )
    for failure in failures:
        console.print(f"[bold red]failed:[/] {failure.splitlines()[0]}", soft_wrap=True)
    return 1 if failures or any(result.errors for result in results) else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="shipyard-serving-bench-") as folder:
            return run(args, Path(folder))
    except BenchmarkError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]: stopped every server the benchmark started")
        return 130


if __name__ == "__main__":
    sys.exit(main())
