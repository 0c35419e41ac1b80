"""Segment-id rasters: one integer band of segment ids (0 = nodata), opened lazily and
written.

Owns :func:`open_segments`, :func:`write_segments` and the file tag :data:`SEGMENTS_TAG`
that records how the segments were made.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Unpack

import numpy as np
import xarray as xr
from rasterio.enums import Resampling

from rasterclass.errors import SegmentationError
from rasterclass.io._read import RasterSource, lazy_read, open_raster
from rasterclass.io.chunks import DEFAULT_CHUNK, check_chunks, split_length
from rasterclass.io.paths import PathLike
from rasterclass.io.writer import RasterOutput, WriteOptions, write_rasters
from rasterclass.stack import Grid, georeferenced

SEGMENTS_TAG = "RASTERCLASS_SEGMENTS"


def open_segments(
    path: PathLike,
    *,
    chunks: int | tuple[Sequence[int], Sequence[int]] | None = None,
) -> xr.DataArray:
    """Open a segment-id raster (one integer band, 0 = nodata) lazily.

    Parameters
    ----------
    path
        GeoTIFF written by ``rasterclass segment`` (or any one-band integer raster of ids).
    chunks
        Chunk side in pixels, or the (y, x) chunk sizes of a scene to align with (used when
        they fit the raster's size).

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` uint32 ids, 0 at nodata (and at the declared nodata value), with CRS and
        transform; a signed or 64-bit file keeps its type (its ids may not fit a uint32).
    """
    p = str(path)
    if not isinstance(chunks, tuple):
        check_chunks(chunks)
    with open_raster(p) as src:
        if src.count != 1 or not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
            raise SegmentationError(
                f"{p} is not a segment raster: it needs one integer band of segment ids "
                f"(it has {src.count} band(s) of {src.dtypes[0]})"
            )
        grid = Grid(src.crs, src.transform, src.width, src.height)
        nodata = src.nodata
        stored = np.iinfo(np.dtype(src.dtypes[0]))
    # ids a uint32 cannot hold (negative, 2**32 or more) keep their type, not wrap around
    # into other segments' ids: the jobs refuse them (rasterclass.jobs.resolve_segments)
    dtype = "uint32" if stored.min >= 0 and stored.max <= np.iinfo(np.uint32).max else stored.dtype
    if isinstance(chunks, tuple) and (sum(chunks[0]), sum(chunks[1])) == (
        grid.height,
        grid.width,
    ):
        ychunks, xchunks = tuple(chunks[0]), tuple(chunks[1])
    else:
        side = chunks if isinstance(chunks, int) else DEFAULT_CHUNK
        ychunks, xchunks = split_length(grid.height, side), split_length(grid.width, side)
    source = RasterSource(p, (1,), False, Resampling.nearest.value, nodata)
    data = lazy_read((source,), grid, str(dtype), 1, ychunks, xchunks)[0]
    y, x = grid.coords()
    arr = xr.DataArray(
        data, dims=("y", "x"), coords={"y": y, "x": x}, name="segments", attrs={"source": p}
    )
    return georeferenced(arr, grid)


def write_segments(
    segments: xr.DataArray,
    path: PathLike,
    **options: Unpack[WriteOptions],
) -> str:
    """Write a segment-id raster: uint32 GeoTIFF, nodata 0, no colour table.

    ``options`` (``overwrite``, ``progress``, ``cog``, ``overviews``: a
    :class:`~rasterclass.io.WriteOptions`): see :func:`write_rasters` (``nearest``
    overviews).
    """
    attrs = {k: v for k, v in segments.attrs.items() if k in ("segmentation", "n_segments")}
    params = segments.attrs.get("params")
    if params:
        attrs["params"] = {k: repr(v) for k, v in dict(params).items()}
    out = RasterOutput(
        segments.astype(np.uint32),
        path,
        nodata=0,
        descriptions=["segment"],
        tags={SEGMENTS_TAG: json.dumps(attrs, default=str)},
    )
    return write_rasters([out], **options)[0]
