"""The project a command works on, opened when the command runs.

The library behind ``Project`` (SQLAlchemy, pydantic, the pipeline) is imported inside the
call: ``shipyard --help``, ``--version`` and a mistyped command answer without it, and each
command loads only what it uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.project import Project


def open_project(folder: Path | str = ".") -> Project:
    """``Project.open(folder)``: the project holding ``folder``, searching upwards."""
    from shipyard.project import Project

    return Project.open(folder)
