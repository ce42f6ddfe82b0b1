"""The spool index: ids found in spool files, each byte read once."""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.prediction_log.index import SpoolIndex
from shipyard.prediction_log.lines import encode
from shipyard.prediction_log.spool import spool_entries
from tests.prediction_log.helpers import record


def test_ids_are_found_in_files_as_they_grow_and_forgotten_when_files_go(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(encode(record(1)) + encode(record(2))[:10])  # the second is cut off
    index = SpoolIndex()
    assert index.contains(spool_entries(tmp_path), {"p00001", "p00002"}) == {"p00001"}

    with first.open("ab") as spool:
        spool.write(encode(record(2))[10:])  # the writer finishes its line
    second.write_bytes(encode(record(3)))
    wanted = {"p00001", "p00002", "p00003", "p00004"}
    assert index.contains(spool_entries(tmp_path), wanted) == {"p00001", "p00002", "p00003"}

    first.unlink()  # compacted: the metadata store's index knows these now
    assert index.contains(spool_entries(tmp_path), wanted) == {"p00003"}


def test_a_new_file_under_an_old_name_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(encode(record(1)) + encode(record(2)))
    index = SpoolIndex()
    assert index.contains(spool_entries(tmp_path), {"p00001"}) == {"p00001"}
    replacement = tmp_path / "new"
    replacement.write_bytes(encode(record(3)))
    os.replace(replacement, path)
    assert index.contains(spool_entries(tmp_path), {"p00001", "p00003"}) == {"p00003"}
