"""End-to-end jobs: train a model, apply it, or both. The CLI calls these and only these."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from sklearn.base import clone

from rasterclass.apply import predict_raster, stack_probabilities
from rasterclass.classes import ClassMap
from rasterclass.errors import TrainingDataError, param
from rasterclass.estimators.presets import make_estimator
from rasterclass.io import (
    PathLike,
    ProgressCallback,
    RasterOutput,
    check_writable,
    file_sha256,
    open_scene,
    read_legend,
    write_rasters,
    write_text,
)
from rasterclass.model import RasterModel
from rasterclass.sampling import Samples, check_trainable, extract_samples

logger = logging.getLogger(__name__)


@dataclass
class SceneOptions:
    """How to open a scene (see :func:`rasterclass.io.open_scene`)."""

    band_names: Sequence[str] | None = None
    chunks: int | None = None
    memory_budget: float | None = None
    reference: PathLike | None = None
    resampling: str = "nearest"

    def open(self, paths: Sequence[PathLike] | PathLike) -> xr.DataArray:
        return open_scene(
            paths,
            band_names=self.band_names,
            chunks=self.chunks,
            memory_budget=self.memory_budget,
            reference=self.reference,
            resampling=self.resampling,
        )


@dataclass
class TrainingOptions:
    """What to train on and with."""

    method: str = "rf"
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    all_touched: bool = False
    max_per_class: int | None = None
    legend: PathLike | None = None
    layer: str | None = None
    cv_folds: int = 5
    cv_grouping: str = "polygon"


@dataclass
class RunResult:
    """What a job did: the model, its samples, files written and timings (seconds)."""

    model: RasterModel
    samples: Samples | None = None
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    accuracy: Any = None


def job_inputs(
    scene: Any, scene_options: SceneOptions | None = None, **others: Any
) -> dict[str, Any]:
    """The inputs of a job by what they are, for :func:`rasterclass.io.check_writable`.

    ``scene`` (paths or an opened scene) and the reference grid of ``scene_options``, plus
    ``others`` by keyword (``training=``, ``legend=``, ``model=``, ``segments=``...), named
    ``"<keyword> file"``.
    """
    inputs: dict[str, Any] = {"scene file": scene}
    if scene_options is not None and scene_options.reference is not None:
        inputs["reference grid"] = scene_options.reference
    inputs.update({f"{key.replace('_', ' ')} file": value for key, value in others.items()})
    return inputs


def fit_model(
    samples: Samples,
    estimator: Any,
    *,
    crs: str | None = None,
    summary: Mapping[str, Any] | None = None,
) -> RasterModel:
    """Fit a (cloned) estimator on samples and wrap it with its band schema and classes."""
    check_trainable(samples)
    est = clone(estimator)
    est.fit(samples.X, samples.y)
    info = {**samples.summary(), **(summary or {})}
    return RasterModel(
        estimator=est,
        band_names=list(samples.band_names),
        class_map=_used_classes(samples.class_map, samples.y),
        crs=crs,
        summary=info,
    )


def _used_classes(cmap: ClassMap, y: np.ndarray) -> ClassMap:
    used = set(np.unique(y).tolist())
    keep = [i for i, c in enumerate(cmap.codes) if c in used]
    return ClassMap(
        tuple(cmap.codes[i] for i in keep),
        tuple(cmap.names[i] for i in keep),
        tuple(cmap.colors[i] for i in keep),
        tuple(cmap.values[i] for i in keep),
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
    saved to ``model_output`` when given.
    """
    opts = options or TrainingOptions()
    check_writable(
        {"model_output": model_output, "report_output": report_output},
        overwrite,
        inputs=job_inputs(scene, scene_options, training=training, legend=opts.legend),
    )
    check_report(opts, report_output)
    t0 = time.perf_counter()
    if not isinstance(scene, xr.DataArray):
        scene = (scene_options or SceneOptions()).open(scene)
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


def check_report(options: TrainingOptions, report_output: PathLike | None) -> None:
    """A report needs cross-validation: refuse it before any work when there is none."""
    if report_output is not None and not (options.cv_folds and options.cv_folds > 1):
        raise TrainingDataError(
            f"a report needs cross-validation: set {param('cv_folds', 5)} (2 or more "
            f"folds) or leave out {param('report_output')}"
        )


def fit_and_validate(
    samples: Samples,
    options: TrainingOptions,
    *,
    estimator: Any = None,
    crs: str | None = None,
    training: Any = None,
    summary: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    model_output: PathLike | None = None,
    report_output: PathLike | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Fit the preset (or ``estimator``) on samples, cross-validate by polygon, save.

    The one training step behind pixel-based and object-based classification: the model
    summary records method, parameters, seed, the training file's hash (to recognise it later
    as reference data) and the cross-validated accuracy.
    """
    opts = options
    check_report(opts, report_output)
    t0 = time.perf_counter()
    if estimator is None:
        estimator = make_estimator(opts.method, opts.params, opts.seed)
        method = opts.method
    else:
        method = type(estimator).__name__
    model = fit_model(
        samples,
        estimator,
        crs=crs,
        summary={
            "method": method,
            "params": {k: repr(v) for k, v in dict(opts.params).items()},
            "seed": opts.seed,
            "estimator": repr(estimator),
            **dict(summary or {}),
        },
    )
    t1 = time.perf_counter()
    logger.info("trained %s on %d samples in %.1f s", method, len(samples), t1 - t0)
    result = RunResult(model, samples, timings={"training": t1 - t0})
    if isinstance(training, str | os.PathLike):
        model.summary["training_file"] = str(training)
        model.summary["training_sha256"] = file_sha256(training)
    if opts.cv_folds and opts.cv_folds > 1:
        from rasterclass.validation import cross_validate

        result.accuracy = cross_validate(
            samples,
            estimator,
            n_splits=opts.cv_folds,
            seed=opts.seed,
            grouping=opts.cv_grouping,  # type: ignore[arg-type]
        )
        result.accuracy.metadata["method"] = method
        result.accuracy.metadata.update(dict(summary or {}))
        result.accuracy.notes.extend(notes)
        model.summary["cv_overall_accuracy"] = result.accuracy.confusion.overall_accuracy
        model.summary["cv_grouping"] = opts.cv_grouping
        result.timings["cross-validation"] = time.perf_counter() - t1
    if model_output is not None:
        model.save(model_output, overwrite=overwrite)
        result.outputs.append(str(model_output))
    if report_output is not None:
        write_report(result.accuracy, report_output, overwrite=overwrite)
        result.outputs.append(str(report_output))
    return result


def write_report(report: Any, path: PathLike, *, overwrite: bool = False) -> str:
    """Render an AccuracyReport in the format the extension names and write it."""
    from rasterclass.accuracy import format_for_path

    return write_text(path, report.render(format_for_path(path)), overwrite=overwrite)


def predict(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    model: RasterModel | PathLike,
    output: PathLike,
    *,
    probabilities: PathLike | None = None,
    overwrite: bool = False,
    scene_options: SceneOptions | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Apply a model to a scene and write the map (and probability layers)."""
    t0 = time.perf_counter()
    check_writable(
        {"output": output, "probabilities": probabilities},
        overwrite,
        inputs=job_inputs(scene, scene_options, model=model),
        rasters=("output", "probabilities"),
    )
    if not isinstance(model, RasterModel):
        model = RasterModel.load(model)
    if not isinstance(scene, xr.DataArray):
        scene = (scene_options or SceneOptions()).open(scene)
    outputs = write_prediction(
        scene, model, output, probabilities=probabilities, overwrite=overwrite, progress=progress
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
) -> list[str]:
    """Predict lazily and write map and probabilities in one chunked pass."""
    pred = predict_raster(scene, model, probabilities=probabilities is not None)
    outs = [
        RasterOutput(
            pred["classes"],
            output,
            nodata=0,
            class_map=model.class_map,
            tags={
                "RASTERCLASS_METHOD": str(model.summary.get("method", "")),
                "RASTERCLASS_TRAINING_SHA256": str(model.summary.get("training_sha256", "")),
            },
        )
    ]
    if probabilities is not None:
        proba = stack_probabilities(pred)
        outs.append(
            RasterOutput(
                proba,
                probabilities,
                nodata=float("nan"),
                descriptions=[str(b) for b in proba["band"].values],
            )
        )
    return write_rasters(outs, overwrite=overwrite, progress=progress)


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
) -> RunResult:
    """Train on the training geometries and classify the scene in one go.

    See :func:`train` for the cross-validation report and the model file.
    """
    check_writable(
        {
            "output": output,
            "probabilities": probabilities,
            "model_output": model_output,
            "report_output": report_output,
        },
        overwrite,
        inputs=job_inputs(
            scene, scene_options, training=training, legend=(options or TrainingOptions()).legend
        ),
        rasters=("output", "probabilities"),
    )
    if not isinstance(scene, xr.DataArray):
        scene = (scene_options or SceneOptions()).open(scene)
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
        )
    )
    result.timings["prediction"] = time.perf_counter() - t0
    return result


def assess_map(
    map_path: PathLike,
    reference: Any,
    class_column: str,
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    **options: Any,
) -> Any:
    """Assess a map (see :func:`rasterclass.assessment.assess`) and write the report."""
    from rasterclass.assessment import assess

    check_writable(
        {"output": output},
        overwrite,
        inputs={
            "map": map_path,
            "reference data": reference,
            "strata raster": options.get("strata"),
        },
    )
    report = assess(map_path, reference, class_column, **options)
    if output is not None:
        write_report(report, output, overwrite=overwrite)
    return report


def sample_map(
    map_path: PathLike,
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    **options: Any,
) -> Any:
    """Draw sample points (see :func:`rasterclass.assessment.draw_sample`) and write them."""
    from rasterclass.assessment import draw_sample
    from rasterclass.io import write_vector

    check_writable(
        {"output": output},
        overwrite,
        inputs={"map": map_path, "training file": options.get("training")},
    )
    points = draw_sample(map_path, **options)
    if output is not None:
        write_vector(points, output, overwrite=overwrite)
    return points


def quicklook_map(map_path: PathLike, output: PathLike, *, overwrite: bool = False) -> str:
    """Render a map file (legend, class colours) to a PNG/PDF/SVG."""
    from rasterclass.io import write_figure
    from rasterclass.plot import quicklook

    check_writable({"output": output}, overwrite, inputs={"map": map_path})
    figure = quicklook(map_path)
    return write_figure(figure, output, overwrite=overwrite)
