"""Jobs that post-process a class map file: sieve, majority filter, polygons.

Owns :func:`sieve_map`, :func:`majority_map` and :func:`polygonize_map`: each checks its
parameters and output before any work, reads the map lazily with its classes
(:func:`rasterclass.io.read_class_map`), calls :mod:`rasterclass.postprocess` and writes
through :mod:`rasterclass.io` (maps keep the input's class map, so its names, colour table,
QGIS style and raster attribute table).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from rasterclass.classes import ClassMap
from rasterclass.errors import ClassMapError
from rasterclass.io import (
    PathLike,
    ProgressCallback,
    check_output_format,
    check_writable,
    checked_class_codes,
    open_scene,
    read_class_map,
    write_map,
    write_vector,
)
from rasterclass.jobs.provenance import recorded
from rasterclass.postprocess import (
    check_connectivity,
    check_window,
    majority_filter,
    mmu_pixels,
    parse_mmu,
    polygonize,
    protected_codes,
    sieve,
)

logger = logging.getLogger(__name__)


@dataclass
class PostprocessResult:
    """What a post-processing job did: files written, timings (seconds), figures."""

    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def open_class_map(map_path: PathLike, chunks: int | None = None) -> xr.DataArray:
    """A map file as a lazy ``(y, x)`` array of codes (0 = nodata) carrying its class map
    (attribute ``class_map``; for a map written by another tool, one class per code found).

    Raises
    ------
    ClassMapError
        The file has more than one band, or values that are no class code (negative, not
        whole, above 65535: an undeclared nodata; raised when computed).
    RasterclassIOError
        The file does not exist or cannot be read.
    """
    class_map = read_class_map(map_path)
    scene = open_scene(map_path, chunks=chunks, unscale=False)
    if scene.sizes["band"] != 1:
        raise ClassMapError(
            f"{map_path} has {scene.sizes['band']} bands; a class map has one band of codes"
        )
    codes = checked_class_codes(scene.isel(band=0, drop=True), map_path).fillna(0)
    if class_map is None:
        found = [int(c) for c in np.unique(codes.values) if c > 0]
        class_map = ClassMap.from_codes(found or [1])
        logger.warning("%s carries no class names; classes named by code: %s", map_path, found)
    out = codes.astype(class_map.dtype)
    out.attrs = {"class_map": class_map.to_dict()}
    return out


@recorded("map_path")
def sieve_map(
    map_path: PathLike,
    output: PathLike,
    mmu: float | str,
    *,
    connectivity: int = 4,
    keep: Sequence[Any] = (),
    overwrite: bool = False,
    chunks: int | None = None,
    progress: ProgressCallback | None = None,
    cog: bool = False,
) -> PostprocessResult:
    """Sieve a class map file to a minimum mapping unit and write the map (see
    :func:`rasterclass.sieve`).

    Parameters
    ----------
    map_path
        A class map GeoTIFF (0 = nodata).
    output
        The sieved map GeoTIFF (same classes, colours and styles).
    mmu
        Minimum mapping unit: pixels (a number or ``"25px"``) or hectares (``"0.5ha"``).
    connectivity, keep
        As for :func:`rasterclass.sieve` (``keep``: protected class names or codes).
    overwrite, chunks, progress, cog
        Replace an existing output; chunk side for reading; a ``(done, total)`` callback;
        write a Cloud Optimized GeoTIFF.

    Returns
    -------
    PostprocessResult
        ``outputs``, ``timings`` and ``info`` (``mmu_pixels``, ``protected`` codes).

    Raises
    ------
    PostprocessError
        Invalid ``mmu``, ``connectivity`` or ``keep`` (checked before any work).
    CRSError
        An MMU in hectares on a map without a projected CRS.
    OutputExistsError, OutputCollisionError, RasterclassIOError
        As for every job's output and input.
    """
    parse_mmu(mmu)
    check_connectivity(connectivity)
    check_writable({"output": output}, overwrite, inputs={"map": map_path}, rasters=("output",))
    t0 = time.perf_counter()
    classes = open_class_map(map_path, chunks)
    class_map = ClassMap.from_dict(classes.attrs["class_map"])
    protected = protected_codes(keep, class_map)
    min_pixels = mmu_pixels(classes, mmu)
    sieved = sieve(classes, min_pixels, connectivity=connectivity, keep=protected)
    t1 = time.perf_counter()
    path = write_map(sieved, output, class_map, overwrite=overwrite, progress=progress, cog=cog)
    return PostprocessResult(
        [path],
        {"patches": t1 - t0, "write": time.perf_counter() - t1},
        {"mmu_pixels": min_pixels, "protected": protected},
    )


@recorded("map_path")
def majority_map(
    map_path: PathLike,
    output: PathLike,
    *,
    size: int = 3,
    overwrite: bool = False,
    chunks: int | None = None,
    progress: ProgressCallback | None = None,
    cog: bool = False,
) -> PostprocessResult:
    """Majority-filter a class map file and write the map (see
    :func:`rasterclass.majority_filter`).

    Parameters
    ----------
    map_path, output
        The class map GeoTIFF and the filtered map (same classes, colours and styles).
    size
        Window side in pixels (odd, 3 or more).
    overwrite, chunks, progress, cog
        As for :func:`sieve_map`.

    Returns
    -------
    PostprocessResult
        ``outputs`` and ``timings``.

    Raises
    ------
    PostprocessError
        An invalid ``size`` (checked before any work).
    OutputExistsError, OutputCollisionError, RasterclassIOError
        As for every job's output and input.
    """
    check_window(size)
    check_writable({"output": output}, overwrite, inputs={"map": map_path}, rasters=("output",))
    classes = open_class_map(map_path, chunks)
    filtered = majority_filter(classes, size)
    t0 = time.perf_counter()
    path = write_map(filtered, output, overwrite=overwrite, progress=progress, cog=cog)
    return PostprocessResult([path], {"filter and write": time.perf_counter() - t0})


@recorded("map_path")
def polygonize_map(
    map_path: PathLike,
    output: PathLike,
    *,
    dissolve: bool = False,
    connectivity: int = 4,
    overwrite: bool = False,
    chunks: int | None = None,
) -> PostprocessResult:
    """Write the patches of a class map file as polygons (see :func:`rasterclass.polygonize`).

    Parameters
    ----------
    map_path
        A class map GeoTIFF (0 = nodata).
    output
        Vector file (``.gpkg``, ``.shp``, ``.geojson``, ``.fgb``) in the map's CRS.
    dissolve
        One (multi)polygon per class instead of one per patch.
    connectivity, overwrite, chunks
        Pixels making one patch (4 or 8); replace an existing output; chunk side.

    Returns
    -------
    PostprocessResult
        ``outputs``, ``timings`` and ``info`` (``features``; ``pixels`` and ``area_ha`` per class
        name, ``area_ha`` NaN when the map has no projected CRS).

    Raises
    ------
    PostprocessError
        ``connectivity`` not 4 or 8.
    OutputExistsError, OutputCollisionError, RasterclassIOError
        As for every job's output and input; an output name that is no vector format.
    """
    check_connectivity(connectivity)
    check_writable({"output": output}, overwrite, inputs={"map": map_path})
    check_output_format(output, "vector")
    t0 = time.perf_counter()
    frame = polygonize(
        open_class_map(map_path, chunks), dissolve=dissolve, connectivity=connectivity
    )
    t1 = time.perf_counter()
    path = write_vector(frame, output, overwrite=overwrite)
    per_class = frame.groupby("class")[["pixels", "area_ha"]].sum(min_count=1)
    return PostprocessResult(
        [path],
        {"polygonize": t1 - t0, "write": time.perf_counter() - t1},
        {
            "features": len(frame),
            "pixels": {str(k): int(v) for k, v in per_class["pixels"].items()},
            "area_ha": {str(k): float(v) for k, v in per_class["area_ha"].items()},
        },
    )
