"""ISODATA clustering (Ball & Hall 1965; Tou & Gonzalez 1974) as a scikit-learn estimator.

The algorithm follows the 14 steps of Tou & Gonzalez, *Pattern Recognition Principles*
(1974, ch. 3), as written down in the project's algorithm card (``ISODATA.md``):
assign, discard small clusters, update, split wide clusters, lump (merge) close centres,
repeat. Every addition to those steps is a named, documented parameter (``tol``, ``init``)
or a documented rule (see the Notes of :class:`ISODATA`).

This module owns the estimator itself: parameter checks, initial centres, the iteration
loop, ``predict`` and ``transform``. The steps as vectorised kernels, and
:class:`IsodataIteration`, live in :mod:`rasterclass.estimators._isodata_steps`.
"""

from __future__ import annotations

import logging
from typing import NamedTuple, Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from rasterclass.estimators._isodata_steps import (
    IsodataIteration,
    assign_nearest,
    centre_distances,
    check_isodata_params,
    cluster_statistics,
    compose,
    discard_mask,
    initial_centres,
    lexicographic_order,
    limit_splits,
    lump_clusters,
    split_candidates,
    split_clusters,
)

__all__ = ["ISODATA", "IsodataIteration"]

logger = logging.getLogger(__name__)

#: Default split threshold θ_S and lumping threshold θ_C, as multiples of the overall
#: spread of the training data (root mean per-feature variance).
_DEFAULT_MAX_STD_FACTOR = 0.5
_DEFAULT_MIN_DISTANCE_FACTOR = 0.25

_FLOAT_DTYPES = (np.float64, np.float32)


class _Thresholds(NamedTuple):
    """The thresholds a fit uses: the parameters with their defaults resolved on the data
    (kept as the fitted ``min_samples_``, ``max_std_``, ``min_distance_``,
    ``min_clusters_`` and ``max_clusters_``)."""

    min_samples: int
    max_std: float
    min_distance: float
    min_clusters: int
    max_clusters: int


class ISODATA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """ISODATA clustering (Tou & Gonzalez 1974) with split, lump and discard steps.

    Unsupervised classification as used in remote sensing (ENVI, PCI, ArcGIS Iso Cluster):
    k-means-like assignment, plus per-iteration discarding of small clusters, splitting of
    wide clusters and lumping of close centres, steered towards ``n_clusters`` centres.
    Each iteration follows Tou & Gonzalez steps 2-14 (see Notes); ``history_`` records what
    every iteration did.

    Parameters
    ----------
    n_clusters : int, default=5
        K, the desired number of clusters (ENVI 5.x ``NUMBER_OF_CLASSES`` default 5). It
        steers the control step; the result may have fewer or more clusters, as in the
        classical algorithm, within ``min_clusters`` .. ``max_clusters``.
    n_init_clusters : int or None, default=None
        N_c, the number of initial centres; None means ``n_clusters``. Capped at the number
        of samples. Must be None or equal to ``len(init)`` when ``init`` is an array.
    min_samples : int, default=20
        θ_N: clusters with fewer members are discarded in step 3 (ArcGIS Iso Cluster
        ``min_class_size`` default 20). On small training sets it is capped at
        ``max(1, n_samples // (2 * n_clusters))`` (half the mean cluster size at K), so K
        stays reachable; the value used is ``min_samples_``. At least one cluster is always
        kept (see Notes).
    max_std : float or None, default=None
        θ_S, the split threshold on a cluster's largest per-feature standard deviation, in
        data units. None means ``0.5 * s``, where ``s`` is the overall spread of the training
        data (square root of the mean per-feature variance), so the default does not depend
        on whether bands hold reflectance (0-1) or digital numbers. Use ``np.inf`` to never
        split. The value used is ``max_std_``.
    min_distance : float or None, default=None
        θ_C, the lumping threshold: centres closer than this (Euclidean, data units) are
        merged. None means ``0.25 * s`` (see ``max_std``); 0 never merges. The value used is
        ``min_distance_``.
    max_merge_pairs : int, default=2
        L, the maximum number of centre pairs lumped in one iteration (ENVI Classic
        "Maximum # Merge Pairs" default 2). 0 disables lumping.
    min_clusters : int or None, default=None
        Lower bound on the number of clusters for lumping and discarding (ENVI Classic
        "Number of Classes" Min, PCI ``MINCLUS``): lumping stops merging pairs once N_c
        reaches it, and discarding keeps the largest of the too-small clusters when
        fewer than ``min_clusters`` clusters have ``min_samples`` members. None means 1,
        i.e. no bound beyond "at least one cluster": Tou & Gonzalez have no lower bound
        (they answer too few clusters, N_c ≤ K/2, by forced splitting), vendors disagree
        (PCI ``MINCLUS`` defaults to the desired number, 16), and 1 keeps earlier results
        unchanged. Must satisfy ``1 <= min_clusters <= n_clusters``. The value used is
        ``min_clusters_``.
    max_clusters : int or None, default=None
        Upper bound on the number of clusters for splitting (ENVI Classic "Number of
        Classes" Max, PCI ``MAXCLUS``): a split step never makes N_c exceed it; when more
        clusters qualify than there is room for, those with the largest σ_j,max split
        first (ties: the lower cluster index). The control step also lumps instead of
        splitting once N_c ≥ ``max_clusters``. None means ``2 * n_clusters``, the bound
        of Tou & Gonzalez's control step (lump once N_c ≥ 2K). Must satisfy
        ``max_clusters >= n_clusters``. It bounds growth only: more initial centres
        (``n_init_clusters`` or ``init``) are reduced only by lumping and discarding. The
        value used is ``max_clusters_``.
    max_iter : int, default=10
        I, the maximum number of iterations (ENVI 5.x ``ITERATIONS`` default 10).
    split_fraction : float, default=0.5
        k, 0 < k ≤ 1: a split places the two new centres at z_j ± k·σ_j,max along the
        feature of largest standard deviation.
    tol : float, default=0.02
        Change threshold (vendor addition, ENVI 5.x ``CHANGE_THRESHOLD_PERCENT`` 2 %): stop
        early when the share of samples that changed cluster is below ``tol`` *and* the
        iteration would neither split nor lump (a fixed point). 0 disables the early stop.
    init : {"k-means++", "random"} or array-like of shape (n_init, n_features), \
default="k-means++"
        Initial centres (step 1). ``"k-means++"`` is greedy k-means++ seeding on the data
        (:func:`sklearn.cluster.kmeans_plusplus`), ``"random"`` draws distinct samples
        without replacement; both use ``random_state``. An array gives the centres
        directly (e.g. signature means).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation, the only random step. An int gives reproducible
        results.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters_, n_features_in_)
        Final centres, sorted lexicographically (by the first feature, then the second, ...).
    labels_ : ndarray of shape (n_samples,)
        Cluster of every training sample, 0..n_clusters_-1; equal to ``predict(X)``.
    n_clusters_ : int
        Number of clusters found.
    n_iter_ : int
        Number of iterations run.
    history_ : list of IsodataIteration
        One record per iteration (clusters, splits, merges, discards, share changed).
    min_samples_ : int
        θ_N used (``min_samples`` after the small-data cap).
    max_std_ : float
        θ_S used.
    min_distance_ : float
        θ_C used.
    min_clusters_ : int
        Lower bound on N_c used for lumping and discarding (``min_clusters`` or 1).
    max_clusters_ : int
        Upper bound on N_c used for splitting (``max_clusters`` or ``2 * n_clusters``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when ``X`` has string column names.

    Raises
    ------
    EstimatorError
        From ``fit``: a parameter out of its range (the message names the range and an
        example), ``min_clusters``/``max_clusters`` on the wrong side of ``n_clusters``, or an
        ``init`` array with the wrong number of features.

    See Also
    --------
    sklearn.cluster.KMeans : Fixed number of clusters, no split, lump or discard.

    Notes
    -----
    Iteration ``i`` = 1..I (Tou & Gonzalez step numbers):

    2. Assign every sample to the nearest centre (Euclidean; ties to the lower index).
    3. Discard clusters with N_j < θ_N; their samples are left out of steps 4-13 and
       reassigned in the next pass. If fewer than ``min_clusters`` (at least one) clusters
       reach θ_N, the largest of the too-small ones are kept up to ``min_clusters``.
    4. Update each centre to the mean of its members.
    5-6. D̄_j (mean member distance to z_j) and D̄ = Σ N_j D̄_j / N.
    7. Control: last iteration (or converged, see ``tol``) → no split, no lump;
       N_c ≤ K/2 → split; even iteration or N_c ≥ ``max_clusters`` (default 2K) → lump;
       otherwise split.
    8-10. Split every cluster with σ_j,max > θ_S and [(D̄_j > D̄ and N_j > 2(θ_N + 1))
       or N_c ≤ K/2], all evaluated with N_c at the start of the step, but at most
       ``max_clusters - N_c`` of them: the largest σ_j,max first (ties: lower index). A
       split replaces z_j by z_j+ and z_j- (exactly one centre more). If nothing was
       split, go on to lumping.
    11-13. Lump the (up to) L closest pairs closer than θ_C, ascending, each centre at most
       once, stopping when N_c reaches ``min_clusters``; the new centre is the
       size-weighted mean.

    Additions to the card, all deterministic: after the last iteration every sample is
    assigned to the nearest final centre once more (so ``labels_ == predict(X)``), clusters
    left without members by that pass are dropped (the only way N_c can end below
    ``min_clusters``), and clusters are relabelled in
    lexicographic order of their centres. Samples are never left unclassified.

    Internally distances are computed in float64 in blocks of rows (no loop over samples),
    so large samples fit in memory; prediction of a row depends only on that row, so a
    raster classified chunk by chunk gives the same map for any chunk size.

    References
    ----------
    Ball, G. H. and Hall, D. J. (1965). ISODATA, a novel method of data analysis and
    pattern classification. Stanford Research Institute.

    Tou, J. T. and Gonzalez, R. C. (1974). Pattern Recognition Principles. Addison-Wesley,
    chapter 3.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from rasterclass.estimators.isodata import ISODATA
    >>> X, _ = make_blobs(n_samples=600, centers=[[0, 0], [10, 0], [0, 10]], random_state=0)
    >>> model = ISODATA(n_clusters=3, n_init_clusters=1, random_state=0).fit(X)
    >>> model.n_clusters_
    3
    >>> [record.n_clusters for record in model.history_]  # grows by splitting
    [2, 2, 3, 3, 3]
    >>> model.predict([[9.5, 0.5]]).tolist()
    [2]
    >>> model.transform(X).shape
    (600, 3)
    """

    def __init__(
        self,
        n_clusters=5,
        *,
        n_init_clusters=None,
        min_samples=20,
        max_std=None,
        min_distance=None,
        max_merge_pairs=2,
        min_clusters=None,
        max_clusters=None,
        max_iter=10,
        split_fraction=0.5,
        tol=0.02,
        init="k-means++",
        random_state=None,
    ):
        self.n_clusters = n_clusters
        self.n_init_clusters = n_init_clusters
        self.min_samples = min_samples
        self.max_std = max_std
        self.min_distance = min_distance
        self.max_merge_pairs = max_merge_pairs
        self.min_clusters = min_clusters
        self.max_clusters = max_clusters
        self.max_iter = max_iter
        self.split_fraction = split_fraction
        self.tol = tol
        self.init = init
        self.random_state = random_state

    # ----------------------------------------------------------------------------------
    # Validation
    # ----------------------------------------------------------------------------------

    def _check_params(self) -> None:
        check_isodata_params(self)

    def _thresholds(self, X: np.ndarray) -> _Thresholds:
        """The parameters as this fit on ``X`` uses them: ``min_samples`` capped for small
        data, ``max_std`` and ``min_distance`` defaulting to shares of the data's spread,
        ``min_clusters`` 1 and ``max_clusters`` twice ``n_clusters`` by default."""
        n_samples, k_desired = X.shape[0], self.n_clusters
        min_samples = min(self.min_samples, max(1, n_samples // (2 * k_desired)))
        if min_samples < self.min_samples:
            logger.info(
                "ISODATA: min_samples=%d capped to %d for %d samples and n_clusters=%d.",
                self.min_samples,
                min_samples,
                n_samples,
                k_desired,
            )
        spread = float(np.sqrt(np.mean(X.var(axis=0, dtype=np.float64))))
        max_std = _DEFAULT_MAX_STD_FACTOR * spread if self.max_std is None else float(self.max_std)
        min_distance = (
            _DEFAULT_MIN_DISTANCE_FACTOR * spread
            if self.min_distance is None
            else float(self.min_distance)
        )
        return _Thresholds(
            min_samples=min_samples,
            max_std=max_std,
            min_distance=min_distance,
            min_clusters=1 if self.min_clusters is None else int(self.min_clusters),
            max_clusters=2 * k_desired if self.max_clusters is None else int(self.max_clusters),
        )

    # ----------------------------------------------------------------------------------
    # scikit-learn API
    # ----------------------------------------------------------------------------------

    def fit(self, X: ArrayLike, y: object = None) -> Self:
        """Cluster ``X`` with ISODATA.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples (e.g. a sample of valid pixels, one column per band).
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : ISODATA
            The fitted estimator.
        """
        self._check_params()
        samples: np.ndarray = validate_data(self, X, dtype=list(_FLOAT_DTYPES))
        rng = check_random_state(self.random_state)
        k_desired = self.n_clusters
        used = self._thresholds(samples)
        min_samples, max_std, min_distance, min_clusters, max_clusters = used

        centres = initial_centres(self, samples, rng)
        history: list[IsodataIteration] = []
        prev_labels: np.ndarray | None = None
        carry: np.ndarray | None = None  # previous centre index -> current centre index
        iteration = 0
        for iteration in range(1, self.max_iter + 1):
            # Step 2: assignment and share of samples that changed cluster.
            labels = assign_nearest(samples, centres)
            if prev_labels is None or carry is None:
                share_changed = 1.0
            else:
                share_changed = float(np.mean(carry[prev_labels] != labels))

            # Step 3: discard small clusters (their samples sit out until the next pass).
            n_before = centres.shape[0]
            keep = discard_mask(np.bincount(labels, minlength=n_before), min_samples, min_clusters)
            n_kept = int(keep.sum())
            index_map = np.full(n_before, -1)
            index_map[keep] = np.arange(n_kept)
            members = index_map[labels]

            # Steps 4-6 (and 8: σ_j): update centres and statistics.
            counts, centres, sigma, mean_dist, overall_mean_dist = cluster_statistics(
                samples, members, n_kept
            )
            candidates = split_candidates(
                sigma,
                mean_dist,
                overall_mean_dist,
                counts,
                n_clusters_desired=k_desired,
                max_std=max_std,
                min_samples=min_samples,
            )

            # Step 7: control.
            n_current = centres.shape[0]
            max_merges = n_current - min_clusters  # lumping never goes below min_clusters
            could_split = bool(candidates.any()) and n_current < max_clusters
            could_lump = (
                lump_clusters(centres, counts, min_distance, self.max_merge_pairs, max_merges)[2]
                > 0
            )
            converged = (
                iteration > 1 and share_changed < self.tol and not could_split and not could_lump
            )
            if iteration == self.max_iter or converged:
                branch = "final"
            elif 2 * n_current <= k_desired:
                branch = "split"
            elif iteration % 2 == 0 or n_current >= max_clusters:
                branch = "lump"
            else:
                branch = "split"

            n_splits = n_merges = 0
            if branch == "split":
                room = max(0, max_clusters - n_current)
                chosen = limit_splits(candidates, sigma, room)
                if chosen is not candidates:
                    logger.debug(
                        "ISODATA iteration %d: %d clusters qualify for a split, room for %d "
                        "(max_clusters=%d); the largest sigma_max split first.",
                        iteration,
                        int(candidates.sum()),
                        room,
                        max_clusters,
                    )
                centres, split_map, n_splits = split_clusters(
                    centres, sigma, chosen, self.split_fraction
                )
                index_map = compose(index_map, split_map)
            if branch == "lump" or (branch == "split" and n_splits == 0):
                centres, lump_map, n_merges = lump_clusters(
                    centres, counts, min_distance, self.max_merge_pairs, max_merges
                )
                index_map = compose(index_map, lump_map)

            record = IsodataIteration(
                iteration=iteration,
                n_clusters=int(centres.shape[0]),
                n_splits=n_splits,
                n_merges=n_merges,
                n_discarded=n_before - n_kept,
                share_changed=share_changed,
                branch=branch,
            )
            history.append(record)
            logger.debug("ISODATA %s", record)
            prev_labels, carry = labels, index_map
            if converged:
                break

        # Final assignment: labels consistent with the final, lexicographically sorted
        # centres; centres without members are dropped (this leaves every argmin intact).
        centres = centres[lexicographic_order(centres)]
        labels = assign_nearest(samples, centres)
        populated = np.bincount(labels, minlength=centres.shape[0]) > 0
        if not populated.all():
            remap = np.cumsum(populated) - 1
            labels = remap[labels]
            centres = centres[populated]

        self.cluster_centers_ = centres
        self.labels_ = labels
        self.n_clusters_ = int(centres.shape[0])
        self.n_iter_ = iteration
        self.history_ = history
        self.min_samples_ = int(used.min_samples)
        self.max_std_ = used.max_std
        self.min_distance_ = used.min_distance
        self.min_clusters_ = used.min_clusters
        self.max_clusters_ = used.max_clusters
        logger.info(
            "ISODATA: %d clusters after %d iterations (n_clusters=%d).",
            self.n_clusters_,
            self.n_iter_,
            k_desired,
        )
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Assign every sample to the nearest cluster centre (Euclidean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to classify.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster index of every sample, 0..n_clusters_-1.
        """
        check_is_fitted(self)
        samples: np.ndarray = validate_data(self, X, reset=False, dtype=list(_FLOAT_DTYPES))
        return assign_nearest(samples, self.cluster_centers_)

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Euclidean distance of every sample to every cluster centre.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters_)
            Distances in data units (float64).
        """
        check_is_fitted(self)
        samples: np.ndarray = validate_data(self, X, reset=False, dtype=list(_FLOAT_DTYPES))
        return centre_distances(samples, self.cluster_centers_)

    @property
    def _n_features_out(self) -> int:
        """Number of transformed output features (one distance per centre)."""
        return self.cluster_centers_.shape[0]
