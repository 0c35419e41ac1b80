"""The steps of ISODATA as vectorised kernels, and the record of one iteration.

This module owns what :class:`~rasterclass.estimators.isodata.ISODATA` does inside an
iteration, as module-level functions (picklable, testable, reusable for chunked
prediction): blocked assignment to the nearest centre and distances (blocks of
``_BLOCK_ELEMENTS`` distances), the discard mask of small clusters, per-cluster statistics,
split candidates and their limit, splitting, lumping of close centres, index-map
composition and ordering of centres; plus :class:`IsodataIteration` (what one iteration did),
the parameter checks (:func:`check_isodata_params`) and the initial centres.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, TypeGuard

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.cluster import kmeans_plusplus
from sklearn.utils.validation import check_array

from rasterclass.errors import EstimatorError

__all__ = ["IsodataIteration"]

logger = logging.getLogger(__name__)

#: Maximum number of sample-by-centre distances held in memory at once.
_BLOCK_ELEMENTS = 2**22


@dataclass(frozen=True, slots=True)
class IsodataIteration:
    """What one ISODATA iteration did (one record of ``ISODATA.history_``).

    Attributes
    ----------
    iteration : int
        Iteration number, starting at 1.
    n_clusters : int
        Number of cluster centres at the end of the iteration.
    n_splits : int
        Number of clusters split in this iteration (each split adds exactly one centre).
    n_merges : int
        Number of centre pairs lumped in this iteration.
    n_discarded : int
        Number of clusters discarded because they had fewer than ``min_samples`` members.
    share_changed : float
        Share of samples (0..1) whose cluster changed relative to the previous iteration.
        1.0 in the first iteration. Samples of a cluster that was split or discarded count
        as changed; samples of two lumped clusters that stay together do not.
    branch : str
        Decision of the control step (Tou & Gonzalez step 7): ``"split"`` (steps 8-10, then
        lumping if nothing was split), ``"lump"`` (steps 11-13) or ``"final"`` (last
        iteration or converged: no split, no lump).
    """

    iteration: int
    n_clusters: int
    n_splits: int
    n_merges: int
    n_discarded: int
    share_changed: float
    branch: str


# --------------------------------------------------------------------------------------
# Vectorised kernels (module level: picklable, testable, reusable for chunked prediction)
# --------------------------------------------------------------------------------------


def _block_rows(n_centres: int) -> int:
    return max(1, _BLOCK_ELEMENTS // max(1, n_centres))


def assign_nearest(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for every row of ``X``, block by block.

    Ties go to the lowest centre index. Each row's result depends only on that row, so
    the labels do not depend on the block size.
    """
    labels = np.empty(X.shape[0], dtype=np.intp)
    step = _block_rows(centres.shape[0])
    for start in range(0, X.shape[0], step):
        block = X[start : start + step]
        labels[start : start + step] = cdist(block, centres, "sqeuclidean").argmin(axis=1)
    return labels


def centre_distances(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean distance of every row of ``X`` to every centre, block by block."""
    out = np.empty((X.shape[0], centres.shape[0]), dtype=np.float64)
    step = _block_rows(centres.shape[0])
    for start in range(0, X.shape[0], step):
        out[start : start + step] = cdist(X[start : start + step], centres, "euclidean")
    return out


def discard_mask(counts: np.ndarray, min_samples: int, min_clusters: int = 1) -> np.ndarray:
    """Clusters to keep (step 3): ``counts >= min_samples``, but at least ``min_clusters``.

    If fewer than ``min_clusters`` (at least one) clusters reach ``min_samples``, the
    largest of the too-small clusters are kept as well (ties: the lowest index) until
    ``min_clusters`` are kept or no cluster with members is left; clusters without members
    are always dropped. With ``min_clusters=1`` this keeps the largest cluster when every
    cluster is too small, so at least one cluster always survives.
    """
    keep = counts >= min_samples
    need = max(1, min_clusters) - int(keep.sum())
    if need > 0:
        small = np.flatnonzero(~keep & (counts > 0))
        largest_first = small[np.argsort(-counts[small], kind="stable")]
        keep[largest_first[:need]] = True
    return keep


def cluster_statistics(
    X: np.ndarray, labels: np.ndarray, n_clusters: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Steps 4-6 and 8: sizes, centres, per-feature std, mean member distance, overall D̄.

    ``labels`` holds 0..n_clusters-1, or -1 for samples to leave out (members of discarded
    clusters). Every cluster must have at least one member. Standard deviations are
    population standard deviations about the updated centre (two-pass, numerically stable).
    """
    n_features = X.shape[1]
    # Left-out samples go to an extra bin that is dropped.
    bins = np.where(labels < 0, n_clusters, labels)
    n_bins = n_clusters + 1
    counts = np.bincount(bins, minlength=n_bins)[:n_clusters].astype(np.float64)
    sums = np.empty((n_clusters, n_features), dtype=np.float64)
    for f in range(n_features):
        sums[:, f] = np.bincount(bins, weights=X[:, f], minlength=n_bins)[:n_clusters]
    centres = sums / counts[:, None]

    padded = np.vstack([centres, np.zeros((1, n_features))])
    diff = X - padded[bins]
    sq = diff * diff
    var = np.empty_like(centres)
    for f in range(n_features):
        var[:, f] = np.bincount(bins, weights=sq[:, f], minlength=n_bins)[:n_clusters]
    sigma = np.sqrt(var / counts[:, None])
    dist_sum = np.bincount(bins, weights=np.sqrt(sq.sum(axis=1)), minlength=n_bins)
    mean_dist = dist_sum[:n_clusters] / counts
    overall_mean_dist = float((counts * mean_dist).sum() / counts.sum())
    return counts, centres, sigma, mean_dist, overall_mean_dist


def split_candidates(
    sigma: np.ndarray,
    mean_dist: np.ndarray,
    overall_mean_dist: float,
    counts: np.ndarray,
    *,
    n_clusters_desired: int,
    max_std: float,
    min_samples: int,
) -> np.ndarray:
    """Step 10 condition for every cluster, with N_c taken at the start of the step.

    σ_j,max > θ_S and [(D̄_j > D̄ and N_j > 2(θ_N + 1)) or N_c ≤ K/2].
    """
    n_current = sigma.shape[0]
    wide = sigma.max(axis=1) > max_std
    spread = (mean_dist > overall_mean_dist) & (counts > 2 * (min_samples + 1))
    too_few = 2 * n_current <= n_clusters_desired
    return wide & (spread | too_few)


def limit_splits(candidates: np.ndarray, sigma: np.ndarray, room: int) -> np.ndarray:
    """Keep at most ``room`` split candidates: those with the largest σ_j,max first.

    Ties in σ_j,max go to the lowest cluster index. Returns a new boolean mask; the input is
    returned unchanged when every candidate fits.
    """
    idx = np.flatnonzero(candidates)
    if idx.size <= room:
        return candidates
    sigma_max = sigma[idx].max(axis=1)
    order = np.lexsort((idx, -sigma_max))  # primary: σ_max descending; then index
    limited = np.zeros_like(candidates)
    limited[idx[order[: max(0, room)]]] = True
    return limited


def split_clusters(
    centres: np.ndarray, sigma: np.ndarray, candidates: np.ndarray, split_fraction: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Steps 8-10: replace each candidate z_j by z_j+ (in place) and z_j- (appended).

    The offset is ``split_fraction * σ_j,max`` on the feature of largest σ only, so every
    split adds exactly one centre. Returns the new centres, the map old index -> new index
    (-1 for split clusters, whose members are counted as changed) and the number of splits.
    """
    n_current = centres.shape[0]
    index_map = np.arange(n_current)
    idx = np.flatnonzero(candidates)
    if idx.size == 0:
        return centres, index_map, 0
    axis = sigma[idx].argmax(axis=1)
    offset = np.zeros((idx.size, centres.shape[1]))
    offset[np.arange(idx.size), axis] = split_fraction * sigma[idx, axis]
    plus = centres.copy()
    plus[idx] += offset
    minus = centres[idx] - offset
    index_map[idx] = -1
    return np.vstack([plus, minus]), index_map, int(idx.size)


def lump_clusters(
    centres: np.ndarray,
    counts: np.ndarray,
    min_distance: float,
    max_pairs: int,
    max_merges: int | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Steps 11-13: lump the closest centre pairs closer than ``min_distance``.

    The (up to) ``max_pairs`` smallest pairwise distances below ``min_distance`` are taken
    in ascending order (ties: row-major pair order); a pair is lumped unless one of its
    centres was already lumped in this call. Lumping stops after ``max_merges`` merges
    (None: no limit), which is how ``min_clusters`` is kept. The lumped centre is the
    size-weighted mean (N_i z_i + N_j z_j) / (N_i + N_j). Untouched centres keep their
    order and come first; lumped centres are appended. Returns new centres, the map old
    index -> new index and the number of merges.
    """
    n_current = centres.shape[0]
    identity = np.arange(n_current)
    if max_merges is None:
        max_merges = n_current
    if n_current < 2 or max_pairs < 1 or max_merges < 1 or not min_distance > 0:
        return centres, identity, 0
    rows, cols = np.triu_indices(n_current, k=1)
    pair_dist = cdist(centres, centres, "euclidean")[rows, cols]
    close = np.flatnonzero(pair_dist < min_distance)
    if close.size == 0:
        return centres, identity, 0
    chosen = close[np.argsort(pair_dist[close], kind="stable")][:max_pairs]
    used = np.zeros(n_current, dtype=bool)
    pairs: list[tuple[int, int]] = []
    for p in chosen:
        i, j = int(rows[p]), int(cols[p])
        if used[i] or used[j]:
            continue
        used[i] = used[j] = True
        pairs.append((i, j))
        if len(pairs) == max_merges:
            break
    keep = ~used
    n_keep = int(keep.sum())
    index_map = np.full(n_current, -1)
    index_map[keep] = np.arange(n_keep)
    merged = np.empty((len(pairs), centres.shape[1]))
    for t, (i, j) in enumerate(pairs):
        merged[t] = (counts[i] * centres[i] + counts[j] * centres[j]) / (counts[i] + counts[j])
        index_map[i] = index_map[j] = n_keep + t
    return np.vstack([centres[keep], merged]), index_map, len(pairs)


def compose(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Index map ``second ∘ first``, keeping -1 (no successor) as -1."""
    return np.where(first >= 0, second[np.maximum(first, 0)], -1)


def lexicographic_order(centres: np.ndarray) -> np.ndarray:
    """Order of centres sorted by first feature, then second, ... (stable)."""
    return np.lexsort(centres.T[::-1])


def is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real_number(value: object) -> TypeGuard[float]:
    """True for a :class:`numbers.Real` that is not a bool (typing spells a real as float)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[float]:
    return _is_real_number(value) and not np.isnan(value)


def check_isodata_params(model: Any) -> None:
    """Check the parameters of an :class:`~rasterclass.estimators.isodata.ISODATA` model.

    Raises :class:`~rasterclass.errors.EstimatorError`, naming the parameter, for the first
    invalid one.
    """

    def positive_int(name: str, minimum: int) -> None:
        value = getattr(model, name)
        if not is_int(value) or value < minimum:
            raise EstimatorError(
                f"ISODATA: {name} must be an integer >= {minimum}, got {value!r}; "
                f"pass e.g. {name}={max(minimum, 1)}."
            )

    positive_int("n_clusters", 1)
    positive_int("min_samples", 1)
    positive_int("max_merge_pairs", 0)
    positive_int("max_iter", 1)
    if model.n_init_clusters is not None:
        positive_int("n_init_clusters", 1)
    if model.min_clusters is not None:
        positive_int("min_clusters", 1)
        if model.min_clusters > model.n_clusters:
            raise EstimatorError(
                f"ISODATA: min_clusters={model.min_clusters} is more than "
                f"n_clusters={model.n_clusters}; need 1 <= min_clusters <= n_clusters "
                "<= max_clusters."
            )
    if model.max_clusters is not None:
        positive_int("max_clusters", 1)
        if model.max_clusters < model.n_clusters:
            raise EstimatorError(
                f"ISODATA: max_clusters={model.max_clusters} is less than "
                f"n_clusters={model.n_clusters}; need 1 <= min_clusters <= n_clusters "
                "<= max_clusters."
            )
    for name in ("max_std", "min_distance"):
        value = getattr(model, name)
        if value is not None and (not is_real(value) or value < 0):
            raise EstimatorError(
                f"ISODATA: {name} must be None (derived from the data) or a number >= 0 "
                f"in data units, got {value!r}."
            )
    if not is_real(model.split_fraction) or not 0 < model.split_fraction <= 1:
        raise EstimatorError(
            "ISODATA: split_fraction (k) must be in (0, 1], got "
            f"{model.split_fraction!r}; Tou & Gonzalez suggest e.g. 0.5."
        )
    if not is_real(model.tol) or not 0 <= model.tol <= 1:
        raise EstimatorError(
            f"ISODATA: tol is a share of samples in [0, 1], got {model.tol!r}; "
            "pass 0.02 for 2 % or 0 to disable the early stop."
        )
    if isinstance(model.init, str) and model.init not in ("k-means++", "random"):
        raise EstimatorError(
            f"ISODATA: init must be 'k-means++', 'random' or an array of centres, "
            f"got {model.init!r}."
        )


def initial_centres(model: Any, X: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """The initial centres of ``model`` (its ``init``) for the training samples ``X``."""
    n_samples, n_features = X.shape
    if not isinstance(model.init, str):
        centres = check_array(model.init, dtype=np.float64, input_name="init")
        if centres.shape[1] != n_features:
            raise EstimatorError(
                f"ISODATA: init has {centres.shape[1]} features but X has {n_features}; "
                "pass one initial centre per row with the same bands as X."
            )
        if model.n_init_clusters is not None and model.n_init_clusters != len(centres):
            raise EstimatorError(
                f"ISODATA: n_init_clusters={model.n_init_clusters} but init has "
                f"{len(centres)} centres; pass n_init_clusters=None with an init array."
            )
        return centres.copy()
    n_init = model.n_clusters if model.n_init_clusters is None else model.n_init_clusters
    n_init = min(n_init, n_samples)
    if model.init == "random":
        return X[rng.choice(n_samples, size=n_init, replace=False)].astype(np.float64)
    centres, _ = kmeans_plusplus(X, n_init, random_state=rng)
    return np.asarray(centres, dtype=np.float64)
