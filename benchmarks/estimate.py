"""Label-free performance estimates: shipyard's against NannyML's CBPE, window by window.

A binary classifier (HistGradientBoostingClassifier) learns a fixed concept on features
from scikit-learn's ``make_classification`` (20 features, seeded): the labels are drawn
from P(y=1 | x) = sigmoid(z(x)), z linear in the informative features plus one
interaction.  Both tools calibrate on the same eval split — shipyard with
``fit_confidence``, NannyML's CBPE by fitting on it as its reference — and then estimate
the accuracy (and F1, ROC AUC) of windows of unlabelled predictions:

- no shift: fresh rows from the training distribution;
- covariate shift: the features move or stretch, the concept stays (labels still drawn
  from z(x)), so the model's confidence should tell;
- concept shift: the features stay, the concept changes (the boundary moves, a feature's
  effect reverses, labels get noisier); no label-free estimate can see this, and the
  benchmark shows by how much both miss.

The windows' labels then give the realised figures (with shipyard's 95% intervals).
NannyML lives in its own virtualenv (``benchmarks/.venv-nannyml``), made on first use
with pip, never in shipyard's; the data goes to it as Parquet files in a temp dir.

    .venv/bin/python benchmarks/estimate.py
    .venv/bin/python benchmarks/estimate.py --rows 5000 --seed 1 --json out.json
    .venv/bin/python benchmarks/estimate.py --skip-nannyml
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from rich.console import Console
from rich.table import Table

from peers import BenchmarkError, ensure_venv, versions
from shipyard.modeling.confidence import fit_confidence
from shipyard.monitoring.performance import estimated_performance, realised_performance

HERE = Path(__file__).resolve().parent
NANNYML_SCRIPT = HERE / "estimate" / "nannyml_cbpe.py"
NANNYML_VENV = HERE / ".venv-nannyml"
# NannyML 0.13.1 (the newest, for Python 3.9-3.12) imports statsmodels without
# declaring it.
NANNYML_REQUIREMENTS = ["nannyml==0.13.1", "statsmodels", "pyarrow"]
METRICS = ("accuracy", "f1", "roc_auc")
FEATURES = 20
INFORMATIVE = 6

console = Console()
Floats = npt.NDArray[np.float64]


# --- the world ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Concept:
    """P(y=1 | x) = sigmoid(scale · (x[:, :6] @ weights + interaction · x0 · x1) + offset)."""

    weights: Floats
    interaction: float = 0.8
    offset: float = 0.0
    scale: float = 1.0

    def probability(self, features: Floats) -> Floats:
        z = features[:, :INFORMATIVE] @ self.weights
        z = z + self.interaction * features[:, 0] * features[:, 1]
        logits = self.scale * z + self.offset
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "none", "covariate" or "concept"
    features: Callable[[Floats], Floats] = lambda x: x
    concept: Callable[[Concept], Concept] = lambda c: c
    cluster: int | None = None  # rows of one of make_classification's clusters only


def shifted(columns: slice, by: float) -> Callable[[Floats], Floats]:
    def move(x: Floats) -> Floats:
        moved = x.copy()
        moved[:, columns] += by
        return moved

    return move


def scaled(columns: slice, by: float) -> Callable[[Floats], Floats]:
    def stretch(x: Floats) -> Floats:
        moved = x.copy()
        moved[:, columns] *= by
        return moved

    return stretch


def reversed_first(concept: Concept) -> Concept:
    weights = concept.weights.copy()
    weights[0] = -weights[0]
    return Concept(weights, concept.interaction, concept.offset, concept.scale)


SCENARIOS = [
    Scenario("no shift", "none"),
    Scenario("no shift", "none"),
    Scenario("x0-x2 shifted +1 sd", "covariate", features=shifted(slice(0, 3), 1.0)),
    Scenario("one sub-population (cluster 0 of 4)", "covariate", cluster=0),
    Scenario("all features x0.5", "covariate", features=scaled(slice(None), 0.5)),
    Scenario(
        "boundary moved (+1.5 logit)",
        "concept",
        concept=lambda c: Concept(c.weights, c.interaction, 1.5, c.scale),
    ),
    Scenario("no shift", "none"),
    Scenario("x0-x5 x1.5", "covariate", features=scaled(slice(0, INFORMATIVE), 1.5)),
    Scenario("x0's effect reversed", "concept", concept=reversed_first),
    Scenario(
        "labels noisier (logit x0.4)",
        "concept",
        concept=lambda c: Concept(c.weights, c.interaction, c.offset, 0.4),
    ),
]


@dataclass
class Window:
    index: int
    scenario: str
    kind: str
    realised: dict[str, float]
    realised_interval: dict[str, list[float]]
    shipyard: dict[str, float]
    nannyml: dict[str, float] = field(default_factory=dict)


@dataclass
class Prepared:
    reference_proba: Floats
    reference_pred: npt.NDArray[np.int64]
    reference_truth: npt.NDArray[np.int64]
    window_proba: list[Floats]
    window_pred: list[npt.NDArray[np.int64]]
    window_truth: list[npt.NDArray[np.int64]]
    train_s: float
    eval_accuracy: float


def prepare(rows: int, train_rows: int, eval_rows: int, seed: int) -> Prepared:
    """Train the model and make every window's predictions and labels."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    spare = 6 * rows  # where a window of one cluster (a quarter of the rows) is drawn from
    total = train_rows + eval_rows + rows * len(SCENARIOS) + spare
    clusters = 4
    features, _ = make_classification(
        n_samples=total,
        n_features=FEATURES,
        n_informative=INFORMATIVE,
        n_redundant=4,
        n_clusters_per_class=clusters // 2,
        shuffle=False,  # informative features first: the concept reads x0..x5
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    # make_classification lists its rows cluster by cluster, in equal parts.
    cluster = np.minimum(np.arange(total) // (total // clusters), clusters - 1)
    mixed = rng.permutation(total)
    features, cluster = features[mixed], cluster[mixed]
    base = Concept(rng.normal(0.0, 1.0, INFORMATIVE))

    def labels(x: Floats, concept: Concept) -> npt.NDArray[np.int64]:
        return (rng.random(len(x)) < concept.probability(x)).astype(np.int64)

    train = features[:train_rows]
    held = features[train_rows : train_rows + eval_rows]
    model = HistGradientBoostingClassifier(random_state=seed)
    started = time.perf_counter()
    model.fit(train, labels(train, base))
    train_s = time.perf_counter() - started
    reference_truth = labels(held, base)
    reference_proba = np.asarray(model.predict_proba(held), dtype=np.float64)
    reference_pred = reference_proba.argmax(axis=1)
    prepared = Prepared(
        reference_proba,
        reference_pred,
        reference_truth,
        [],
        [],
        [],
        train_s,
        float((reference_pred == reference_truth).mean()),
    )
    start = train_rows + eval_rows
    spared = np.arange(total - spare, total)
    for number, scenario in enumerate(SCENARIOS):
        if scenario.cluster is None:
            x = features[start + number * rows : start + (number + 1) * rows]
        else:
            x = features[spared[cluster[spared] == scenario.cluster][:rows]]
        x = scenario.features(x)
        truth = labels(x, scenario.concept(base))
        proba = np.asarray(model.predict_proba(x), dtype=np.float64)
        prepared.window_proba.append(proba)
        prepared.window_pred.append(proba.argmax(axis=1))
        prepared.window_truth.append(truth)
    return prepared


# --- shipyard ----------------------------------------------------------------------------


def run_shipyard(prepared: Prepared) -> tuple[list[Window], dict[str, float]]:
    classes = [0, 1]
    started = time.perf_counter()
    confidence = fit_confidence(
        "classification",
        truth=prepared.reference_truth,
        values=prepared.reference_pred,
        probabilities=prepared.reference_proba,
        classes=classes,
    )
    fit_s = time.perf_counter() - started
    estimate_s = 0.0
    windows = []
    for number, scenario in enumerate(SCENARIOS):
        proba = prepared.window_proba[number]
        started = time.perf_counter()
        estimate = estimated_performance(proba, classes, confidence=confidence)
        estimate_s += time.perf_counter() - started
        realised = realised_performance(
            "classification",
            prepared.window_truth[number],
            prepared.window_pred[number],
            probabilities=proba,
            classes=classes,
        )
        windows.append(
            Window(
                number + 1,
                scenario.name,
                scenario.kind,
                {name: interval.value for name, interval in realised.items()},
                {name: [interval.lower, interval.upper] for name, interval in realised.items()},
                estimate,
            )
        )
    return windows, {"fit_s": fit_s, "estimate_s": estimate_s}


# --- NannyML -----------------------------------------------------------------------------


def run_nannyml(
    prepared: Prepared, windows: list[Window], folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    venv = args.nannyml_venv.resolve()
    with console.status(f"NannyML virtualenv {venv}: pip install {' '.join(args.requirement)}"):
        setup = ensure_venv(
            venv,
            args.requirement,
            folder / "nannyml-install.log",
            advice=" (rerun with --skip-nannyml to measure shipyard alone)",
        )
    if setup is not None:
        console.print(f"made the NannyML virtualenv in {setup:.0f} s")
    pd.DataFrame(
        {
            "proba": prepared.reference_proba[:, 1],
            "pred": prepared.reference_pred,
            "truth": prepared.reference_truth,
        }
    ).to_parquet(folder / "reference.parquet")
    # No labels in the analysis data: CBPE must estimate without them.
    pd.DataFrame(
        {
            "proba": np.concatenate([proba[:, 1] for proba in prepared.window_proba]),
            "pred": np.concatenate(prepared.window_pred),
        }
    ).to_parquet(folder / "analysis.parquet")
    command = [
        str(venv / "bin" / "python"),
        str(NANNYML_SCRIPT),
        "--folder",
        str(folder),
        "--chunk-size",
        str(args.rows),
    ]
    started = time.perf_counter()
    with console.status("NannyML CBPE: fitting on the eval split, estimating per window..."):
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, "DO_NOT_TRACK": "true", "NML_DISABLE_USAGE_LOGGING": "1"},
            timeout=1800,
        )
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchmarkError(f"NannyML failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads((folder / "nannyml.json").read_text())
    if len(report["chunks"]) != len(windows):
        raise BenchmarkError(
            f"NannyML returned {len(report['chunks'])} chunks for {len(windows)} windows"
        )
    for window, chunk in zip(windows, report["chunks"], strict=True):
        window.nannyml = chunk
    return {
        "version": report["nannyml"],
        "venv_setup_s": setup,
        "import_s": report["import_s"],
        "fit_s": report["fit_s"],
        "estimate_s": report["estimate_s"],
        "process_wall_s": wall_s,
    }


# --- reporting ---------------------------------------------------------------------------


def mean_errors(windows: list[Window], tool: str, kind: str | None) -> dict[str, float]:
    chosen = [w for w in windows if kind is None or w.kind == kind]
    found = {}
    for metric in METRICS:
        errors = [
            abs(getattr(w, tool)[metric] - w.realised[metric])
            for w in chosen
            if metric in getattr(w, tool) and metric in w.realised
        ]
        if errors:
            found[metric] = float(np.mean(errors))
    return found


def windows_table(windows: list[Window], *, with_nannyml: bool, rows: int) -> Table:
    table = Table(title=f"estimated accuracy per window of {rows:,} unlabelled predictions")
    for column in ("#", "shift", "scenario", "realised [95% CI]", "shipyard", "|err|"):
        table.add_column(column, justify="left" if column in ("shift", "scenario") else "right")
    if with_nannyml:
        table.add_column("NannyML CBPE", justify="right")
        table.add_column("|err|", justify="right")
    for window in windows:
        low, high = window.realised_interval["accuracy"]
        realised = window.realised["accuracy"]
        ours = window.shipyard["accuracy"]
        row = [
            str(window.index),
            window.kind,
            window.scenario,
            f"{realised:.3f} [{low:.3f}, {high:.3f}]",
            f"{ours:.3f}",
            f"{abs(ours - realised):.3f}",
        ]
        if with_nannyml:
            theirs = window.nannyml["accuracy"]
            row += [f"{theirs:.3f}", f"{abs(theirs - realised):.3f}"]
        table.add_row(*row)
    return table


def summary_table(
    windows: list[Window], timings: dict[str, dict[str, Any]], summary: dict[str, Any]
) -> Table:
    table = Table(title="mean absolute error of the estimate (accuracy / F1 / ROC AUC), and time")
    table.add_column("tool")
    for kind in ("all windows", "no shift", "covariate", "concept"):
        table.add_column(kind, justify="right")
    table.add_column("fit", justify="right")
    table.add_column("estimate (all windows)", justify="right")
    for tool, label in (("shipyard", "shipyard"), ("nannyml", "NannyML CBPE")):
        if tool not in timings:
            continue
        cells = []
        for kind in ("all", "none", "covariate", "concept"):
            found = summary[tool][kind]
            cells.append(" / ".join(f"{found.get(m, float('nan')):.3f}" for m in METRICS))
        timing = timings[tool]
        table.add_row(
            label,
            *cells,
            f"{timing['fit_s'] * 1000:.0f} ms",
            f"{timing['estimate_s'] * 1000:.0f} ms",
        )
    return table


# --- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000, help="rows per window")
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--eval-rows", type=int, default=10_000, help="the calibration split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nannyml-venv", type=Path, default=NANNYML_VENV)
    parser.add_argument(
        "--requirement",
        nargs="+",
        default=NANNYML_REQUIREMENTS,
        help="what pip installs into NannyML's virtualenv",
    )
    parser.add_argument("--skip-nannyml", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if min(args.rows, args.train_rows, args.eval_rows) < 100:
        parser.error("--rows, --train-rows and --eval-rows must be at least 100")
    return args


def run(args: argparse.Namespace, folder: Path) -> int:
    with console.status("training the model and drawing the windows..."):
        prepared = prepare(args.rows, args.train_rows, args.eval_rows, args.seed)
    console.print(
        f"HistGradientBoostingClassifier trained on {args.train_rows:,} rows in "
        f"{prepared.train_s:.1f} s; eval accuracy {prepared.eval_accuracy:.3f} on "
        f"{args.eval_rows:,} rows"
    )
    windows, shipyard_timing = run_shipyard(prepared)
    timings: dict[str, dict[str, Any]] = {"shipyard": shipyard_timing}
    failures = []
    if not args.skip_nannyml:
        try:
            timings["nannyml"] = run_nannyml(prepared, windows, folder, args)
        except (BenchmarkError, subprocess.TimeoutExpired) as exc:
            console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
            failures.append(str(exc))
    with_nannyml = "nannyml" in timings
    summary = {
        tool: {
            kind: mean_errors(windows, tool, None if kind == "all" else kind)
            for kind in ("all", "none", "covariate", "concept")
        }
        for tool in timings
    }
    console.print(windows_table(windows, with_nannyml=with_nannyml, rows=args.rows))
    console.print(summary_table(windows, timings, summary))
    if with_nannyml:
        console.print(
            f"NannyML {timings['nannyml']['version']}: its process took "
            f"{timings['nannyml']['process_wall_s']:.1f} s in all "
            f"({timings['nannyml']['import_s']:.1f} s importing nannyml)"
        )
    if args.json:
        report = {
            "settings": {
                key: str(value) if isinstance(value, Path) else value
                for key, value in vars(args).items()
            },
            "environment": {
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "packages": versions("shipyard", "scikit-learn", "numpy"),
            },
            "eval_accuracy": prepared.eval_accuracy,
            "windows": [asdict(window) for window in windows],
            "mean_absolute_error": summary,
            "timings": timings,
            "failures": failures,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {args.json}")
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="shipyard-estimate-bench-") as folder:
            return run(args, Path(folder))
    except BenchmarkError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
