"""Parametric per-pixel classifiers: Gaussian maximum likelihood and minimum distance.

These are the classic supervised classifiers of remote-sensing packages (ERDAS Imagine,
ENVI, GRASS ``i.maxlik``), written as scikit-learn classifiers so that they work in
pipelines, grid searches and everything else in rasterclass that accepts an estimator.

* :class:`MaximumLikelihoodClassifier` models each class as a multivariate normal
  distribution with its own mean vector and full covariance matrix, and assigns a pixel to
  the class with the largest discriminant (log prior plus log likelihood). It has a
  probabilistic model, so it offers ``predict_proba``; it can also leave pixels that are
  atypical of every class unclassified (:meth:`MaximumLikelihoodClassifier.predict_with_rejection`).
* :class:`MinimumDistanceClassifier` assigns a pixel to the class with the nearest mean,
  in Euclidean distance or in Mahalanobis distance under the pooled within-class
  covariance. It has no probabilistic model and deliberately has no ``predict_proba``.

Both compute in float64 (float32 rasters are accepted and converted block by block), are
vectorised over pixels and loop only over classes, and process large inputs in blocks of
rows so that temporaries stay small.

References
----------
J. A. Richards, *Remote Sensing Digital Image Analysis*, 6th ed., Springer, 2022,
chapter 8 (maximum likelihood, minimum distance, thresholds).

J. H. Friedman, "Regularized discriminant analysis", *Journal of the American Statistical
Association* 84(405), 165-175, 1989 (shrinking class covariances towards the pooled one).

J. P. Hoffbeck and D. A. Landgrebe, "Covariance matrix estimation and classification with
limited training data", *IEEE Transactions on Pattern Analysis and Machine Intelligence*
18(7), 763-767, 1996.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping
from numbers import Real
from typing import ClassVar

import numpy as np
from scipy import linalg, stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from rasterclass.errors import EstimatorError, TrainingDataError

__all__ = ["MaximumLikelihoodClassifier", "MinimumDistanceClassifier", "singular_class_notes"]

logger = logging.getLogger(__name__)

#: Rows handled per block when predicting: the per-class temporaries of a block
#: (``_CHUNK_ROWS x n_features`` float64) stay in the CPU cache, which is faster than
#: whole-array operations and bounds memory use for scenes with millions of pixels.
_CHUNK_ROWS = 8192

_METRICS = ("euclidean", "mahalanobis")


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------


def _check_reg_covar(reg_covar: object) -> float:
    if (
        isinstance(reg_covar, bool)
        or not isinstance(reg_covar, numbers.Real)
        or not np.isfinite(reg_covar)
        or reg_covar < 0
    ):
        raise EstimatorError(
            f"reg_covar must be a finite number >= 0, got {reg_covar!r}; "
            "use the default 1e-6, or a larger value for nearly singular classes."
        )
    return float(reg_covar)


def _check_threshold(threshold: object) -> float | None:
    if threshold is None:
        return None
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not 0.0 < threshold < 1.0
    ):
        raise EstimatorError(
            f"threshold must be None or a probability strictly between 0 and 1, got "
            f"{threshold!r}; e.g. threshold=0.01 leaves unclassified the pixels less typical "
            "of their class than 99 % of that class's own pixels."
        )
    return float(threshold)


def _check_shrinkage(shrinkage: object) -> float:
    if (
        isinstance(shrinkage, bool)
        or not isinstance(shrinkage, numbers.Real)
        or not 0.0 < shrinkage <= 1.0
    ):
        raise EstimatorError(
            f"shrinkage must be a number in (0, 1], got {shrinkage!r}; it is the weight of "
            "the common covariance in the covariance of a singular class (default 0.5)."
        )
    return float(shrinkage)


def _validate_training_data(
    estimator: BaseEstimator, X: object, y: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``X, y``; return float64 ``X``, encoded ``y``, classes and class counts."""
    X, y = validate_data(estimator, X, y, dtype=np.float64)
    check_classification_targets(y)
    classes, y_encoded, counts = np.unique(y, return_inverse=True, return_counts=True)
    if classes.size < 2:
        raise TrainingDataError(
            f"{type(estimator).__name__} needs at least 2 classes in y; got 1 class "
            f"({classes.tolist()[0]!r}). Add training samples of the other classes."
        )
    return X, y_encoded.reshape(-1), classes, counts


def _validate_predict_data(estimator: BaseEstimator, X: object) -> np.ndarray:
    """Validate ``X`` against the fitted estimator; float32 is kept (converted per block)."""
    check_is_fitted(estimator)
    return validate_data(estimator, X, reset=False, dtype=(np.float64, np.float32))


# --------------------------------------------------------------------------------------
# Numerical kernels
# --------------------------------------------------------------------------------------


def _class_means_and_scatter(
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


def _regularisation_scale(X: np.ndarray) -> np.ndarray:
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


def _degenerate_bands(
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


def _describe_problem(reason: str, bands: list[int], names: list[str] | None) -> str:
    """Words for a :func:`_degenerate_bands` finding (bands by name, or ``band 3``)."""
    listed = ", ".join(repr(names[b]) if names is not None else f"band {b + 1}" for b in bands)
    if reason == "constant":
        what = "is" if len(bands) == 1 else "are"
        return f"{listed} {what} constant (zero variance) within the class"
    if reason == "collinear":
        return f"{listed} are collinear (linearly dependent) within the class"
    return f"fewer training samples than {len(bands)} bands"


def _common_covariance(
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


def _precision_cholesky(covariance: np.ndarray, what: str, reg_covar: float) -> np.ndarray:
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


def _squared_distances(
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


def _scores_to_decision(scores: np.ndarray) -> np.ndarray:
    """Per-class scores to the scikit-learn ``decision_function`` shape.

    Two classes give the 1-D score difference (positive means ``classes_[1]``), as every
    scikit-learn binary classifier does; more classes give the ``(n_samples, K)`` scores.
    """
    if scores.shape[1] == 2:
        return scores[:, 1] - scores[:, 0]
    return scores


def _output_dtype_with(classes: np.ndarray, reject_label: object) -> np.dtype:
    """Smallest dtype that holds every class label and ``reject_label`` without loss."""
    if np.ndim(reject_label) != 0:
        raise EstimatorError(
            f"reject_label must be a single label (a number or a string), got {reject_label!r}."
        )
    if isinstance(reject_label, str | bytes):
        label_dtype = np.asarray(reject_label).dtype
    elif isinstance(reject_label, numbers.Number | np.generic):
        label_dtype = np.min_scalar_type(reject_label)
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


# --------------------------------------------------------------------------------------
# Maximum likelihood
# --------------------------------------------------------------------------------------


class MaximumLikelihoodClassifier(ClassifierMixin, BaseEstimator):
    r"""Gaussian maximum likelihood classifier (ERDAS, ENVI, GRASS ``i.maxlik``).

    Each class :math:`\omega_i` is modelled by a multivariate normal distribution with its
    own mean vector :math:`m_i` and full covariance matrix :math:`S_i`, estimated from its
    training pixels (sample covariance, divisor :math:`n_i - 1`). A pixel :math:`x` is
    assigned to the class with the largest discriminant

    .. math::

        g_i(x) = \ln p(\omega_i) - \tfrac12 \ln |S_i|
                 - \tfrac12 (x - m_i)^T S_i^{-1} (x - m_i),

    which is the log of prior times class density up to a constant shared by all classes
    (:math:`-\tfrac{d}{2}\ln 2\pi`). Distances are computed through the Cholesky factor of
    each covariance, vectorised over pixels.

    Parameters
    ----------
    priors : None, "proportional", array-like of shape (n_classes,) or dict, default=None
        Prior class probabilities :math:`p(\omega_i)`.

        * ``None``: equal priors :math:`1/K`, the default of remote-sensing packages.
          Training samples are rarely drawn in proportion to class areas, so their
          frequencies are a poor estimate of the priors.
        * ``"proportional"``: the class frequencies in the training data.
        * an array: one prior per class in the order of ``classes_`` (the sorted labels).
        * a dict: ``{label: prior}`` for every class.

        Priors must be non-negative and sum to 1 (they are then normalised exactly). A
        class with prior 0 is never predicted.
    reg_covar : float, default=1e-6
        Regularisation added to the diagonal of every class covariance:
        ``reg_covar`` times the variance of each feature over the whole training set
        (features constant in the training set use the mean variance of the others, or 1).
        Scaling by the feature variance keeps the classifier invariant to a gain and offset
        per band (DN vs reflectance). With ``reg_covar=0`` nothing is regularised (not even
        by ``shrinkage``) and a singular class covariance raises
        :class:`~rasterclass.errors.TrainingDataError`.
    shrinkage : float in (0, 1], default=0.5
        Weight :math:`\lambda` of the common covariance in the covariance of a class whose
        own covariance is singular or nearly so: :math:`S_i \leftarrow (1-\lambda) S_i +
        \lambda S_{common}`, where :math:`S_{common}` is the pooled within-class covariance
        of the classes with a regular covariance (bands with no within-class variance at all
        take their variance over the training set). A class is singular when it has no more
        training pixels than features, when a band is constant within it (variance below
        1e-6 of the band's variance over the training set: e.g. a saturated or clipped band)
        or when its bands are collinear (an eigenvalue of its correlation matrix below 1e-8).
        Without this, such a class has a near-zero variance along the degenerate direction
        and wins every pixel that shares its constant value, whatever the other bands say.
        This is the regularised discriminant analysis of Friedman (1989), which
        Hoffbeck & Landgrebe (1996) use for classes with few training samples (the
        MultiSpec practice of mixing a class covariance with the common covariance); the
        default 0.5 gives the singular class half the common spread along its degenerate
        bands. Regular classes are not changed. The classes concerned are listed in
        ``singular_classes_`` and logged; rasterclass's training jobs warn with
        :class:`~rasterclass.errors.SingularCovarianceWarning`, naming class and bands.
    threshold : float or None, default=None
        Chi-square probability threshold used only by :meth:`predict_with_rejection`
        (like ENVI's probability threshold). A pixel is left unclassified when its squared
        Mahalanobis distance :math:`D^2` to the class it is assigned to exceeds the
        ``1 - threshold`` quantile of the chi-square distribution with ``n_features``
        degrees of freedom, i.e. when fewer than a fraction ``threshold`` of the class's
        own (Gaussian) pixels would lie that far out. ``predict`` never rejects.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    class_count_ : ndarray of shape (n_classes,)
        Training pixels per class.
    priors_ : ndarray of shape (n_classes,)
        Prior probabilities used.
    means_ : ndarray of shape (n_classes, n_features)
        Class mean vectors.
    covariances_ : ndarray of shape (n_classes, n_features, n_features)
        Class covariance matrices, regularised as used by the classifier.
    precisions_cholesky_ : ndarray of shape (n_classes, n_features, n_features)
        Upper-triangular :math:`P_i` with :math:`P_i P_i^T = S_i^{-1}`.
    singular_classes_ : dict
        ``{label: (reason, band indices)}`` of the classes whose covariance was singular and
        shrunk (reason ``"samples"``, ``"constant"`` or ``"collinear"``); empty when none.
    n_features_in_ : int
        Number of features (bands) seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.

    See Also
    --------
    MinimumDistanceClassifier : nearest class mean, no covariance per class.
    sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis : the same Gaussian model,
        with proportional priors by default and its own covariance estimate and
        regularisation.

    Notes
    -----
    ``decision_function`` follows the scikit-learn convention: with more than two classes
    it returns the discriminants :math:`g_i`; with two classes it returns
    :math:`g_1 - g_0` (the log posterior ratio of ``classes_[1]``).
    :meth:`discriminants` always returns all :math:`g_i`. ``predict_proba`` is the softmax
    of the discriminants, i.e. the posterior probabilities under the Gaussian model,
    computed stably by subtracting each row's maximum (the ``logsumexp`` trick).

    Examples
    --------
    >>> import numpy as np
    >>> from rasterclass.estimators.parametric import MaximumLikelihoodClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0.0, 1.0, (50, 3)), rng.normal(4.0, 1.0, (50, 3))])
    >>> y = np.repeat(["water", "forest"], 50)
    >>> model = MaximumLikelihoodClassifier(threshold=0.01).fit(X, y)
    >>> model.classes_
    array(['forest', 'water'], dtype='<U6')
    >>> model.predict([[0.1, -0.2, 0.3], [4.2, 3.9, 4.1]])
    array(['water', 'forest'], dtype='<U6')
    >>> model.predict_proba([[0.1, -0.2, 0.3]]).round(3)
    array([[0., 1.]])
    >>> model.predict_with_rejection([[0.1, -0.2, 0.3], [40.0, -40.0, 40.0]], "unclassified")
    array(['water', 'unclassified'], dtype='<U12')
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "priors": [None, StrOptions({"proportional"}), "array-like", dict],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
        "threshold": [None, Interval(Real, 0, 1, closed="neither")],
        "shrinkage": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, priors=None, reg_covar=1e-6, threshold=None, shrinkage=0.5):
        self.priors = priors
        self.reg_covar = reg_covar
        self.threshold = threshold
        self.shrinkage = shrinkage

    def fit(self, X, y):
        """Estimate class means and covariances from training pixels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training pixels, one column per band.
        y : array-like of shape (n_samples,)
            Class labels (integers or strings), at least two distinct.

        Returns
        -------
        self : MaximumLikelihoodClassifier
            The fitted classifier.

        Raises
        ------
        EstimatorError
            If ``priors``, ``reg_covar`` or ``threshold`` is invalid.
        TrainingDataError
            If ``y`` has a single class, or a covariance cannot be made positive definite
            (only possible with ``reg_covar=0``).
        """
        reg_covar = _check_reg_covar(self.reg_covar)
        _check_threshold(self.threshold)
        _check_shrinkage(self.shrinkage)
        X, y_encoded, classes, counts = _validate_training_data(self, X, y)
        priors = self._resolve_priors(classes, counts)
        n_features = X.shape[1]

        means, scatter = _class_means_and_scatter(X, y_encoded, classes.size)
        scale = _regularisation_scale(X)
        ridge = reg_covar * scale
        shrinkage = float(self.shrinkage)
        raw = scatter / np.maximum(counts - 1, 1)[:, None, None]
        problems = {
            k: found
            for k in range(classes.size)
            if (found := _degenerate_bands(raw[k], scale, int(counts[k]))) is not None
        }
        flagged = np.array([k in problems for k in range(classes.size)])
        common = _common_covariance(scatter, counts, flagged, scale) if problems else None
        covariances = np.empty_like(scatter)
        precisions_cholesky = np.empty_like(scatter)
        singular: dict[object, tuple[str, list[int]]] = {}
        for k, label in enumerate(classes.tolist()):
            n_k = int(counts[k])
            covariance = raw[k].copy()
            if k in problems:
                reason, bands = problems[k]
                singular[label] = (reason, bands)
                if reg_covar == 0 and reason == "samples":
                    raise TrainingDataError(
                        f"Class {label!r} has {n_k} training samples for {n_features} "
                        "features, so its covariance matrix is singular; set reg_covar > 0 "
                        f"(e.g. 1e-6) or add at least {n_features + 1 - n_k} samples."
                    )
                if reason == "samples":
                    logger.warning(
                        "Class %r has %d training samples for %d features: its covariance "
                        "is singular and is shrunk towards the common covariance "
                        "(shrinkage=%g). Add samples of this class for a reliable model.",
                        label,
                        n_k,
                        n_features,
                        shrinkage,
                    )
                else:
                    names = getattr(self, "feature_names_in_", None)
                    logger.warning(
                        "Class %r: %s, so its covariance is singular; it is shrunk towards "
                        "the common covariance (shrinkage=%g).",
                        label,
                        _describe_problem(reason, bands, None if names is None else list(names)),
                        shrinkage,
                    )
                if reg_covar > 0:
                    assert common is not None
                    covariance = (1.0 - shrinkage) * covariance + shrinkage * common
            covariance[np.diag_indices(n_features)] += ridge
            covariances[k] = covariance
            precisions_cholesky[k] = _precision_cholesky(covariance, f"class {label!r}", reg_covar)

        self.singular_classes_ = singular
        self.classes_ = classes
        self.class_count_ = counts
        self.priors_ = priors
        self.means_ = means
        self.covariances_ = covariances
        self.precisions_cholesky_ = precisions_cholesky
        logger.debug(
            "Fitted maximum likelihood classifier: %d classes, %d features, %d samples.",
            classes.size,
            n_features,
            X.shape[0],
        )
        return self

    def _resolve_priors(self, classes: np.ndarray, counts: np.ndarray) -> np.ndarray:
        priors = self.priors
        n_classes = classes.size
        if priors is None:
            return np.full(n_classes, 1.0 / n_classes)
        if isinstance(priors, str):
            if priors == "proportional":
                return counts / counts.sum()
            raise EstimatorError(
                f"priors={priors!r} is not understood; use None (equal priors), "
                "'proportional' (class frequencies), an array with one prior per class in "
                "the order of classes_, or a dict {label: prior}."
            )
        if isinstance(priors, Mapping):
            labels = classes.tolist()
            missing = [label for label in labels if label not in priors]
            unknown = [key for key in priors if key not in labels]
            if missing or unknown:
                raise EstimatorError(
                    f"priors must give one prior for every class {labels}; missing "
                    f"{missing}, unknown {unknown}."
                )
            values = np.array([priors[label] for label in labels], dtype=np.float64)
        else:
            try:
                values = np.asarray(priors, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise EstimatorError(
                    f"priors must be None, 'proportional', an array or a dict, got {priors!r}."
                ) from exc
            if values.shape != (n_classes,):
                raise EstimatorError(
                    f"priors has shape {values.shape} but there are {n_classes} classes "
                    f"{classes.tolist()}; give one prior per class in that order."
                )
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise EstimatorError(f"priors must be finite and >= 0, got {values.tolist()}.")
        total = values.sum()
        if abs(total - 1.0) > 1e-6:
            raise EstimatorError(
                f"priors must sum to 1, they sum to {total:.6g}; divide them by their sum."
            )
        return values / total

    def _discriminants_from_distances(self, squared_distances: np.ndarray) -> np.ndarray:
        """Discriminants ``g_i`` from squared Mahalanobis distances (modified in place)."""
        diagonals = np.diagonal(self.precisions_cholesky_, axis1=1, axis2=2)
        log_det = -2.0 * np.log(diagonals).sum(axis=1)
        with np.errstate(divide="ignore"):
            log_priors = np.log(self.priors_)
        scores = squared_distances
        scores *= -0.5
        scores += log_priors - 0.5 * log_det
        return scores

    def mahalanobis(self, X):
        """Squared Mahalanobis distance of each pixel to each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to measure.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            :math:`(x - m_i)^T S_i^{-1} (x - m_i)`, float64.
        """
        X = _validate_predict_data(self, X)
        return _squared_distances(X, self.means_, self.precisions_cholesky_)

    def discriminants(self, X):
        r"""Discriminant :math:`g_i(x)` of every class, whatever the number of classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to score.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            :math:`\ln p(\omega_i) - \frac12 \ln|S_i| - \frac12 D_i^2(x)`, float64.
        """
        return self._discriminants_from_distances(self.mahalanobis(X))

    def decision_function(self, X):
        """Discriminants in the scikit-learn ``decision_function`` convention.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to score.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            With two classes, :math:`g_1 - g_0` (positive means ``classes_[1]``);
            otherwise the discriminants of every class.
        """
        return _scores_to_decision(self.discriminants(X))

    def predict(self, X):
        """Assign each pixel to the class with the largest discriminant.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to classify.

        Returns
        -------
        ndarray of shape (n_samples,)
            Class labels from ``classes_``.
        """
        scores = self.discriminants(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_log_proba(self, X):
        """Log posterior probabilities under the Gaussian model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to classify.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``g_i - logsumexp(g)``, columns in the order of ``classes_``; ``-inf`` for a
            class with prior 0.
        """
        scores = self.discriminants(X)
        # logsumexp with the max shift, in place (scipy's logsumexp is 2x slower here).
        # Priors sum to 1, so every row has a finite maximum; zero priors give -inf -> 0.
        scores -= scores.max(axis=1, keepdims=True)
        scores -= np.log(np.exp(scores).sum(axis=1, keepdims=True))
        return scores

    def predict_proba(self, X):
        """Posterior probabilities under the Gaussian model (softmax of the discriminants).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to classify.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1, columns in the order of ``classes_``.
        """
        scores = self.discriminants(X)
        scores -= scores.max(axis=1, keepdims=True)  # softmax, stable: exp of values <= 0
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def predict_with_rejection(self, X, reject_label):
        """Classify, leaving pixels atypical of their class as ``reject_label``.

        A pixel keeps the label given by :meth:`predict` unless its squared Mahalanobis
        distance to that class exceeds ``scipy.stats.chi2.isf(threshold, n_features)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to classify.
        reject_label : int, float or str
            Label for unclassified pixels. It must not be one of ``classes_`` and must be of
            the same kind (number or string) as the class labels. The output dtype is widened
            to hold it (e.g. ``'<U12'`` for ``"unclassified"`` with short class names).

        Returns
        -------
        ndarray of shape (n_samples,)
            Class labels, or ``reject_label``.

        Raises
        ------
        EstimatorError
            If ``threshold`` is None or invalid, or ``reject_label`` is unusable.
        """
        check_is_fitted(self)
        threshold = _check_threshold(self.threshold)
        if threshold is None:
            raise EstimatorError(
                "predict_with_rejection needs a chi-square probability threshold; set one, "
                "e.g. MaximumLikelihoodClassifier(threshold=0.01) or "
                "model.set_params(threshold=0.01)."
            )
        dtype = _output_dtype_with(self.classes_, reject_label)
        if reject_label in self.classes_.tolist():
            raise EstimatorError(
                f"reject_label {reject_label!r} is one of the classes {self.classes_.tolist()}; "
                "choose a label that no class uses (e.g. 0, -1 or 'unclassified')."
            )
        squared_distances = self.mahalanobis(X)
        scores = self._discriminants_from_distances(squared_distances.copy())
        assigned = np.argmax(scores, axis=1)
        distance_to_assigned = np.take_along_axis(squared_distances, assigned[:, None], axis=1)
        rejected = distance_to_assigned[:, 0] > stats.chi2.isf(threshold, self.n_features_in_)
        labels = self.classes_.astype(dtype)[assigned]
        labels[rejected] = reject_label
        logger.debug("Rejected %d of %d pixels.", int(rejected.sum()), rejected.size)
        return labels


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
    model = final[-1][1] if final else estimator
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
            what = _describe_problem(reason, bands, band_names)
        out.append(f"class {name!r}: {what}")
    return out


# --------------------------------------------------------------------------------------
# Minimum distance
# --------------------------------------------------------------------------------------


class MinimumDistanceClassifier(ClassifierMixin, BaseEstimator):
    """Minimum distance to class means.

    Each pixel goes to the class whose mean vector is nearest. ``metric="euclidean"`` is
    the classic minimum distance classifier; ``metric="mahalanobis"`` measures distance
    under the pooled within-class covariance (all classes share one covariance, so the
    boundaries are linear, as in linear discriminant analysis with equal priors).

    There is no probabilistic model behind a distance, so this classifier has no
    ``predict_proba``: ``hasattr(model, "predict_proba")`` is False.

    Parameters
    ----------
    metric : {"euclidean", "mahalanobis"}, default="euclidean"
        Distance to the class means.
    reg_covar : float, default=1e-6
        Only for ``metric="mahalanobis"``: added to the diagonal of the pooled covariance,
        scaled by each feature's variance over the whole training set (as in
        :class:`MaximumLikelihoodClassifier`).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    class_count_ : ndarray of shape (n_classes,)
        Training pixels per class.
    means_ : ndarray of shape (n_classes, n_features)
        Class mean vectors.
    covariance_ : ndarray of shape (n_features, n_features)
        Pooled within-class covariance, regularised; only with ``metric="mahalanobis"``.
    precision_cholesky_ : ndarray of shape (n_features, n_features)
        Upper-triangular ``P`` with ``P @ P.T`` the inverse of ``covariance_``; only with
        ``metric="mahalanobis"``.
    n_features_in_ : int
        Number of features (bands) seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.

    See Also
    --------
    MaximumLikelihoodClassifier : one full covariance per class, with probabilities.

    Notes
    -----
    ``decision_function`` returns the negative distances ``-d_i`` with more than two
    classes and ``d_0 - d_1`` (positive means ``classes_[1]``) with two, the scikit-learn
    convention; :meth:`distances` always returns every ``d_i``.

    Examples
    --------
    >>> import numpy as np
    >>> from rasterclass.estimators.parametric import MinimumDistanceClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 2.0], [10.0, 0.0], [10.0, 2.0]])
    >>> model = MinimumDistanceClassifier().fit(X, [1, 1, 2, 2])
    >>> model.means_
    array([[ 0.,  1.],
           [10.,  1.]])
    >>> model.predict([[4.0, 1.0], [6.0, 1.0]])
    array([1, 2])
    >>> model.distances([[4.0, 1.0]])
    array([[4., 6.]])
    >>> hasattr(model, "predict_proba")
    False
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "metric": [StrOptions(set(_METRICS))],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, metric="euclidean", reg_covar=1e-6):
        self.metric = metric
        self.reg_covar = reg_covar

    def fit(self, X, y):
        """Compute the class means (and the pooled covariance for Mahalanobis).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training pixels, one column per band.
        y : array-like of shape (n_samples,)
            Class labels (integers or strings), at least two distinct.

        Returns
        -------
        self : MinimumDistanceClassifier
            The fitted classifier.

        Raises
        ------
        EstimatorError
            If ``metric`` or ``reg_covar`` is invalid.
        TrainingDataError
            If ``y`` has a single class, or the pooled covariance is singular with
            ``reg_covar=0``.
        """
        if self.metric not in _METRICS:
            raise EstimatorError(
                f"metric={self.metric!r} is not supported; use one of {list(_METRICS)}."
            )
        reg_covar = _check_reg_covar(self.reg_covar)
        X, y_encoded, classes, counts = _validate_training_data(self, X, y)
        means, scatter = _class_means_and_scatter(X, y_encoded, classes.size)

        self.classes_ = classes
        self.class_count_ = counts
        self.means_ = means
        if self.metric == "mahalanobis":
            n_samples, n_features = X.shape
            degrees_of_freedom = n_samples - classes.size
            if degrees_of_freedom < n_features:
                if reg_covar == 0:
                    raise TrainingDataError(
                        f"{n_samples} training samples in {classes.size} classes leave "
                        f"{degrees_of_freedom} degrees of freedom for {n_features} features, "
                        "so the pooled covariance is singular; set reg_covar > 0 (e.g. 1e-6) "
                        "or add samples."
                    )
                logger.warning(
                    "%d training samples in %d classes are too few for a pooled covariance "
                    "of %d features; it is regularised with reg_covar=%g.",
                    n_samples,
                    classes.size,
                    n_features,
                    reg_covar,
                )
            covariance = scatter.sum(axis=0) / max(degrees_of_freedom, 1)
            covariance[np.diag_indices(n_features)] += reg_covar * _regularisation_scale(X)
            self.covariance_ = covariance
            self.precision_cholesky_ = _precision_cholesky(
                covariance, "the pooled within-class covariance", reg_covar
            )
        return self

    def distances(self, X):
        """Distance of each pixel to each class mean, in the chosen metric.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to measure.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Euclidean or Mahalanobis distances (not squared), float64.
        """
        X = _validate_predict_data(self, X)
        if self.metric == "mahalanobis":
            # One shared covariance: whiten once, then Euclidean distances.
            precision_cholesky = getattr(self, "precision_cholesky_", None)
            if precision_cholesky is None:
                raise EstimatorError(
                    "metric was changed to 'mahalanobis' after fitting; fit the model again."
                )
            n_classes = self.classes_.size
            precisions = np.broadcast_to(precision_cholesky, (n_classes, *precision_cholesky.shape))
            squared = _squared_distances(X, self.means_, precisions)
        else:
            squared = _squared_distances(X, self.means_, None)
        return np.sqrt(squared, out=squared)

    def decision_function(self, X):
        """Negative distances in the scikit-learn ``decision_function`` convention.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to score.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            With two classes ``d_0 - d_1`` (positive means ``classes_[1]``); otherwise
            ``-d_i`` for every class.
        """
        return _scores_to_decision(-self.distances(X))

    def predict(self, X):
        """Assign each pixel to the class with the nearest mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to classify.

        Returns
        -------
        ndarray of shape (n_samples,)
            Class labels from ``classes_``; ties go to the first class in ``classes_``.
        """
        distances = self.distances(X)
        return self.classes_[np.argmin(distances, axis=1)]
