"""A fitted model over a scene: :func:`predict_raster`, the one entry of the chunked apply.

This module owns the scene and model resolution (bands matched, radiometry checked), the
model handed to the blocks (its own parallelism off, one graph node or scattered to a
cluster) and the output layers' nodata, class map and training-pixel record. The block
function itself is :func:`rasterclass.apply.blocks.predict_block`.
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

from rasterclass.apply.blocks import on_blocks, predict_block
from rasterclass.classes import ClassMap
from rasterclass.errors import BandMismatchError, EstimatorError, param
from rasterclass.estimators.forest_inference import ExactForest, exact_forest
from rasterclass.features import add_features
from rasterclass.io import CLASSMAP_TAG, as_scene, check_radiometry
from rasterclass.model import (
    RasterModel,
    class_map_for,
    label_codes,
    probability_order,
)
from rasterclass.parallel import active_client
from rasterclass.stack import georeferenced, match_bands
from rasterclass.training_pixels import provenance_tags

logger = logging.getLogger(__name__)


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
        check_radiometry(model.radiometry, scene, list(matched["band"].values), model.band_names)
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
