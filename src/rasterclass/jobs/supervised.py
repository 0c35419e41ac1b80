"""Supervised pixel-based jobs: train a model, apply it, or both.

This module owns :func:`train` (extract samples under the training geometries, fit,
cross-validate, save), :func:`predict` (apply a saved model and write the map),
:func:`write_prediction` (predict lazily and write map and probabilities in one chunked
pass) and :func:`classify` (train and predict in one go).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import xarray as xr

from rasterclass.apply import predict_raster, stack_probabilities
from rasterclass.io import (
    PathLike,
    ProgressCallback,
    RasterOutput,
    probability_output,
    read_legend,
    write_rasters,
)
from rasterclass.jobs.options import (
    RunResult,
    SceneOptions,
    TrainingOptions,
    check_job_outputs,
    check_training_job,
    open_job_scene,
)
from rasterclass.jobs.training import fit_and_validate
from rasterclass.model import RasterModel
from rasterclass.sampling import extract_samples
from rasterclass.training_pixels import provenance_tags


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
    saved to ``model_output`` when given.
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
    result = fit_and_validate(
        samples,
        opts,
        estimator=estimator,
        crs=scene.rio.crs.to_wkt() if scene.rio.crs else None,
        training=training,
        model_output=model_output,
        report_output=report_output,
        overwrite=overwrite,
    )
    result.timings["sampling"] = t1 - t0
    return result


def predict(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    model: RasterModel | PathLike,
    output: PathLike,
    *,
    probabilities: PathLike | None = None,
    overwrite: bool = False,
    scene_options: SceneOptions | None = None,
    progress: ProgressCallback | None = None,
    cog: bool = False,
) -> RunResult:
    """Apply a model to a scene and write the map (and probability layers).

    ``cog`` writes Cloud Optimized GeoTIFFs (see :func:`rasterclass.io.write_rasters`).
    """
    t0 = time.perf_counter()
    check_job_outputs(
        {"output": output, "probabilities": probabilities},
        overwrite,
        scene,
        scene_options,
        rasters=("output", "probabilities"),
        model=model,
    )
    if not isinstance(model, RasterModel):
        model = RasterModel.load(model)
    scene = open_job_scene(scene, scene_options)
    outputs = write_prediction(
        scene,
        model,
        output,
        probabilities=probabilities,
        overwrite=overwrite,
        progress=progress,
        cog=cog,
    )
    return RunResult(model, outputs=outputs, timings={"prediction": time.perf_counter() - t0})


def write_prediction(
    scene: xr.DataArray,
    model: RasterModel,
    output: PathLike,
    *,
    probabilities: PathLike | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cog: bool = False,
) -> list[str]:
    """Predict lazily and write map and probabilities in one chunked pass.

    Probability bands are in the model's class order (legend order, else code order), each
    described by its class name and tagged with its code (see
    :func:`rasterclass.io.probability_output`).
    """
    pred = predict_raster(scene, model, probabilities=probabilities is not None)
    tags, sidecars = provenance_tags(model.summary, model.training_pixels)
    outs = [
        RasterOutput(
            pred["classes"],
            output,
            nodata=0,
            class_map=model.class_map,
            tags={"RASTERCLASS_METHOD": str(model.summary.get("method", "")), **tags},
            sidecars=sidecars,
        )
    ]
    if probabilities is not None:
        outs.append(probability_output(stack_probabilities(pred), probabilities))
    return write_rasters(outs, overwrite=overwrite, progress=progress, cog=cog)


def classify(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    training: Any,
    class_column: str,
    output: PathLike,
    options: TrainingOptions | None = None,
    *,
    probabilities: PathLike | None = None,
    model_output: PathLike | None = None,
    report_output: PathLike | None = None,
    overwrite: bool = False,
    estimator: Any = None,
    scene_options: SceneOptions | None = None,
    progress: ProgressCallback | None = None,
    cog: bool = False,
) -> RunResult:
    """Train on the training geometries and classify the scene in one go.

    See :func:`train` for the cross-validation report and the model file; ``cog`` writes
    Cloud Optimized GeoTIFFs.
    """
    outputs = {
        "output": output,
        "probabilities": probabilities,
        "model_output": model_output,
        "report_output": report_output,
    }
    check_training_job(
        options or TrainingOptions(),
        estimator,
        scene,
        scene_options,
        training,
        outputs,
        overwrite,
        rasters=("output", "probabilities"),
    )
    scene = open_job_scene(scene, scene_options)
    result = train(
        scene,
        training,
        class_column,
        options,
        estimator=estimator,
        model_output=model_output,
        report_output=report_output,
        overwrite=overwrite,
    )
    t0 = time.perf_counter()
    result.outputs.extend(
        write_prediction(
            scene,
            result.model,
            output,
            probabilities=probabilities,
            overwrite=overwrite,
            progress=progress,
            cog=cog,
        )
    )
    result.timings["prediction"] = time.perf_counter() - t0
    return result
