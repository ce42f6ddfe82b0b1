"""Data drift: shipyard's statistics and drift check against Evidently's ``DataDriftPreset``.

A seeded synthetic table, a reference and a current one of ``--rows`` rows (1,000,000 by
default) x 20 columns: ``num_0..num_9`` standard normal, ``cat_0..cat_9`` with 30 values
each, uniform.  In the current table ``num_0`` and ``num_1`` are shifted by +0.5, ``num_2``
is scaled by 2 (a change of spread, not of location), and in ``cat_0`` and ``cat_1`` the
first 3 values are 4x as frequent.  Five columns drifted, fifteen did not.  Both tables are
written as Parquet (categoricals dictionary-encoded strings), and each tool runs in its
own process, reading them:

- shipyard: each file streamed in record batches (pyarrow) into ``compute_statistics``,
  the two files in two processes (the machine's two cores: the worker reads one, a
  forked child the other), then ``dataset_drift``; also timed in one process, and as
  ``shipyard monitor`` meets a window: the reference's statistics stored (when its
  version was trained) and read back, only the current file read and summarised;
- Evidently: ``Report([DataDriftPreset()]).run(current, reference)`` on pandas frames read
  from the files, in its own virtualenv (``benchmarks/.venv-evidently``), made on first use.

Times are of the work (reading included) after imports; import time is reported apart.
Peak memory is the process's peak resident set; with two processes, the peak of their
summed proportional set size (PSS: the library pages they share are split between them),
sampled every 200 ms.  The cores are shared with whatever
else runs: "others' load" is the CPU other programs used meanwhile, in cores.  Run it
with shipyard's virtualenv:

    .venv/bin/python benchmarks/drift.py
    .venv/bin/python benchmarks/drift.py --rows 200000 --skip-evidently --json out.json
    .venv/bin/python benchmarks/drift.py --stream-rows 100000000

``--stream-rows N`` instead measures one window of N current rows generated batch by batch
in the shipyard process (never held whole) through ``compute_statistics`` and then drift
against the reference: rows/s and peak memory.
"""

# Only the standard library at module level: the Evidently worker runs this file in its
# own virtualenv, and the shipyard workers must not pay for what they do not use.
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from peers import BenchmarkError, ensure_venv

STARTED = time.perf_counter()

HERE = Path(__file__).resolve().parent
EVIDENTLY_VENV = HERE / ".venv-evidently"
# Evidently 0.7.23 imports a helper that pandas 3 no longer has.
EVIDENTLY_REQUIREMENTS = ("evidently==0.7.23", "pandas==2.3.3", "pyarrow==26.0.1")

NUMERIC = [f"num_{i}" for i in range(10)]
CATEGORICAL = [f"cat_{i}" for i in range(10)]
CATEGORIES = [f"value_{i:02d}" for i in range(30)]
#: What changed in the current table, by column; every other column is unchanged.
CHANGES = {
    "num_0": "shift +0.5",
    "num_1": "shift +0.5",
    "num_2": "scale x2",
    "cat_0": "3 values 4x as frequent",
    "cat_1": "3 values 4x as frequent",
}
BATCH_ROWS = 1 << 18  # 262,144: as fast as larger batches here, and less memory


# --- data ------------------------------------------------------------------------------


def make_columns(rows: int, *, seed: Sequence[int], drifted: bool) -> dict[str, Any]:
    """One batch of the synthetic table: float64 arrays and int8 category codes."""
    import numpy as np

    rng = np.random.default_rng(list(seed))
    columns: dict[str, Any] = {}
    for name in NUMERIC:
        values = rng.standard_normal(rows)
        if drifted and CHANGES.get(name) == "shift +0.5":
            values += 0.5
        elif drifted and CHANGES.get(name) == "scale x2":
            values *= 2.0
        columns[name] = values
    weights = np.ones(len(CATEGORIES))
    weights[:3] = 4.0
    cumulative = np.cumsum(weights / weights.sum())
    cumulative[-1] = 1.0
    for name in CATEGORICAL:
        if drifted and name in CHANGES:
            codes = np.searchsorted(cumulative, rng.random(rows), side="right")
        else:
            codes = rng.integers(0, len(CATEGORIES), rows)
        columns[name] = codes.astype(np.int8)
    return columns


def record_batch(columns: dict[str, Any]) -> Any:
    """The columns as a pyarrow RecordBatch, categoricals dictionary-encoded."""
    import pyarrow as pa

    dictionary = pa.array(CATEGORIES, pa.string())
    arrays = [
        pa.DictionaryArray.from_arrays(pa.array(values), dictionary)
        if name in CATEGORICAL
        else pa.array(values)
        for name, values in columns.items()
    ]
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))


def write_table(path: Path, rows: int, *, seed: int, drifted: bool) -> None:
    """Write ``rows`` rows batch by batch, so even large tables need little memory."""
    import pyarrow.parquet as pq

    writer = None
    try:
        for index, start in enumerate(range(0, rows, BATCH_ROWS)):
            size = min(BATCH_ROWS, rows - start)
            batch = record_batch(make_columns(size, seed=(seed, index), drifted=drifted))
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema)
            writer.write_batch(batch)
    finally:
        if writer is not None:
            writer.close()


# --- workers (each in its own process) ---------------------------------------------------


def peak_memory_bytes() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PssSampler:
    """The peak of several processes' summed proportional set size, sampled every 10 ms.

    Forked workers share the pages of the libraries they inherited; their resident sets
    would count those pages once per process, their PSS splits them between them.  PSS
    costs milliseconds to read, so it is read every 200 ms, and in between it is the
    last reading plus the growth of the resident set, cheap to read (new pages are the
    process's own, and count fully in both).
    """

    def __init__(self, pids: Sequence[int]) -> None:
        import threading

        self.pids = list(pids)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        shared = 0  # resident minus proportional, at the last PSS reading
        for tick in range(sys.maxsize):
            resident = sum(map(rss_bytes, self.pids))
            if tick % 20 == 0:
                shared = resident - sum(map(pss_bytes, self.pids))
            self.peak = max(self.peak, resident - shared)
            if self._stop.wait(0.01):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def rss_bytes(pid: int) -> int:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def pss_bytes(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def file_statistics(path: str, batch_rows: int) -> tuple[dict[str, Any], int]:
    """Statistics of a Parquet file read in record batches, and this process's peak."""

    from shipyard.data.statistics import compute_statistics

    return compute_statistics(parquet_batches(path, batch_rows)).to_dict(), peak_memory_bytes()


def drift_rows(results: Sequence[Any]) -> dict[str, dict[str, Any]]:
    # Reads only what every version of DriftResult has; `value` may be None (too little data).
    return {
        result.column: {
            "metric": str(result.metric),
            "value": None if result.value is None else float(result.value),
            "threshold": float(result.threshold),
            "drifted": bool(result.drifted),
        }
        for result in results
    }


def shipyard_worker(args: argparse.Namespace) -> dict[str, Any]:
    import gc
    import multiprocessing

    import pyarrow.parquet  # noqa: F401  (imported here, not in the timed workers)

    from shipyard.data.drift import dataset_drift
    from shipyard.data.statistics import DatasetStatistics

    imported = time.perf_counter()
    paths = [str(args.reference), str(args.current)]
    sampler = None
    if args.stored_reference is not None:
        # A monitoring window: the reference's statistics were stored when its version
        # was trained, and only the window's rows are read.
        stored = json.loads(Path(args.stored_reference).read_text())
        answers = [(stored, 0), file_statistics(paths[1], args.batch_rows)]
    elif args.processes > 1:
        # A forked worker inherits the imports: no start-up cost for it to pay again.  This
        # process reads the first file meanwhile.  Frozen, the objects the worker inherits
        # stay out of its garbage collector, which would otherwise copy their pages.
        gc.freeze()
        with multiprocessing.get_context("fork").Pool(args.processes - 1) as pool:
            pids = [os.getpid(), *(worker.pid for worker in pool._pool)]
            sampler = PssSampler(pids)
            pending = pool.starmap_async(
                file_statistics, [(path, args.batch_rows) for path in paths[1:]]
            )
            answers = [file_statistics(paths[0], args.batch_rows), *pending.get()]
            sampler.stop()
        gc.unfreeze()
    else:
        answers = [file_statistics(path, args.batch_rows) for path in paths]
    reference, current = (DatasetStatistics.from_dict(record) for record, _ in answers)
    computed = time.perf_counter()
    results = dataset_drift(reference, current)
    done = time.perf_counter()
    peak = peak_memory_bytes()
    rss_sum = peak + sum(worker_peak for _, worker_peak in answers) if sampler else None
    return {
        # One process: its peak resident set.  Several: the peak of their summed PSS.
        "peak_memory_bytes": peak if sampler is None else max(sampler.peak, peak),
        "peak_memory_kind": "RSS" if sampler is None else "summed PSS",
        "peak_rss_sum_bytes": rss_sum,
        "import_seconds": imported - STARTED,
        "work_seconds": done - imported,
        "statistics_seconds": computed - imported,
        "drift_seconds": done - computed,
        "columns": drift_rows(results),
    }


def stream_worker(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow.parquet  # noqa: F401

    from shipyard.data.drift import dataset_drift
    from shipyard.data.statistics import compute_statistics

    imported = time.perf_counter()
    reference = compute_statistics(parquet_batches(str(args.reference), args.batch_rows))
    reference_done = time.perf_counter()
    generating = [0.0]

    def window() -> Iterator[Any]:
        for index, start in enumerate(range(0, args.stream_rows, args.batch_rows)):
            began = time.perf_counter()
            size = min(args.batch_rows, args.stream_rows - start)
            batch = record_batch(make_columns(size, seed=(2, index), drifted=True))
            generating[0] += time.perf_counter() - began
            yield batch

    current = compute_statistics(window())
    computed = time.perf_counter()
    results = dataset_drift(reference, current)
    done = time.perf_counter()
    window_seconds = done - reference_done
    return {
        "import_seconds": imported - STARTED,
        "reference_seconds": reference_done - imported,
        "window_rows": current.num_rows,
        "window_seconds": window_seconds,
        "generation_seconds": generating[0],
        "statistics_seconds": computed - reference_done - generating[0],
        "drift_seconds": done - computed,
        "rows_per_second": current.num_rows / window_seconds,
        "statistics_rows_per_second": current.num_rows / (window_seconds - generating[0]),
        "peak_memory_bytes": peak_memory_bytes(),
        "columns": drift_rows(results),
    }


def parquet_batches(path: str, batch_rows: int) -> Iterator[Any]:
    """The file's record batches, read as a stream: no read-ahead of whole row groups and
    no reader threads, whose buffers would cost more memory than the batches."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    yield from file.iter_batches(batch_size=batch_rows, use_threads=False)


def evidently_worker(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    imported = time.perf_counter()
    reference = pd.read_parquet(args.reference)
    current = pd.read_parquet(args.current)
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    done = time.perf_counter()
    columns = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        value, threshold = float(metric["value"]), float(config["threshold"])
        # Distances drift at or above the threshold, p-values (small data) below it.
        is_p_value = "p_value" in config["method"]
        columns[config["column"]] = {
            "metric": config["method"],
            "value": value,
            "threshold": threshold,
            "drifted": value < threshold if is_p_value else value >= threshold,
        }
    return {
        "import_seconds": imported - STARTED,
        "work_seconds": done - imported,
        "peak_memory_bytes": peak_memory_bytes(),
        "columns": columns,
        "version": __import__("evidently").__version__,
    }


WORKERS = {"shipyard": shipyard_worker, "stream": stream_worker, "evidently": evidently_worker}


# --- driver ----------------------------------------------------------------------------


def run_worker(
    python: Path | str, worker: str, args: argparse.Namespace, folder: Path, **options: Any
) -> dict[str, Any]:
    """Run one worker in a fresh process; its answer, with the wall time seen from here."""
    out = folder / f"{worker}-{time.monotonic_ns()}.json"
    command = [
        str(python),
        str(Path(__file__).resolve()),
        "--worker",
        worker,
        "--reference",
        str(folder / "reference.parquet"),
        "--current",
        str(folder / "current.parquet"),
        "--batch-rows",
        str(args.batch_rows),
        "--worker-out",
        str(out),
    ]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1"}
    if worker != "evidently":
        source = HERE.parent / "src"
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(source), os.environ.get("PYTHONPATH", "")])
        )
    busy_before, cpu_before = busy_cpu_seconds(), children_cpu_seconds()
    began = time.perf_counter()
    done = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - began
    own_cpu = children_cpu_seconds() - cpu_before
    others = max(0.0, busy_cpu_seconds() - busy_before - own_cpu)
    if done.returncode != 0:
        raise BenchmarkError(f"the {worker} worker failed:\n{done.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(out.read_text())
    answer["process_wall_seconds"] = wall
    answer["process_cpu_seconds"] = own_cpu
    # Other programs on the machine (the cores are shared): their average use, in cores.
    answer["background_cores"] = others / wall
    return answer


def busy_cpu_seconds() -> float:
    """CPU seconds every program on the machine has used since boot (Linux)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def gigabytes(size: float) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def verdicts(answer: dict[str, Any]) -> tuple[int, int]:
    found = sum(1 for name, row in answer["columns"].items() if row["drifted"] and name in CHANGES)
    false_alarms = sum(
        1 for name, row in answer["columns"].items() if row["drifted"] and name not in CHANGES
    )
    return found, false_alarms


def score(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    value = "n/a" if row["value"] is None else f"{row['value']:.3f}"
    verdict = "[red]DRIFT[/]" if row["drifted"] else "ok"
    return f"{value} / {row['threshold']:g}  {verdict}"


def print_comparison(results: dict[str, Any], rows: int, repeat: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))
    evidently = results.get("evidently")
    title = f"Drift, {rows:,} reference vs {rows:,} current rows x 20 columns"
    summary = Table(title=f"{title} (shipyard: fastest of {repeat} runs; Evidently: one run)")
    for heading in (
        "tool",
        "work: read, stats, drift",
        "imports",
        "process CPU",
        "others' load",
        "peak memory",
        "drifted found",
        "false alarms",
        "Evidently / this",
    ):
        summary.add_column(heading, justify="left" if heading == "tool" else "right")
    for name, answer in results.items():
        found, false_alarms = verdicts(answer)
        ratio = (
            f"{evidently['work_seconds'] / answer['work_seconds']:.1f}x"
            if evidently is not None
            else "-"
        )
        summary.add_row(
            name,
            f"{answer['work_seconds']:.2f} s",
            f"{answer['import_seconds']:.2f} s",
            f"{answer['process_cpu_seconds']:.2f} s",
            f"{answer['background_cores']:.1f} cores",
            gigabytes(answer["peak_memory_bytes"])
            + (" (PSS)" if answer.get("peak_memory_kind") == "summed PSS" else ""),
            f"{found} of {len(CHANGES)}",
            str(false_alarms),
            ratio,
        )
    console.print(summary)

    shipyard = next(answer for name, answer in results.items() if name.startswith("shipyard"))
    per_column = Table(title="Per column: score / threshold and verdict")
    per_column.add_column("column")
    per_column.add_column("truly drifted")
    per_column.add_column(f"shipyard ({next(iter(shipyard['columns'].values()))['metric']}…)")
    if evidently is not None:
        per_column.add_column(f"Evidently {evidently.get('version', '')}")
    for name in [*NUMERIC, *CATEGORICAL]:
        cells = [name, CHANGES.get(name, "no"), score(shipyard["columns"].get(name))]
        if evidently is not None:
            cells.append(score(evidently["columns"].get(name)))
        per_column.add_row(*cells)
    console.print(per_column)
    metrics = {row["metric"] for row in shipyard["columns"].values()}
    if evidently is not None:
        metrics |= {row["metric"] for row in evidently["columns"].values()}
    console.print(f"metrics: {', '.join(sorted(metrics))}")


def print_stream(answer: dict[str, Any], reference_rows: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Streaming window vs {reference_rows:,} reference rows (one process)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    found, false_alarms = verdicts(answer)
    for label, value in (
        ("window rows x 20 columns", f"{answer['window_rows']:,}"),
        ("window time (generation + statistics + drift)", f"{answer['window_seconds']:.1f} s"),
        ("  of which generating the rows", f"{answer['generation_seconds']:.1f} s"),
        ("  of which statistics", f"{answer['statistics_seconds']:.1f} s"),
        ("  of which drift", f"{answer['drift_seconds']:.3f} s"),
        ("rows/s, all included", f"{answer['rows_per_second']:,.0f}"),
        ("rows/s, statistics + drift only", f"{answer['statistics_rows_per_second']:,.0f}"),
        ("peak memory", gigabytes(answer["peak_memory_bytes"])),
        ("other programs' CPU load meanwhile", f"{answer['background_cores']:.1f} cores"),
        ("reference statistics (from Parquet)", f"{answer['reference_seconds']:.2f} s"),
        ("drifted found / false alarms", f"{found} of {len(CHANGES)} / {false_alarms}"),
    ):
        table.add_row(label, value)
    console.print(table)
    columns = Table(title="Per column: score / threshold and verdict")
    columns.add_column("column")
    columns.add_column("truly drifted")
    columns.add_column("shipyard")
    for name in [*NUMERIC, *CATEGORICAL]:
        columns.add_row(name, CHANGES.get(name, "no"), score(answer["columns"].get(name)))
    console.print(columns)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each table")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument(
        "--stream-rows", type=int, help="measure one window of this many rows instead"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="shipyard runs per mode; the fastest is shown"
    )
    parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help="rows per batch")
    parser.add_argument("--evidently-venv", type=Path, default=EVIDENTLY_VENV)
    parser.add_argument("--keep", type=Path, help="write the Parquet files here, and keep them")
    # Internal: how the driver starts a worker.
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--current", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--stored-reference", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from rich.console import Console

    console = Console()
    setup: float | None = None
    if args.stream_rows is None and not args.skip_evidently:
        requirements = EVIDENTLY_REQUIREMENTS
        with console.status(f"Evidently virtualenv: pip install {' '.join(requirements)}"):
            setup = ensure_venv(args.evidently_venv, requirements, folder / "evidently-install.log")
    began = time.perf_counter()
    with console.status("writing the Parquet files"):
        write_table(folder / "reference.parquet", args.rows, seed=0, drifted=False)
        if args.stream_rows is None:
            write_table(folder / "current.parquet", args.rows, seed=1, drifted=True)
    console.print(f"Parquet files written in {time.perf_counter() - began:.1f} s to {folder}")
    report: dict[str, Any] = {
        "rows": args.rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "changes": CHANGES,
        "evidently_setup_seconds": setup,
    }
    if args.stream_rows is not None:
        with console.status(f"streaming {args.stream_rows:,} rows through shipyard"):
            answer = run_worker(
                sys.executable, "stream", args, folder, stream_rows=args.stream_rows
            )
        report["stream"] = answer
        print_stream(answer, args.rows)
        return report
    results: dict[str, Any] = {}
    for processes in (2, 1):
        name = f"shipyard, {processes} process{'es' if processes > 1 else ''}"
        with console.status(f"running {name}"):
            runs = [
                run_worker(sys.executable, "shipyard", args, folder, processes=processes)
                for _ in range(args.repeat)
            ]
        results[name] = min(runs, key=lambda answer: answer["work_seconds"])
        results[name]["all_work_seconds"] = [answer["work_seconds"] for answer in runs]
    stored = folder / "reference-statistics.json"
    stored.write_text(
        json.dumps(file_statistics(str(folder / "reference.parquet"), args.batch_rows)[0])
    )
    name = "shipyard, stored reference"
    with console.status(f"running {name}"):
        runs = [
            run_worker(sys.executable, "shipyard", args, folder, stored_reference=stored)
            for _ in range(args.repeat)
        ]
    results[name] = min(runs, key=lambda answer: answer["work_seconds"])
    results[name]["all_work_seconds"] = [answer["work_seconds"] for answer in runs]
    if not args.skip_evidently:
        with console.status("running Evidently (about a minute for 1M rows)"):
            results["evidently"] = run_worker(
                args.evidently_venv / "bin" / "python", "evidently", args, folder
            )
    report["results"] = results
    print_comparison(results, args.rows, args.repeat)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        answer = WORKERS[args.worker](args)
        args.worker_out.write_text(json.dumps(answer))
        return 0
    try:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            report = run(args, args.keep)
        else:
            with tempfile.TemporaryDirectory(prefix="shipyard-drift-") as folder:
                report = run(args, Path(folder))
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
