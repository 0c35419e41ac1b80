"""Where the chunks run: threads (default), local processes, or a dask.distributed cluster.

The library never needs this: every computation runs on dask's active scheduler, so a
``distributed.Client`` created by the user is used as it is. This context manager is what the
CLI's ``--scheduler`` and ``--workers`` options use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rasterclass.errors import RasterclassError

logger = logging.getLogger(__name__)


class SchedulerError(RasterclassError, ConnectionError):
    """The dask scheduler cannot be reached or started."""


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
    """
    if scheduler is None and not workers:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(
                f"cannot reach the dask scheduler at {scheduler} ({exc}); start one with "
                "`dask scheduler` or use --workers N for a local cluster"
            ) from None
        cluster = None
    else:
        cluster = LocalCluster(
            n_workers=int(workers or 1),
            threads_per_worker=threads_per_worker,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
        )
        client = Client(cluster)
    logger.info("computing on %s (%d workers)", client.scheduler.address, len(client.nthreads()))
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
