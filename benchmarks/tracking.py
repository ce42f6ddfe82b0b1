"""Experiment tracking against MLflow's, each on a local SQLite store, in one run.

    python benchmarks/tracking.py [--single 2000] [--batched 100000] [--history 100000]

Three workloads, the same for both, each in a fresh store:

- one at a time: ``log_metric`` called ``--single`` times for a run, then the run ended
  (MLflow: ``mlflow.log_metric`` inside ``mlflow.start_run``; shipyard: the same names);
- batched: ``--batched`` points handed over 1,000 at a time, then the run ended
  (MLflow: ``MlflowClient.log_batch``; shipyard: ``TrackedRun.log_batch``);
- reading back a ``--history``-point metric history of one run (MLflow:
  ``MlflowClient.get_metric_history``; shipyard: ``Project.metric_history``).

Points per second count from the first call to the run's end, when every point is in the
store: shipyard buffers and writes in batches, and the clock stops only when the last
batch is written.  Targets (issue 14): one at a time 20× MLflow's, batched 10×, the
history read under 1 s.

MLflow runs in its own virtualenv (``benchmarks/.venv-mlflow``, shared with the serving
benchmark, made on first use), this very file as its script (``--peer mlflow``), so both
sides run the same workload code.  ``MLFLOW_TRACKING_URI`` is a SQLite file in a
temporary folder, as ``mlflow.set_tracking_uri("sqlite:///...")`` sets it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from peers import BenchmarkError, ensure_venv

HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".venv-mlflow"
BATCH = 1_000
TARGETS = {"single": 20.0, "batched": 10.0}
HISTORY_TARGET = 1.0


def mlflow_workloads(folder: Path, single: int, batched: int, history: int) -> dict[str, Any]:
    """The workloads through MLflow (runs inside MLflow's virtualenv)."""
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    results: dict[str, Any] = {"version": mlflow.__version__}
    for name in ("single", "batched", "history"):
        mlflow.set_tracking_uri(f"sqlite:///{folder / (name + '.db')}")
        mlflow.set_experiment("bench")
        client = MlflowClient()
        started = time.perf_counter()
        with mlflow.start_run() as run:
            if name == "single":
                for i in range(single):
                    mlflow.log_metric("loss", i * 0.5, step=i)
            else:
                points = batched if name == "batched" else history
                now = int(time.time() * 1000)
                for begin in range(0, points, BATCH):
                    chunk = [Metric("loss", i * 0.5, now, i) for i in range(begin, begin + BATCH)]
                    client.log_batch(run.info.run_id, metrics=chunk)
        seconds = time.perf_counter() - started
        if name == "history":
            started = time.perf_counter()
            read = client.get_metric_history(run.info.run_id, "loss")
            seconds = time.perf_counter() - started
            assert len(read) == history, len(read)
        results[name] = seconds
    return results


def shipyard_workloads(folder: Path, single: int, batched: int, history: int) -> dict[str, Any]:
    import shipyard
    from shipyard import Project

    results: dict[str, Any] = {"version": shipyard.__version__}
    for name in ("single", "batched", "history"):
        project = Project.init(folder / name)
        started = time.perf_counter()
        with shipyard.start_run("bench", project=project) as run:
            if name == "single":
                for i in range(single):
                    shipyard.log_metric("loss", i * 0.5, step=i)
            else:
                points = batched if name == "batched" else history
                for begin in range(0, points, BATCH):
                    run.log_batch([("loss", i * 0.5, i) for i in range(begin, begin + BATCH)])
        seconds = time.perf_counter() - started
        if name == "history":
            started = time.perf_counter()
            read = project.metric_history(run.id, "loss")
            seconds = time.perf_counter() - started
            assert len(read) == history, len(read)
        else:
            assert len(project.metric_history(run.id, "loss")) == (
                single if name == "single" else batched
            )
        project.close()
        results[name] = seconds
    return results


def run_mlflow(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    sklearn = subprocess.run(
        [sys.executable, "-c", "import sklearn; print(sklearn.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    requirements = ["mlflow", f"scikit-learn=={sklearn}"]  # the serving benchmark's venv
    ensure_venv(MLFLOW_VENV, requirements, folder / "mlflow-install.log", command="mlflow")
    done = subprocess.run(
        [
            str(MLFLOW_VENV / "bin" / "python"),
            __file__,
            "--peer",
            "mlflow",
            "--folder",
            str(folder),
            "--single",
            str(args.mlflow_single),
            "--batched",
            str(args.batched),
            "--history",
            str(args.history),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    if done.returncode != 0:
        raise BenchmarkError(f"the MLflow workload failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def report(ours: dict[str, Any], theirs: dict[str, Any], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    counts = {"single": (args.single, args.mlflow_single), "batched": (args.batched,) * 2}
    table = Table(title=f"shipyard {ours['version']} against MLflow {theirs['version']}")
    for column in ("workload", "shipyard", "MLflow", "ratio", "target"):
        table.add_column(column, justify="left" if column == "workload" else "right")
    for name, (count, peer_count) in counts.items():
        rate, peer_rate = count / ours[name], peer_count / theirs[name]
        ratio = rate / peer_rate
        table.add_row(
            f"{'one at a time' if name == 'single' else 'batched'} log_metric, points/s",
            f"{rate:,.0f}",
            f"{peer_rate:,.0f}",
            f"{ratio:.1f}×",
            f"≥ {TARGETS[name]:.0f}× {'met' if ratio >= TARGETS[name] else 'MISSED'}",
        )
    table.add_row(
        f"read a {args.history:,}-point history, s",
        f"{ours['history']:.3f}",
        f"{theirs['history']:.3f}",
        f"{theirs['history'] / ours['history']:.1f}×",
        f"< {HISTORY_TARGET:.0f} s {'met' if ours['history'] < HISTORY_TARGET else 'MISSED'}",
    )
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--single", type=int, default=200_000, help="shipyard's single calls")
    parser.add_argument(
        "--mlflow-single", type=int, default=2_000, help="MLflow's (about 450 a second)"
    )
    parser.add_argument("--batched", type=int, default=200_000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--peer", choices=["mlflow"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer == "mlflow":
        print(json.dumps(mlflow_workloads(args.folder, args.single, args.batched, args.history)))
        return
    with tempfile.TemporaryDirectory(prefix="shipyard-tracking-") as folder:
        root = Path(folder)
        (root / "mlflow").mkdir()
        theirs = run_mlflow(args, root / "mlflow")
        ours = shipyard_workloads(root, args.single, args.batched, args.history)
    report(ours, theirs, args)


if __name__ == "__main__":
    try:
        main()
    except BenchmarkError as exc:
        sys.exit(str(exc))
