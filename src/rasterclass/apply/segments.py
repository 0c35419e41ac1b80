"""Values painted onto pixels through a lookup table, block by block (lazy when the input is).

This module owns :func:`recode` (class codes through a table of new codes),
:func:`paint_segments` (a value per segment onto its pixels) and :func:`valid_pixels` (the
scene's validity mask that keeps the scene's nodata out of painted segments). The first two
run block by block through :func:`rasterclass.apply.blocks.on_blocks`.
"""

from __future__ import annotations

from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.apply.blocks import on_blocks
from rasterclass.errors import EstimatorError
from rasterclass.stack import georeferenced


def _recode_block(block: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Translate one block of class codes through ``lut``; 0 (nodata) and codes outside it
    become 0."""
    codes = block.astype(np.int64, copy=False)
    inside = (codes > 0) & (codes < len(lut))
    out = np.zeros(block.shape, dtype=lut.dtype)
    out[inside] = lut[codes[inside]]
    return out


def recode(classes: xr.DataArray, lut: np.ndarray) -> xr.DataArray:
    """Recode a class raster through a lookup table, block by block (lazy when ``classes`` is).

    Parameters
    ----------
    classes
        Integer class codes (any dims), dask-backed or in memory; 0 is nodata.
    lut
        1-D integer array: new code of every old code (``lut[old] = new``). Old codes beyond
        the table become 0 (nodata). Nodata stays nodata: 0 becomes 0 whatever ``lut[0]``
        says.

    Returns
    -------
    xarray.DataArray
        Same dims, coords and attributes (CRS included), dtype of ``lut``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> classes = xr.DataArray(np.array([[0, 1, 2], [3, 2, 1]], dtype="u1"), dims=("y", "x"))
    >>> recode(classes, np.array([0, 5, 5, 7], dtype="u1")).values.tolist()
    [[0, 5, 5], [7, 5, 5]]
    """
    table = np.asarray(lut)
    if table.ndim != 1 or table.dtype.kind not in "ui":
        raise EstimatorError(
            f"a lookup table is a 1-D integer array, got {table.dtype} {table.shape}"
        )
    if not np.issubdtype(classes.dtype, np.integer):
        raise EstimatorError(
            f"recode needs integer class codes, got {classes.dtype}; fill nodata with 0 and "
            "cast first (classes.fillna(0).astype('uint16'))"
        )
    out = on_blocks(_recode_block, classes.data, table, dtype=table.dtype, name="recode")
    return classes.copy(data=out)


def _paint_block(
    block: np.ndarray,
    values: np.ndarray,
    keys: np.ndarray | None,
    fill: Any,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Value of every pixel's segment: ``values[id]`` (dense) or ``values[keys == id]``;
    ``fill`` at id 0, at ids without a row and where ``valid`` is False (scene nodata)."""
    ids = np.asarray(block).astype(np.int64, copy=False)
    if keys is None:
        inside = (ids > 0) & (ids < len(values))
        idx = np.where(inside, ids, 0)
    else:
        idx = np.clip(np.searchsorted(keys, ids), 0, max(len(keys) - 1, 0))
        inside = (ids > 0) & (keys[idx] == ids) if len(keys) else np.zeros(ids.shape, bool)
    if valid is not None:
        inside &= np.asarray(valid, dtype=bool)
    if len(values) == 0:
        out = np.empty((*ids.shape, *values.shape[1:]), dtype=values.dtype)
        out[...] = fill
    else:
        out = values[idx]
        out[~inside] = fill
    if values.ndim == 2:
        out = np.moveaxis(out, -1, 0)
    return out


def valid_pixels(scene: xr.DataArray) -> xr.DataArray:
    """The scene's validity mask: True where every band has a value (lazy when the scene is).

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene; NaN marks nodata.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` bool on the scene's grid and chunks.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scene = xr.DataArray(np.array([[[1.0, np.nan]], [[2.0, 3.0]]]), dims=("band", "y", "x"))
    >>> valid_pixels(scene).values.tolist()
    [[True, False]]
    """
    # a ufunc on a DataArray returns a DataArray; numpy's stub says ndarray
    out = np.isfinite(scene).all(dim="band")  # type: ignore[call-overload]
    return out.rename("valid")


def _valid_data(valid: xr.DataArray | np.ndarray, segments: xr.DataArray) -> Any:
    """``valid`` as an array on the segments' shape (and chunks when they are dask)."""
    from rasterclass.errors import GridMismatchError

    mask = valid.data if isinstance(valid, xr.DataArray) else valid
    if tuple(mask.shape) != tuple(segments.shape):
        raise GridMismatchError(
            f"the validity mask is {tuple(mask.shape)}, the segments {tuple(segments.shape)}: "
            "give the mask of the scene the segments were drawn on"
        )
    if mask.dtype != bool:
        raise GridMismatchError(f"a validity mask is boolean, got {mask.dtype}")
    data = segments.data
    if isinstance(data, da.Array):
        if not isinstance(mask, da.Array):
            return da.from_array(np.asarray(mask), chunks=data.chunks)
        return mask.rechunk(data.chunks) if mask.chunks != data.chunks else mask
    return np.asarray(mask)


def paint_segments(
    segments: xr.DataArray,
    values: np.ndarray,
    *,
    keys: np.ndarray | None = None,
    fill: Any = 0,
    band_names: list[str] | None = None,
    valid: xr.DataArray | np.ndarray | None = None,
) -> xr.DataArray:
    """Paint a value per segment (class code, probabilities, final id) block by block.

    Nodata in, ``fill`` out: pixels of id 0, of ids without a row and, with ``valid``, the
    scene's nodata pixels are ``fill`` whatever segment covers them (a segment raster drawn
    elsewhere may cover nodata).

    Parameters
    ----------
    segments
        ``(y, x)`` integer segment ids, 0 = nodata; dask-backed (lazy result) or in memory.
    values
        ``(n,)`` or ``(n, k)`` values, one row per segment. Its dtype is the output dtype.
    keys
        The ``n`` segment ids of ``values`` rows (any order, unique). Without keys, row ``i``
        is the value of segment ``i`` (a dense lookup; row 0 is ignored).
    fill
        Value at nodata (id 0) and at ids without a row.
    band_names
        Names of the ``k`` output bands when ``values`` is 2-D.
    valid
        ``(y, x)`` boolean validity mask of the scene (:func:`valid_pixels`); False pixels
        are ``fill``. Default: every pixel with a segment id is valid.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` or ``(band, y, x)`` on the segments' grid (coords, CRS, transform).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> segs = xr.DataArray(np.array([[0, 7, 7], [9, 9, 7]], dtype="u4"), dims=("y", "x"))
    >>> paint_segments(segs, np.array([2, 1], dtype="u1"), keys=np.array([7, 9])).values.tolist()
    [[0, 2, 2], [1, 1, 2]]
    """
    from rasterclass.errors import SegmentationError

    vals = np.asarray(values)
    if vals.ndim not in (1, 2):
        raise SegmentationError(f"values are (n,) or (n, k), got shape {vals.shape}")
    if not np.issubdtype(segments.dtype, np.integer):
        raise SegmentationError(
            f"segment ids must be integers, got {segments.dtype}; cast them (0 = nodata)"
        )
    if keys is not None:
        keys = np.asarray(keys, dtype=np.int64)
        if keys.shape != (len(vals),):
            raise SegmentationError(f"{len(vals)} values but {keys.size} segment ids")
        order = np.argsort(keys, kind="stable")
        keys, vals = keys[order], vals[order]
        if np.any(keys[1:] == keys[:-1]):
            raise SegmentationError("segment ids of the values must be unique")
    k = vals.shape[1] if vals.ndim == 2 else None
    mask = None if valid is None else _valid_data(valid, segments)

    def shared(token: str) -> tuple:
        lut = dask.delayed(vals, pure=True, name=f"segment-values-{token}")
        kd = None if keys is None else dask.delayed(keys, pure=True, name=f"segment-ids-{token}")
        return lut, kd, fill, mask

    out = on_blocks(
        _paint_block,
        segments.data,
        vals,
        keys,
        fill,
        mask,
        dtype=vals.dtype,
        name="paint-segments",
        chunks=None if k is None else lambda chunks: ((k,), *chunks),
        new_axis=None if k is None else [0],
        graph_args=shared,
    )
    coords = dict(segments.coords.items())
    if k is None:
        result = xr.DataArray(out, dims=segments.dims, coords=coords, name=segments.name)
    else:
        names = band_names if band_names is not None else [str(i) for i in range(k)]
        result = xr.DataArray(
            out, dims=("band", *segments.dims), coords={**coords, "band": list(names)}
        )
    return georeferenced(result, segments)
