"""The prediction log: every answered prediction, durable before the answer leaves.

A prediction goes through three stages.

**Spool.** ``PredictionLog.append`` encodes records as JSON lines and hands them to the
kernel in one ``os.write`` on this process's spool file, opened with ``O_APPEND``.  When
the call returns the bytes are in the page cache, so they survive the process being
killed (SIGKILL, the OOM killer) though not a power cut; nothing is fsynced on the
request path.  Each writer holds an exclusive ``flock`` on its file while the file is
open; a spool file nobody holds is closed for good, either rotated away by its writer
(after ``rotate_records`` records or ``rotate_seconds`` seconds) or left by a process that
died.  Only the last line of a file can be incomplete (the writer died mid-write), so
readers keep what comes before the last newline.

**Compaction.** ``PredictionLog.compact`` claims the closed spool files (their lock can be
taken), writes one Parquet file per model into the artifact store and registers, in one
transaction, the segments, their prediction ids and the names of the spool files they
came from; then it deletes the spool files.  A crash between two steps loses nothing
(the spool files are deleted last) and duplicates nothing (a spool file whose name is
registered is deleted without being compacted again; an unregistered Parquet file is
merely garbage in the artifact store).  A server leaves this to a process of its own
(``shipyard.serving.compactor``), so that it never holds up a request.

**Reading.** ``read`` and ``find`` look at the spool files first, then at the segments:
a file compacted in between is then seen twice (and de-duplicated by id) rather than
not at all.  Spool files are local, so predictions of servers on other machines appear
once compacted.  ``find`` answers from the ``prediction_index`` table for compacted
predictions and, for spooled ones, reads only the bytes appended since its last call.

**Feedback.** One label per prediction: a second label replaces the first (the returned
record says ``replaced=True``), so corrections need no special path.  A label for an id
the log does not hold raises ``RecordNotFound`` and a batch is stored all or nothing.

Parquet schema of a segment (sorted by time; zstd)::

    prediction_id  string                    caller's id (32 random hex digits by default)
    timestamp      timestamp[us, tz=UTC]
    model          string
    version        int64
    variant        string                    "primary", or a canary/shadow name
    prediction     string                    JSON text of the prediction
    probabilities  string, nullable          JSON object of class -> probability
    latency_ms     float64
    inputs         string                    JSON object of column -> value

``prediction`` is JSON text rather than a float because a class label may be a string, an
integer or a boolean; JSON keeps each exactly.  ``inputs`` is JSON text because every
model has columns of its own.  ``read`` decodes both.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import re
import socket
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.artifacts import ArtifactStore
from shipyard.config import STATE_DIR
from shipyard.errors import InvalidRequest, RecordNotFound, ServingError
from shipyard.store.predictions import (
    FeedbackRecord,
    NewSegment,
    PredictionRepository,
    SegmentRecord,
)
from shipyard.store.records import StoredOutput

if TYPE_CHECKING:
    from shipyard.project import Project

logger = logging.getLogger(__name__)

SPOOL_SUFFIX = ".jsonl"
_CREATING_SUFFIX = ".creating"  # a spool file before its writer holds the lock
_STALE_CREATING_SECONDS = 3600.0
_MAX_ID_LENGTH = 128
_MAX_MODEL_LENGTH = 200
_HOST = re.sub(r"[^A-Za-z0-9.]+", "_", socket.gethostname()) or "host"
_JSON_OPTIONS = (
    orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
)
_LINE_OPTIONS = (
    orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE
)
_REQUIRED_KEYS = ("id", "ts", "model", "version", "prediction", "inputs")
_SCHEMA = pa.schema(
    [
        ("prediction_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("model", pa.string()),
        ("version", pa.int64()),
        ("variant", pa.string()),
        ("prediction", pa.string()),
        ("probabilities", pa.string()),
        ("latency_ms", pa.float64()),
        ("inputs", pa.string()),
    ],
    metadata={"shipyard.schema": "prediction-log/1"},
)
_DTYPES = {
    "prediction_id": "str",
    "timestamp": "datetime64[us, UTC]",
    "model": "str",
    "version": "int64",
    "variant": "str",
    "prediction": "object",
    "probabilities": "object",
    "latency_ms": "float64",
    "inputs": "object",
}


def new_prediction_id() -> str:
    """A fresh prediction id: 32 random hexadecimal characters (128 bits)."""
    return new_prediction_ids(1)[0]


def new_prediction_ids(count: int) -> list[str]:
    """``count`` fresh prediction ids, as ``new_prediction_id`` makes them.

    They are unique, not secret: Python's generator, seeded from the OS and reseeded in
    every forked process, costs no system call per request.
    """
    text = f"{random.getrandbits(128 * count):0{32 * count}x}"
    return [text[i : i + 32] for i in range(0, 32 * count, 32)]


def spool_folder(project: Project) -> Path:
    """Where the servers of ``project`` on this machine spool their predictions."""
    return project.root / STATE_DIR / "spool"


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictionRecord:
    """One answered prediction, as the prediction log keeps it.

    ``timestamp`` defaults to now; a naive one is taken as UTC.  ``variant`` names the
    deployment that answered ("primary", or a canary or shadow).

    >>> PredictionRecord(prediction_id=new_prediction_id(), model="ames", version=3,
    ...     inputs={"Lot_Area": 8450}, prediction=208500.0, latency_ms=1.8)  # doctest: +SKIP
    """

    prediction_id: str
    model: str
    version: int
    inputs: Mapping[str, Any]
    prediction: Any
    latency_ms: float
    probabilities: Mapping[str, float] | None = None
    variant: str = "primary"
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        # Checked here, on the request path, because compaction could not store them.
        if not isinstance(self.prediction_id, str) or not (
            0 < len(self.prediction_id) <= _MAX_ID_LENGTH
        ):
            raise InvalidRequest(
                f"prediction_id must be a string of 1 to {_MAX_ID_LENGTH} characters, "
                f"not {self.prediction_id!r}",
                field="prediction_id",
            )
        if not isinstance(self.model, str) or not 0 < len(self.model) <= _MAX_MODEL_LENGTH:
            raise InvalidRequest(
                f"model must be a name of 1 to {_MAX_MODEL_LENGTH} characters, not {self.model!r}",
                field="model",
            )
        if not isinstance(self.version, int | np.integer):
            raise InvalidRequest(
                f"version must be an integer, not {self.version!r}", field="version"
            )
        if not isinstance(self.latency_ms, float | int | np.integer | np.floating):
            raise InvalidRequest(
                f"latency_ms must be a number, not {self.latency_ms!r}", field="latency_ms"
            )


@dataclass(frozen=True)
class CompactionResult:
    """What one ``compact`` call did."""

    files: int = 0
    predictions: int = 0
    segments: tuple[SegmentRecord, ...] = ()


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):  # dates, times, pandas Timestamps
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"values of type {type(value).__name__} cannot be stored as JSON")


def _line(
    prediction_id: str,
    timestamp: datetime,
    model: str,
    version: int,
    variant: str,
    prediction: Any,
    probabilities: Mapping[str, float] | None,
    latency_ms: float,
    inputs: Mapping[str, Any],
) -> bytes:
    line = {
        # "id" first: find() reads ids off the start of lines without parsing them.
        "id": prediction_id,
        "ts": timestamp,
        "model": model,
        "version": version,
        "variant": variant,
        "prediction": prediction,
        "probabilities": probabilities,
        "latency_ms": latency_ms,
        "inputs": inputs,
    }
    try:
        # Text keys only, first: allowing others makes orjson two to three times slower.
        return orjson.dumps(line, default=_json_default, option=_LINE_OPTIONS)
    except TypeError:
        pass
    try:
        return orjson.dumps(
            line, default=_json_default, option=_LINE_OPTIONS | orjson.OPT_NON_STR_KEYS
        )
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise InvalidRequest(
            f"prediction {prediction_id} cannot be logged: {exc}", field="inputs"
        ) from exc


def _encode(record: PredictionRecord) -> bytes:
    return _line(
        record.prediction_id,
        record.timestamp,
        record.model,
        record.version,
        record.variant,
        record.prediction,
        record.probabilities,
        record.latency_ms,
        record.inputs,
    )


def prediction_lines(
    *,
    model: str,
    version: int,
    ids: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    values: Sequence[Any],
    probabilities: Sequence[Mapping[str, float]] | None,
    latency_ms: float,
    timestamp: datetime,
    variant: str = "primary",
) -> list[bytes]:
    """Spool lines of one request's predictions, for ``PredictionLog.append_lines``.

    The server's path: unlike ``PredictionRecord`` nothing is checked, because the server
    made every field itself (ids, a registered model and version) or parsed it from JSON.
    """
    return [
        _line(
            ids[i],
            timestamp,
            model,
            version,
            variant,
            values[i],
            None if probabilities is None else probabilities[i],
            latency_ms,
            row,
        )
        for i, row in enumerate(rows)
    ]


def _json_text(value: Any) -> str:
    return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS).decode()


def _complete_lines(data: bytes) -> list[bytes]:
    """The lines ended by a newline; anything after the last one was cut off mid-write."""
    return data.split(b"\n")[:-1]


def _normalised(row: Any) -> dict[str, Any] | None:
    """A spooled prediction with the types compaction needs, or None if it has none."""
    if not isinstance(row, dict) or any(key not in row for key in _REQUIRED_KEYS):
        return None
    try:
        normalised = {
            "id": row["id"],
            "ts": str(row["ts"]),
            "model": row["model"],
            "version": int(row["version"]),
            "variant": str(row.get("variant") or "primary"),
            "prediction": row["prediction"],
            "probabilities": row.get("probabilities"),
            "latency_ms": float(row.get("latency_ms") or 0.0),
            "inputs": row["inputs"],
        }
    except (TypeError, ValueError):
        return None
    for key, longest in (("id", _MAX_ID_LENGTH), ("model", _MAX_MODEL_LENGTH)):
        value = normalised[key]
        if not isinstance(value, str) or not 0 < len(value) <= longest:
            return None
    return normalised


def _parse_lines(data: bytes, source: str) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(_complete_lines(data), 1):
        if not line:
            continue
        try:
            row = _normalised(orjson.loads(line))
        except orjson.JSONDecodeError:
            row = None
        if row is None:
            logger.warning("skipping line %d of spool file %s: not a prediction", number, source)
            continue
        rows.append(row)
    return rows


def _line_ids(data: bytes) -> set[str]:
    ids = set()
    for line in _complete_lines(data):
        # Lines start with {"id":"...", so the id is read without parsing the line,
        # unless it holds an escaped character (then the fast slice contains a backslash).
        end = line.find(b'"', 7)
        candidate = line[7:end]
        if line.startswith(b'{"id":"') and end > 0 and b"\\" not in candidate:
            ids.add(candidate.decode())
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            ids.add(row["id"])
    return ids


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in _DTYPES.items()})


def _frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.Series(columns[name], dtype=dtype) for name, dtype in _DTYPES.items()}
    )


def _rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Parsed spool lines as a frame; lines whose time cannot be read are dropped."""
    if not rows:
        return _empty_frame()
    timestamps = pd.to_datetime(
        [row["ts"] for row in rows], utc=True, format="ISO8601", errors="coerce"
    )
    frame = _frame(
        {
            "prediction_id": [row["id"] for row in rows],
            "timestamp": timestamps,
            "model": [row["model"] for row in rows],
            "version": [row["version"] for row in rows],
            "variant": [row["variant"] for row in rows],
            "prediction": [row["prediction"] for row in rows],
            "probabilities": [row["probabilities"] for row in rows],
            "latency_ms": [row["latency_ms"] for row in rows],
            "inputs": [row["inputs"] for row in rows],
        }
    )
    unreadable = frame["timestamp"].isna()
    if unreadable.any():
        logger.warning("skipping %d spooled predictions without a valid time", unreadable.sum())
        frame = frame[~unreadable]
    return frame


def _segment_table(frame: pd.DataFrame) -> pa.Table:
    frame = frame.sort_values("timestamp", kind="stable")
    probabilities = [
        None if value is None else _json_text(value) for value in frame["probabilities"]
    ]
    return pa.table(
        {
            "prediction_id": pa.array(frame["prediction_id"], pa.string()),
            "timestamp": pa.array(frame["timestamp"], pa.timestamp("us", tz="UTC")),
            "model": pa.array(frame["model"], pa.string()),
            "version": pa.array(frame["version"], pa.int64()),
            "variant": pa.array(frame["variant"], pa.string()),
            "prediction": pa.array([_json_text(v) for v in frame["prediction"]], pa.string()),
            "probabilities": pa.array(probabilities, pa.string()),
            "latency_ms": pa.array(frame["latency_ms"], pa.float64()),
            "inputs": pa.array([_json_text(v) for v in frame["inputs"]], pa.string()),
        },
        schema=_SCHEMA,
    )


def _table_frame(table: pa.Table) -> pd.DataFrame:
    def decoded(name: str) -> list[Any]:
        return [None if text is None else orjson.loads(text) for text in table[name].to_pylist()]

    return _frame(
        {
            "prediction_id": table["prediction_id"].to_pandas(),
            "timestamp": table["timestamp"].to_pandas(),
            "model": table["model"].to_pandas(),
            "version": table["version"].to_pandas(),
            "variant": table["variant"].to_pandas(),
            "prediction": decoded("prediction"),
            "probabilities": decoded("probabilities"),
            "latency_ms": table["latency_ms"].to_pandas(),
            "inputs": decoded("inputs"),
        }
    )


def _window(frame: pd.DataFrame, since: datetime | None, until: datetime | None) -> pd.DataFrame:
    if since is not None:
        frame = frame[frame["timestamp"] >= since]
    if until is not None:
        frame = frame[frame["timestamp"] < until]
    return frame


def _check_aware(value: datetime | None, name: str) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"'{name}' is a naive datetime; give one with a time zone (UTC)")


def _checked_label(prediction_id: str, label: Any) -> Any:
    try:
        # A round trip turns numpy scalars into numbers and NaN into null.
        value = orjson.loads(orjson.dumps(label, default=_json_default, option=_JSON_OPTIONS))
    except TypeError as exc:
        raise InvalidRequest(
            f"the label of prediction {prediction_id} cannot be stored: {exc}", field="label"
        ) from exc
    if value is None:
        raise InvalidRequest(
            f"the label of prediction {prediction_id} is missing (null or NaN)", field="label"
        )
    return value


@dataclass
class _SpoolFile:
    """The file this process appends to, locked for as long as it is open."""

    fd: int
    path: Path
    opened: float
    records: int = 0


@dataclass
class _Claim:
    """A closed spool file locked by a compactor."""

    fd: int
    path: Path
    data: bytes


@dataclass
class _ScannedFile:
    inode: int
    offset: int  # bytes read so far, up to and including the last newline
    ids: set[str]


class _SpoolIds:
    """The prediction ids in the spool files, read incrementally.

    Spool files only grow until they are deleted, so each ``find`` reads just the bytes
    appended since the last one: a feedback request costs microseconds, not a re-read
    of every file.
    """

    def __init__(self) -> None:
        self._files: dict[str, _ScannedFile] = {}
        self._lock = threading.Lock()

    def contains(self, entries: Iterable[os.DirEntry[str]], wanted: set[str]) -> set[str]:
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
                scanned.ids |= _line_ids(data[:complete])
                scanned.offset += complete
        finally:
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


class PredictionLog:
    """The prediction log of one project: spool, compaction, reading and feedback.

    >>> log = PredictionLog.for_project(project)  # doctest: +SKIP
    >>> log.append([record])  # doctest: +SKIP
    >>> log.read(model="ames", limit=100)  # doctest: +SKIP
    """

    def __init__(
        self,
        records: PredictionRepository,
        artifacts: ArtifactStore,
        spool: Path,
        *,
        rotate_records: int = 10_000,
        rotate_seconds: float = 60.0,
        segment_rows: int = 200_000,
    ) -> None:
        self.records = records
        self.artifacts = artifacts
        self.spool = spool
        self.rotate_records = rotate_records
        self.rotate_seconds = rotate_seconds
        self.segment_rows = segment_rows
        self._lock = threading.Lock()
        self._file: _SpoolFile | None = None
        self._spool_ids = _SpoolIds()

    @classmethod
    def for_project(cls, project: Project, **options: Any) -> PredictionLog:
        """The log of ``project``, spooling under ``.shipyard/spool/``."""
        return cls(project.store.predictions, project.artifacts, spool_folder(project), **options)

    # -- writing --------------------------------------------------------------------

    def append(self, records: Iterable[PredictionRecord]) -> None:
        """Write predictions so that they survive this process being killed.

        All records are encoded before anything is written, and written with one
        ``os.write``: a record that cannot be encoded raises ``InvalidRequest`` and none
        of them is logged.
        """
        self.append_lines([_encode(record) for record in records])

    def append_lines(self, lines: Sequence[bytes]) -> None:
        """Write lines made by ``prediction_lines`` (or ``append``), with one ``os.write``."""
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

    def _open(self) -> _SpoolFile:
        name = f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        creating = self.spool / (name + _CREATING_SUFFIX)
        path = self.spool / (name + SPOOL_SUFFIX)
        try:
            self.spool.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644
            )
        except OSError as exc:
            raise ServingError(
                f"cannot create a prediction log spool file in {self.spool}: {exc}"
            ) from exc
        try:
            # Locked before it gets the name compactors look for, so that none of them
            # mistakes a new, empty file for an abandoned one.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(creating, path)
        except OSError as exc:
            os.close(fd)
            raise ServingError(f"cannot prepare the spool file {path}: {exc}") from exc
        _OPEN_LOGS.add(self)
        self._file = _SpoolFile(fd=fd, path=path, opened=time.monotonic())
        return self._file

    def _close(self) -> None:
        if self._file is not None:
            os.close(self._file.fd)  # releases the lock: the file is now compactable
            self._file = None

    def rotate(self, *, older_than: float = 0.0) -> bool:
        """Close the current spool file if it holds records written ``older_than`` s ago."""
        with self._lock:
            spool = self._file
            if spool is None or spool.records == 0:
                return False
            if time.monotonic() - spool.opened < older_than:
                return False
            self._close()
            return True

    def _forget_after_fork(self) -> None:
        # The child shares the parent's open file and lock; it must spool to its own.
        if self._file is not None:
            os.close(self._file.fd)
            self._file = None
        self._lock = threading.Lock()
        self._spool_ids = _SpoolIds()

    # -- compaction -----------------------------------------------------------------

    def compact(self) -> CompactionResult:
        """Move every closed spool file into Parquet segments; return what was moved."""
        files = predictions = 0
        segments: list[SegmentRecord] = []
        seen: set[str] = set()
        while batch := self._claim(seen):
            try:
                found = self._compact_batch(batch)
            except (OSError, pa.ArrowException) as exc:
                raise ServingError(
                    f"cannot compact the prediction log spool in {self.spool}: {exc}; "
                    "the spool files are kept and compacted on the next attempt"
                ) from exc
            finally:
                for claim in batch:
                    os.close(claim.fd)
            files += len(batch)
            predictions += sum(segment.rows for segment in found)
            segments.extend(found)
        return CompactionResult(files=files, predictions=predictions, segments=tuple(segments))

    def _spool_entries(self) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(self.spool) as entries:
                return [entry for entry in entries if entry.is_file()]
        except FileNotFoundError:
            return []

    def _claim(self, seen: set[str]) -> list[_Claim]:
        """Lock closed spool files, oldest first, up to about ``segment_rows`` lines."""
        batch: list[_Claim] = []
        lines = 0
        entries = []
        for entry in self._spool_entries():
            try:
                modified = entry.stat().st_mtime
            except FileNotFoundError:
                continue
            if entry.name.endswith(SPOOL_SUFFIX) and entry.name not in seen:
                entries.append((modified, entry.name))
            elif entry.name.endswith(_CREATING_SUFFIX):
                self._remove_stale(Path(entry.path), modified)
        for _modified, name in sorted(entries):
            seen.add(name)
            path = self.spool / name
            fd = _try_lock(path)
            if fd is None:
                continue
            try:
                with open(fd, "rb", closefd=False) as handle:
                    data = handle.read()
            except OSError as exc:
                for held in (fd, *(claim.fd for claim in batch)):
                    os.close(held)
                raise ServingError(f"cannot read the spool file {path}: {exc}") from exc
            batch.append(_Claim(fd=fd, path=path, data=data))
            lines += data.count(b"\n")
            if lines >= self.segment_rows:
                break
        return batch

    @staticmethod
    def _remove_stale(path: Path, modified: float) -> None:
        # A writer that died between creating and renaming its file; it holds nothing.
        if time.time() - modified < _STALE_CREATING_SECONDS:
            return
        fd = _try_lock(path)
        if fd is not None:
            path.unlink(missing_ok=True)
            os.close(fd)

    def _compact_batch(self, batch: list[_Claim]) -> list[SegmentRecord]:
        done = self.records.compacted_sources(claim.path.name for claim in batch)
        pending = [claim for claim in batch if claim.path.name not in done]
        rows = [row for claim in pending for row in _parse_lines(claim.data, claim.path.name)]
        segments: list[SegmentRecord] = []
        if rows:
            frame = _rows_frame(rows)
            with tempfile.TemporaryDirectory(prefix="shipyard-segment-") as folder:
                new = [
                    self._store_segment(model, part, Path(folder) / f"{index}.parquet")
                    for index, (model, part) in enumerate(frame.groupby("model", sort=True))
                ]
            segments = self.records.register_segments(
                new, sources=[claim.path.name for claim in pending]
            )
        # Only now, with the segments committed, may the spool files go.
        for claim in batch:
            claim.path.unlink(missing_ok=True)
        return segments

    def _store_segment(self, model: Any, frame: pd.DataFrame, path: Path) -> NewSegment:
        pq.write_table(_segment_table(frame), path, compression="zstd")
        blob = self.artifacts.put(path)
        return NewSegment(
            artifact=StoredOutput(
                type_name="PredictionSegment",
                digest=blob.digest,
                kind=blob.kind,
                size=blob.size,
                uri=blob.uri,
            ),
            model=str(model),
            rows=len(frame),
            min_time=frame["timestamp"].min().to_pydatetime(),
            max_time=frame["timestamp"].max().to_pydatetime(),
            prediction_ids=frozenset(frame["prediction_id"]),
        )

    def close(self) -> None:
        """Close this process's spool file, which makes it compactable.

        Appending afterwards opens a new file.
        """
        with self._lock:
            self._close()

    # -- reading --------------------------------------------------------------------

    def _spool_data(self) -> list[tuple[str, bytes]]:
        found = []
        for entry in self._spool_entries():
            if not entry.name.endswith(SPOOL_SUFFIX):
                continue
            try:
                found.append((entry.name, Path(entry.path).read_bytes()))
            except FileNotFoundError:
                continue  # compacted meanwhile: the segments hold it now
        return found

    def read(
        self,
        *,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Predictions with ``since <= timestamp < until``, newest first.

        Reads the spool files (running servers' too) and the segments that can hold
        such predictions.  ``inputs`` and ``probabilities`` are dicts, ``prediction`` the
        value the model returned; see ``inputs_frame`` for inputs as columns.
        """
        _check_aware(since, "since")
        _check_aware(until, "until")
        rows = [
            row
            for name, data in self._spool_data()
            for row in _parse_lines(data, name)
            if model is None or row["model"] == model
        ]
        frames = [_window(_rows_frame(rows), since, until)]
        for segment in self.records.segments(model=model, since=since, until=until):
            if limit is not None and _newest_cutoff(frames, limit) > segment.max_time:
                break  # every later segment is older than the newest `limit` found
            frames.append(_window(self._segment_frame(segment, since, until), since, until))
        frames = [frame for frame in frames if len(frame)]
        if not frames:
            return _empty_frame()
        result = pd.concat(frames, ignore_index=True)
        result = result.sort_values("timestamp", ascending=False, kind="stable")
        result = result.drop_duplicates("prediction_id")
        if limit is not None:
            result = result.head(limit)
        return result.reset_index(drop=True)

    def _segment_frame(
        self, segment: SegmentRecord, since: datetime | None, until: datetime | None
    ) -> pd.DataFrame:
        path = self.artifacts.materialize(segment.digest, "file")
        filters = []
        if since is not None:
            filters.append(("timestamp", ">=", since))
        if until is not None:
            filters.append(("timestamp", "<", until))
        table = pq.read_table(path, filters=filters or None, schema=_SCHEMA)
        return _table_frame(table)

    def find(self, prediction_ids: Iterable[str]) -> set[str]:
        """The ids among ``prediction_ids`` that are in the log (spooled or compacted)."""
        wanted = set(prediction_ids)
        spooled = [entry for entry in self._spool_entries() if entry.name.endswith(SPOOL_SUFFIX)]
        found = self._spool_ids.contains(spooled, wanted)
        rest = wanted - found
        if rest:
            found |= self.records.known_ids(rest)
        return found

    # -- feedback -------------------------------------------------------------------

    def record_feedback(self, prediction_id: str, label: Any) -> FeedbackRecord:
        """Store the true label of a logged prediction; a later label replaces this one.

        Raises ``RecordNotFound`` when no prediction has this id.
        """
        return self.record_feedback_batch({prediction_id: label})[0]

    def record_feedback_batch(self, labels: Mapping[str, Any]) -> list[FeedbackRecord]:
        """Store several labels, all or none; unknown ids raise ``RecordNotFound``."""
        checked = {
            prediction_id: _checked_label(prediction_id, label)
            for prediction_id, label in labels.items()
        }
        missing = sorted(set(checked) - self.find(checked))
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            what = "prediction" if len(missing) == 1 else f"{len(missing)} predictions"
            raise RecordNotFound(
                f"{what} {shown} not in the prediction log; feedback must name a "
                "prediction_id returned by the server (nothing was recorded)"
            )
        return self.records.save_feedback(checked)

    def predictions_with_feedback(
        self, *, model: str | None = None, since: datetime | None = None
    ) -> pd.DataFrame:
        """Predictions that have a label, with ``label`` and ``received_at`` columns."""
        predictions = self.read(model=model, since=since)
        # A label always arrives after its prediction, so `since` narrows feedback too.
        labels = self.records.feedback(since=since)
        feedback = pd.DataFrame(
            {
                "prediction_id": pd.Series([f.prediction_id for f in labels], dtype="str"),
                "label": pd.Series([f.label for f in labels], dtype="object"),
                "received_at": pd.Series(
                    [f.received_at for f in labels], dtype="datetime64[us, UTC]"
                ),
            }
        )
        return predictions.merge(feedback, on="prediction_id", how="inner")


def _newest_cutoff(frames: Sequence[pd.DataFrame], limit: int) -> datetime:
    """The ``limit``-th newest time among ``frames``, or the dawn of time if fewer."""
    times = pd.concat([frame["timestamp"] for frame in frames], ignore_index=True)
    if len(times) < limit:
        return datetime.min.replace(tzinfo=UTC)
    cutoff: datetime = times.nlargest(limit).iloc[-1].to_pydatetime()
    return cutoff


def inputs_frame(predictions: pd.DataFrame) -> pd.DataFrame:
    """The ``inputs`` of ``read``'s predictions as one column per input, same index.

    >>> inputs_frame(log.read(model="ames"))["Lot_Area"].mean()  # doctest: +SKIP
    """
    return pd.DataFrame.from_records(list(predictions["inputs"]), index=predictions.index)


_OPEN_LOGS: weakref.WeakSet[PredictionLog] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for log in list(_OPEN_LOGS):
        log._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
