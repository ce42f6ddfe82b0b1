"""Batch prediction of a large file: ``shipyard predict`` against a plain scikit-learn loop.

    python benchmarks/batch_predict.py [--rows 10000000] [--chunk-rows 50000]
                                       [--project FOLDER] [--scratch FOLDER]

Without ``--project`` it makes a quickstart project in a temporary folder and runs its
standard pipeline once, so that a model is registered.  It then writes a Parquet file of
``--rows`` Ames-like rows, resampled with replacement from the bundled Ames table without
its target, one row group at a time (generating never holds the whole file in memory).

Each of the two measured runs is a fresh process, started by a small watcher process of
its own whose ``RUSAGE_CHILDREN`` peak resident set is that run's alone:

- ``shipyard predict MODEL --input rows.parquet --output shipyard.parquet``;
- the same work without shipyard's wrapper: the same model package, the Parquet file read
  in the same chunks with pyarrow, ``package.transform.transform_frame(chunk)`` then
  ``package.estimator.predict(...)``, and the input columns plus ``prediction`` written to
  Parquet with the same encodings (dictionaries for text columns only).  It reads with
  pyarrow's defaults, as a user would: ``pre_buffer`` keeps the bytes of every row group
  read until the reader closes (apache/arrow#39808), so its peak memory grows with the
  file; ``shipyard predict`` turns pre-buffering off.

The table gives rows per second (wall time of the whole process, start-up and model load
included), CPU seconds (user + system) and peak memory for both; then it checks that the
two outputs' predictions are equal.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from peers import shipyard_command
from shipyard.data import dictionary_columns
from shipyard.demo_data import AMES_TARGET, load_ames
from shipyard.quickstart import create_quickstart

ROW_GROUP = 100_000


def prepared_project(folder: Path, console: Console) -> Path:
    console.print(f"making a quickstart project in {folder} and running its pipeline once...")
    create_quickstart(folder).close()
    done = subprocess.run([shipyard_command(), "run"], cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"`shipyard run` failed:\n{done.stderr[-2000:]}")
    return folder


def write_rows(target: Path, rows: int, *, seed: int = 0) -> None:
    """``rows`` Ames rows drawn with replacement, without the target, one row group a time."""
    ames = load_ames().drop(columns=[AMES_TARGET])
    rng = np.random.default_rng(seed)
    writer: pq.ParquetWriter | None = None
    try:
        for start in range(0, rows, ROW_GROUP):
            picked = rng.integers(0, len(ames), size=min(ROW_GROUP, rows - start))
            table = pa.Table.from_pandas(ames.iloc[picked], preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()


def plain_loop(project: Path, model: str, source: Path, target: Path, chunk_rows: int) -> None:
    """Run in a child: the model's transform and scikit-learn's predict, chunk by chunk."""
    from shipyard.project import Project

    with Project.open(project) as opened:
        package = opened.registry.load(model).package
    writer: pq.ParquetWriter | None = None
    try:
        for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk_rows):
            features = package.transform.transform_frame(batch.to_pandas())
            predictions = np.asarray(package.estimator.predict(features), dtype=np.float64)
            table = pa.Table.from_batches([batch])
            table = table.append_column("prediction", pa.array(predictions))
            if writer is None:
                # The same encodings as shipyard's writer, so that only the wrapper differs.
                columns = dictionary_columns(table.schema)
                writer = pq.ParquetWriter(target, table.schema, use_dictionary=columns)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def watch(command: list[str]) -> None:
    """Run in a fresh watcher: run ``command`` and print its wall time and peak RSS as JSON."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_mib": usage.ru_maxrss / 1024,  # ru_maxrss is in KiB on Linux
                "returncode": done.returncode,
                "stderr": done.stderr[-2000:],
            }
        )
    )


def measured(command: list[str], *, cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak resident MiB of ``command``, a process of its own.

    The CPU time (user + system, all threads) grows less than the wall time when other
    work shares the machine."""
    watcher = [sys.executable, __file__, "--watch", "--", *command]
    done = subprocess.run(watcher, cwd=cwd, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["returncode"] != 0:
        sys.exit(f"`{' '.join(command)}` failed ({result['returncode']}):\n{result['stderr']}")
    return result["seconds"], result["cpu_seconds"], result["peak_mib"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--project", type=Path, help="a project with a registered model")
    parser.add_argument("--model", help="the model to use (default: PROJECT@production)")
    parser.add_argument(
        "--scratch", type=Path, help="where to write the files (default: a temp folder)"
    )
    parser.add_argument("--watch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain-loop", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        watch(args.command)
        return 0
    if args.plain_loop:
        project, model, source, target, chunk_rows = args.plain_loop
        plain_loop(Path(project), model, Path(source), Path(target), int(chunk_rows))
        return 0
    console = Console(width=120)
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch_dir:
        scratch = Path(scratch_dir)
        project = (args.project or prepared_project(scratch / "ames", console)).resolve()
        model = args.model or f"{project.name}@production"
        source = scratch / "rows.parquet"
        console.print(f"writing {args.rows:,} rows to {source}...")
        started = time.perf_counter()
        write_rows(source, args.rows)
        console.print(
            f"  {time.perf_counter() - started:.1f} s, {source.stat().st_size / 2**20:,.0f} MiB"
        )
        ours, theirs = scratch / "shipyard.parquet", scratch / "plain.parquet"
        cases = [
            (
                "shipyard predict",
                [shipyard_command(), "predict", model, "--input", str(source),
                 "--output", str(ours), "--chunk-rows", str(args.chunk_rows)],
            ),
            (
                "plain loop: pyarrow + transform_frame + estimator.predict",
                [sys.executable, __file__, "--plain-loop", str(project), model, str(source),
                 str(theirs), str(args.chunk_rows)],
            ),
        ]  # fmt: skip
        table = Table(
            title=f"batch prediction of {args.rows:,} Ames rows (Parquet to Parquet), "
            f"chunks of {args.chunk_rows:,}"
        )
        for heading in ("run", "wall s", "rows/s", "CPU s", "peak RSS MiB"):
            table.add_column(heading, justify="left" if heading == "run" else "right")
        for label, command in cases:
            console.print(f"running {label}...")
            seconds, cpu, peak = measured(command, cwd=project)
            table.add_row(
                label,
                f"{seconds:.1f}",
                f"{args.rows / seconds:,.0f}",
                f"{cpu:.1f}",
                f"{peak:,.0f}",
            )
        console.print(table)
        same = _same_predictions(ours, theirs)
        console.print(
            "predictions equal" if same else "[red]the two outputs' predictions differ[/]"
        )
    return 0 if same else 1


def _same_predictions(ours: Path, theirs: Path) -> bool:
    a, b = pq.ParquetFile(ours), pq.ParquetFile(theirs)
    if a.metadata.num_rows != b.metadata.num_rows:
        return False
    left = a.iter_batches(batch_size=ROW_GROUP, columns=["prediction"])
    right = b.iter_batches(batch_size=ROW_GROUP, columns=["prediction"])
    return all(
        np.array_equal(x.column(0).to_numpy(), y.column(0).to_numpy())
        for x, y in zip(left, right, strict=True)
    )


if __name__ == "__main__":
    sys.exit(main())
