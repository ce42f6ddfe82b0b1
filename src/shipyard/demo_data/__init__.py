"""Demo data bundled with shipyard, so the quickstart works offline.

These are example tables, not dataset versions: a project's dataset versions are what
its pipelines ingested (``Project.dataset_versions``, ``shipyard datasets``).

The Ames, Iowa house-price table (De Cock, 2011) as published by the R package
``modeldata``; see ``README.md`` beside this file for its source, licence and how the
file was made.

>>> frame = load_ames()
>>> frame.shape
(2930, 74)
>>> frame[AMES_TARGET].dtype
dtype('int64')
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pandas as pd

from shipyard.errors import DataError

__all__ = ["AMES_FILE", "AMES_TARGET", "ames_path", "load_ames"]

AMES_FILE = "ames.csv.gz"
AMES_TARGET = "Sale_Price"


def ames_path() -> Path:
    """The bundled Ames table on disk: a gzip-compressed CSV file.

    Use it to copy the data into a project or to hand it to ``shipyard init --data``.
    """
    resource = files(__name__).joinpath(AMES_FILE)
    if not isinstance(resource, Path):
        raise DataError(
            f"shipyard is installed inside an archive, so {AMES_FILE} has no path of its "
            "own; call shipyard.demo_data.load_ames() and write the frame where you need it"
        )
    return resource


def load_ames() -> pd.DataFrame:
    """The Ames house-price table: 2,930 sales, 73 features and the target ``Sale_Price``.

    Text columns come back as strings, numbers as ``int64``/``float64``.  Empty cells
    (only in ``Mas_Vnr_Type`` and ``Misc_Feature``) are missing values; no other text is
    read as missing.
    """
    with files(__name__).joinpath(AMES_FILE).open("rb") as stream:
        return pd.read_csv(
            stream,
            compression="gzip",
            keep_default_na=False,
            na_values=[""],
        )
