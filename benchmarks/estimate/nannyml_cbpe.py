"""NannyML's CBPE on the benchmark's windows; runs in NannyML's own virtualenv.

Reads ``reference.parquet`` (the eval split: ``proba``, ``pred``, ``truth``) and
``analysis.parquet`` (the windows' ``proba`` and ``pred``, window after window, each
``--chunk-size`` rows) from ``--folder``, fits CBPE on the reference, estimates per chunk,
and writes ``nannyml.json``: per chunk the estimated accuracy, F1 and ROC AUC, with the
seconds fitting and estimating took.  Not shipyard code: it never imports shipyard.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from importlib import metadata
from pathlib import Path

import pandas as pd

METRICS = ["accuracy", "f1", "roc_auc"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--chunk-size", type=int, required=True)
    args = parser.parse_args()

    started = time.perf_counter()
    import nannyml

    imported = time.perf_counter() - started
    reference = pd.read_parquet(args.folder / "reference.parquet")
    analysis = pd.read_parquet(args.folder / "analysis.parquet")
    # The reference has a few chunks of this size only; NannyML warns that its alert
    # thresholds rest on few chunks, which this benchmark does not use.
    warnings.filterwarnings("ignore", message="The resulting number of chunks is too low")
    estimator = nannyml.CBPE(
        y_pred_proba="proba",
        y_pred="pred",
        y_true="truth",
        problem_type="classification_binary",
        metrics=METRICS,
        chunk_size=args.chunk_size,
    )
    started = time.perf_counter()
    estimator.fit(reference)
    fitted = time.perf_counter() - started
    started = time.perf_counter()
    results = estimator.estimate(analysis).filter(period="analysis").to_df()
    estimated = time.perf_counter() - started
    chunks = [
        {metric: float(row[(metric, "value")]) for metric in METRICS}
        for _, row in results.iterrows()
    ]
    report = {
        "nannyml": metadata.version("nannyml"),
        "import_s": imported,
        "fit_s": fitted,
        "estimate_s": estimated,
        "chunks": chunks,
    }
    (args.folder / "nannyml.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
