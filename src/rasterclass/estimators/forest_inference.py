"""Exact, faster inference for scikit-learn random forests and extra trees.

scikit-learn's ``RandomForestClassifier.predict_proba`` builds one ``(n, n_classes)`` float64
array per tree and adds them, tree by tree, into the running sum, then divides by the number
of trees; every tree walks its own nodes over all ``n`` rows (a fresh pass over memory per
tree). :class:`ExactForest` computes the very same numbers with a numba-compiled traversal:
the forest's nodes are packed once (breadth first, the two children of a node side by side,
so the step to the next node is ``child + (x > threshold)``, without a branch), each tree
walks 8 pixels side by side (8 independent chains of memory loads that the CPU overlaps:
most of the gain; one pixel at a time is no faster than scikit-learn, see
``benchmarks/bench_forest.py``), and the leaf values are added straight into the running
sum in the trees' order: the same float64 additions in the same order as scikit-learn with
``n_jobs=1``, so probabilities and labels are identical bit for bit.

Thresholds are compared in float32: scikit-learn compares the float32 pixel ``x`` with the
float64 threshold ``t`` as ``x <= t``, which for every float32 ``x`` decides exactly as
``x <= t32`` with ``t32`` the largest float32 not above ``t``.

numba is an optional dependency (``pip install numba``): without it :func:`exact_forest`
returns None and callers keep scikit-learn. Inputs the packed forest does not handle the way
scikit-learn does (NaN or infinite values, sparse matrices) go to scikit-learn as well.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from rasterclass.errors import ModelFileError
from rasterclass.estimators.forest_packing import (
    PACKED_ARRAYS,
    check_packed_kinds,
    float32_floor,
    pack_forest,
    packable_forest,
)

logger = logging.getLogger(__name__)

#: Rows walked by every tree before the next block (bounds the working set of a huge call).
BLOCK = 32768
#: Rows walked side by side through one tree (independent chains of loads that overlap).
LANES = 8
#: Steps the lanes take between two checks that all have reached their leaf.
STEPS = 2


_COMPILING = threading.Lock()
#: Held while a packed forest loads its scikit-learn forest (:attr:`ExactForest.forest`).
_LOADING = threading.Lock()


def _kernel() -> Any:
    """The compiled kernel, made once per process (threads of the first blocks wait for
    the one dispatcher; numba's own lock makes them wait for its one compilation)."""
    with _COMPILING:
        return _compiled()


@functools.cache
def _compiled() -> Any:
    """numba imported and the kernel jitted (loaded from numba's on-disk cache after the
    first run: about 1 s of fixed cost per process, with the import)."""
    import numba

    lanes, steps = LANES, STEPS

    @numba.njit(nogil=True, cache=True)
    def forest_sums(X, roots, child, feature, threshold, leaf, values, block):  # type: ignore[no-untyped-def]
        # Leaves absorb (child = itself, threshold = +inf): a lane that reached its leaf
        # stays there while the other lanes of its group walk on, so the lanes step without
        # branches, and their independent chains of loads overlap.
        n, k = X.shape[0], values.shape[1]
        out = np.zeros((n, k), dtype=np.float64)
        nodes = np.empty(lanes, dtype=np.int64)
        for b0 in range(0, n, block):
            b1 = min(n, b0 + block)
            for t in range(roots.shape[0]):  # the trees' order: scikit-learn's sums
                root = roots[t]
                i = b0
                while i + lanes <= b1:  # a fixed number of lanes: kept in registers
                    for j in range(lanes):
                        nodes[j] = root
                    walking = True
                    while walking:
                        for _ in range(steps):
                            for j in range(lanes):
                                nd = nodes[j]
                                nodes[j] = child[nd] + (X[i + j, feature[nd]] > threshold[nd])
                        walking = False
                        for j in range(lanes):
                            if leaf[nodes[j]] < 0:
                                walking = True
                    for j in range(lanes):
                        row = leaf[nodes[j]]
                        for c in range(k):
                            out[i + j, c] += values[row, c]
                    i += lanes
                for r in range(i, b1):  # the last rows of the block, one by one
                    nd = root
                    while leaf[nd] < 0:
                        nd = child[nd] + (X[r, feature[nd]] > threshold[nd])
                    row = leaf[nd]
                    for c in range(k):
                        out[r, c] += values[row, c]
        n_trees = roots.shape[0]
        for i in range(n):
            for c in range(k):
                out[i, c] /= n_trees
        return out

    return forest_sums


def numba_available() -> bool:
    """True when numba can be imported (the fast path's one optional dependency).

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(numba_available(), bool)
    True
    """
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _is_one_forest(f: ExactForest, n_nodes: int) -> bool:
    """Every index the kernel follows is in range and every walk ends at a leaf: the
    compiled kernel checks no bounds, so arrays read from a file are checked here. Packed
    breadth first, an inner node's children come after it (walks only move forward) and a
    leaf points to itself with a +inf threshold (it absorbs)."""
    if not (len(f.feature) == len(f.threshold) == len(f.leaf) == n_nodes > 0):
        return False
    if f.values.ndim != 2 or f.values.shape[1] != len(f.classes_) or not len(f.classes_):
        return False
    node = np.arange(n_nodes)
    child = np.asarray(f.child, dtype=np.int64)
    leaf = np.asarray(f.leaf, dtype=np.int64)
    inner = leaf < 0
    return bool(
        len(f.roots)
        and ((f.roots >= 0) & (f.roots < n_nodes)).all()
        and (child[inner] > node[inner]).all()
        and (child[inner] + 1 < n_nodes).all()
        and (child[~inner] == node[~inner]).all()
        and np.isposinf(f.threshold[~inner]).all()
        and ((f.feature >= 0) & (f.feature < f.feature_count)).all()
        and (leaf < len(f.values)).all()
        and (leaf >= -1).all()
    )


class ExactForest:
    """A fitted scikit-learn forest classifier packed for fast, exact inference.

    ``predict_proba`` and ``predict`` return exactly (bit for bit) what the forest's own do
    with ``n_jobs=1``; :func:`exact_forest` builds one when numba is available.

    Parameters
    ----------
    forest
        A fitted ``RandomForestClassifier`` or ``ExtraTreesClassifier`` (one output).
    prefix
        Fitted transformers applied before the forest (the steps of a Pipeline before it),
        or None.
    float32_thresholds
        Compare in float32 with :func:`float32_floor` thresholds (the same decisions) rather
        than in float64.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The forest's classes.
    n_features_in_ : int
        Bands (features) the model expects.
    feature_count : int
        Features the forest itself takes (after the prefix steps).
    n_jobs : int or None
        Threads of one ``predict_proba`` call (the forest's ``n_jobs``).
    forest : estimator
        The wrapped forest (used for inputs the packed nodes do not handle).

    References
    ----------
    The sums are scikit-learn's ``ForestClassifier.predict_proba``
    (``sklearn/ensemble/_forest.py``) and the decisions ``Tree.apply``
    (``sklearn/tree/_tree.pyx``). Branch-free steps ("predication") and several instances
    walked at once ("vectorization"): N. Asadi, J. Lin, A. P. de Vries (2014), Runtime
    optimizations for tree-based machine learning models, IEEE TKDE 26(9), 2281-2292.

    Examples
    --------
    >>> from sklearn.ensemble import ExtraTreesClassifier
    >>> X = np.random.default_rng(1).random((60, 4), dtype=np.float32)
    >>> et = ExtraTreesClassifier(4, random_state=0).fit(X, (X[:, 1] * 3).astype(int))
    >>> fast = ExactForest(et)  # needs numba to predict
    >>> fast.classes_.tolist(), fast.n_features_in_
    ([0, 1, 2], 4)
    """

    def __init__(self, forest: Any, prefix: Any = None, float32_thresholds: bool = True):
        self._set_packed(pack_forest(forest), float32_thresholds)
        self._forest = forest
        self._load_forest: Callable[[], Any] | None = None
        self.prefix = prefix
        self.n_jobs = forest.n_jobs
        self.n_features_in_ = int(getattr(prefix, "n_features_in_", None) or self.feature_count)

    @classmethod
    def from_packed(
        cls, packed: Mapping[str, np.ndarray], load_forest: Callable[[], Any] | None = None
    ) -> ExactForest:
        """An ExactForest from :func:`pack_forest`'s arrays, without the forest itself.

        Parameters
        ----------
        packed
            The arrays :func:`pack_forest` returns (e.g. as kept in a model file).
        load_forest
            Called, once, for the scikit-learn forest when an input needs it (NaN or
            infinite values, sparse matrices): a model file's loader. None: such inputs
            raise :class:`ValueError`; a forest that does not pack to ``packed``, a
            :class:`~rasterclass.errors.ModelFileError`.

        Returns
        -------
        ExactForest
            Without a prefix, ``n_jobs=1``.

        Raises
        ------
        ValueError
            An array is missing or the arrays do not describe one forest.

        Examples
        --------
        >>> from sklearn.ensemble import RandomForestClassifier
        >>> X = np.random.default_rng(0).random((50, 3), dtype=np.float32)
        >>> rf = RandomForestClassifier(5, random_state=0).fit(X, X[:, 0] > 0.5)
        >>> fast = ExactForest.from_packed(pack_forest(rf), lambda: rf)
        >>> fast.classes_.tolist(), fast.n_features_in_
        ([False, True], 3)
        """
        missing = [k for k in PACKED_ARRAYS if k not in packed]
        if missing:
            raise ValueError(f"packed forest lacks {missing}")
        self = cls.__new__(cls)
        self._set_packed(packed, True)
        self._forest = None
        self._load_forest = load_forest
        self.prefix = None
        self.n_jobs = 1
        self.n_features_in_ = self.feature_count
        return self

    def _set_packed(self, packed: Mapping[str, np.ndarray], float32_thresholds: bool) -> None:
        check_packed_kinds(packed)
        n_nodes = len(packed["child"])
        self.roots = np.asarray(packed["roots"], dtype=np.int64)
        self.child = np.asarray(packed["child"], dtype=np.int32 if n_nodes < 2**31 else np.int64)
        self.feature = np.asarray(packed["feature"], dtype=np.int32)
        threshold = np.asarray(packed["threshold"], dtype=np.float64)
        self.threshold = float32_floor(threshold) if float32_thresholds else threshold
        self.leaf = np.asarray(packed["leaf"], dtype=np.int32)
        self.values = np.ascontiguousarray(packed["values"], dtype=np.float64)
        self.classes_ = np.asarray(packed["classes"])
        self.feature_count = int(packed["n_features"])
        if not _is_one_forest(self, n_nodes):
            raise ValueError("the packed arrays do not describe one forest")

    @property
    def forest(self) -> Any:
        """The scikit-learn forest (loaded on first use when built with :meth:`from_packed`):
        what predicts the inputs the packed nodes do not handle."""
        if self._forest is not None:
            return self._forest
        if self._load_forest is None:
            raise ValueError(
                "this packed forest has no scikit-learn forest for inputs with NaN or "
                "infinite values"
            )
        with _LOADING:  # blocks on several threads: loaded once
            if self._forest is None:
                forest = self._load_forest()
                if not self._packs(forest):
                    raise ModelFileError(
                        "the forest loaded for inputs with NaN or infinite values is not the "
                        "one whose packed trees predict the others (the model file changed "
                        "during the run, or is damaged); run again, or re-train"
                    )
                self._forest = forest
        return self._forest

    def _packs(self, forest: Any) -> bool:
        """True when ``forest`` is a bare forest whose packed arrays are this one's."""
        found = packable_forest(forest)
        if found is None or found[0] is not None:
            return False
        packed = ExactForest(forest)
        return packed.feature_count == self.feature_count and all(
            np.array_equal(getattr(packed, name), getattr(self, name))
            for name in ("roots", "child", "feature", "threshold", "leaf", "values", "classes_")
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if state.get("_load_forest") is not None:
            state["_forest"] = None  # sent to a worker: loaded there if ever needed
        return state

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, identical to the forest's ``predict_proba`` (``n_jobs=1``).

        Rows are split over the forest's ``n_jobs`` threads (each row's sum is the same
        whichever thread makes it).

        Parameters
        ----------
        X
            ``(n, n_features)`` array-like; cast to float32 as scikit-learn does.

        Returns
        -------
        numpy.ndarray
            ``(n, n_classes)`` float64, columns in ``classes_`` order.

        Raises
        ------
        ModelFileError
            Rows need the scikit-learn forest and the one loaded is not the packed one
            (see :meth:`from_packed`).
        """
        if self.prefix is not None:
            X = self.prefix.transform(X)
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != self.feature_count:
            return np.asarray(self.forest.predict_proba(X))
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        if not np.isfinite(X32).all():  # NaN (missing-value routing) or inf (an error)
            return np.asarray(self.forest.predict_proba(X32))
        from joblib import effective_n_jobs

        kernel = _kernel()
        packed = (self.roots, self.child, self.feature, self.threshold, self.leaf, self.values)
        starts = range(0, len(X32), BLOCK)
        threads = min(effective_n_jobs(self.n_jobs), len(starts))
        if threads <= 1:
            return kernel(X32, *packed, BLOCK)  # type: ignore[no-any-return]
        with ThreadPoolExecutor(threads) as pool:  # the kernel releases the GIL
            parts = pool.map(lambda i: kernel(X32[i : i + BLOCK], *packed, BLOCK), starts)
            return np.concatenate(list(parts))

    def predict(self, X: Any) -> np.ndarray:
        """Class labels, identical to the forest's ``predict``: the class of the largest
        probability (the first on ties).

        Parameters
        ----------
        X
            ``(n, n_features)`` array-like.

        Returns
        -------
        numpy.ndarray
            ``(n,)`` labels of ``classes_``' dtype.
        """
        return self.classes_.take(np.argmax(self.predict_proba(X), axis=1), axis=0)


def exact_forest(estimator: Any) -> ExactForest | None:
    """The fast exact stand-in for a fitted forest classifier, or None.

    A stand-in is made for a fitted ``RandomForestClassifier`` or ``ExtraTreesClassifier``
    (those classes, not subclasses) with one output, bare or as the last step of a Pipeline
    (the steps before it are applied as the Pipeline applies them), when numba is
    importable; an ExactForest is returned as it is. Anything else gives None: use the
    estimator itself.

    Parameters
    ----------
    estimator
        Any fitted estimator.

    Returns
    -------
    ExactForest or None

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> X = np.random.default_rng(0).random((50, 3), dtype=np.float32)
    >>> rf = RandomForestClassifier(5, random_state=0).fit(X, X[:, 0] > 0.5)
    >>> fast = exact_forest(rf)
    >>> fast is None or bool(np.array_equal(fast.predict_proba(X), rf.predict_proba(X)))
    True
    """
    if isinstance(estimator, ExactForest):  # e.g. from a model file: already packed
        return estimator
    found = packable_forest(estimator)
    if found is None:
        return None
    if not numba_available():
        logger.debug("numba is not installed: the forest predicts through scikit-learn")
        return None
    prefix, final = found
    return ExactForest(final, prefix)
