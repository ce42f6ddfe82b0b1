"""Comparing a deployment's arms over a large prediction log.

Logs a canary's traffic — the candidate's answers each shadowed by the primary, and as
many answers of the primary alone — labels every returned answer, and times what
``Deployments.compare`` does (read the log and the labels, compare the arms), first
with the predictions in spool files, then compacted into Parquet segments.

    python benchmarks/deployment_comparison.py                 # 100,000 predictions
    python benchmarks/deployment_comparison.py --requests 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from shipyard import Project
from shipyard.config import CONFIG_FILE, ProjectConfig
from shipyard.deployments.comparison import compare_arms, window_counts
from shipyard.prediction_log import PredictionRecord, new_prediction_ids
from shipyard.prediction_log.feedback import labels_frame
from shipyard.store.records import DeploymentRecord


def log_traffic(project: Project, requests: int) -> int:
    """Log ``requests`` candidate answers with their shadows and as many primary answers;
    label the returned ones.  Returns the number of predictions logged."""
    rng = np.random.default_rng(0)
    truth = rng.normal(200_000, 50_000, 2 * requests)
    ids = new_prediction_ids(3 * requests)
    records, labels = [], {}
    common = {"model": "bench", "inputs": {"size": 1.0}}
    for i in range(requests):
        answer, shadow = ids[2 * i], ids[2 * i + 1]
        records.append(PredictionRecord(prediction_id=answer, version=2, variant="candidate",
                                        prediction=truth[i] + rng.normal(0, 6000),
                                        latency_ms=rng.uniform(1, 4), **common))  # fmt: skip
        records.append(PredictionRecord(prediction_id=shadow, version=1, variant="shadow",
                                        shadow_of=answer, prediction=truth[i] + rng.normal(0, 5000),
                                        latency_ms=rng.uniform(1, 3), **common))  # fmt: skip
        labels[answer] = float(truth[i])
    for i in range(requests, 2 * requests):
        answer = ids[requests + i]
        records.append(PredictionRecord(prediction_id=answer, version=1, variant="primary",
                                        prediction=truth[i] + rng.normal(0, 5000),
                                        latency_ms=rng.uniform(1, 3), **common))  # fmt: skip
        labels[answer] = float(truth[i])
    log = project.prediction_log()
    log.append(records)
    log.close()
    log.record_feedback_batch(labels)
    return len(records)


def compare(project: Project, deployment: DeploymentRecord) -> tuple[float, int]:
    """What ``Deployments.compare`` does once the deployment is known; seconds taken."""
    started = time.perf_counter()
    log = project.prediction_log()
    frame = log.read(model="bench", since=deployment.created_at)
    labels = labels_frame(log.records.feedback(since=deployment.created_at))
    comparison = compare_arms(
        deployment,
        frame,
        task="regression",
        counts=window_counts({}, None),
        labels=labels,
        since=deployment.created_at,
    )
    return time.perf_counter() - started, comparison.primary.labelled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=33_334, help="candidate requests")
    options = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / CONFIG_FILE).write_text(ProjectConfig(name="bench").to_yaml())
        with Project.open(root) as project:
            deployment = DeploymentRecord(
                id=1, model="bench", primary_version=1, candidate_version=2,
                strategy="canary", percent=50.0, sticky_key=None, live="primary",
                status="active", analysis=None, next_analysis_at=None, lease_owner=None,
                lease_until=None, revision=1, created_at=datetime(2000, 1, 1, tzinfo=UTC),
                ended_at=None,
            )  # fmt: skip
            logged = log_traffic(project, options.requests)
            table = Table(title=f"comparing the arms over {logged:,} logged predictions")
            table.add_column("log")
            table.add_column("best of 3", justify="right")
            table.add_column("labelled (primary)", justify="right")
            for where in ("spool files", "Parquet segments"):
                if where == "Parquet segments":
                    project.prediction_log().compact()
                runs = [compare(project, deployment) for _ in range(3)]
                table.add_row(where, f"{min(r[0] for r in runs):.2f} s", f"{runs[0][1]:,}")
            console.print(table)


if __name__ == "__main__":
    main()
