"""Majority (modal) filter of a class map."""

from __future__ import annotations

import numpy as np
import xarray as xr

from rasterclass.errors import PostprocessError, param


def _box_sums(mask: np.ndarray, size: int) -> np.ndarray:
    """Number of True pixels in the ``size`` x ``size`` window around every pixel (outside
    the array counts as False): exact integer sums from a summed-area table."""
    r = size // 2
    padded = np.pad(mask.astype(np.int32), r + 1)[:-1, :-1]  # one leading row/col of zeros
    table = padded.cumsum(0).cumsum(1)
    h, w = mask.shape
    return (
        table[size : size + h, size : size + w]
        - table[:h, size : size + w]
        - table[size : size + h, :w]
        + table[:h, :w]
    )


def _majority_block(block: np.ndarray, size: int) -> np.ndarray:
    a = np.asarray(block)
    best = np.zeros(a.shape, dtype=a.dtype)
    best_count = np.zeros(a.shape, dtype=np.int32)
    centre_count = np.zeros(a.shape, dtype=np.int32)
    for code in np.unique(a[a > 0]).tolist():  # ascending: ties between others keep the lowest
        this = a == code
        count = _box_sums(this, size)
        better = count > best_count
        best[better] = code
        best_count[better] = count[better]
        centre_count[this] = count[this]
    out = np.where(centre_count == best_count, a, best)
    out[a == 0] = 0
    return out


def check_window(size: int) -> int:
    """``size`` as an odd window side of 3 or more, else :class:`PostprocessError`."""
    if (
        isinstance(size, bool)
        or not isinstance(size, int | np.integer)
        or size < 3
        or size % 2 == 0
    ):
        raise PostprocessError(
            f"{param('size')} is the window side in pixels, an odd number of 3 or more "
            f"(3, 5, 7...), got {size!r}"
        )
    return int(size)


def majority_filter(class_map: xr.DataArray, size: int = 3) -> xr.DataArray:
    """Replace every pixel by the most frequent class in the ``size`` x ``size`` window
    around it (a modal filter, as GRASS ``r.neighbors method=mode`` and OTB
    ``ClassificationMapRegularization``).

    Nodata (0) is not counted and stays nodata; pixels outside the scene are not counted.
    Ties keep the centre pixel's class when it is among the most frequent, else go to the
    lowest code. Counts are exact integer window sums (summed-area tables), one pass per
    class present in a chunk. Chunked with :func:`dask.array.map_overlap` and a halo of
    ``size // 2``, so the result is identical for every chunking and equal to the in-memory
    result.

    Parameters
    ----------
    class_map
        ``(y, x)`` integer class codes, 0 = nodata, numpy or dask.
    size
        Window side in pixels: odd, 3 or more.

    Returns
    -------
    xarray.DataArray
        Same shape, dtype, coords and attributes; lazy when ``class_map`` is.

    Raises
    ------
    PostprocessError
        ``size`` is not an odd integer of 3 or more, or the map is not 2-D integers.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> import rasterclass as rc
    >>> m = xr.DataArray(np.array([[1, 1, 1],
    ...                            [1, 2, 1],
    ...                            [2, 2, 0]], dtype="u1"), dims=("y", "x"))
    >>> rc.majority_filter(m, size=3).values.tolist()
    [[1, 1, 1], [1, 1, 1], [2, 2, 0]]
    """
    import dask.array as da

    size = check_window(size)
    if class_map.ndim != 2 or not np.issubdtype(class_map.dtype, np.integer):
        raise PostprocessError(
            f"a class map is a (y, x) array of integer codes, got dims {class_map.dims} of "
            f"{class_map.dtype}"
        )
    data = class_map.data
    if not isinstance(data, da.Array):
        return class_map.copy(data=_majority_block(np.asarray(data), size))
    depth = size // 2
    narrow = {ax: -1 for ax in (0, 1) if data.shape[ax] <= depth}  # a map thinner than the halo
    if narrow:
        data = data.rechunk(narrow)
    if min(min(c) for c in data.chunks) < depth:
        data = data.rechunk(
            {0: max(depth, max(data.chunks[0])), 1: max(depth, max(data.chunks[1]))}
        )
    out = data.map_overlap(
        _majority_block,
        depth={ax: 0 if len(data.chunks[ax]) == 1 else depth for ax in (0, 1)},
        boundary=0,
        dtype=data.dtype,
        size=size,
    )
    return class_map.copy(data=out)
