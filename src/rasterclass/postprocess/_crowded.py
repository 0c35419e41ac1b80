"""The sieve's pass over the crowded small patches (those touching another small patch).

Owns :func:`merge_crowded` (called by :func:`rasterclass.postprocess.merge_small_patches`),
which merges them smallest first by the longest-border rule, with three implementations that
give the same merges: rounds in numpy (every patch that comes before all its small
neighbours is taken at once; a noisy map needs about ten rounds), then, for what is left
after :data:`ROUNDS` rounds (long chains of growing patches), the priority queue: a
numba-compiled one (union-find over per-patch linked lists of borders, resolved when a patch
is taken) for many patches, or a Python one (a dict of borders per patch) for few patches or
without numba (an optional dependency, the extra ``fast``). The compiled one pays numba's
import and cached kernel (about 0.5 s per process), so it is used from :data:`COMPILED_FROM`
patches on.
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

#: Rounds of the numpy pass before the patches left go through the priority queue.
ROUNDS = 64

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

    First in rounds (numpy): every tracked patch (small, not yet taken) that precedes all
    its tracked neighbours in the queue's order (size, then first pixel) is taken at once:
    nothing can change its borders or size before its turn (its neighbours come later, and
    only a merging neighbour changes them), and merges of patches that do not touch commute.
    After :data:`ROUNDS` rounds (long chains of growing patches), the patches left go through
    the priority queue, compiled or in Python, which take one patch at a time.

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
        True: the numba pass only; False: the Python pass only; None: the rounds, then
        numba for :data:`COMPILED_FROM` patches left or more, when it is installed.

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
    a, b, w = (np.asarray(e, dtype=np.int64) for e in edges)
    crowded = np.asarray(crowded, dtype=np.int64)
    pixels = np.asarray(pixels, dtype=np.int64)
    first = np.asarray(first, dtype=np.int64)
    size = pixels.copy()
    tracked = np.zeros(len(root), dtype=bool)
    tracked[crowded] = True
    merges = 0
    if compiled is None:
        merges, (a, b, w) = _merge_rounds(root, tracked, (a, b, w), size, pixels, first, min_pixels)
        crowded = np.flatnonzero(tracked)
        if crowded.size == 0:
            return merges
        logger.debug("sieve: %d crowded patches left after %d rounds", crowded.size, ROUNDS)
        compiled = len(crowded) >= COMPILED_FROM and numba_available()
    return merges + _merge_sequential(
        root, crowded, (a, b, w), size, pixels, first, min_pixels, compiled
    )


def _merge_sequential(
    root: np.ndarray,
    crowded: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    size: np.ndarray,
    pixels: np.ndarray,
    first: np.ndarray,
    min_pixels: float,
    compiled: bool,
) -> int:
    """The priority-queue pass (numba or Python) from the current ``size`` of the patches."""
    a, b, w = edges
    is_crowded = np.zeros(len(root), dtype=bool)
    is_crowded[crowded] = True
    touch = is_crowded[a] | is_crowded[b]
    a, b, w = a[touch], b[touch], w[touch]
    if not compiled:
        return _merge_python(root, crowded, a, b, w, size, pixels, first, min_pixels)
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
            root, crowded[np.lexsort((first[crowded], size[crowded]))], head, tail, nxt,
            other, weight, size, pixels, first, float(min_pixels),
        )
    )  # fmt: skip


def _merge_rounds(
    root: np.ndarray,
    tracked: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    size: np.ndarray,
    pixels: np.ndarray,
    first: np.ndarray,
    min_pixels: float,
) -> tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Up to :data:`ROUNDS` rounds of taking the tracked patches that precede all their
    tracked neighbours; ``root``, ``tracked`` and ``size`` updated in place. Returns the
    merges and the borders left between the current patches (summed per pair)."""
    a, b, w = edges
    n = len(root)
    rank = np.zeros(n, dtype=np.int64)
    merges = 0
    a, b, w = _summed(a, b, w, n)
    for _ in range(ROUNDS):
        ids = np.flatnonzero(tracked)
        if ids.size == 0:
            break
        rank[ids[np.lexsort((first[ids], size[ids]))]] = np.arange(ids.size)
        both = tracked[a] & tracked[b]
        taken = tracked.copy()
        taken[np.where(rank[a[both]] > rank[b[both]], a[both], b[both])] = False
        at_a, at_b = taken[a], taken[b]  # a border has at most one taken end
        i = np.concatenate([a[at_a], b[at_b]])
        j = np.concatenate([b[at_a], a[at_b]])
        wi = np.concatenate([w[at_a], w[at_b]])
        order = np.lexsort((-j, pixels[j], wi, i))  # the best neighbour last per patch
        i, j = i[order], j[order]
        last = np.r_[i[1:] != i[:-1], True] if i.size else np.zeros(0, dtype=bool)
        i, j = i[last], j[last]
        tracked[taken] = False  # taken: merged, or staying (no neighbour)
        root[i] = j
        np.add.at(size, j, size[i])
        tracked[j] &= size[j] < min_pixels  # large now: never merges, keeps absorbing
        merges += i.size
        a, b = root[a], root[b]  # the taken patches' targets are not taken this round
        keep = tracked[a] | tracked[b]
        a, b, w = _summed(a[keep], b[keep], w[keep], n)
    return merges, (a, b, w)


def _summed(a: np.ndarray, b: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Borders summed per pair of distinct patches (``a < b``)."""
    keep = a != b
    a, b, w = a[keep], b[keep], w[keep]
    code = np.minimum(a, b) * n + np.maximum(a, b)
    order = np.argsort(code)
    code = code[order]
    start = np.flatnonzero(np.r_[True, code[1:] != code[:-1]]) if code.size else code
    w = np.add.reduceat(w[order], start) if code.size else w
    code = code[start]
    return code // n, code % n, w


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
    size: np.ndarray,
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
    size = size.copy()
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
    def merge(root, crowded, head, tail, nxt, other, weight, size, pixels, first, min_pixels):  # type: ignore[no-untyped-def]
        # A tracked patch (small, not yet taken) owns a linked list of border entries; a
        # merged patch's list is appended to its absorber's, and entries are resolved to
        # their current patch (union-find) when the patch is taken, so the borders summed
        # per neighbour are those of the Python pass's dicts. One function (no calls to
        # other jitted functions), so numba's on-disk cache serves it in every process.
        n = root.shape[0]
        size = size.copy()
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
