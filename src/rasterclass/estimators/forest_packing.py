"""Random forests as flat arrays: the packing :class:`~rasterclass.estimators.forest_inference.
ExactForest` walks, and the checks of packed arrays read from a model file.

Owns :func:`pack_forest` (a fitted scikit-learn forest's trees, breadth first, as plain
numeric arrays: nothing to unpickle), :data:`PACKED_ARRAYS` and :data:`PACKED_KINDS` (what a
packed forest holds), :func:`check_packed_kinds`, :func:`float32_floor` (thresholds for float32
comparisons that decide exactly as scikit-learn's float64 ones) and :func:`packable_forest`
(which fitted estimators have a packed form).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def float32_floor(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 not above each float64 value.

    For a float32 ``x`` and a float64 ``t``, ``x <= t`` exactly when
    ``x <= float32_floor(t)``: the decision scikit-learn's trees make (float32 data against
    float64 thresholds) made in float32.

    Parameters
    ----------
    threshold
        float64 values (any shape).

    Returns
    -------
    numpy.ndarray
        float32, same shape; values above the float32 range become its largest finite value.

    Examples
    --------
    >>> t = float32_floor(np.array([0.1, 0.5, 1e300]))
    >>> float(t[0]) <= 0.1 < float(np.nextafter(t[0], np.float32(1)))
    True
    >>> float(t[1]), bool(np.isfinite(t[2]))
    (0.5, True)
    """
    t = np.asarray(threshold, dtype=np.float64)
    with np.errstate(over="ignore"):
        t32 = t.astype(np.float32)
    above = t32.astype(np.float64) > t
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


def _pack_tree(tree: Any, n_classes: int) -> tuple[np.ndarray, ...]:
    """One fitted ``tree_`` renumbered breadth first with the two children of a node side
    by side: (child, feature, threshold, leaf row, leaf values). A leaf absorbs: its child is
    itself, its feature 0 and its threshold +inf; its leaf row indexes the leaf values
    (-1 for inner nodes)."""
    left, right = tree.children_left, tree.children_right
    order = [np.array([0])]
    frontier = order[0]
    while True:
        inner = frontier[left[frontier] >= 0]
        if not len(inner):
            break
        frontier = np.stack([left[inner], right[inner]], axis=1).ravel()
        order.append(frontier)
    old = np.concatenate(order)  # old id of each new id
    new = np.empty(len(old), dtype=np.int64)
    new[old] = np.arange(len(old))
    is_leaf = left[old] < 0
    child = np.where(is_leaf, np.arange(len(old)), new[np.maximum(left[old], 0)])
    feature = np.where(is_leaf, 0, tree.feature[old])
    threshold = np.where(is_leaf, np.inf, tree.threshold[old])
    leaf = np.where(is_leaf, np.cumsum(is_leaf) - 1, -1)
    values = np.asarray(tree.value[old[is_leaf], 0, :n_classes], dtype=np.float64)
    return child, feature, threshold, leaf, values


#: Dimensions and dtype kinds (numpy's ``dtype.kind``) of each packed array: indices are
#: integers (never cast from floats or strings), thresholds and values floats, classes
#: numbers, booleans or strings (objects only from a fitted forest: a file holds no objects).
PACKED_KINDS = {
    "roots": (1, "iu"),
    "child": (1, "iu"),
    "feature": (1, "iu"),
    "threshold": (1, "f"),
    "leaf": (1, "iu"),
    "values": (2, "f"),
    "classes": (1, "biufUO"),
    "n_features": (0, "iu"),
}


def check_packed_kinds(packed: Mapping[str, np.ndarray]) -> None:
    """ValueError unless every packed array has its dimensions and dtype kind (arrays read
    from a file: a 2-d or 0-d array, a structured, string or float index would otherwise
    be cast or reach the kernel, which numba cannot compile for it)."""
    for name, (ndim, kinds) in PACKED_KINDS.items():
        values = packed[name]
        if not isinstance(values, np.ndarray) or values.ndim != ndim:
            raise ValueError(f"packed {name!r} is not an array of {ndim} dimensions")
        if values.dtype.kind not in kinds or values.dtype.names is not None:
            raise ValueError(f"packed {name!r} has dtype {values.dtype}")


#: The arrays of a packed forest (:func:`pack_forest`).
PACKED_ARRAYS = (
    "roots",
    "child",
    "feature",
    "threshold",
    "leaf",
    "values",
    "classes",
    "n_features",
)


def pack_forest(forest: Any) -> dict[str, np.ndarray]:
    """A fitted forest classifier's trees as flat arrays: what
    :class:`~rasterclass.estimators.forest_inference.ExactForest` walks.

    Plain numbers only (no Python objects), so they can be stored and loaded without
    pickle or scikit-learn (a model file keeps them: see :meth:`rasterclass.RasterModel.save`).

    Parameters
    ----------
    forest
        A fitted ``RandomForestClassifier`` or ``ExtraTreesClassifier`` with one output.

    Returns
    -------
    dict of str to numpy.ndarray
        ``roots`` (int64, first node of each tree), ``child`` (left child of each node, the
        right one beside it; a leaf points to itself), ``feature`` (int32), ``threshold``
        (float64, scikit-learn's; +inf at leaves), ``leaf`` (row of ``values`` of a leaf,
        -1 for inner nodes), ``values`` (float64 ``(leaves, n_classes)``, the trees'
        ``value``), ``classes`` (the forest's ``classes_``) and ``n_features`` (0-d int64).

    Examples
    --------
    >>> from sklearn.ensemble import ExtraTreesClassifier
    >>> X = np.random.default_rng(1).random((40, 2), dtype=np.float32)
    >>> et = ExtraTreesClassifier(3, random_state=0).fit(X, X[:, 0] > 0.5)
    >>> packed = pack_forest(et)
    >>> len(packed["roots"]), packed["values"].shape[1], int(packed["n_features"])
    (3, 2, 2)
    """
    n_classes = int(forest.n_classes_)
    parts = [_pack_tree(t.tree_, n_classes) for t in forest.estimators_]
    node_base = np.cumsum([0] + [len(p[0]) for p in parts])
    leaf_base = np.cumsum([0] + [len(p[4]) for p in parts])
    return {
        "roots": node_base[:-1].astype(np.int64),
        "child": np.concatenate([p[0] + b for p, b in zip(parts, node_base, strict=False)]),
        "feature": np.concatenate([p[1] for p in parts]).astype(np.int32),
        "threshold": np.concatenate([p[2] for p in parts]).astype(np.float64),
        "leaf": np.concatenate(
            [np.where(p[3] < 0, -1, p[3] + b) for p, b in zip(parts, leaf_base, strict=False)]
        ),
        "values": np.ascontiguousarray(np.concatenate([p[4] for p in parts])),
        "classes": np.asarray(forest.classes_),
        "n_features": np.array(int(forest.n_features_in_), dtype=np.int64),
    }


def packable_forest(estimator: Any) -> tuple[Any, Any] | None:
    """``(prefix, forest)`` when ``estimator`` is a fitted one-output
    ``RandomForestClassifier`` or ``ExtraTreesClassifier`` (those classes, not subclasses),
    bare (prefix None) or as the last step of a Pipeline (prefix: the steps before it, or
    None); else None."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline

    prefix = None
    final = estimator
    if type(estimator) is Pipeline:
        final = estimator.steps[-1][1]
        prefix = estimator[:-1] if len(estimator.steps) > 1 else None
    # the classes themselves: a subclass may predict differently
    if type(final) not in (RandomForestClassifier, ExtraTreesClassifier):
        return None
    if not hasattr(final, "estimators_") or getattr(final, "n_outputs_", 1) != 1:
        return None
    return prefix, final
