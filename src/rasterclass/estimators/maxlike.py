"""The Gaussian maximum likelihood classifier.

This module owns :class:`MaximumLikelihoodClassifier`: one multivariate normal per class
(mean vector and full covariance, shrunk towards the pooled covariance and regularised when
singular), discriminants, probabilities and rejection of atypical pixels by a chi-square
threshold. The shared numerics live in :mod:`rasterclass.estimators._gaussian`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from numbers import Real
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from rasterclass.errors import EstimatorError, TrainingDataError
from rasterclass.estimators._gaussian import (
    ClassStatistics,
    GaussianClassifier,
    check_reg_covar,
    check_shrinkage,
    check_threshold,
    cholesky_precision,
    common_covariance,
    degenerate_bands,
    describe_problem,
    mahalanobis_squared,
    output_dtype_with,
    regularisation_scale,
    validate_predict_data,
)

__all__ = ["MaximumLikelihoodClassifier"]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# Maximum likelihood
# --------------------------------------------------------------------------------------


class MaximumLikelihoodClassifier(GaussianClassifier):
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

    Raises
    ------
    EstimatorError
        From ``fit``: invalid ``priors``, ``reg_covar``, ``threshold``, ``shrinkage`` or
        ``reject_label``; from ``predict_with_rejection``: no ``threshold`` set.
    TrainingDataError
        From ``fit``: fewer than two classes, or a covariance that stays singular after
        regularisation (with ``shrinkage=None``).

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

    def _checked_reg_covar(self) -> float:
        reg_covar = check_reg_covar(self.reg_covar)
        check_threshold(self.threshold)
        check_shrinkage(self.shrinkage)
        return reg_covar

    def _fit_model(self, data: ClassStatistics, reg_covar: float) -> None:
        """Class covariances (shrunk when singular, regularised) and their precisions."""
        X, classes, counts, means, scatter = data
        priors = self._resolve_priors(classes, counts)
        n_features = X.shape[1]

        scale = regularisation_scale(X)
        ridge = reg_covar * scale
        shrinkage = float(self.shrinkage)
        raw = scatter / np.maximum(counts - 1, 1)[:, None, None]
        problems = {
            k: found
            for k in range(classes.size)
            if (found := degenerate_bands(raw[k], scale, int(counts[k]))) is not None
        }
        flagged = np.array([k in problems for k in range(classes.size)])
        common = common_covariance(scatter, counts, flagged, scale) if problems else None
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
                        describe_problem(reason, bands, None if names is None else list(names)),
                        shrinkage,
                    )
                if reg_covar > 0:
                    assert common is not None
                    covariance = (1.0 - shrinkage) * covariance + shrinkage * common
            covariance[np.diag_indices(n_features)] += ridge
            covariances[k] = covariance
            precisions_cholesky[k] = cholesky_precision(covariance, f"class {label!r}", reg_covar)

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

        Computed through the Cholesky factors of the class precisions
        (``precisions_cholesky_``), block by block of rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to measure, one column per band.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            :math:`(x - m_i)^T S_i^{-1} (x - m_i)`, float64.
        """
        X = validate_predict_data(self, X)
        return mahalanobis_squared(X, self.means_, self.precisions_cholesky_)

    def discriminants(self, X):
        r"""Discriminant :math:`g_i(x)` of every class, whatever the number of classes.

        Unlike :meth:`decision_function`, this gives one column per class even with two
        classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels (one column per band) to score.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            :math:`\ln p(\omega_i) - \frac12 \ln|S_i| - \frac12 D_i^2(x)`, float64.
        """
        return self._discriminants_from_distances(self.mahalanobis(X))

    _scores = discriminants

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Log posterior probabilities under the Gaussian model.

        Computed from the discriminants without exponentiating them (the logsumexp trick),
        so that very unlikely classes keep a finite log probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to classify, as in :meth:`predict`.

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

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Posterior probabilities under the Gaussian model (softmax of the discriminants).

        The discriminants minus their row maximum are exponentiated and normalised, which
        cannot overflow.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to classify (float32 is converted block by block).

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

    def predict_with_rejection(self, X: ArrayLike, reject_label: Any) -> np.ndarray:
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
        threshold = check_threshold(self.threshold)
        if threshold is None:
            raise EstimatorError(
                "predict_with_rejection needs a chi-square probability threshold; set one, "
                "e.g. MaximumLikelihoodClassifier(threshold=0.01) or "
                "model.set_params(threshold=0.01)."
            )
        dtype = output_dtype_with(self.classes_, reject_label)
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
