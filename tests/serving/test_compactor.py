"""The compactor process beside a server: it compacts, compacts last on stop, dies with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from shipyard import Project
from shipyard.serving.compactor import Compactor
from tests.helpers import process_ended, wait_for
from tests.prediction_log.helpers import record, segment_rows, spool_files


def test_compactor_compacts_in_the_background_and_a_last_time_on_stop(project: Project) -> None:
    log = project.prediction_log()
    log.append([record(1), record(2)])
    log.close()
    compactor = Compactor.start(project.root, interval=0.2)
    try:
        assert wait_for(lambda: not spool_files(log))
        assert segment_rows(log) == 2
        log.append([record(3)])  # the server's file, open: left alone
        time.sleep(0.6)
        assert len(spool_files(log)) == 1
        log.close()  # what a stopping server does before it stops its compactor
    finally:
        compactor.stop()
    assert compactor.process.returncode == 0
    assert spool_files(log) == []
    assert segment_rows(log) == 3
    assert sorted(log.read()["prediction_id"]) == ["p00001", "p00002", "p00003"]


SERVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from shipyard import Project
    from shipyard.prediction_log import PredictionLog, PredictionRecord
    from shipyard.serving.compactor import Compactor

    root = Path(sys.argv[1])
    compactor = Compactor.start(root, interval=3600)
    with Project.open(root) as project:
        project.prediction_log().append(
            [PredictionRecord(prediction_id="last", model="m", version=1, inputs={"x": 1},
                              prediction=1.0, latency_ms=0.1)]
        )
        print(compactor.process.pid, flush=True)
        time.sleep(600)
    """
)


def test_a_server_killed_by_sigkill_leaves_its_compactor_to_compact_and_end(
    project: Project,
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", SERVER, str(project.root)], stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdout is not None
        compactor = int(server.stdout.readline())
        assert not process_ended(compactor)
        os.kill(server.pid, signal.SIGKILL)
    assert wait_for(lambda: process_ended(compactor))
    log = project.prediction_log()
    assert spool_files(log) == []
    assert list(log.read()["prediction_id"]) == ["last"]
