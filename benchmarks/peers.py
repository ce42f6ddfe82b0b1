"""What the benchmarks share: peers in virtual environments of their own, made on first
use (never a dependency of shipyard), and the error a benchmark stops with.

Only the standard library: a benchmark may run its own file inside a peer's environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

__all__ = ["BenchmarkError", "ensure_venv", "shipyard_command", "versions"]


class BenchmarkError(Exception):
    """Something the benchmark needs failed; the message says what to do."""


def ensure_venv(
    venv: Path,
    requirements: Sequence[str],
    log: Path,
    *,
    command: str = "python",
    advice: str = "",
) -> float | None:
    """Make (or update) a peer's virtualenv with ``requirements``; the seconds it took,
    None when it was ready (its ``bin/command`` there, installed from these requirements).
    A failed install raises ``BenchmarkError`` with the log's tail and ``advice``."""
    marker = venv / ".benchmark-requirements"
    wanted = "\n".join(requirements)
    if marker.exists() and marker.read_text() == wanted and (venv / "bin" / command).exists():
        return None
    started = time.perf_counter()
    python = venv / "bin" / "python"
    commands = [] if python.exists() else [[sys.executable, "-m", "venv", str(venv)]]
    commands.append([str(python), "-m", "pip", "install", "--quiet", *requirements])
    with log.open("wb") as output:
        for step in commands:
            done = subprocess.run(
                step, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
            if done.returncode != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
                raise BenchmarkError(f"{' '.join(step)} failed{advice}:\n{tail}")
    marker.write_text(wanted)
    return time.perf_counter() - started


def versions(*names: str) -> dict[str, str | None]:
    """The installed version of each package (None when it is not installed)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def shipyard_command() -> str:
    """The ``shipyard`` command beside this Python (its virtualenv's), else on PATH; the
    benchmark stops, saying what to do, when there is none."""
    found = shutil.which("shipyard", path=str(Path(sys.executable).parent)) or shutil.which(
        "shipyard"
    )
    if found is None:
        sys.exit("no `shipyard` command beside this Python or on PATH; pip install -e . first")
    return found
