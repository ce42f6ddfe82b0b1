"""The spool: where a server's predictions are durable before its answer leaves.

``SpoolWriter.append`` hands encoded lines to the kernel in one ``os.write`` on this
process's spool file, opened with ``O_APPEND``.  When the call returns the bytes are in
the page cache, so they survive the process being killed (SIGKILL, the OOM killer) though
not a power cut; nothing is fsynced on the request path.

Each writer holds an exclusive ``flock`` on its file while the file is open.  A spool file
nobody holds is closed for good: either its writer rotated away from it (after
``rotate_records`` records or ``rotate_seconds`` seconds) or its writer died.  Compaction
takes such files with ``claim_closed``; a file still being created (``.creating``, before
its writer holds the lock) is never taken, and removed once it is an hour old and
unlocked.  Only the last line of a file can be incomplete (the writer died mid-write).
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.config_source import STATE_DIR
from shipyard.errors import ServingError

__all__ = [
    "CLAIM_BYTES",
    "SPOOL_SUFFIX",
    "Claim",
    "SpoolWriter",
    "claim_closed",
    "spool_contents",
    "spool_entries",
    "spool_folder",
]

SPOOL_SUFFIX = ".jsonl"
_CREATING_SUFFIX = ".creating"  # a spool file before its writer holds the lock
_STALE_CREATING_SECONDS = 3600.0
CLAIM_BYTES = 64 * 2**20
"""The default byte bound of one compaction batch (``claim_closed``'s ``max_bytes``)."""
_HOST = re.sub(r"[^A-Za-z0-9.]+", "_", socket.gethostname()) or "host"


def spool_folder(root: Path) -> Path:
    """Where the servers of the project in ``root`` on this machine spool their predictions."""
    return root / STATE_DIR / "spool"


@dataclass
class _SpoolFile:
    """The file this process appends to, locked for as long as it is open."""

    fd: int
    path: Path
    opened: float
    records: int = 0


class SpoolWriter:
    """This process's writer to the spool ``folder``: one locked file at a time.

    Thread-safe.  In a forked child it forgets the parent's file and opens its own.
    """

    def __init__(self, folder: Path, *, rotate_records: int, rotate_seconds: float) -> None:
        self.folder = folder
        self.rotate_records = rotate_records
        self.rotate_seconds = rotate_seconds
        self._lock = threading.Lock()
        self._file: _SpoolFile | None = None

    def append(self, lines: Sequence[bytes]) -> None:
        """Write ``lines`` with one ``os.write``, so that they survive a SIGKILL."""
        if not lines:
            return
        payload = b"".join(lines)
        with self._lock:
            spool = self._file or self._open()
            try:
                written = os.write(spool.fd, payload)
                while written < len(payload):  # only on a full disk or an interrupted call
                    written += os.write(spool.fd, payload[written:])
            except OSError as exc:
                # The file may now end in part of a line; later lines must not follow it.
                self._close()
                raise ServingError(
                    f"cannot write the prediction log spool file {spool.path}: {exc}; "
                    "check the free space of that disk"
                ) from exc
            spool.records += len(lines)
            if (
                spool.records >= self.rotate_records
                or time.monotonic() - spool.opened >= self.rotate_seconds
            ):
                self._close()

    def rotate(self, *, older_than: float = 0.0) -> bool:
        """Close the current file if it holds records and was opened ``older_than`` s ago."""
        with self._lock:
            spool = self._file
            if spool is None or spool.records == 0:
                return False
            if time.monotonic() - spool.opened < older_than:
                return False
            self._close()
            return True

    def close(self) -> None:
        """Close the current file, which makes it compactable; appending opens a new one."""
        with self._lock:
            self._close()

    def _open(self) -> _SpoolFile:
        name = f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        creating = self.folder / (name + _CREATING_SUFFIX)
        path = self.folder / (name + SPOOL_SUFFIX)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644
            )
        except OSError as exc:
            raise ServingError(
                f"cannot create a prediction log spool file in {self.folder}: {exc}"
            ) from exc
        try:
            # Locked before it gets the name compactors look for, so that none of them
            # mistakes a new, empty file for an abandoned one.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(creating, path)
        except OSError as exc:
            os.close(fd)
            raise ServingError(f"cannot prepare the spool file {path}: {exc}") from exc
        _OPEN_WRITERS.add(self)
        self._file = _SpoolFile(fd=fd, path=path, opened=time.monotonic())
        return self._file

    def _close(self) -> None:
        if self._file is not None:
            os.close(self._file.fd)  # releases the lock: the file is now compactable
            self._file = None

    def _forget_after_fork(self) -> None:
        # The child shares the parent's open file and lock; it must spool to its own.
        if self._file is not None:
            os.close(self._file.fd)
            self._file = None
        self._lock = threading.Lock()


_OPEN_WRITERS: weakref.WeakSet[SpoolWriter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for writer in list(_OPEN_WRITERS):
        writer._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def spool_entries(folder: Path) -> list[os.DirEntry[str]]:
    """The spool files in ``folder``, open or closed; none if it does not exist."""
    try:
        with os.scandir(folder) as entries:
            return [
                entry for entry in entries if entry.name.endswith(SPOOL_SUFFIX) and entry.is_file()
            ]
    except FileNotFoundError:
        return []


def spool_contents(folder: Path) -> list[tuple[str, bytes]]:
    """The name and bytes of each spool file in ``folder``, running servers' too."""
    found = []
    for entry in spool_entries(folder):
        try:
            found.append((entry.name, Path(entry.path).read_bytes()))
        except FileNotFoundError:
            continue  # compacted meanwhile: the segments hold it now
    return found


@dataclass
class Claim:
    """A closed spool file locked by a compactor, with its bytes."""

    fd: int
    path: Path
    data: bytes


def claim_closed(
    folder: Path, *, skip: set[str], lines: int, max_bytes: int = CLAIM_BYTES
) -> list[Claim]:
    """Lock closed spool files in ``folder``, oldest first, up to about ``lines`` lines
    or ``max_bytes`` bytes, whichever comes first.

    The line bound is checked after each file is read (the batch may pass it by part of
    a file); the byte bound before, from the file's size, so the batch never holds more
    than ``max_bytes`` bytes unless it is a single file: a batch is never empty while a
    closed file is left, however large it is.  Wide inputs make lines long, and the
    compactor's memory follows bytes, not lines.

    Files named in ``skip`` are passed over; the names of those claimed or found held by
    another process are added to it (a file left for the next batch is not).  The caller
    closes the claims' descriptors, which releases them.
    """
    if lines < 1 or max_bytes < 1:
        raise ValueError(f"a claim needs lines >= 1 and max_bytes >= 1, not {lines}, {max_bytes}")
    batch: list[Claim] = []
    found = 0
    taken = 0
    candidates = []
    try:
        with os.scandir(folder) as scan:
            entries = [entry for entry in scan if entry.is_file()]
    except FileNotFoundError:
        return []
    for entry in entries:
        try:
            modified = entry.stat().st_mtime
        except FileNotFoundError:
            continue
        if entry.name.endswith(SPOOL_SUFFIX) and entry.name not in skip:
            candidates.append((modified, entry.name))
        elif entry.name.endswith(_CREATING_SUFFIX):
            _remove_stale(Path(entry.path), modified)
    for _modified, name in sorted(candidates):
        skip.add(name)
        path = folder / name
        fd = _try_lock(path)
        if fd is None:
            continue
        size = os.fstat(fd).st_size
        if batch and taken + size > max_bytes:
            os.close(fd)
            skip.discard(name)  # the next batch starts with it
            break
        try:
            with open(fd, "rb", closefd=False) as handle:
                data = handle.read()
        except OSError as exc:
            for held in (fd, *(claim.fd for claim in batch)):
                os.close(held)
            raise ServingError(f"cannot read the spool file {path}: {exc}") from exc
        batch.append(Claim(fd=fd, path=path, data=data))
        taken += len(data)
        found += data.count(b"\n")
        if found >= lines:
            break
    return batch


def _remove_stale(path: Path, modified: float) -> None:
    # A writer that died between creating and renaming its file; it holds nothing.
    if time.time() - modified < _STALE_CREATING_SECONDS:
        return
    fd = _try_lock(path)
    if fd is not None:
        path.unlink(missing_ok=True)
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _try_lock(path: Path) -> int | None:
    """An open, exclusively locked descriptor of ``path``, or None when someone holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    # Another compactor may have deleted the file between our open and our lock.
    if not _same_file(fd, path):
        os.close(fd)
        return None
    return fd
