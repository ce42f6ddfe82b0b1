"""The prediction log's compactor: its time, CPU and peak memory for a spool of wide rows.

    python benchmarks/compaction.py [--lines 100000]

It makes a quickstart project in a temporary folder, spools ``--lines`` predictions of
the Ames rows (74 inputs each, about 1.7 KB a line, in files of 10,000 lines as a
server closes them), and runs the compactor process a server starts
(``python -m shipyard.serving.compactor``) for one pass, as when its server stops.  The
same process over an empty spool gives its start-up alone.  Peak memory is the
process's own peak resident set (Linux's VmHWM); a pass reads at most ``CLAIM_BYTES``
of lines at a time, so its peak stays put as the spool grows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from peers import BenchmarkError
from shipyard import Project
from shipyard.demo_data import AMES_TARGET, load_ames
from shipyard.prediction_log import new_prediction_ids, prediction_lines
from shipyard.prediction_log.spool import CLAIM_BYTES, spool_folder
from shipyard.quickstart import create_quickstart

FILE_LINES = 10_000


def spool(project_root: Path, lines: int) -> int:
    """Spool ``lines`` predictions of Ames rows in ``project_root``; their bytes."""
    rows = json.loads(load_ames().drop(columns=[AMES_TARGET]).to_json(orient="records"))
    with Project.open(project_root) as project:
        log = project.prediction_log(rotate_records=FILE_LINES)
        written = 0
        while written < lines:
            batch = rows[: min(len(rows), lines - written, FILE_LINES)]
            log.append_lines(
                prediction_lines(
                    model="ames",
                    version=1,
                    ids=new_prediction_ids(len(batch)),
                    rows=batch,
                    values=[180_000.0] * len(batch),
                    probabilities=None,
                    latency_ms=1.0,
                    timestamp=datetime.now(UTC),
                )
            )
            written += len(batch)
        log.close()
    return sum(path.stat().st_size for path in spool_folder(project_root).iterdir())


# The compactor's own command, then its peak resident set (VmHWM): the kernel's peak for
# a child process also counts the memory it shared with this one before exec.
COMPACTOR = """
import re, runpy, sys
sys.argv = ["compactor", sys.argv[1]]
try:
    runpy.run_module("shipyard.serving.compactor", run_name="__main__")
finally:
    status = open("/proc/self/status").read()
    print(re.search(r"^VmHWM:\\s+(\\d+) kB", status, re.MULTILINE).group(1))
"""


def compact_once(project_root: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak resident MiB of one compactor pass."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", COMPACTOR, str(project_root)],
        stdin=subprocess.DEVNULL,  # the end of input: one pass, then the process ends
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    peak = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise BenchmarkError(f"the compactor failed with exit status {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, int(peak) / 1024


def compacted_rows(project_root: Path) -> int:
    with Project.open(project_root) as project:
        return sum(segment.rows for segment in project.store.predictions.segments())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000, help="predictions to spool")
    args = parser.parse_args()
    if args.lines < 1:
        parser.error("--lines must be positive")
    console = Console()
    with tempfile.TemporaryDirectory() as folder:
        empty_root = Path(folder) / "empty"
        full_root = Path(folder) / "full"
        for root in (empty_root, full_root):
            create_quickstart(root).close()
        with console.status(f"spooling {args.lines:,} predictions"):
            size = spool(full_root, args.lines)
        with console.status("compacting an empty spool"):
            empty = compact_once(empty_root)
        with console.status(f"compacting {size / 2**20:,.0f} MiB of spool"):
            full = compact_once(full_root)
        if (found := compacted_rows(full_root)) != args.lines:
            raise BenchmarkError(f"the segments hold {found:,} predictions, not {args.lines:,}")
    table = Table(title=f"one compactor pass (claims of {CLAIM_BYTES // 2**20} MiB of lines)")
    for column in ("spool", "wall s", "CPU s", "lines per CPU s", "peak RSS MiB"):
        table.add_column(column, justify="right")
    table.add_row("empty", f"{empty[0]:.2f}", f"{empty[1]:.2f}", "", f"{empty[2]:.0f}")
    table.add_row(
        f"{args.lines:,} lines, {size / 2**20:,.0f} MiB",
        f"{full[0]:.2f}",
        f"{full[1]:.2f}",
        f"{args.lines / max(full[1] - empty[1], 1e-9):,.0f}",
        f"{full[2]:.0f}",
    )
    console.print(table)
    console.print("lines per CPU s leave out the process's start-up (the empty pass's CPU)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        sys.exit(1)
