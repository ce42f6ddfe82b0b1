from __future__ import annotations

import subprocess
import sys
import threading

from shipyard.pipeline.executors import start_method


def test_a_process_with_other_threads_spawns_its_workers() -> None:
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        assert start_method() == "spawn"
    finally:
        stop.set()
        helper.join()


def test_a_single_threaded_process_forks_its_workers() -> None:
    code = "from shipyard.pipeline.executors import start_method; print(start_method())"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "fork"
