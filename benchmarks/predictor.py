"""Time the model call of one prediction request: scikit-learn against the compiled model.

    python benchmarks/predictor.py [--task regression|classification] [--seconds 1.0]
                                   [--batches 1 100]

Fits shipyard's default estimator (histogram gradient boosting, 100 iterations) on the
bundled Ames table through the fitted Transform, then times, for 1 row and for 100 rows:
the estimator's own ``predict`` (``predict_proba`` for a classifier), the compiled
predictor, and the whole server-side model cost: ``transform_rows`` of JSON-decoded
requests plus the model, and ``ModelPackage.predict_rows`` of a loaded package.  Figures
are the best of five timed runs.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from shipyard.data.schema import Schema
from shipyard.data.transform import FittedTransform, TransformLearner
from shipyard.demo_data import AMES_TARGET, load_ames
from shipyard.modeling.compiled import MAX_BATCH_ROWS, compile_estimator
from shipyard.modeling.estimators import build_estimator
from shipyard.modeling.package import ModelPackage, write_package
from transform import microseconds_per_call  # the sibling benchmark's timer


def cases(
    theirs: Callable[[Any], object],
    ours: Callable[[Any], object],
    package: ModelPackage,
    fitted: FittedTransform,
    block: Any,
    rows: list[dict[str, Any]],
) -> list[tuple[str, Callable[[], object]]]:
    """The timed calls for one batch: a name and a call without arguments each."""
    method = "predict_proba" if package.task == "classification" else "predict"
    assert package.predictor is not None
    used = "compiled" if len(rows) <= MAX_BATCH_ROWS else "scikit-learn"
    return [
        (f"scikit-learn {method}", lambda: theirs(block)),
        (f"compiled {method}", lambda: ours(block)),
        ("transform_rows + scikit-learn", lambda: theirs(fitted.transform_rows(rows))),
        ("transform_rows + compiled", lambda: ours(fitted.transform_rows(rows))),
        (f"ModelPackage.predict_rows ({used})", lambda: package.predict_rows(rows)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["regression", "classification"], default="regression")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 100], help="rows per call")
    args = parser.parse_args()

    ames = load_ames()
    inputs = ames.drop(columns=AMES_TARGET)
    fitted = TransformLearner().fit(inputs)
    features = fitted.transform_frame(inputs)
    target: Any = ames[AMES_TARGET].to_numpy()
    if args.task == "classification":  # price quartiles
        names = np.array(["cheap", "fair", "dear", "luxury"])
        target = names[np.digitize(target, np.quantile(target, [0.25, 0.5, 0.75]))]
    estimator = build_estimator(None, task=args.task, params={}, seed=0).fit(features, target)
    started = time.perf_counter()
    predictor = compile_estimator(estimator)
    compile_ms = (time.perf_counter() - started) * 1e3
    if predictor is None:
        raise SystemExit(f"{type(estimator).__name__} was not compiled")
    method = "predict" if args.task == "regression" else "predict_proba"
    theirs, ours = getattr(estimator, method), getattr(predictor, method)
    if not np.array_equal(theirs(features), ours(features)):
        raise SystemExit("the compiled predictor differs from the estimator")
    requests = json.loads(inputs.to_json(orient="records"))

    with tempfile.TemporaryDirectory() as folder:
        write_package(
            Path(folder) / "model",
            estimator=estimator,
            transform=fitted,
            schema=Schema(),
            task=args.task,
            target=AMES_TARGET,
            estimator_path=type(estimator).__name__,
            params={},
        )
        package = ModelPackage.load(Path(folder) / "model")
    assert package.predictor is not None

    trees = sum(len(trees) for trees in estimator._predictors)
    table = Table(
        title=(
            f"{type(estimator).__name__}: {trees} trees, {features.shape[1]} features; "
            f"compiled and checked in {compile_ms:,.0f} ms; {os.cpu_count()} CPUs; "
            f"compiled path up to {MAX_BATCH_ROWS} rows"
        )
    )
    for column in ("path", "rows", "µs per call", "µs per row"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for batch in args.batches:
        for name, call in cases(theirs, ours, package, fitted, features[:batch], requests[:batch]):
            per_call = microseconds_per_call(call, args.seconds)
            table.add_row(name, str(batch), f"{per_call:,.1f}", f"{per_call / batch:,.1f}")
        table.add_section()
    Console().print(table)


if __name__ == "__main__":
    main()
