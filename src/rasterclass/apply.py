"""The one chunked apply: any fitted estimator over a scene, block by block.

Classifiers, clusterers, probability layers (and later segment painting) all go through
:func:`predict_raster`. On a dask-backed scene it builds a lazy graph (nothing computes until
a writer or ``.compute()``); on an in-memory scene it runs the very same block function on
the whole array, which is the oracle the dask path is tested against.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.classes import ClassMap
from rasterclass.errors import BandMismatchError, EstimatorError, param
from rasterclass.io import CLASSMAP_TAG, as_scene, scene_radiometry
from rasterclass.io import stack_probabilities as stack_probabilities  # re-exported
from rasterclass.model import RasterModel, check_radiometry, class_map_for, label_codes
from rasterclass.stack import match_bands

logger = logging.getLogger(__name__)


def _predict_is_argmax(estimator: Any) -> bool:
    """True when ``predict`` is the argmax of ``predict_proba`` (so one call gives both)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.tree import BaseDecisionTree

    from rasterclass.estimators.parametric import MaximumLikelihoodClassifier

    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    known = (
        RandomForestClassifier
        | ExtraTreesClassifier
        | BaseDecisionTree
        | MaximumLikelihoodClassifier
        | CalibratedClassifierCV
    )
    return isinstance(final, known)


def probability_order(codes: np.ndarray, class_map: ClassMap) -> np.ndarray:
    """Columns of ``predict_proba`` in the class map's order (the order of the bands).

    ``codes[j]`` is the map code of the estimator's ``j``-th class (its ``classes_`` order);
    the result lists, for every class of ``class_map`` the estimator knows, in class-map
    order (legend order, else code order), the column holding its probability.
    """
    column = {int(c): j for j, c in enumerate(np.asarray(codes).tolist())}
    return np.array([column[c] for c in class_map.codes if c in column], dtype=np.int64)


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
    scene = as_scene(scene)
    if isinstance(model, RasterModel):
        matched = match_bands(scene, model.band_names, model.band_aliases)
        records = {str(r.get("band")): r for r in scene_radiometry(scene) or []}
        ordered = [records.get(str(b)) for b in matched["band"].values]
        if all(r is not None for r in ordered):
            check_radiometry(model, ordered)  # type: ignore[arg-type]
        return matched, model.estimator, model.class_map
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
        ``(band, y, x)`` DataArray, dask-backed (lazy) or in memory: a scene from
        :func:`rasterclass.open_scene`, or any raster array, e.g.
        ``rioxarray.open_rasterio(path)`` (masked or not): it is brought to scene form by
        :func:`rasterclass.io.as_scene` (nodata from ``rio.nodata``/``_FillValue`` or NaN,
        scale/offset applied, band names from the ``band`` coordinate, ``long_name`` or
        positions ``band_1``...).
    model
        A :class:`RasterModel` (bands matched by name, or by position where both sides are
        unnamed; warns with :class:`~rasterclass.errors.RadiometryWarning` when the scene is
        stored differently from the training scene) or any fitted scikit-learn estimator or
        Pipeline (bands taken in order) with ``predict``.
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
        at nodata. Probability bands are in the class map's order (legend order, else code
        order) and carry their class code in the ``class_code`` coordinate. Lazy when the
        scene is. Every layer carries its nodata (``rio.nodata``: 0 for classes, NaN for
        probabilities), CRS and transform, so ``ds["classes"].rio.to_raster(path)`` writes a
        map with nodata; ``classes`` also carries the class map
        (``attrs["RASTERCLASS_CLASSMAP"]``, JSON, as map files do; ``ds.attrs["class_map"]``
        as a dict), which :func:`rasterclass.write_map` reads.

    Raises
    ------
    SceneError
        ``scene`` is not a raster array (see :func:`rasterclass.as_scene`).
    BandMismatchError
        The scene's bands are not the model's (by name, or in number for a plain
        estimator); the message says which are missing.
    EstimatorError
        The model has no ``predict`` (or no ``predict_proba`` with ``probabilities``).

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
    columns = probability_order(codes, cmap)
    k = len(columns)
    n_out = 1 + (k + 1 if probabilities else 0)
    data = scene.data
    if isinstance(data, da.Array):
        if len(data.chunks[0]) != 1:
            data = data.rechunk({0: -1})
        est = _model_handle(_for_blocks(estimator))
        result = da.map_blocks(
            predict_block,
            data,
            est,
            labels,
            codes,
            out_dtype,
            probabilities,
            columns,
            chunks=((n_out,), *data.chunks[1:]),
            dtype=np.float32 if probabilities else out_dtype,
            meta=np.array((), dtype=np.float32 if probabilities else out_dtype),
            name=f"predict-{uuid.uuid4().hex}",
        )
    else:
        result = predict_block(
            np.asarray(data), estimator, labels, codes, out_dtype, probabilities, columns
        )
    coords = {k_: v for k_, v in scene.coords.items() if k_ != "band"}
    classes = result[0].astype(out_dtype) if probabilities else result[0]
    ds = xr.Dataset(coords=coords)
    ds["classes"] = xr.DataArray(classes, dims=("y", "x"), coords=coords)
    if probabilities:
        band_codes = [int(codes[j]) for j in columns]
        ds["probabilities"] = xr.DataArray(
            result[1 : 1 + k],
            dims=("band", "y", "x"),
            coords={
                **coords,
                "band": [cmap.name_of(c) for c in band_codes],
                "class_code": ("band", band_codes),
            },
        )
        ds["confidence"] = xr.DataArray(result[-1], dims=("y", "x"), coords=coords)
    ds.attrs["class_map"] = cmap.to_dict()
    ds = _keep_georef(ds, scene)
    return _with_nodata(ds, cmap)


def _with_nodata(ds: xr.Dataset, cmap: ClassMap) -> xr.Dataset:
    """Nodata (0 for codes, NaN for probabilities) and class names on the output layers."""
    ds["classes"] = ds["classes"].rio.write_nodata(0, encoded=False)
    ds["classes"].attrs.update(
        {
            "long_name": "class",
            CLASSMAP_TAG: json.dumps(cmap.to_dict()),
            "CLASS_NAMES": json.dumps(
                {str(c): n for c, n in zip(cmap.codes, cmap.names, strict=True)}
            ),
        }
    )
    for name in ("probabilities", "confidence"):
        if name in ds:
            ds[name] = ds[name].rio.write_nodata(np.nan, encoded=False)
    if "probabilities" in ds:
        ds["probabilities"].attrs["long_name"] = tuple(
            str(b) for b in ds["probabilities"]["band"].values
        )
    if "confidence" in ds:
        ds["confidence"].attrs["long_name"] = "confidence"
    return ds


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
    data = segments.data
    mask = None if valid is None else _valid_data(valid, segments)
    if isinstance(data, da.Array):
        token = dask.base.tokenize(data, vals, keys, fill, mask)
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
            mask,
            chunks=chunks,
            new_axis=None if k is None else [0],
            dtype=vals.dtype,
            meta=np.array((), dtype=vals.dtype),
            name=f"paint-segments-{token}",
        )
    else:
        out = _paint_block(np.asarray(data), vals, keys, fill, mask)
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
