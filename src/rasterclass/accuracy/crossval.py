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
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if grouping not in ("polygon", "pixel"):
        raise TrainingDataError(f"grouping must be 'polygon' or 'pixel', got {grouping!r}")
    check_trainable(samples)
    if grouping == "pixel":
        codes, counts = np.unique(samples.y, return_counts=True)
        k = int(min(n_splits, counts.min()))
        if k < 2:
            single = [
                samples.class_map.name_of(c) for c, n in zip(codes, counts, strict=True) if n < 2
            ]
            raise CrossValidationDesignError(
                f"class(es) {single} have a single pixel (or training segment): a pixel-level "
                "split cannot put one on both the training and the test side of a fold",
                "draw more training data for them or do not cross-validate",
            )
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
    """Yield (train index, test index) pairs of a cross-validation (see :func:`plan_folds`).

    ``grouping="polygon"`` (default) keeps every polygon on one side (scikit-learn's
    StratifiedGroupKFold, shuffled with ``seed``). What the design concedes (fewer folds,
    classes not in every fold) is said in a :class:`ValidationWarning`. ``grouping="pixel"``
    is a plain stratified pixel split (optimistic; only on request).

    Parameters
    ----------
    samples
        Training pixels with polygon ids in ``groups``.
    n_splits
        Number of folds asked (2 or more).
    seed
        Shuffles the polygons (or pixels) into folds.
    grouping
        ``"polygon"`` or ``"pixel"``.

    Yields
    ------
    (numpy.ndarray, numpy.ndarray)
        Integer positions into ``samples`` of the training side and the test side.

    Raises
    ------
    CrossValidationDesignError
        A class lies in a single polygon (grouped folds cannot test it).
    TrainingDataError
        ``n_splits`` below 2, an unknown ``grouping``, or too few classes.

    Examples
    --------
    >>> import numpy as np
    >>> import rasterclass as rc
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([1, 2], 30)                       # 30 pixels of each class ...
    >>> X = rng.normal(y[:, None] * 3.0, 1.0, (60, 2))  # ... two bands
    >>> groups = np.repeat(np.arange(6), 10)            # ... from 6 polygons of 10 pixels
    >>> samples = rc.Samples(X, y, groups, np.zeros(60, int), np.arange(60), ["red", "nir"],
    ...                      rc.ClassMap.from_codes([1, 2], ["soil", "crop"]))
    >>> [sorted(set(groups[test].tolist())) for _, test in rc.folds(samples, 3)]
    [[0, 5], [2, 3], [1, 4]]
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

    The folds come from :func:`plan_folds` (or ``plan``, made beforehand): by default every
    polygon lies on one side of every fold (scikit-learn's ``StratifiedGroupKFold``), so
    neighbouring, near-identical pixels never validate each other (Roberts et al. 2017,
    cross-validation strategies for data with spatial structure). What the design concedes
    (fewer folds, classes not in every fold) is warned and written in the report's notes.

    Parameters
    ----------
    samples
        Training pixels (from :func:`rasterclass.extract_samples`), with polygon ids in
        ``groups``.
    estimator
        An unfitted scikit-learn classifier (cloned for every fold), e.g. from
        :func:`rasterclass.make_estimator`.
    n_splits
        Number of folds (2 or more); fewer are used, with a warning, where the polygons do
        not spread over them.
    seed
        Shuffles the polygons into folds.
    grouping
        ``"polygon"`` (default) or ``"pixel"`` (a stratified pixel split: optimistic, for
        comparison only).
    plan
        Folds planned beforehand with :func:`plan_folds` (then ``n_splits``, ``seed`` and
        ``grouping`` are not used).

    Returns
    -------
    AccuracyReport
        Kind ``"cross-validation"``: the confusion matrix pools the held-out predictions of
        all folds (rows = predicted, columns = reference, counts in pixels), with the
        per-fold overall accuracies in ``metadata``.

    Raises
    ------
    CrossValidationDesignError
        A class lies in a single polygon, or no split trains every fold on the classes it
        tests; raised before any model is fitted.
    TrainingDataError
        ``n_splits`` below 2, an unknown ``grouping``, fewer than two classes, or (pixel
        grouping) a class of one pixel.

    Examples
    --------
    The samples of the example of :func:`folds` (two classes, two bands, six polygons):

    >>> import numpy as np
    >>> import rasterclass as rc
    >>> y = np.repeat([1, 2], 30)
    >>> X = np.random.default_rng(0).normal(y[:, None] * 3.0, 1.0, (60, 2))
    >>> classes = rc.ClassMap.from_codes([1, 2], ["soil", "crop"])
    >>> where = (np.repeat(np.arange(6), 10), np.zeros(60, int), np.arange(60))
    >>> samples = rc.Samples(X, y, *where, ["red", "nir"], classes)
    >>> report = rc.cross_validate(samples, rc.MinimumDistanceClassifier(), n_splits=3)
    >>> report.kind, round(report.confusion.overall_accuracy, 3)
    ('cross-validation', 0.967)
    """
    from sklearn.base import clone  # imported when used: predicting needs no scikit-learn

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
