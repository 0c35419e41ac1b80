"""Shared numerics of the Gaussian parametric classifiers.

This module owns what :mod:`~rasterclass.estimators.maxlike` and
:mod:`~rasterclass.estimators.mindist` share: parameter and data validation, class means and
scatter matrices, the covariance regularisation scale, the detection of singular class
covariances (constant or collinear bands) and its sentences for users
(:func:`singular_class_notes`), Cholesky factors of precision matrices, the blocked
squared-distance kernel (blocks of ``_CHUNK_ROWS`` rows) and :class:`GaussianClassifier`,
the base class that holds the two classifiers' ``fit``, ``predict`` and
``decision_function``.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping
from typing import Any, NamedTuple, Self, TypeGuard

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from rasterclass.errors import EstimatorError, TrainingDataError

__all__ = ["GaussianClassifier", "singular_class_notes"]

logger = logging.getLogger(__name__)

#: Rows handled per block when predicting: the per-class temporaries of a block
#: (``_CHUNK_ROWS x n_features`` float64) stay in the CPU cache, which is faster than
#: whole-array operations and bounds memory use for scenes with millions of pixels.
_CHUNK_ROWS = 8192


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------


def _is_real_number(value: object) -> TypeGuard[float]:
    """True for a :class:`numbers.Real` that is not a bool (typing spells a real as float)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_reg_covar(reg_covar: object) -> float:
    if not _is_real_number(reg_covar) or not np.isfinite(reg_covar) or reg_covar < 0:
        raise EstimatorError(
            f"reg_covar must be a finite number >= 0, got {reg_covar!r}; "
            "use the default 1e-6, or a larger value for nearly singular classes."
        )
    return float(reg_covar)


def check_threshold(threshold: object) -> float | None:
    if threshold is None:
        return None
    if not _is_real_number(threshold) or not 0.0 < threshold < 1.0:
        raise EstimatorError(
            f"threshold must be None or a probability strictly between 0 and 1, got "
            f"{threshold!r}; e.g. threshold=0.01 leaves unclassified the pixels less typical "
            "of their class than 99 % of that class's own pixels."
        )
    return float(threshold)


def check_shrinkage(shrinkage: object) -> float:
    if not _is_real_number(shrinkage) or not 0.0 < shrinkage <= 1.0:
        raise EstimatorError(
            f"shrinkage must be a number in (0, 1], got {shrinkage!r}; it is the weight of "
            "the common covariance in the covariance of a singular class (default 0.5)."
        )
    return float(shrinkage)


def validate_training_data(
    estimator: BaseEstimator, X: object, y: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``X, y``; return float64 ``X``, encoded ``y``, classes and class counts."""
    X_valid, y_valid = validate_data(estimator, X, y, dtype=np.float64)
    check_classification_targets(y_valid)
    classes, y_encoded, counts = np.unique(y_valid, return_inverse=True, return_counts=True)
    if classes.size < 2:
        raise TrainingDataError(
            f"{type(estimator).__name__} needs at least 2 classes in y; got 1 class "
            f"({classes.tolist()[0]!r}). Add training samples of the other classes."
        )
    return X_valid, y_encoded.reshape(-1), classes, counts


def validate_predict_data(estimator: BaseEstimator, X: object) -> np.ndarray:
    """Validate ``X`` against the fitted estimator; float32 is kept (converted per block)."""
    check_is_fitted(estimator)
    return validate_data(estimator, X, reset=False, dtype=(np.float64, np.float32))


# --------------------------------------------------------------------------------------
# Numerical kernels
# --------------------------------------------------------------------------------------


def class_means_and_scatter(
    X: np.ndarray, y_encoded: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per class mean vectors ``(K, d)`` and scatter matrices ``sum (x-m)(x-m)^T`` ``(K, d, d)``."""
    n_features = X.shape[1]
    means = np.empty((n_classes, n_features))
    scatter = np.empty((n_classes, n_features, n_features))
    for k in range(n_classes):
        X_k = X[y_encoded == k]
        means[k] = X_k.mean(axis=0)
        centred = X_k - means[k]
        scatter[k] = centred.T @ centred
    return means, scatter


def regularisation_scale(X: np.ndarray) -> np.ndarray:
    """Per-feature variance of the whole training set, used to scale ``reg_covar``.

    Features that are constant in the training set use the mean variance of the other
    features, or 1 when every feature is constant.
    """
    variance = X.var(axis=0)
    positive = variance[variance > 0]
    fallback = float(positive.mean()) if positive.size else 1.0
    return np.where(variance > 0, variance, fallback)


#: A class's variance in a band below this share of the band's variance over the training
#: set counts as zero (the band is constant, or nearly, within the class).
_ZERO_VARIANCE_SHARE = 1e-6

#: Smallest eigenvalue of a class's correlation matrix below which its bands are collinear
#: (the covariance is rank-deficient even though every band varies).
_COLLINEAR_EIGENVALUE = 1e-8


def degenerate_bands(
    covariance: np.ndarray, scale: np.ndarray, n_samples: int
) -> tuple[str, list[int]] | None:
    """Why a class covariance is singular or nearly so, and the bands concerned; or None.

    ``scale`` is the variance of every band over the whole training set. Reasons:
    ``"samples"`` (no more samples than bands: every band concerned), ``"constant"``
    (bands whose class variance is below ``_ZERO_VARIANCE_SHARE`` of ``scale``),
    ``"collinear"`` (the bands loading on a near-zero eigenvalue of the class's
    correlation matrix). Invariant to a gain and offset per band.
    """
    n_features = covariance.shape[0]
    if n_samples <= n_features:
        return "samples", list(range(n_features))
    variance = np.diag(covariance)
    constant = np.flatnonzero(variance <= _ZERO_VARIANCE_SHARE * scale)
    if constant.size:
        return "constant", constant.tolist()
    sd = np.sqrt(variance)
    correlation = covariance / np.outer(sd, sd)
    values, vectors = np.linalg.eigh(correlation)
    if values[0] < _COLLINEAR_EIGENVALUE:
        loading = np.abs(vectors[:, 0])
        return "collinear", np.flatnonzero(loading >= 0.1 * loading.max()).tolist()
    return None


def describe_problem(reason: str, bands: list[int], names: list[str] | None) -> str:
    """Words for a :func:`degenerate_bands` finding (bands by name, or ``band 3``)."""
    listed = ", ".join(repr(names[b]) if names is not None else f"band {b + 1}" for b in bands)
    if reason == "constant":
        what = "is" if len(bands) == 1 else "are"
        return f"{listed} {what} constant (zero variance) within the class"
    if reason == "collinear":
        return f"{listed} are collinear (linearly dependent) within the class"
    return f"fewer training samples than {len(bands)} bands"


def common_covariance(
    scatter: np.ndarray, counts: np.ndarray, flagged: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Pooled within-class covariance of the classes with a regular covariance.

    All classes when every class is flagged; bands with no within-class variance at all
    take their variance over the training set (``scale``), so that a singular class is
    never shrunk towards a singular target.
    """
    use = ~flagged if (~flagged).any() else np.ones_like(flagged)
    dof = max(int(counts[use].sum() - use.sum()), 1)
    common = scatter[use].sum(axis=0) / dof
    diagonal = np.diag(common).copy()
    empty = diagonal <= _ZERO_VARIANCE_SHARE * scale
    if empty.any():
        common[np.diag_indices_from(common)] = np.where(empty, scale, diagonal)
    return common


def cholesky_precision(covariance: np.ndarray, what: str, reg_covar: float) -> np.ndarray:
    """Upper-triangular ``P`` with ``P @ P.T == inv(covariance)``.

    ``(x - m) @ P`` then has squared norm equal to the squared Mahalanobis distance.
    """
    try:
        chol = linalg.cholesky(covariance, lower=True)
    except linalg.LinAlgError as exc:
        raise TrainingDataError(
            f"The covariance matrix of {what} is not positive definite even after "
            f"regularisation with reg_covar={reg_covar!r}; increase reg_covar (e.g. 1e-4) "
            "or add training samples."
        ) from exc
    identity = np.eye(covariance.shape[0])
    return linalg.solve_triangular(chol, identity, lower=True).T


def mahalanobis_squared(
    X: np.ndarray, means: np.ndarray, precisions_cholesky: np.ndarray | None
) -> np.ndarray:
    """Squared (Mahalanobis) distances of every row of ``X`` to every class mean.

    ``precisions_cholesky`` is ``(K, d, d)``, or ``None`` for Euclidean distances. Returns a
    float64 ``(n_samples, K)`` array. Rows are processed in blocks of ``_CHUNK_ROWS``; each
    row's result does not depend on the block it falls in.
    """
    n_samples = X.shape[0]
    n_classes = means.shape[0]
    out = np.empty((n_samples, n_classes))
    for start in range(0, n_samples, _CHUNK_ROWS):
        block = np.asarray(X[start : start + _CHUNK_ROWS], dtype=np.float64)
        rows = slice(start, start + block.shape[0])
        for k in range(n_classes):
            z = block - means[k]
            if precisions_cholesky is not None:
                z = z @ precisions_cholesky[k]
            out[rows, k] = np.einsum("ij,ij->i", z, z)
    return out


def scores_to_decision(scores: np.ndarray) -> np.ndarray:
    """Per-class scores to the scikit-learn ``decision_function`` shape.

    Two classes give the 1-D score difference (positive means ``classes_[1]``), as every
    scikit-learn binary classifier does; more classes give the ``(n_samples, K)`` scores.
    """
    if scores.shape[1] == 2:
        return scores[:, 1] - scores[:, 0]
    return scores


def output_dtype_with(classes: np.ndarray, reject_label: object) -> np.dtype:
    """Smallest dtype that holds every class label and ``reject_label`` without loss."""
    if np.ndim(reject_label) != 0:  # type: ignore[arg-type]  # any object is 0-d at runtime
        raise EstimatorError(
            f"reject_label must be a single label (a number or a string), got {reject_label!r}."
        )
    if isinstance(reject_label, str | bytes):
        label_dtype = np.asarray(reject_label).dtype
    elif isinstance(reject_label, numbers.Number | np.generic):
        label_dtype = np.min_scalar_type(reject_label)  # type: ignore[arg-type]
    else:
        label_dtype = np.dtype(object)
    if classes.dtype != object and (classes.dtype.kind in "US") != (label_dtype.kind in "US"):
        kind = "strings" if classes.dtype.kind in "US" else "numbers"
        raise EstimatorError(
            f"reject_label {reject_label!r} is not of the same kind as the class labels, "
            f"which are {kind} ({classes.dtype}); pass a reject_label that is one of {kind}."
        )
    try:
        return np.result_type(classes.dtype, label_dtype)
    except TypeError as exc:
        raise EstimatorError(
            f"reject_label {reject_label!r} cannot be stored with class labels of dtype "
            f"{classes.dtype}; pass a reject_label of the same kind as the class labels."
        ) from exc


def singular_class_notes(
    estimator: object, band_names: list[str] | None = None, class_names: Mapping | None = None
) -> list[str]:
    """One sentence per class whose covariance a fitted maximum likelihood model regularised.

    Parameters
    ----------
    estimator
        A fitted :class:`MaximumLikelihoodClassifier`, or a Pipeline ending in one; any
        other estimator gives no notes.
    band_names
        Names of the features (bands), in order; default ``band 1``, ``band 2``...
    class_names
        ``{label: name}`` to name classes; default the labels.

    Returns
    -------
    list of str
        E.g. ``"class 'water': 'nir' is constant (zero variance) within the class"``.
    """
    final = getattr(estimator, "steps", None)
    model: Any = final[-1][1] if final else estimator
    found = getattr(model, "singular_classes_", None)
    if not found:
        return []
    names = dict(class_names or {})
    counts = dict(zip(model.classes_.tolist(), model.class_count_.tolist(), strict=True))
    out = []
    for label, (reason, bands) in found.items():
        name = names.get(label, label)
        if reason == "samples":
            what = f"{counts[label]} training samples for {model.n_features_in_} bands"
        else:
            what = describe_problem(reason, bands, band_names)
        out.append(f"class {name!r}: {what}")
    return out


class ClassStatistics(NamedTuple):
    """What :meth:`GaussianClassifier.fit` hands to a subclass's ``_fit_model``."""

    X: np.ndarray
    """Training pixels, float64, one column per band."""
    classes: np.ndarray
    """Class labels, sorted."""
    counts: np.ndarray
    """Training pixels per class."""
    means: np.ndarray
    """Class mean vectors ``(K, d)``."""
    scatter: np.ndarray
    """Class scatter matrices ``sum (x-m)(x-m)^T`` ``(K, d, d)``."""


class GaussianClassifier(ClassifierMixin, BaseEstimator):
    """Base of the parametric classifiers: shared ``fit``, ``predict`` and ``decision_function``.

    A subclass checks its parameters in ``_checked_reg_covar`` (returning the checked
    ``reg_covar``), fits its model from the :class:`ClassStatistics` in ``_fit_model`` and scores
    pixels in ``_scores`` (one column per class, larger is better).
    """

    def _checked_reg_covar(self) -> float:
        raise NotImplementedError

    def _fit_model(self, data: ClassStatistics, reg_covar: float) -> None:
        raise NotImplementedError

    def _scores(self, X: object) -> np.ndarray:
        raise NotImplementedError

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Estimate the class statistics (means, covariances) from training pixels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training pixels, one column per band.
        y : array-like of shape (n_samples,)
            Class labels (integers or strings), at least two distinct.

        Returns
        -------
        self : object
            The fitted classifier.

        Raises
        ------
        EstimatorError
            If a parameter (``priors``, ``metric``, ``reg_covar``, ``threshold``,
            ``shrinkage``) is invalid.
        TrainingDataError
            If ``y`` has a single class, or a covariance cannot be made positive definite
            (only possible with ``reg_covar=0``).
        """
        reg_covar = self._checked_reg_covar()
        X, y_encoded, classes, counts = validate_training_data(self, X, y)
        means, scatter = class_means_and_scatter(X, y_encoded, classes.size)
        self._fit_model(ClassStatistics(X, classes, counts, means, scatter), reg_covar)
        return self

    def decision_function(self, X):
        """Class scores in the scikit-learn ``decision_function`` convention.

        The scores are the discriminants (maximum likelihood) or the negative distances
        (minimum distance).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to score.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            With two classes, the score of ``classes_[1]`` minus that of ``classes_[0]``
            (positive means ``classes_[1]``); otherwise the score of every class.
        """
        return scores_to_decision(self._scores(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Assign each pixel to the class with the best score.

        The best score is the largest discriminant (maximum likelihood) or the nearest
        mean (minimum distance).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pixels to classify.

        Returns
        -------
        ndarray of shape (n_samples,)
            Class labels from ``classes_``; ties go to the first class in ``classes_``.
        """
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]
