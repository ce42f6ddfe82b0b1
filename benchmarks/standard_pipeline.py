"""Wall time of the standard pipeline on the bundled Ames data: cold, then cached.

    python benchmarks/standard_pipeline.py [--repeats 3]

Each repeat makes a fresh quickstart project (SQLite, local artifacts), runs the whole
pipeline once from nothing (cold) and once more unchanged (fully cached).  The time is
the library call's, without the CLI's start-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from shipyard.quickstart import create_quickstart


def measure_once() -> tuple[float, float, dict[str, float]]:
    with (
        tempfile.TemporaryDirectory() as folder,
        create_quickstart(Path(folder) / "ames") as project,
    ):
        started = time.perf_counter()
        cold = project.run(project.standard_pipeline())
        cold_seconds = time.perf_counter() - started
        cold.raise_for_failure()
        steps = {name: step.seconds or 0.0 for name, step in cold.steps.items()}
        started = time.perf_counter()
        cached = project.run(project.standard_pipeline())
        cached_seconds = time.perf_counter() - started
        assert len(cached.names("cached")) == len(cached.steps), cached.names("succeeded")
    return cold_seconds, cached_seconds, steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    results = []
    for repeat in range(args.repeats):
        # No live spinner: its thread would make the runner spawn, not fork.
        console.print(f"run {repeat + 1} of {args.repeats}...")
        results.append(measure_once())
    table = Table(
        title=f"standard pipeline on Ames (2,930 rows × 74 columns), median of {args.repeats}"
    )
    table.add_column("measure")
    table.add_column("seconds", justify="right")
    table.add_row("cold run (9 steps)", f"{statistics.median(r[0] for r in results):.2f}")
    table.add_row("fully cached re-run", f"{statistics.median(r[1] for r in results):.3f}")
    for step in results[0][2]:
        table.add_row(
            f"  step {step} (cold)", f"{statistics.median(r[2][step] for r in results):.2f}"
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
