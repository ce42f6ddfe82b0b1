"""The quickstart: a project made from the bundled Ames house prices.

``create_quickstart(folder)`` copies the data into ``folder/data/`` and writes a
``shipyard.yaml`` for predicting ``Sale_Price``; run its standard pipeline and the loop
has turned once.  Re-creating it over an earlier quickstart keeps that project (and its
cache, registry and history).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from shipyard.config import CONFIG_FILE, render_config
from shipyard.datasets import AMES_FILE, AMES_TARGET, ames_path
from shipyard.errors import ConfigError
from shipyard.project import Project

__all__ = ["create_quickstart"]

QUICKSTART_SLICES = ["Bldg_Type"]


def create_quickstart(folder: Path) -> Project:
    """The quickstart project in ``folder``: opened if it exists, else created."""
    folder = folder.resolve()
    if (folder / CONFIG_FILE).exists():
        project = Project.open(folder)
        if project.config.data is None or project.config.data.target != AMES_TARGET:
            project.close()
            raise ConfigError(f"{folder} holds another project; give the quickstart a new folder")
        return project
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} is not empty; give the quickstart a new or empty folder")
    (folder / "data").mkdir(parents=True)
    data = folder / "data" / AMES_FILE
    shutil.copyfile(ames_path(), data)
    project = Project.init(
        folder, name=folder.name, data=data, target=AMES_TARGET, task="regression"
    )
    # Per-slice metrics by building type: the gate still judges the whole eval split.
    project.config.evaluation.slices = list(QUICKSTART_SLICES)
    (folder / CONFIG_FILE).write_text(render_config(project.config))
    project.close()
    return Project.open(folder)
