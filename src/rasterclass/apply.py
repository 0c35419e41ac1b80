"""The one chunked apply: any fitted estimator over a scene, block by block.

Classifiers, clusterers, probability layers (and later segment painting) all go through
:func:`predict_raster`. On a dask-backed scene it builds a lazy graph (nothing computes until
a writer or ``.compute()``); on an in-memory scene it runs the very same block function on
the whole array, which is the oracle the dask path is tested against.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.classes import ClassMap
from rasterclass.errors import BandMismatchError, EstimatorError
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
            "layers; drop --probabilities or use a probabilistic model (rf, svm, maxlike)"
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
        est = dask.delayed(estimator, pure=True, name=f"model-{uuid.uuid4().hex}")
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
