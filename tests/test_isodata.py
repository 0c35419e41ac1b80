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
from rasterclass.estimators import _isodata_steps, isodata
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


# --- min_clusters / max_clusters -------------------------------------------------------


@pytest.fixture
def sixteen_elongated_blobs():
    # 16 blobs on a 4 x 4 grid, each wide along feature 0 (σ = (4, 0.5)): with θ_S = 1
    # every blob, and every half of a blob, qualifies for splitting again and again.
    rng = np.random.default_rng(0)
    grid = np.array([[x, y] for x in range(0, 160, 40) for y in range(0, 160, 40)], float)
    return np.vstack([c + rng.normal(size=(150, 2)) * [4.0, 0.5] for c in grid])


ELONGATED = {"max_std": 1.0, "min_distance": 0.5, "max_iter": 6, "tol": 0, "random_state": 0}


def test_split_never_exceeds_max_clusters_default_2k(sixteen_elongated_blobs, monkeypatch):
    X = sixteen_elongated_blobs
    # Without the cap (every qualifying cluster splits, as before min/max_clusters), one
    # split step takes N_c from 9 to 16, past 2K = 10.
    with monkeypatch.context() as patch:
        patch.setattr(isodata, "limit_splits", lambda candidates, sigma, room: candidates)
        uncapped = ISODATA(n_clusters=5, **ELONGATED).fit(X)
    assert [h.n_clusters for h in uncapped.history_] == [7, 7, 9, 9, 16, 16]

    model = ISODATA(n_clusters=5, **ELONGATED).fit(X)
    assert model.max_clusters_ == 10  # default: 2K
    assert [h.n_clusters for h in model.history_] == [7, 7, 9, 9, 10, 10]
    assert model.history_[4].n_splits == 1  # room for one of the qualifying clusters
    assert model.n_clusters_ == 10

    capped = ISODATA(n_clusters=5, max_clusters=7, **ELONGATED).fit(X)
    assert capped.max_clusters_ == 7
    assert max(h.n_clusters for h in capped.history_) == 7
    assert capped.n_clusters_ == 7


@pytest.mark.parametrize("max_iter", [10, 20])
@pytest.mark.parametrize("n_clusters", [3, 4, 5, 6])
def test_n_clusters_never_above_max_clusters_at_any_iteration(
    sixteen_elongated_blobs, n_clusters, max_iter
):
    params = {**ELONGATED, "max_iter": max_iter}
    for max_clusters in (None, n_clusters, n_clusters + 1):
        model = ISODATA(n_clusters=n_clusters, max_clusters=max_clusters, **params)
        model.fit(sixteen_elongated_blobs)
        bound = 2 * n_clusters if max_clusters is None else max_clusters
        assert model.max_clusters_ == bound
        assert all(h.n_clusters <= bound for h in model.history_)
        assert model.n_clusters_ == bound  # every cluster stays wide: growth stops at the cap


@pytest.mark.parametrize(("width_a", "width_b"), [(6.0, 4.0), (4.0, 6.0)])
def test_largest_sigma_splits_first_when_room_is_limited(rng, width_a, width_b):
    # A (wide along x) and B (wide along y) both qualify (σ_max > θ_S, D̄_j > D̄ because
    # the big tight blob C pulls D̄ down); C does not. K = 2, so max_clusters = 4 leaves
    # room for one split from N_c = 3: the wider of A and B must be split, whatever its index.
    a = rng.normal(size=(400, 2)) * [width_a, 0.5]
    b = rng.normal(size=(400, 2)) * [0.5, width_b] + [60.0, 0.0]
    c = rng.normal(size=(2000, 2)) * 0.3 + [30.0, 40.0]
    X = np.vstack([a, b, c])
    init = [[0.0, 0.0], [60.0, 0.0], [30.0, 40.0]]
    params = {"n_clusters": 2, "init": init, "max_std": 1.0, "min_distance": 1.0}
    model = ISODATA(**params, random_state=0).fit(X)
    first = model.history_[0]
    assert (first.branch, first.n_splits, first.n_clusters) == ("split", 1, 4)
    assert sum(h.n_splits for h in model.history_) == 1
    near_a = np.linalg.norm(model.cluster_centers_ - [0.0, 0.0], axis=1) < 10
    near_b = np.linalg.norm(model.cluster_centers_ - [60.0, 0.0], axis=1) < 10
    assert (near_a.sum(), near_b.sum()) == ((2, 1) if width_a > width_b else (1, 2))
    # With room for both, both split.
    roomy = ISODATA(**params, max_clusters=5, random_state=0).fit(X)
    assert roomy.history_[0].n_splits == 2


def test_limit_splits_largest_sigma_max_first_ties_to_lower_index():
    sigma = np.array([[1.0, 5.0], [3.0, 1.0], [5.0, 0.0], [9.0, 9.0], [2.0, 2.0]])
    candidates = np.array([True, True, True, False, True])
    # σ_max of the candidates: 5, 3, 5, -, 2; cluster 3 is not a candidate.
    pick = isodata.limit_splits
    np.testing.assert_array_equal(pick(candidates, sigma, 1), [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(pick(candidates, sigma, 2), [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(pick(candidates, sigma, 3), [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(pick(candidates, sigma, 0), [0, 0, 0, 0, 0])
    assert pick(candidates, sigma, 4) is candidates  # everything fits: unchanged


@pytest.fixture
def eight_close_centres(rng):
    X = rng.normal(size=(500, 2))
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    return X, 0.5 * np.c_[np.cos(angles), np.sin(angles)]  # 8 centres, all "too close"


@pytest.mark.parametrize(("min_clusters", "expected"), [(None, 1), (1, 1), (3, 3), (6, 6)])
def test_min_clusters_stops_lumping(eight_close_centres, min_clusters, expected):
    X, init = eight_close_centres
    model = ISODATA(
        n_clusters=6,
        init=init,
        min_distance=100.0,
        max_std=np.inf,
        max_merge_pairs=2,
        min_clusters=min_clusters,
        tol=0,
        random_state=0,
    ).fit(X)
    assert model.min_clusters_ == expected
    assert all(h.n_clusters >= expected for h in model.history_)
    assert sum(h.n_merges for h in model.history_) == 8 - expected
    assert model.n_clusters_ == expected


def test_min_clusters_stops_merging_within_an_iteration(eight_close_centres):
    X, init = eight_close_centres
    params = {"n_clusters": 6, "init": init, "min_distance": 100.0, "max_std": np.inf}
    free = ISODATA(max_merge_pairs=4, **params).fit(X)
    assert free.history_[0].n_merges == 3  # 3 of the 4 closest pairs are disjoint
    floored = ISODATA(max_merge_pairs=4, min_clusters=6, **params).fit(X)
    assert floored.history_[0].n_merges == 2  # 8 -> 6, then merging stops
    assert [h.n_clusters for h in floored.history_] == [6] * len(floored.history_)


@pytest.fixture
def two_blobs_and_two_tiny_groups(rng):
    X, _ = make_blobs(n_samples=600, centers=[[0, 0], [10, 0]], cluster_std=1.0, random_state=1)
    five = rng.normal(size=(5, 2)) * 0.5 + [60.0, 60.0]
    eight = rng.normal(size=(8, 2)) * 0.5 + [-60.0, 60.0]
    init = [[0, 0], [10, 0], [60, 60], [-60, 60]]  # one initial centre on each tiny group
    return np.vstack([X, five, eight]), init


@pytest.mark.parametrize(
    ("min_clusters", "n_discarded", "sizes"),
    [(None, 2, [308, 305]), (2, 2, [308, 305]), (3, 1, [8, 300, 305]), (4, 0, [8, 300, 300, 5])],
)
def test_min_clusters_keeps_the_largest_too_small_clusters(
    two_blobs_and_two_tiny_groups, min_clusters, n_discarded, sizes
):
    X, init = two_blobs_and_two_tiny_groups
    model = ISODATA(
        n_clusters=4, init=init, min_samples=20, max_std=np.inf, min_clusters=min_clusters
    ).fit(X)
    assert model.history_[0].n_discarded == n_discarded
    assert all(h.n_clusters >= (min_clusters or 1) for h in model.history_)
    assert np.bincount(model.labels_).tolist() == sizes  # min_clusters=3: the 8 survive


def test_discard_mask_keeps_min_clusters_largest_first():
    counts = np.array([5, 30, 0, 7, 7, 40])
    keep = isodata.discard_mask
    np.testing.assert_array_equal(keep(counts, 20, 1), [0, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(keep(counts, 20, 3), [0, 1, 0, 1, 0, 1])  # tie: lower index
    np.testing.assert_array_equal(keep(counts, 20, 5), [1, 1, 0, 1, 1, 1])
    # Clusters without members are never kept, even below min_clusters.
    np.testing.assert_array_equal(keep(counts, 20, 6), [1, 1, 0, 1, 1, 1])


def test_lump_stops_at_max_merges():
    centres = np.array([[0.0], [0.1], [5.0], [5.2], [9.0], [9.4]])
    counts = np.ones(6)
    new, _, n_merges = isodata.lump_clusters(centres, counts, 1.0, max_pairs=3, max_merges=2)
    assert n_merges == 2
    np.testing.assert_allclose(new, [[9.0], [9.4], [0.05], [5.1]])  # the two closest pairs
    assert isodata.lump_clusters(centres, counts, 1.0, max_pairs=3, max_merges=0)[2] == 0


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_clusters": 3, "min_clusters": 4}, "min_clusters=4 is more than n_clusters=3"),
        ({"n_clusters": 3, "max_clusters": 2}, "max_clusters=2 is less than n_clusters=3"),
        ({"n_clusters": 3, "min_clusters": 0}, "min_clusters must be an integer >= 1"),
        ({"n_clusters": 3, "max_clusters": 0}, "max_clusters must be an integer >= 1"),
        ({"n_clusters": 3, "max_clusters": 6.0}, "max_clusters must be an integer"),
        ({"n_clusters": 3, "min_clusters": True}, "min_clusters must be an integer"),
    ],
)
def test_invalid_cluster_bounds_raise(four_blobs, params, match):
    X, _ = four_blobs
    model = ISODATA(**params)
    with pytest.raises(EstimatorError, match=match):
        model.fit(X)
    assert not hasattr(model, "cluster_centers_")


def test_cluster_bounds_equal_to_n_clusters_are_valid(four_blobs):
    X, y = four_blobs
    model = ISODATA(n_clusters=4, min_clusters=4, max_clusters=4, random_state=0).fit(X)
    assert (model.min_clusters_, model.max_clusters_, model.n_clusters_) == (4, 4, 4)
    assert adjusted_rand_score(y, model.labels_) > 0.95
    assert ISODATA(n_clusters=4, min_clusters=4, max_clusters=4).get_params()["max_clusters"] == 4


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
    monkeypatch.setattr(_isodata_steps, "_BLOCK_ELEMENTS", 37)  # many tiny blocks
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
        ("min_clusters", 0),
        ("min_clusters", 6),  # > n_clusters=5
        ("max_clusters", 4),  # < n_clusters=5
        ("max_clusters", 7.5),
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
    new, index_map, n_merges = isodata.lump_clusters(centres, counts, 1.0, max_pairs=2)
    assert n_merges == 1
    np.testing.assert_allclose(new, [[0.0], [10.0], [(3 * 0.3 + 1 * 0.5) / 4]])
    np.testing.assert_array_equal(index_map, [0, 2, 2, 1])


def test_lump_respects_max_pairs_and_threshold():
    centres = np.array([[0.0], [0.1], [5.0], [5.2], [9.0], [9.4]])
    counts = np.ones(6)
    _, _, n_merges = isodata.lump_clusters(centres, counts, 1.0, max_pairs=2)
    assert n_merges == 2
    new, _, n_merges = isodata.lump_clusters(centres, counts, 1.0, max_pairs=3)
    assert n_merges == 3
    np.testing.assert_allclose(new, [[0.05], [5.1], [9.2]])
    _, _, n_merges = isodata.lump_clusters(centres, counts, 0.15, max_pairs=3)
    assert n_merges == 1
    # Strictly closer than θ_C: a pair exactly θ_C apart is not lumped.
    assert isodata.lump_clusters(np.array([[0.0], [0.5]]), np.ones(2), 0.5, max_pairs=1)[2] == 0
    assert isodata.lump_clusters(np.array([[0.0], [0.5]]), np.ones(2), 0.51, max_pairs=1)[2] == 1


def test_split_adds_exactly_one_centre_per_split():
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 20.0]])
    sigma = np.array([[1.0, 4.0], [2.0, 1.0], [3.0, 3.0]])
    candidates = np.array([True, False, True])
    new, index_map, n_splits = isodata.split_clusters(centres, sigma, candidates, 0.5)
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
    got = isodata.split_candidates(sigma, mean_dist, 1.0, counts, n_clusters_desired=4, **kwargs)
    np.testing.assert_array_equal(got, [True, False, False, False])
    # N_c = 4 ≤ K/2: every wide cluster splits.
    got = isodata.split_candidates(sigma, mean_dist, 1.0, counts, n_clusters_desired=8, **kwargs)
    np.testing.assert_array_equal(got, [True, True, True, False])


def test_discard_mask_keeps_largest_when_all_too_small():
    np.testing.assert_array_equal(isodata.discard_mask(np.array([5, 30, 0]), 20), [0, 1, 0])
    np.testing.assert_array_equal(isodata.discard_mask(np.array([3, 7, 7]), 20), [0, 1, 0])


# --------------------------------------------------------------------------------------
# Laws (hypothesis)
# --------------------------------------------------------------------------------------

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def data_and_model(draw):
    n_features = draw(st.integers(1, 3))
    n_clusters = draw(st.integers(1, 6))
    X = draw(arrays(np.float64, (draw(st.integers(1, 60)), n_features), elements=finite))
    X_new = draw(arrays(np.float64, (draw(st.integers(1, 30)), n_features), elements=finite))
    model = ISODATA(
        n_clusters=n_clusters,
        n_init_clusters=draw(st.none() | st.integers(1, 10)),
        min_clusters=draw(st.none() | st.integers(1, n_clusters)),
        max_clusters=draw(st.none() | st.integers(n_clusters, 2 * n_clusters + 2)),
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
        # Splitting never goes above max_clusters, lumping never below min_clusters.
        if record.n_splits:
            assert record.n_merges == 0
            assert record.n_clusters <= model.max_clusters_
        if record.n_merges:
            assert record.n_clusters >= model.min_clusters_
        assert 0.0 <= record.share_changed <= 1.0
    assert len(model.history_) == model.n_iter_ <= model.max_iter
    assert 1 <= model.n_clusters_ <= model.history_[-1].n_clusters
