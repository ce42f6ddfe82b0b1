"""The spool: durable under SIGKILL, one file per writer, live writers' files left alone."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

from shipyard import Project
from shipyard.prediction_log import PredictionLog
from tests.prediction_log.helpers import record, segment_rows, spool_files

CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from shipyard import Project
    from shipyard.prediction_log import PredictionLog, PredictionRecord

    root, prefix, batches, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    log = PredictionLog.for_project(Project.open(root), rotate_records=37)

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
    other = PredictionLog.for_project(project)
    other.append([record(1)])
    assert log.compact().files == 0
    assert list(log.read()["prediction_id"]) == ["p00001"]
    other.close()
    log.compact()
    assert spool_files(log) == []
    assert segment_rows(log) == 1
