"""Which prediction ids the spool files hold, read incrementally.

Spool files only grow until they are deleted, so each lookup reads just the bytes
appended since the last one: a feedback request costs microseconds, not a re-read of
every file.  Compacted predictions are looked up in the metadata store's id index
(``prediction_index``) instead, by ``PredictionLog.find``.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from shipyard.prediction_log.lines import line_ids

__all__ = ["SpoolIndex"]


@dataclass
class _ScannedFile:
    inode: int
    offset: int  # bytes read so far, up to and including the last newline
    ids: set[str]


class SpoolIndex:
    """The prediction ids in a spool folder's files, as far as they were last read."""

    def __init__(self) -> None:
        self._files: dict[str, _ScannedFile] = {}
        self._lock = threading.Lock()
        _INDEXES.add(self)

    def contains(self, entries: Iterable[os.DirEntry[str]], wanted: set[str]) -> set[str]:
        """The ids among ``wanted`` in the spool files ``entries`` (all there are now)."""
        with self._lock:
            present = set()
            for entry in entries:
                present.add(entry.name)
                self._scan(entry)
            for gone in self._files.keys() - present:
                del self._files[gone]
            return {i for i in wanted if any(i in file.ids for file in self._files.values())}

    def _scan(self, entry: os.DirEntry[str]) -> None:
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # compacted meanwhile: the segments hold it now
        try:
            status = os.fstat(fd)
            scanned = self._files.get(entry.name)
            if scanned is None or scanned.inode != status.st_ino:
                scanned = self._files[entry.name] = _ScannedFile(status.st_ino, 0, set())
            if status.st_size > scanned.offset:
                data = os.pread(fd, status.st_size - scanned.offset, scanned.offset)
                complete = data.rfind(b"\n") + 1
                scanned.ids |= line_ids(data[:complete])
                scanned.offset += complete
        finally:
            os.close(fd)

    def _forget_after_fork(self) -> None:
        # Another thread of the parent may have held the lock when it forked.
        self._files = {}
        self._lock = threading.Lock()


_INDEXES: weakref.WeakSet[SpoolIndex] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for index in list(_INDEXES):
        index._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
