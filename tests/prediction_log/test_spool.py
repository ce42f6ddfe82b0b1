"""The spool: durable under SIGKILL, one file per writer, live writers' files left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from shipyard import Project
from shipyard.prediction_log import PredictionLog
from shipyard.prediction_log.lines import encode
from shipyard.prediction_log.spool import SpoolWriter, claim_closed
from tests.prediction_log.helpers import record, segment_rows, spool_files


def writer(folder: Path, *, rotate_records: int = 1000) -> SpoolWriter:
    return SpoolWriter(folder, rotate_records=rotate_records, rotate_seconds=3600)


def claimed(folder: Path, *, lines: int = 1000) -> list[str]:
    """Names of the files a compactor could claim now (released again at once)."""
    claims = claim_closed(folder, skip=set(), lines=lines)
    for claim in claims:
        os.close(claim.fd)
    return [claim.path.name for claim in claims]


def test_a_writer_holds_its_file_until_it_rotates_or_closes(tmp_path: Path) -> None:
    spool = writer(tmp_path / "spool", rotate_records=3)
    spool.append([encode(record(1)), encode(record(2))])
    (path,) = (tmp_path / "spool").iterdir()
    assert path.read_bytes() == encode(record(1)) + encode(record(2))
    assert claimed(tmp_path / "spool") == []  # held: not closed yet

    spool.append([encode(record(3))])  # the third record rotates the file
    assert claimed(tmp_path / "spool") == [path.name]
    spool.append([encode(record(4))])
    assert len(list((tmp_path / "spool").iterdir())) == 2
    assert not spool.rotate(older_than=3600)  # opened just now
    assert spool.rotate()
    assert not spool.rotate()  # nothing written since
    assert len(claimed(tmp_path / "spool")) == 2
    spool.append([])
    spool.close()
    assert len(list((tmp_path / "spool").iterdir())) == 2  # nothing opened for nothing


def test_claims_take_the_oldest_files_up_to_about_a_number_of_lines(tmp_path: Path) -> None:
    for n, name in enumerate(["c", "a", "b"]):
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(encode(record(n)) * 2)
        os.utime(path, (1_000_000 + n, 1_000_000 + n))
    skip: set[str] = set()
    first = claim_closed(tmp_path, skip=skip, lines=3)
    assert [claim.path.name for claim in first] == ["c.jsonl", "a.jsonl"]
    assert first[0].data == encode(record(0)) * 2
    rest = claim_closed(tmp_path, skip=skip, lines=3)  # the first claims still hold theirs
    assert [claim.path.name for claim in rest] == ["b.jsonl"]
    for claim in first + rest:
        os.close(claim.fd)


def test_a_file_abandoned_before_it_was_named_is_removed_after_an_hour(tmp_path: Path) -> None:
    old, new = tmp_path / "old.creating", tmp_path / "new.creating"
    old.touch()
    new.touch()
    os.utime(old, (time.time() - 3700, time.time() - 3700))
    assert claimed(tmp_path) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["new.creating"]


def test_a_forked_child_writes_a_file_of_its_own(tmp_path: Path) -> None:
    spool = writer(tmp_path)
    spool.append([encode(record(1))])
    with warnings.catch_warnings():
        # Python warns of fork() when threads of other tests linger in this process; the
        # child only appends and exits, holding no lock they could hold.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        try:
            spool.append([encode(record(2))])
        finally:
            os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    spool.append([encode(record(3))])
    contents = sorted(path.read_bytes() for path in tmp_path.iterdir())
    assert contents == sorted([encode(record(1)) + encode(record(3)), encode(record(2))])
    spool.close()


CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from shipyard import Project
    from shipyard.prediction_log import PredictionRecord

    root, prefix, batches, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    log = Project.open(root).prediction_log(rotate_records=37)

    def stream():
        for n in range(batches):
            records = [
                PredictionRecord(
                    prediction_id=f"{prefix}-{n}-{k}", model="m", version=1,
                    inputs={"n": n, "k": k}, prediction=float(n), latency_ms=0.1,
                )
                for k in range(3)
            ]
            log.append(records)
            # Printed only once append returned: as a server answers only then.
            print("\\n".join(r.prediction_id for r in records), flush=True)

    if mode == "kill":
        threading.Thread(target=stream, daemon=True).start()
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    else:
        stream()
    """
)


def child(project: Project, prefix: str, batches: int, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project.root), prefix, str(batches), mode],
        stdout=subprocess.PIPE,
        text=True,
    )


def printed_ids(output: str) -> list[str]:
    return output.split("\n")[:-1]  # a last line without a newline was cut off


def test_every_answered_prediction_survives_sigkill(project: Project, log: PredictionLog) -> None:
    process = child(project, "killed", 10**7, "kill")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    answered = printed_ids(output)
    assert len(answered) > 30

    assert log.find(answered) == set(answered)  # readable before compaction, too
    result = log.compact()  # the dead process's files, rotated or not, are unlocked
    assert result.files >= 2
    assert spool_files(log) == []
    stored = set(log.read()["prediction_id"])
    assert set(answered) <= stored
    assert log.find(answered) == set(answered)


def test_processes_appending_at_once_each_keep_every_record(
    project: Project, log: PredictionLog
) -> None:
    writers = [child(project, prefix, 400, "run") for prefix in ("a", "b")]
    while any(writer.poll() is None for writer in writers):
        log.compact()  # compaction beside live writers takes only closed files
        time.sleep(0.05)
    answered = [
        identifier
        for writer in writers
        for identifier in printed_ids(writer.communicate(timeout=60)[0])
    ]
    assert all(writer.returncode == 0 for writer in writers)
    assert len(answered) == 2 * 400 * 3

    log.compact()
    assert spool_files(log) == []
    frame = log.read()
    assert sorted(frame["prediction_id"]) == sorted(answered)
    assert segment_rows(log) == len(answered)


def test_files_of_live_writers_in_other_processes_are_left_alone(
    project: Project, log: PredictionLog
) -> None:
    other = project.prediction_log()
    other.append([record(1)])
    assert log.compact().files == 0
    assert list(log.read()["prediction_id"]) == ["p00001"]
    other.close()
    log.compact()
    assert spool_files(log) == []
    assert segment_rows(log) == 1


def _closed_files(folder: Path, contents: list[bytes]) -> list[str]:
    """Closed spool files ``f00.jsonl``... holding ``contents``, oldest first."""
    folder.mkdir(exist_ok=True)
    names = []
    for n, data in enumerate(contents):
        path = folder / f"f{n:02d}.jsonl"
        path.write_bytes(data)
        os.utime(path, (1_000_000 + n, 1_000_000 + n))
        names.append(path.name)
    return names


def _batches(folder: Path, *, lines: int, max_bytes: int) -> list[list[str]]:
    """The batches one compaction pass would claim, as file names."""
    skip: set[str] = set()
    batches = []
    while claims := claim_closed(folder, skip=skip, lines=lines, max_bytes=max_bytes):
        batches.append([claim.path.name for claim in claims])
        assert len(claims) == 1 or sum(len(claim.data) for claim in claims) <= max_bytes
        for claim in claims:
            os.close(claim.fd)
    return batches


def test_a_claim_of_many_small_lines_stops_at_the_byte_bound(tmp_path: Path) -> None:
    line = encode(record(1))
    names = _closed_files(tmp_path, [line * 3 for _ in range(20)])
    file_bytes = len(line) * 3
    # 60 lines are far below the line bound; the byte bound cuts every 5 files.
    batches = _batches(tmp_path, lines=10_000, max_bytes=5 * file_bytes + file_bytes // 2)
    assert batches == [names[start : start + 5] for start in range(0, 20, 5)]
    # Without it, the line bound alone takes them all at once.
    assert _batches(tmp_path, lines=10_000, max_bytes=2**30) == [names]


def test_a_claim_takes_one_huge_file_at_a_time(tmp_path: Path) -> None:
    wide = {f"column_{n}": "x" * 1000 for n in range(200)}  # ~200 kB a line
    huge = [encode(record(n, inputs=wide)) * 2 for n in range(3)]
    names = _closed_files(tmp_path, huge)
    assert all(len(data) > 300_000 for data in huge)
    # A few lines each, far below the line bound; each file alone is past the byte bound.
    assert _batches(tmp_path, lines=10_000, max_bytes=100_000) == [[name] for name in names]
    assert _batches(tmp_path, lines=10_000, max_bytes=2**30) == [names]


def test_a_claim_needs_positive_bounds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes >= 1"):
        claim_closed(tmp_path, skip=set(), lines=10, max_bytes=0)
    with pytest.raises(ValueError, match="lines >= 1"):
        claim_closed(tmp_path, skip=set(), lines=0)


def test_compaction_writes_a_segment_per_byte_bounded_batch(project: Project) -> None:
    wide = {f"column_{n}": "y" * 1000 for n in range(100)}  # ~100 kB a line
    log = project.prediction_log(rotate_records=2, rotate_seconds=3600, segment_bytes=250_000)
    log.append([record(n, inputs=wide) for n in range(2)])
    log.append([record(n, inputs=wide) for n in range(2, 4)])
    log.append([record(n, inputs=wide) for n in range(4, 6)])
    assert len(spool_files(log)) == 3
    done = log.compact()
    assert (done.files, done.predictions, len(done.segments)) == (3, 6, 3)
    assert sorted(log.read()["prediction_id"]) == [f"p{n:05d}" for n in range(6)]
