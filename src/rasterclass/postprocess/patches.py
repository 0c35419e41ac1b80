"""Patches of a class map: global connected components of equal class, for any chunking.

Owns :func:`patch_graph` and :class:`PatchGraph`. A *patch* is a connected set of pixels of
one class (4- or 8-connectivity); nodata (0) is never a patch. The labelling follows
dask-image's ``ndmeasure.label``: every chunk is labelled on its own
(:func:`skimage.measure.label`, which labels connected regions of *equal value* in one call,
where :func:`scipy.ndimage.label` would need one call per class), the labels are offset per
chunk, and labels of the same class that touch across a chunk face are merged with one
global connected-components pass (:func:`scipy.sparse.csgraph.connected_components`). Each
chunk also reports its patches' pixel counts, first pixel and the border lengths between
touching patches, so the graph of patches (one row per patch, one per touching pair) is
global, small, and the same for every chunking. Patch ids are ``1..N`` in row-major order of
their first pixel. Painting a value per patch back onto the raster
(:meth:`PatchGraph.paint`) is lazy: each chunk is labelled again and looked up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.errors import PostprocessError, param
from rasterclass.objects._blocks import block_layout, compute_batched
from rasterclass.objects.eliminate import canonical, graph_components

logger = logging.getLogger(__name__)


def check_connectivity(connectivity: int) -> int:
    """``connectivity`` as 4 or 8, else :class:`PostprocessError`."""
    if connectivity not in (4, 8):
        raise PostprocessError(
            f"{param('connectivity')} is 4 (edge neighbours) or 8 (also diagonal), "
            f"got {connectivity!r}"
        )
    return int(connectivity)


def _label(block: np.ndarray, connectivity: int) -> np.ndarray:
    """Connected regions of equal non-zero value, ``1..n`` (0 = nodata)."""
    from skimage.measure import label

    a = np.asarray(block)
    return label(a, background=0, connectivity=1 if connectivity == 4 else 2).astype(
        np.int64, copy=False
    )


def _pair_views(lab: np.ndarray, connectivity: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Pairs of neighbouring pixels as (a, b, border weight): 1 for pixels sharing an edge,
    0 for diagonal neighbours (8-connectivity only)."""
    views = [(lab[:, :-1], lab[:, 1:], 1), (lab[:-1, :], lab[1:, :], 1)]
    if connectivity == 8:
        views += [(lab[:-1, :-1], lab[1:, 1:], 0), (lab[:-1, 1:], lab[1:, :-1], 0)]
    return views


def _sum_edges(a: np.ndarray, b: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """Undirected edges (a, b, w) summed per pair: (3, m) int64, a < b, nodata dropped."""
    keep = (a != b) & (a > 0) & (b > 0)
    a, b, w = a[keep], b[keep], w[keep]
    if a.size == 0:
        return np.empty((3, 0), dtype=np.int64)
    code = np.minimum(a, b).astype(np.int64) * (n + 1) + np.maximum(a, b)
    order = np.argsort(code)
    code = code[order]
    start = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    weight = np.add.reduceat(w[order].astype(np.int64), start)
    code = code[start]
    return np.stack([code // (n + 1), code % (n + 1), weight])


def _first_pixels(flat: np.ndarray, n: int) -> np.ndarray:
    """Ravel index of the first pixel of labels ``1..n`` of a labelled chunk.

    skimage numbers labels in raster order of their first pixel, so label ``k`` first
    appears where the running maximum of the labels first reaches ``k`` (no sort); checked,
    with :func:`numpy.unique` as the fallback should a labeller number otherwise.
    """
    if n == 0:
        return np.empty(0, dtype=np.int64)
    rises = np.flatnonzero(flat[1:] > np.maximum.accumulate(flat[:-1])) + 1
    at = np.concatenate([[0], rises]) if flat[0] > 0 else rises
    if len(at) == n and np.array_equal(flat[at], np.arange(1, n + 1)):
        return at
    ids, first_at = np.unique(flat, return_index=True)
    return first_at[ids > 0]


def _border_codes(flat: np.ndarray, width: int, connectivity: int, n: int) -> np.ndarray:
    """Touching pairs of labels ``a < b`` (nodata dropped) in a labelled chunk (raveled,
    ``width`` columns), one entry per pair of neighbouring pixels, packed as
    ``(a * (n + 1) + b) * 2 + weight`` (weight 1: the pixels share an edge, 0: diagonal)."""
    out = []
    # (offset of the second pixel, column of the first that has no such neighbour, weight)
    steps = [(1, width - 1, 1), (width, None, 1)]
    if connectivity == 8:
        steps += [(width + 1, width - 1, 0), (width - 1, 0, 0)]
    for off, bad_col, weight in steps:
        if off <= 0 or off >= flat.size:
            continue
        differ = flat[off:] != flat[:-off]
        if bad_col is not None:
            differ[bad_col::width] = False
        at = np.flatnonzero(differ)
        p, q = flat[at], flat[at + off]
        keep = (p > 0) & (q > 0)
        p, q = p[keep], q[keep]
        out.append((np.minimum(p, q) * (n + 1) + np.maximum(p, q)) * 2 + weight)
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


def _sum_unit_edges(codes: np.ndarray, n: int) -> np.ndarray:
    """Packed pairs of :func:`_border_codes` summed per pair: (3, m) int64 like
    :func:`_sum_edges` (a sort and a run-length count, no argsort)."""
    if codes.size == 0:
        return np.empty((3, 0), dtype=np.int64)
    codes = np.sort(codes)
    pair = codes >> 1
    start = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    ones = np.r_[0, np.cumsum(codes & 1)]
    weight = ones[np.r_[start[1:], codes.size]] - ones[start]
    pair = pair[start]
    return np.stack([pair // (n + 1), pair % (n + 1), weight])


def _block_patches(
    block: np.ndarray, r0: int, c0: int, width: int, connectivity: int
) -> dict[str, Any]:
    """One chunk's patches: class, pixels, first pixel key, edges between them, edge strips."""
    a = np.asarray(block)
    lab = _label(a, connectivity)
    n = int(lab.max()) if lab.size else 0
    flat = lab.ravel()
    first_at = _first_pixels(flat, n)
    rows, cols = np.divmod(first_at, a.shape[1])
    return {
        "n": n,
        "count": np.bincount(flat, minlength=n + 1)[1:].astype(np.int64),
        "cls": a.ravel()[first_at].astype(np.int64),
        "first": (r0 + rows) * width + c0 + cols,  # ravel order is row-major: the first pixel
        "edges": _sum_unit_edges(_border_codes(flat, a.shape[1], connectivity, n), n),
        # copies: views would keep the whole chunk's labels alive until the graph is built
        "strips": tuple(s.copy() for s in (lab[0], lab[-1], lab[:, 0], lab[:, -1])),
    }


def _face_pairs(
    grid: dict[tuple[int, int], tuple[np.ndarray, ...]], nby: int, nbx: int, connectivity: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbouring pixels across chunk faces (global node ids) and their border weight.

    Strips along a face are joined over the whole scene, so diagonal neighbours across a
    chunk corner are found too (8-connectivity; found twice, with weight 0, which is harmless).
    """
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(p: np.ndarray, q: np.ndarray) -> None:
        views = _pair_views(np.stack([p, q]), connectivity)
        for a, b, w in views[1:2] + views[2:]:  # the vertical pair, then the diagonals
            out.append((a.ravel(), b.ravel(), np.full(a.size, w, dtype=np.int64)))

    for i in range(nby - 1):
        add(
            np.concatenate([grid[i, j][1] for j in range(nbx)]),
            np.concatenate([grid[i + 1, j][0] for j in range(nbx)]),
        )
    for j in range(nbx - 1):
        add(
            np.concatenate([grid[i, j][3] for i in range(nby)]),
            np.concatenate([grid[i, j + 1][2] for i in range(nby)]),
        )
    if not out:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    return tuple(np.concatenate([o[k] for o in out]) for k in range(3))  # type: ignore[return-value]


def _paint_block(block: np.ndarray, connectivity: int, lut: np.ndarray) -> np.ndarray:
    return lut[_label(block, connectivity)]


@dataclass(frozen=True)
class PatchGraph:
    """The patches of a class map and which touch which (index = patch id, 0 = nodata).

    ``classes``, ``pixels``, ``first`` (row-major key of the first pixel, -1 for 0): arrays
    of length ``n_patches + 1``. ``edges``: (3, m) int64, patches ``a < b`` that touch and
    their border length in shared pixel edges (diagonal neighbours, 8-connectivity only,
    touch with a border of 0). ``block_ids``: per chunk (row-major), local label -> patch id.
    """

    classes: np.ndarray
    pixels: np.ndarray
    first: np.ndarray
    edges: np.ndarray
    block_ids: list[np.ndarray]
    connectivity: int

    @property
    def n_patches(self) -> int:
        return len(self.classes) - 1

    def paint(self, class_map: xr.DataArray, values: np.ndarray) -> xr.DataArray:
        """A value per patch (``values[patch id]``, ``values[0]`` at nodata) on the map's
        grid: lazy (one task per chunk) when the map is, in memory otherwise."""
        values = np.asarray(values)
        data = class_map.data
        if not isinstance(data, da.Array):
            out = _paint_block(np.asarray(data), self.connectivity, values[self.block_ids[0]])
            return class_map.copy(data=out)
        blocks = data.to_delayed()
        layout = block_layout(data.chunks[0], data.chunks[1])
        rows: list[list[da.Array]] = [[] for _ in data.chunks[0]]
        for b, ids in zip(layout, self.block_ids, strict=True):
            task = dask.delayed(_paint_block)(blocks[b.i, b.j], self.connectivity, values[ids])
            rows[b.i].append(da.from_delayed(task, shape=(b.h, b.w), dtype=values.dtype))
        return class_map.copy(data=da.block(rows))


def patch_graph(class_map: xr.DataArray, connectivity: int = 4) -> PatchGraph:
    """Label the patches of a ``(y, x)`` class map globally and build their graph.

    Parameters
    ----------
    class_map
        ``(y, x)`` integer class codes, 0 = nodata; numpy or dask (any chunking).
    connectivity
        4 (edge neighbours) or 8 (also diagonal neighbours).

    Returns
    -------
    PatchGraph
        The same for every chunking of the map. Computes the map once, chunk by chunk (a few
        chunks in memory at a time).

    Raises
    ------
    PostprocessError
        ``connectivity`` is not 4 or 8, or the map is not 2-D integers.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> m = xr.DataArray(np.array([[1, 1, 2], [0, 2, 2]], dtype="u1"), dims=("y", "x"))
    >>> g = patch_graph(m.chunk({"x": 1}))
    >>> g.n_patches, g.classes.tolist(), g.pixels.tolist(), g.edges.tolist()
    (2, [0, 1, 2], [0, 2, 3], [[1], [2], [2]])
    """
    connectivity = check_connectivity(connectivity)
    if class_map.ndim != 2 or not np.issubdtype(class_map.dtype, np.integer):
        raise PostprocessError(
            f"a class map is a (y, x) array of integer codes, got dims {class_map.dims} of "
            f"{class_map.dtype}; read it with rasterclass.io.open_scene(...).isel(band=0) and "
            ".fillna(0).astype('uint16')"
        )
    data = class_map.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=-1)
    width = data.shape[1]
    layout = block_layout(data.chunks[0], data.chunks[1])
    blocks = data.to_delayed()
    results = compute_batched(
        [
            dask.delayed(_block_patches)(blocks[b.i, b.j], b.r0, b.c0, width, connectivity)
            for b in layout
        ]
    )
    sizes = np.array([r["n"] for r in results], dtype=np.int64)
    offsets = np.concatenate([[1], 1 + np.cumsum(sizes)[:-1]])  # node 0 = nodata
    n_nodes = int(sizes.sum()) + 1
    cls = np.concatenate([[0], *[r["cls"] for r in results]]).astype(np.int64)
    count = np.concatenate([[0], *[r["count"] for r in results]]).astype(np.int64)
    first = np.concatenate([[-1], *[r["first"] for r in results]]).astype(np.int64)
    grid = {
        (b.i, b.j): tuple(np.where(s > 0, s - 1 + off, 0) for s in r["strips"])
        for b, r, off in zip(layout, results, offsets, strict=True)
    }
    fa, fb, fw = _face_pairs(grid, len(data.chunks[0]), len(data.chunks[1]), connectivity)
    touching = (fa > 0) & (fb > 0)
    same = touching & (cls[fa] == cls[fb])
    node_patch, patch_first = canonical(graph_components(n_nodes, fa[same], fb[same]), first)
    n_patches = int(node_patch.max())
    pixels = np.bincount(node_patch, weights=count, minlength=n_patches + 1).astype(np.int64)
    classes = np.zeros(n_patches + 1, dtype=np.int64)
    classes[node_patch] = cls
    inner = [
        r["edges"] + np.array([[off - 1], [off - 1], [0]])
        for r, off in zip(results, offsets, strict=True)
    ]
    diff = touching & ~same
    edges = np.concatenate(
        [np.empty((3, 0), np.int64), *inner, np.stack([fa[diff], fb[diff], fw[diff]])], axis=1
    )
    edges = _sum_edges(node_patch[edges[0]], node_patch[edges[1]], edges[2], n_patches)
    block_ids = [
        np.concatenate([[0], node_patch[off : off + n]])
        for off, n in zip(offsets, sizes, strict=True)
    ]
    logger.info(
        "%d patches in %d chunks (%d labels before joining across chunk faces), %d touching pairs",
        n_patches,
        len(layout),
        n_nodes - 1,
        edges.shape[1],
    )
    return PatchGraph(classes, pixels, patch_first, edges, block_ids, connectivity)
