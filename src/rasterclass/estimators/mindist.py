"""The minimum distance to class means classifier.

This module owns :class:`MinimumDistanceClassifier`: a pixel goes to the class with the
nearest mean, in Euclidean distance or in Mahalanobis distance under the pooled within-class
covariance. The shared numerics live in :mod:`rasterclass.estimators._gaussian`.
"""

from __future__ import annotations

import logging
from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from rasterclass.errors import EstimatorError, TrainingDataError
from rasterclass.estimators._gaussian import (
    ClassStatistics,
    GaussianClassifier,
    check_reg_covar,
    cholesky_precision,
    mahalanobis_squared,
    regularisation_scale,
    validate_predict_data,
)

__all__ = ["MinimumDistanceClassifier"]

logger = logging.getLogger(__name__)

_METRICS = ("euclidean", "mahalanobis")


# --------------------------------------------------------------------------------------
# Minimum distance
# --------------------------------------------------------------------------------------


class MinimumDistanceClassifier(GaussianClassifier):
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
        Training pixels of each class, in the order of ``classes_``.
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
        Band names, when ``X`` was a DataFrame with string column names.

    Raises
    ------
    EstimatorError
        From ``fit``: an unknown ``metric``; from ``predict``: ``metric`` changed to
        ``"mahalanobis"`` after fitting.
    TrainingDataError
        From ``fit``: fewer than two classes, or (``"mahalanobis"``) too few samples for a
        pooled covariance.

    See Also
    --------
    MaximumLikelihoodClassifier : one full covariance per class, with probabilities.

    Notes
    -----
    ``decision_function`` returns the negative distances ``-d_i`` with more than two
    classes and ``d_0 - d_1`` (positive means ``classes_[1]``) with two, the scikit-learn
    convention; :meth:`distances` always returns every ``d_i``.

    References
    ----------
    Richards, J. A. (2013). *Remote Sensing Digital Image Analysis*, 5th ed., Springer,
    section 8.5 (minimum distance classification).

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

    def _checked_reg_covar(self) -> float:
        if self.metric not in _METRICS:
            raise EstimatorError(
                f"metric={self.metric!r} is not supported; use one of {list(_METRICS)}."
            )
        return check_reg_covar(self.reg_covar)

    def _fit_model(self, data: ClassStatistics, reg_covar: float) -> None:
        """The pooled within-class covariance and its precision, for Mahalanobis."""
        X, classes, counts, means, scatter = data
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
            covariance[np.diag_indices(n_features)] += reg_covar * regularisation_scale(X)
            self.covariance_ = covariance
            self.precision_cholesky_ = cholesky_precision(
                covariance, "the pooled within-class covariance", reg_covar
            )

    def distances(self, X):
        """Distance of each pixel to each class mean, in the chosen metric.

        With ``metric="mahalanobis"`` the pixels are whitened once by the Cholesky factor
        of the pooled covariance, then measured in Euclidean distance.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to measure.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Euclidean or Mahalanobis distances (not squared), float64.
        """
        X = validate_predict_data(self, X)
        if self.metric == "mahalanobis":
            # One shared covariance: whiten once, then Euclidean distances.
            precision_cholesky = getattr(self, "precision_cholesky_", None)
            if precision_cholesky is None:
                raise EstimatorError(
                    "metric was changed to 'mahalanobis' after fitting; fit the model again."
                )
            n_classes = self.classes_.size
            precisions = np.broadcast_to(precision_cholesky, (n_classes, *precision_cholesky.shape))
            squared = mahalanobis_squared(X, self.means_, precisions)
        else:
            squared = mahalanobis_squared(X, self.means_, None)
        return np.sqrt(squared, out=squared)

    def _scores(self, X: object) -> np.ndarray:
        """Negative distances: the nearest mean scores highest."""
        distances = self.distances(X)
        return np.negative(distances, out=distances)
