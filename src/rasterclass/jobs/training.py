"""The one training step behind pixel-based and object-based classification.

This module owns :func:`fit_model` (fit a cloned estimator on samples and wrap it with its
band schema and classes, warning about calibration and singular covariances),
:func:`fit_and_validate` (fit the preset or a given estimator, cross-validate by polygon,
save the model and the report) and :func:`write_report` (render an accuracy report in the
format its file name asks for).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rasterclass.accuracy import format_for_path
from rasterclass.accuracy.crossval import PIXEL, cross_validate, plan_folds
from rasterclass.applicability import importance_weights, train_applicability
from rasterclass.classes import ClassMap
from rasterclass.errors import (
    CalibrationWarning,
    CrossValidationDesignError,
    SingularCovarianceWarning,
    TrainingDataError,
    ValidationWarning,
    param,
)
from rasterclass.estimators.presets import check_params, fit_ready, make_estimator
from rasterclass.io import PathLike, file_sha256, write_text
from rasterclass.jobs.options import RunResult, TrainingOptions, check_report
from rasterclass.model import RasterModel, class_signatures
from rasterclass.sampling import Samples, check_trainable

logger = logging.getLogger(__name__)


def fit_model(
    samples: Samples,
    estimator: Any,
    *,
    crs: str | None = None,
    summary: Mapping[str, Any] | None = None,
) -> RasterModel:
    """Fit a (cloned) estimator on samples and wrap it with its band schema and classes.

    The step every training job shares, for a caller who draws its own samples. The
    estimator is cloned (the one given stays unfitted); a probability calibration by more
    folds than the smallest class allows is reduced, with a
    :class:`~rasterclass.errors.CalibrationWarning`; a singular class covariance (maximum
    likelihood) is regularised, with a :class:`~rasterclass.errors.SingularCovarianceWarning`.

    Parameters
    ----------
    samples
        Training pixels (:class:`rasterclass.Samples`, e.g. from
        :func:`rasterclass.extract_samples`), two classes or more.
    estimator
        Any unfitted scikit-learn classifier or Pipeline (e.g. from
        :func:`rasterclass.make_estimator`).
    crs
        The scene's CRS (WKT), recorded in the model.
    summary
        Extra entries of the model's summary (method, parameters...), after the samples'
        own (counts per class, what the extraction did).

    Returns
    -------
    rasterclass.RasterModel
        The fitted estimator with the samples' band names and the classes present in
        ``samples.y`` (the class map's other classes are dropped), the training footprint
        and the scene's radiometry.

    Raises
    ------
    TrainingDataError
        The samples hold fewer than two classes, or a class has one sample only where a
        calibration needs folds.

    Examples
    --------
    >>> import numpy as np
    >>> import rasterclass as rc
    >>> samples = rc.Samples(X=np.array([[0.1, 0.3], [0.2, 0.3], [0.6, 0.1], [0.7, 0.2]]),
    ...                      y=np.array([1, 1, 2, 2]), groups=np.array([0, 0, 1, 1]),
    ...                      rows=np.zeros(4, int), cols=np.arange(4), band_names=["red", "nir"],
    ...                      class_map=rc.ClassMap.from_codes([1, 2, 3], ["water", "crop", "soil"]))
    >>> model = rc.fit_model(samples, rc.make_estimator("mindist"))
    >>> model.class_map.names, model.band_names
    (('water', 'crop'), ['red', 'nir'])
    >>> model.estimator.predict(np.array([[0.15, 0.3], [0.65, 0.15]])).tolist()
    [1, 2]
    """
    from sklearn.base import clone as sklearn_clone  # not needed to predict: imported here

    check_trainable(samples)
    est, notes = fit_ready(
        sklearn_clone(estimator), samples.y, class_map=samples.class_map, where="the training data"
    )
    for note in notes:
        warnings.warn(note, CalibrationWarning, stacklevel=2)
    est.fit(samples.X, samples.y)
    _warn_singular(est, samples)
    signatures = class_signatures(samples.X, samples.y, list(samples.band_names), samples.class_map)
    info = {**samples.summary(), "signatures": signatures, **(summary or {})}
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
    # imported when training (it imports scikit-learn, which predicting does not need)
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


def fit_and_validate(
    samples: Samples,
    options: TrainingOptions,
    *,
    estimator: Any = None,
    crs: str | None = None,
    training: Any = None,
    summary: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    features: Mapping[str, Any] | None = None,
    model_output: PathLike | None = None,
    report_output: PathLike | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Fit the preset (or ``estimator``) on samples, cross-validate by polygon, save.

    The one training step behind pixel-based and object-based classification: the model
    summary records method, parameters, seed, the training file's hash (to recognise it later
    as reference data) and the cross-validated accuracy; the model keeps ``features``, the
    derived features of the scene (:func:`rasterclass.features.scene_features`).
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
    model.applicability = applicability_reference(model, samples, plan)
    model.features = dict(features) if features else None
    t1 = time.perf_counter()
    logger.info("trained %s on %d samples in %.1f s", method, len(samples), t1 - t0)
    result = RunResult(model, samples, timings={"training": t1 - t0})
    if isinstance(training, str | os.PathLike):
        model.summary["training_file"] = str(training)
        model.summary["training_sha256"] = file_sha256(training)
    if plan is not None:
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
        model.summary["cv_folds"] = result.accuracy.metadata.get("folds")
        model.summary["cv_notes"] = list(result.accuracy.notes)
        result.timings["cross-validation"] = time.perf_counter() - t1
    if model_output is not None:
        model.save(model_output, overwrite=overwrite)
        result.outputs.append(str(model_output))
    if report_output is not None:
        write_report(result.accuracy, report_output, overwrite=overwrite)
        result.outputs.append(str(report_output))
    return result


def applicability_reference(
    model: RasterModel, samples: Samples, plan: Any = None
) -> dict[str, Any] | None:
    """The area-of-applicability reference of a model's training data (JSON-ready).

    Weighted by the model's variable importance (:func:`rasterclass.applicability.\
importance_weights`); the training DI is measured across the cross-validation's test folds
    (``plan``), else across training polygons (``samples.groups``: CAST's ``folds`` as
    spatial clusters), else to the nearest other sample. None, with a log line, where the
    training data give no reference (e.g. every sample at one point).
    """
    if plan is not None:
        folds, kind = np.full(len(samples), -1, dtype=np.int64), "cross-validation folds"
        for i, (_, test) in enumerate(plan.splits):
            folds[test] = i
    elif len(np.unique(samples.groups)) >= 2:
        folds, kind = np.asarray(samples.groups), "training polygons"
    else:
        folds, kind = None, "none"
    weights, weighting = importance_weights(model.estimator, samples.X.shape[1])
    try:
        ref = train_applicability(
            samples.X,
            weights=weights,
            folds=folds,
            band_names=list(samples.band_names),
            weighting=weighting,
            folds_kind=kind,
        )
    except TrainingDataError as exc:
        logger.warning("no area-of-applicability reference for this model: %s", exc)
        return None
    return ref.to_dict()


def _cv_plan(samples: Samples, opts: TrainingOptions) -> Any:
    """The cross-validation folds (None without CV); what the design concedes is warned.

    A design error is reworded with :class:`TrainingOptions`' field names.
    """
    if not (opts.cv_folds and opts.cv_folds > 1):
        return None
    try:
        plan = plan_folds(
            samples,
            opts.cv_folds,
            seed=opts.seed,
            grouping=opts.cv_grouping,  # type: ignore[arg-type]
        )
    except CrossValidationDesignError as exc:
        fix = (
            "draw more training data for them or"
            if opts.cv_grouping == "pixel"  # already by pixel: more data or no folds
            else f"draw more polygons for them, validate by pixel "
            f"({param('cv_grouping', PIXEL)}; optimistic) or"
        )
        raise CrossValidationDesignError(
            exc.problem, f"{fix} do not cross-validate ({param('cv_folds', 0)})"
        ) from None
    for note in plan.notes:
        warnings.warn(note, ValidationWarning, stacklevel=3)
    return plan


def write_report(report: Any, path: PathLike, *, overwrite: bool = False) -> str:
    """Render an AccuracyReport in the format the extension names and write it."""
    return write_text(path, report.render(format_for_path(path)), overwrite=overwrite)
