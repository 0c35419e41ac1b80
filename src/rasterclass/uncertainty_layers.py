"""Per-pixel uncertainty of a classification from its class probabilities.

Owns :func:`uncertainty`: the margin (highest minus second highest probability; the
"smallest margin" of active learning, Scheffer et al. 2001) and the normalised Shannon entropy
(Shannon 1948, divided by ``log K`` so that it runs from 0 to 1) of the probability layers that
:func:`rasterclass.predict_raster` gives, block by block through the one chunked apply
(:func:`rasterclass.apply.on_blocks`): lazy when the probabilities are, identical for any
chunking (every pixel is computed from its own probabilities only), NaN at nodata.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from rasterclass.apply import on_blocks
from rasterclass.errors import EstimatorError
from rasterclass.stack import georeferenced

logger = logging.getLogger(__name__)

#: Band names of the uncertainty layers, in order.
UNCERTAINTY_BANDS = ("margin", "entropy")


def uncertainty_block(block: np.ndarray) -> np.ndarray:
    """Margin and normalised entropy of one (K, y, x) probability block.

    Returns a float32 (2, y, x) block; NaN where any probability is NaN (nodata). With one
    class the margin is its probability and the entropy 0.
    """
    k, h, w = block.shape
    p = block.reshape(k, -1).astype(np.float64)
    out = np.full((2, h * w), np.nan, dtype=np.float32)
    valid = np.isfinite(p).all(axis=0)
    if not valid.any():
        return out.reshape(2, h, w)
    pv = np.clip(p[:, valid], 0.0, 1.0)
    top = np.sort(pv, axis=0)[::-1]
    second = top[1] if k > 1 else np.zeros(top.shape[1])
    out[0, valid] = top[0] - second
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pv > 0, pv * np.log(pv), 0.0)
    entropy = -terms.sum(axis=0) / np.log(k) if k > 1 else np.zeros(pv.shape[1])
    out[1, valid] = np.clip(entropy, 0.0, 1.0)
    return out.reshape(2, h, w)


def uncertainty(probabilities: xr.DataArray) -> xr.DataArray:
    """Margin and normalised entropy of class probabilities, pixel by pixel.

    The margin is the highest minus the second highest class probability (0: the model
    cannot tell the two likeliest classes apart; 1: it is sure), the smallest-margin
    criterion of active learning (Scheffer, Decomain & Wrobel 2001, Active hidden Markov
    models for information extraction, IDA 2001). The entropy is Shannon's
    ``-sum(p log p)`` (Shannon 1948) divided by ``log K``, the entropy of K equal
    probabilities, so it runs from 0 (one class certain) to 1 (all classes equally likely),
    as sits' ``sits_uncertainty(type = "entropy")`` maps it.

    Parameters
    ----------
    probabilities
        ``(band, y, x)`` class probabilities in [0, 1], one band per class (the
        ``probabilities`` layer of :func:`rasterclass.predict_raster`, without the confidence
        band), NaN at nodata; dask-backed (lazy result) or in memory.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` float32 with the bands ``margin`` and ``entropy``, both in [0, 1],
        NaN where any probability is NaN (scene nodata); on the probabilities' grid (CRS,
        transform) and chunks, nodata NaN (``rio.nodata``). Lazy when the probabilities are.

    Raises
    ------
    EstimatorError
        ``probabilities`` is not a ``(band, y, x)`` array of at least one class.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> p = xr.DataArray(np.array([[[0.5, 1.0, np.nan]], [[0.5, 0.0, np.nan]]], dtype="f4"),
    ...                  dims=("band", "y", "x"), coords={"band": ["water", "forest"]})
    >>> u = uncertainty(p)
    >>> u["band"].values.tolist()
    ['margin', 'entropy']
    >>> u.values[:, 0].round(3).tolist()
    [[0.0, 1.0, nan], [1.0, 0.0, nan]]
    """
    if probabilities.dims != ("band", "y", "x") or probabilities.sizes["band"] < 1:
        raise EstimatorError(
            f"uncertainty needs (band, y, x) class probabilities, got dims "
            f"{probabilities.dims}; pass predict_raster(scene, model, probabilities=True)"
            '["probabilities"]'
        )
    return float_layers(uncertainty_block, probabilities, names=UNCERTAINTY_BANDS)


def float_layers(
    func: Callable[..., np.ndarray],
    source: xr.DataArray,
    *args: Any,
    names: tuple[str, ...],
    graph_args: Callable[[str], tuple] | None = None,
) -> xr.DataArray:
    """Float32 layers computed pixel by pixel from a ``(band, y, x)`` source, block by block
    (:func:`rasterclass.apply.on_blocks`, all source bands in one block): the uncertainty and
    AOA layers.

    Parameters
    ----------
    func
        ``func(block, *args)``: a ``(band, y, x)`` block to a float32 ``(len(names), y, x)``
        block.
    source
        ``(band, y, x)`` DataArray, dask-backed (lazy result) or in memory.
    *args, graph_args
        As for :func:`rasterclass.apply.on_blocks`.
    names
        The output bands.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` float32 on the source's grid (CRS, transform, chunks), bands
        ``names`` (also in ``long_name``), nodata NaN.

    Raises
    ------
    EstimatorError
        ``func`` returned another number of bands (raised when computed).

    Examples
    --------
    >>> src = xr.DataArray(np.ones((3, 2, 2), "f4"), dims=("band", "y", "x"))
    >>> float_layers(lambda b: b.sum(0, keepdims=True), src, names=("total",)).values[0].tolist()
    [[3.0, 3.0], [3.0, 3.0]]
    """
    k = len(names)
    data = on_blocks(
        func,
        source.data,
        *args,
        dtype=np.float32,
        name="-".join(names),
        chunks=lambda chunks: ((k,), *chunks[1:]),
        rechunk={0: -1},
        graph_args=graph_args,
    )
    if data.shape[0] != k:
        raise EstimatorError(f"{k} layers expected ({names}), got {data.shape[0]}")
    coords = {key: v for key, v in source.coords.items() if "band" not in v.dims}
    out = xr.DataArray(data, dims=("band", "y", "x"), coords={**coords, "band": list(names)})
    out = georeferenced(out, source)
    out = out.rio.write_nodata(np.nan, encoded=False)
    out.attrs["long_name"] = tuple(names)
    return out.astype(np.float32, copy=False)
