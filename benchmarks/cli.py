"""Wall time of the ``shipyard`` command line, each command a process of its own.

    python benchmarks/cli.py [--repeats 10] [--project FOLDER]

Without ``--project`` it makes a quickstart project in a temporary folder (the bundled
Ames data, without turning the loop) and runs its standard pipeline once, so that the
next ``shipyard run`` is fully cached.  Then it times, as a user types them, ``--version``,
``--help``, the read-only commands (``runs``, ``models``, ``datasets``, ``predictions``,
``lineage``) against 0.3 s and a fully cached ``shipyard run`` against 1 s: the median
and the slowest wall time of ``--repeats`` runs, after one untimed run of each, and the
median CPU time (which a loaded machine inflates less).  The processes may
write their bytecode, as an installed package's is (pip compiles it at install).

With an MLflow environment made by ``benchmarks/serving.py`` (``.venv-mlflow``),
``mlflow --help`` is timed beside them for reference.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from peers import shipyard_command
from shipyard.quickstart import create_quickstart

HERE = Path(__file__).resolve().parent
READ_TARGET = 0.3
RUN_TARGET = 1.0


def child_env() -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(command: list[str], *, cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command's processes) of one run.

    On a machine shared with other work the wall time grows with its load; the CPU time
    much less so."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=child_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, _children_cpu() - cpu


def timings(command: list[str], *, cwd: Path, repeats: int) -> list[tuple[float, float]]:
    run_once(command, cwd=cwd)  # compiles bytecode, warms the file cache
    return [run_once(command, cwd=cwd) for _ in range(repeats)]


def prepared_project(folder: Path, console: Console) -> Path:
    console.print(f"making a quickstart project in {folder} and running its pipeline once...")
    create_quickstart(folder).close()
    run_once([shipyard_command(), "run"], cwd=folder)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--project", type=Path, help="an existing project whose pipeline has run once"
    )
    parser.add_argument("--mlflow-venv", type=Path, default=HERE / ".venv-mlflow")
    args = parser.parse_args()
    console = Console()
    shipyard = shipyard_command()
    with tempfile.TemporaryDirectory() as scratch:
        project = args.project or prepared_project(Path(scratch) / "ames", console)
        project = project.resolve()
        cases: list[tuple[str, list[str], float | None]] = [
            ("shipyard --version", [shipyard, "--version"], READ_TARGET),
            ("shipyard --help", [shipyard, "--help"], READ_TARGET),
            ("shipyard runs", [shipyard, "runs"], READ_TARGET),
            ("shipyard models", [shipyard, "models"], READ_TARGET),
            ("shipyard datasets", [shipyard, "datasets"], READ_TARGET),
            ("shipyard predictions", [shipyard, "predictions"], READ_TARGET),
            ("shipyard lineage run:1", [shipyard, "lineage", "run:1"], READ_TARGET),
            ("shipyard run (fully cached)", [shipyard, "run"], RUN_TARGET),
        ]
        mlflow = args.mlflow_venv / "bin" / "mlflow"
        if mlflow.exists():
            cases.append(("mlflow --help (reference)", [str(mlflow), "--help"], None))
        table = Table(title=f"shipyard's command line, {args.repeats} runs each, in {project}")
        for heading in ("command", "median s", "max s", "median CPU s", "target s", ""):
            table.add_column(heading, justify="left" if heading == "command" else "right")
        for label, command, target in cases:
            console.print(f"timing {label}...")
            measured = timings(command, cwd=project, repeats=args.repeats)
            seconds = [wall for wall, _ in measured]
            median = statistics.median(seconds)
            verdict = ""
            if target is not None:
                verdict = "[green]met[/]" if median < target else "[red]missed[/]"
            table.add_row(
                label,
                f"{median:.3f}",
                f"{max(seconds):.3f}",
                f"{statistics.median(cpu for _, cpu in measured):.3f}",
                "-" if target is None else f"{target:g}",
                verdict,
            )
        console.print(table)
        if not mlflow.exists():
            console.print(f"(no MLflow at {mlflow}: benchmarks/serving.py makes one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
