"""Does every dashboard page render in under 300 ms at volume?

The issue's bar: 10,000 pipeline runs, 100 versions of a model and 1,000,000 logged
predictions.  The benchmark fills a project to that size once, through shipyard's own
API, then times each page of a real ``shipyard ui`` on it.

Fill (kept in ``--folder``, reused until ``--refill``):

- ``shipyard quickstart``: a real pipeline run, a real model package, real predictions,
  feedback, monitoring windows and the loop's retrain;
- the newest real run copied into 10,000 finished runs (``MetadataStore.record_runs``,
  one transaction per chunk) spread over a year: the same steps, artifacts and lineage,
  metrics varied, some steps cached, a few runs failed at a random step;
- versions of ``ames`` up to 100 holding the real package (metrics varied, each made by
  one of those runs), ``staging`` moved along them;
- 1,000,000 predictions appended to the prediction log in big batches (real Ames inputs)
  and compacted into Parquet segments, a tenth of them with feedback; the newest few
  thousand come after monitoring's cursor, so one monitoring pass adds windows and alerts;
- a deployment history: a canary rolled back, then another left running.

Time: a ``shipyard ui`` subprocess on a free port; each page of the dashboard's route
contract gets a warm-up GET and then ``--requests`` GETs; the median and p95 are
compared with ``--budget-ms``; the exit code is 1 when a page fails or is slower than
the budget.

    .venv/bin/python benchmarks/ui.py
    .venv/bin/python benchmarks/ui.py --requests 50 --json ui.json
    .venv/bin/python benchmarks/ui.py --refill --predictions 200000   # a smaller store
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import BenchmarkError, free_port, running  # noqa: E402  (beside this file)

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "src"
DEFAULT_FOLDER = HERE / ".ui-store"
FILL_FILE = "ui-benchmark-fill.json"
MODEL = "ames"
CHUNK_RUNS = 250
BATCH_PREDICTIONS = 20_000
FRESH_PREDICTIONS = 6_000  # after monitoring's cursor: about twenty windows of 300

console = Console(width=120)


@dataclass
class Page:
    path: str
    status: int
    median_ms: float
    p95_ms: float
    verdict: str


# --- fill ----------------------------------------------------------------------------


def shipyard_env() -> dict[str, str]:
    """This checkout's shipyard first on the path, for the subprocesses too."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE), env.get("PYTHONPATH")]))
    return env


def shipyard_executable() -> Path:
    return Path(sys.executable).parent / "shipyard"


def quickstart(folder: Path) -> None:
    log = folder.parent / f"{folder.name}-quickstart.log"
    with log.open("wb") as output:
        done = subprocess.run(
            [str(shipyard_executable()), "quickstart", str(folder)],
            env=shipyard_env(), stdout=output, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise BenchmarkError(f"shipyard quickstart failed; see {log}")


def fill_runs(project: Any, count: int, rng: np.random.Generator, progress: Progress) -> None:
    from shipyard.store.records import FinishedRun, FinishedStep

    store = project.store
    template = next(run for run in store.list_runs(limit=200) if run.status == "succeeded")
    steps = store.run_executions(template.id)
    logged = {step.id: store.tracking.of_execution(step.id) for step in steps}
    now = datetime.now(UTC)
    starts = sorted(now - timedelta(days=365) * rng.random(count))
    task = progress.add_task("runs", total=count)
    for first in range(0, count, CHUNK_RUNS):
        runs = []
        for start in starts[first : first + CHUNK_RUNS]:
            failing = int(rng.integers(len(steps))) if rng.random() < 0.04 else None
            cached = rng.random() < 0.3
            made, clock = [], start
            for index, step in enumerate(steps[: None if failing is None else failing + 1]):
                seconds = (step.duration or 0.1) * float(rng.uniform(0.7, 1.5))
                params, metrics = logged[step.id]
                status = "cached" if cached and index < 3 else step.status
                if index == failing:
                    status = "failed"
                made.append(
                    FinishedStep(
                        step=step.step, component=step.component, status=status,
                        started_at=clock, finished_at=clock + timedelta(seconds=seconds),
                        fingerprint=step.fingerprint, params=step.params,
                        inputs={port: artifact.id for port, artifact in step.inputs.items()},
                        outputs={} if index == failing else
                        {port: artifact.id for port, artifact in step.outputs.items()},
                        error="ValueError: the benchmark's failing step" if index == failing
                        else None,
                        logged_params=params,
                        logged_metrics=tuple(
                            (m.key, m.value * float(rng.normal(1.0, 0.05)), m.step)
                            for m in metrics
                        ),
                    )
                )  # fmt: skip
                clock += timedelta(seconds=seconds)
            runs.append(
                FinishedRun(
                    pipeline=template.pipeline,
                    status="succeeded" if failing is None else "failed",
                    started_at=start, finished_at=clock, host=template.host, steps=tuple(made),
                    params=template.params, code_version=template.code_version,
                    code_dirty=template.code_dirty, environment=template.environment,
                    error=None if failing is None else f"step '{made[-1].step}' failed",
                )
            )  # fmt: skip
        store.record_runs(runs)
        progress.advance(task, len(runs))


def fill_versions(project: Any, count: int, rng: np.random.Generator, progress: Progress) -> None:
    registry = project.registry
    production = registry.find(MODEL, "production")
    if production is None:
        raise BenchmarkError(f"the quickstart left no production version of {MODEL}")
    made_by = [run.id for run in project.store.list_runs(limit=5000) if run.status == "succeeded"]
    latest = max(record.version for record in registry.versions(MODEL))
    task = progress.add_task("model versions", total=count, completed=latest)
    for _ in range(latest, count):
        metrics = {
            key: value * float(rng.normal(1.0, 0.03)) if isinstance(value, float) else value
            for key, value in production.metrics.items()
        }
        blessed = bool(rng.random() < 0.8)
        record = registry.register(
            MODEL, package_id=production.package.id, run_id=int(rng.choice(made_by)),
            dataset_version_id=production.dataset_version_id, blessed=blessed,
            infra_validated=True, metrics=metrics, reasons=production.reasons,
            code_version=production.code_version,
        )  # fmt: skip
        if blessed and record.version % 5 == 0:
            registry.promote(MODEL, record.version, alias="staging", reason="the benchmark")
        progress.advance(task)


def fill_predictions(
    project: Any, count: int, rng: np.random.Generator, progress: Progress
) -> tuple[str, str]:
    """Old predictions spread over 60 days before the quickstart's, then a few thousand
    fresh ones; returns the id of an old one and of a fresh one."""
    from shipyard.demo_data import AMES_TARGET, load_ames
    from shipyard.prediction_log import PredictionRecord, new_prediction_ids

    ames = load_ames()
    prices = ames[AMES_TARGET].to_numpy(dtype=np.float64)
    inputs = [
        {key: (None if value != value else value) for key, value in row.items()}
        for row in ames.drop(columns=[AMES_TARGET]).astype(object).to_dict(orient="records")
    ]
    log = project.prediction_log(rotate_records=BATCH_PREDICTIONS, segment_rows=200_000)
    production = project.registry.find(MODEL, "production")
    assert production is not None
    first_logged = min(project.prediction_log().read(model=MODEL)["timestamp"])
    old_end = first_logged.to_pydatetime() - timedelta(minutes=1)
    now = datetime.now(UTC)
    fresh_start = now - timedelta(minutes=3)
    task = progress.add_task("predictions", total=count)
    samples: list[str] = []
    for first in range(0, count, BATCH_PREDICTIONS):
        size = min(BATCH_PREDICTIONS, count - first)
        fresh = first + size > count - FRESH_PREDICTIONS
        if fresh:
            times = [fresh_start + (now - fresh_start) * float(t) for t in sorted(rng.random(size))]
        else:
            times = [old_end - timedelta(days=60) * float(t) for t in rng.random(size)]
        rows = rng.integers(len(inputs), size=size)
        ids = new_prediction_ids(size)
        log.append(
            PredictionRecord(
                prediction_id=prediction_id,
                model=MODEL,
                version=production.version,
                inputs=inputs[row],
                prediction=float(prices[row] * rng.normal(1.0, 0.1)),
                latency_ms=float(rng.gamma(2.0, 1.5)),
                timestamp=timestamp,
            )  # fmt: skip
            for prediction_id, row, timestamp in zip(ids, rows, times, strict=True)
        )
        labelled = rng.random(size) < 0.1
        log.close()
        log.compact()
        log.record_feedback_batch(
            {ids[i]: float(prices[rows[i]]) for i in np.flatnonzero(labelled)}
        )
        samples.append(ids[0])
        progress.advance(task, size)
    log.close()
    return samples[len(samples) // 3], samples[-1]


def fill_deployments(project: Any) -> None:
    deployments = project.deployments
    if deployments.current(MODEL) is not None:
        deployments.rollback(MODEL, reason="the benchmark starts its own")
    versions = sorted(record.version for record in project.registry.versions(MODEL))
    blessed = [record.version for record in project.registry.versions(MODEL) if record.blessed]
    production = project.registry.find(MODEL, "production")
    assert production is not None
    candidates = [v for v in blessed if v != production.version] or versions[-2:]
    deployments.deploy(MODEL, candidates[-2], strategy="canary", percent=10, reason="try it")
    deployments.set_percent(MODEL, 25, reason="looks fine")
    deployments.rollback(MODEL, reason="p99 too high")
    deployments.deploy(MODEL, candidates[-1], strategy="canary", percent=10, reason="try again")
    deployments.set_percent(MODEL, 50, reason="looks fine")


def fill(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    from shipyard import Project

    started = time.perf_counter()
    rng = np.random.default_rng(13)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.exists():
        shutil.rmtree(folder)
    if args.quickstart is not None:
        shutil.copytree(args.quickstart, folder)
    else:
        with console.status("shipyard quickstart (a few minutes)"):
            quickstart(folder)
    timings = {"quickstart": time.perf_counter() - started}
    results: dict[str, Any] = {}
    with Project.open(folder) as project, Progress(console=console) as progress:
        for stage, work in (
            ("runs", lambda: fill_runs(project, args.runs, rng, progress)),
            ("versions", lambda: fill_versions(project, args.versions, rng, progress)),
            ("predictions", lambda: fill_predictions(project, args.predictions, rng, progress)),
            ("deployments", lambda: fill_deployments(project)),
            ("monitoring", lambda: project.monitor.run_once(MODEL)),
        ):
            mark = time.perf_counter()
            results[stage] = work()
            timings[stage] = time.perf_counter() - mark
    old_prediction, fresh_prediction = results["predictions"]
    facts = {
        "runs": args.runs,
        "versions": args.versions,
        "predictions": args.predictions,
        "old_prediction": old_prediction,
        "fresh_prediction": fresh_prediction,
        "seconds": timings,
        "filled_at": datetime.now(UTC).isoformat(),
    }
    (folder / FILL_FILE).write_text(json.dumps(facts, indent=2))
    return facts


def describe(folder: Path, facts: dict[str, Any]) -> None:
    from shipyard import Project

    with Project.open(folder) as project:
        store = project.store
        counts = {
            "runs": store.list_runs(limit=1)[0].id,
            "versions": len(project.registry.versions(MODEL)),
            "segments": len(store.predictions.segments(model=MODEL)),
            "windows": len(store.monitoring.windows(model=MODEL)),
            "alerts": len(store.monitoring.alerts()),
            "deployment events": len(project.deployments.history(MODEL)),
        }
    seconds = facts["seconds"]
    console.print(
        f"store in {folder}: "
        + ", ".join(f"{value:,} {name}" for name, value in counts.items())
        + f"; filled in {sum(seconds.values()):,.0f} s ("
        + ", ".join(f"{stage} {value:,.0f} s" for stage, value in seconds.items())
        + ")"
    )


# --- timing --------------------------------------------------------------------------


def page_paths(folder: Path, facts: dict[str, Any]) -> list[str]:
    """Every page of the route contract, on real ids of the filled store."""
    from shipyard import Project

    with Project.open(folder) as project:
        newest = project.runs(limit=1)[0].id
        middle = newest // 2
    old, half = facts["old_prediction"], facts["versions"] // 2
    return [
        "/",
        "/runs",
        "/runs?page=100",
        "/runs?status=failed",
        f"/runs/{newest}",
        f"/runs/{middle}",
        f"/runs/compare?ids={middle}&ids={newest}",
        f"/lineage?ref=run:{middle}",
        f"/lineage?ref={MODEL}:{half}",
        f"/lineage?ref=prediction:{old}",
        "/models",
        f"/models/{MODEL}",
        f"/models/{MODEL}/{half}",
        "/deployments",
        f"/deployments/{MODEL}",
        "/monitoring",
        f"/monitoring/{MODEL}",
        "/review",
        f"/review?model={MODEL}",
        "/predictions",
        f"/predictions/{old}",
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def time_page(client: httpx.Client, path: str, requests: int, budget_ms: float) -> Page:
    warm = client.get(path)
    times = []
    status = warm.status_code
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        status = answer.status_code if answer.status_code != 200 else status
    median, p95 = statistics.median(times), percentile(times, 0.95)
    if status != 200:
        return Page(path, status, median, p95, "fail")
    return Page(path, status, median, p95, "pass" if p95 < budget_ms else "slow")


def measure(folder: Path, paths: list[str], args: argparse.Namespace) -> list[Page]:
    port = free_port()
    pages = []
    with (
        running(
            "shipyard ui",
            [shipyard_executable(), "ui", "--port", str(port)],
            port=port,
            ready_path="/static/ui.css",
            log=folder.parent / f"{folder.name}-ui.log",
            cwd=folder,
            env=shipyard_env(),
        ) as server,  # fmt: skip
        httpx.Client(base_url=server.base_url, timeout=60) as client,
    ):
        for path in paths:
            page = time_page(client, path, args.requests, args.budget_ms)
            pages.append(page)
            console.print(f"  {path}: {page.verdict}", highlight=False)
    return pages


def report(pages: list[Page], args: argparse.Namespace, *, title: str) -> None:
    table = Table(
        "page", "status", "median ms", "p95 ms", f"< {args.budget_ms:.0f} ms", title=title
    )
    colour = {"pass": "green", "slow": "red", "fail": "red"}
    for page in pages:
        table.add_row(
            page.path, str(page.status),
            f"{page.median_ms:,.1f}",
            f"{page.p95_ms:,.1f}",
            f"[{colour[page.verdict]}]{page.verdict}[/]",
        )  # fmt: skip
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--refill", action="store_true", help="rebuild the filled store")
    parser.add_argument(
        "--quickstart", type=Path, help="start from a copy of this `shipyard quickstart` folder"
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20, help="timed GETs per page")
    parser.add_argument("--budget-ms", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    folder = args.folder.resolve()
    facts_file = folder / FILL_FILE
    if args.refill or not facts_file.exists():
        facts = fill(folder, args)
    else:
        facts = json.loads(facts_file.read_text())
        console.print(f"reusing the store filled at {facts['filled_at']} (--refill rebuilds it)")
    describe(folder, facts)
    pages = measure(folder, page_paths(folder, facts), args)
    report(pages, args, title=f"dashboard pages, {args.requests} GETs each after a warm-up")
    if args.json is not None:
        results = {"fill": facts, "pages": [asdict(page) for page in pages]}
        args.json.write_text(json.dumps(results, indent=2))
    failed = [page for page in pages if page.verdict != "pass"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
