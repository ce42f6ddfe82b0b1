"""The prediction log's compactor: a low-priority process beside every server.

Compaction parses JSON lines, builds Parquet files and writes to the database: hundreds
of milliseconds of CPU that, run in a thread of the server, held the GIL while requests
waited (it multiplied the p99 latency under load several times over).  So a server
starts a ``Compactor`` process instead, at a lower CPU priority.  It compacts at once (the
spool files of servers that died), then every ``interval`` seconds.  Its standard input
is a pipe from the server: when the pipe closes — the server stopped it after closing its
own spool file, or the server died, even by SIGKILL — it compacts a last time and ends.
Several compactors over one spool folder are safe: each claims files by lock.

    python -m shipyard.serving.compactor PROJECT_ROOT --interval 30
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["Compactor"]

logger = logging.getLogger(__name__)

_NICENESS = 10


class Compactor:
    """A running compactor process; ``stop`` makes it compact what is left and end."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @classmethod
    def start(cls, root: Path, *, interval: float = 30.0) -> Compactor:
        """Start compacting the prediction log of the project in ``root``."""
        command = [sys.executable, "-m", __name__, str(root), "--interval", str(interval)]
        return cls(subprocess.Popen(command, stdin=subprocess.PIPE))

    def stop(self, *, timeout: float = 120.0) -> None:
        """Ask for a last compaction and wait for the process to end (kill it after
        ``timeout`` seconds: its spool files stay for the next compactor)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.error("the prediction log compactor did not stop in %.0f s; killed", timeout)
            self.process.kill()
            self.process.wait()


def _wait_for_end_of_input(stopping: threading.Event) -> None:
    while sys.stdin.buffer.read(4096):
        pass
    stopping.set()


def run(root: Path, *, interval: float) -> None:
    """Compact ``root``'s prediction log every ``interval`` s until standard input ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    os.nice(_NICENESS)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    threading.Thread(target=_wait_for_end_of_input, args=(stopping,), daemon=True).start()

    from shipyard.project import Project

    with Project.open(root) as project:
        log = project.prediction_log()
        while True:
            last = stopping.is_set()  # the server has closed its spool file: a last pass
            try:
                log.compact()
            except Exception:
                # The spool files stay where they are and the next pass tries again: the
                # compactor must outlive a database that is down for a while.
                logger.exception("compacting the prediction log failed; retrying later")
            if last:
                return
            stopping.wait(interval)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shipyard.serving.compactor", description=__doc__
    )
    parser.add_argument("root", type=Path, help="the project's folder")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between passes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run(args.root, interval=args.interval)


if __name__ == "__main__":
    main()
