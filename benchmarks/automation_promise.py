"""Does partial automation keep the promise made at training?

Trains a classifier on Ames houses (is a house above the median price? — ambiguous near
the median, clear far from it) from 70% of the rows, then triages the other 30%, never
seen by the pipeline, through the server's own path (``ServedModel`` and ``Triage``, so
inputs unlike the training data go to review as they do when served).  For each target
precision it prints what the version promised on its eval split — the threshold, the
share of answers decided alone and their precision — beside what happened on the
held-out rows.  The same for a regressor (the sale price) and interval widths: the share
decided alone and the coverage of the conformal intervals.

    python benchmarks/automation_promise.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from shipyard import Project
from shipyard.config import CONFIG_FILE
from shipyard.demo_data import AMES_TARGET, load_ames
from shipyard.review import AutomationState, Triage
from shipyard.serving.catalog import ServedModel

TARGETS = (0.9, 0.95, 0.98)


def train(folder: Path, frame: pd.DataFrame, target: str) -> ServedModel:
    folder.mkdir()
    frame.to_csv(folder / "houses.csv", index=False)
    Project.init(folder, data=folder / "houses.csv", target=target).close()
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["evaluation"]["change_thresholds"] = {}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    with Project.open(folder) as project:
        project.run(project.standard_pipeline()).raise_for_failure()
        loaded = project.registry.load("houses@production")
    return ServedModel.build("houses", loaded.version, "production", loaded.package, 0.0)


def triaged(served: ServedModel, rows: list[dict[str, Any]], state: AutomationState) -> Any:
    package = served.package
    features = package.transform.transform_rows(rows)
    predictions = package.predict_features(features)
    triage = Triage(state, "houses", served.version, package, double_label_share=0.0)
    verdicts = triage.sort(predictions, served.novelties(rows, features))
    auto = np.array([decision == "auto" for decision in verdicts.decisions])
    return triage.plan, predictions, verdicts, auto


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if v != v else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def main() -> None:
    console = Console(width=140)
    ames = load_ames()
    rng = np.random.default_rng(0)
    held = rng.random(len(ames)) < 0.3
    median = float(ames[AMES_TARGET].median())
    table = Table(
        "model", "target", "threshold", "promised share", "held-out share",
        "promised precision / coverage", "held-out", title="partial automation, held-out rows",
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        classes = ames.assign(expensive=np.where(ames[AMES_TARGET] > median, "yes", "no"))
        classes = classes.drop(columns=[AMES_TARGET])
        served = train(Path(tmp) / "classifier", classes[~held], "expensive")
        test = classes[held]
        rows = records(test.drop(columns=["expensive"]))
        for target in TARGETS:
            state = AutomationState("houses", "partial", target, None)
            plan, predictions, _, auto = triaged(served, rows, state)
            right = np.array(predictions.values, dtype=object) == test["expensive"].to_numpy()
            table.add_row(
                "classifier", f"precision {target:.0%}",
                "-" if plan.threshold is None else f"{plan.threshold:.3f}",
                f"{plan.expected_auto_share:.1%}", f"{auto.mean():.1%}",
                "-" if plan.expected_precision is None else f"{plan.expected_precision:.1%}",
                f"{right[auto].mean():.1%} of {auto.sum()}" if auto.any() else "-",
            )  # fmt: skip
        served = train(Path(tmp) / "regressor", ames[~held], AMES_TARGET)
        test = ames[held]
        rows = records(test.drop(columns=[AMES_TARGET]))
        confidence = served.package.confidence
        assert confidence is not None
        truth = test[AMES_TARGET].to_numpy(dtype=np.float64)
        for width in (40_000.0, 60_000.0, 90_000.0):
            state = AutomationState("houses", "partial", None, width)
            plan, predictions, verdicts, auto = triaged(served, rows, state)
            low, high = (np.array(side) for side in zip(*verdicts.intervals, strict=True))
            inside = (low <= truth) & (truth <= high)
            table.add_row(
                "regressor", f"width ≤ {width:,.0f}", f"{plan.threshold:,.0f}",
                f"{plan.expected_auto_share:.1%}", f"{auto.mean():.1%}",
                "-" if plan.expected_coverage is None else f"coverage {plan.expected_coverage:.1%}",
                f"{inside[auto].mean():.1%} of {auto.sum()}" if auto.any() else "-",
            )  # fmt: skip
        console.print(table)
        summary = confidence.summary()
        console.print(
            f"regressor: {summary['interval_coverage']:.1%} of the eval split's prices fall "
            f"in their interval (mean width {summary['mean_interval_width']:,.0f}); "
            f"held out: {inside.mean():.1%} of {len(truth)}"
        )


if __name__ == "__main__":
    main()
