"""The block functions of the chunked apply: :func:`on_blocks` runs any block function over an
array (lazily block by block when it is dask, once on the whole array when it is in memory),
:func:`predict_block` predicts one ``(band, y, x)`` block with a fitted estimator.

:func:`rasterclass.apply.predict_raster` builds on both; the Shepherd segmentation of
:mod:`rasterclass.objects` seeds its tiles through :func:`predict_block`; the uncertainty
layers and the lookup-table painting (:mod:`rasterclass.apply.segments`) run their blocks
through :func:`on_blocks`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import dask
import dask.array as da
import numpy as np

from rasterclass.estimators.forest_inference import ExactForest
from rasterclass.model import codes_of


def _predict_is_argmax(estimator: Any) -> bool:
    """True when ``predict`` is the argmax of ``predict_proba`` (so one call gives both)."""
    if isinstance(estimator, ExactForest):  # without importing scikit-learn for it
        return True
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.tree import BaseDecisionTree

    from rasterclass.estimators.parametric import MaximumLikelihoodClassifier

    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    known = (
        ExactForest
        | RandomForestClassifier
        | ExtraTreesClassifier
        | BaseDecisionTree
        | MaximumLikelihoodClassifier
        | CalibratedClassifierCV
    )
    return isinstance(final, known)


def on_blocks(
    func: Callable[..., np.ndarray],
    data: Any,
    *args: Any,
    dtype: Any,
    name: str,
    token: str | None = None,
    chunks: Callable[[tuple], tuple] | None = None,
    new_axis: list[int] | None = None,
    rechunk: Mapping[int, int] | None = None,
    graph_args: Callable[[str], tuple] | None = None,
) -> Any:
    """Run a block function over an array: lazily block by block when it is dask, once on the
    whole array when it is in memory (the very same function: the oracle of the dask path).

    Parameters
    ----------
    func
        ``func(block, *args)`` -> the result's block.
    data
        dask or numpy (or array-like) input.
    dtype
        The result's dtype.
    name, token
        The graph's name is ``f"{name}-{token}"``; ``token`` defaults to
        ``dask.base.tokenize(data, *args)``.
    chunks
        The result's chunks from the (rechunked) input's chunks; default the same.
    new_axis
        As for :func:`dask.array.map_blocks`.
    rechunk
        Chunks the dask input is brought to first (``{0: -1}``: all bands in one block).
    graph_args
        ``graph_args(token)`` gives the arguments the graph passes instead of ``args``
        (graph nodes shared by all blocks: a model, a lookup table); default ``args``.

    Returns
    -------
    dask.array.Array or numpy.ndarray
    """
    if not isinstance(data, da.Array):
        return func(np.asarray(data), *args)
    if rechunk is not None:
        data = data.rechunk(dict(rechunk))
    token = token or dask.base.tokenize(data, *args)
    return da.map_blocks(
        func,
        data,
        *(args if graph_args is None else graph_args(token)),
        chunks=None if chunks is None else chunks(data.chunks),
        new_axis=new_axis,
        dtype=dtype,
        meta=np.array((), dtype=dtype),
        name=f"{name}-{token}",
    )


def predict_block(
    block: np.ndarray,
    estimator: Any,
    labels: np.ndarray | None,
    codes: np.ndarray,
    out_dtype: str,
    probabilities: bool,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """Predict one (band, y, x) block.

    Returns (1, y, x) class codes (0 where any band is NaN), or, with ``probabilities``,
    a float32 (2 + K, y, x) stack: codes, K class probabilities (the ``predict_proba``
    columns listed in ``columns``, default all in ``classes_`` order), confidence (NaN at
    nodata).
    """
    n_bands, h, w = block.shape
    pixels = block.reshape(n_bands, -1).T
    valid = np.isfinite(pixels).all(axis=1)
    if columns is None:
        columns = np.arange(len(codes))
    n_out = 1 + (len(columns) + 1 if probabilities else 0)
    out = np.zeros((n_out, h * w), dtype=np.float32 if probabilities else np.dtype(out_dtype))
    if probabilities:
        out[1:] = np.nan
    if not valid.any():
        return out.reshape(n_out, h, w)
    X = pixels[valid]
    if probabilities:
        proba = np.asarray(estimator.predict_proba(X))
        out[1 : 1 + len(columns), valid] = proba[:, columns].T
        out[-1, valid] = proba.max(axis=1)
        if _predict_is_argmax(estimator):
            pred = np.asarray(estimator.classes_)[proba.argmax(axis=1)]
        else:
            pred = np.asarray(estimator.predict(X))
    else:
        pred = np.asarray(estimator.predict(X))
    out[0, valid] = codes_of(pred, labels, codes)
    return out.reshape(n_out, h, w)
