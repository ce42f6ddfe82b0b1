"""Executors run tasks; the runner decides which and when.

``LocalExecutor`` runs steps in a pool of worker processes on this machine.  The interface
is small so that a distributed executor (Dask) can stand in: ``submit`` a picklable
``Task``, get back a future of its ``TaskResult``; ``prepare`` the modules later tasks
import, where an executor can load them ahead.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import ctypes
import importlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Self

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

    def prepare(self, modules: Sequence[str]) -> None:  # noqa: B027 - optional
        """Load ``modules``, which tasks submitted later import (``Task.imports``),
        ahead of them where a worker is idle (optional; the default loads nothing)."""

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


def _import_modules(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(module)


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


class _Lane:
    """One worker process with a queue of its own, and what it has imported."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context(start_method())
        self.pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=prepare_worker,
            initargs=(workers, os.getpid()),
        )
        # Its process starts now, before the caller starts threads of its own (each lane
        # decides between fork and spawn when it starts: a later one spawns).
        self._pid = self.pool.submit(os.getpid)
        self.pending = 0
        self.warming = False  # its only work is loading modules (``prepare``)
        self.modules: set[str] = set()  # loaded by its tasks, or being loaded

    def close(self) -> None:
        if self.warming:  # nobody waits for modules loaded ahead: stop loading them
            with contextlib.suppress(ProcessLookupError, BrokenProcessPool):
                os.kill(self._pid.result(), signal.SIGKILL)
        self.pool.shutdown(wait=True, cancel_futures=True)


class LocalExecutor(Executor):
    """A pool of ``workers`` processes on this machine.

    Each worker has a queue of its own, so that a task goes where its slow imports
    (``Task.imports``) were loaded ahead (``prepare``): while the first steps of a
    pipeline run in one worker, another imports scikit-learn for the Trainer, and the
    Trainer goes there, even if it has to wait for the end of that import.  Other tasks go
    to an idle worker (a new one while there are fewer than ``workers``), else to the
    least busy one.
    """

    local = True

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._lanes: list[_Lane] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        # The first process starts now, before the caller starts threads of its own;
        # the others when there is work for them.
        with self._lock:
            if not self._lanes:
                self._lanes.append(_Lane(self.workers))

    def _idle(self) -> _Lane | None:
        """A worker with nothing to do: an idle one, else a new one while there are
        fewer than ``workers``, else None."""
        for lane in self._lanes:
            if lane.pending == 0:
                return lane
        if len(self._lanes) < self.workers:
            self._lanes.append(_Lane(self.workers))
            return self._lanes[-1]
        return None

    def _choose(self, imports: Sequence[str]) -> _Lane:
        needed = set(imports)
        warm = [lane for lane in self._lanes if needed and needed <= lane.modules]
        # A warm worker that is free, or only loading what the task needs, is worth
        # waiting for; one busy with another task is not.
        ready = [lane for lane in warm if lane.pending == 0 or lane.warming]
        if ready:
            return min(ready, key=lambda lane: lane.pending)
        return self._idle() or min(self._lanes, key=lambda lane: lane.pending)

    def _settled(self, lane: _Lane) -> None:
        with self._lock:
            lane.pending -= 1
            lane.warming = False

    def _queue(self, lane: _Lane, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue ``fn(*args)`` on ``lane``, counted in its ``pending`` already (on a new
        worker if its process died).  Called without the lock: a pool runs the callbacks
        of futures it fails, which take the lock, while it holds a lock of its own that
        submitting takes."""
        try:
            inner = lane.pool.submit(fn, *args)
        except BrokenProcessPool:
            lane.pool.shutdown(wait=False, cancel_futures=True)
            fresh = _Lane(self.workers)
            with self._lock:
                fresh.pending, fresh.warming = 1, fn is _import_modules
                self._lanes = [fresh if other is lane else other for other in self._lanes]
            lane = fresh
            inner = lane.pool.submit(fn, *args)
        inner.add_done_callback(lambda _done: self._settled(lane))
        return inner

    def submit(self, task: Task) -> Future[TaskResult]:
        self.start()
        with self._lock:
            lane = self._choose(task.imports)
            lane.modules.update(task.imports)
            lane.pending += 1
            lane.warming = False
        inner = self._queue(lane, execute_task, task)
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

    def prepare(self, modules: Sequence[str]) -> None:
        """Load ``modules`` in an idle worker, unless one has them; with no worker idle,
        the tasks load them themselves."""
        if not modules:
            return
        self.start()
        with self._lock:
            if any(set(modules) <= lane.modules for lane in self._lanes):
                return
            lane = self._idle()
            if lane is None:
                return
            lane.modules.update(modules)
            lane.pending += 1
            lane.warming = True
        self._queue(lane, _import_modules, tuple(modules))

    def shutdown(self) -> None:
        with self._lock:
            lanes, self._lanes = self._lanes, []
        for lane in lanes:
            lane.close()
