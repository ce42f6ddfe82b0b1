"""Executors run tasks; the runner decides which and when.

``LocalExecutor`` runs steps in a pool of worker processes on this machine.  The interface
is small so that a distributed executor (Dask) can stand in: ``submit`` a picklable
``Task``, get back a future of its ``TaskResult``.
"""

from __future__ import annotations

import abc
import atexit
import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Self

import threadpoolctl

from shipyard.lifetime import freeze_survivors
from shipyard.pipeline.task import Task, TaskResult, execute_task

_PR_SET_PDEATHSIG = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class Executor(abc.ABC):
    """Runs tasks somewhere and returns futures of their results.

    ``local``: the tasks run on this machine (a step's standby process can serve them).
    """

    workers: int
    local: bool = False

    def start(self) -> None:  # noqa: B027 - starting is optional for an executor
        """Prepare workers before the first task (optional)."""

    @abc.abstractmethod
    def submit(self, task: Task) -> Future[TaskResult]:
        """Start ``task``; the future resolves to its result (never to its exception)."""

    def shutdown(self) -> None:  # noqa: B027 - nothing to release by default
        """Release workers."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def share_cores(processes: int) -> None:
    """Let this process's native thread pools (OpenMP, BLAS) use its share of the cores
    when ``processes`` such processes run side by side — unless the user chose a number.

    Each library starts one thread per core in every process.  Two workers each training
    a gradient-boosted model on two cores then run four threads that spin while they wait
    for each other, and a fit that takes a second alone takes a minute.
    """
    if any(name in os.environ for name in THREAD_VARIABLES):
        return
    threads = max(1, cores() // processes)
    for name in THREAD_VARIABLES:  # read by the libraries this process loads from now on
        os.environ[name] = str(threads)
    threadpoolctl.threadpool_limits(threads)  # and the ones it already holds (forked)


def prepare_worker(processes: int, parent: int | None = None) -> None:
    """Set up a worker process, one of ``processes`` side by side: it dies with its
    ``parent`` process (Linux), leaves Ctrl-C to the parent, and takes its share of the
    cores.  Steps that start processes of their own (the Tuner's trials) use it too."""
    # A worker must not outlive a runner killed with SIGKILL (Linux only).
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if parent is not None and os.getppid() != parent:
            # The parent died while this process started, before the signal was armed.
            os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    share_cores(processes)
    # A spawned worker ends with the interpreter's shutdown, whose garbage collections
    # walk every object of the libraries it imported: 1.5 s with scikit-learn loaded, and
    # the pool's shutdown waits for it.
    atexit.register(freeze_survivors)


def _noop() -> None:
    return None


def start_method() -> str:
    """``fork`` when it is safe, else ``spawn``.

    Forking copies the parent's memory but only the calling thread: a lock held by another
    thread at that moment (an OpenMP pool left by scikit-learn, a logging handler, a test
    runner's I/O thread) stays locked forever in the child.  So a process with a single
    thread forks — fast, and components defined anywhere work — and any other spawns.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return "spawn"
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return "spawn"
    return "fork" if threads == 1 else "spawn"


class LocalExecutor(Executor):
    """A pool of ``workers`` processes on this machine."""

    local = True

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context(start_method())
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=prepare_worker,
            initargs=(self.workers, os.getpid()),
        )

    def start(self) -> None:
        if self._pool is None:
            self._pool = self._new_pool()
            # Start the processes now, before the caller starts threads of its own.
            self._pool.submit(_noop).result()

    def submit(self, task: Task) -> Future[TaskResult]:
        if self._pool is None:
            self.start()
        assert self._pool is not None
        try:
            inner = self._pool.submit(execute_task, task)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            inner = self._pool.submit(execute_task, task)
        outer: Future[TaskResult] = Future()

        def relay(done: Future[TaskResult]) -> None:
            exc = done.exception()
            if exc is None:
                outer.set_result(done.result())
            else:
                outer.set_result(
                    TaskResult(ok=False, error=f"the worker process died ({exc})", traceback="")
                )

        inner.add_done_callback(relay)
        return outer

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
