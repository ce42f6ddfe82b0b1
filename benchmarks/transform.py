"""Time the fitted transform's two paths on the bundled Ames table.

    python benchmarks/transform.py [--encoding onehot|ordinal] [--seconds 1.0]

The transform is fitted on the whole table (73 feature columns).  The rows path gets
JSON-decoded requests, as the prediction server does; the frame path gets DataFrames built
beforehand, as training and batch prediction do.  Figures are microseconds per row, the
best of five timed runs.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial

import pandas as pd
from rich.console import Console
from rich.table import Table

from shipyard.data.transform import TransformSpec, learn_transform
from shipyard.demo_data import AMES_TARGET, load_ames


def microseconds_per_call(call: Callable[[], object], seconds: float) -> float:
    """Best of five runs of about ``seconds / 5`` each, in microseconds per call."""
    call()  # warm up: builds the rows plan, imports, caches
    start = time.perf_counter()
    loops = 0
    while time.perf_counter() - start < 0.05:
        call()
        loops += 1
    loops = max(1, int(loops * seconds / 5 / 0.05))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(loops):
            call()
        best = min(best, (time.perf_counter() - start) / loops)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoding", choices=["onehot", "ordinal"], default="onehot")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()

    ames = load_ames()
    fitted = learn_transform(ames, TransformSpec(drop=(AMES_TARGET,), encoding=args.encoding))
    features = ames.drop(columns=AMES_TARGET)
    requests = json.loads(features.to_json(orient="records"))

    table = Table(title=f"{fitted!r}, {args.encoding}")
    table.add_column("path")
    table.add_column("batch", justify="right")
    table.add_column("µs per row", justify="right")
    for batch in (1, 100):
        rows = requests[:batch]
        frame = features.iloc[:batch]
        cases: list[tuple[str, Callable[[], object]]] = [
            ("transform_rows", partial(fitted.transform_rows, rows)),
            ("transform_frame", partial(fitted.transform_frame, frame)),
            (
                "DataFrame(rows) + transform_frame",
                partial(lambda rows: fitted.transform_frame(pd.DataFrame(rows)), rows),
            ),
        ]
        for name, call in cases:
            per_row = microseconds_per_call(call, args.seconds) / batch
            table.add_row(name, str(batch), f"{per_row:,.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
