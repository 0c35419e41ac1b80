"""Train and classify in one go, per pixel or per segment (object-based).

This module owns :func:`classify`, the one job that trains a classifier on training
geometries and writes the map, its probabilities and uncertainty, the model, the
cross-validation report and the HTML report. Per pixel, it trains as
:func:`rasterclass.train` does and predicts as :func:`rasterclass.predict` does; with
``objects=`` (:class:`rasterclass.ObjectOptions`) it trains on segments
(:func:`rasterclass.jobs.objects.train_objects`) and paints the classified segments
(:func:`rasterclass.paint_map`) into the same layers, written by the same writer
(:func:`rasterclass.jobs.write_prediction`). :func:`classify_objects` is its deprecated
object-based spelling.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import xarray as xr

from rasterclass.errors import OptionConflictError, param
from rasterclass.estimators.presets import make_estimator
from rasterclass.io import PROVENANCE_SUFFIX, PathLike, RasterOutput
from rasterclass.jobs.objects import ObjectOptions, paint_objects, train_objects
from rasterclass.jobs.options import RunOptions, RunResult, RunSettings, TrainingOptions
from rasterclass.jobs.provenance import recorded
from rasterclass.jobs.report import check_report_outputs, write_html_report
from rasterclass.jobs.scene import open_job_scene
from rasterclass.jobs.segmentation import check_segment_tables, write_segment_tables
from rasterclass.jobs.supervised import (
    RASTER_OUTPUTS,
    TRAINING_INPUTS,
    check_probabilistic,
    train,
    write_prediction,
)
from rasterclass.report import build_report

#: The outputs only an object-based run writes.
SEGMENT_OUTPUTS = ("segments_output", "features_output", "vector_output")


@recorded(
    *TRAINING_INPUTS,
    "objects.segments",
    outputs=(
        "output",
        "probabilities",
        "model_output",
        "report_output",
        "html_output",
        "uncertainty",
        "aoa",
        *SEGMENT_OUTPUTS,
    ),
)
def classify(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    training: Any,
    class_column: str,
    output: PathLike,
    options: TrainingOptions | None = None,
    *,
    objects: ObjectOptions | None = None,
    probabilities: PathLike | None = None,
    model_output: PathLike | None = None,
    report_output: PathLike | None = None,
    html_output: PathLike | None = None,
    estimator: Any = None,
    uncertainty: PathLike | None = None,
    aoa: PathLike | None = None,
    segments_output: PathLike | None = None,
    features_output: PathLike | None = None,
    vector_output: PathLike | None = None,
    **run_options: Unpack[RunOptions],
) -> RunResult:
    """Train on the training geometries and classify the scene in one go, per pixel or per
    segment.

    See :func:`train` for the cross-validation report and the model file, :func:`predict`
    for the map and the probabilities; ``cog`` writes Cloud Optimized GeoTIFFs. Every
    parameter and output is checked before any data is read.

    With ``objects`` (:class:`rasterclass.ObjectOptions`) the classification is
    object-based: the scene is segmented (or ``objects.segments`` is used), each segment is
    described by its features (band statistics, size, shape), one sample per segment under
    the training data trains the classifier (cross-validation folds grouped by training
    polygon), and every segment is classified and painted into the map (Blaschke 2010,
    "Object based image analysis for remote sensing", ISPRS J. Photogramm. 65(1): 2-16).
    Such a model, saved, classifies another scene with :func:`predict`: segmented the same
    way (the method and parameters it records, the seed included), or given its segments.

    Parameters
    ----------
    scene, training, class_column, options
        As in :func:`train`: scene file(s) or an opened scene, training polygons or points
        (a vector file or a GeoDataFrame, any CRS), their class column, and the classifier
        with its sampling and cross-validation (:class:`rasterclass.TrainingOptions`;
        object-based, ``max_per_class`` counts training *segments* and ``seed`` also seeds
        the segmentation unless ``objects.segment_params`` sets one).
    output
        The map GeoTIFF (class codes, 0 = nodata, class names and colour table).
    objects
        Classify segments, not pixels (:class:`rasterclass.ObjectOptions`: the segments or
        how to segment, and when a training class labels a segment). Default None: pixels.
    probabilities, uncertainty
        As in :func:`predict`: the per-class probability GeoTIFF and the uncertainty layers
        (margin, entropy); object-based, every pixel has its segment's.
    aoa
        As in :func:`predict`: the area of applicability; its reference is computed from the
        training data of this run. Per pixel only.
    model_output, report_output, estimator
        As in :func:`train`: the model file, the cross-validation report (needs
        ``options.cv_folds`` >= 2), a scikit-learn classifier that overrides
        ``options.method``.
    html_output
        Also write the run's one-file HTML report here (``.html``): the map, the
        cross-validated accuracy, the class areas, the signatures of the classes and the
        cross-validation design (see :func:`rasterclass.report_map`).
    segments_output, features_output, vector_output
        Object-based only: also write the segment raster (uint32, 0 = nodata), the segments'
        feature table with the predicted class and probabilities (``.parquet``/``.csv``)
        and the segment polygons with them (``.gpkg``).
    **run_options
        ``overwrite`` (never an input of the run), ``scene_options``, ``progress`` (of the
        rasters) and ``cog`` (for all of them): see :class:`rasterclass.jobs.RunOptions`.

    Returns
    -------
    rasterclass.jobs.RunResult
        ``model``, ``samples`` (one per training pixel, or per labelled segment), ``accuracy``
        (cross-validated report or None), ``outputs`` (paths written: model and report
        first, then the rasters, then the segment tables) and ``timings`` (seconds per step).

    Raises
    ------
    EstimatorError
        An unknown preset or a parameter the classifier does not accept, or
        ``probabilities`` or ``uncertainty`` asked of a classifier without ``predict_proba``.
    TrainingDataError
        As in :func:`train` (an invalid training option, a report without cross-validation,
        no valid pixel under the training data, a single class), with its subclasses
        :class:`~rasterclass.errors.TrainingClassesError` and
        :class:`~rasterclass.errors.CrossValidationDesignError`; a share of ``objects``
        outside (0, 1].
    SegmentationError
        An unknown segmentation method or parameter, segments that are not integers, or a
        ``vector_output`` that is not a GeoPackage.
    OptionConflictError
        ``aoa`` with ``objects``, or a segment output without ``objects``.
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    AccuracyError
        ``report_output`` has an extension other than ``.json``, ``.md``, ``.csv``.
    RasterclassIOError
        An input file does not exist or cannot be read, ``html_output`` is not named
        ``.html`` or ``features_output`` is not a ``.parquet``/``.csv`` table.
    CRSError
        The scene or the training data have no CRS.

    Examples
    --------
    Per pixel, on the tiny example scene (water left, forest right) and its two training
    boxes:

    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene, example_training
    >>> scene, training = example_scene(), example_training()
    >>> maps = pathlib.Path(scene).parent
    >>> fast = rc.TrainingOptions(params={"n_estimators": 10}, cv_folds=0)
    >>> result = rc.classify(scene, training, "class", maps / "map.tif", fast)
    >>> [pathlib.Path(p).name for p in result.outputs], result.accuracy is None
    (['map.tif'], True)
    >>> rc.open_scene(maps / "map.tif", unscale=False).values[0, 0].astype(int).tolist()
    [2, 2, 2, 2, 1, 1, 1, 1]

    Object-based, two segments:

    >>> objects = rc.ObjectOptions(segment_params={"n_clusters": 2, "min_size": 4})
    >>> result = rc.classify(scene, training, "class", maps / "objects.tif", fast,
    ...                      objects=objects)
    >>> result.model.class_map.names, len(result.samples)  # one sample per segment
    (('forest', 'water'), 2)
    >>> rc.open_scene(maps / "objects.tif", unscale=False).values[0, 0].astype(int).tolist()
    [2, 2, 2, 2, 1, 1, 1, 1]
    """
    outputs = {
        "output": output,
        "probabilities": probabilities,
        "model_output": model_output,
        "report_output": report_output,
        "html_output": html_output,
        "uncertainty": uncertainty,
        "aoa": aoa,
        "segments_output": segments_output,
        "features_output": features_output,
        "vector_output": vector_output,
    }
    check_report_outputs(html_output, html_name="html_output")
    opts = options or TrainingOptions()
    run = RunSettings(**run_options)
    _check_objects(objects, outputs, opts)
    run.check_training(
        opts,
        estimator,
        scene,
        training,
        outputs,
        rasters=(*RASTER_OUTPUTS, "segments_output"),
        segments=objects.segments if objects is not None else None,
    )
    for name in ("probabilities", "uncertainty"):
        if outputs[name] is not None:
            chosen = make_estimator(opts.method, opts.params) if estimator is None else estimator
            check_probabilistic(chosen, name)
    scene = open_job_scene(scene, run.scene_options)
    prediction, also = None, []
    if objects is None:
        result = train(
            scene,
            training,
            class_column,
            options,
            estimator=estimator,
            model_output=model_output,
            report_output=report_output,
            overwrite=run.overwrite,
        )
    else:
        trained = train_objects(
            scene,
            training,
            class_column,
            opts,
            objects,
            estimator=estimator,
            model_output=model_output,
            report_output=report_output,
            overwrite=run.overwrite,
        )
        result, segments = trained.result, trained.segments
        painted = probabilities is not None or uncertainty is not None
        table, prediction = paint_objects(
            result.model, segments, trained.features, scene, probabilities=painted
        )
        if segments_output is not None:
            also.append(
                RasterOutput(
                    segments.astype(np.uint32), segments_output, nodata=0, descriptions=["segment"]
                )
            )
    t0 = time.perf_counter()
    written = write_prediction(
        scene, result.model, outputs, prediction=prediction, also=also, **run.writing()
    )
    result.outputs.extend(written)
    if objects is not None:
        result.outputs.extend(
            write_segment_tables(
                segments,
                trained.features.join(table),
                features_output=features_output,
                vector_output=vector_output,
                overwrite=run.overwrite,
            )
        )
    result.timings["prediction"] = time.perf_counter() - t0
    if html_output is not None:
        t0 = time.perf_counter()
        # a sidecar beside the map now is an earlier run's (this run's is written when it
        # returns): the report must not show that run as the one that wrote this map
        Path(f"{output}{PROVENANCE_SUFFIX}").unlink(missing_ok=True)
        report = build_report(
            output,
            accuracy=result.accuracy,
            model=result.model,
            uncertainty=uncertainty,
            aoa=aoa,
        )
        result.outputs.extend(write_html_report(report, html_output, overwrite=run.overwrite))
        result.timings["report"] = time.perf_counter() - t0
    return result


def _check_objects(
    objects: ObjectOptions | None, outputs: Mapping[str, Any], options: TrainingOptions
) -> None:
    """The object-based parameters, before any work: the options themselves, the segment
    outputs only with ``objects`` and the area of applicability only without."""
    if objects is None:
        for name in SEGMENT_OUTPUTS:
            if outputs[name] is not None:
                raise OptionConflictError.without(param(name), param("objects", "ObjectOptions()"))
        return
    if outputs["aoa"] is not None:
        raise OptionConflictError.both(
            param("aoa"),
            param("objects", "ObjectOptions()"),
            "the area of applicability is computed per pixel; leave out one of them",
        )
    objects.check(options.seed)
    check_segment_tables(outputs["features_output"], outputs["vector_output"])


def classify_objects(
    scene: Any,  # checked by classify, as every argument
    training: Any,
    class_column: str,
    output: PathLike,
    options: TrainingOptions | None = None,
    *,
    segments: xr.DataArray | PathLike | None = None,
    segment_method: str = "shepherd",
    segment_params: Mapping[str, Any] | None = None,
    min_overlap: float = 0.5,
    min_polygon_share: float | None = 0.5,
    **kwargs: Any,
) -> RunResult:
    """Deprecated since 0.2, removed in 0.3: use :func:`classify` with ``objects=``.

    ``classify_objects(scene, training, column, output, options, segments=...,
    segment_method=..., segment_params=..., min_overlap=..., min_polygon_share=..., **kw)``
    is ``classify(scene, training, column, output, options, objects=ObjectOptions(segments=...,
    ...), **kw)``; it warns with a :class:`FutureWarning`.
    """
    warnings.warn(
        "classify_objects is deprecated: use rasterclass.classify(..., "
        "objects=rasterclass.ObjectOptions(...))",
        FutureWarning,
        stacklevel=2,
    )
    objects = ObjectOptions(
        segments, segment_method, segment_params, min_overlap, min_polygon_share
    )
    return classify(scene, training, class_column, output, options, objects=objects, **kwargs)
