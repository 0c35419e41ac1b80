"""End-to-end jobs: train a model, apply it, or both. The CLI calls these and only these."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from sklearn.base import clone

from rasterclass.apply import predict_raster, stack_probabilities
from rasterclass.classes import ClassMap
from rasterclass.errors import (
    CalibrationWarning,
    SingularCovarianceWarning,
    TrainingDataError,
    param,
)
from rasterclass.estimators.presets import check_params, fit_ready, make_estimator
from rasterclass.io import (
    PathLike,
    ProgressCallback,
    RasterOutput,
    as_scene,
    check_writable,
    file_sha256,
    open_scene,
    probability_output,
    read_legend,
    write_rasters,
    write_text,
)
from rasterclass.model import RasterModel
from rasterclass.sampling import Samples, check_trainable, extract_samples
from rasterclass.training_pixels import provenance_tags

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


def _scene(
    scene: Sequence[PathLike] | PathLike | xr.DataArray, scene_options: SceneOptions | None
) -> xr.DataArray:
    """Open scene files, or bring a scene array to scene form (see :func:`as_scene`)."""
    if isinstance(scene, xr.DataArray):
        opts = scene_options or SceneOptions()
        return as_scene(scene, band_names=opts.band_names)
    return (scene_options or SceneOptions()).open(scene)


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


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_training(options: TrainingOptions, estimator: Any = None) -> None:
    """Validate training options and the classifier's parameters before any data is read.

    Builds the preset (``options.method`` with ``options.params``, every value validated) or
    validates ``estimator``'s parameters, and checks ``seed``, ``cv_folds``,
    ``cv_grouping`` and ``max_per_class``.

    Raises
    ------
    EstimatorError
        A parameter value the classifier does not accept (named, with what is allowed).
    TrainingDataError
        An invalid option (named, with what is allowed).
    """
    opts = options
    if opts.seed is not None and (not _is_int(opts.seed) or not 0 <= opts.seed < 2**32):
        raise TrainingDataError(f"seed must be an integer in [0, 2**32 - 1], got {opts.seed!r}")
    if opts.cv_folds is not None and (
        not _is_int(opts.cv_folds) or opts.cv_folds == 1 or opts.cv_folds < 0
    ):
        raise TrainingDataError(
            f"cv_folds must be 0 or None (no cross-validation) or an integer >= 2, got "
            f"{opts.cv_folds!r}"
        )
    if opts.cv_grouping not in ("polygon", "pixel"):
        raise TrainingDataError(
            f"cv_grouping must be 'polygon' or 'pixel', got {opts.cv_grouping!r}"
        )
    if opts.max_per_class is not None and (
        not _is_int(opts.max_per_class) or opts.max_per_class < 1
    ):
        raise TrainingDataError(
            f"max_per_class must be None (no cap) or an integer >= 1, got {opts.max_per_class!r}"
        )
    if estimator is None:
        make_estimator(opts.method, opts.params, opts.seed)
    else:
        check_params(estimator)


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
    est, notes = fit_ready(
        clone(estimator), samples.y, class_map=samples.class_map, where="the training data"
    )
    for note in notes:
        warnings.warn(note, CalibrationWarning, stacklevel=2)
    est.fit(samples.X, samples.y)
    _warn_singular(est, samples)
    info = {**samples.summary(), **(summary or {})}
    return RasterModel(
        estimator=est,
        band_names=list(samples.band_names),
        class_map=_used_classes(samples.class_map, samples.y),
        crs=crs,
        summary=info,
        training_pixels=samples.footprint,
        radiometry=samples.radiometry,
    )


def _warn_singular(estimator: Any, samples: Samples) -> None:
    """A :class:`SingularCovarianceWarning` per class whose covariance had to be regularised
    (maximum likelihood), naming the class and the bands."""
    from rasterclass.estimators.parametric import singular_class_notes

    cmap = samples.class_map
    names = {c: cmap.name_of(c) for c in np.unique(samples.y).tolist()}
    for note in singular_class_notes(estimator, list(samples.band_names), names):
        shrinkage = _final_step(estimator).get_params().get("shrinkage")
        warnings.warn(
            f"maximum likelihood: {note}, so its covariance is singular; it was shrunk "
            f"towards the common covariance of the other classes (parameter shrinkage="
            f"{shrinkage}). Check the training areas of that class.",
            SingularCovarianceWarning,
            stacklevel=3,
        )


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


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
    check_training(opts, estimator)
    check_writable(
        {"model_output": model_output, "report_output": report_output},
        overwrite,
        inputs=job_inputs(scene, scene_options, training=training, legend=opts.legend),
    )
    check_report(opts, report_output)
    t0 = time.perf_counter()
    scene = _scene(scene, scene_options)
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
    plan = _cv_plan(samples, opts)  # a design that cannot be validated stops before fitting
    if estimator is None:
        estimator = make_estimator(opts.method, opts.params, opts.seed)
        method = opts.method
    else:
        check_params(estimator)
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
    if plan is not None:
        from rasterclass.accuracy.crossval import cross_validate

        result.accuracy = cross_validate(
            samples,
            estimator,
            n_splits=opts.cv_folds,
            seed=opts.seed,
            grouping=opts.cv_grouping,  # type: ignore[arg-type]
            plan=plan,
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


def _cv_plan(samples: Samples, opts: TrainingOptions) -> Any:
    """The cross-validation folds (None without CV); what the design concedes is warned.

    A design error is reworded with :class:`TrainingOptions`' field names.
    """
    if not (opts.cv_folds and opts.cv_folds > 1):
        return None
    import warnings

    from rasterclass.accuracy.crossval import PIXEL, plan_folds
    from rasterclass.errors import CrossValidationDesignError, ValidationWarning

    try:
        plan = plan_folds(
            samples,
            opts.cv_folds,
            seed=opts.seed,
            grouping=opts.cv_grouping,  # type: ignore[arg-type]
        )
    except CrossValidationDesignError as exc:
        raise CrossValidationDesignError(
            exc.problem,
            f"draw more polygons for them, validate by pixel ({param('cv_grouping', PIXEL)}; "
            f"optimistic) or do not cross-validate ({param('cv_folds', 0)})",
        ) from None
    for note in plan.notes:
        warnings.warn(note, ValidationWarning, stacklevel=3)
    return plan


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
    cog: bool = False,
) -> RunResult:
    """Apply a model to a scene and write the map (and probability layers).

    ``cog`` writes Cloud Optimized GeoTIFFs (see :func:`rasterclass.io.write_rasters`).
    """
    t0 = time.perf_counter()
    check_writable(
        {"output": output, "probabilities": probabilities},
        overwrite,
        inputs=job_inputs(scene, scene_options, model=model),
        rasters=("output", "probabilities"),
    )
    if not isinstance(model, RasterModel):
        model = RasterModel.load(model)
    scene = _scene(scene, scene_options)
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
    check_training(options or TrainingOptions(), estimator)
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
    scene = _scene(scene, scene_options)
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


def assess_map(
    map_path: PathLike,
    reference: Any,
    class_column: str,
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    **options: Any,
) -> Any:
    """Assess a map (see :func:`rasterclass.accuracy.assess.assess`) and write the report."""
    from rasterclass.accuracy.assess import assess

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
    """Draw sample points (see :func:`rasterclass.accuracy.draw.draw_sample`) and write them."""
    from rasterclass.accuracy.draw import draw_sample
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
