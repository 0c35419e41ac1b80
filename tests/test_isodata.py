"""Tests of the ISODATA estimator: scikit-learn contract, golden behaviour, laws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from rasterclass.errors import EstimatorError
from rasterclass.estimators import isodata
from rasterclass.estimators.isodata import ISODATA, IsodataIteration

# --------------------------------------------------------------------------------------
# scikit-learn conformance
# --------------------------------------------------------------------------------------


@parametrize_with_checks([ISODATA(random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------

CORNERS = [[-10.0, -10.0], [-10.0, 10.0], [10.0, -10.0], [10.0, 10.0]]


@pytest.fixture
def four_blobs():
    return make_blobs(n_samples=1600, centers=CORNERS, cluster_std=1.0, random_state=0)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def _n_initial(model: ISODATA, n_samples: int) -> int:
    if not isinstance(model.init, str):
        return len(model.init)
    n_init = model.n_clusters if model.n_init_clusters is None else model.n_init_clusters
    return min(n_init, n_samples)


# --------------------------------------------------------------------------------------
# Golden behaviour on synthetic Gaussian blobs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"n_init_clusters": 1},  # grows to K by splitting only
        {"n_init_clusters": 8},  # shrinks to K by lumping
        {"init": "random"},
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_well_separated_blobs(four_blobs, params, seed):
    X, y = four_blobs
    model = ISODATA(n_clusters=4, random_state=seed, **params).fit(X)
    assert model.n_clusters_ == 4
    assert adjusted_rand_score(y, model.labels_) > 0.95
    assert cdist(CORNERS, model.cluster_centers_).min(axis=1).max() < 0.3
    assert np.all(np.diff(model.cluster_centers_[:, 0]) >= 0)  # ordered by first feature


def test_splits_one_elongated_blob(rng):
    # σ = (5, 0.5): wider than θ_S = 4 along feature 0. After the split each half has
    # σ_0 = 5 * sqrt(1 - 2/π) ≈ 3.0 < θ_S, so the halves are not split again.
    X = rng.normal(size=(1000, 2)) * [5.0, 0.5]
    model = ISODATA(
        n_clusters=2, n_init_clusters=1, max_std=4.0, min_distance=1.0, random_state=0
    ).fit(X)
    first = model.history_[0]
    assert first.branch == "split"
    assert first.n_splits == 1
    assert first.n_clusters == 2
    assert sum(h.n_splits for h in model.history_) == 1
    assert model.n_clusters_ == 2
    left, right = model.cluster_centers_
    assert right[0] - left[0] > 6.0  # split along the wide feature (±E|x| ≈ ±4)
    assert abs(right[1] - left[1]) < 0.2
    np.testing.assert_array_equal(model.labels_, (X[:, 0] > (left[0] + right[0]) / 2))


def test_no_split_when_std_below_threshold(rng):
    X = rng.normal(size=(1000, 2)) * [5.0, 0.5]
    model = ISODATA(
        n_clusters=2, n_init_clusters=1, max_std=6.0, min_distance=1.0, random_state=0
    ).fit(X)
    assert all(h.n_splits == 0 for h in model.history_)
    assert model.n_clusters_ == 1


@pytest.fixture
def group_and_far_group(rng):
    a = rng.normal(size=(300, 2)) * 0.5
    b = rng.normal(size=(300, 2)) * 0.5 + [20.0, 0.0]
    return np.vstack([a, b]), np.repeat([0, 1], 300)


def test_merges_two_close_centres(group_and_far_group):
    X, y = group_and_far_group
    # Two initial centres inside group a (their updated centres are ≈ 0.8 apart).
    init = [[-0.5, 0.0], [0.5, 0.0], [20.0, 0.0]]
    model = ISODATA(n_clusters=2, init=init, min_distance=3.0, max_std=np.inf, random_state=0)
    model.fit(X)
    assert model.history_[0].n_merges == 1
    assert model.history_[0].n_clusters == 2
    assert model.n_clusters_ == 2
    assert adjusted_rand_score(y, model.labels_) == 1.0


def test_no_merge_when_centres_farther_than_threshold(group_and_far_group):
    X, _ = group_and_far_group
    init = [[-0.5, 0.0], [0.5, 0.0], [20.0, 0.0]]
    model = ISODATA(n_clusters=2, init=init, min_distance=0.5, max_std=np.inf, random_state=0)
    model.fit(X)
    assert all(h.n_merges == 0 for h in model.history_)
    assert model.n_clusters_ == 3


@pytest.fixture
def blobs_and_tiny_far_group(rng):
    X, _ = make_blobs(
        n_samples=900, centers=[[0, 0], [10, 0], [0, 10]], cluster_std=1.0, random_state=1
    )
    far = rng.normal(size=(5, 2)) * 0.5 + [60.0, 60.0]
    init = [[0, 0], [10, 0], [0, 10], [60, 60]]  # one initial centre on the tiny group
    return np.vstack([X, far]), init


def test_discards_cluster_smaller_than_min_samples(blobs_and_tiny_far_group):
    X, init = blobs_and_tiny_far_group
    # No splitting: isolates the discard rule (a blob that absorbs the far points is wide).
    model = ISODATA(n_clusters=3, init=init, min_samples=20, max_std=np.inf, random_state=0).fit(X)
    assert model.history_[0].n_discarded == 1
    assert model.history_[0].n_clusters == 3
    assert model.n_clusters_ == 3
    sizes = np.bincount(model.labels_)
    assert sizes.min() >= 20
    far_labels = model.labels_[-5:]
    assert len(set(far_labels.tolist())) == 1
    assert sizes[far_labels[0]] > 300  # the far points joined a blob's cluster


def test_keeps_tiny_cluster_at_or_above_min_samples(blobs_and_tiny_far_group):
    X, init = blobs_and_tiny_far_group
    model = ISODATA(n_clusters=3, init=init, min_samples=5, max_std=np.inf, random_state=0)
    model.fit(X)
    assert all(h.n_discarded == 0 for h in model.history_)
    assert model.n_clusters_ == 4
    assert np.bincount(model.labels_)[model.labels_[-1]] == 5


def test_discarding_keeps_at_least_one_cluster(rng):
    # 40 singleton initial clusters, all below θ_N = 10: only the first largest survives.
    X = rng.normal(size=(40, 2))
    model = ISODATA(
        n_clusters=2, init=X, min_samples=10, max_std=np.inf, min_distance=0, random_state=0
    ).fit(X)
    assert model.history_[0].n_discarded == 39
    assert model.history_[0].n_clusters == 1
    assert model.n_clusters_ == 1
    np.testing.assert_array_equal(model.labels_, np.zeros(40))


@pytest.mark.parametrize("max_merge_pairs", [1, 2])
def test_respects_max_merge_pairs_per_iteration(rng, max_merge_pairs):
    X = rng.normal(size=(500, 2))
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    init = 0.5 * np.c_[np.cos(angles), np.sin(angles)]  # 8 centres, all "too close"
    model = ISODATA(
        n_clusters=1,
        init=init,
        min_distance=100.0,
        max_std=np.inf,
        max_merge_pairs=max_merge_pairs,
        tol=0,
        random_state=0,
    ).fit(X)
    merges = [h.n_merges for h in model.history_]
    assert max(merges) == max_merge_pairs
    assert sum(merges) == 7  # 8 centres lumped into one, max_merge_pairs at a time
    assert model.n_clusters_ == 1


def test_more_merge_pairs_merge_faster(rng):
    X = rng.normal(size=(500, 2))
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    init = 0.5 * np.c_[np.cos(angles), np.sin(angles)]
    params = {"n_clusters": 1, "init": init, "min_distance": 100.0, "max_std": np.inf}
    slow = ISODATA(max_merge_pairs=1, max_iter=3, **params).fit(X)
    fast = ISODATA(max_merge_pairs=4, max_iter=3, **params).fit(X)
    assert [h.n_merges for h in slow.history_[:2]] == [1, 1]
    assert 1 < fast.history_[0].n_merges <= 4  # a pair sharing a lumped centre is skipped
    assert fast.n_clusters_ < slow.n_clusters_


def test_same_seed_same_result(four_blobs):
    X, _ = four_blobs
    params = {"n_clusters": 6, "n_init_clusters": 9, "init": "random", "random_state": 7}
    a = ISODATA(**params).fit(X)
    b = clone(a).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.history_ == b.history_


def test_different_seeds_may_differ(rng):
    # No cluster structure: the seeded initialisation decides the local optimum.
    X = rng.uniform(size=(400, 2))
    centres = [
        ISODATA(n_clusters=5, max_iter=1, random_state=seed).fit(X).cluster_centers_
        for seed in range(4)
    ]
    assert any(not np.array_equal(centres[0], other) for other in centres[1:])


def test_history_records_every_iteration(four_blobs):
    X, _ = four_blobs
    model = ISODATA(n_clusters=4, n_init_clusters=1, tol=0, max_iter=7, random_state=0).fit(X)
    assert model.n_iter_ == 7
    assert len(model.history_) == 7
    assert all(isinstance(h, IsodataIteration) for h in model.history_)
    assert [h.iteration for h in model.history_] == list(range(1, 8))
    assert model.history_[0].share_changed == 1.0
    assert model.history_[-1].branch == "final"
    assert [h.n_clusters for h in model.history_[:2]] == [2, 4]  # N_c ≤ K/2 forces splits


def test_change_threshold_stops_early_at_a_fixed_point(four_blobs):
    X, _ = four_blobs
    model = ISODATA(n_clusters=4, tol=0.02, max_iter=50, random_state=0).fit(X)
    assert model.n_iter_ < 50
    last = model.history_[-1]
    assert last.branch == "final"
    assert last.share_changed < 0.02


def test_change_threshold_does_not_stop_while_a_split_is_pending():
    # K=3 from one centre: iteration 2 is even (lump only), iteration 3 changes nothing
    # (share 0 < tol) but must still split towards K.
    X, y = make_blobs(n_samples=600, centers=[[0, 0], [10, 0], [0, 10]], random_state=0)
    model = ISODATA(n_clusters=3, n_init_clusters=1, tol=0.02, random_state=0).fit(X)
    assert any(h.share_changed < 0.02 and h.n_splits > 0 for h in model.history_)
    assert model.n_clusters_ == 3
    assert adjusted_rand_score(y, model.labels_) > 0.95


def test_min_samples_capped_on_small_training_sets():
    X, _ = make_blobs(n_samples=50, random_state=1)
    model = ISODATA(n_clusters=3, min_samples=20, random_state=0).fit(X)
    assert model.min_samples_ == 8  # 50 // (2 * 3)
    big = ISODATA(n_clusters=3, min_samples=20, random_state=0).fit(np.vstack([X] * 10))
    assert big.min_samples_ == 20


def test_default_thresholds_scale_with_the_data(four_blobs):
    X, _ = four_blobs
    small = ISODATA(n_clusters=4, random_state=0).fit(X / 1000)
    large = ISODATA(n_clusters=4, random_state=0).fit(X * 1000)
    assert large.max_std_ == pytest.approx(small.max_std_ * 1e6)
    assert large.min_distance_ == pytest.approx(small.min_distance_ * 1e6)
    np.testing.assert_array_equal(small.labels_, large.labels_)
    explicit = ISODATA(n_clusters=4, max_std=3.0, min_distance=1.5, random_state=0).fit(X)
    assert (explicit.max_std_, explicit.min_distance_) == (3.0, 1.5)


def test_predict_transform_fit_predict_agree(four_blobs):
    X, _ = four_blobs
    model = ISODATA(n_clusters=4, random_state=0)
    labels = model.fit_predict(X)
    np.testing.assert_array_equal(labels, model.labels_)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    distances = model.transform(X)
    np.testing.assert_allclose(distances, cdist(X, model.cluster_centers_))
    np.testing.assert_array_equal(distances.argmin(axis=1), labels)
    assert list(model.get_feature_names_out()) == [f"isodata{i}" for i in range(4)]


def test_block_size_does_not_change_results(four_blobs, monkeypatch):
    X, _ = four_blobs
    params = {"n_clusters": 4, "n_init_clusters": 1, "random_state": 0}
    reference = ISODATA(**params).fit(X)
    monkeypatch.setattr(isodata, "_BLOCK_ELEMENTS", 37)  # many tiny blocks
    blocked = ISODATA(**params).fit(X)
    np.testing.assert_array_equal(blocked.cluster_centers_, reference.cluster_centers_)
    np.testing.assert_array_equal(blocked.labels_, reference.labels_)
    np.testing.assert_array_equal(blocked.transform(X), reference.transform(X))


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("n_clusters", 0),
        ("n_clusters", 2.5),
        ("n_init_clusters", 0),
        ("min_samples", 0),
        ("max_std", -1.0),
        ("min_distance", float("nan")),
        ("max_merge_pairs", -1),
        ("max_iter", 0),
        ("split_fraction", 0.0),
        ("split_fraction", 1.5),
        ("tol", 2.0),
        ("init", "kmeans"),
        ("init", [[0.0, 0.0, 0.0]]),  # wrong number of features
    ],
)
def test_invalid_parameters_raise(four_blobs, param, value):
    X, _ = four_blobs
    with pytest.raises(EstimatorError, match=param):
        ISODATA(**{param: value}).fit(X)


def test_init_array_must_match_n_init_clusters(four_blobs):
    X, _ = four_blobs
    with pytest.raises(ValueError, match="n_init_clusters"):
        ISODATA(init=CORNERS, n_init_clusters=3).fit(X)


# --------------------------------------------------------------------------------------
# Kernels (Tou & Gonzalez steps 3, 10, 13)
# --------------------------------------------------------------------------------------


def test_lump_smallest_first_each_centre_once_weighted_mean():
    centres = np.array([[0.0], [0.3], [0.5], [10.0]])
    counts = np.array([1.0, 3.0, 1.0, 5.0])
    # Pairs below 1.0, ascending: (1, 2)=0.2, (0, 1)=0.3, (0, 2)=0.5. (0, 1) is skipped
    # because centre 1 is already lumped.
    new, index_map, n_merges = isodata._lump(centres, counts, 1.0, max_pairs=2)
    assert n_merges == 1
    np.testing.assert_allclose(new, [[0.0], [10.0], [(3 * 0.3 + 1 * 0.5) / 4]])
    np.testing.assert_array_equal(index_map, [0, 2, 2, 1])


def test_lump_respects_max_pairs_and_threshold():
    centres = np.array([[0.0], [0.1], [5.0], [5.2], [9.0], [9.4]])
    counts = np.ones(6)
    _, _, n_merges = isodata._lump(centres, counts, 1.0, max_pairs=2)
    assert n_merges == 2
    new, _, n_merges = isodata._lump(centres, counts, 1.0, max_pairs=3)
    assert n_merges == 3
    np.testing.assert_allclose(new, [[0.05], [5.1], [9.2]])
    _, _, n_merges = isodata._lump(centres, counts, 0.15, max_pairs=3)
    assert n_merges == 1
    # Strictly closer than θ_C: a pair exactly θ_C apart is not lumped.
    assert isodata._lump(np.array([[0.0], [0.5]]), np.ones(2), 0.5, max_pairs=1)[2] == 0
    assert isodata._lump(np.array([[0.0], [0.5]]), np.ones(2), 0.51, max_pairs=1)[2] == 1


def test_split_adds_exactly_one_centre_per_split():
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 20.0]])
    sigma = np.array([[1.0, 4.0], [2.0, 1.0], [3.0, 3.0]])
    candidates = np.array([True, False, True])
    new, index_map, n_splits = isodata._split(centres, sigma, candidates, 0.5)
    assert n_splits == 2
    assert new.shape == (5, 2)
    # z_j+ replaces z_j, z_j- is appended; offset k·σ_max on the first axis of max σ.
    np.testing.assert_allclose(new, [[0, 2], [10, 10], [21.5, 20], [0, -2], [18.5, 20]])
    np.testing.assert_array_equal(index_map, [-1, 1, -1])


def test_split_candidates_follow_tou_gonzalez_step_10():
    sigma = np.array([[3.0], [3.0], [3.0], [1.0]])
    mean_dist = np.array([2.0, 0.5, 2.0, 2.0])
    counts = np.array([50.0, 50.0, 10.0, 50.0])
    kwargs = {"max_std": 2.0, "min_samples": 5}
    # Only cluster 0: wide, D̄_j > D̄ and N_j > 2(θ_N + 1) = 12.
    got = isodata._split_candidates(sigma, mean_dist, 1.0, counts, n_clusters_desired=4, **kwargs)
    np.testing.assert_array_equal(got, [True, False, False, False])
    # N_c = 4 ≤ K/2: every wide cluster splits.
    got = isodata._split_candidates(sigma, mean_dist, 1.0, counts, n_clusters_desired=8, **kwargs)
    np.testing.assert_array_equal(got, [True, True, True, False])


def test_discard_mask_keeps_largest_when_all_too_small():
    np.testing.assert_array_equal(isodata._discard_mask(np.array([5, 30, 0]), 20), [0, 1, 0])
    np.testing.assert_array_equal(isodata._discard_mask(np.array([3, 7, 7]), 20), [0, 1, 0])


# --------------------------------------------------------------------------------------
# Laws (hypothesis)
# --------------------------------------------------------------------------------------

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def data_and_model(draw):
    n_features = draw(st.integers(1, 3))
    X = draw(arrays(np.float64, (draw(st.integers(1, 60)), n_features), elements=finite))
    X_new = draw(arrays(np.float64, (draw(st.integers(1, 30)), n_features), elements=finite))
    model = ISODATA(
        n_clusters=draw(st.integers(1, 6)),
        n_init_clusters=draw(st.none() | st.integers(1, 10)),
        min_samples=draw(st.integers(1, 10)),
        max_merge_pairs=draw(st.integers(0, 3)),
        max_iter=draw(st.integers(1, 8)),
        split_fraction=draw(st.floats(0.1, 1.0)),
        init=draw(st.sampled_from(["k-means++", "random"])),
        random_state=draw(st.integers(0, 2**31 - 1)),
    )
    return X, X_new, model


@settings(max_examples=150, deadline=None)
@given(data_and_model())
def test_laws_of_a_fitted_model(case):
    X, X_new, model = case
    model.fit(X)
    centres = model.cluster_centers_

    # Labels are 0..n_clusters_-1, every cluster is populated, and labels_ == predict(X).
    np.testing.assert_array_equal(np.unique(model.labels_), np.arange(model.n_clusters_))
    np.testing.assert_array_equal(model.labels_, model.predict(X))

    # predict is the nearest centre under Euclidean distance (ties allowed).
    predicted = model.predict(X_new)
    sq = ((X_new[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    chosen = sq[np.arange(len(X_new)), predicted]
    assert np.all(chosen <= sq.min(axis=1) * (1 + 1e-12) + 1e-12)

    # Row-wise: predicting in two chunks gives the same labels.
    if len(X_new) > 1:
        cut = len(X_new) // 2
        chunked = np.concatenate([model.predict(X_new[:cut]), model.predict(X_new[cut:])])
        np.testing.assert_array_equal(chunked, predicted)

    # Centres are sorted lexicographically.
    np.testing.assert_array_equal(np.lexsort(centres.T[::-1]), np.arange(len(centres)))

    # No cluster is silently lost: N_c changes only by discards, splits and merges.
    n_current = _n_initial(model, len(X))
    for record in model.history_:
        n_current += record.n_splits - record.n_merges - record.n_discarded
        assert record.n_clusters == n_current >= 1
        assert record.n_merges <= model.max_merge_pairs
        assert 0.0 <= record.share_changed <= 1.0
    assert len(model.history_) == model.n_iter_ <= model.max_iter
    assert 1 <= model.n_clusters_ <= model.history_[-1].n_clusters
