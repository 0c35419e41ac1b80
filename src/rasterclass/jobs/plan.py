"""The ``plan`` job: open a scene (and a model) and plan a prediction run over it.

This module owns :func:`plan_run`, which reads the files a run would read and hands them to
:func:`rasterclass.planning.plan_scene` (grid, chunks, tasks, memory per worker).
"""

from __future__ import annotations

from collections.abc import Sequence

from rasterclass.io import PathLike
from rasterclass.jobs.scene import SceneOptions, open_job_scene
from rasterclass.model import RasterModel
from rasterclass.planning import Plan, plan_scene


def plan_run(
    scene: Sequence[PathLike] | PathLike,
    *,
    model: RasterModel | PathLike | None = None,
    n_classes: int = 10,
    probabilities: bool = False,
    chunks: int | None = None,
    memory_budget: float | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    band_names: Sequence[str] | None = None,
    reference: PathLike | None = None,
) -> Plan:
    """Plan a prediction run without running it: grid, chunks, tasks, memory per worker.

    Opens the scene (and the model) as the run would, and builds the prediction graph
    without computing it (see :func:`rasterclass.planning.plan_scene`).

    Parameters
    ----------
    scene
        Scene file(s), bands stacked in order.
    model
        A :class:`rasterclass.RasterModel` or the path of a saved one; its graph gives the
        task count, its size the memory. Without it, ``n_classes`` sizes the estimate.
    n_classes
        Classes of the map, without a model.
    probabilities
        Plan for probability layers too.
    chunks, memory_budget, band_names, reference
        How to open the scene (see :class:`rasterclass.SceneOptions`).
    workers
        Worker processes of a local cluster (default: the threaded scheduler, 1 process).
    threads_per_worker
        Threads per worker (default: 1 with ``workers``, else the CPU count).

    Returns
    -------
    rasterclass.planning.Plan
        Width and height (pixels), bands, CRS, chunk shape (pixels), chunk and task
        counts, workers and threads, model size (bytes), working set per chunk (bytes),
        peak memory per worker (bytes, an estimate) and scene size (bytes as float32);
        :meth:`~rasterclass.planning.Plan.describe` renders it.

    Raises
    ------
    RasterclassIOError
        A scene or model file does not exist or cannot be read.
    ModelFileError
        The model file is invalid, untrusted or incompatible.
    GridMismatchError
        Scene files on different grids, and no ``reference`` to align them.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene
    >>> folder = pathlib.Path(example_scene()).parent  # scene.tif: water left, forest right
    >>> plan = rc.plan_run(folder / "scene.tif", n_classes=2, chunks=4, workers=2)
    >>> plan.width, plan.height, plan.chunk_shape, plan.n_chunks, plan.workers
    (8, 8, (4, 4), 4, 2)
    >>> print(plan.describe().splitlines()[0])
    grid:        8 x 8 px, 2 bands, EPSG:32633
    """
    scene_da = open_job_scene(
        scene,
        SceneOptions(
            band_names=band_names, chunks=chunks, memory_budget=memory_budget, reference=reference
        ),
    )
    if model is not None and not isinstance(model, RasterModel):
        model = RasterModel.load(model)
    return plan_scene(
        scene_da,
        model=model,
        n_classes=n_classes,
        probabilities=probabilities,
        workers=workers,
        threads_per_worker=threads_per_worker,
    )
