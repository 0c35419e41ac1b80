"""Object-based jobs: from scene files to written segments and object-based maps.

Owns the end-to-end runs: :func:`run_segmentation` (segment, write the segment raster and
optionally the feature table and polygons, :class:`SegmentationResult`),
:func:`resolve_segments` (segment a scene or take given segments, masked by its nodata) and
:func:`classify_objects` (segment, describe, label, train, classify, paint and write), with
every parameter and output checked before any work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Unpack

import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.errors import SegmentationError, TrainingDataError, param
from rasterclass.io import (
    PathLike,
    RasterOutput,
    check_output_format,
    open_segments,
    probability_output,
    read_legend,
    write_rasters,
    write_segments,
    write_table,
    write_vector,
)
from rasterclass.jobs.options import RunOptions, RunResult, RunSettings, TrainingOptions
from rasterclass.jobs.provenance import recorded
from rasterclass.jobs.scene import open_job_scene
from rasterclass.jobs.training import fit_and_validate
from rasterclass.objects._blocks import dask_scene
from rasterclass.objects.features import check_grid, segment_features
from rasterclass.objects.labels import (
    classify_segments,
    label_segments,
    mask_segments,
    paint_classes,
    paint_probabilities,
)
from rasterclass.objects.segmentation import check_segment_params, segment
from rasterclass.objects.vector import segments_to_vector
from rasterclass.training_pixels import provenance_tags

logger = logging.getLogger(__name__)


@dataclass
class SegmentationResult:
    """What a segmentation job did: the lazy segments, their count, files and timings."""

    segments: xr.DataArray
    n_segments: int | None
    features: pd.DataFrame | None = None
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def resolve_segments(
    scene: xr.DataArray,
    segments: xr.DataArray | PathLike | None,
    method: str = "shepherd",
    params: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Segments for a scene: segment it, open a segment raster, or check a given array.

    Given segments (a file or an array drawn elsewhere) may cover the scene's nodata; they
    are masked lazily by the scene's validity (id 0 where any band is nodata), so that no
    later step (features, labels, painting, vector or raster copies) sees nodata pixels.
    """
    scene = dask_scene(scene)
    if segments is None:
        return segment(scene, method, **dict(params or {}))
    if not isinstance(segments, xr.DataArray):
        segments = open_segments(segments, chunks=scene.data.chunks[1:])
    check_grid(segments, scene)
    if not np.issubdtype(segments.dtype, np.integer):
        raise SegmentationError(
            f"segment ids must be integers, got {segments.dtype}; cast them (0 = nodata)"
        )
    return mask_segments(segments, scene)


@recorded("scene", "scene_options.reference", outputs=("output", "features", "vector"))
def run_segmentation(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    output: PathLike,
    *,
    method: str = "shepherd",
    params: Mapping[str, Any] | None = None,
    features: PathLike | None = None,
    vector: PathLike | None = None,
    **run_options: Unpack[RunOptions],
) -> SegmentationResult:
    """Segment a scene and write the segment raster (uint32, 0 = nodata).

    Optionally also the feature table (``.parquet`` or ``.csv``) and the segment polygons
    with their features (GeoPackage).

    Parameters
    ----------
    scene
        Scene file(s) or an opened scene (``band`` x ``y`` x ``x``).
    output
        The segment raster GeoTIFF: uint32 segment ids, 0 = nodata.
    method
        ``"shepherd"`` (default), ``"slic"`` or ``"felzenszwalb"`` (see
        :func:`rasterclass.segment`).
    params
        The method's parameters (e.g. Shepherd's ``n_clusters`` and ``min_size`` in
        pixels), each validated.
    features
        Also write the segments' features (zonal statistics per band, area, shape; see
        :func:`rasterclass.segment_features`) here, as ``.parquet`` or ``.csv``.
    vector
        Also write the segment polygons with their features here (``.gpkg``).
    **run_options
        :class:`rasterclass.jobs.RunOptions`: ``overwrite`` (the segment raster, the
        features, the polygons), ``scene_options``, ``progress`` (of the segment raster's
        chunks; the features and polygons are not reported) and ``cog`` (the segment raster).

    Returns
    -------
    rasterclass.jobs.SegmentationResult
        ``segments`` (the lazy (y, x) segment ids), ``n_segments``, ``features`` (a
        DataFrame indexed by segment id, when written), ``outputs`` (paths written) and
        ``timings`` (seconds).

    Raises
    ------
    SegmentationError
        An unknown method, an invalid parameter, or a ``vector`` that is not a GeoPackage.
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    RasterclassIOError
        A scene file does not exist or cannot be read.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene
    >>> folder = pathlib.Path(example_scene()).parent  # scene.tif: water left, forest right
    >>> result = rc.run_segmentation(folder / "scene.tif", folder / "segments.tif",
    ...                              params={"n_clusters": 2, "min_size": 4})
    >>> result.n_segments, [pathlib.Path(p).name for p in result.outputs]
    (2, ['segments.tif'])
    """
    run = RunSettings(**run_options)
    run.check_outputs(
        {"output": output, "features": features, "vector": vector}, scene, rasters=("output",)
    )
    check_output_format(features, "table", "features")
    if vector is not None and not str(vector).lower().endswith(".gpkg"):
        raise SegmentationError(f"vector output {vector} must be a GeoPackage (.gpkg)")
    scene = open_job_scene(scene, run.scene_options)
    t0 = time.perf_counter()
    segs = segment(scene, method, **dict(params or {}))
    t1 = time.perf_counter()
    outputs = [write_segments(segs, output, **run.writing())]
    t2 = time.perf_counter()
    timings = {"segmentation": t1 - t0, "writing": t2 - t1}
    table = None
    if features is not None or vector is not None:
        table = segment_features(scene, segs)
        timings["features"] = time.perf_counter() - t2
        if features is not None:
            outputs.append(write_table(table, features, overwrite=run.overwrite))
        if vector is not None:
            outputs.append(
                write_vector(segments_to_vector(segs, table), vector, overwrite=run.overwrite)
            )
    n = segs.attrs.get("n_segments", len(table) if table is not None else None)
    return SegmentationResult(segs, n, table, outputs, timings)


@recorded(
    "scene",
    "training",
    "segments",
    "options.legend",
    "scene_options.reference",
    outputs=(
        "output",
        "probabilities",
        "model_output",
        "report_output",
        "segments_output",
        "features_output",
        "vector_output",
    ),
)
def classify_objects(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    training: Any,
    class_column: str,
    output: PathLike,
    options: TrainingOptions | None = None,
    *,
    segments: xr.DataArray | PathLike | None = None,
    segment_method: str = "shepherd",
    segment_params: Mapping[str, Any] | None = None,
    probabilities: PathLike | None = None,
    estimator: Any = None,
    min_overlap: float = 0.5,
    min_polygon_share: float | None = 0.5,
    model_output: PathLike | None = None,
    report_output: PathLike | None = None,
    segments_output: PathLike | None = None,
    features_output: PathLike | None = None,
    vector_output: PathLike | None = None,
    **run_options: Unpack[RunOptions],
) -> RunResult:
    """Object-based classification: segment, describe, train on segments, classify, paint.

    Parameters
    ----------
    scene
        Scene path(s) or an opened scene.
    training, class_column
        Training polygons and their class column (as for :func:`rasterclass.classify`).
    output
        Map GeoTIFF (colour table, class names, nodata 0), written by the normal writer.
    options
        :class:`rasterclass.TrainingOptions` (method, params, seed, all_touched,
        max_per_class = max training *segments* per class, legend, layer). The seed also
        seeds the segmentation unless ``segment_params`` sets one.
    segments
        A segment raster (path or DataArray on the scene's grid) to use instead of segmenting.
    segment_method, segment_params
        Segmentation when ``segments`` is None (see :func:`segment`).
    probabilities
        Also write per-class probabilities and confidence of each segment (GeoTIFF).
    estimator
        Any scikit-learn classifier; overrides ``options.method``.
    min_overlap, min_polygon_share
        When a segment counts as covered by a training class (see :func:`label_segments`).
    model_output
        Also save the model. It is trained on segment *features* (its band names are feature
        columns), so ``predict`` cannot apply it to pixels; it documents the run.
    report_output
        Write the cross-validation report (``options.cv_folds`` > 1; folds grouped by
        training polygon, one sample per labelled segment) in the format the extension
        names.
    segments_output, features_output, vector_output
        Also write the segment raster, the feature table with the predicted class
        (``.parquet``/``.csv``) and the segment polygons with features and class (``.gpkg``).
    **run_options
        ``overwrite`` (every output), ``scene_options``, ``progress`` (of the rasters) and
        ``cog`` (for the rasters), as :class:`rasterclass.jobs.RunOptions` says.

    Returns
    -------
    rasterclass.jobs.RunResult
        The model (trained on segment features), the training samples (one per segment),
        the cross-validated report (or None), files written and timings (seconds).

    Raises
    ------
    EstimatorError
        An unknown preset or a parameter the classifier does not accept; ``probabilities``
        asked of a classifier without ``predict_proba``.
    TrainingDataError
        An invalid training option or share, a missing class column, no training segment,
        or a single class.
    SegmentationError
        An unknown segmentation method or parameter, given segments that are not integers,
        or a ``vector_output`` that is not a GeoPackage.
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    GridMismatchError
        Given segments on another grid than the scene's.
    RasterclassIOError
        An input file does not exist or cannot be read.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene, example_training
    >>> folder = pathlib.Path(example_scene()).parent  # scene.tif: water left, forest right
    >>> segment_params = {"n_clusters": 2, "min_size": 4}  # two segments: water, forest
    >>> options = rc.TrainingOptions(params={"n_estimators": 10}, cv_folds=0)
    >>> result = rc.classify_objects(folder / "scene.tif", example_training(), "class",
    ...                              folder / "objects.tif", options,
    ...                              segment_params=segment_params)
    >>> result.model.class_map.names, len(result.samples)  # one sample per segment
    (('forest', 'water'), 2)
    >>> rc.open_scene(folder / "objects.tif", unscale=False).values[0, 0].astype(int).tolist()
    [2, 2, 2, 2, 1, 1, 1, 1]
    """
    opts = options or TrainingOptions()
    run = RunSettings(**run_options)
    for name, share in (("min_overlap", min_overlap), ("min_polygon_share", min_polygon_share)):
        if share is not None and not 0 < share <= 1:
            raise TrainingDataError(f"{param(name)} is a share in (0, 1], got {share}")
    seg_params = {"seed": opts.seed, **dict(segment_params or {})}
    if segments is None:
        check_segment_params(segment_method, seg_params)
    outputs = {
        "output": output,
        "probabilities": probabilities,
        "model_output": model_output,
        "report_output": report_output,
        "segments_output": segments_output,
        "features_output": features_output,
        "vector_output": vector_output,
    }
    rasters = ("output", "probabilities", "segments_output")
    run.check_training(
        opts, estimator, scene, training, outputs, rasters=rasters, segments=segments
    )
    check_output_format(features_output, "table", "features_output")
    if vector_output is not None and not str(vector_output).lower().endswith(".gpkg"):
        raise SegmentationError(f"vector output {vector_output} must be a GeoPackage (.gpkg)")
    scene = dask_scene(open_job_scene(scene, run.scene_options))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    segs = resolve_segments(scene, segments, segment_method, seg_params)
    t1 = time.perf_counter()
    timings["segmentation"] = t1 - t0
    features = segment_features(scene, segs)
    t2 = time.perf_counter()
    timings["features"] = t2 - t1
    legend = read_legend(opts.legend) if opts.legend else None
    samples = label_segments(
        scene,
        segs,
        training,
        class_column,
        features=features,
        min_overlap=min_overlap,
        min_polygon_share=min_polygon_share,
        all_touched=opts.all_touched,
        legend=legend,
        layer=opts.layer,
    )
    if opts.max_per_class is not None:
        samples = samples.cap_per_class(opts.max_per_class, opts.seed)
    trained = fit_and_validate(
        samples,
        opts,
        estimator=estimator,
        crs=scene.rio.crs.to_wkt() if scene.rio.crs else None,
        training=training,
        summary={
            "object_based": True,
            "segmentation": str(segs.attrs.get("segmentation", "given")),
            "segmentation_params": {k: repr(v) for k, v in segs.attrs.get("params", {}).items()},
            "n_segments": len(features),
        },
        notes=[
            "object-based: one sample per training segment (not per pixel); a segment is "
            f"labelled where a class covers >= {min_overlap:.0%} of its pixels or it holds "
            f">= {min_polygon_share or 1:.0%} of a training polygon."
        ],
        model_output=model_output,
        report_output=report_output,
        overwrite=run.overwrite,
    )
    model, accuracy = trained.model, trained.accuracy
    method = str(model.summary["method"])
    written: list[str] = list(trained.outputs)
    t3 = time.perf_counter()
    timings["training"] = t3 - t2
    classes = classify_segments(model, features, probabilities=probabilities is not None)
    tags, sidecars = provenance_tags(model.summary, model.training_pixels)
    outs = [
        RasterOutput(
            paint_classes(segs, classes, model.class_map, scene=scene),
            output,
            nodata=0,
            class_map=model.class_map,
            tags={"RASTERCLASS_METHOD": method, "RASTERCLASS_OBJECT_BASED": "true", **tags},
            sidecars=sidecars,
        )
    ]
    if probabilities is not None:
        proba = paint_probabilities(segs, classes, model.class_map, scene=scene)
        outs.append(probability_output(proba, probabilities))
    if segments_output is not None:
        outs.append(
            RasterOutput(
                segs.astype(np.uint32), segments_output, nodata=0, descriptions=["segment"]
            )
        )
    written.extend(write_rasters(outs, **run.writing()))
    table = features.join(classes)
    if features_output is not None:
        written.append(write_table(table, features_output, overwrite=run.overwrite))
    if vector_output is not None:
        written.append(
            write_vector(segments_to_vector(segs, table), vector_output, overwrite=run.overwrite)
        )
    timings["prediction"] = time.perf_counter() - t3
    logger.info(
        "object-based map: %d segments classified in %s",
        len(features),
        {k: round(v, 1) for k, v in timings.items()},
    )
    return RunResult(model, samples, outputs=written, timings=timings, accuracy=accuracy)
