"""A table larger than memory through the data steps and batch prediction.

    python benchmarks/scale.py [--rows 100000000] [--workers 0,1,2]
                               [--partition-rows 1000000] [--scratch FOLDER]

Writes a folder of Parquet files of ``--rows`` generated rows × 20 columns (14 float, 3
integer and 2 text columns, and the float target ``y``; about 65 bytes a row on disk),
a file at a time.  A model is fitted on 200,000 of those rows and registered with
``shipyard.start_run(...).log_model``.

Then, for each entry of ``--workers`` (0: the local executor, steps in their own
process and partitions one after the other; N: ``pipeline.executor: dask`` on a local
cluster of N worker processes, partitions as its tasks), in a fresh project:

- ExampleGen → StatisticsGen → SchemaGen → ExampleValidator → Transform, through the
  pipeline runner (artifact storage and lineage included);
- ``shipyard predict`` of the whole folder (with ``--workers N`` for a cluster).

SchemaGen and ExampleValidator read statistics, not rows: they get no rows per second.

Each phase runs as a child process; its memory is the peak of the summed resident set
of the child and all its descendants (Dask's scheduler, nannies and workers), sampled
every 0.2 s.  The table gives each step's seconds and rows per second, and the peak.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from peers import shipyard_command

FILE_ROWS = 5_000_000
ROW_GROUP = 1_000_000
STEPS = ("ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform")
CITIES = np.array([f"city-{i:02d}" for i in range(40)])
KINDS = np.array(["house", "flat", "studio", "villa", "loft"])


def generated(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {
        f"x{i:02d}": rng.normal(i, 1 + i / 4, rows).astype(np.float32) for i in range(14)
    }
    columns["x03"][rng.random(rows) < 0.05] = np.nan
    for i in range(3):
        columns[f"n{i}"] = rng.integers(0, 100 * (i + 1), rows, dtype=np.int32)
    city = rng.integers(0, len(CITIES), rows)
    frame = pd.DataFrame(columns)
    frame["city"] = pd.Categorical.from_codes(city, CITIES)
    frame["kind"] = pd.Categorical.from_codes(rng.integers(0, len(KINDS), rows), KINDS)
    frame["y"] = (
        columns["x00"] * 3 - columns["x05"] + 0.02 * columns["n1"] + city / 10
    ) + rng.normal(0, 1, rows)
    return frame


def write_table(folder: Path, rows: int, console: Console) -> None:
    folder.mkdir(parents=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("writing rows", total=rows)
        for index, start in enumerate(range(0, rows, FILE_ROWS)):
            count = min(FILE_ROWS, rows - start)
            with pq.ParquetWriter(folder / f"part-{index:04d}.parquet", _schema()) as writer:
                for offset in range(0, count, ROW_GROUP):
                    frame = generated(min(ROW_GROUP, count - offset), seed=start + offset)
                    writer.write_table(pa.Table.from_pandas(frame, preserve_index=False))
                    progress.advance(task, len(frame))


def _schema() -> pa.Schema:
    return pa.Table.from_pandas(generated(10, seed=0), preserve_index=False).schema


def register_model(project: Path, table: Path) -> None:
    """A linear model fitted on 200,000 rows, registered as ``scale``."""
    from sklearn.linear_model import Ridge

    import shipyard
    from shipyard.data import learn_transform

    sample = pq.ParquetFile(next(table.glob("*.parquet"))).read_row_group(0).to_pandas()
    sample = sample.iloc[:200_000]
    transform = learn_transform(sample.drop(columns="y"))
    estimator = Ridge().fit(transform.transform_frame(sample.drop(columns="y")), sample["y"])
    with shipyard.start_run("scale", "fit on a sample", project=project) as run:
        run.log_model(estimator, data=sample, target="y", transform=transform, register="scale")


def run_steps(project: Path, table: Path, partition_rows: int) -> None:
    """The data steps on ``table``; prints each step's seconds as JSON."""
    from shipyard import Pipeline, Project
    from shipyard.components import (
        ExampleGen,
        ExampleValidator,
        SchemaGen,
        StatisticsGen,
        Transform,
    )

    examples = ExampleGen(source=str(table), name="scale", partition_rows=partition_rows)
    statistics = StatisticsGen(examples=examples.outputs.examples, partition_rows=partition_rows)
    schema = SchemaGen(statistics=statistics.outputs.statistics)
    validator = ExampleValidator(
        statistics=statistics.outputs.statistics, schema=schema.outputs.schema
    )
    transform = Transform(
        examples=examples.outputs.examples,
        schema=schema.outputs.schema,
        anomalies=validator.outputs.anomalies,
        target="y",
        partition_rows=partition_rows,
    )
    steps = [examples, statistics, schema, validator, transform]
    with Project.open(project) as opened:
        result = opened.run(Pipeline("scale", steps))
        result.raise_for_failure()
        seconds = {name: step.seconds for name, step in result.steps.items()}
        train_rows = result.output("ExampleGen", "examples").properties["train_rows"]
    print(json.dumps({"seconds": seconds, "train_rows": train_rows}))


def measured(command: list[str], *, cwd: Path) -> tuple[float, float, str]:
    """Run ``command``: (wall seconds, peak summed RSS of it and its descendants in MiB,
    its standard output)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(_rss(p) for p in tree))
            except psutil.NoSuchProcess:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return time.perf_counter() - started, peak / 2**20, out


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.NoSuchProcess:
        return 0


def make_project(folder: Path, table: Path, workers: int, partition_rows: int) -> None:
    import shipyard

    shipyard.Project.init(folder, data=table, target="y").close()
    settings = yaml.safe_load((folder / "shipyard.yaml").read_text())
    settings["data"]["partition_rows"] = partition_rows
    settings["pipeline"] = {"executor": "dask", "workers": workers} if workers else {}
    (folder / "shipyard.yaml").write_text(yaml.safe_dump(settings))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--workers", default="0,1,2", help="0: local executor; N: Dask")
    parser.add_argument("--partition-rows", type=int, default=1_000_000)
    parser.add_argument("--scratch", type=Path, help="Folder for the data (default: /tmp)")
    parser.add_argument("--steps", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--register", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps:
        project, table, partition_rows = args.steps
        run_steps(Path(project), Path(table), int(partition_rows))
        return 0
    if args.register:
        register_model(Path(args.register[0]), Path(args.register[1]))
        return 0

    console = Console()
    scratch = Path(tempfile.mkdtemp(prefix="shipyard-scale-", dir=args.scratch))
    table = scratch / "table"
    try:
        started = time.perf_counter()
        write_table(table, args.rows, console)
        size = sum(path.stat().st_size for path in table.iterdir()) / 2**30
        console.print(
            f"wrote {args.rows:,} rows × 20 columns ({size:.1f} GiB of Parquet) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        report = Table(
            title=f"{args.rows:,} rows × 20 columns, partitions of {args.partition_rows:,} rows"
        )
        for column in ("workers", "step", "seconds", "rows/s", "peak memory (MiB)"):
            report.add_column(column, justify="left" if column == "step" else "right")
        for workers in (int(w) for w in args.workers.split(",")):
            project = scratch / f"project-{workers}"
            make_project(project, table, workers, args.partition_rows)
            me = [sys.executable, __file__]
            measured([*me, "--register", str(project), str(table)], cwd=project)
            steps = [*me, "--steps", str(project), str(table), str(args.partition_rows)]
            wall, peak, out = measured(steps, cwd=project)
            result = json.loads(out.strip().splitlines()[-1])
            label = "local" if workers == 0 else f"dask ×{workers}"
            for step in STEPS:
                seconds = result["seconds"][step]
                rows = result["train_rows"] if step == "Transform" else args.rows
                # SchemaGen and ExampleValidator read statistics, not rows.
                reads_rows = step not in ("SchemaGen", "ExampleValidator")
                rate = f"{rows / seconds:,.0f}" if reads_rows else ""
                report.add_row(label, step, f"{seconds:.1f}", rate, "")
            report.add_row(label, "the five, whole process", f"{wall:.1f}", "", f"{peak:,.0f}")
            predict = [shipyard_command(), "predict", "scale:1", "--input", str(table)]
            predict += ["--output", str(scratch / "predicted")]
            if workers:
                predict += ["--workers", str(workers)]
            else:
                predict[-1] += ".parquet"
            seconds, peak, _ = measured(predict, cwd=project)
            report.add_row(
                label,
                "batch prediction",
                f"{seconds:.1f}",
                f"{args.rows / seconds:,.0f}",
                f"{peak:,.0f}",
            )
            console.print(report)  # so far: a long run shows each configuration as it ends
            shutil.rmtree(project)
            for predicted in scratch.glob("predicted*"):
                shutil.rmtree(predicted) if predicted.is_dir() else predicted.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
