"""The one chunked apply: any fitted estimator over a scene, block by block.

Classifiers, clusterers, probability layers (and later segment painting) all go through
:func:`predict_raster`. On a dask-backed scene it builds a lazy graph (nothing computes until
a writer or ``.compute()``); on an in-memory scene it runs the very same block function on
the whole array, which is the oracle the dask path is tested against.
"""

from __future__ import annotations

import copy
import logging
import uuid
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.classes import ClassMap
from rasterclass.errors import BandMismatchError, EstimatorError, param
from rasterclass.model import RasterModel, class_map_for, label_codes
from rasterclass.stack import match_bands

logger = logging.getLogger(__name__)


def _predict_is_argmax(estimator: Any) -> bool:
    """True when ``predict`` is the argmax of ``predict_proba`` (so one call gives both)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble._forest import ForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.tree import BaseDecisionTree

    from rasterclass.estimators.parametric import MaximumLikelihoodClassifier

    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    known = (
        ForestClassifier | BaseDecisionTree | MaximumLikelihoodClassifier | CalibratedClassifierCV
    )
    return isinstance(final, known)


def _predict_block(
    block: np.ndarray,
    estimator: Any,
    labels: np.ndarray | None,
    codes: np.ndarray,
    out_dtype: str,
    probabilities: bool,
) -> np.ndarray:
    """Predict one (band, y, x) block.

    Returns (1, y, x) class codes (0 where any band is NaN), or, with ``probabilities``,
    a float32 (2 + K, y, x) stack: codes, K class probabilities, confidence (NaN at nodata).
    """
    n_bands, h, w = block.shape
    pixels = block.reshape(n_bands, -1).T
    valid = np.isfinite(pixels).all(axis=1)
    n_out = 1 + (len(codes) + 1 if probabilities else 0)
    out = np.zeros((n_out, h * w), dtype=np.float32 if probabilities else np.dtype(out_dtype))
    if probabilities:
        out[1:] = np.nan
    if not valid.any():
        return out.reshape(n_out, h, w)
    X = pixels[valid]
    if probabilities:
        proba = np.asarray(estimator.predict_proba(X))
        out[1 : 1 + len(codes), valid] = proba.T
        out[-1, valid] = proba.max(axis=1)
        if _predict_is_argmax(estimator):
            pred = np.asarray(estimator.classes_)[proba.argmax(axis=1)]
        else:
            pred = np.asarray(estimator.predict(X))
    else:
        pred = np.asarray(estimator.predict(X))
    if labels is None:
        idx = pred.astype(np.int64)
    else:
        idx = np.clip(np.searchsorted(labels, pred), 0, len(labels) - 1)
    out[0, valid] = codes[idx]
    return out.reshape(n_out, h, w)


def _for_blocks(estimator: Any) -> Any:
    """A copy of ``estimator`` with its own parallelism off (``n_jobs=1``).

    Blocks already run in parallel (one per core); letting each block's predict spawn its own
    pool oversubscribes the cores and is slower than cache-friendly blocks on one thread each.
    Predictions are unchanged.
    """
    try:
        params = estimator.get_params(deep=True)
    except (AttributeError, TypeError):
        return estimator
    jobs = {k: 1 for k, v in params.items() if k.split("__")[-1] == "n_jobs" and v != 1}
    if not jobs:
        return estimator
    est = copy.deepcopy(estimator)
    est.set_params(**jobs)
    return est


def _model_handle(estimator: Any) -> Any:
    """The model as one graph node: scattered once to every worker on a distributed cluster,
    one delayed key otherwise (never embedded in each block's task)."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return dask.delayed(estimator, pure=True, name=f"model-{uuid.uuid4().hex}")
    logger.info("scattering the model to %d workers", len(client.nthreads()))
    return client.scatter(estimator, broadcast=True, hash=False)


def _resolve(
    scene: xr.DataArray, model: Any, class_map: ClassMap | None
) -> tuple[xr.DataArray, Any, ClassMap]:
    if isinstance(model, RasterModel):
        return match_bands(scene, model.band_names), model.estimator, model.class_map
    estimator = model
    if not hasattr(estimator, "predict"):
        raise EstimatorError(f"{type(estimator).__name__} has no predict(); pass a fitted model")
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in is not None and n_in != scene.sizes["band"]:
        raise BandMismatchError(
            f"the model expects {n_in} bands, the scene has {scene.sizes['band']}; give the "
            "bands the model was trained on, in the same order"
        )
    return scene, estimator, class_map or class_map_for(estimator)


def predict_raster(
    scene: xr.DataArray,
    model: RasterModel | Any,
    *,
    class_map: ClassMap | None = None,
    probabilities: bool = False,
) -> xr.Dataset:
    """Apply a fitted model to every valid pixel of a scene, block by block.

    Parameters
    ----------
    scene
        ``(band, y, x)`` DataArray, dask-backed (lazy) or in memory; NaN marks nodata.
    model
        A :class:`RasterModel` (bands matched by name) or any fitted scikit-learn estimator
        or Pipeline (bands taken in order) with ``predict``.
    class_map
        Codes/names/colours for a plain estimator; default from its ``classes_``.
    probabilities
        Also return per-class probabilities and a confidence layer (max probability); needs
        ``predict_proba``.

    Returns
    -------
    xarray.Dataset
        ``classes`` (y, x) uint8/uint16 codes, 0 at nodata; with ``probabilities`` also
        ``probabilities`` (band=class name, y, x) and ``confidence`` (y, x), float32, NaN
        at nodata. Lazy when the scene is.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> scene = xr.DataArray(np.random.default_rng(0).random((2, 4, 5), dtype="f4"),
    ...                      dims=("band", "y", "x"), coords={"band": ["a", "b"]})
    >>> knn = KNeighborsClassifier(1).fit([[0, 0], [1, 1]], ["dark", "bright"])
    >>> predict_raster(scene, knn)["classes"].shape
    (4, 5)
    """
    scene, estimator, cmap = _resolve(scene, model, class_map)
    if probabilities and not hasattr(estimator, "predict_proba"):
        raise EstimatorError(
            f"{type(estimator).__name__} has no predict_proba, so there are no probability "
            f"layers; leave out {param('probabilities')} or use a probabilistic model "
            "(rf, svm, maxlike)"
        )
    if isinstance(model, RasterModel):
        labels, codes = model.label_codes()
    else:
        labels, codes = label_codes(estimator, cmap)
    out_dtype = cmap.dtype.name
    k = len(codes)
    n_out = 1 + (k + 1 if probabilities else 0)
    data = scene.data
    if isinstance(data, da.Array):
        if len(data.chunks[0]) != 1:
            data = data.rechunk({0: -1})
        est = _model_handle(_for_blocks(estimator))
        result = da.map_blocks(
            _predict_block,
            data,
            est,
            labels,
            codes,
            out_dtype,
            probabilities,
            chunks=((n_out,), *data.chunks[1:]),
            dtype=np.float32 if probabilities else out_dtype,
            meta=np.array((), dtype=np.float32 if probabilities else out_dtype),
            name=f"predict-{uuid.uuid4().hex}",
        )
    else:
        result = _predict_block(
            np.asarray(data), estimator, labels, codes, out_dtype, probabilities
        )
    coords = {k_: v for k_, v in scene.coords.items() if k_ != "band"}
    classes = result[0].astype(out_dtype) if probabilities else result[0]
    ds = xr.Dataset(coords=coords)
    ds["classes"] = xr.DataArray(classes, dims=("y", "x"), coords=coords)
    if probabilities:
        ds["probabilities"] = xr.DataArray(
            result[1 : 1 + k],
            dims=("band", "y", "x"),
            coords={**coords, "band": list(cmap.names)},
        )
        ds["confidence"] = xr.DataArray(result[-1], dims=("y", "x"), coords=coords)
    ds.attrs["class_map"] = cmap.to_dict()
    return _keep_georef(ds, scene)


def _keep_georef(ds: xr.Dataset, scene: xr.DataArray) -> xr.Dataset:
    crs = scene.rio.crs
    if crs is not None:
        ds = ds.rio.write_crs(crs)
        for name in ds.data_vars:
            ds[name] = ds[name].rio.write_crs(crs)
    if "x" in scene.dims and "y" in scene.dims:
        transform = scene.rio.transform(recalc=True)
        ds = ds.rio.write_transform(transform)
        for name in ds.data_vars:
            ds[name] = ds[name].rio.write_transform(transform)
    return ds


def stack_probabilities(prediction: xr.Dataset) -> xr.DataArray:
    """Probability layers plus the confidence layer as one (band, y, x) array for writing."""
    proba = prediction["probabilities"]
    conf = prediction["confidence"].expand_dims(band=["confidence"])
    return xr.concat([proba, conf], dim="band")


def _recode_block(block: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Translate one block of class codes through ``lut``; codes outside it become 0."""
    codes = block.astype(np.int64, copy=False)
    inside = (codes >= 0) & (codes < len(lut))
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
        the table become 0 (nodata); ``lut[0]`` should be 0 to keep nodata.

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
    data = classes.data
    if isinstance(data, da.Array):
        out = da.map_blocks(
            _recode_block,
            data,
            table,
            dtype=table.dtype,
            meta=np.array((), dtype=table.dtype),
            name=f"recode-{dask.base.tokenize(data, table)}",
        )
    else:
        out = _recode_block(np.asarray(data), table)
    return classes.copy(data=out)


def _paint_block(
    block: np.ndarray, values: np.ndarray, keys: np.ndarray | None, fill: Any
) -> np.ndarray:
    """Value of every pixel's segment: ``values[id]`` (dense) or ``values[keys == id]``."""
    ids = np.asarray(block).astype(np.int64, copy=False)
    if keys is None:
        inside = (ids > 0) & (ids < len(values))
        idx = np.where(inside, ids, 0)
    else:
        idx = np.clip(np.searchsorted(keys, ids), 0, max(len(keys) - 1, 0))
        inside = (ids > 0) & (keys[idx] == ids) if len(keys) else np.zeros(ids.shape, bool)
    if len(values) == 0:
        out = np.empty((*ids.shape, *values.shape[1:]), dtype=values.dtype)
        out[...] = fill
    else:
        out = values[idx]
        out[~inside] = fill
    if values.ndim == 2:
        out = np.moveaxis(out, -1, 0)
    return out


def paint_segments(
    segments: xr.DataArray,
    values: np.ndarray,
    *,
    keys: np.ndarray | None = None,
    fill: Any = 0,
    band_names: list[str] | None = None,
) -> xr.DataArray:
    """Paint a value per segment (class code, probabilities, final id) block by block.

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
    data = segments.data
    if isinstance(data, da.Array):
        token = dask.base.tokenize(data, vals, keys, fill)
        lut = dask.delayed(vals, pure=True, name=f"segment-values-{token}")
        kd = None if keys is None else dask.delayed(keys, pure=True, name=f"segment-ids-{token}")
        if k is None:
            chunks: tuple = data.chunks
        else:
            chunks = ((k,), *data.chunks)
        out = da.map_blocks(
            _paint_block,
            data,
            lut,
            kd,
            fill,
            chunks=chunks,
            new_axis=None if k is None else [0],
            dtype=vals.dtype,
            meta=np.array((), dtype=vals.dtype),
            name=f"paint-segments-{token}",
        )
    else:
        out = _paint_block(np.asarray(data), vals, keys, fill)
    coords = dict(segments.coords.items())
    if k is None:
        result = xr.DataArray(out, dims=segments.dims, coords=coords, name=segments.name)
    else:
        names = band_names if band_names is not None else [str(i) for i in range(k)]
        result = xr.DataArray(
            out, dims=("band", *segments.dims), coords={**coords, "band": list(names)}
        )
    crs = segments.rio.crs
    if crs is not None:
        result = result.rio.write_crs(crs)
    if "x" in segments.coords and "y" in segments.coords:
        result = result.rio.write_transform(segments.rio.transform(recalc=True))
    return result
