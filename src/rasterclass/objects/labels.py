"""Segments and classes: training labels, prediction, painting and nodata masking.

Owns the step from training polygons to labelled segments (:func:`label_segments`: the class
that covers a segment sufficiently, grouped by polygon), the prediction of a class per segment
from its features (:func:`classify_segments`), the lazy painting of segment classes and
probabilities onto the raster as the layers of a prediction (:func:`paint_map`) and the
masking of segment ids by the scene's validity (:func:`mask_segments`).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.apply import (
    paint_segments,
    stack_probabilities,
    valid_pixels,
    with_map_attributes,
)
from rasterclass.classes import ClassMap
from rasterclass.errors import (
    BandMismatchError,
    TrainingClassesError,
    TrainingDataError,
    TrainingDataWarning,
    param,
)
from rasterclass.model import codes_of, label_codes, probability_order
from rasterclass.objects._blocks import dask_scene
from rasterclass.objects.features import check_grid, feature_columns, segment_features

logger = logging.getLogger(__name__)


#: The parameter that makes each method's segments smaller (smaller values: smaller ones).
_SIZE_PARAMS = {"shepherd": "min_size", "slic": "region_size", "felzenszwalb": "scale"}


def _smaller(segments: xr.DataArray) -> str:
    """How to get smaller segments, in a message: the parameter of the method that drew
    them (given segments: segment the scene again)."""
    name = _SIZE_PARAMS.get(str(segments.attrs.get("segmentation")))
    if name is None:
        return "smaller segments (segment the scene more finely)"
    return f"smaller segments ({param(name, '...')})"


def _segment_ids_at(segments: xr.DataArray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    data = segments.data
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64)
    if isinstance(data, da.Array):
        return np.asarray(data.vindex[rows, cols].compute()).astype(np.int64)
    return np.asarray(data)[rows, cols].astype(np.int64)


def label_segments(
    scene: xr.DataArray,
    segments: xr.DataArray,
    training: Any,
    class_column: str,
    *,
    features: pd.DataFrame | None = None,
    min_overlap: float = 0.5,
    min_polygon_share: float | None = 0.5,
    all_touched: bool = False,
    legend: ClassMap | None = None,
    layer: str | None = None,
) -> Any:
    """Give segments the class of the training polygons that cover them.

    A segment takes the class that covers most of its covered pixels, when it is covered
    sufficiently:

    - that class covers at least ``min_overlap`` of the segment's (valid) pixels, or
    - the segment holds at least ``min_polygon_share`` of the pixels of one training polygon
      of that class. Training polygons are often drawn smaller than the objects (a sample
      inside a field); the segment that holds most of such a polygon is the object it
      samples. ``None`` keeps the first rule only.

    The segment's group is the polygon that contributes most of its class pixels, for
    validation grouped by polygon. Only the chunks under the polygons are read.

    Parameters
    ----------
    scene, segments
        The scene and its segment ids (same grid).
    training, class_column
        Training polygons (path or GeoDataFrame, any CRS) and their class column.
    features
        The segments' feature table (from :func:`segment_features`); computed when omitted.
    min_overlap
        Share (0-1] of a segment's pixels its majority class must cover.
    min_polygon_share
        Share (0-1] of a training polygon's pixels that a segment must hold to take the
        polygon's class even when the polygon covers less than ``min_overlap`` of it.
    all_touched, legend, layer
        As for :func:`rasterclass.extract_samples`.

    Returns
    -------
    rasterclass.Samples
        One sample per labelled segment: ``X`` the segment's features (columns
        :func:`feature_columns`, also ``band_names``), ``y`` class codes, ``groups`` polygon
        ids, ``rows``/``cols`` the segment's centroid pixel; ``info["segments"]`` the ids.

    Raises
    ------
    TrainingDataError
        No segment is covered sufficiently.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np, rasterio, xarray as xr, rioxarray
    >>> from shapely.geometry import box
    >>> import rasterclass as rc
    >>> yx = {"y": [35.0, 25.0, 15.0, 5.0], "x": [5.0, 15.0, 25.0, 35.0]}  # 4 x 4 px of 10 m
    >>> scene = xr.DataArray(np.repeat([[1.0, 1.0, 9.0, 9.0]], 4, axis=0)[None],
    ...                      dims=("band", "y", "x"), coords={"band": ["b"], **yx})
    >>> scene = rc.as_scene(scene.rio.write_crs("EPSG:32633").rio.write_transform(
    ...     rasterio.Affine(10, 0, 0, 0, -10, 40)))
    >>> segments = xr.DataArray(np.repeat([[1, 1, 2, 2]], 4, axis=0).astype("u4"),
    ...                         dims=("y", "x"), coords=yx)  # two segments: left, right
    >>> training = gpd.GeoDataFrame({"class": ["soil", "crop"]}, crs="EPSG:32633",
    ...                             geometry=[box(0, 0, 20, 40), box(20, 0, 40, 40)])
    >>> features = rc.segment_features(scene, segments)
    >>> samples = rc.label_segments(scene, segments, training, "class", features=features)
    >>> model = rc.fit_model(samples, rc.MinimumDistanceClassifier())
    >>> samples.y.tolist(), samples.info["segments"].tolist()  # codes: crop 1, soil 2
    ([2, 1], [1, 2])

    """
    from rasterclass.sampling import Samples, extract_samples

    for name, share in (("min_overlap", min_overlap), ("min_polygon_share", min_polygon_share)):
        if share is not None and not 0 < share <= 1:
            raise TrainingDataError(f"{name} is a share in (0, 1], got {share}")
    scene = dask_scene(scene)
    check_grid(segments, scene)
    if features is None:
        features = segment_features(scene, segments)
    pixels = extract_samples(
        scene,
        training,
        class_column,
        all_touched=all_touched,
        legend=legend,
        layer=layer,
    )
    seg = _segment_ids_at(segments, pixels.rows, pixels.cols)
    frame = pd.DataFrame({"segment": seg, "code": pixels.y, "polygon": pixels.groups})
    frame = frame[frame["segment"] > 0]
    frame = frame[frame["segment"].isin(features.index)]
    by_class = frame.groupby(["segment", "code"]).size().rename("n").reset_index()
    by_class = by_class.sort_values(["segment", "n", "code"], ascending=[True, False, True])
    best = by_class.drop_duplicates("segment").set_index("segment")
    best["share"] = best["n"] / features.loc[best.index, "pixels"]
    by_poly = frame.groupby(["segment", "code", "polygon"]).size().rename("n").reset_index()
    polygon_pixels = frame.groupby("polygon").size()
    by_poly["polygon_share"] = by_poly["n"] / polygon_pixels.loc[by_poly["polygon"]].to_numpy()
    by_poly = by_poly.sort_values(["segment", "code", "n", "polygon"], ascending=[1, 1, 0, 1])
    poly = by_poly.drop_duplicates(["segment", "code"]).set_index(["segment", "code"])
    keys = list(zip(best.index.tolist(), best["code"].tolist(), strict=True))
    best["polygon_share"] = (
        by_poly.groupby(["segment", "code"])["polygon_share"].max().loc[keys].to_numpy()
    )
    ok = best["share"] >= min_overlap
    if min_polygon_share is not None:
        ok |= best["polygon_share"] >= min_polygon_share
    labelled = best[ok]
    n_touched = len(best)
    if labelled.empty:
        top = f"{best['share'].max():.2f}" if n_touched else "0"
        rule = f"for at least {min_overlap:.0%} of its pixels"
        if min_polygon_share is not None:
            rule += f" nor holds {min_polygon_share:.0%} of a polygon"
        raise TrainingDataError(
            f"no segment is covered by the training polygons {rule} ({n_touched} segments "
            f"touched, best share {top}); use larger polygons, {_smaller(segments)}, or a "
            f"lower {param('min_overlap')}"
        )
    codes = labelled["code"].to_numpy(np.int64)
    ids = labelled.index.to_numpy(np.int64)
    groups = poly["polygon"].loc[list(zip(ids.tolist(), codes.tolist(), strict=True))]
    groups = groups.to_numpy(np.int64)
    cols = feature_columns(features)
    rows_c = features.loc[ids, "centroid_row"].round().to_numpy(np.int64)
    cols_c = features.loc[ids, "centroid_col"].round().to_numpy(np.int64)
    cmap = pixels.class_map
    missing = sorted(set(np.unique(pixels.y).tolist()) - set(np.unique(codes).tolist()))
    if missing and len(np.unique(codes)) < 2:
        # said here, not as "the training data hold one class only": they hold more
        raise TrainingClassesError(
            f"only class {cmap.name_of(int(codes[0]))!r} labels a training segment: class(es) "
            f"{[cmap.name_of(c) for c in missing]} cover no segment sufficiently, and a "
            f"classifier needs two classes; use {_smaller(segments)} or larger polygons, or "
            f"lower {param('min_overlap')}"
        )
    if missing:
        warnings.warn(
            TrainingDataWarning(
                f"class(es) {[cmap.name_of(c) for c in missing]} cover no segment "
                "sufficiently and get no training segment: the map will not show them; use "
                f"{_smaller(segments)} or larger polygons, or lower {param('min_overlap')}",
            ),
            stacklevel=2,
        )
    logger.info(
        "%d of %d touched segments labelled (overlap >= %.0f%%): %s",
        len(ids),
        n_touched,
        100 * min_overlap,
        {cmap.name_of(c): int((codes == c).sum()) for c in np.unique(codes).tolist()},
    )
    return Samples(
        X=features.loc[ids, cols].to_numpy(np.float64),
        y=codes,
        groups=groups,
        rows=rows_c,
        cols=cols_c,
        band_names=cols,
        class_map=cmap,
        info={
            "object_based": True,
            "min_overlap": min_overlap,
            "min_polygon_share": min_polygon_share,
            "segments": ids,
            "class_column": class_column,
            "all_touched": all_touched,
            **{
                key: pixels.info[key]
                for key in (
                    "contested_pixels",
                    "overlap_pixels_merged",
                    "duplicate_features_removed",
                    "features_without_class",
                )
                if key in pixels.info
            },
        },
        footprint=pixels.footprint,
        radiometry=pixels.radiometry,
    )


def classify_segments(
    model: Any, features: pd.DataFrame, *, probabilities: bool = False
) -> pd.DataFrame:
    """Predict the class of every segment from its features.

    Parameters
    ----------
    model
        A :class:`rasterclass.RasterModel` trained on segment features (its ``band_names``
        are feature columns).
    features
        Feature table from :func:`segment_features`.
    probabilities
        Also return one probability column per class (needs ``predict_proba``) and
        ``confidence``.

    Returns
    -------
    pandas.DataFrame
        Indexed by segment id: ``code`` (map code), ``class`` (name) [, class probabilities,
        ``confidence``].

    Raises
    ------
    BandMismatchError
        The feature table lacks a feature the model was trained on.
    EstimatorError
        ``probabilities`` asked of a model without ``predict_proba``.

    Examples
    --------
    >>> import pandas as pd
    >>> import rasterclass as rc
    >>> features = pd.DataFrame({"b_mean": [1.0, 9.0, 8.5]}, index=[4, 7, 9])  # segment ids
    >>> estimator = rc.MinimumDistanceClassifier().fit([[1.0], [9.0]], [2, 1])  # map codes
    >>> class_map = rc.ClassMap.from_codes([1, 2], ["crop", "soil"])
    >>> model = rc.RasterModel(estimator, ["b_mean"], class_map)
    >>> rc.classify_segments(model, features)["class"].tolist()
    ['soil', 'crop', 'crop']

    """
    from rasterclass.errors import EstimatorError

    missing = [c for c in model.band_names if c not in features.columns]
    if missing:
        raise BandMismatchError(
            f"the feature table lacks the model's features {missing}; compute the features "
            "of the same bands with segment_features()"
        )
    X = features[list(model.band_names)].to_numpy(np.float64)
    est = model.estimator
    labels, codes = label_codes(model)
    out = pd.DataFrame(index=features.index)
    if len(X) == 0:
        out["code"] = np.empty(0, dtype=np.int64)
        out["class"] = np.empty(0, dtype=object)
        return out
    if probabilities:
        if not hasattr(est, "predict_proba"):
            raise EstimatorError(
                f"{type(est).__name__} has no predict_proba, so there are no probability "
                f"layers; leave out {param('probabilities')} or use a probabilistic model "
                "(rf, svm, maxlike)"
            )
        proba = np.asarray(est.predict_proba(X))
    pred = np.asarray(est.predict(X))
    out["code"] = codes_of(pred, labels, codes)
    out["class"] = [model.class_map.name_of(c) for c in out["code"]]
    if probabilities:
        for k in probability_order(codes, model.class_map):
            out[model.class_map.name_of(int(codes[k]))] = proba[:, k].astype(np.float32)
        out["confidence"] = proba.max(axis=1).astype(np.float32)
    return out


def paint_map(
    segments: xr.DataArray,
    classes: pd.DataFrame,
    class_map: ClassMap,
    *,
    scene: xr.DataArray | None = None,
    probabilities: bool = False,
) -> xr.Dataset:
    """Paint classified segments onto the raster: the map layers :func:`predict_raster` gives.

    Every pixel takes its segment's ``code`` (and, with ``probabilities``, its segment's class
    probabilities and confidence), lazily, block by block through
    :func:`rasterclass.apply.paint_segments`. The result has the layout, nodata and
    attributes of :func:`rasterclass.predict_raster`'s, so an object-based map is written,
    assessed and reported as a pixel-based one is (Blaschke 2010, "Object based image
    analysis for remote sensing", ISPRS J. 65(1): the classified objects are the map).

    Parameters
    ----------
    segments
        ``(y, x)`` integer segment ids (0 = nodata), dask-backed (lazy result) or in memory.
    classes
        :func:`classify_segments` table indexed by segment id: ``code`` and, for
        ``probabilities``, one column per class name and ``confidence``.
    class_map
        The model's class map: the output dtype, the band order of the probabilities
        (legend order, else code order) and the class names.
    scene
        The scene the segments describe: its nodata pixels are nodata in every layer even
        where a segment covers them (nodata in, nodata out). Segments without a row are
        nodata as well.
    probabilities
        Also paint ``probabilities`` and ``confidence``.

    Returns
    -------
    xarray.Dataset
        ``classes`` (y, x) uint8/uint16 codes, 0 at nodata, with the class map; with
        ``probabilities`` also ``probabilities`` (band = class name, y, x; the class code in
        the ``class_code`` coordinate; the classes of ``class_map`` found in ``classes``)
        and ``confidence`` (y, x), float32 in [0, 1], NaN at nodata.

    Raises
    ------
    SegmentationError
        Segment ids that are not integers, or a table with repeated segment ids.
    GridMismatchError
        ``scene`` is not on the grid of ``segments``.
    KeyError
        ``probabilities`` with a table without ``confidence`` (classified without them).

    Examples
    --------
    Segments 4 and 9 are classified; segment 7 has no row, so it is nodata:

    >>> import numpy as np, pandas as pd, xarray as xr
    >>> import rasterclass as rc
    >>> segments = xr.DataArray(np.array([[4, 4, 7], [9, 9, 0]], dtype="u4"), dims=("y", "x"))
    >>> table = pd.DataFrame({"code": [2, 1], "crop": [0.3, 0.8], "soil": [0.7, 0.2],
    ...                       "confidence": [0.7, 0.8]}, index=[4, 9])
    >>> class_map = rc.ClassMap.from_codes([1, 2], ["crop", "soil"])
    >>> painted = rc.paint_map(segments, table, class_map, probabilities=True)
    >>> painted["classes"].values.tolist()
    [[2, 2, 0], [1, 1, 0]]
    >>> painted["probabilities"]["band"].values.tolist(), painted["class_code"].values.tolist()
    (['crop', 'soil'], [1, 2])
    >>> painted["confidence"].values.round(2).tolist()
    [[0.7, 0.7, nan], [0.8, 0.8, nan]]
    """
    ds = xr.Dataset()
    codes = classes["code"].to_numpy().astype(class_map.dtype)
    ds["classes"] = _paint_rows(segments, classes, codes, scene).rename(None)
    if probabilities:
        present = [n for n in class_map.names if n in classes.columns]
        names = [*present, "confidence"]
        values = classes[names].to_numpy(np.float32)
        painted = _paint_rows(
            segments, classes, values, scene, fill=np.float32(np.nan), band_names=names
        )
        ds["probabilities"] = painted.isel(band=slice(0, len(present))).assign_coords(
            class_code=("band", [class_map.code_of(n) for n in present])
        )
        ds["confidence"] = painted.isel(band=-1, drop=True)
    ds.attrs["class_map"] = class_map.to_dict()
    return with_map_attributes(ds, class_map)


def paint_classes(*args: Any, **kwargs: Any) -> xr.DataArray:
    """Deprecated since 0.2, removed in 0.3: ``paint_map(...)["classes"]``."""
    warnings.warn(_RENAMED.format("paint_classes", ""), FutureWarning, stacklevel=2)
    return paint_map(*args, **kwargs)["classes"]


def paint_probabilities(*args: Any, **kwargs: Any) -> xr.DataArray:
    """Deprecated since 0.2, removed in 0.3: :func:`paint_map` with ``probabilities=True``."""
    warnings.warn(
        _RENAMED.format("paint_probabilities", ", probabilities=True"), FutureWarning, stacklevel=2
    )
    return stack_probabilities(paint_map(*args, probabilities=True, **kwargs))


_RENAMED = "{} is deprecated: use rasterclass.paint_map(segments, classes, class_map{})"


def _paint_rows(
    segments: xr.DataArray,
    classes: pd.DataFrame,
    values: np.ndarray,
    scene: xr.DataArray | None,
    **options: Any,
) -> xr.DataArray:
    """Paint ``values`` (one row per row of ``classes``, keyed by its segment-id index),
    nodata where ``scene`` (when given) is nodata."""
    valid = None if scene is None else valid_pixels(dask_scene(scene))
    keys = classes.index.to_numpy(np.int64)
    return paint_segments(segments, values, keys=keys, valid=valid, **options)


def mask_segments(segments: xr.DataArray, scene: xr.DataArray) -> xr.DataArray:
    """Segment ids with 0 wherever the scene is nodata (lazy when either is).

    Parameters
    ----------
    segments
        ``(y, x)`` integer segment ids on the scene's grid.
    scene
        ``(band, y, x)`` scene; a pixel is nodata where any band is NaN.

    Returns
    -------
    xarray.DataArray
        The ids (same dtype, coords, attributes), 0 at the scene's nodata.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scene = xr.DataArray(np.array([[[1.0, np.nan, 2.0]]]), dims=("band", "y", "x"))
    >>> segs = xr.DataArray(np.array([[4, 4, 5]], dtype="u4"), dims=("y", "x"))
    >>> mask_segments(segs, scene).values.tolist()
    [[4, 0, 5]]
    """
    scene = dask_scene(scene)
    check_grid(segments, scene)
    valid = valid_pixels(scene).data
    data = segments.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=valid.chunks)
    elif valid.chunks != data.chunks:
        valid = valid.rechunk(data.chunks)
    out = da.where(valid, data, np.zeros((), dtype=segments.dtype)).astype(segments.dtype)
    return segments.copy(data=out)
