"""The priority-queue pass of the sieve: small patches that touch another small patch.

Owns :func:`merge_crowded` (called by :func:`rasterclass.postprocess.merge_small_patches`),
which merges them smallest first by the longest-border rule, with two implementations that
give the same merges: a numba-compiled one (union-find over per-patch linked lists of
borders, resolved when a patch is taken) for many patches, and a Python one (a dict of
borders per patch) for few patches or without numba (an optional dependency, the extra
``fast``). The compiled one pays numba's import (about 0.3 s per process), so it is used from
:data:`COMPILED_FROM` patches on, where the Python one would take longer.
"""

from __future__ import annotations

import functools
import heapq
import logging
import threading
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Fewest crowded patches for which the compiled pass is used (the Python one takes about
#: 6 µs per patch, numba's import and cached kernel about 0.35 s).
COMPILED_FROM = 40_000

_COMPILING = threading.Lock()


def merge_crowded(
    root: np.ndarray,
    crowded: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    pixels: np.ndarray,
    first: np.ndarray,
    min_pixels: float,
    compiled: bool | None = None,
) -> int:
    """Merge the crowded small patches smallest first; ``root`` is updated in place.

    Parameters
    ----------
    root
        int64 ``(n + 1,)``: the patch each patch merged into (itself if none); the crowded
        patches' entries are set (they may point to a patch that merges later on).
    crowded
        int64 ids of the small patches that touch another small patch.
    edges
        ``(a, b, w)`` int64: the borders between patches (eligible ones: no nodata, no
        protected class, one end small), length ``w`` in pixel edges.
    pixels, first
        int64 ``(n + 1,)``: the patches' sizes in the input map, and the row-major key of
        their first pixel (a patch's rank among equal sizes).
    min_pixels
        Patches below this size are small.
    compiled
        True: the numba pass; False: the Python pass; None: numba for
        :data:`COMPILED_FROM` crowded patches or more, when it is installed.

    Returns
    -------
    int
        The number of merges.

    Examples
    --------
    >>> import numpy as np
    >>> root = np.arange(4)
    >>> edges = (np.array([1, 1, 2]), np.array([2, 3, 3]), np.array([1, 1, 3]))
    >>> merge_crowded(root, np.array([1, 2]), edges, np.array([0, 1, 2, 9]),
    ...               np.array([-1, 0, 1, 2]), 3, compiled=False), root.tolist()
    (2, [0, 3, 3, 3])
    """
    if compiled is None:
        compiled = len(crowded) >= COMPILED_FROM and numba_available()
    a, b, w = (np.asarray(e, dtype=np.int64) for e in edges)
    crowded = np.asarray(crowded, dtype=np.int64)
    pixels = np.asarray(pixels, dtype=np.int64)
    first = np.asarray(first, dtype=np.int64)
    is_crowded = np.zeros(len(root), dtype=bool)
    is_crowded[crowded] = True
    touch = is_crowded[a] | is_crowded[b]
    a, b, w = a[touch], b[touch], w[touch]
    if not compiled:
        return _merge_python(root, crowded, a, b, w, pixels, first, min_pixels)
    # one entry per crowded end of a border: (owner, neighbour, weight), grouped by owner
    owner = np.concatenate([a[is_crowded[a]], b[is_crowded[b]]])
    other = np.concatenate([b[is_crowded[a]], a[is_crowded[b]]])
    weight = np.concatenate([w[is_crowded[a]], w[is_crowded[b]]])
    order = np.argsort(owner, kind="stable")
    owner, other, weight = owner[order], other[order], weight[order]
    head = np.full(len(root), -1, dtype=np.int64)
    tail = np.full(len(root), -1, dtype=np.int64)
    if owner.size:
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        ends = np.r_[starts[1:], owner.size] - 1
        head[owner[starts]], tail[owner[starts]] = starts, ends
    nxt = np.arange(1, owner.size + 1, dtype=np.int64)
    nxt[tail[tail >= 0]] = -1
    kernel = _kernel()
    return int(
        kernel(
            root, crowded[np.lexsort((first[crowded], pixels[crowded]))], head, tail, nxt,
            other, weight, pixels, first, float(min_pixels),
        )
    )  # fmt: skip


def numba_available() -> bool:
    """True when numba can be imported (the compiled pass's one optional dependency)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _merge_python(
    root: np.ndarray,
    crowded: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    w: np.ndarray,
    pixels: np.ndarray,
    first: np.ndarray,
    min_pixels: float,
) -> int:
    """The Python pass: a dict of borders per tracked patch, updated at every merge."""
    adjacency: dict[int, dict[int, int]] = {int(k): {} for k in crowded}
    for p, q, weight in zip(a.tolist(), b.tolist(), w.tolist(), strict=True):
        if p in adjacency:
            adjacency[p][q] = weight
        if q in adjacency:
            adjacency[q][p] = weight
    size = pixels.astype(np.int64).copy()
    original = pixels
    heap = [(int(size[k]), int(first[k]), k) for k in adjacency]
    heapq.heapify(heap)
    merges = 0
    while heap:
        s, _, i = heapq.heappop(heap)
        if i not in adjacency or s != size[i]:
            continue  # merged away, or grown since it was queued
        neighbours = adjacency.pop(i)
        if not neighbours:
            continue
        j = max(neighbours, key=lambda k: (neighbours[k], original[k], -k))
        root[i] = j
        merges += 1
        size[j] += size[i]
        for k, weight in neighbours.items():
            if k == j:
                continue
            if k in adjacency:
                adjacency[k].pop(i, None)
                adjacency[k][j] = adjacency[k].get(j, 0) + weight
            if j in adjacency:
                adjacency[j][k] = adjacency[j].get(k, 0) + weight
        if j in adjacency:
            adjacency[j].pop(i, None)
            if size[j] < min_pixels:
                heapq.heappush(heap, (int(size[j]), int(first[j]), j))
            else:
                del adjacency[j]  # large now: never merges, keeps absorbing
    return merges


def _kernel() -> Any:
    """The compiled pass, made once per process (threads wait for the one compilation)."""
    with _COMPILING:
        return _compiled()


@functools.cache
def _compiled() -> Any:
    """numba imported and the pass jitted (loaded from numba's on-disk cache after the first
    run)."""
    import numba

    @numba.njit(nogil=True, cache=True)
    def merge(root, crowded, head, tail, nxt, other, weight, pixels, first, min_pixels):  # type: ignore[no-untyped-def]
        # A tracked patch (small, not yet taken) owns a linked list of border entries; a
        # merged patch's list is appended to its absorber's, and entries are resolved to
        # their current patch (union-find) when the patch is taken, so the borders summed
        # per neighbour are those of the Python pass's dicts. One function (no calls to
        # other jitted functions), so numba's on-disk cache serves it in every process.
        n = root.shape[0]
        size = pixels.copy()
        tracked = np.zeros(n, dtype=np.bool_)
        acc = np.zeros(n, dtype=np.int64)
        seen = np.full(n, -1, dtype=np.int64)
        touched = np.empty(n, dtype=np.int64)
        # a binary heap on (size when queued, first pixel key) -> patch; ``crowded`` comes
        # sorted by that key, which is a heap already
        m = crowded.shape[0]
        hs = np.empty(2 * m + 1, dtype=np.int64)
        hf = np.empty_like(hs)
        hp = np.empty_like(hs)
        for c in range(m):
            k = crowded[c]
            tracked[k] = True
            hs[c], hf[c], hp[c] = size[k], first[k], k
        merges = 0
        while m > 0:
            s, i = hs[0], hp[0]
            m -= 1
            hs[0], hf[0], hp[0] = hs[m], hf[m], hp[m]
            c = 0
            while True:  # sift down
                lo = c
                for d in (2 * c + 1, 2 * c + 2):
                    if d < m and (hs[d] < hs[lo] or (hs[d] == hs[lo] and hf[d] < hf[lo])):
                        lo = d
                if lo == c:
                    break
                hs[c], hs[lo] = hs[lo], hs[c]
                hf[c], hf[lo] = hf[lo], hf[c]
                hp[c], hp[lo] = hp[lo], hp[c]
                c = lo
            if not tracked[i] or s != size[i]:
                continue  # merged away, or grown since it was queued
            tracked[i] = False
            t = 0
            e = head[i]
            while e >= 0:
                r = other[e]  # its current patch, with path compression
                while root[r] != r:
                    r = root[r]
                k = other[e]
                while root[k] != r:
                    up = root[k]
                    root[k] = r
                    k = up
                if r != i:
                    if seen[r] != i:
                        seen[r] = i
                        acc[r] = 0
                        touched[t] = r
                        t += 1
                    acc[r] += weight[e]
                e = nxt[e]
            if t == 0:
                continue
            j = touched[0]
            for q in range(1, t):  # the longest border, then the larger, then the lower id
                r = touched[q]
                if acc[r] > acc[j] or (
                    acc[r] == acc[j]
                    and (pixels[r] > pixels[j] or (pixels[r] == pixels[j] and r < j))
                ):
                    j = r
            root[i] = j
            merges += 1
            size[j] += size[i]
            if not tracked[j]:
                continue
            nxt[tail[j]] = head[i]
            tail[j] = tail[i]
            if size[j] >= min_pixels:
                tracked[j] = False  # large now: never merges, keeps absorbing
                continue
            hs[m], hf[m], hp[m] = size[j], first[j], j
            c = m
            m += 1
            while c > 0:  # sift up
                u = (c - 1) // 2
                if hs[c] > hs[u] or (hs[c] == hs[u] and hf[c] > hf[u]):
                    break
                hs[c], hs[u] = hs[u], hs[c]
                hf[c], hf[u] = hf[u], hf[c]
                hp[c], hp[u] = hp[u], hp[c]
                c = u
        return merges

    return merge
