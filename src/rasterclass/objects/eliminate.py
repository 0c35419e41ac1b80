"""Segment tables and iterative elimination of small segments (Shepherd et al. 2019).

Owns the per-segment tables (pixel count, band sums, first pixel key, neighbour pairs, open
anchors: ``SegmentTables``) and the operations on them that do not depend on where the segments
are: unique neighbour pairs, connected components of a merge graph, canonical renumbering by
first pixel, and ``eliminate_small``, which merges every too-small segment into its spectrally
closest neighbour in stages of growing size thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def unique_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unique undirected pairs as a (2, m) int64 array with row 0 < row 1."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    keep = (a != b) & (a > 0) & (b > 0)
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    if lo.size == 0:
        return np.empty((2, 0), dtype=np.int64)
    base = int(hi.max()) + 1
    code = lo * base + hi
    code.sort()  # sort-based unique: numpy's hash-based np.unique is several times slower here
    code = code[np.r_[True, code[1:] != code[:-1]]]
    return np.stack(np.divmod(code, base))


def graph_components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected component of every node of an undirected graph given by edges (a, b)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_nodes, n_nodes)).tocsr()
    _, comp = connected_components(graph, directed=False)
    return comp


def canonical(comp: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber components by their first pixel key: node -> id, first key per id.

    Node 0 (nodata, ``first == -1``) keeps id 0.
    """
    n_comp = int(comp.max()) + 1
    cfirst = np.full(n_comp, np.iinfo(np.int64).max)
    np.minimum.at(cfirst, comp, first)
    order = np.argsort(cfirst, kind="stable")
    rank = np.empty(n_comp, dtype=np.int64)
    rank[order] = np.arange(n_comp)
    return rank[comp], cfirst[order]


@dataclass
class SegmentTables:
    """Per-segment tables: index = segment id (0 = nodata).

    ``anchor`` (optional) marks segments that never pick a neighbour (a tile's open segments);
    a merged segment is an anchor when one of its parts is.
    """

    count: np.ndarray
    sums: np.ndarray
    first: np.ndarray
    pairs: np.ndarray
    anchor: np.ndarray | None = None

    def merge(self, new_id: np.ndarray) -> SegmentTables:
        """Tables of merged segments; ``new_id`` is canonical (0 stays 0)."""
        m = int(new_id.max()) + 1
        count = np.bincount(new_id, weights=self.count, minlength=m).astype(np.int64)
        sums = np.stack([np.bincount(new_id, weights=s, minlength=m) for s in self.sums.T], axis=1)
        first = np.full(m, np.iinfo(np.int64).max)
        np.minimum.at(first, new_id, self.first)
        anchor = None
        if self.anchor is not None:
            anchor = np.bincount(new_id, weights=self.anchor, minlength=m) > 0
        pairs = unique_pairs(new_id[self.pairs[0]], new_id[self.pairs[1]])
        return SegmentTables(count, sums, first, pairs, anchor)


def _thresholds(min_size: int) -> list[int]:
    """Elimination stages: clumps below 2, 4, 8, ... pixels, then below ``min_size``."""
    out, t = [], 2
    while t < min_size:
        out.append(t)
        t *= 2
    if min_size > 1:
        out.append(min_size)
    return out


def eliminate_small(
    tables: SegmentTables, min_size: int, scale: np.ndarray
) -> tuple[np.ndarray, SegmentTables, int]:
    """Merge segments smaller than ``min_size`` into their most similar neighbour.

    Stages of growing size thresholds (as RSGISLib eliminates 1-pixel clumps first, then
    larger ones). In each iteration every too-small segment that has a neighbour (and is not
    an anchor) picks the neighbour whose mean spectrum (standardised) is closest (ties: the
    lower canonical id), and all picked pairs merge at once (connected components of the pick
    graph; each holds at most one anchor). Ids stay canonical (ordered by first pixel key), so
    the result does not depend on the order of the input.

    Returns
    -------
    mapping, tables, iterations
        ``mapping[old id] = new id``, the tables of the merged segments and the number of
        merge iterations.
    """
    mapping = np.arange(len(tables.count), dtype=np.int64)
    iterations = 0
    for threshold in _thresholds(min_size):
        while True:
            small = tables.count < threshold
            small[0] = False
            if tables.anchor is not None:
                small &= ~tables.anchor
            if not small.any() or tables.pairs.shape[1] == 0:
                break
            ids = np.int32 if len(tables.count) < 2**31 else np.int64  # halves the temporaries
            a, b = tables.pairs.astype(ids, copy=False)
            src = np.concatenate([a, b])
            dst = np.concatenate([b, a])
            sel = small[src]
            if not sel.any():
                break
            src, dst = src[sel], dst[sel]
            means = tables.sums / np.maximum(tables.count, 1)[:, None] / scale
            d = np.zeros(len(src))
            for b in range(means.shape[1]):  # band by band: no (pairs, bands) temporaries
                d += (means[src, b] - means[dst, b]) ** 2
            order = np.lexsort((dst, d, src))
            src, dst = src[order], dst[order]
            pick = np.r_[True, src[1:] != src[:-1]]
            comp = graph_components(len(tables.count), src[pick], dst[pick])
            new_id, _ = canonical(comp, tables.first)
            tables = tables.merge(new_id)
            mapping = new_id[mapping]
            iterations += 1
    return mapping, tables, iterations
