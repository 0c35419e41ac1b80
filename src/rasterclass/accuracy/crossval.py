"""Validation without leakage: cross-validation and hold-out split by training polygon.

Pixels of one polygon are near-identical neighbours; letting them fall on both sides of a
split makes them "validate" each other. rasterclass therefore splits by polygon (every pixel
of a polygon is on the same side), stratified so that each class appears in every fold where
its polygons allow, and warns when they do not. A pixel-level split exists only on request,
and its report says it is optimistic.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from rasterclass.accuracy.confusion import confusion_matrix_from_labels, confusion_statistics
from rasterclass.accuracy.report import AccuracyReport
from rasterclass.errors import (
    CalibrationWarning,
    CrossValidationDesignError,
    TrainingDataError,
    ValidationWarning,
    param,
)
from rasterclass.estimators.presets import calibration_folds, fit_ready
from rasterclass.sampling import Samples, check_trainable

logger = logging.getLogger(__name__)

Grouping = Literal["polygon", "pixel"]

PIXEL_SPLIT_NOTE = (
    "pixel-level split: pixels of the same polygon fall on both sides of the split, so "
    "neighbouring, near-identical pixels validate each other; these figures are optimistic. "
    "Use the polygon-grouped validation for figures to report."
)


def _polygons_per_class(samples: Samples) -> dict[int, int]:
    out: dict[int, int] = {}
    for code in np.unique(samples.y):
        out[int(code)] = len(np.unique(samples.groups[samples.y == code]))
    return out


@dataclass
class FoldPlan:
    """The folds of a cross-validation and what the design had to concede (notes)."""

    splits: list[tuple[np.ndarray, np.ndarray]]
    grouping: str
    n_splits: int
    notes: list[str] = field(default_factory=list)


#: How messages write the pixel grouping value.
PIXEL = "'pixel'"
_GROUP_FIX = (
    f"draw more polygons for them, validate by pixel ({param('grouping', PIXEL)}; "
    f"optimistic) or do not cross-validate"
)


def plan_folds(
    samples: Samples, n_splits: int = 5, *, seed: int = 0, grouping: Grouping = "polygon"
) -> FoldPlan:
    """Folds of a cross-validation, checked before any model is fitted.

    ``grouping="polygon"`` (default) keeps every polygon (every part of a multipolygon) on
    one side (scikit-learn's StratifiedGroupKFold, shuffled with ``seed``), and every
    class a fold tests must also be on its training side: otherwise the fold would score
    the fold design, not the classifier. A class in one polygon only cannot be validated
    so (:class:`CrossValidationDesignError`); when the polygons do not spread over
    ``n_splits`` folds so, fewer folds are used with a :class:`ValidationWarning`. A class
    with fewer polygons than folds is not in every fold (warned). ``grouping="pixel"`` is
    a plain stratified pixel split (optimistic; only on request).

    Raises
    ------
    CrossValidationDesignError
        Grouped folds cannot test a class with a model that saw the class.
    """
    if grouping not in ("polygon", "pixel"):
        raise TrainingDataError(f"grouping must be 'polygon' or 'pixel', got {grouping!r}")
    check_trainable(samples)
    if grouping == "pixel":
        counts = np.unique(samples.y, return_counts=True)[1]
        k = int(min(n_splits, counts.min()))
        if k < 2:
            raise TrainingDataError("a class has a single pixel: pixel-level CV is impossible")
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return FoldPlan(list(splitter.split(samples.X, samples.y)), grouping, k)
    name = samples.class_map.name_of
    per_class = _polygons_per_class(samples)
    lone = [name(c) for c, n in per_class.items() if n < 2]
    if lone:
        raise CrossValidationDesignError(
            f"cross-validation grouped by polygon cannot measure class(es) {lone}: each lies "
            "in a single polygon, so the fold that tests it trains without the class and "
            "would score every pixel of it wrong (a multipolygon counts one polygon per part)",
            _GROUP_FIX,
        )
    n_groups = len(np.unique(samples.groups))
    notes: list[str] = []
    k = min(n_splits, n_groups)
    if k < n_splits:
        notes.append(f"only {n_groups} polygons: using {k} folds instead of {n_splits}")
    few = {name(c): n for c, n in per_class.items() if n < k}
    if few:
        notes.append(
            f"class(es) with fewer polygons than the {k} folds cannot be in every fold: "
            f"{few}; their accuracy rests on few polygons (draw more polygons for them)"
        )
    if k < 2:
        raise TrainingDataError(f"cross-validation needs n_splits >= 2, got {n_splits}")
    asked = k
    unseen: list[int] = []
    while k >= 2:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        splits = list(splitter.split(samples.X, samples.y, samples.groups))
        unseen = sorted(
            {
                int(c)
                for train, test in splits
                for c in np.setdiff1d(np.unique(samples.y[test]), samples.y[train])
            }
        )
        if not unseen:
            break
        k -= 1
    else:
        raise CrossValidationDesignError(
            f"no split of the polygons into folds trains every fold on the classes it tests "
            f"(class(es) {[name(c) for c in unseen]} have too few polygons)",
            _GROUP_FIX,
        )
    if k < asked:
        notes.append(
            f"using {k} folds instead of {asked}: with {asked} folds the polygons of some "
            "class would all fall in one test fold, leaving its training side without the class"
        )
    return FoldPlan(splits, grouping, k, notes)


def folds(
    samples: Samples, n_splits: int = 5, *, seed: int = 0, grouping: Grouping = "polygon"
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (train index, test index) pairs (see :func:`plan_folds`).

    ``grouping="polygon"`` (default) keeps every polygon on one side (scikit-learn's
    StratifiedGroupKFold, shuffled with ``seed``). What the design concedes (fewer folds,
    classes not in every fold) is said in a :class:`ValidationWarning`; a class in one
    polygon only raises :class:`CrossValidationDesignError`. ``grouping="pixel"`` is a
    plain stratified pixel split (optimistic; only on request).
    """
    plan = plan_folds(samples, n_splits, seed=seed, grouping=grouping)
    for note in plan.notes:
        warnings.warn(note, ValidationWarning, stacklevel=2)
    yield from plan.splits


def _calibratable(
    estimator: Any, samples: Samples, train: np.ndarray, fold: int
) -> tuple[np.ndarray, list[str]]:
    """The training side of a fold, less the classes a probability calibration cannot
    split (a single pixel in the fold; the fold model never predicts them, which counts
    against it), with a note naming them."""
    if not calibration_folds(estimator):
        return train, []
    labels, counts = np.unique(samples.y[train], return_counts=True)
    lonely = labels[counts < 2]
    if not lonely.size:
        return train, []
    keep = train[~np.isin(samples.y[train], lonely)]
    if len(np.unique(samples.y[keep])) < 2:
        raise TrainingDataError(
            f"the training side of cross-validation fold {fold} has fewer than two classes "
            "with 2 or more pixels, which the probability calibration needs; use fewer "
            "folds or add training polygons"
        )
    names = ", ".join(repr(samples.class_map.name_of(int(c))) for c in lonely)
    return keep, [
        f"class {names} has 1 training sample on the training side of fold {fold} and is "
        "left out of that fold's model (the probability calibration needs at least 2 per "
        "class)"
    ]


def cross_validate(
    samples: Samples,
    estimator: Any,
    *,
    n_splits: int = 5,
    seed: int = 0,
    grouping: Grouping = "polygon",
    plan: FoldPlan | None = None,
) -> AccuracyReport:
    """Cross-validated accuracy: each pixel predicted once by a model that did not see it.

    Returns an :class:`AccuracyReport` of kind ``"cross-validation"`` whose confusion matrix
    pools the held-out predictions of all folds (rows = predicted, columns = reference),
    with the per-fold overall accuracies in ``metadata``. The folds come from
    :func:`plan_folds` (or ``plan``, made beforehand); what the design concedes is warned
    and written in the report's notes. A design that cannot be grouped raises
    :class:`CrossValidationDesignError` before any model is fitted.

    Examples
    --------
    >>> report = cross_validate(samples, make_estimator("rf"))  # doctest: +SKIP
    >>> report.confusion.overall_accuracy  # doctest: +SKIP
    """
    predicted = np.zeros_like(samples.y)
    fold_oa = []
    leaks = 0
    n_folds = 0
    adjusted: list[str] = []
    if plan is None:
        plan = plan_folds(samples, n_splits, seed=seed, grouping=grouping)
        for note in plan.notes:
            warnings.warn(note, ValidationWarning, stacklevel=2)
    grouping = plan.grouping  # type: ignore[assignment]
    for train, test in plan.splits:
        n_folds += 1
        leaks += len(np.intersect1d(samples.groups[train], samples.groups[test]))
        fit_on, fold_notes = _calibratable(estimator, samples, train, n_folds)
        adjusted.extend(fold_notes)
        model, notes = fit_ready(
            clone(estimator),
            samples.y[fit_on],
            class_map=samples.class_map,
            where=f"the training side of fold {n_folds}",
        )
        adjusted.extend(notes)
        model.fit(samples.X[fit_on], samples.y[fit_on])
        predicted[test] = model.predict(samples.X[test])
        fold_oa.append(float((predicted[test] == samples.y[test]).mean()))
    if adjusted:
        warnings.warn("cross-validation: " + "; ".join(adjusted), CalibrationWarning, stacklevel=2)
    if grouping == "polygon" and leaks:  # pragma: no cover - guarded by StratifiedGroupKFold
        raise AssertionError("a polygon fell on both sides of a grouped split")
    cmap = samples.class_map
    codes = list(cmap.codes)
    matrix = confusion_matrix_from_labels(predicted, samples.y, codes)
    polygons = _polygons_per_class(samples)
    stats = confusion_statistics(
        matrix,
        list(cmap.names),
        polygon_counts=[polygons.get(c, 0) for c in codes],
    )
    notes = list(plan.notes) if grouping == "polygon" else [PIXEL_SPLIT_NOTE]
    if grouping == "polygon":
        notes.append(
            f"{n_folds}-fold cross-validation grouped by training polygon: no polygon "
            "contributes pixels to both the training and the test side of a fold."
        )
    logger.info(
        "%s-grouped %d-fold CV: overall accuracy %.3f", grouping, n_folds, stats.overall_accuracy
    )
    return AccuracyReport(
        confusion=stats,
        kind="cross-validation",
        title=f"Cross-validated accuracy ({grouping}-level split, {n_folds} folds)",
        notes=notes,
        metadata={
            "grouping": grouping,
            "folds": n_folds,
            "seed": seed,
            "fold_overall_accuracy": fold_oa,
            "n_samples": len(samples),
            "n_polygons": len(np.unique(samples.groups)),
        },
    )


def holdout_split(
    samples: Samples, test_size: float = 0.3, *, seed: int = 0, grouping: Grouping = "polygon"
) -> tuple[Samples, Samples]:
    """Split samples into train/test, by polygon (default) or by pixel (optimistic)."""
    if not 0 < test_size < 1:
        raise TrainingDataError(f"test_size must be between 0 and 1, got {test_size}")
    n_splits = max(2, round(1 / test_size))
    train, test = next(folds(samples, n_splits, seed=seed, grouping=grouping))
    return samples.subset(train), samples.subset(test)
