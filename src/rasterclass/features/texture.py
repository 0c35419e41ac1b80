"""Texture of one layer over a moving window: local mean and variance, GLCM measures.

Every measure of a pixel is a function of the ``window x window`` pixels around it only, so
the dask path is :func:`dask.array.map_overlap` with a halo of half the window and the same
kernel as the numpy path; the kernel adds the window's pixels in one fixed order (one shifted
slice after the other, never a running sum), so a pixel's value is bit-for-bit the same for
any chunking. Boundary: pixels outside the scene are missing (the NaN halo
``map_overlap(boundary=nan)`` puts there, as ``np.pad(..., constant_values=nan)`` does on
the whole array), like nodata pixels inside it: a window's statistics are over its valid
pixels; a pixel that is nodata itself stays NaN.

Measures:

- ``mean``, ``variance``: the valid pixels' mean and population variance (``ddof=0``),
  as ``scipy.ndimage.generic_filter(layer, np.nanmean / np.nanvar, size=window,
  mode="constant", cval=nan)``.
- ``glcm_contrast``, ``glcm_homogeneity``, ``glcm_dissimilarity``: Haralick et al. (1973)
  grey-level co-occurrence measures as scikit-image's ``graycoprops`` defines them, on a
  symmetric, normalised GLCM of distance 1, averaged over the angles 0, 45, 90 and 135
  degrees (``graycomatrix(q, [1], [0, pi/4, pi/2, 3*pi/4], levels, symmetric=True,
  normed=True)``). The layer is quantised to ``levels`` grey levels over a fixed value range
  (not the block's own range, which would change with chunking). A measure over a
  normalised symmetric GLCM is the mean over the window's pixel pairs of a function of the
  two grey levels (``(i - j)**2``, ``1 / (1 + (i - j)**2)``, ``|i - j|``), which is how it is
  computed here: vectorised over the block instead of one ``graycomatrix`` per pixel, pairs
  with a missing pixel left out; the tests compare with scikit-image pixel by pixel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.errors import BandMismatchError, param

#: The texture measures.
MEASURES = ("mean", "variance", "glcm_contrast", "glcm_homogeneity", "glcm_dissimilarity")

#: GLCM pair offsets (row, col) of the angles 0, 45, 90, 135 degrees at distance 1, as
#: scikit-image's ``graycomatrix`` steps them (``round(sin a)``, ``round(cos a)``).
_OFFSETS = ((0, 1), (1, 1), (1, 0), (1, -1))

_PAIR_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "glcm_contrast": lambda d: d * d,
    "glcm_homogeneity": lambda d: 1.0 / (1.0 + d * d),
    "glcm_dissimilarity": np.abs,
}


def check_texture(measures: Sequence[str], window: int, levels: int) -> list[str]:
    """Known measures (lower case), an odd window >= 3, 2..256 levels; else a
    :class:`BandMismatchError` naming the option."""
    out = [str(m).strip().lower() for m in measures]
    unknown = [m for m in out if m not in MEASURES]
    if unknown:
        raise BandMismatchError(
            f"unknown texture measure {unknown} in {param('texture')}; known: {list(MEASURES)}"
        )
    if isinstance(window, bool) or not isinstance(window, int) or window < 3 or window % 2 == 0:
        raise BandMismatchError(
            f"the texture window is an odd number of pixels >= 3, got {window!r}; set "
            f"{param('texture_window', 5)}"
        )
    if isinstance(levels, bool) or not isinstance(levels, int) or not 2 <= levels <= 256:
        raise BandMismatchError(
            f"GLCM grey levels must be an integer in 2..256, got {levels!r}; set "
            f"{param('texture_levels', 32)}"
        )
    return out


def _box_sum(a: np.ndarray, r: int, rows: range, cols: range) -> np.ndarray:
    """Sum of ``a`` over each output pixel's window offsets (fixed order: bit-identical
    for a pixel wherever it lies in a block). ``a`` is padded by ``r`` on every side."""
    h, w = a.shape[0] - 2 * r, a.shape[1] - 2 * r
    out = np.zeros((h, w), dtype=np.float64)
    for dy in rows:
        for dx in cols:
            out += a[dy : dy + h, dx : dx + w]
    return out


def _kernel(
    padded: np.ndarray, r: int, measure: str, levels: int, lo: float, hi: float
) -> np.ndarray:
    """One measure of the interior of a NaN-padded ``(h + 2r, w + 2r)`` array: ``(h, w)``."""
    v = np.asarray(padded, dtype=np.float64)
    ok = np.isfinite(v)
    full = range(2 * r + 1)
    h, w = v.shape[0] - 2 * r, v.shape[1] - 2 * r
    centre = ok[r : r + h, r : r + w]
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure in ("mean", "variance"):
            vz = np.where(ok, v, 0.0)
            n = _box_sum(ok.astype(np.float64), r, full, full)
            mean = _box_sum(vz, r, full, full) / n
            if measure == "mean":
                out = mean
            else:
                sq = np.zeros((h, w), dtype=np.float64)
                for dy in full:
                    for dx in full:
                        d = vz[dy : dy + h, dx : dx + w] - mean
                        sq += np.where(ok[dy : dy + h, dx : dx + w], d * d, 0.0)
                out = sq / n
        else:
            q = np.floor((np.clip(v, lo, hi) - lo) / (hi - lo) * levels)
            q = np.where(ok, np.minimum(q, levels - 1), np.nan)
            f = _PAIR_FUNCTIONS[measure]
            per_angle = []
            for oy, ox in _OFFSETS:
                partner = np.full_like(q, np.nan)
                rs = slice(0, q.shape[0] - oy)
                src_c = slice(max(ox, 0), q.shape[1] + min(ox, 0))
                dst_c = slice(max(-ox, 0), q.shape[1] - max(ox, 0))
                partner[rs, dst_c] = q[oy:, src_c]
                pair_ok = np.isfinite(q) & np.isfinite(partner)
                val = np.where(pair_ok, f(q - partner), 0.0)
                rows = range(2 * r + 1 - oy)
                cols = range(max(-ox, 0), 2 * r + 1 - max(ox, 0))
                count = _box_sum(pair_ok.astype(np.float64), r, rows, cols)
                per_angle.append(_box_sum(val, r, rows, cols) / count)
            stacked = np.stack(per_angle)
            valid = np.isfinite(stacked)
            n_angles = valid.sum(axis=0)
            out = np.where(valid, stacked, 0.0).sum(axis=0) / n_angles
    return np.where(centre, out, np.nan).astype(np.float32)


def _block(block: np.ndarray, r: int, measure: str, levels: int, lo: float, hi: float) -> Any:
    out = np.full(block.shape, np.nan, dtype=np.float32)
    out[r:-r, r:-r] = _kernel(block, r, measure, levels, lo, hi)
    return out


def _overlapped(data: da.Array, r: int, measure: str, levels: int, lo: float, hi: float) -> Any:
    """One measure over a dask array with a halo of ``r``. A window wider than the array
    (dask refuses a halo deeper than the array) works on the array padded with NaN by
    ``r`` (its own chunks on each side, cropped off again), which is what the halo's NaN
    boundary gives otherwise."""
    kernel = partial(_block, r=r, measure=measure, levels=levels, lo=lo, hi=hi)
    meta = np.array((), "f4")
    if r < min(data.shape):
        return da.map_overlap(kernel, data, depth=r, boundary=np.nan, dtype=np.float32, meta=meta)
    padded = da.pad(data.astype(np.float64), r, mode="constant", constant_values=np.nan)
    out = da.map_overlap(kernel, padded, depth=r, boundary="none", dtype=np.float32, meta=meta)
    return out[r:-r, r:-r]


def texture(
    layer: xr.DataArray,
    measures: Sequence[str] = ("mean", "variance", "glcm_contrast"),
    window: int = 5,
    *,
    levels: int = 32,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> xr.DataArray:
    """Texture measures of a layer over a moving window, lazily and chunk-invariantly.

    Parameters
    ----------
    layer
        ``(y, x)`` DataArray (dask-backed or in memory), NaN at nodata.
    measures
        Any of :data:`MEASURES`: ``mean``, ``variance``, ``glcm_contrast``,
        ``glcm_homogeneity``, ``glcm_dissimilarity`` (see the module's notes).
    window
        Side of the square window in pixels, odd, >= 3 (the dask halo is ``window // 2``).
    levels
        Grey levels the GLCM measures quantise the layer to.
    value_range
        ``(low, high)`` of that quantisation, in the layer's units (values outside are
        clipped): fixed, so that every chunk and every scene quantises alike.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` float32, one band per measure named after it; units: the layer's
        for ``mean``, squared for ``variance``, grey levels (squared for contrast) for the
        GLCM measures. NaN where the layer is NaN. Lazy when the layer is.

    Raises
    ------
    BandMismatchError
        An unknown measure, an even or too small window, or levels outside 2..256.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> layer = xr.DataArray(np.array([[0.0, 1.0, 0.0], [1.0, np.nan, 1.0]]), dims=("y", "x"))
    >>> out = texture(layer, ["mean", "glcm_contrast"], 3, levels=2)
    >>> out.sel(band="mean").values.astype(float).round(3).tolist()
    [[0.667, 0.6, 0.667], [0.667, nan, 0.667]]
    """
    names = check_texture(measures, window, levels)
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise BandMismatchError(
            f"the GLCM value range must have high > low, got {value_range}; set "
            f"{param('texture_range', '0,1')}"
        )
    r = window // 2
    data = layer.data
    layers = []
    for measure in names:
        args = (r, measure, levels, lo, hi)
        if isinstance(data, da.Array):
            out = _overlapped(data, r, measure, levels, lo, hi)
        else:
            out = _kernel(np.pad(np.asarray(data, float), r, constant_values=np.nan), *args)
        layers.append(out)
    stacked = da.stack(layers) if isinstance(data, da.Array) else np.stack(layers)
    coords = {k: v for k, v in layer.coords.items() if set(layer[k].dims) <= {"y", "x"}}
    return xr.DataArray(stacked, dims=("band", "y", "x"), coords={**coords, "band": names})
