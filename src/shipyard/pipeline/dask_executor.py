"""``DaskExecutor``: steps run as tasks of a Dask distributed cluster.

``pipeline: {executor: dask}`` starts a ``distributed.LocalCluster`` of ``workers``
processes (one thread each) for the run; ``pipeline: {executor: dask, scheduler:
tcp://host:8786}`` connects to a running cluster instead.  The runner is unchanged: it
fingerprints, caches, retries and records lineage as with the local pool, and a step's
worker reads its inputs from and writes its outputs to the artifact store, so a remote
cluster needs a shared artifact store (``s3://...``) and the components importable on
its workers.

A worker that dies mid-step (killed, out of memory) is replaced by Dask and the step runs
again on a live worker, up to Dask's ``distributed.scheduler.allowed-failures`` times;
then the step fails as with a dead local worker, and the runner's own retries apply.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from typing import Any

from shipyard.errors import ConfigError
from shipyard.pipeline.executors import Executor, share_cores
from shipyard.pipeline.task import Task, TaskResult, execute_task

__all__ = ["DaskExecutor"]


def _execute(task: Task, processes: int) -> TaskResult:
    """A step on a Dask worker, with its share of the machine's cores."""
    share_cores(processes)
    return execute_task(task)


class DaskExecutor(Executor):
    """Runs steps on a Dask cluster: a local one of ``workers`` processes, started and
    stopped with the run, or the one at ``scheduler``."""

    def __init__(
        self, workers: int = 2, *, scheduler: str | None = None, connect_seconds: float = 30
    ) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self.connect_seconds = connect_seconds
        self._client: Any = None
        self._cluster: Any = None

    def start(self) -> None:
        if self._client is not None:
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ConfigError(
                "pipeline.executor: dask needs Dask distributed; "
                "install it with: pip install 'shipyard[dask]'"
            ) from exc
        if self.scheduler is None:
            self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=True,
            )
            self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
        else:
            try:
                self._client = Client(self.scheduler, timeout=self.connect_seconds)  # type: ignore[no-untyped-call]
            except OSError as exc:
                raise ConfigError(
                    f"pipeline.scheduler: cannot reach the Dask scheduler at "
                    f"{self.scheduler}: {exc}"
                ) from exc
            self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def submit(self, task: Task) -> Future[TaskResult]:
        self.start()
        # A local cluster's workers share this machine; a remote worker's machine is its
        # own (its OMP_NUM_THREADS, when set, is kept).
        processes = self.workers if self._cluster is not None else 1
        inner = self._client.submit(
            _execute, task, processes, key=f"{task.step}-{uuid.uuid4().hex}", pure=False
        )
        outer: Future[TaskResult] = Future()

        def relay(done: Any) -> None:
            try:
                outer.set_result(done.result())
            except Exception as exc:  # the cluster's reason: a worker died too often...
                outer.set_result(
                    TaskResult(ok=False, error=f"the Dask task failed ({exc})", traceback="")
                )

        inner.add_done_callback(relay)
        return outer

    def shutdown(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
