"""Where the chunks run: threads (default), local processes, or a dask.distributed cluster.

The library never needs this: every computation runs on dask's active scheduler, so a
``distributed.Client`` created by the user is used as it is. This context manager is what the
CLI's ``--scheduler`` and ``--workers`` options use.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import dask
import dask.local
import dask.multiprocessing
import dask.system
import dask.threaded

from rasterclass.errors import ComputeError, OptionConflictError, SchedulerError, param

logger = logging.getLogger(__name__)


@contextmanager
def compute_on(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    threads_per_worker: int = 1,
    memory_limit: str | float | None = "auto",
) -> Iterator[Any]:
    """Run the enclosed computations on a cluster.

    Parameters
    ----------
    scheduler
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``).
    workers
        Start a local cluster of this many worker processes instead.
    threads_per_worker, memory_limit
        For the local cluster.

    Yields
    ------
    distributed.Client or None
        None when neither is given (dask's default threaded scheduler is used).

    Raises
    ------
    OptionConflictError
        Both ``scheduler`` and ``workers`` given (a remote cluster and a local one: the
        workers of a running scheduler are started with it, not here).
    SchedulerError
        The scheduler cannot be reached.
    """
    if scheduler is not None and workers:
        raise OptionConflictError.both(
            param("workers", workers),
            param("scheduler", scheduler),
            f"compute on a local cluster of {workers} workers or on the scheduler's "
            "workers; leave one out",
        )
    if scheduler is None and not workers:
        yield None
        return
    from distributed import Client, LocalCluster

    with ExitStack() as stack:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise SchedulerError(
                    f"cannot reach the dask scheduler at {scheduler} ({exc}); start one with "
                    f"`dask scheduler` or use {param('workers', 'N')} for a local cluster"
                ) from None
            cluster = None
        else:
            # distributed sets MALLOC_TRIM_THRESHOLD_ in its workers, which turns off glibc's
            # dynamic mmap threshold: every large temporary (a forest's per-tree probabilities
            # on a block) becomes a fresh, page-faulting mmap. Measured on 2 workers, 4 Mpixels,
            # RF 100: 12 % more CPU per block with it, 3-10 % more peak memory per worker
            # without it. Set for as long as the cluster runs: its workers start in the
            # background.
            environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", None) or {})
            environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ": environ}))
            cluster = LocalCluster(
                n_workers=0,
                threads_per_worker=threads_per_worker,
                processes=True,
                memory_limit=memory_limit,
                dashboard_address=None,
            )
            # the workers start together in the background while the run imports its
            # libraries, loads its model and opens its scene; the first use waits for them
            cluster.scale(int(workers or 1))
            client = Client(cluster, set_as_default=False)
            _STARTING[id(client)] = int(workers or 1)
        logger.info("computing on %s", client.scheduler.address)
        try:
            # the client is dask's scheduler inside the block only (a context variable, not
            # distributed's process-wide default client): nothing that computes after the
            # block, in this process, can find it, even if closing it fails
            with client.as_current():
                yield client
        finally:
            _STARTING.pop(id(client), None)
            if cluster is not None:
                _close_quickly(client)
            # the work is done (or failed with its own error, which must not be masked): a
            # cluster that cannot be closed cleanly is reported, not raised
            for closing in (client, cluster):
                if closing is None:
                    continue
                try:
                    closing.close()
                except Exception as exc:
                    logger.warning("could not close the dask %s cleanly: %s", closing, exc)


def _close_quickly(client: Any) -> None:
    """Let the local cluster's worker processes exit as soon as they are told to.

    A worker process that has run the forest holds scikit-learn, pandas, dask... and its
    interpreter's final garbage collections walk all of it once more: seconds on a busy
    machine, long enough for the nanny to warn "Worker process still alive after 4 seconds,
    killing". Frozen heaps are skipped by those collections (what the ``rasterclass``
    command does for its own process, see :func:`rasterclass.cli.main.main`).
    """
    try:
        client.run(gc.freeze)
    except Exception as exc:  # a worker gone or lost (CommClosedError...): nothing to speed up
        logger.debug("could not freeze the workers' heaps: %s", exc)


# ------------------------------------------------------------------------------------------
# Streaming compute: one chunked apply for every scheduler

_LOST_WORKERS = ("KilledWorker", "FutureCancelledError", "CommClosedError")


def _current_scheduler() -> Any | None:
    """``dask.base.get_scheduler()``, without importing dask.distributed to look for a client.

    dask imports it whenever no scheduler is configured (a quarter of a second, and its
    threads and atexit hooks in a threaded run); a client exists only once it is imported.
    """
    if "distributed" in sys.modules or dask.config.get("scheduler", None) is not None:
        return dask.base.get_scheduler()
    return None


def active_client() -> Any | None:
    """The ``distributed.Client`` dask would use now, or None.

    The client of a local cluster that :func:`compute_on` started is returned once its
    workers are up (it waits for them the first time).
    """
    scheduler = _current_scheduler()
    client = getattr(scheduler, "__self__", None)
    if client is not None and type(client).__name__ == "Client":
        return _ready(client)
    return None


#: Local clusters of :func:`compute_on` whose workers may still be starting:
#: ``id(client)`` -> number of workers.
_STARTING: dict[int, int] = {}

#: How long a local cluster's workers may take to start (seconds).
WORKER_START_TIMEOUT = 300


def _ready(client: Any) -> Any:
    workers = _STARTING.pop(id(client), None)
    if workers:
        try:
            client.wait_for_workers(workers, timeout=WORKER_START_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(
                f"the local cluster's {workers} workers did not start within "
                f"{WORKER_START_TIMEOUT} s ({exc}); try fewer {param('workers', 'N')} or check "
                "the memory free"
            ) from None
        logger.info("%d workers up", workers)
    return client


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity and cgroup quota, not the machine's.

    ``os.cpu_count()`` counts every core of the machine, so a run pinned to 4 of 16 cores
    (``taskset``, a container's CPU limit, a batch scheduler's allocation) would start 16
    threads and thrash; dask's ``CPU_COUNT`` honours both limits.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> usable_cores() >= 1
    True
    """
    return max(1, int(dask.system.CPU_COUNT))


def n_threads() -> int:
    """Threads that compute blocks: the cluster's when a distributed Client is active."""
    client = active_client()
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    num = dask.config.get("num_workers", None)
    return max(1, int(num) if num else usable_cores())


def in_flight() -> int:
    """How many blocks the streaming compute holds at once (computing or not yet consumed)."""
    return max(2, 2 * n_threads())


def compute_stream(
    tasks: Sequence[Sequence[Any]], limit: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Compute ``dask.compute(*task)`` for every task and yield the results in task order.

    At most ``limit`` tasks (default: two per thread) are held at a time, computing or
    finished and waiting to be consumed, so memory is that of a few blocks whatever the number
    of tasks, and a new task starts as soon as one is consumed (no barrier after a batch: every
    core stays busy). Yielding in order keeps the consumer deterministic (a GeoTIFF written in
    the same tile order is byte-identical whatever the scheduler).

    Runs on the active scheduler: dask's threads (a pool of per-task synchronous computes), a
    ``distributed.Client`` (``client.compute``; the cluster's threads), the synchronous
    scheduler, ``processes`` (bounded batches on one process pool for the whole stream) or,
    for anything else (a custom ``get``), bounded batches of ``dask.compute``. A cluster that
    loses its workers raises :class:`ComputeError`.
    """
    limit = limit or in_flight()
    client = active_client()
    try:
        if client is not None:
            yield from _stream_distributed(client, tasks, limit)
            return
        scheduler = _current_scheduler() or dask.threaded.get
        threads = n_threads()
        if scheduler is dask.threaded.get and threads > 1:
            yield from _stream_threads(tasks, limit, threads)
        elif scheduler in (dask.threaded.get, dask.local.get_sync):
            for task in tasks:
                yield dask.compute(*task, scheduler=dask.local.get_sync)
        elif scheduler is dask.multiprocessing.get and dask.config.get("pool", None) is None:
            yield from _stream_processes(tasks, limit)
        else:
            for start in range(0, len(tasks), limit):
                yield from dask.compute(*[tuple(t) for t in tasks[start : start + limit]])
    except Exception as exc:
        if type(exc).__name__ in _LOST_WORKERS:
            raise ComputeError(
                f"the cluster lost the workers computing the map ({type(exc).__name__}: {exc}); "
                "nothing was written. Check the workers' memory limit (see `rasterclass plan`) "
                "and run again"
            ) from exc
        raise


def _stream_threads(
    tasks: Sequence[Sequence[Any]], limit: int, threads: int
) -> Iterator[tuple[Any, ...]]:
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rasterclass")
    pending: dict[int, Future] = {}
    submitted = 0
    try:
        for k in range(len(tasks)):
            while submitted < len(tasks) and submitted - k < limit:
                task = tasks[submitted]
                pending[submitted] = pool.submit(dask.compute, *task, scheduler=dask.local.get_sync)
                submitted += 1
            yield pending.pop(k).result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stream_processes(tasks: Sequence[Sequence[Any]], limit: int) -> Iterator[tuple[Any, ...]]:
    """Bounded batches on one process pool for the whole stream.

    dask's ``processes`` scheduler starts a new pool (new interpreters, every import again) for
    each ``dask.compute`` that is given none: one pool per batch.
    """
    workers = dask.config.get("num_workers", None) or usable_cores()
    context = dask.multiprocessing.get_context()
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for start in range(0, len(tasks), limit):
            batch = [tuple(t) for t in tasks[start : start + limit]]
            yield from dask.compute(*batch, scheduler="processes", pool=pool)


def _stream_distributed(
    client: Any, tasks: Sequence[Sequence[Any]], limit: int
) -> Iterator[tuple[Any, ...]]:
    pending: dict[int, list[Any]] = {}
    submitted = 0
    try:
        for k in range(len(tasks)):
            while submitted < len(tasks) and submitted - k < limit:
                pending[submitted] = client.compute(list(tasks[submitted]))
                submitted += 1
            yield tuple(client.gather(pending.pop(k)))
    finally:
        for futures in pending.values():
            client.cancel(futures)
