"""Temporal gap fill and temporal features of a multi-date stack, pixel by pixel.

Both work block by block on the spatial chunks with the time (band) axis in one chunk, so the
result is the same for any chunking and stays lazy until written or computed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from rasterclass.errors import SceneError, param
from rasterclass.stack import georeferenced
from rasterclass.temporal.dates import TEMPORAL_STATS, as_series, series_layout, split_name

logger = logging.getLogger(__name__)

#: Scene attribute recording that (and how) a scene was gap-filled; a model trained on it
#: keeps the record (``summary["gap_fill"]``) so that prediction gap-fills its scene too.
GAP_FILL_ATTR = "gap_fill"
#: How :func:`temporal_features` writes the date of the maximum.
DATE_OF_MAX = ("index", "doy")

Groups = tuple[tuple[np.ndarray, np.ndarray], ...]


def _days(dates: np.ndarray) -> np.ndarray:
    """Dates as float days since 1970-01-01."""
    return dates.astype("datetime64[s]").astype(np.int64).astype(np.float64) / 86400.0


def _fill_series(v: np.ndarray, ok: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0 of ``v`` (T, N) over the ``ok`` entries, at times
    ``t`` (T,) ascending; the nearest valid value before the first / after the last valid
    date; NaN where no date is valid. The same arithmetic as :func:`numpy.interp`."""
    n_t = v.shape[0]
    idx = np.broadcast_to(np.arange(n_t)[:, None], v.shape)
    prev = np.maximum.accumulate(np.where(ok, idx, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(ok, idx, n_t)[::-1], axis=0)[::-1]
    has_prev, has_next = prev >= 0, nxt < n_t
    p, q = np.clip(prev, 0, n_t - 1), np.clip(nxt, 0, n_t - 1)
    vp, vq = np.take_along_axis(v, p, axis=0), np.take_along_axis(v, q, axis=0)
    tp, tq, tt = t[p], t[q], t[:, None]
    span = tq - tp
    between = has_prev & has_next & (span > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (vq - vp) / np.where(between, span, 1.0)
        inner = slope * (tt - tp) + vp
    out = np.where(between, inner, np.where(has_prev, vp, vq))
    return np.where(has_prev | has_next, out, np.nan)


def _fill_block(block: np.ndarray, valid: np.ndarray | None, groups: Groups) -> np.ndarray:
    """Gap-fill one block (bands, h, w): each group (band positions, times) along time."""
    bands, h, w = block.shape
    flat = block.reshape(bands, h * w).astype(np.float64)
    ok = np.isfinite(flat)
    if valid is not None:
        ok &= valid.reshape(bands, h * w) != 0
    out = np.full(flat.shape, np.nan)
    for positions, times in groups:
        out[positions] = _fill_series(flat[positions], ok[positions], times)
    return out.reshape(bands, h, w).astype(block.dtype)


def _valid_bands(series: xr.DataArray, valid: xr.DataArray) -> xr.DataArray:
    """The validity mask with one band per band of ``series`` (by position or by date)."""
    if valid.ndim == 2:
        valid = valid.expand_dims(band=1)
    if valid.shape[1:] != series.shape[1:]:
        raise SceneError(
            f"the validity mask is {valid.shape[2]}x{valid.shape[1]} px, the series "
            f"{series.shape[2]}x{series.shape[1]} px; give a mask on the series' grid "
            f"({param('valid_mask', 'FILE')})"
        )
    n = series.sizes["band"]
    if valid.sizes["band"] == n:
        return valid
    try:
        dated = as_series(valid)
    except SceneError:
        dated = None
    if dated is not None:
        by_date: dict[Any, int] = {}
        for positions, times in series_layout(dated).values():
            by_date.update(zip(times.tolist(), positions.tolist(), strict=True))
        wanted = [split_name(str(name))[1] for name in series.band.values]
        missing = sorted({str(w) for w in wanted if w is None or w.item() not in by_date})
        if missing:
            raise SceneError(
                f"the validity mask has no band of {missing} ({param('valid_mask', 'FILE')})"
            )
        return dated.isel(band=[by_date[w.item()] for w in wanted if w is not None])
    raise SceneError(
        f"the validity mask has {valid.sizes['band']} bands for a series of {n}: give one "
        f"mask band per series band, or mask bands named with their dates "
        f"({param('valid_mask', 'FILE')})"
    )


def _groups(series: xr.DataArray) -> Groups:
    return tuple((pos, _days(dates)) for pos, dates in series_layout(series).values())


def _dask_pair(series: xr.DataArray, valid: xr.DataArray | None) -> tuple[Any, Any]:
    """The series data (time in one chunk) and the mask's, on the same chunks."""
    data = series.data
    if not isinstance(data, da.Array):
        if valid is None or not isinstance(valid.data, da.Array):
            return data, None if valid is None else np.asarray(valid.data)
        data = da.from_array(data, chunks=(-1, *valid.data.chunks[1:]))
    data = data.rechunk({0: -1})
    if valid is None:
        return data, None
    return data, da.asarray(valid.data).rechunk(data.chunks)


def gap_fill(series: xr.DataArray, valid: xr.DataArray | None = None) -> xr.DataArray:
    """Fill the gaps of a time series by linear interpolation in time, pixel by pixel.

    For each pixel and variable, the values at dates that are masked (``valid`` is 0, as in
    eo-learn's ``IS_VALID`` mask where 1 is valid and 0 cloud or no data) or NaN are
    interpolated linearly in time (days) between the nearest valid dates before and after,
    as :func:`numpy.interp` does; before the first and after the last valid date the nearest
    valid value is repeated (no extrapolation of trends). A pixel with no valid date stays
    NaN. Dates that fall at the same instant are not interpolated between (the earlier value
    is used). Method: the linear temporal interpolation of eo-learn's
    ``LinearInterpolationTask`` and of Inglada et al. (2017, Remote Sensing 9(1):95, the
    iota2 land-cover chain), without resampling to new dates.

    Parameters
    ----------
    series
        A multi-date stack (bands ``<variable>@<date>``, see
        :func:`rasterclass.as_series`), float; lazy or in memory.
    valid
        A validity mask on the same grid: one band per band of ``series`` (by position), or
        bands named with their dates (``IS_VALID_2015-07-11``) matched by date, or one band
        for every date; nonzero = valid. None: only NaN values are gaps.

    Returns
    -------
    xarray.DataArray
        The series with its gaps filled (same bands, dtype, grid); lazy when either input
        is a dask array, with the series' spatial chunks (time in one chunk). Identical for
        any chunking. ``attrs["gap_fill"]`` records the step (JSON), so that a model trained
        on the result records it and :func:`rasterclass.predict` gap-fills its scene too.

    Raises
    ------
    BandMismatchError
        A band of ``series`` without a date.
    SceneError
        A mask on another grid, or whose bands cannot be matched to the series.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> s = xr.DataArray(np.array([0.2, 0.9, 0.6, np.nan], "f4").reshape(4, 1, 1),
    ...                  dims=("band", "y", "x"), coords={"band": [
    ...     "ndvi@2020-01-01", "ndvi@2020-01-11", "ndvi@2020-01-21", "ndvi@2020-01-31"]})
    >>> ok = xr.DataArray(np.array([1, 0, 1, 1], "u1").reshape(4, 1, 1), dims=("band", "y", "x"))
    >>> gap_fill(s, ok).values.ravel().round(2).tolist()
    [0.2, 0.4, 0.6, 0.6]
    """
    groups = _groups(series)
    mask = None if valid is None else _valid_bands(series, valid)
    data, vdata = _dask_pair(series, mask)
    if isinstance(data, da.Array):
        filled = da.map_blocks(_fill_block, data, vdata, groups, dtype=data.dtype)
    else:
        filled = _fill_block(np.asarray(data), vdata, groups)
    out = series.copy(data=filled)
    out.attrs[GAP_FILL_ATTR] = json.dumps(
        {"method": "linear in time", "ends": "nearest valid value", "mask": valid is not None}
    )
    logger.debug("gap fill of %d variables over %d bands", len(groups), series.sizes["band"])
    return georeferenced(out, series)


def _features_block(
    block: np.ndarray, groups: Groups, stats: Sequence[str], doys: Sequence[np.ndarray] | None
) -> np.ndarray:
    """Temporal features of one block: len(groups) * len(stats) bands, float32."""
    _, h, w = block.shape
    flat = block.reshape(block.shape[0], h * w).astype(np.float64)
    out: list[np.ndarray] = []
    for g, (positions, _) in enumerate(groups):
        v = flat[positions]
        ok = np.isfinite(v)
        count = ok.sum(axis=0)
        empty = count == 0
        lo = np.where(ok, v, np.inf).min(axis=0)
        hi = np.where(ok, v, -np.inf).max(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(ok, v, 0.0).sum(axis=0) / count
            std = np.sqrt(np.where(ok, (v - mean) ** 2, 0.0).sum(axis=0) / count)
        at = np.where(ok, v, -np.inf).argmax(axis=0)
        when = at.astype(np.float64) if doys is None else doys[g][at].astype(np.float64)
        values = {
            "min": lo,
            "max": hi,
            "mean": mean,
            "std": std,
            "amplitude": hi - lo,
            "date_of_max": when,
        }
        out.extend(np.where(empty, np.nan, values[s]) for s in stats)
    return np.stack(out).reshape(len(out), h, w).astype(np.float32)


def temporal_features(
    series: xr.DataArray,
    stats: Sequence[str] = TEMPORAL_STATS,
    *,
    date_of_max: str = "index",
) -> xr.DataArray:
    """Per-pixel temporal features of each variable of a time series.

    ``min``, ``max``, ``mean``, ``std`` (population standard deviation, ``ddof=0``),
    ``amplitude`` (max - min) and ``date_of_max`` (when the maximum is reached: its position
    in date order, or its day of year), over the pixel's non-NaN dates; gap-fill first
    (:func:`gap_fill`) to use a validity mask. These are the simple phenological metrics of
    TIMESAT (Jonsson & Eklundh 2004, Computers & Geosciences 30:833) without curve fitting.

    Parameters
    ----------
    series
        A multi-date stack (bands ``<variable>@<date>``).
    stats
        Which features, from :data:`rasterclass.temporal.TEMPORAL_STATS`, in this order.
    date_of_max
        ``"index"`` (0-based position of the date in the series, the first on ties) or
        ``"doy"`` (day of year, 1-366, of that date).

    Returns
    -------
    xarray.DataArray
        Bands ``<variable>_<stat>`` (``ndvi_max``, ``ndvi_date_of_max``) for each variable,
        float32, NaN where a pixel has no value at any date; lazy when the series is, same
        spatial chunks, identical for any chunking.

    Raises
    ------
    SceneError
        An unknown feature or ``date_of_max``.
    BandMismatchError
        A band without a date.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> s = xr.DataArray(np.array([0.2, 0.9, 0.6], "f4").reshape(3, 1, 1), dims=("band", "y", "x"),
    ...                  coords={"band": ["ndvi@2020-01-01", "ndvi@2020-03-01", "ndvi@2020-05-01"]})
    >>> f = temporal_features(s, ["max", "amplitude", "date_of_max"], date_of_max="doy")
    >>> f.band.values.tolist(), f.values.ravel().round(2).tolist()
    (['ndvi_max', 'ndvi_amplitude', 'ndvi_date_of_max'], [0.9, 0.7, 61.0])
    """
    unknown = [s for s in stats if s not in TEMPORAL_STATS]
    if unknown or not stats:
        raise SceneError(
            f"unknown temporal feature(s) {unknown}; choose from {', '.join(TEMPORAL_STATS)} "
            f"({param('stats')})"
        )
    if date_of_max not in DATE_OF_MAX:
        raise SceneError(
            f"date_of_max={date_of_max!r}: use 'index' or 'doy' ({param('date_of_max')})"
        )
    layout = series_layout(series)
    groups = tuple((pos, _days(dates)) for pos, dates in layout.values())
    doys = None
    if date_of_max == "doy":
        doys = [
            (d.astype("datetime64[D]") - d.astype("datetime64[Y]")).astype(np.int64) + 1
            for _, d in layout.values()
        ]
    names = [f"{var}_{s}" for var in layout for s in stats]
    data = series.data
    if isinstance(data, da.Array):
        data = data.rechunk({0: -1})
        values = data.map_blocks(
            _features_block,
            groups,
            list(stats),
            doys,
            dtype=np.float32,
            chunks=((len(names),), *data.chunks[1:]),
        )
    else:
        values = _features_block(np.asarray(data), groups, list(stats), doys)
    out = xr.DataArray(
        values,
        dims=("band", "y", "x"),
        coords={"band": names, **{d: series[d] for d in ("y", "x") if d in series.coords}},
        name="temporal_features",
    )
    return georeferenced(out, series)
