"""Planning: what a run will do before it does it: grid, chunks, tasks, memory per worker.

The task count comes from the very graph the run would compute (built lazily, never
computed). The memory estimate is a model of the working set of one block during
prediction, calibrated against the benchmark in ``benchmarks/bench_predict.py``.
"""

from __future__ import annotations

import logging
import math
import pickle
from dataclasses import asdict, dataclass
from typing import Any

import xarray as xr

from rasterclass.apply import predict_raster, stack_probabilities
from rasterclass.errors import SceneError
from rasterclass.io import TILE, auto_chunk, scene_grid
from rasterclass.model import RasterModel
from rasterclass.parallel import usable_cores

logger = logging.getLogger(__name__)

#: Resident memory of a worker process with rasterclass and its libraries imported.
BASE_PROCESS_BYTES = 400e6


@dataclass
class Plan:
    """The shape and cost of a prediction run."""

    width: int
    height: int
    bands: int
    crs: str
    chunk_shape: tuple[int, int]
    n_chunks: int
    n_tasks: int
    workers: int
    threads_per_worker: int
    model_bytes: int
    n_classes: int
    probabilities: bool
    bytes_per_chunk: int
    peak_memory_per_worker: float
    scene_bytes: int

    def describe(self) -> str:
        gb = 1e9
        return "\n".join(
            [
                f"grid:        {self.width} x {self.height} px, {self.bands} bands, {self.crs}",
                f"scene:       {self.scene_bytes / gb:.2f} GB as float32 (never loaded at once)",
                f"chunks:      {self.chunk_shape[0]} x {self.chunk_shape[1]} px, "
                f"{self.n_chunks} chunks",
                f"tasks:       {self.n_tasks} in the graph",
                f"workers:     {self.workers} x {self.threads_per_worker} threads",
                f"model:       {self.model_bytes / 1e6:.1f} MB, {self.n_classes} classes"
                + (", with probability layers" if self.probabilities else ""),
                f"per chunk:   {self.bytes_per_chunk / 1e6:.0f} MB working set",
                f"peak memory: {self.peak_memory_per_worker / gb:.2f} GB per worker (estimate)",
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def chunk_working_set(pixels: int, bands: int, n_classes: int, probabilities: bool) -> int:
    """Bytes one block needs while it is predicted.

    Scene block, valid-pixel copy and estimator input (3 x bands x 4 bytes), probability
    accumulators of tree ensembles (2 x classes x 8 bytes), labels/indices and masks
    (about 24 bytes), and the output (1 byte, or (classes + 2) x 4 bytes with probabilities).
    """
    per_pixel = 3 * bands * 4 + 2 * n_classes * 8 + 24
    per_pixel += (n_classes + 2) * 4 if probabilities else 1
    return int(pixels * per_pixel)


def plan_scene(
    scene: xr.DataArray,
    *,
    model: RasterModel | None = None,
    n_classes: int = 10,
    probabilities: bool = False,
    workers: int | None = None,
    threads_per_worker: int | None = None,
) -> Plan:
    """Plan a prediction run over an opened scene without running it.

    The task count comes from the graph :func:`rasterclass.predict_raster` builds for
    ``model`` (never computed); without a model, ``n_classes`` sizes the estimate. The job
    that opens the files is :func:`rasterclass.jobs.plan_run`.

    Raises
    ------
    SceneError
        ``scene`` is held in memory (numpy), not chunked: there is no graph to plan.

    Examples
    --------
    >>> import numpy as np, rasterio, xarray as xr, rioxarray
    >>> scene = xr.DataArray(np.ones((2, 8, 8), dtype="f4"), dims=("band", "y", "x"),
    ...                      coords={"band": ["red", "nir"]}).chunk({"y": 4, "x": 4})
    >>> scene = scene.rio.write_crs("EPSG:32633").rio.write_transform(
    ...     rasterio.Affine(10, 0, 0, 0, -10, 80))
    >>> plan = plan_scene(scene, n_classes=3, workers=2)
    >>> plan.chunk_shape, plan.n_chunks, plan.n_tasks, plan.workers
    ((4, 4), 4, 8, 2)
    >>> plan_scene(scene.compute())  # in memory: nothing to plan
    Traceback (most recent call last):
    ...
    rasterclass.errors.SceneError: plan_scene plans a chunked (dask) scene: ...
    """
    scene_da = scene
    grid = scene_grid(scene_da)
    chunks = scene_da.chunks
    if chunks is None:  # a numpy-backed scene: there is no graph to plan
        raise SceneError(
            "plan_scene plans a chunked (dask) scene: open it with open_scene, or call "
            "scene.chunk()"
        )
    bands = scene_da.sizes["band"]
    if model is not None:
        n_classes = len(model.class_map)
        model_bytes = len(pickle.dumps(model.estimator, protocol=pickle.HIGHEST_PROTOCOL))
        pred = predict_raster(scene_da, model, probabilities=probabilities)
        arrays = [pred["classes"].data]
        if probabilities:
            arrays.append(stack_probabilities(pred).data)
        n_tasks = sum(len(a.__dask_graph__()) for a in arrays)
    else:
        model_bytes = 0
        n_tasks = 2 * math.prod(len(c) for c in chunks[1:])
    cy, cx = max(chunks[1]), max(chunks[2])
    n_chunks = len(chunks[1]) * len(chunks[2])
    threads = threads_per_worker or (1 if workers else usable_cores())
    per_chunk = chunk_working_set(cy * cx, bands, n_classes, probabilities)
    # the writer holds at most 2 blocks per thread (computing or finished, waiting for their
    # turn to be written: parallel.compute_stream)
    out_bytes = (n_classes + 2) * 4 if probabilities else 1
    # write windows are runs of whole chunks, at least a tile long (io.write_chunks)
    write_side = math.ceil(TILE / max(cy, cx)) * max(cy, cx)
    batch = 2 * threads * write_side * write_side * out_bytes
    peak = BASE_PROCESS_BYTES + 2 * model_bytes + threads * per_chunk + batch
    plan = Plan(
        width=grid.width,
        height=grid.height,
        bands=bands,
        crs=grid.crs.to_string(),
        chunk_shape=(cy, cx),
        n_chunks=n_chunks,
        n_tasks=n_tasks,
        workers=workers or 1,
        threads_per_worker=threads,
        model_bytes=model_bytes,
        n_classes=n_classes,
        probabilities=probabilities,
        bytes_per_chunk=per_chunk,
        peak_memory_per_worker=float(peak),
        scene_bytes=int(grid.width * grid.height * bands * 4),
    )
    logger.info("planned run: %s", plan.to_dict())
    return plan


__all__ = ["Plan", "auto_chunk", "chunk_working_set", "plan_scene"]
