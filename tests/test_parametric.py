"""Tests of the parametric classifiers (maximum likelihood, minimum distance)."""

from __future__ import annotations

import doctest
import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis
from sklearn.utils.estimator_checks import parametrize_with_checks

from rasterclass.errors import EstimatorError, TrainingDataError
from rasterclass.estimators import _gaussian, maxlike, mindist
from rasterclass.estimators.parametric import (
    MaximumLikelihoodClassifier,
    MinimumDistanceClassifier,
)

LOGGER = "rasterclass.estimators.maxlike"
MINDIST_LOGGER = "rasterclass.estimators.mindist"


# --------------------------------------------------------------------------------------
# Data helpers
# --------------------------------------------------------------------------------------


def exact_gaussian_sample(rng, mean, cov, n):
    """``n`` points whose sample mean and sample covariance (ddof=1) are exactly ``mean, cov``."""
    mean = np.asarray(mean, dtype=float)
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    z = rng.normal(size=(n, mean.size))
    z -= z.mean(axis=0)
    z_chol = np.linalg.cholesky(z.T @ z / (n - 1))
    z = np.linalg.solve(z_chol, z.T).T  # sample covariance now exactly the identity
    return z @ np.linalg.cholesky(cov).T + mean


def random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + d * np.eye(d)


def two_class_problem(seed=0, sizes=(200, 200), d=3):
    """Two classes with known means and (different) covariances, exact sample moments."""
    rng = np.random.default_rng(seed)
    means = [np.zeros(d), np.full(d, 2.0)]
    covs = [random_spd(rng, d), random_spd(rng, d) * 0.5]
    X = np.vstack(
        [exact_gaussian_sample(rng, m, c, n) for m, c, n in zip(means, covs, sizes, strict=True)]
    )
    y = np.repeat([0, 1], sizes)
    return X, y, means, covs


def blobs(seed, n_classes, n_features, n_per_class=30):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 5.0, size=(n_classes, n_features))
    X = np.vstack(
        [rng.normal(c, 1.0 + k, size=(n_per_class, n_features)) for k, c in enumerate(centres)]
    )
    y = np.repeat(np.arange(n_classes), n_per_class)
    return X, y


def top_two_gap(scores):
    ordered = np.sort(scores, axis=1)
    return ordered[:, -1] - ordered[:, -2]


# --------------------------------------------------------------------------------------
# scikit-learn conformance
# --------------------------------------------------------------------------------------


@parametrize_with_checks(
    [
        MaximumLikelihoodClassifier(),
        MaximumLikelihoodClassifier(priors="proportional", threshold=0.01),
        MinimumDistanceClassifier(),
        MinimumDistanceClassifier(metric="mahalanobis"),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_docstring_examples_run():
    for module in (maxlike, mindist):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0
        assert result.failed == 0


# --------------------------------------------------------------------------------------
# Maximum likelihood: golden behaviour
# --------------------------------------------------------------------------------------


def test_ml_estimates_exact_class_moments():
    X, y, means, covs = two_class_problem()
    model = MaximumLikelihoodClassifier(reg_covar=0.0).fit(X, y)
    np.testing.assert_allclose(model.means_, np.array(means), atol=1e-12)
    np.testing.assert_allclose(model.covariances_, np.array(covs), rtol=1e-10)
    np.testing.assert_array_equal(model.class_count_, [200, 200])
    np.testing.assert_allclose(model.priors_, [0.5, 0.5])
    for k in range(2):
        precision = model.precisions_cholesky_[k] @ model.precisions_cholesky_[k].T
        np.testing.assert_allclose(precision, np.linalg.inv(covs[k]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("priors", "expected_priors"),
    [(None, [0.5, 0.5]), ("proportional", [150 / 350, 200 / 350]), ([0.2, 0.8], [0.2, 0.8])],
)
def test_ml_discriminants_equal_analytic_bayes_rule(priors, expected_priors):
    X, y, means, covs = two_class_problem(sizes=(150, 200))
    model = MaximumLikelihoodClassifier(priors=priors, reg_covar=0.0).fit(X, y)
    np.testing.assert_allclose(model.priors_, expected_priors)
    query = np.random.default_rng(1).normal(1.0, 3.0, size=(500, 3))
    log_joint = np.column_stack(
        [
            stats.multivariate_normal(means[k], covs[k]).logpdf(query) + np.log(expected_priors[k])
            for k in range(2)
        ]
    )
    # g_i omits the -d/2 ln(2 pi) constant shared by every class.
    constant = 0.5 * 3 * np.log(2 * np.pi)
    np.testing.assert_allclose(model.discriminants(query), log_joint + constant, atol=1e-8)
    np.testing.assert_array_equal(model.predict(query), np.argmax(log_joint, axis=1))
    np.testing.assert_allclose(
        model.decision_function(query), log_joint[:, 1] - log_joint[:, 0], atol=1e-8
    )
    posterior = np.exp(log_joint - np.logaddexp(log_joint[:, :1], log_joint[:, 1:]))
    np.testing.assert_allclose(model.predict_proba(query), posterior, atol=1e-10)


def test_ml_default_regularised_model_is_bayes_rule_for_its_own_estimates():
    X, y = blobs(seed=2, n_classes=4, n_features=6)
    model = MaximumLikelihoodClassifier().fit(X, y)
    # documented regularisation: reg_covar times each band's variance over the training set
    raw = np.array([np.cov(X[y == k], rowvar=False) for k in range(4)])
    np.testing.assert_allclose(model.covariances_, raw + np.diag(1e-6 * X.var(axis=0)), rtol=1e-12)
    query = np.random.default_rng(3).normal(0.0, 6.0, size=(400, 6))
    log_joint = np.column_stack(
        [
            stats.multivariate_normal(model.means_[k], model.covariances_[k]).logpdf(query)
            + np.log(0.25)
            for k in range(4)
        ]
    )
    constant = 0.5 * 6 * np.log(2 * np.pi)
    np.testing.assert_allclose(model.discriminants(query), log_joint + constant, atol=1e-8)
    np.testing.assert_array_equal(model.predict(query), np.argmax(log_joint, axis=1))


def test_ml_mahalanobis_matches_scipy():
    X, y = blobs(seed=5, n_classes=3, n_features=4)
    model = MaximumLikelihoodClassifier().fit(X, y)
    query = np.random.default_rng(6).normal(size=(20, 4))
    expected = np.array(
        [
            [
                scipy_mahalanobis(x, model.means_[k], np.linalg.inv(model.covariances_[k])) ** 2
                for k in range(3)
            ]
            for x in query
        ]
    )
    np.testing.assert_allclose(model.mahalanobis(query), expected, rtol=1e-9)


def test_ml_beats_minimum_distance_on_elongated_class():
    rng = np.random.default_rng(1)

    def sample(n):
        elongated = rng.normal([0.0, 0.0], [4.0, 0.3], size=(n, 2))  # stretched towards B
        compact = rng.normal([5.0, 1.5], [0.5, 0.5], size=(n, 2))
        return np.vstack([elongated, compact]), np.repeat(["elongated", "compact"], n)

    X_train, y_train = sample(500)
    X_test, y_test = sample(5000)
    ml = MaximumLikelihoodClassifier().fit(X_train, y_train).score(X_test, y_test)
    md = MinimumDistanceClassifier().fit(X_train, y_train).score(X_test, y_test)
    assert ml > 0.97
    assert ml - md > 0.08


def test_proportional_priors_shift_the_boundary_as_bayes_predicts():
    # Equal variance 1, means 0 and 4, 900 vs 100 samples: with equal priors the boundary
    # is the midpoint 2; with proportional priors it moves to 2 + ln(9) / 4 towards class 1.
    rng = np.random.default_rng(7)
    X = np.vstack(
        [
            exact_gaussian_sample(rng, [0.0], [[1.0]], 900),
            exact_gaussian_sample(rng, [4.0], [[1.0]], 100),
        ]
    )
    y = np.repeat([0, 1], [900, 100])
    shifted = 2.0 + np.log(9.0) / 4.0
    eps = 1e-6

    equal = MaximumLikelihoodClassifier(reg_covar=0.0).fit(X, y)
    np.testing.assert_array_equal(equal.predict([[2.0 - eps], [2.0 + eps], [2.3]]), [0, 1, 1])
    assert abs(equal.decision_function([[2.0]])[0]) < 1e-9

    proportional = MaximumLikelihoodClassifier(priors="proportional", reg_covar=0.0).fit(X, y)
    np.testing.assert_allclose(proportional.priors_, [0.9, 0.1])
    np.testing.assert_array_equal(
        proportional.predict([[shifted - eps], [shifted + eps], [2.3]]), [0, 1, 0]
    )
    assert abs(proportional.decision_function([[shifted]])[0]) < 1e-9

    # Explicit arrays and dicts are the same priors.
    as_array = MaximumLikelihoodClassifier(priors=[0.9, 0.1], reg_covar=0.0).fit(X, y)
    as_dict = MaximumLikelihoodClassifier(priors={1: 0.1, 0: 0.9}, reg_covar=0.0).fit(X, y)
    query = np.linspace(-2, 6, 41)[:, None]
    np.testing.assert_allclose(
        as_array.decision_function(query), proportional.decision_function(query)
    )
    np.testing.assert_allclose(
        as_dict.decision_function(query), proportional.decision_function(query)
    )


def test_zero_prior_class_is_never_predicted():
    X, y = blobs(seed=8, n_classes=3, n_features=2)
    model = MaximumLikelihoodClassifier(priors=[0.5, 0.0, 0.5]).fit(X, y)
    predicted = model.predict(X)
    assert 1 not in predicted
    proba = model.predict_proba(X)
    np.testing.assert_array_equal(proba[:, 1], 0.0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(np.isneginf(model.predict_log_proba(X)[:, 1]))


def test_binary_decision_function_is_discriminant_difference():
    X, y, _, _ = two_class_problem(seed=9)
    model = MaximumLikelihoodClassifier().fit(X, y)
    g = model.discriminants(X)
    assert g.shape == (X.shape[0], 2)
    np.testing.assert_allclose(model.decision_function(X), g[:, 1] - g[:, 0])


def test_multiclass_decision_function_is_discriminants():
    X, y = blobs(seed=10, n_classes=4, n_features=3)
    model = MaximumLikelihoodClassifier().fit(X, y)
    np.testing.assert_array_equal(model.decision_function(X), model.discriminants(X))
    np.testing.assert_array_equal(np.argmax(model.decision_function(X), axis=1), model.predict(X))


# --------------------------------------------------------------------------------------
# Labels, dtypes, blocks
# --------------------------------------------------------------------------------------


def test_string_labels():
    X, y = blobs(seed=11, n_classes=3, n_features=4)
    names = np.array(["water", "forest", "urban"])
    for model_class in (MaximumLikelihoodClassifier, MinimumDistanceClassifier):
        numeric = model_class().fit(X, y)
        named = model_class().fit(X, names[y])
        np.testing.assert_array_equal(named.classes_, ["forest", "urban", "water"])
        np.testing.assert_array_equal(named.predict(X), names[numeric.predict(X)])
        assert named.score(X, names[y]) == numeric.score(X, y)

    by_name = MaximumLikelihoodClassifier(priors={"water": 0.6, "forest": 0.3, "urban": 0.1})
    np.testing.assert_allclose(by_name.fit(X, names[y]).priors_, [0.3, 0.1, 0.6])


@pytest.mark.parametrize("model_class", [MaximumLikelihoodClassifier, MinimumDistanceClassifier])
def test_float32_input(model_class):
    X, y = blobs(seed=12, n_classes=3, n_features=6)
    X32 = X.astype(np.float32)
    model32 = model_class().fit(X32, y)
    model64 = model_class().fit(X32.astype(np.float64), y)
    assert model32.means_.dtype == np.float64
    decision = model32.decision_function(X32)
    assert decision.dtype == np.float64
    np.testing.assert_array_equal(decision, model64.decision_function(X32.astype(np.float64)))
    np.testing.assert_array_equal(model32.predict(X32), model64.predict(X32.astype(np.float64)))


@pytest.mark.parametrize("chunk_rows", [1, 7, 64])
@pytest.mark.parametrize(
    "model",
    [
        MaximumLikelihoodClassifier(),
        MinimumDistanceClassifier(),
        MinimumDistanceClassifier(metric="mahalanobis"),
    ],
)
def test_results_do_not_depend_on_block_size(monkeypatch, model, chunk_rows):
    X, y = blobs(seed=13, n_classes=3, n_features=4)
    query = np.random.default_rng(14).normal(0.0, 5.0, size=(100, 4))
    model.fit(X, y)
    whole = model.decision_function(query)
    monkeypatch.setattr(_gaussian, "_CHUNK_ROWS", chunk_rows)
    np.testing.assert_allclose(model.decision_function(query), whole, rtol=1e-12, atol=1e-12)
    row_by_row = np.concatenate([model.decision_function(row[None, :]) for row in query])
    np.testing.assert_allclose(row_by_row, whole, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# Rejection
# --------------------------------------------------------------------------------------


def test_rejection_labels_far_pixels_and_keeps_near_ones():
    X, y, means, _ = two_class_problem(seed=16)
    model = MaximumLikelihoodClassifier(threshold=0.01).fit(X, y)
    near = np.array(means)
    far = np.array([[100.0, -100.0, 100.0], [-50.0, 50.0, 0.0]])
    labels = model.predict_with_rejection(np.vstack([near, far]), reject_label=-1)
    np.testing.assert_array_equal(labels, [0, 1, -1, -1])
    # predict itself never rejects
    assert set(model.predict(far)) <= {0, 1}


def test_rejection_boundary_is_the_chi_square_quantile():
    rng = np.random.default_rng(17)
    d = 4
    cov = random_spd(rng, d)
    mean = np.arange(d, dtype=float)
    X = np.vstack(
        [
            exact_gaussian_sample(rng, mean, cov, 300),
            exact_gaussian_sample(rng, mean + 100, cov, 300),
        ]
    )
    y = np.repeat([1, 2], 300)
    threshold = 0.05
    model = MaximumLikelihoodClassifier(threshold=threshold, reg_covar=0.0).fit(X, y)
    critical = stats.chi2.isf(threshold, d)

    direction = rng.normal(size=(3, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    chol = np.linalg.cholesky(cov)
    inside = mean + np.sqrt(critical * (1 - 1e-9)) * direction @ chol.T
    outside = mean + np.sqrt(critical * (1 + 1e-9)) * direction @ chol.T
    np.testing.assert_allclose(model.mahalanobis(inside)[:, 0], critical, rtol=1e-8)
    np.testing.assert_array_equal(model.predict_with_rejection(inside, 0), [1, 1, 1])
    np.testing.assert_array_equal(model.predict_with_rejection(outside, 0), [0, 0, 0])

    # About a fraction `threshold` of the class's own pixels are rejected.
    own = rng.multivariate_normal(mean, cov, size=20_000)
    rate = np.mean(model.predict_with_rejection(own, 0) == 0)
    assert abs(rate - threshold) < 0.01


def test_rejection_measures_distance_to_the_assigned_class():
    # A narrow and a broad class share a mean. Near the mean the narrow class wins on its
    # small determinant although the pixel is many of its standard deviations out, while the
    # broad class would find it typical: the pixel must be rejected.
    rng = np.random.default_rng(29)
    X = np.vstack(
        [
            exact_gaussian_sample(rng, [0.0, 0.0], 0.01 * np.eye(2), 100),
            exact_gaussian_sample(rng, [0.0, 0.0], 100 * np.eye(2), 100),
        ]
    )
    y = np.repeat(["narrow", "broad"], 100)
    model = MaximumLikelihoodClassifier(threshold=0.5, reg_covar=0.0).fit(X, y)
    pixel = [[0.2, 0.0]]
    np.testing.assert_allclose(model.mahalanobis(pixel), [[0.0004, 4.0]])  # broad, narrow
    assert model.predict(pixel)[0] == "narrow"
    assert stats.chi2.isf(0.5, 2) < 4.0
    assert model.predict_with_rejection(pixel, "none")[0] == "none"
    assert model.predict_with_rejection([[0.05, 0.0]], "none")[0] == "narrow"


def test_rejection_output_dtype_holds_long_reject_label():
    X, y = blobs(seed=18, n_classes=2, n_features=2)
    names = np.array(["a", "b"])
    model = MaximumLikelihoodClassifier(threshold=0.001).fit(X, names[y])
    labels = model.predict_with_rejection([[1e4, 1e4], X[0]], "unclassified")
    assert labels[0] == "unclassified"
    assert labels[1] == model.predict(X[:1])[0]

    small_ints = MaximumLikelihoodClassifier(threshold=0.001).fit(X, y.astype(np.uint8))
    rejected = small_ints.predict_with_rejection([[1e4, 1e4]], 255)
    assert rejected.dtype == np.uint8
    assert rejected[0] == 255
    negative = small_ints.predict_with_rejection([[1e4, 1e4]], -1)
    assert negative[0] == -1


@pytest.mark.parametrize(
    ("threshold", "labels", "reject_label", "message"),
    [
        (None, [0, 1], -1, "needs a chi-square probability threshold"),
        (0.01, [0, 1], 1, "is one of the classes"),
        (0.01, ["a", "b"], -1, "same kind"),
        (0.01, [0, 1], "none", "same kind"),
        (0.01, [0, 1], [7, 8], "single label"),
        (0.01, [0, 1], np.array([7, 8]), "single label"),
        (0.01, ["a", "b"], "b", "is one of the classes"),
        (0.01, [0, 1], 1.0, "is one of the classes"),
        (1.5, [0, 1], -1, "strictly between 0 and 1"),
    ],
)
def test_rejection_errors(threshold, labels, reject_label, message):
    X, y = blobs(seed=19, n_classes=2, n_features=2)
    model = MaximumLikelihoodClassifier().fit(X, np.asarray(labels)[y])
    model.set_params(threshold=threshold)
    with pytest.raises(EstimatorError, match=message):
        model.predict_with_rejection(X, reject_label)


# --------------------------------------------------------------------------------------
# Minimum distance
# --------------------------------------------------------------------------------------


def test_minimum_distance_has_no_probabilities():
    assert not hasattr(MinimumDistanceClassifier(), "predict_proba")
    assert not hasattr(MinimumDistanceClassifier().fit([[0.0], [1.0]], [0, 1]), "predict_proba")
    assert hasattr(MaximumLikelihoodClassifier(), "predict_proba")


def test_minimum_distance_mahalanobis_uses_pooled_covariance():
    X, y = blobs(seed=20, n_classes=3, n_features=3, n_per_class=25)
    model = MinimumDistanceClassifier(metric="mahalanobis", reg_covar=0.0).fit(X, y)
    pooled = sum((np.sum(y == k) - 1) * np.cov(X[y == k], rowvar=False) for k in range(3))
    pooled /= X.shape[0] - 3
    np.testing.assert_allclose(model.covariance_, pooled, rtol=1e-10)
    query = np.random.default_rng(21).normal(0.0, 5.0, size=(30, 3))
    inverse = np.linalg.inv(pooled)
    expected = np.array(
        [[scipy_mahalanobis(x, model.means_[k], inverse) for k in range(3)] for x in query]
    )
    np.testing.assert_allclose(model.distances(query), expected, rtol=1e-9)
    np.testing.assert_array_equal(model.predict(query), np.argmin(expected, axis=1))
    np.testing.assert_allclose(model.decision_function(query), -expected, rtol=1e-9)


def test_minimum_distance_binary_decision_sign():
    model = MinimumDistanceClassifier().fit(
        [[0.0], [1.0], [10.0], [11.0]], ["low", "low", "high", "high"]
    )
    # classes_ = ["high", "low"]; positive decision means "low" (classes_[1]).
    decision = model.decision_function([[0.0], [10.0], [5.5]])
    np.testing.assert_allclose(decision, [10.0, -9.0, 0.0])  # means 10.5 and 0.5
    np.testing.assert_array_equal(model.predict([[0.0], [10.0], [5.5]]), ["low", "high", "high"])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_classes=st.integers(2, 6),
    n_features=st.integers(1, 7),
    query=hnp.arrays(
        np.float64,
        shape=st.tuples(st.integers(1, 30), st.just(7)),
        elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
    ),
)
def test_minimum_distance_assigns_nearest_mean(seed, n_classes, n_features, query):
    X, y = blobs(seed, n_classes, n_features, n_per_class=5)
    query = query[:, :n_features]
    model = MinimumDistanceClassifier().fit(X, y)
    brute = np.linalg.norm(query[:, None, :] - model.means_[None, :, :], axis=2)
    np.testing.assert_allclose(model.means_, [X[y == k].mean(axis=0) for k in range(n_classes)])
    chosen = brute[np.arange(query.shape[0]), model.predict(query)]
    assert np.all(chosen <= brute.min(axis=1) * (1 + 1e-12) + 1e-12)
    np.testing.assert_allclose(model.distances(query), brute, rtol=1e-10, atol=1e-9)


# --------------------------------------------------------------------------------------
# Maximum likelihood: properties
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_classes=st.integers(2, 5),
    query=hnp.arrays(
        np.float64,
        shape=st.tuples(st.integers(1, 30), st.just(3)),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    ),
)
def test_probabilities_are_a_distribution_consistent_with_predict(seed, n_classes, query):
    X, y = blobs(seed, n_classes, 3)
    model = MaximumLikelihoodClassifier().fit(X, y)
    proba = model.predict_proba(query)
    assert proba.shape == (query.shape[0], n_classes)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    predicted = model.predict(query)
    clear = top_two_gap(model.discriminants(query)) > 1e-9
    np.testing.assert_array_equal(np.argmax(proba, axis=1)[clear], predicted[clear])
    np.testing.assert_allclose(np.exp(model.predict_log_proba(query)), proba, atol=1e-12)
    assert np.all(np.isfinite(model.predict_log_proba(query)))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    gains=hnp.arrays(np.float64, 3, elements=st.floats(1e-3, 1e3)),
    offsets=hnp.arrays(np.float64, 3, elements=st.floats(-1e4, 1e4)),
)
def test_ml_is_invariant_to_band_gain_and_offset(seed, gains, offsets):
    """Converting DN to reflectance (a gain and offset per band) does not change the map."""
    X, y = blobs(seed, 3, 3)
    query = np.random.default_rng(seed).normal(0.0, 8.0, size=(50, 3))
    original = MaximumLikelihoodClassifier().fit(X, y)
    rescaled = MaximumLikelihoodClassifier().fit(X * gains + offsets, y)
    proba = original.predict_proba(query)
    np.testing.assert_allclose(rescaled.predict_proba(query * gains + offsets), proba, atol=1e-6)
    clear = top_two_gap(proba) > 1e-5
    np.testing.assert_array_equal(
        rescaled.predict(query * gains + offsets)[clear], original.predict(query)[clear]
    )


# --------------------------------------------------------------------------------------
# Small classes and errors
# --------------------------------------------------------------------------------------


def test_small_class_is_regularised_with_a_logged_warning(caplog):
    rng = np.random.default_rng(22)
    X = np.vstack([rng.normal(0.0, 1.0, size=(30, 4)), rng.normal(5.0, 1.0, size=(2, 4))])
    y = np.array(["big"] * 30 + ["tiny"] * 2)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        model = MaximumLikelihoodClassifier().fit(X, y)
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 1
    assert "'tiny' has 2 training samples for 4 features" in messages[0]
    assert np.all(np.isfinite(model.predict_proba(rng.normal(0.0, 3.0, size=(10, 4)))))
    np.testing.assert_array_equal(model.predict(X), y)


def test_well_sampled_classes_log_no_warning(caplog):
    X, y = blobs(seed=23, n_classes=3, n_features=4)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        MaximumLikelihoodClassifier().fit(X, y)
        MinimumDistanceClassifier(metric="mahalanobis").fit(X, y)
    assert [r for r in caplog.records if r.name in (LOGGER, MINDIST_LOGGER)] == []


def test_small_class_without_regularisation_is_an_error():
    X = np.vstack([np.random.default_rng(24).normal(size=(30, 4)), np.ones((3, 4))])
    y = np.repeat([0, 1], [30, 3])
    with pytest.raises(TrainingDataError, match="set reg_covar > 0"):
        MaximumLikelihoodClassifier(reg_covar=0).fit(X, y)
    with pytest.raises(TrainingDataError, match="set reg_covar > 0"):
        MinimumDistanceClassifier(metric="mahalanobis", reg_covar=0).fit(
            X[:4], y[:4] * 0 + [0, 0, 1, 1]
        )


def test_collinear_bands_without_regularisation_are_an_error():
    rng = np.random.default_rng(25)
    band = rng.normal(size=(40, 1))
    X = np.hstack([band, 2 * band])  # the second band duplicates the first
    y = np.repeat([0, 1], 20)
    with pytest.raises(TrainingDataError, match="increase reg_covar"):
        MaximumLikelihoodClassifier(reg_covar=0).fit(X, y)
    # the default regularisation copes
    assert MaximumLikelihoodClassifier().fit(X, y).score(X, y) > 0.4


@pytest.mark.parametrize("model_class", [MaximumLikelihoodClassifier, MinimumDistanceClassifier])
def test_single_class_is_a_training_data_error(model_class):
    with pytest.raises(TrainingDataError, match="at least 2 classes") as info:
        model_class().fit(np.random.default_rng(26).normal(size=(10, 2)), ["water"] * 10)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"priors": "uniform"}, "not understood"),
        ({"priors": [0.5, 0.5]}, "one prior per class"),
        ({"priors": [0.5, 0.6, -0.1]}, ">= 0"),
        ({"priors": [0.2, 0.2, 0.2]}, "sum to 1"),
        ({"priors": {0: 0.5, 1: 0.5, 7: 0.0}}, "missing \\[2\\], unknown \\[7\\]"),
        ({"priors": [0.2, np.nan, 0.8]}, "finite"),
        ({"reg_covar": -1.0}, "reg_covar must be"),
        ({"reg_covar": "small"}, "reg_covar must be"),
        ({"threshold": 0.0}, "threshold must be"),
        ({"threshold": 1.0}, "threshold must be"),
    ],
)
def test_ml_parameter_errors(params, message):
    X, y = blobs(seed=27, n_classes=3, n_features=2)
    with pytest.raises(EstimatorError, match=message):
        MaximumLikelihoodClassifier(**params).fit(X, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [({"metric": "cityblock"}, "not supported"), ({"reg_covar": -1e-3}, "reg_covar must be")],
)
def test_md_parameter_errors(params, message):
    X, y = blobs(seed=28, n_classes=3, n_features=2)
    with pytest.raises(EstimatorError, match=message):
        MinimumDistanceClassifier(**params).fit(X, y)
