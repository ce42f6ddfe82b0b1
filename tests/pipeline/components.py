"""Components the engine tests run; module level so worker processes can import them."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from shipyard import Component, Dataset, Input, Metrics, Model, Output, component
from shipyard.pipeline import PublishContext


@component
def generate(numbers: Output[Dataset], *, count: int = 10, start: int = 0) -> None:
    numbers.path.write_text(json.dumps(list(range(start, start + count))))
    numbers.properties["rows"] = count


@component
def scale(numbers: Input[Dataset], scaled: Output[Dataset], *, factor: float = 2.0) -> None:
    values = json.loads(numbers.path.read_text())
    scaled.path.write_text(json.dumps([value * factor for value in values]))


class Summarise(Component):
    numbers: Input[Dataset]
    summary: Output[Metrics]

    def run(self) -> None:
        values = json.loads(self.numbers.path.read_text())
        self.summary.path.write_text(json.dumps({"total": sum(values), "count": len(values)}))
        self.summary.properties["total"] = sum(values)


@component
def fragile(numbers: Input[Dataset], passed: Output[Dataset], *, flag_file: str) -> None:
    """Fails while ``flag_file`` exists."""
    if Path(flag_file).exists():
        raise ValueError(f"refusing to run while {flag_file} exists")
    passed.path.write_text(numbers.path.read_text())


@component(retries=2, retry_backoff=0.05)
def flaky(numbers: Output[Dataset], *, counter_file: str, failures: int = 2) -> None:
    """Fails ``failures`` times (counted in a file), then succeeds."""
    counter = Path(counter_file)
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    if seen < failures:
        raise RuntimeError(f"transient failure {seen + 1}")
    numbers.path.write_text("[1]")


@component
def rendezvous(met: Output[Metrics], *, folder: str, me: str, other: str) -> None:
    """Waits until ``other`` has started too: succeeds only if both run at once."""
    Path(folder, me).write_text("started")
    deadline = time.monotonic() + 60
    while not Path(folder, other).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{other} never ran beside {me}")
        time.sleep(0.02)
    met.path.write_text(me)


@component
def folder_output(tree: Output[Dataset], *, files: int = 3) -> None:
    tree.path.mkdir()
    for index in range(files):
        (tree.path / f"part-{index}.txt").write_text(f"part {index}\n")
    (tree.path / "nested").mkdir()
    (tree.path / "nested" / "deep.txt").write_text("deep\n")


@component
def count_files(tree: Input[Dataset], total: Output[Metrics]) -> None:
    count = sum(1 for path in tree.path.rglob("*") if path.is_file())
    total.path.write_text(str(count))


@component
def lazy(numbers: Output[Dataset]) -> None:
    """Forgets to write its output."""


@component(cache=False)
def uncached(numbers: Output[Dataset]) -> None:
    numbers.path.write_text(json.dumps([time.time_ns(), os.getpid()]))


@component
def train(numbers: Input[Dataset], model: Output[Model]) -> None:
    model.path.write_text("model")


@component
def use_model(model: Input[Model], report: Output[Metrics]) -> None:
    report.path.write_text(model.path.read_text())


@component
def wait_for_file(
    numbers: Input[Dataset], copied: Output[Dataset], *, started_file: str, release_file: str
) -> None:
    """Signals that it started, then waits until ``release_file`` exists."""
    Path(started_file).write_text(str(os.getpid()))
    while not Path(release_file).exists():
        time.sleep(0.05)
    copied.path.write_text(numbers.path.read_text())


@component
def fit(numbers: Input[Dataset], report: Output[Metrics], *, alpha: float = 0.5) -> None:
    """Logs what an experiment would: a parameter and a metric per epoch."""
    from shipyard import log_metric, log_param

    log_param("alpha", alpha)
    for epoch in range(3):
        log_metric("loss", alpha / (epoch + 1), step=epoch)
    report.path.write_text("fitted")


class ReadsFile(Component):
    """Copies a file from outside the artifact store; its content joins the fingerprint."""

    copy: Output[Dataset]
    source: str

    def fingerprint_extras(self, params: dict[str, Any]) -> dict[str, str]:
        return {"source": hashlib.sha256(Path(params["source"]).read_bytes()).hexdigest()}

    def run(self) -> None:
        self.copy.path.write_bytes(Path(self.source).read_bytes())


class Announces(Component):
    """Publishes a property on its run for every success and cache hit."""

    numbers: Input[Dataset]
    seen: Output[Metrics]
    fail_publish: bool = False

    def run(self) -> None:
        self.seen.path.write_text(self.numbers.path.read_text())

    def publish(self, context: PublishContext) -> None:
        if self.params.get("fail_publish"):
            raise RuntimeError("the registry is closed")
        context.store.set_properties(
            "run", context.run.id, {"announced": context.outputs["seen"].digest}
        )
        context.log(metrics={"announced_cached": float(context.cached)})


class PidInKey(Component):
    """Puts its process id in its cache key: every process computes another key."""

    numbers: Output[Dataset]

    def fingerprint_extras(self, params: dict[str, Any]) -> dict[str, str]:
        return {"pid": str(os.getpid())}

    def run(self) -> None:
        self.numbers.path.write_text("[1, 2]")


class IgnoresUnknown(Component):
    """Drops arguments it does not know instead of letting the pipeline refuse them."""

    numbers: Output[Dataset]
    count: int = 2

    def __init__(self, **arguments: Any) -> None:
        spec = type(self).spec
        known = {k: v for k, v in arguments.items() if k in spec.parameters or k in spec.inputs}
        super().__init__(**known)

    def run(self) -> None:
        self.numbers.path.write_text(json.dumps(list(range(self.count))))


class PublishesOnce(Component):
    """Publishing is not idempotent: it refuses an artifact it has published before."""

    numbers: Input[Dataset]
    copy: Output[Dataset]

    def run(self) -> None:
        self.copy.path.write_text(self.numbers.path.read_text())

    def publish(self, context: PublishContext) -> None:
        copy = context.outputs["copy"]
        if context.store.get_properties("artifact", copy.id).get("published"):
            raise RuntimeError(f"artifact {copy.id} was published already")
        context.store.set_properties("artifact", copy.id, {"published": True})


@component
def executes_once(numbers: Output[Dataset], *, log_file: str, wait_for: str) -> None:
    """Appends to ``log_file`` each time it executes, then waits for a file matching
    the glob ``wait_for``: the sign that another runner met this step running."""
    with open(log_file, "a") as log:
        log.write(f"{os.getpid()}\n")
    pattern = Path(wait_for)
    deadline = time.monotonic() + 30
    while not any(pattern.parent.glob(pattern.name)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing matched {wait_for}")
        time.sleep(0.05)
    numbers.path.write_text("[1, 2, 3]")


@component
def takes_anything(numbers: Output[Dataset], *, extra: Any = None) -> None:
    """Has a parameter of any type: no value is of the wrong type for it."""
    numbers.path.write_text(json.dumps([extra]))


@component
def native_threads(report: Output[Metrics]) -> None:
    """Reports the threads OpenMP would give scikit-learn's gradient boosting here."""
    import sklearn.ensemble  # noqa: F401 - loads OpenMP
    import threadpoolctl

    pools = [pool for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "openmp"]
    report.path.write_text(json.dumps([pool["num_threads"] for pool in pools]))


@component
def dies_once(survived: Output[Dataset], *, marker: str) -> None:
    """Kills its own worker process the first time (as the OOM killer would), then works."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    survived.path.write_text(f"{path.read_text()} {os.getpid()}")


@component
def remember(seen: Output[Metrics], *, note: str = "") -> None:
    """Records what ``current_step`` says and counts its runs in its working folder."""
    from shipyard.pipeline import current_step

    step = current_step()
    counter = step.work_folder() / "runs"
    runs = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(runs))
    report = {"fingerprint": step.fingerprint, "workers": step.workers, "runs": runs}
    seen.path.write_text(json.dumps(report | {"folder": str(step.work_folder())}))


class WaitingProcess:
    """A standby that only waits: its address is its process id, kept in ``pid_file``."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.address = str(process.pid)

    @classmethod
    def start(cls, pid_file: Path) -> WaitingProcess:
        code = "import sys; sys.stdin.read()"
        process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
        pid_file.write_text(str(process.pid))
        return cls(process)

    def close(self) -> None:
        with self.process:  # closes its input and waits
            self.process.kill()


class UsesStandby(Component):
    """Records the standby it was given and whether that process was alive."""

    numbers: Input[Dataset]
    seen: Output[Metrics]
    pid_file: str

    def standby(self) -> WaitingProcess:
        return WaitingProcess.start(Path(self.params["pid_file"]))

    def run(self) -> None:
        from shipyard.pipeline import current_step

        address = current_step().standby
        alive = address is not None and Path(f"/proc/{address}").exists()
        self.seen.path.write_text(json.dumps({"standby": address, "alive": alive}))


@component
def whoami(numbers: Output[Dataset]) -> None:
    """Writes the id of the worker process that ran it."""
    numbers.path.write_text(json.dumps({"pid": os.getpid()}))


class LoadsAhead(Component):
    """Says which worker ran it and whether its slow import was there before it ran."""

    numbers: Input[Dataset]
    report: Output[Metrics]
    module: str = "tests.pipeline.imported_ahead"

    def imports(self, params: dict[str, Any]) -> tuple[str, ...]:
        return (params["module"],)

    def run(self) -> None:
        loaded = self.module in sys.modules
        self.report.path.write_text(json.dumps({"pid": os.getpid(), "loaded": loaded}))
