"""Segmentation jobs: segments for a scene, the segment raster and the segment tables.

Owns :func:`run_segmentation` (segment a scene and write the segment raster, optionally the
feature table and polygons; :class:`SegmentationResult`), :func:`resolve_segments` (segment
a scene or take given segments: ids checked, masked by the scene's nodata, read in fixed
chunks) and the segment tables object-based runs write (:func:`check_segment_tables`,
:func:`write_segment_tables`). The object-based classification steps that use them are in
:mod:`rasterclass.jobs.objects`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Unpack

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.errors import SegmentationError, param
from rasterclass.io import (
    DEFAULT_CHUNK,
    PathLike,
    check_output_format,
    open_segments,
    write_segments,
    write_table,
    write_vector,
)
from rasterclass.jobs.options import RunOptions, RunSettings
from rasterclass.jobs.provenance import recorded
from rasterclass.jobs.scene import open_job_scene
from rasterclass.objects._blocks import dask_scene
from rasterclass.objects.features import check_grid, segment_features
from rasterclass.objects.labels import mask_segments
from rasterclass.objects.segmentation import segment
from rasterclass.objects.vector import segments_to_vector

logger = logging.getLogger(__name__)


@dataclass
class SegmentationResult:
    """What a segmentation job did: the lazy segments, their count, files and timings."""

    segments: xr.DataArray
    n_segments: int | None
    features: pd.DataFrame | None = None
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def resolve_segments(
    scene: xr.DataArray,
    segments: xr.DataArray | PathLike | None,
    method: str = "shepherd",
    params: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Segments for a scene: segment it, open a segment raster, or check a given array.

    Given segments (a file or an array drawn elsewhere) may cover the scene's nodata; they
    are masked lazily by the scene's validity (id 0 where any band is nodata), so that no
    later step (features, labels, painting, vector or raster copies) sees nodata pixels.
    A file or an in-memory array is cut into fixed chunks, not the scene's: the features
    are summed chunk by chunk along the segments' chunks, so the scene's chunk size does not
    change them (as Shepherd's fixed tiles do not).
    """
    scene = dask_scene(scene)
    if segments is None:
        return segment(scene, method, **dict(params or {}))
    if not isinstance(segments, xr.DataArray):
        segments = open_segments(segments, chunks=DEFAULT_CHUNK)
    check_grid(segments, scene)
    if not isinstance(segments.data, da.Array):
        segments = segments.chunk(DEFAULT_CHUNK)
    if not np.issubdtype(segments.dtype, np.integer):
        raise SegmentationError(
            f"segment ids must be integers, got {segments.dtype}; cast them (0 = nodata)"
        )
    masked = mask_segments(segments, scene)
    _check_segment_ids(masked)
    return masked


def _check_segment_ids(segments: xr.DataArray) -> None:
    """Refuse ids outside [0, 2**32 - 1] on the scene's valid pixels: a segment raster is
    uint32 (0 = nodata), so a negative id or a larger one would be written as another
    segment's id (negative ids were also painted as nodata)."""
    top = np.iinfo(np.uint32).max
    info = np.iinfo(segments.dtype)
    if info.min >= 0 and info.max <= top:
        return
    low, high = (int(v) for v in dask.compute(segments.min(), segments.max()))
    if low < 0 or high > top:
        raise SegmentationError(
            f"segment ids must be in [0, {top}] (0 = nodata), got ids from {low} to {high}; "
            "renumber them (0 = nodata), or declare the value that marks nodata as the "
            "file's nodata"
        )


@recorded("scene", "scene_options.reference", outputs=("output", "features", "vector"))
def run_segmentation(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    output: PathLike,
    *,
    method: str = "shepherd",
    params: Mapping[str, Any] | None = None,
    features: PathLike | None = None,
    vector: PathLike | None = None,
    **run_options: Unpack[RunOptions],
) -> SegmentationResult:
    """Segment a scene and write the segment raster (uint32, 0 = nodata).

    Optionally also the feature table (``.parquet`` or ``.csv``) and the segment polygons
    with their features (GeoPackage).

    Parameters
    ----------
    scene
        Scene file(s) or an opened scene (``band`` x ``y`` x ``x``).
    output
        The segment raster GeoTIFF: uint32 segment ids, 0 = nodata.
    method
        ``"shepherd"`` (default), ``"slic"`` or ``"felzenszwalb"`` (see
        :func:`rasterclass.segment`).
    params
        The method's parameters (e.g. Shepherd's ``n_clusters`` and ``min_size`` in
        pixels), each validated.
    features
        Also write the segments' features (zonal statistics per band, area, shape; see
        :func:`rasterclass.segment_features`) here, as ``.parquet`` or ``.csv``.
    vector
        Also write the segment polygons with their features here (``.gpkg``).
    **run_options
        :class:`rasterclass.jobs.RunOptions`: ``overwrite`` (the segment raster, the
        features, the polygons), ``scene_options``, ``progress`` (of the segment raster's
        chunks; the features and polygons are not reported) and ``cog`` (the segment raster).

    Returns
    -------
    rasterclass.jobs.SegmentationResult
        ``segments`` (the lazy (y, x) segment ids), ``n_segments``, ``features`` (a
        DataFrame indexed by segment id, when written), ``outputs`` (paths written) and
        ``timings`` (seconds).

    Raises
    ------
    SegmentationError
        An unknown method, an invalid parameter, or a ``vector`` that is not a GeoPackage.
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    RasterclassIOError
        A scene file does not exist or cannot be read.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene
    >>> folder = pathlib.Path(example_scene()).parent  # scene.tif: water left, forest right
    >>> result = rc.run_segmentation(folder / "scene.tif", folder / "segments.tif",
    ...                              params={"n_clusters": 2, "min_size": 4})
    >>> result.n_segments, [pathlib.Path(p).name for p in result.outputs]
    (2, ['segments.tif'])
    """
    run = RunSettings(**run_options)
    run.check_outputs(
        {"output": output, "features": features, "vector": vector}, scene, rasters=("output",)
    )
    check_segment_tables(features, vector, ("features", "vector"))
    scene = open_job_scene(scene, run.scene_options)
    t0 = time.perf_counter()
    segs = segment(scene, method, **dict(params or {}))
    t1 = time.perf_counter()
    outputs = [write_segments(segs, output, **run.writing())]
    t2 = time.perf_counter()
    timings = {"segmentation": t1 - t0, "writing": t2 - t1}
    table = None
    if features is not None or vector is not None:
        table = segment_features(scene, segs)
        timings["features"] = time.perf_counter() - t2
        outputs += write_segment_tables(
            segs, table, features_output=features, vector_output=vector, overwrite=run.overwrite
        )
    n = segs.attrs.get("n_segments", len(table) if table is not None else None)
    return SegmentationResult(segs, n, table, outputs, timings)


def check_segment_tables(
    features: PathLike | None,
    vector: PathLike | None,
    names: tuple[str, str] = ("features_output", "vector_output"),
) -> None:
    """The formats of the segment table (``.parquet``/``.csv``) and polygons (``.gpkg``) a
    run will write, before any work (``names``: the job's parameters for them)."""
    check_output_format(features, "table", names[0])
    if vector is not None and not str(vector).lower().endswith(".gpkg"):
        raise SegmentationError(
            f"vector output {vector} must be a GeoPackage (.gpkg): rename {param(names[1])}"
        )


def write_segment_tables(
    segments: xr.DataArray,
    table: pd.DataFrame,
    *,
    features_output: PathLike | None = None,
    vector_output: PathLike | None = None,
    overwrite: bool = False,
) -> list[str]:
    """Write the classified segments' table (``.parquet``/``.csv``) and polygons (``.gpkg``).

    ``table`` is indexed by segment id: the features and the predicted ``code``/``class``
    (and probabilities). Returns the paths written.
    """
    written = []
    if features_output is not None:
        written.append(write_table(table, features_output, overwrite=overwrite))
    if vector_output is not None:
        polygons = segments_to_vector(segments, table)
        written.append(write_vector(polygons, vector_output, overwrite=overwrite))
    return written
