"""The ``plan`` job: open a scene (and a model) and plan a prediction run over it.

This module owns :func:`plan_run`, which reads the files a run would read and hands them to
:func:`rasterclass.planning.plan_scene` (grid, chunks, tasks, memory per worker).
"""

from __future__ import annotations

from collections.abc import Sequence

from rasterclass.io import PathLike
from rasterclass.jobs.options import SceneOptions, open_job_scene
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
    """Plan a prediction run without running it.

    Examples
    --------
    >>> print(plan_run("sample_data/scene.tif").describe())  # doctest: +SKIP
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
