"""The block reader: the one lazy path from raster files to scene values.

Owns :class:`RasterSource` (one input file as the reader needs it: paths only, picklable, so the
dask graph runs on threads, processes or a ``dask.distributed`` cluster), the module-level
block function that reads one ``(band, y, x)`` window of every source (warping files that are
not on the scene grid), the conversion of stored values to scene values (scale and offset,
nodata to NaN) shared with in-memory arrays, and the opening of a raster with messages that
say what is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import rasterio
import rasterio.errors
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from rasterclass.errors import RasterclassIOError
from rasterclass.stack import Grid


@dataclass(frozen=True)
class RasterSource:
    """One input file as the block reader needs it (picklable, paths only).

    Attributes
    ----------
    path : str
        The file (opened anew in every block read).
    indexes : tuple of int
        The bands read, 1-based (rasterio's ``indexes``).
    warp : bool
        The file is not on the scene's grid: read through a ``WarpedVRT`` onto it.
    resampling : int
        The ``rasterio.enums.Resampling`` value of that warp.
    nodata : float or None
        Nodata value that overrides the file's (None: the file's own, if any).
    scales, offsets : tuple of float or None
        GDAL scale and offset of each band read (None: values are used as stored).
    """

    path: str
    indexes: tuple[int, ...]
    warp: bool
    resampling: int
    nodata: float | None
    scales: tuple[float, ...] | None = None
    offsets: tuple[float, ...] | None = None


def open_raster(path: str) -> Any:
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        if not os.path.exists(path):
            raise RasterclassIOError(f"raster {path} does not exist; check the path") from None
        raise RasterclassIOError(
            f"cannot read raster {path}: {exc}; the file is corrupt or not a raster GDAL "
            "reads (re-export or re-download it)"
        ) from None


def _read_source(
    src: Any, source: RasterSource, window: Window, alpha: bool = False
) -> np.ma.MaskedArray:
    if alpha:  # warped file without nodata: the added alpha band marks the covered area
        data = src.read(list(source.indexes), window=window)
        uncovered = src.read(src.count, window=window) == 0
        return np.ma.MaskedArray(data, mask=np.broadcast_to(uncovered, data.shape))
    if source.nodata is not None:
        data = src.read(list(source.indexes), window=window)
        mask = data == source.nodata
        return np.ma.MaskedArray(data, mask=mask)
    return src.read(list(source.indexes), window=window, masked=True)


def _read_block(
    sources: tuple[RasterSource, ...], grid: Grid, dtype: str, block_info: Any = None
) -> np.ndarray:
    """Read one (band, y, x) block of the stacked scene; nodata becomes NaN (0 for integer
    outputs such as segment ids)."""
    loc = block_info[None]["array-location"]
    (r0, r1), (c0, c1) = loc[1], loc[2]
    window = Window(c0, r0, c1 - c0, r1 - r0)
    parts = []
    for source in sources:
        try:
            with rasterio.open(source.path) as src:
                if source.warp:
                    alpha = source.nodata is None and src.nodata is None
                    with WarpedVRT(
                        src,
                        crs=grid.crs,
                        transform=grid.transform,
                        width=grid.width,
                        height=grid.height,
                        resampling=Resampling(source.resampling),
                        src_nodata=source.nodata if source.nodata is not None else src.nodata,
                        add_alpha=alpha,
                    ) as vrt:
                        arr = _read_source(vrt, source, window, alpha)
                else:
                    arr = _read_source(src, source, window)
        except rasterio.errors.RasterioError as exc:
            raise RasterclassIOError(
                f"cannot read pixels {window} of {source.path}: {exc}; the file is corrupt or "
                "truncated (re-export or re-download it)"
            ) from None
        parts.append(
            _to_values(arr.data, np.ma.getmaskarray(arr), dtype, source.scales, source.offsets)
        )
    return np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]


def _to_values(
    raw: np.ndarray,
    mask: np.ndarray | None,
    dtype: str,
    scales: Sequence[float] | None = None,
    offsets: Sequence[float] | None = None,
) -> np.ndarray:
    """Stored (band, y, x) values to scene values: ``value * scale + offset`` per band
    (computed in float64), cast to ``dtype``; masked pixels become NaN (0 for integer
    outputs such as segment ids). The one conversion behind every scene, read from files by
    :func:`open_scene` or handed over as an array to :func:`as_scene`."""
    if scales is not None or offsets is not None:
        n = raw.shape[0]
        scale = np.asarray(scales if scales is not None else [1.0] * n, dtype=np.float64)
        offset = np.asarray(offsets if offsets is not None else [0.0] * n, dtype=np.float64)
        out = (raw.astype(np.float64) * scale[:, None, None] + offset[:, None, None]).astype(
            dtype, copy=False
        )
    else:
        out = raw.astype(dtype, copy=False)
    if mask is not None and mask.any():
        out = out.copy() if out is raw else out
        out[mask] = np.nan if out.dtype.kind == "f" else 0
    return out


def lazy_read(
    sources: tuple[RasterSource, ...],
    grid: Grid,
    dtype: str,
    n_bands: int,
    ychunks: tuple[int, ...],
    xchunks: tuple[int, ...],
) -> da.Array:
    """The one lazy reader: a (band, y, x) dask array whose blocks :func:`_read_block` reads."""
    token = dask.base.tokenize(
        [(s, os.path.getmtime(s.path)) for s in sources], grid, dtype, ychunks, xchunks
    )
    return da.map_blocks(
        _read_block,
        sources,
        grid,
        dtype,
        chunks=((n_bands,), ychunks, xchunks),
        dtype=dtype,
        meta=np.array((), dtype=dtype),
        name=f"read-{token}",
    )


def float_dtype(dtypes: Sequence[str]) -> str:
    big = {"int32", "uint32", "int64", "uint64", "float64", "complex64", "complex128"}
    return "float64" if any(d in big for d in dtypes) else "float32"


def decode_block(
    block: np.ndarray,
    nodata: float | None,
    scales: tuple[float, ...] | None,
    offsets: tuple[float, ...] | None,
    dtype: str,
) -> np.ndarray:
    raw = np.asarray(block)
    mask = None if nodata is None else raw == nodata
    return _to_values(raw, mask, dtype, scales, offsets)
