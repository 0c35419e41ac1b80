"""Supervised pixel-based jobs: train a model, apply it, or both.

This module owns :func:`train` (extract samples under the training geometries, fit,
cross-validate, save), :func:`predict` (apply a saved model and write the map) and
:func:`write_prediction` (predict lazily and write map, probabilities, uncertainty and area
of applicability in one chunked pass). :func:`rasterclass.classify` (train and predict in one
go, per pixel or per segment) is in :mod:`rasterclass.jobs.classification`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import xarray as xr

from rasterclass.applicability import (
    AOA_THRESHOLD_TAG,
    area_of_applicability,
    model_reference,
)
from rasterclass.apply import predict_raster, stack_probabilities
from rasterclass.errors import EstimatorError, SceneError, param
from rasterclass.features import scene_features
from rasterclass.io import (
    PathLike,
    RasterOutput,
    WriteOptions,
    probability_output,
    read_legend,
    write_rasters,
)
from rasterclass.jobs.objects import check_object_prediction, predict_objects
from rasterclass.jobs.options import (
    RunOptions,
    RunResult,
    RunSettings,
    TrainingOptions,
    check_training_job,
)
from rasterclass.jobs.provenance import recorded
from rasterclass.jobs.scene import SceneOptions, align_dates, model_scene_options, open_job_scene
from rasterclass.jobs.training import fit_and_validate
from rasterclass.model import RasterModel
from rasterclass.sampling import extract_samples
from rasterclass.temporal import GAP_FILL_ATTR
from rasterclass.training_pixels import provenance_tags
from rasterclass.uncertainty_layers import uncertainty as uncertainty_layers

#: The inputs of a training run (:func:`train`, :func:`classify`) that its outputs'
#: provenance records.
TRAINING_INPUTS = (
    "scene",
    "training",
    "options.legend",
    "scene_options.reference",
    "scene_options.valid_mask",
)


@recorded(
    *TRAINING_INPUTS,
    outputs=("model_output", "report_output"),
)
def train(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    training: Any,
    class_column: str,
    options: TrainingOptions | None = None,
    *,
    estimator: Any = None,
    scene_options: SceneOptions | None = None,
    model_output: PathLike | None = None,
    report_output: PathLike | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Extract samples under the training geometries and fit a classifier.

    ``estimator`` (any scikit-learn classifier or Pipeline) overrides ``options.method``.
    With ``options.cv_folds`` > 1 the result carries a cross-validated
    :class:`~rasterclass.accuracy.AccuracyReport` (grouped by polygon unless
    ``options.cv_grouping="pixel"``), written to ``report_output`` when given. The model is
    saved to ``model_output`` when given. Every parameter and output is checked before any
    data is read.

    Parameters
    ----------
    scene
        Scene file(s) (bands stacked in order, see :func:`rasterclass.open_scene`) or an
        opened scene (``band`` x ``y`` x ``x``, lazy or in memory).
    training
        Training polygons or points: a vector file (GeoPackage, shapefile, GeoJSON) or a
        GeoDataFrame, in any CRS (reprojected to the scene's).
    class_column
        The column of class names (strings) or integer codes (1..K; 0..K-1 are shifted).
    options
        Classifier, its parameters, seed, sampling and cross-validation
        (:class:`rasterclass.TrainingOptions`; default: random forest, 5 folds by polygon).
    estimator
        Any scikit-learn classifier or Pipeline; overrides ``options.method``.
    scene_options
        How to open scene files (:class:`rasterclass.SceneOptions`).
    model_output
        Also save the model here (joblib file, see :meth:`rasterclass.RasterModel.save`).
    report_output
        Write the cross-validation report here, in the format its extension names
        (``.json``, ``.md`` or ``.csv``); needs ``options.cv_folds`` >= 2.
    overwrite
        Replace existing outputs (never an input of the run).

    Returns
    -------
    rasterclass.jobs.RunResult
        ``model`` (a :class:`rasterclass.RasterModel`: the fitted estimator with its band
        names and classes), ``samples`` (:class:`rasterclass.Samples`, one row per training
        pixel), ``accuracy`` (the cross-validated report, or None), ``outputs`` (paths
        written) and ``timings`` (seconds per step).

    Raises
    ------
    EstimatorError
        An unknown preset or a parameter the classifier does not accept.
    TrainingDataError
        An invalid training option, a report without cross-validation, a missing class
        column, no geometry over the scene, no valid pixel under them, or a single class.
        Its subclasses: :class:`~rasterclass.errors.TrainingClassesError` names every class
        left without a pixel; :class:`~rasterclass.errors.CrossValidationDesignError` says
        why the folds cannot measure every class.
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    CRSError
        The scene or the training data have no CRS.
    RasterclassIOError
        An input file does not exist or cannot be read.
    AccuracyError
        ``report_output`` has an extension other than ``.json``, ``.md``, ``.csv``.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene, example_training
    >>> folder = pathlib.Path(example_scene()).parent  # scene.tif: water left, forest right
    >>> training = example_training()  # water (x 0-30 m) and forest (x 50-80 m) boxes
    >>> options = rc.TrainingOptions(params={"n_estimators": 10}, cv_folds=0)
    >>> result = rc.train(folder / "scene.tif", training, "class", options,
    ...                   model_output=folder / "model.joblib")
    >>> result.model.class_map.names, result.model.band_names, len(result.samples)
    (('forest', 'water'), ['band_1', 'band_2'], 48)
    >>> [pathlib.Path(p).name for p in result.outputs]
    ['model.joblib']
    """
    opts = options or TrainingOptions()
    outputs = {"model_output": model_output, "report_output": report_output}
    check_training_job(opts, estimator, scene, scene_options, training, outputs, overwrite)
    t0 = time.perf_counter()
    scene = open_job_scene(scene, scene_options)
    legend = read_legend(opts.legend) if opts.legend else None
    samples = extract_samples(
        scene,
        training,
        class_column,
        all_touched=opts.all_touched,
        max_per_class=opts.max_per_class,
        seed=opts.seed,
        legend=legend,
        layer=opts.layer,
    )
    t1 = time.perf_counter()
    steps = (
        {GAP_FILL_ATTR: json.loads(scene.attrs[GAP_FILL_ATTR])}
        if GAP_FILL_ATTR in scene.attrs
        else {}
    )
    result = fit_and_validate(
        samples,
        opts,
        estimator=estimator,
        summary=steps,
        crs=scene.rio.crs.to_wkt() if scene.rio.crs else None,
        training=training,
        features=scene_features(scene),
        model_output=model_output,
        report_output=report_output,
        overwrite=overwrite,
    )
    result.timings["sampling"] = t1 - t0
    return result


@recorded(
    "scene",
    "model",
    "segments",
    "scene_options.reference",
    "scene_options.valid_mask",
    outputs=("output", "probabilities", "uncertainty", "aoa"),
)
def predict(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    model: RasterModel | PathLike,
    output: PathLike,
    *,
    probabilities: PathLike | None = None,
    uncertainty: PathLike | None = None,
    aoa: PathLike | None = None,
    segments: xr.DataArray | PathLike | None = None,
    **run_options: Unpack[RunOptions],
) -> RunResult:
    """Apply a model to a scene and write the map (and probability layers).

    The scene is read and classified chunk by chunk and written as it is computed, so a
    scene larger than memory is fine. ``cog`` writes Cloud Optimized GeoTIFFs (see
    :func:`rasterclass.io.write_rasters`).

    An object-based model (saved by :func:`rasterclass.classify` with ``objects=``) is
    applied as rule sets of object-based software are: the scene is segmented with the
    method and parameters the model records (the seed included, so the training scene gets
    the segments and the map :func:`rasterclass.classify` wrote; slic and felzenszwalb
    segment per chunk: give the same chunks), or ``segments`` are used; each segment is
    described (:func:`rasterclass.segment_features`), classified and painted
    (:func:`rasterclass.paint_map`).

    Parameters
    ----------
    scene
        Scene file(s) or an opened scene, with the bands the model was trained on (matched
        by name). For a model trained on a multi-date stack, a stack of as many dates
        (``scene_options`` with ``dates`` or ``multi_date``), possibly other ones: matched by
        their order in time (:func:`rasterclass.jobs.scene.align_dates`).
    model
        A :class:`rasterclass.RasterModel` or the path of a saved one.
    output
        The map: a GeoTIFF of uint8/uint16 class codes (0 = nodata) with the class names
        and colour table.
    probabilities
        Also write per-class probabilities (float32 in [0, 1], one band per class in the
        model's class order, then the confidence) to this GeoTIFF.
    uncertainty
        Also write the margin and normalised entropy of the probabilities (2 float32 bands
        ``margin``, ``entropy``, NaN nodata; see :func:`rasterclass.uncertainty`).
    aoa
        Also write the dissimilarity index and the area of applicability (2 float32 bands
        ``dissimilarity_index``, ``aoa``: 1 inside, 0 outside; NaN nodata; the threshold in
        the ``AOA_THRESHOLD`` tag; see :func:`rasterclass.area_of_applicability`). Pixel
        models only.
    segments
        Object-based models only: this scene's segments (a segment raster, or a DataArray on
        the scene's grid; integer ids, 0 = nodata) instead of segmenting it; required for a
        model trained on given segments.
    **run_options
        ``overwrite``, ``scene_options``, ``progress`` and ``cog``
        (:class:`rasterclass.jobs.RunOptions`): replace existing outputs, open scene files
        so, follow the chunks written, write Cloud Optimized GeoTIFFs.

    Returns
    -------
    rasterclass.jobs.RunResult
        ``model``, ``outputs`` (paths written) and ``timings`` (seconds).

    Raises
    ------
    ModelFileError
        The model file is invalid, untrusted or from an incompatible version, or ``aoa``
        asked of a model without an area-of-applicability reference (retrain it).
    BandMismatchError
        The scene lacks a band the model was trained on (object-based: a band it segmented
        and described, or a feature).
    EstimatorError
        ``probabilities`` or ``uncertainty`` asked of a model without ``predict_proba``.
    OptionConflictError
        ``aoa`` with an object-based model, or ``segments`` with a pixel model.
    SegmentationError
        A model trained on given segments and no ``segments`` (checked before any work), or
        given segments that are not integers.
    GridMismatchError
        ``segments`` is not on the scene's grid.
    SceneError
        The model was trained on a series gap-filled with a validity mask
        (``summary["gap_fill"]``) and ``scene_options`` gives no ``valid_mask``.
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    RasterclassIOError
        An input file does not exist or cannot be read, or an output cannot be written.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene, example_training
    >>> folder = pathlib.Path(example_scene()).parent  # scene.tif: water left, forest right
    >>> options = rc.TrainingOptions(params={"n_estimators": 10}, cv_folds=0)
    >>> model = rc.train(folder / "scene.tif", example_training(), "class", options).model
    >>> result = rc.predict(folder / "scene.tif", model, folder / "map.tif",
    ...                     probabilities=folder / "proba.tif")
    >>> [pathlib.Path(p).name for p in result.outputs]
    ['map.tif', 'proba.tif']
    >>> classes = rc.open_scene(folder / "map.tif", unscale=False)
    >>> classes.values[0, 0].astype(int).tolist()  # codes by name: forest 1, water 2
    [2, 2, 2, 2, 1, 1, 1, 1]
    >>> rc.read_class_map(folder / "map.tif").names
    ('forest', 'water')

    An object-based model, saved, segments the scene again and paints the same map:

    >>> objects = rc.ObjectOptions(segment_params={"n_clusters": 2, "min_size": 4})
    >>> _ = rc.classify(folder / "scene.tif", example_training(), "class", folder / "obj.tif",
    ...                 options, objects=objects, model_output=folder / "obj.skops")
    >>> result = rc.predict(folder / "scene.tif", folder / "obj.skops", folder / "again.tif")
    >>> again = rc.open_scene(folder / "again.tif", unscale=False)
    >>> bool((again == rc.open_scene(folder / "obj.tif", unscale=False)).all())
    True
    """
    t0 = time.perf_counter()
    run = RunSettings(**run_options)
    outputs = {
        "output": output,
        "probabilities": probabilities,
        "uncertainty": uncertainty,
        "aoa": aoa,
    }
    run.check_outputs(outputs, scene, rasters=RASTER_OUTPUTS, model=model, segments=segments)
    if not isinstance(model, RasterModel):
        model = RasterModel.load(model, fast_forest=True)  # a forest: neither skops nor sklearn
    record = check_object_prediction(model, segments, aoa)
    if uncertainty is not None:
        check_probabilistic(model.estimator)
    if aoa is not None:
        model_reference(model)
    opts = model_scene_options(run.scene_options, model)
    gap_record = model.summary.get(GAP_FILL_ATTR)
    filled = isinstance(scene, xr.DataArray) and GAP_FILL_ATTR in scene.attrs
    if gap_record and not filled:
        # the model was trained on a gap-filled series: fill this one's gaps the same way
        opts = opts or SceneOptions()
        if gap_record.get("mask") and opts.valid_mask is None:
            raise SceneError(
                "the model was trained on a time series gap-filled with a validity mask; "
                f"give this scene's mask ({param('valid_mask', 'FILE')})"
            )
        opts = dataclasses.replace(opts, gap_fill=True)
    scene = open_job_scene(scene, opts)
    prediction = None
    if record is None:
        scene = align_dates(scene, model.band_names)
    else:
        proba = probabilities is not None or uncertainty is not None
        prediction = predict_objects(scene, model, record, segments, probabilities=proba).prediction
    written = write_prediction(scene, model, outputs, prediction=prediction, **run.writing())
    return RunResult(model, outputs=written, timings={"prediction": time.perf_counter() - t0})


#: The raster outputs of predict and classify (checked as rasters: their sidecars too).
RASTER_OUTPUTS = ("output", "probabilities", "uncertainty", "aoa")


def check_probabilistic(estimator: Any, name: str = "uncertainty") -> None:
    """Raise :class:`EstimatorError` unless ``estimator`` has ``predict_proba``: the
    ``probabilities`` layers, and the ``uncertainty`` layers computed from them, need it."""
    if not hasattr(estimator, "predict_proba"):
        what = "probability layer" if name == "probabilities" else "uncertainty layer"
        raise EstimatorError(
            f"{type(estimator).__name__} has no predict_proba, so there is no {what}; leave "
            f"out {param(name)} or use a probabilistic model (rf, svm, maxlike)"
        )


def write_prediction(
    scene: xr.DataArray,
    model: RasterModel,
    outputs: Mapping[str, PathLike | None],
    *,
    prediction: xr.Dataset | None = None,
    also: Sequence[RasterOutput] = (),
    **options: Unpack[WriteOptions],
) -> list[str]:
    """Predict lazily and write map, probabilities, uncertainty and AOA in one chunked pass.

    ``outputs`` are the paths of the run, as its output check saw them (a path of None, or
    a name missing, is not written): ``output``, the map (uint8/uint16 codes, 0 = nodata,
    class names and colour table; required); ``probabilities``, one band per class in the
    model's class order (legend order, else code order), described by its class name and
    tagged with its code, then the confidence (see :func:`rasterclass.io.probability_output`);
    ``uncertainty``, bands ``margin`` and ``entropy`` from the same probabilities; ``aoa``,
    bands ``dissimilarity_index`` and ``aoa`` (tag ``AOA_THRESHOLD``) from the same scene
    blocks. Other names in ``outputs`` are ignored. ``options`` go to
    :func:`rasterclass.io.write_rasters`.

    ``prediction`` is the model's prediction when it is made otherwise than by
    :func:`rasterclass.predict_raster` (object-based: :func:`rasterclass.paint_map`), with
    its layout (``probabilities`` and ``confidence`` when ``probabilities`` or
    ``uncertainty`` are written); ``also`` are more rasters written in the same pass. The map
    of an object-based model is tagged ``RASTERCLASS_OBJECT_BASED=true``. Returns the paths
    written, in that order.
    """
    output, probabilities, uncertainty, aoa = (outputs.get(k) for k in RASTER_OUTPUTS)
    if output is None:
        raise TypeError("write_prediction needs outputs['output'], the path of the map")
    if prediction is None:
        proba = probabilities is not None or uncertainty is not None
        prediction = predict_raster(scene, model, probabilities=proba)
    tags, sidecars = provenance_tags(model.summary, model.training_pixels)
    if model.summary.get("object_based"):
        tags = {"RASTERCLASS_OBJECT_BASED": "true", **tags}
    outs = [
        RasterOutput(
            prediction["classes"],
            output,
            nodata=0,
            class_map=model.class_map,
            tags={"RASTERCLASS_METHOD": str(model.summary.get("method", "")), **tags},
            sidecars=sidecars,
        )
    ]
    if probabilities is not None:
        outs.append(probability_output(stack_probabilities(prediction), probabilities))
    if uncertainty is not None:
        layers = uncertainty_layers(prediction["probabilities"])
        outs.append(_layers_output(layers, uncertainty))
    if aoa is not None:
        layers = area_of_applicability(scene, model)
        outs.append(_layers_output(layers, aoa, AOA_THRESHOLD_TAG, "AOA_WEIGHTING", "AOA_FOLDS"))
    return write_rasters([*outs, *also], **options)


def _layers_output(layers: xr.DataArray, path: PathLike, *tags: str) -> RasterOutput:
    """A float32 layer stack (uncertainty, AOA) as written: bands described by name, NaN
    nodata, the listed attributes as dataset tags."""
    names = [str(b) for b in layers["band"].values]
    return RasterOutput(
        layers,
        path,
        nodata=float("nan"),
        descriptions=names,
        tags={"RASTERCLASS_LAYERS": ",".join(names), **{t: str(layers.attrs[t]) for t in tags}},
        resampling="average",
    )
