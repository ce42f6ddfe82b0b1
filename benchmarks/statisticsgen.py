"""Time ``compute_statistics`` on a synthetic table.

    python benchmarks/statisticsgen.py --rows 1000000 --numeric 14 --categorical 6

The table mixes normal and skewed floats, integer counts, floats with missing values and
text categories with a few hundred distinct values; the RNG is seeded so runs compare.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import numpy.typing as npt
import pandas as pd
from rich.console import Console
from rich.table import Table

from shipyard.data import compute_statistics


def make_table(rows: int, numeric: int, categorical: int, seed: int) -> pd.DataFrame:
    """A seeded table with ``numeric`` numeric and ``categorical`` text columns."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for index in range(numeric):
        kind = index % 4
        values: npt.NDArray[np.float64] | npt.NDArray[np.int64]
        if kind == 0:
            values = rng.normal(loc=index, scale=1.0 + index, size=rows)
        elif kind == 1:
            values = rng.lognormal(mean=0.0, sigma=1.0, size=rows)
        elif kind == 2:
            values = rng.poisson(lam=3.0 + index, size=rows)
        else:
            values = rng.uniform(-1.0, 1.0, size=rows)
            values[rng.random(rows) < 0.05] = np.nan
        columns[f"num_{index}"] = values
    for index in range(categorical):
        cardinality = 100 + 100 * index
        vocabulary = np.array([f"level_{index}_{value}" for value in range(cardinality)])
        # Zipf-like popularity, as real categories have.
        weights = 1.0 / np.arange(1, cardinality + 1)
        picks = rng.choice(cardinality, size=rows, p=weights / weights.sum())
        columns[f"cat_{index}"] = pd.Series(vocabulary[picks], dtype="str")
    return pd.DataFrame(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--numeric", type=int, default=14, help="numeric columns")
    parser.add_argument("--categorical", type=int, default=6, help="text columns")
    parser.add_argument("--chunks", type=int, default=1, help="feed the table in N chunks")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    console = Console()
    frame = make_table(args.rows, args.numeric, args.categorical, args.seed)
    bounds = np.linspace(0, len(frame), args.chunks + 1).astype(int)
    chunks = [frame.iloc[start:stop] for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]

    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        stats = compute_statistics(chunks if args.chunks > 1 else frame)
        timings.append(time.perf_counter() - started)

    table = Table(title=f"compute_statistics: {args.rows:,} rows x {frame.shape[1]} columns")
    table.add_column("chunks", justify="right")
    table.add_column("best (s)", justify="right")
    table.add_column("all runs (s)")
    table.add_row(str(args.chunks), f"{min(timings):.2f}", ", ".join(f"{t:.2f}" for t in timings))
    console.print(table)
    first = stats[frame.columns[0]]
    console.print(f"{first.name}: mean={first.mean:.4f} std={first.std:.4f} n={first.present:,}")


if __name__ == "__main__":
    main()
