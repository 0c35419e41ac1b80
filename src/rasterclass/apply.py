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
from collections.abc import Callable, Mapping
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.classes import ClassMap
from rasterclass.errors import BandMismatchError, EstimatorError, param
from rasterclass.estimators.forest_inference import ExactForest, exact_forest
from rasterclass.features import add_features
from rasterclass.io import CLASSMAP_TAG, as_scene, scene_radiometry
from rasterclass.io import stack_probabilities as stack_probabilities  # re-exported
from rasterclass.model import (
    RasterModel,
    check_radiometry,
    class_map_for,
    codes_of,
    label_codes,
)
from rasterclass.model import probability_order as probability_order  # re-exported
from rasterclass.parallel import active_client
from rasterclass.stack import georeferenced, match_bands
from rasterclass.training_pixels import provenance_tags

logger = logging.getLogger(__name__)


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


def _for_blocks(estimator: Any) -> Any:
    """A copy of ``estimator`` with its own parallelism off (``n_jobs=1``); a forest as its
    exact compiled stand-in (:func:`rasterclass.estimators.forest_inference.exact_forest`).

    Blocks already run in parallel (one per core); letting each block's predict spawn its own
    pool oversubscribes the cores and is slower than cache-friendly blocks on one thread each.
    Predictions are unchanged.
    """
    if isinstance(estimator, ExactForest):
        if estimator.n_jobs == 1:
            return estimator
        single = copy.copy(estimator)
        single.n_jobs = 1
        return single
    try:
        params = estimator.get_params(deep=True)
    except (AttributeError, TypeError):
        return estimator
    jobs = {k: 1 for k, v in params.items() if k.split("__")[-1] == "n_jobs" and v != 1}
    est = estimator
    if jobs:
        est = copy.deepcopy(estimator)
        est.set_params(**jobs)
    return exact_forest(est) or est


def _model_handle(estimator: Any) -> Any:
    """The model as one graph node: scattered once to every worker on a distributed cluster,
    one delayed key otherwise (never embedded in each block's task)."""
    client = active_client()  # never imports dask.distributed to look for one
    if client is None:
        return dask.delayed(estimator, pure=True, name=f"model-{uuid.uuid4().hex}")
    logger.info("scattering the model to %d workers", len(client.nthreads()))
    return client.scatter(estimator, broadcast=True, hash=False)


def _resolve(
    scene: xr.DataArray, model: Any, class_map: ClassMap | None
) -> tuple[xr.DataArray, Any, ClassMap]:
    scene = as_scene(scene)
    if isinstance(model, RasterModel):
        scene = add_features(scene, model.features)
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
        stored differently from the training scene; the derived features the model was
        trained with, ``model.features``, are derived on the scene first, see
        :func:`rasterclass.add_features`) or any fitted scikit-learn estimator or Pipeline
        (bands taken in order) with ``predict``. Random forests and extra trees predict
        through :func:`rasterclass.estimators.forest_inference.exact_forest` where numba is
        installed: scikit-learn's labels and probabilities bit for bit, faster.
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
    labels, codes = label_codes(model, cmap)
    out_dtype = cmap.dtype.name
    columns = probability_order(codes, cmap)
    k = len(columns)
    n_out = 1 + (k + 1 if probabilities else 0)
    args = (labels, codes, out_dtype, probabilities, columns)
    lazy = isinstance(scene.data, da.Array)  # else predict_block runs once, on these args
    result = on_blocks(
        predict_block,
        scene.data,
        estimator if lazy else exact_forest(estimator) or estimator,
        *args,
        dtype=np.float32 if probabilities else out_dtype,
        name="predict",
        token=uuid.uuid4().hex,
        chunks=lambda chunks: ((n_out,), *chunks[1:]),
        rechunk={0: -1},
        graph_args=lambda _: (_model_handle(_for_blocks(estimator)), *args),
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
    ds = georeferenced(ds, scene)
    ds = with_map_attributes(ds, cmap)
    if isinstance(model, RasterModel):
        _with_training_record(ds, model)
    return ds


def _with_training_record(ds: xr.Dataset, model: RasterModel) -> None:
    """The model's record of its training pixels on the class layer, as map files carry it,
    so that a map written from it (:func:`rasterclass.write_map`, ``rio.to_raster``) lets
    :func:`rasterclass.assess` recognise training data in a reference."""
    tags, sidecars = provenance_tags(model.summary, model.training_pixels)
    if sidecars:  # too large for a tag: only the jobs write the sidecar file
        logger.info("the training-pixel record is too large for the map's attributes")
        return
    ds["classes"].attrs.update(tags)


def with_map_attributes(ds: xr.Dataset, cmap: ClassMap) -> xr.Dataset:
    """Nodata (0 for codes, NaN for probabilities) and class names on a prediction's layers.

    The attributes every prediction carries, whether its pixels were predicted
    (:func:`predict_raster`) or painted from segments
    (:func:`rasterclass.objects.paint_map`): ``rio.nodata``, ``long_name`` and, on
    ``classes``, the class map (``RASTERCLASS_CLASSMAP``) and ``CLASS_NAMES`` as JSON.

    Parameters
    ----------
    ds
        ``classes`` (y, x) and optionally ``probabilities`` (band, y, x) and ``confidence``.
    cmap
        The class map of the codes in ``classes``.

    Returns
    -------
    xarray.Dataset
        ``ds`` with the attributes set (modified in place and returned).
    """
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
