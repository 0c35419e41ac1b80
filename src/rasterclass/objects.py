"""Object-based image analysis: segment a scene, describe the segments, classify, paint.

The flow (see ``ARCHITECTURE.md``)::

    scene --segment--> segment ids --segment_features--> table (one row per segment)
    training polygons --label_segments--> labelled segments (Samples, grouped by polygon)
    --fit_model--> model --classify_segments--> class per segment
    --paint_segments (chunked apply)--> class map (same writer, same assessment)

Segmentation methods
--------------------
``shepherd`` (default, any scene size)
    Shepherd et al. (2019), "Operational large-scale segmentation of imagery based on
    iterative elimination", as in RSGISLib: k-means seeds are fitted on a seeded sample of
    valid pixels (bands standardised), every pixel takes its nearest seed (a k-d tree, so the
    seed of a pixel does not depend on the block it is computed in), connected components of
    equal seed label become segments, and segments smaller than ``min_size`` pixels are merged
    into their spectrally most similar neighbour until every segment that has a neighbour
    reaches ``min_size``.

    Memory does not grow with the scene: the work is done in fixed square tiles of ``tile``
    pixels (default 1024, on a grid anchored at the scene's top-left corner, independent of
    the dask chunks). Inside a tile, seed components are labelled
    (:func:`skimage.measure.label`) and the clumps that do not touch an inner tile edge are
    eliminated there; components that touch one are *open*: they never pick a neighbour in
    the tile, but closed clumps may merge into them. Only the open segments and the closed
    segments next to them leave the tile (``O(tile perimeter)`` rows per tile, not one per
    seed component): open segments of equal seed facing each other across a tile edge are
    joined (one connected-components pass, the dask-image ``ndmeasure.label`` scheme) and the
    joined segments that are still small are eliminated in a last pass. The raster is painted
    lazily, tile by tile, by running the tile again and looking up the joined ids. On a scene
    no larger than one tile this is the one-pass algorithm over the whole scene; on larger
    scenes the tiles change only the decisions next to tile edges (adjusted Rand index 0.996 between
    ``tile=256`` and one tile on the sample scene).

    The result does **not** depend on the chunking, the scheduler or the number of workers
    (the tiles are fixed; ties are broken by a canonical id, the segment's first pixel), only
    on the parameters, ``tile`` included. Final ids are 1..N: first the segments joined
    across tiles, then each tile's own segments, tiles in row-major order, by first pixel
    (on a one-tile scene: row-major order of first pixels).

    Connectivity is 4 (edge neighbours) by default; ``connectivity=8`` also joins diagonal
    neighbours. Segments whose every neighbour is nodata cannot be merged and may stay
    smaller than ``min_size``.

``slic`` and ``felzenszwalb`` (scenes or tiles that fit in memory)
    scikit-image's algorithms on the standardised bands, run **per chunk** with globally
    unique ids (ids are offset by the number of pixels of the chunks before, so they are
    unique but not consecutive). No segment crosses a chunk edge: chunk edges are always
    segment boundaries (a seam). Open the scene as one chunk (``chunks=`` larger than the
    scene, or ``scene.chunk({"y": -1, "x": -1})``) to segment it in memory without seams.
    The seams are measured by ``benchmarks/bench_segment.py`` and ``tests/test_objects.py``.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.apply import _predict_block, paint_segments, valid_pixels
from rasterclass.classes import ClassMap
from rasterclass.errors import (
    BandMismatchError,
    GridMismatchError,
    SegmentationError,
    TrainingDataError,
    TrainingDataWarning,
    param,
)
from rasterclass.io import PathLike, ProgressCallback
from rasterclass.parallel import compute_stream

logger = logging.getLogger(__name__)

#: Segmentation methods of :func:`segment`.
SEGMENT_METHODS = ("shepherd", "slic", "felzenszwalb")

#: Default parameters of each method (``-p NAME=VALUE`` on the command line).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "shepherd": {
        "n_clusters": 30,
        "min_size": 50,
        "connectivity": 4,
        "sample_size": 30_000,
        "max_iter": 200,
        "seed": 0,
        "tile": 1024,
    },
    "slic": {
        "region_size": 10,
        "compactness": 0.1,
        "sigma": 0.0,
        "max_num_iter": 10,
        "sample_size": 30_000,
        "seed": 0,
    },
    "felzenszwalb": {
        "scale": 5.0,
        "sigma": 0.5,
        "min_size": 20,
        "sample_size": 30_000,
        "seed": 0,
    },
}

#: Feature-table columns that describe where a segment is, not what it is; they are kept in
#: the table but never used to classify.
POSITION_COLUMNS = ("centroid_row", "centroid_col", "area")


# ------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Block:
    """Position of one chunk in the (y, x) grid of chunks and of pixels."""

    i: int
    j: int
    r0: int
    c0: int
    h: int
    w: int


def _layout(chunks_y: Sequence[int], chunks_x: Sequence[int]) -> list[_Block]:
    """Blocks in row-major chunk order."""
    out = []
    r0 = 0
    for i, h in enumerate(chunks_y):
        c0 = 0
        for j, w in enumerate(chunks_x):
            out.append(_Block(i, j, r0, c0, int(h), int(w)))
            c0 += w
        r0 += h
    return out


def _dask_scene(scene: xr.DataArray) -> xr.DataArray:
    """The scene as a dask array with ``band`` in one chunk (one chunk if in memory), in
    scene form (:func:`rasterclass.io.as_scene`: nodata NaN, scale/offset applied, names)."""
    from rasterclass.io import as_scene

    scene = as_scene(scene)
    if not isinstance(scene.data, da.Array):
        return scene.chunk({"band": -1, "y": -1, "x": -1})
    if len(scene.data.chunks[0]) != 1:
        return scene.chunk({"band": -1})
    return scene


def _compute(tasks: Sequence[Any]) -> list[Any]:
    """Compute delayed tasks a few at a time (memory stays that of a few chunks)."""
    return [result for (result,) in compute_stream([(t,) for t in tasks])]


def _pixel_area(arr: xr.DataArray) -> float:
    try:
        t = arr.rio.transform(recalc=True)
    except Exception:  # no spatial coords: pixel units
        return 1.0
    return float(abs(t.a * t.e - t.b * t.d)) or 1.0


def _like(data: Any, scene: xr.DataArray, name: str, attrs: Mapping[str, Any]) -> xr.DataArray:
    """A (y, x) DataArray on the scene's grid (coords, CRS, transform)."""
    coords = {k: v for k, v in scene.coords.items() if "band" not in v.dims and k != "band"}
    out = xr.DataArray(data, dims=("y", "x"), coords=coords, name=name, attrs=dict(attrs))
    if scene.rio.crs is not None:
        out = out.rio.write_crs(scene.rio.crs)
    if "x" in scene.coords and "y" in scene.coords:
        out = out.rio.write_transform(scene.rio.transform(recalc=True))
    return out


# ------------------------------------------------------------------------------------------
# Pixel sample and seed assignment
# ------------------------------------------------------------------------------------------
def _gather(block: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.asarray(block[:, rows, cols], dtype=np.float64).T


def sample_pixels(scene: xr.DataArray, size: int = 50_000, seed: int = 0) -> np.ndarray:
    """A seeded random sample of the scene's valid pixels, independent of the chunking.

    ``size`` pixel positions are drawn over the whole grid (duplicates and nodata dropped),
    read chunk by chunk and returned in row-major position order.

    Returns
    -------
    numpy.ndarray
        ``(n, bands)`` float64, ``n <= size``.
    """
    scene = _dask_scene(scene)
    _, height, width = scene.shape
    n_pix = height * width
    if size >= n_pix:
        pos = np.arange(n_pix, dtype=np.int64)
    else:
        pos = np.unique(np.random.default_rng(seed).integers(0, n_pix, size=size))
    rows, cols = np.divmod(pos, width)
    data = scene.data
    bounds_y = np.cumsum((0, *data.chunks[1]))
    bounds_x = np.cumsum((0, *data.chunks[2]))
    bi = np.searchsorted(bounds_y, rows, side="right") - 1
    bj = np.searchsorted(bounds_x, cols, side="right") - 1
    key = bi * len(data.chunks[2]) + bj
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]
    blocks = data.to_delayed()
    tasks, positions = [], []
    for k, s, e in zip(keys.tolist(), starts.tolist(), ends.tolist(), strict=True):
        i, j = divmod(k, len(data.chunks[2]))
        idx = order[s:e]
        tasks.append(
            dask.delayed(_gather)(blocks[0, i, j], rows[idx] - bounds_y[i], cols[idx] - bounds_x[j])
        )
        positions.append(pos[idx])
    parts = _compute(tasks)
    if not parts:
        return np.empty((0, scene.shape[0]))
    values = np.concatenate(parts, axis=0)
    values = values[np.argsort(np.concatenate(positions), kind="stable")]
    return values[np.isfinite(values).all(axis=1)]


def _standardise(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = sample.mean(axis=0)
    scale = sample.std(axis=0)
    scale[~(scale > 0)] = 1.0
    return mean, scale


class SeedAssigner:
    """Nearest k-means centre of a standardised pixel: the Shepherd seed of every pixel.

    A plain estimator (``predict``), applied to every pixel of a segmentation tile.
    The nearest centre is found with a k-d tree (:class:`scipy.spatial.cKDTree`), which
    computes every pixel's distances on their own: a pixel's seed never depends on the block
    it is computed in (a BLAS matrix product may round differently for other block shapes).

    Parameters
    ----------
    centres
        ``(k, bands)`` centres in standardised units.
    mean, scale
        Per-band standardisation: ``z = (x - mean) / scale``.
    """

    def __init__(self, centres: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> None:
        from scipy.spatial import cKDTree

        self.cluster_centers_ = np.asarray(centres, dtype=np.float64)
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.scale_ = np.asarray(scale, dtype=np.float64)
        self.n_features_in_ = self.cluster_centers_.shape[1]
        self._tree = cKDTree(self.cluster_centers_)

    def __dask_tokenize__(self) -> tuple[str, bytes, bytes, bytes]:
        return ("SeedAssigner", self.cluster_centers_.tobytes(), self.mean_.tobytes(),
                self.scale_.tobytes())  # fmt: skip

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        out = np.empty(len(X), dtype=np.int64)
        for s in range(0, len(X), 2**16):  # float64 temporaries of 65536 rows, not of all
            Z = (X[s : s + 2**16].astype(np.float64) - self.mean_) / self.scale_
            out[s : s + 2**16] = self._tree.query(Z, k=1)[1]
        return out


def fit_seeds(
    sample: np.ndarray, n_clusters: int = 60, seed: int = 0, max_iter: int = 200
) -> SeedAssigner:
    """Fit k-means seeds on a pixel sample (bands standardised by the sample's mean/std)."""
    from sklearn.cluster import KMeans

    mean, scale = _standardise(sample)
    Z = (sample - mean) / scale
    distinct = len(np.unique(Z, axis=0))
    k = min(int(n_clusters), distinct)
    if k < n_clusters:
        logger.info("only %d distinct pixel values in the sample: %d seeds", distinct, k)
    if k < 1:
        raise SegmentationError("the scene has no valid pixel to segment")
    km = KMeans(n_clusters=k, n_init=1, max_iter=max_iter, random_state=seed).fit(Z)
    return SeedAssigner(km.cluster_centers_, mean, scale)


# ------------------------------------------------------------------------------------------
# Labelling and tables (Shepherd)
# ------------------------------------------------------------------------------------------
def _label(seeds: np.ndarray, connectivity: int) -> np.ndarray:
    """Connected components of equal non-zero value, numbered 1..n within the block."""
    from skimage.measure import label

    labels = label(np.asarray(seeds), background=0, connectivity=1 if connectivity == 4 else 2)
    return labels.astype(np.int32 if labels.size < 2**31 else np.int64, copy=False)


def _tile_grid(height: int, width: int, tile: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Row heights and column widths of the fixed segmentation tiles (from the top-left)."""

    def sizes(n: int) -> tuple[int, ...]:
        return tuple(min(tile, n - s) for s in range(0, n, tile))

    return sizes(height), sizes(width)


@dataclass(frozen=True)
class _Tile:
    """One segmentation tile: its pixels, its key offset and which of its faces are inner.

    Keys order pixels tile by tile (row-major tiles), row-major inside a tile:
    ``key = index * tile**2 + row * width + col``. On a scene of one tile the key is the
    row-major pixel index.
    """

    block: _Block
    index: int
    key0: int
    faces: tuple[bool, bool, bool, bool]  # top, bottom, left, right face borders another tile


def _tiles(height: int, width: int, tile: int) -> list[_Tile]:
    ty, tx = _tile_grid(height, width, tile)
    return [
        _Tile(b, k, k * tile * tile, (b.i > 0, b.i < len(ty) - 1, b.j > 0, b.j < len(tx) - 1))
        for k, b in enumerate(_layout(ty, tx))
    ]


def _seeds(block: np.ndarray, assigner: SeedAssigner) -> np.ndarray:
    """Seed label of every pixel of a tile (1..k, 0 where any band is nodata): the block step of
    the chunked apply (:func:`rasterclass.apply._predict_block`)."""
    codes = np.arange(1, len(assigner.cluster_centers_) + 1, dtype=np.uint8)
    return _predict_block(block, assigner, None, codes, "uint8", False)[0]


def _tile_segments(
    block: np.ndarray,
    assigner: SeedAssigner,
    tile: _Tile,
    connectivity: int,
    min_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Tables, np.ndarray]:
    """Seed components of one tile and the elimination of the clumps that stay inside it.

    Components touching an inner face of the tile are *open* (they may go on in the next
    tile): they never pick a neighbour here, but closed clumps may merge into them. Every
    other small clump merges as in :func:`_eliminate`, with the open segments' statistics
    inside this tile.

    Returns
    -------
    seeds, labels, mapping, tables, boundary
        Seed labels (uint8), seed components (1..n, 0 = nodata), ``mapping[component] =
        local segment`` (ordered by first pixel), the local segments' tables (``anchor`` =
        open) and which closed segments touch an open one.
    """
    block = np.asarray(block)
    n_bands = block.shape[0]
    seeds = _seeds(block, assigner)
    labels = _label(seeds, connectivity)
    n = int(labels.max()) if labels.size else 0
    flat = labels.ravel()
    count = np.bincount(flat, minlength=n + 1).astype(np.int64)
    count[0] = 0
    sums = np.empty((n + 1, n_bands))
    values = block.reshape(n_bands, -1)
    for b in range(n_bands):  # nodata (NaN) falls in bin 0, which is reset
        sums[:, b] = np.bincount(flat, weights=values[b], minlength=n + 1)
    sums[0] = 0.0
    uniq, first_idx = np.unique(flat, return_index=True)
    first = np.full(n + 1, -1, dtype=np.int64)
    first[uniq] = tile.key0 + first_idx
    first[0] = -1
    a, b = _neighbours(labels, connectivity)
    open_ = np.zeros(n + 1, dtype=bool)
    edges = (labels[0], labels[-1], labels[:, 0], labels[:, -1])
    for inner, edge in zip(tile.faces, edges, strict=True):
        if inner:
            open_[edge] = True
    open_[0] = False
    tables = _Tables(count, sums, first, _unique_pairs(a, b), open_)
    mapping, tables, _ = _eliminate(tables, min_size, assigner.scale_)
    anchor = tables.anchor
    assert anchor is not None
    boundary = np.zeros(len(anchor), dtype=bool)
    pa, pb = tables.pairs
    boundary[pa[anchor[pb]]] = True
    boundary[pb[anchor[pa]]] = True
    boundary &= ~anchor
    return seeds, labels, mapping, tables, boundary


def _nodes(tables: _Tables, boundary: np.ndarray) -> np.ndarray:
    """Local segments that take part in the join across tiles: open ones and their neighbours."""
    assert tables.anchor is not None
    node = tables.anchor | boundary
    node[0] = False
    return node


def _tile_summary(
    block: np.ndarray, assigner: SeedAssigner, tile: _Tile, connectivity: int, min_size: int
) -> dict[str, Any]:
    """What the join across tiles needs from one tile (``O(open segments)``, not pixels)."""
    seeds, labels, mapping, tables, boundary = _tile_segments(
        block, assigner, tile, connectivity, min_size
    )
    node = _nodes(tables, boundary)
    nodes = np.flatnonzero(node)
    node_of = np.zeros(len(node), dtype=np.int64)
    node_of[nodes] = np.arange(1, len(nodes) + 1)  # 1-based; 0 = not a node / nodata
    pa, pb = node_of[tables.pairs]
    keep = (pa > 0) & (pb > 0)
    edges = (labels[0], labels[-1], labels[:, 0], labels[:, -1])
    seed_edges = (seeds[0], seeds[-1], seeds[:, 0], seeds[:, -1])
    return {
        "components": int(labels.max()) if labels.size else 0,
        "valid": int(tables.count.sum()),
        "n_local": int(len(node) - 1 - len(nodes)),
        "count": tables.count[nodes],
        "sums": tables.sums[nodes],
        "first": tables.first[nodes],
        "pairs": np.stack([pa[keep], pb[keep]]),
        "strips": tuple(node_of[mapping[e]] for e in edges),
        "seed_strips": tuple(s.copy() for s in seed_edges),
    }


def _tile_ids(
    block: np.ndarray,
    assigner: SeedAssigner,
    tile: _Tile,
    connectivity: int,
    min_size: int,
    node_ids: np.ndarray,
    offset: int,
) -> np.ndarray:
    """Final segment ids of one tile: its own segments numbered from ``offset + 1`` (by first
    pixel), the joined ones from ``node_ids`` (in the order of :func:`_tile_summary`)."""
    _, labels, mapping, tables, boundary = _tile_segments(
        block, assigner, tile, connectivity, min_size
    )
    node = _nodes(tables, boundary)
    if int(node.sum()) != len(node_ids):  # the same computation as the summary
        raise SegmentationError(f"tile {tile.index} gave other segments on a second pass")
    local = ~node
    local[0] = False
    lut = np.zeros(len(node), dtype=np.uint32)
    lut[local] = offset + np.arange(1, int(local.sum()) + 1, dtype=np.int64)
    lut[node] = node_ids
    return lut[mapping][labels]


def _neighbours(labels: np.ndarray, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of neighbouring pixels with different non-zero labels (a, b)."""
    views = [(labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])]
    if connectivity == 8:
        views += [(labels[:-1, :-1], labels[1:, 1:]), (labels[:-1, 1:], labels[1:, :-1])]
    a_parts, b_parts = [], []
    for a, b in views:
        m = (a != b) & (a > 0) & (b > 0)
        a_parts.append(a[m])
        b_parts.append(b[m])
    return np.concatenate(a_parts), np.concatenate(b_parts)


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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


def _face_pairs(
    layout: list[_Block],
    strips: list[tuple[np.ndarray, ...]],
    shape: tuple[int, int],
    connectivity: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of facing pixels' values across tile faces, from the tiles' edge strips.

    ``strips[k]`` are the (top, bottom, left, right) edge values of block ``k``. Rows of
    strips along a horizontal face are joined over the whole width (and columns over the whole
    height), so diagonal neighbours across a tile corner are found too with 8-connectivity.
    Nothing is filtered: pairs come in the same order for any strips of the same layout.
    """
    nby, nbx = shape
    grid = {(blk.i, blk.j): s for blk, s in zip(layout, strips, strict=True)}
    a_parts, b_parts = [], []

    def add(p: np.ndarray, q: np.ndarray) -> None:
        a_parts.append(p)
        b_parts.append(q)
        if connectivity == 8:
            a_parts.extend([p[:-1], p[1:]])
            b_parts.extend([q[1:], q[:-1]])

    for i in range(nby - 1):
        above = np.concatenate([grid[i, j][1] for j in range(nbx)])
        below = np.concatenate([grid[i + 1, j][0] for j in range(nbx)])
        add(above, below)
    for j in range(nbx - 1):
        left = np.concatenate([grid[i, j][3] for i in range(nby)])
        right = np.concatenate([grid[i, j + 1][2] for i in range(nby)])
        add(left, right)
    if not a_parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(a_parts).astype(np.int64), np.concatenate(b_parts).astype(np.int64)


def _components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected component of every node of an undirected graph given by edges (a, b)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_nodes, n_nodes)).tocsr()
    _, comp = connected_components(graph, directed=False)
    return comp


def _canonical(comp: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
class _Tables:
    """Per-segment tables: index = segment id (0 = nodata).

    ``anchor`` (optional) marks segments that never pick a neighbour (a tile's open segments);
    a merged segment is an anchor when one of its parts is.
    """

    count: np.ndarray
    sums: np.ndarray
    first: np.ndarray
    pairs: np.ndarray
    anchor: np.ndarray | None = None

    def merge(self, new_id: np.ndarray) -> _Tables:
        """Tables of merged segments; ``new_id`` is canonical (0 stays 0)."""
        m = int(new_id.max()) + 1
        count = np.bincount(new_id, weights=self.count, minlength=m).astype(np.int64)
        sums = np.stack([np.bincount(new_id, weights=s, minlength=m) for s in self.sums.T], axis=1)
        first = np.full(m, np.iinfo(np.int64).max)
        np.minimum.at(first, new_id, self.first)
        anchor = None
        if self.anchor is not None:
            anchor = np.bincount(new_id, weights=self.anchor, minlength=m) > 0
        pairs = _unique_pairs(new_id[self.pairs[0]], new_id[self.pairs[1]])
        return _Tables(count, sums, first, pairs, anchor)


def _join_tiles(
    results: list[dict[str, Any]],
    tiles: list[_Tile],
    shape: tuple[int, int],
    connectivity: int,
    min_size: int,
    scale: np.ndarray,
) -> tuple[list[np.ndarray], int]:
    """Join the tiles' open segments across tile faces and eliminate the small ones.

    Open segments of equal seed that face each other across a tile face are one segment
    (their seed components are); the joined segments and the closed segments next to them
    then go through :func:`_eliminate`. Returns the final id of every tile's nodes (ids
    ``1..n``, ordered by first pixel key) and ``n``.
    """
    n_bands = len(scale)
    sizes = np.array([len(r["count"]) for r in results], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]) + 1  # global node 0 = nodata
    count = np.concatenate([[0], *[r["count"] for r in results]]).astype(np.int64)
    sums = np.concatenate([np.zeros((1, n_bands)), *[r["sums"] for r in results]])
    first = np.concatenate([[-1], *[r["first"] for r in results]]).astype(np.int64)
    internal = [r["pairs"] - 1 + off for r, off in zip(results, offsets, strict=True)]
    strips = [
        tuple(np.where(s > 0, s - 1 + off, 0) for s in r["strips"])
        for r, off in zip(results, offsets, strict=True)
    ]
    layout = [t.block for t in tiles]
    fa, fb = _face_pairs(layout, strips, shape, connectivity)
    sa, sb = _face_pairs(layout, [r["seed_strips"] for r in results], shape, connectivity)
    keep = (fa > 0) & (fb > 0) & (sa > 0) & (sb > 0)
    same, diff = keep & (sa == sb), keep & (sa != sb)
    comp = _components(len(count), fa[same], fb[same])
    node_id, _ = _canonical(comp, first)
    pairs = np.concatenate(
        [np.empty((2, 0), dtype=np.int64), *internal, np.stack([fa[diff], fb[diff]])], axis=1
    )
    tables = _Tables(count, sums, first, pairs).merge(node_id)
    mapping, tables, iterations = _eliminate(tables, min_size, scale)
    final = mapping[node_id]
    logger.info(
        "join across %d tiles: %d open or bordering segments -> %d segments (%d elimination "
        "iterations)",
        len(tiles),
        len(count) - 1,
        len(tables.count) - 1,
        iterations,
    )
    ids = [final[off : off + n] for off, n in zip(offsets, sizes, strict=True)]
    return ids, len(tables.count) - 1


def _thresholds(min_size: int) -> list[int]:
    """Elimination stages: clumps below 2, 4, 8, ... pixels, then below ``min_size``."""
    out, t = [], 2
    while t < min_size:
        out.append(t)
        t *= 2
    if min_size > 1:
        out.append(min_size)
    return out


def _eliminate(
    tables: _Tables, min_size: int, scale: np.ndarray
) -> tuple[np.ndarray, _Tables, int]:
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
            comp = _components(len(tables.count), src[pick], dst[pick])
            new_id, _ = _canonical(comp, tables.first)
            tables = tables.merge(new_id)
            mapping = new_id[mapping]
            iterations += 1
    return mapping, tables, iterations


# ------------------------------------------------------------------------------------------
# segment()
# ------------------------------------------------------------------------------------------
def _check_params(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if method not in SEGMENT_METHODS:
        raise SegmentationError(
            f"unknown segmentation method {method!r}; choose one of {', '.join(SEGMENT_METHODS)}"
        )
    defaults = DEFAULT_PARAMS[method]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise SegmentationError(
            f"unknown parameter(s) {unknown} for {method}; valid ones: {', '.join(defaults)}"
        )
    out = {**defaults, **params}
    for name, value in out.items():
        default = defaults[name]
        if isinstance(default, int) and not isinstance(default, bool):
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise SegmentationError(f"{method} parameter {name} must be an integer: {value!r}")
        elif isinstance(default, float) and (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.number)
            or not np.isfinite(value)
        ):
            raise SegmentationError(
                f"{method} parameter {name} must be a finite number, got {value!r}"
            )
    positive = {
        "n_clusters", "min_size", "sample_size", "max_iter", "region_size", "max_num_iter", "tile"
    }  # fmt: skip
    for name in positive & set(out):
        if out[name] < 1:
            raise SegmentationError(f"{method} parameter {name} must be >= 1, got {out[name]}")
    if not 0 <= out["seed"] < 2**32:
        raise SegmentationError(
            f"{method} parameter seed must be an integer in [0, 2**32 - 1], got {out['seed']}"
        )
    for name, low, closed in (("compactness", 0, False), ("scale", 0, False), ("sigma", 0, True)):
        if name in out and not (out[name] >= low if closed else out[name] > low):
            sign = ">=" if closed else ">"
            raise SegmentationError(
                f"{method} parameter {name} must be {sign} {low}, got {out[name]}"
            )
    if method == "shepherd" and out["connectivity"] not in (4, 8):
        raise SegmentationError(f"connectivity is 4 or 8, got {out['connectivity']}")
    if method == "shepherd" and out["n_clusters"] > 254:
        raise SegmentationError(f"n_clusters must be <= 254, got {out['n_clusters']}")
    return out


def segment(scene: xr.DataArray, method: str = "shepherd", **params: Any) -> xr.DataArray:
    """Segment a scene into spectrally homogeneous, spatially connected objects.

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene from :func:`rasterclass.open_scene` (lazy or in memory);
        NaN marks nodata.
    method
        ``"shepherd"`` (default; chunk-invariant, any scene size), ``"slic"`` or
        ``"felzenszwalb"`` (per chunk; see the module notes on seams).
    **params
        Method parameters (see :data:`DEFAULT_PARAMS`):

        - shepherd: ``n_clusters`` (30) k-means seeds, ``min_size`` (50) pixels,
          ``connectivity`` (4 or 8), ``sample_size`` (30000) pixels for k-means,
          ``max_iter`` (200) k-means iterations, ``seed``, ``tile`` (1024) pixels: the
          side of the fixed tiles that bound the memory (part of the result; not the
          chunks).
        - slic: ``region_size`` (10: segments of about 10 x 10 pixels), ``compactness``
          (0.1, in standardised band units), ``sigma``, ``max_num_iter``, ``sample_size``,
          ``seed``.
        - felzenszwalb: ``scale`` (5.0), ``sigma`` (0.5), ``min_size`` (20), ``sample_size``,
          ``seed``.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` uint32 segment ids, 0 at nodata, on the scene's grid and chunks. The
        tables (shepherd) or the band standardisation (slic/felzenszwalb) are computed at
        call time (one or two passes over the scene); the raster itself is lazy and painted
        block by block when written or computed. Attributes: ``segmentation`` (method),
        ``params`` and, for shepherd, ``n_segments``.

    Raises
    ------
    SegmentationError
        Unknown method or parameter, no valid pixel, or ``min_size`` larger than the scene.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> data = np.zeros((2, 20, 20), dtype="f4"); data[:, :, 10:] = 1
    >>> scene = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": ["a", "b"]})
    >>> segs = segment(scene, n_clusters=2, min_size=5)
    >>> np.unique(segs.values).tolist()
    [1, 2]
    """
    opts = _check_params(method, params)
    scene = _dask_scene(scene)
    _, height, width = scene.shape
    if method == "shepherd" and opts["min_size"] > height * width:
        raise SegmentationError(
            f"min_size {opts['min_size']} is larger than the scene ({height} x {width} = "
            f"{height * width} pixels); use a smaller {param('min_size')}"
        )
    t0 = time.perf_counter()
    sample = sample_pixels(scene, opts["sample_size"], opts["seed"])
    if len(sample) == 0:
        raise SegmentationError(
            "the scene has no valid pixel in the sample (all nodata?); check the scene's nodata"
        )
    if method == "shepherd":
        out = _shepherd(scene, sample, opts)
    else:
        out = _tiled(scene, sample, method, opts)
    logger.info("%s segmentation tables in %.1f s", method, time.perf_counter() - t0)
    return out


def _shepherd(scene: xr.DataArray, sample: np.ndarray, opts: Mapping[str, Any]) -> xr.DataArray:
    connectivity = int(opts["connectivity"])
    min_size = int(opts["min_size"])
    tile = int(opts["tile"])
    assigner = fit_seeds(sample, opts["n_clusters"], opts["seed"], opts["max_iter"])
    k = len(assigner.cluster_centers_)
    _, height, width = scene.shape
    ty, tx = _tile_grid(height, width, tile)
    data = scene.data.rechunk({1: ty, 2: tx})  # the tiles are fixed: never the scene's chunks
    tiles = _tiles(height, width, tile)
    blocks = data.to_delayed()
    tasks = [
        dask.delayed(_tile_summary)(
            blocks[0, t.block.i, t.block.j], assigner, t, connectivity, min_size
        )
        for t in tiles
    ]
    results = _compute(tasks)
    valid_pixels = sum(r["valid"] for r in results)
    if valid_pixels == 0:
        raise SegmentationError("the scene has no valid pixel to segment")
    if min_size > valid_pixels:
        raise SegmentationError(
            f"min_size {min_size} is larger than the scene's {valid_pixels} valid "
            f"pixels; use a smaller {param('min_size')}"
        )
    node_ids, n_joined = _join_tiles(
        results, tiles, (len(ty), len(tx)), connectivity, min_size, assigner.scale_
    )
    n_local = np.array([r["n_local"] for r in results], dtype=np.int64)
    offsets = n_joined + np.concatenate([[0], np.cumsum(n_local)[:-1]])
    n_segments = n_joined + int(n_local.sum())
    if n_segments >= 2**32 - 1:
        raise SegmentationError(f"{n_segments} segments do not fit uint32 ids")
    logger.info(
        "%d seed components in %d tiles of %d px", sum(r["components"] for r in results),
        len(tiles), tile,
    )  # fmt: skip
    del results
    parts: list[list[da.Array]] = [[] for _ in ty]
    for t, ids, offset in zip(tiles, node_ids, offsets, strict=True):
        b = t.block
        parts[b.i].append(
            da.from_delayed(
                dask.delayed(_tile_ids, pure=True)(
                    blocks[0, b.i, b.j],
                    assigner,
                    t,
                    connectivity,
                    min_size,
                    ids.astype(np.uint32),
                    int(offset),
                ),
                shape=(b.h, b.w),
                dtype=np.uint32,
                meta=np.array((), dtype=np.uint32),
            )
        )
    out = _like(
        da.block(parts),
        scene,
        "segments",
        {"segmentation": "shepherd", "params": dict(opts), "n_segments": n_segments},
    )
    logger.info(
        "shepherd segmentation: %d seeds, %d segments of >= %d pixels (connectivity %d; %d "
        "cross or touch tile edges)",
        k,
        n_segments,
        min_size,
        connectivity,
        n_joined,
    )
    return out


def _tiled_block(
    block: np.ndarray,
    method: str,
    params: Mapping[str, Any],
    mean: np.ndarray,
    scale: np.ndarray,
    offset: int,
) -> np.ndarray:
    """slic / felzenszwalb on one block (standardised bands); ids offset to be unique."""
    from skimage.measure import label
    from skimage.segmentation import felzenszwalb, slic

    valid = np.isfinite(block).all(axis=0)
    out = np.zeros(block.shape[1:], dtype=np.uint32)
    if not valid.any():
        return out
    image = (block.astype(np.float64) - mean[:, None, None]) / scale[:, None, None]
    image[:, ~valid] = 0.0
    image = np.moveaxis(image, 0, -1)
    if method == "slic":
        # no mask=: skimage seeds masked SLIC with a k-means over the mask's pixel positions,
        # O(pixels x segments); nodata is filled with the mean and its segments dropped.
        n_segments = max(1, round(valid.size / params["region_size"] ** 2))
        labels = slic(
            image,
            n_segments=n_segments,
            compactness=float(params["compactness"]),
            sigma=float(params["sigma"]),
            max_num_iter=int(params["max_num_iter"]),
            convert2lab=False,
            enforce_connectivity=True,
            start_label=1,
            channel_axis=-1,
        )
    else:
        # (no warnings.catch_warnings here: it is not thread-safe and this runs per chunk)
        labels = felzenszwalb(
            image,
            scale=float(params["scale"]),
            sigma=float(params["sigma"]),
            min_size=int(params["min_size"]),
            channel_axis=-1,
        )
        labels = labels.astype(np.int64) + 1
    labels = np.where(valid, labels, 0)
    labels = label(labels, background=0, connectivity=1)  # split parts cut by nodata
    out[labels > 0] = labels[labels > 0] + offset
    return out


def _tiled(
    scene: xr.DataArray, sample: np.ndarray, method: str, opts: Mapping[str, Any]
) -> xr.DataArray:
    mean, scale = _standardise(sample)
    data = scene.data
    _, height, width = scene.shape
    if height * width >= 2**32:
        raise SegmentationError(f"{method}: scenes of 2**32 pixels or more are not supported")
    layout = _layout(data.chunks[1], data.chunks[2])
    blocks = data.to_delayed()
    if len(layout) > 1:
        logger.info(
            "%s runs per chunk (%d chunks): chunk edges are segment boundaries; open the "
            "scene as one chunk to segment it without seams",
            method,
            len(layout),
        )
    parts = []
    offset = 0
    params = dict(opts)
    for i in range(len(data.chunks[1])):
        row = []
        for j in range(len(data.chunks[2])):
            blk = layout[i * len(data.chunks[2]) + j]
            row.append(
                da.from_delayed(
                    dask.delayed(_tiled_block, pure=True)(
                        blocks[0, i, j], method, params, mean, scale, offset
                    ),
                    shape=(blk.h, blk.w),
                    dtype=np.uint32,
                    meta=np.array((), dtype=np.uint32),
                )
            )
            offset += blk.h * blk.w
        parts.append(row)
    out = _like(da.block(parts), scene, "segments", {"segmentation": method, "params": params})
    return out


def seam_statistics(segments: Any, chunk: int) -> dict[str, float]:
    """How much a segmentation's boundaries follow a chunk grid (a diagnostic of seams).

    Parameters
    ----------
    segments
        ``(y, x)`` segment ids (computed into memory).
    chunk
        Side of the square chunk grid to test (lines every ``chunk`` rows and columns).

    Returns
    -------
    dict
        ``face_boundary_share``: share of neighbouring valid pixel pairs across the chunk
        lines that lie in different segments (1.0 = every chunk line is a segment boundary, a
        full seam); ``boundary_share``: the same share over all neighbouring pairs (what a
        seam-free segmentation shows on chunk lines too); ``cut_segments``: number of
        segments that cross a chunk line.
    """
    s = np.asarray(segments)
    rows = np.arange(chunk, s.shape[0], chunk)
    cols = np.arange(chunk, s.shape[1], chunk)
    a = np.concatenate([s[rows - 1, :].ravel(), s[:, cols - 1].ravel()])
    b = np.concatenate([s[rows, :].ravel(), s[:, cols].ravel()])
    m = (a > 0) & (b > 0)
    same = a[m][a[m] == b[m]]
    aa = np.concatenate([s[:, :-1].ravel(), s[:-1, :].ravel()])
    bb = np.concatenate([s[:, 1:].ravel(), s[1:, :].ravel()])
    mm = (aa > 0) & (bb > 0)
    return {
        "face_boundary_share": float((a[m] != b[m]).mean()) if m.any() else float("nan"),
        "boundary_share": float((aa[mm] != bb[mm]).mean()) if mm.any() else float("nan"),
        "cut_segments": float(len(np.unique(same))),
    }


# ------------------------------------------------------------------------------------------
# Segment features
# ------------------------------------------------------------------------------------------
def _group_reduce(ufunc: np.ufunc, inv: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Reduce ``values`` (rows) per group ``inv`` (0..n-1, every group present)."""
    order = np.argsort(inv, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(inv[order])) + 1]
    out = ufunc.reduceat(values[order], starts, axis=0)
    if len(out) != n:  # pragma: no cover - every group has at least one row
        raise AssertionError("group missing")
    return out


def _feature_block(
    block: np.ndarray, seg: np.ndarray, r0: int, c0: int, ndvi: tuple[int, int] | None
) -> dict[str, Any]:
    """Partial per-segment statistics of one block (band by band: float64 temporaries are one
    band of the block, not all of them)."""
    n_bands, _, w = block.shape
    s = np.where(np.isfinite(block).all(axis=0), np.asarray(seg).astype(np.int64), 0)
    flat = s.ravel()
    where = np.flatnonzero(flat > 0)
    ids, inv = np.unique(flat[where], return_inverse=True)
    n = len(ids)
    count = np.bincount(inv, minlength=n)
    order = np.argsort(inv, kind="stable")  # groups of pixels, for the min / max reductions
    starts = np.r_[0, np.flatnonzero(np.diff(inv[order])) + 1] if n else np.empty(0, np.intp)

    def band(b: int) -> np.ndarray:
        return block[b].reshape(-1)[where].astype(np.float64)

    def reduce(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        return ufunc.reduceat(values[order], starts, axis=0) if n else values[:0]

    mean, m2 = np.empty((n, n_bands)), np.empty((n, n_bands))
    vmin, vmax = np.empty((n, n_bands)), np.empty((n, n_bands))
    for b in range(n_bands):
        v = band(b)
        mean[:, b] = np.bincount(inv, v, n) / np.maximum(count, 1)
        m2[:, b] = np.bincount(inv, (v - mean[inv, b]) ** 2, n)
        vmin[:, b] = reduce(np.minimum, v)
        vmax[:, b] = reduce(np.maximum, v)
    rows, cols = np.divmod(where, w)
    rows = rows + r0
    cols = cols + c0
    rc = np.stack([rows, cols], axis=1)
    out: dict[str, Any] = {
        "ids": ids,
        "count": count,
        "mean": mean,
        "m2": m2,
        "min": vmin,
        "max": vmax,
        "rc_min": reduce(np.minimum, rc),
        "rc_max": reduce(np.maximum, rc),
        "rc_sum": np.stack([np.bincount(inv, rows, n), np.bincount(inv, cols, n)], axis=1),
    }
    if ndvi is not None:
        red, nir = band(ndvi[0]), band(ndvi[1])
        den = nir + red
        v = np.divide(nir - red, den, out=np.zeros_like(den), where=den != 0)
        out["ndvi"] = np.bincount(inv, v, n)
    # perimeter inside the block: edges between different values (segments or nodata)
    perim = np.zeros(n, dtype=np.int64)
    for a, b in ((s[:, :-1], s[:, 1:]), (s[:-1, :], s[1:, :])):
        diff = a != b
        for side in (a, b):
            v = side[diff & (side > 0)]
            perim += np.bincount(np.searchsorted(ids, v), minlength=n)
    out["perimeter"] = perim
    out["strips"] = (s[0].copy(), s[-1].copy(), s[:, 0].copy(), s[:, -1].copy())
    return out


def _ndvi_bands(names: Sequence[str], given: Sequence[str] | None) -> tuple[int, int] | None:
    if given is not None:
        if len(given) != 2:
            raise BandMismatchError("ndvi_bands is (red band name, nir band name)")
        missing = [g for g in given if g not in names]
        if missing:
            raise BandMismatchError(f"NDVI band(s) {missing} not in the scene's bands {names}")
        return names.index(given[0]), names.index(given[1])
    lower = [n.lower() for n in names]
    if "red" in lower and "nir" in lower:
        return lower.index("red"), lower.index("nir")
    return None


def _check_grid(segments: xr.DataArray, scene: xr.DataArray) -> None:
    if segments.dims != ("y", "x"):
        raise SegmentationError(f"a segment raster has dims ('y', 'x'), got {segments.dims}")
    if segments.shape != scene.shape[1:]:
        raise GridMismatchError(
            f"the segment raster is {segments.shape[1]} x {segments.shape[0]} pixels, the "
            f"scene {scene.shape[2]} x {scene.shape[1]}: segments must be on the scene's grid "
            "(segment this scene, or resample the segments onto it with nearest neighbour)"
        )
    if not all(d in segments.coords and d in scene.coords for d in ("x", "y")):
        return  # no coordinates to compare (arrays built in memory): same shape suffices
    st, sc = segments.rio.transform(recalc=True), scene.rio.transform(recalc=True)
    res = max(abs(sc.a), abs(sc.e), 1e-12)
    if not st.almost_equals(sc, precision=1e-6 * res):
        raise GridMismatchError(
            f"the segment raster's transform {tuple(st)[:6]} differs from the scene's "
            f"{tuple(sc)[:6]}: segments must be on the scene's grid"
        )
    if (
        segments.rio.crs is not None
        and scene.rio.crs is not None
        and segments.rio.crs != scene.rio.crs
    ):
        raise GridMismatchError(
            f"the segment raster's CRS {segments.rio.crs} differs from the scene's "
            f"{scene.rio.crs}: segments must be on the scene's grid"
        )


def _aligned(segments: xr.DataArray, scene: xr.DataArray) -> tuple[da.Array, da.Array]:
    """Scene and segment ids as dask arrays on the same chunks.

    Lazy segments keep their chunks and the scene is rechunked to them: a lazy segment chunk
    (a Shepherd tile) may be expensive, and splitting it would compute it once per piece.
    """
    _check_grid(segments, scene)
    if not np.issubdtype(segments.dtype, np.integer):
        raise SegmentationError(
            f"segment ids must be integers, got {segments.dtype}; cast them (0 = nodata)"
        )
    data, seg = scene.data, segments.data
    if not isinstance(seg, da.Array):
        return data, da.from_array(np.asarray(seg), chunks=data.chunks[1:])
    if seg.chunks != data.chunks[1:]:
        data = data.rechunk({1: seg.chunks[0], 2: seg.chunks[1]})
    return data, seg


def segment_features(
    scene: xr.DataArray,
    segments: xr.DataArray,
    *,
    ndvi_bands: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Describe every segment: spectral statistics, size and shape.

    Computed chunk by chunk from partial sums (counts, means and centred sums of squares
    combined with Chan's formula, minima, maxima, edge counts) and combined across chunks; the
    scene is never loaded at once. Pixels where the scene is nodata belong to no segment.

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene (lazy or in memory).
    segments
        ``(y, x)`` integer segment ids on the scene's grid (0 = nodata), e.g. from
        :func:`segment` or :func:`rasterclass.io.open_segments`.
    ndvi_bands
        (red, nir) band names for ``ndvi_mean``. Default: bands named ``red`` and ``nir``
        (any case) when present, else no NDVI.

    Returns
    -------
    pandas.DataFrame
        Indexed by segment id (``segment``), sorted, columns:

        - ``pixels``: pixel count; ``area``: in squared CRS units;
        - ``perimeter``: pixel edges shared with another segment, nodata or the scene edge;
        - ``compactness``: ``4 pi pixels / perimeter**2`` (pixel units; 1 for a disc,
          about 0.785 for a square);
        - ``elongation``: long / short side of the bounding box (>= 1);
        - ``centroid_row``, ``centroid_col``: mean pixel position;
        - ``<band>_mean``, ``<band>_std`` (population), ``<band>_min``, ``<band>_max``;
        - ``ndvi_mean``: mean of the per-pixel NDVI (0 where red + nir is 0).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scene = xr.DataArray(np.arange(8, dtype="f4").reshape(1, 2, 4), dims=("band", "y", "x"),
    ...                      coords={"band": ["b"]})
    >>> segs = xr.DataArray(np.array([[1, 1, 2, 2], [1, 1, 2, 2]], "u4"), dims=("y", "x"))
    >>> segment_features(scene, segs)["b_mean"].tolist()
    [2.5, 4.5]
    """
    scene = _dask_scene(scene)
    data, seg_data = _aligned(segments, scene)
    names = [str(b) for b in scene["band"].values]
    ndvi = _ndvi_bands(names, ndvi_bands)
    layout = _layout(data.chunks[1], data.chunks[2])
    blocks = data.to_delayed()
    seg_blocks = seg_data.to_delayed()
    tasks = [
        dask.delayed(_feature_block)(blocks[0, b.i, b.j], seg_blocks[b.i, b.j], b.r0, b.c0, ndvi)
        for b in layout
    ]
    parts = _compute(tasks)
    table = _combine_features(parts, layout, data.chunks, names, ndvi is not None)
    table["area"] = table["pixels"] * _pixel_area(scene)
    logger.info("features of %d segments (%d columns)", len(table), table.shape[1])
    return table


def _combine_features(
    parts: list[dict[str, Any]],
    layout: list[_Block],
    chunks: tuple[tuple[int, ...], ...],
    names: list[str],
    with_ndvi: bool,
) -> pd.DataFrame:
    """Combine the blocks' partial statistics into one row per segment.

    The partials are taken out of ``parts`` key by key as they are combined (their memory is
    freed as the table grows), and the float columns are written into one block that the
    DataFrame takes without a copy.
    """
    n_bands = len(names)

    def cat(key: str, width: int) -> np.ndarray:
        return np.concatenate([p.pop(key) for p in parts]).reshape(-1, width)

    uid, ginv = np.unique(cat("ids", 1)[:, 0], return_inverse=True)
    n = len(uid)
    columns = ["area", "compactness", "elongation", "centroid_row", "centroid_col"]
    columns += [f"{name}_{stat}" for name in names for stat in ("mean", "std", "min", "max")]
    columns += ["ndvi_mean"] if with_ndvi else []
    values = np.empty((n, len(columns)))
    col = {c: k for k, c in enumerate(columns)}

    def put(name: str, v: np.ndarray) -> None:
        values[:, col[name]] = v

    cnt = cat("count", 1)[:, 0].astype(np.float64)
    total = np.bincount(ginv, cnt, n)
    safe_total = np.maximum(total, 1)
    mean_i = cat("mean", n_bands)
    m2_i = cat("m2", n_bands)
    for b, name in enumerate(names):
        mean = np.bincount(ginv, cnt * mean_i[:, b], n) / safe_total
        m2 = np.bincount(ginv, m2_i[:, b] + cnt * (mean_i[:, b] - mean[ginv]) ** 2, n)
        put(f"{name}_mean", mean)
        put(f"{name}_std", np.sqrt(np.maximum(m2, 0) / safe_total))
    del mean_i, m2_i, cnt
    for key, ufunc in (("min", np.minimum), ("max", np.maximum)):
        v = cat(key, n_bands)
        reduced = _group_reduce(ufunc, ginv, v, n) if n else np.empty((0, n_bands))
        for b, name in enumerate(names):
            put(f"{name}_{key}", reduced[:, b])
        del v, reduced
    if n:
        side = _group_reduce(np.maximum, ginv, cat("rc_max", 2), n)
        side -= _group_reduce(np.minimum, ginv, cat("rc_min", 2), n) - 1
    else:
        side = np.empty((0, 2))
    put("elongation", side.max(axis=1) / np.maximum(side.min(axis=1), 1))
    rc_sum = cat("rc_sum", 2)
    put("centroid_row", np.bincount(ginv, rc_sum[:, 0], n) / safe_total)
    put("centroid_col", np.bincount(ginv, rc_sum[:, 1], n) / safe_total)
    del rc_sum
    perim = np.bincount(ginv, cat("perimeter", 1)[:, 0], n)
    perim += _edge_perimeter(parts, layout, chunks, uid)
    put("area", total)
    put("compactness", 4 * math.pi * total / np.maximum(perim, 1) ** 2)
    if with_ndvi:
        put("ndvi_mean", np.bincount(ginv, cat("ndvi", 1)[:, 0], n) / safe_total)
    index = pd.Index(uid.astype(np.int64), name="segment")
    table = pd.DataFrame(values, index=index, columns=columns, copy=False)
    table.insert(0, "pixels", total.astype(np.int64))
    table.insert(2, "perimeter", perim.astype(np.int64))
    return table


def _edge_perimeter(
    parts: list[dict[str, Any]],
    layout: list[_Block],
    chunks: tuple[tuple[int, ...], ...],
    uid: np.ndarray,
) -> np.ndarray:
    """Perimeter edges on chunk faces and on the scene's border, from the blocks' strips."""
    nby, nbx = len(chunks[1]), len(chunks[2])
    grid = {(b.i, b.j): p["strips"] for b, p in zip(layout, parts, strict=True)}
    n = len(uid)
    out = np.zeros(n, dtype=np.int64)

    def add(values: np.ndarray) -> None:
        v = values[values > 0]
        if v.size:
            out[:] += np.bincount(np.searchsorted(uid, v), minlength=n)

    # scene border: every pixel edge on it is a perimeter edge
    add(np.concatenate([grid[0, j][0] for j in range(nbx)]))
    add(np.concatenate([grid[nby - 1, j][1] for j in range(nbx)]))
    add(np.concatenate([grid[i, 0][2] for i in range(nby)]))
    add(np.concatenate([grid[i, nbx - 1][3] for i in range(nby)]))
    faces = []
    for i in range(nby - 1):
        faces.append(
            (
                np.concatenate([grid[i, j][1] for j in range(nbx)]),
                np.concatenate([grid[i + 1, j][0] for j in range(nbx)]),
            )
        )
    for j in range(nbx - 1):
        faces.append(
            (
                np.concatenate([grid[i, j][3] for i in range(nby)]),
                np.concatenate([grid[i, j + 1][2] for i in range(nby)]),
            )
        )
    for a, b in faces:
        diff = a != b
        add(a[diff])
        add(b[diff])
    return out


def feature_columns(features: pd.DataFrame) -> list[str]:
    """The columns of a feature table used to classify (all but position and area)."""
    return [c for c in features.columns if c not in POSITION_COLUMNS]


# ------------------------------------------------------------------------------------------
# Training and classification of segments
# ------------------------------------------------------------------------------------------
def _segment_ids_at(segments: xr.DataArray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    data = segments.data
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64)
    if isinstance(data, da.Array):
        return np.asarray(data.vindex[rows, cols].compute()).astype(np.int64)
    return np.asarray(data)[rows, cols].astype(np.int64)


def label_segments(
    scene: xr.DataArray,
    segments: xr.DataArray,
    training: Any,
    class_column: str,
    *,
    features: pd.DataFrame | None = None,
    min_overlap: float = 0.5,
    min_polygon_share: float | None = 0.5,
    all_touched: bool = False,
    legend: ClassMap | None = None,
    layer: str | None = None,
) -> Any:
    """Give segments the class of the training polygons that cover them.

    A segment takes the class that covers most of its covered pixels, when it is covered
    sufficiently:

    - that class covers at least ``min_overlap`` of the segment's (valid) pixels, or
    - the segment holds at least ``min_polygon_share`` of the pixels of one training polygon
      of that class. Training polygons are often drawn smaller than the objects (a sample
      inside a field); the segment that holds most of such a polygon is the object it
      samples. ``None`` keeps the first rule only.

    The segment's group is the polygon that contributes most of its class pixels, for
    validation grouped by polygon. Only the chunks under the polygons are read.

    Parameters
    ----------
    scene, segments
        The scene and its segment ids (same grid).
    training, class_column
        Training polygons (path or GeoDataFrame, any CRS) and their class column.
    features
        The segments' feature table (from :func:`segment_features`); computed when omitted.
    min_overlap
        Share (0-1] of a segment's pixels its majority class must cover.
    min_polygon_share
        Share (0-1] of a training polygon's pixels that a segment must hold to take the
        polygon's class even when the polygon covers less than ``min_overlap`` of it.
    all_touched, legend, layer
        As for :func:`rasterclass.extract_samples`.

    Returns
    -------
    rasterclass.Samples
        One sample per labelled segment: ``X`` the segment's features (columns
        :func:`feature_columns`, also ``band_names``), ``y`` class codes, ``groups`` polygon
        ids, ``rows``/``cols`` the segment's centroid pixel; ``info["segments"]`` the ids.

    Raises
    ------
    TrainingDataError
        No segment is covered sufficiently.
    """
    from rasterclass.sampling import Samples, extract_samples

    for name, share in (("min_overlap", min_overlap), ("min_polygon_share", min_polygon_share)):
        if share is not None and not 0 < share <= 1:
            raise TrainingDataError(f"{name} is a share in (0, 1], got {share}")
    scene = _dask_scene(scene)
    _check_grid(segments, scene)
    if features is None:
        features = segment_features(scene, segments)
    pixels = extract_samples(
        scene,
        training,
        class_column,
        all_touched=all_touched,
        legend=legend,
        layer=layer,
    )
    seg = _segment_ids_at(segments, pixels.rows, pixels.cols)
    frame = pd.DataFrame({"segment": seg, "code": pixels.y, "polygon": pixels.groups})
    frame = frame[frame["segment"] > 0]
    frame = frame[frame["segment"].isin(features.index)]
    by_class = frame.groupby(["segment", "code"]).size().rename("n").reset_index()
    by_class = by_class.sort_values(["segment", "n", "code"], ascending=[True, False, True])
    best = by_class.drop_duplicates("segment").set_index("segment")
    best["share"] = best["n"] / features.loc[best.index, "pixels"]
    by_poly = frame.groupby(["segment", "code", "polygon"]).size().rename("n").reset_index()
    polygon_pixels = frame.groupby("polygon").size()
    by_poly["polygon_share"] = by_poly["n"] / polygon_pixels.loc[by_poly["polygon"]].to_numpy()
    by_poly = by_poly.sort_values(["segment", "code", "n", "polygon"], ascending=[1, 1, 0, 1])
    poly = by_poly.drop_duplicates(["segment", "code"]).set_index(["segment", "code"])
    keys = list(zip(best.index.tolist(), best["code"].tolist(), strict=True))
    best["polygon_share"] = (
        by_poly.groupby(["segment", "code"])["polygon_share"].max().loc[keys].to_numpy()
    )
    ok = best["share"] >= min_overlap
    if min_polygon_share is not None:
        ok |= best["polygon_share"] >= min_polygon_share
    labelled = best[ok]
    n_touched = len(best)
    if labelled.empty:
        top = f"{best['share'].max():.2f}" if n_touched else "0"
        rule = f"for at least {min_overlap:.0%} of its pixels"
        if min_polygon_share is not None:
            rule += f" nor holds {min_polygon_share:.0%} of a polygon"
        raise TrainingDataError(
            f"no segment is covered by the training polygons {rule} ({n_touched} segments "
            f"touched, best share {top}); use larger polygons, smaller segments "
            f"({param('min_size', '...')}), or a lower {param('min_overlap')}"
        )
    codes = labelled["code"].to_numpy(np.int64)
    ids = labelled.index.to_numpy(np.int64)
    groups = poly["polygon"].loc[list(zip(ids.tolist(), codes.tolist(), strict=True))]
    groups = groups.to_numpy(np.int64)
    cols = feature_columns(features)
    rows_c = features.loc[ids, "centroid_row"].round().to_numpy(np.int64)
    cols_c = features.loc[ids, "centroid_col"].round().to_numpy(np.int64)
    cmap = pixels.class_map
    missing = sorted(set(np.unique(pixels.y).tolist()) - set(np.unique(codes).tolist()))
    if missing:
        warnings.warn(
            TrainingDataWarning(
                f"class(es) {[cmap.name_of(c) for c in missing]} cover no segment "
                "sufficiently and get no training segment: the map will not show them; use "
                f"smaller segments ({param('min_size', '...')}) or larger polygons, or lower "
                f"{param('min_overlap')}",
            ),
            stacklevel=2,
        )
    logger.info(
        "%d of %d touched segments labelled (overlap >= %.0f%%): %s",
        len(ids),
        n_touched,
        100 * min_overlap,
        {cmap.name_of(c): int((codes == c).sum()) for c in np.unique(codes).tolist()},
    )
    return Samples(
        X=features.loc[ids, cols].to_numpy(np.float64),
        y=codes,
        groups=groups,
        rows=rows_c,
        cols=cols_c,
        band_names=cols,
        class_map=cmap,
        info={
            "object_based": True,
            "min_overlap": min_overlap,
            "min_polygon_share": min_polygon_share,
            "segments": ids,
            "class_column": class_column,
            "all_touched": all_touched,
            **{
                key: pixels.info[key]
                for key in (
                    "contested_pixels",
                    "overlap_pixels_merged",
                    "duplicate_features_removed",
                    "features_without_class",
                )
                if key in pixels.info
            },
        },
        footprint=pixels.footprint,
        radiometry=pixels.radiometry,
    )


def classify_segments(
    model: Any, features: pd.DataFrame, *, probabilities: bool = False
) -> pd.DataFrame:
    """Predict the class of every segment from its features.

    Parameters
    ----------
    model
        A :class:`rasterclass.RasterModel` trained on segment features (its ``band_names``
        are feature columns).
    features
        Feature table from :func:`segment_features`.
    probabilities
        Also return one probability column per class (needs ``predict_proba``) and
        ``confidence``.

    Returns
    -------
    pandas.DataFrame
        Indexed by segment id: ``code`` (map code), ``class`` (name) [, class probabilities,
        ``confidence``].
    """
    from rasterclass.errors import EstimatorError

    missing = [c for c in model.band_names if c not in features.columns]
    if missing:
        raise BandMismatchError(
            f"the feature table lacks the model's features {missing}; compute the features "
            "of the same bands with segment_features()"
        )
    X = features[list(model.band_names)].to_numpy(np.float64)
    est = model.estimator
    labels, codes = model.label_codes()
    out = pd.DataFrame(index=features.index)
    if len(X) == 0:
        out["code"] = np.empty(0, dtype=np.int64)
        out["class"] = np.empty(0, dtype=object)
        return out
    if probabilities:
        if not hasattr(est, "predict_proba"):
            raise EstimatorError(
                f"{type(est).__name__} has no predict_proba, so there are no probability "
                f"layers; leave out {param('probabilities')} or use a probabilistic model "
                "(rf, svm, maxlike)"
            )
        proba = np.asarray(est.predict_proba(X))
    pred = np.asarray(est.predict(X))
    if labels is None:
        idx = pred.astype(np.int64)
    else:
        idx = np.clip(np.searchsorted(labels, pred), 0, len(labels) - 1)
    out["code"] = codes[idx]
    out["class"] = [model.class_map.name_of(c) for c in out["code"]]
    if probabilities:
        from rasterclass.apply import probability_order

        for k in probability_order(codes, model.class_map):
            out[model.class_map.name_of(int(codes[k]))] = proba[:, k].astype(np.float32)
        out["confidence"] = proba.max(axis=1).astype(np.float32)
    return out


def paint_classes(
    segments: xr.DataArray,
    classes: pd.DataFrame,
    class_map: ClassMap,
    *,
    scene: xr.DataArray | None = None,
) -> xr.DataArray:
    """Lazy class map of a segment raster: every pixel takes its segment's ``code``.

    Parameters
    ----------
    segments
        ``(y, x)`` segment ids (0 = nodata).
    classes
        :func:`classify_segments` table, indexed by segment id.
    class_map
        The model's class map (sets the output dtype).
    scene
        The scene the segments describe: its nodata pixels are 0 in the map even where a
        segment covers them (nodata in, 0 out). Segments without a row are 0 as well.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` class codes, 0 at nodata.
    """
    codes = classes["code"].to_numpy().astype(class_map.dtype)
    out = paint_segments(
        segments,
        codes,
        keys=classes.index.to_numpy(np.int64),
        valid=None if scene is None else valid_pixels(_dask_scene(scene)),
    )
    out.name = "classes"
    out.attrs = {"class_map": class_map.to_dict()}
    return out


def paint_probabilities(
    segments: xr.DataArray,
    classes: pd.DataFrame,
    class_map: ClassMap,
    *,
    scene: xr.DataArray | None = None,
) -> xr.DataArray:
    """Lazy (band, y, x) float32 stack: class probabilities and confidence, NaN at nodata.

    Bands are in the class map's order (legend order, else code order), named by class, with
    the class code in the ``class_code`` coordinate (0 for ``confidence``), as
    :func:`rasterclass.apply.stack_probabilities` gives for pixel-based maps. ``scene``: as for
    :func:`paint_classes` (its nodata pixels are NaN in every band).
    """
    present = [n for n in class_map.names if n in classes.columns]
    names = [*present, "confidence"]
    values = classes[names].to_numpy(np.float32)
    painted = paint_segments(
        segments,
        values,
        keys=classes.index.to_numpy(np.int64),
        fill=np.float32(np.nan),
        band_names=names,
        valid=None if scene is None else valid_pixels(_dask_scene(scene)),
    )
    band_codes = [class_map.code_of(n) for n in present] + [0]
    return painted.assign_coords(class_code=("band", band_codes))


# ------------------------------------------------------------------------------------------
# Vector output
# ------------------------------------------------------------------------------------------
def _shapes_block(seg: np.ndarray, r0: int, c0: int) -> tuple[list[Any], list[int]]:
    """Polygons of one block in pixel coordinates of the scene (exact integers)."""
    from affine import Affine
    from rasterio.features import shapes
    from shapely.geometry import shape

    s = np.asarray(seg).astype(np.int32)
    geoms, ids = [], []
    for geom, value in shapes(s, mask=s > 0, connectivity=4, transform=Affine.translation(c0, r0)):
        geoms.append(shape(geom))
        ids.append(int(value))
    return geoms, ids


def segments_to_vector(
    segments: xr.DataArray,
    table: pd.DataFrame | None = None,
) -> Any:
    """Polygons of the segments, with the columns of ``table`` (features, class...).

    Polygonised per chunk (:func:`rasterio.features.shapes`, 4-connectivity) in pixel
    coordinates; the pieces of a segment cut by chunk edges share exact integer edges and are
    dissolved by id afterwards, so every segment is one feature (a MultiPolygon when its
    pixels touch only diagonally). All polygons are held in memory.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per segment, ``segment`` column, in the segments' CRS.
    """
    import geopandas as gpd
    import shapely

    data = segments.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=-1)
    layout = _layout(data.chunks[0], data.chunks[1])
    blocks = data.to_delayed()
    parts = _compute([dask.delayed(_shapes_block)(blocks[b.i, b.j], b.r0, b.c0) for b in layout])
    geoms = [g for gs, _ in parts for g in gs]
    ids = np.array([i for _, is_ in parts for i in is_], dtype=np.int64)
    if ids.size and ids.max() >= 2**31:
        raise SegmentationError("segment ids must be < 2**31 to polygonise")
    frame = gpd.GeoDataFrame({"segment": ids}, geometry=geoms)
    counts = frame["segment"].value_counts()
    cut = counts.index[counts > 1]
    single = frame[~frame["segment"].isin(cut)]
    merged = [
        (sid, shapely.union_all(list(group.geometry)))
        for sid, group in frame[frame["segment"].isin(cut)].groupby("segment")
    ]
    logger.info("polygonised %d segments (%d cut by chunk edges, dissolved)", len(counts), len(cut))
    frame = pd.concat(
        [
            single,
            gpd.GeoDataFrame({"segment": [m[0] for m in merged]}, geometry=[m[1] for m in merged]),
        ],
        ignore_index=True,
    ).sort_values("segment")
    t = segments.rio.transform(recalc=True)
    frame = gpd.GeoDataFrame(
        frame[["segment"]].reset_index(drop=True),
        geometry=gpd.GeoSeries(frame.geometry.to_numpy()).affine_transform(
            [t.a, t.b, t.d, t.e, t.c, t.f]
        ),
        crs=segments.rio.crs,
    )
    if table is not None:
        frame = frame.join(table, on="segment")
    return frame


# ------------------------------------------------------------------------------------------
# Jobs (what the CLI calls)
# ------------------------------------------------------------------------------------------
@dataclass
class SegmentationResult:
    """What a segmentation job did: the lazy segments, their count, files and timings."""

    segments: xr.DataArray
    n_segments: int | None
    features: pd.DataFrame | None = None
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def resolve_segments(
    scene: xr.DataArray,
    segments: xr.DataArray | PathLike | None,
    method: str = "shepherd",
    params: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Segments for a scene: segment it, open a segment raster, or check a given array.

    Given segments (a file or an array drawn elsewhere) may cover the scene's nodata; they
    are masked lazily by the scene's validity (id 0 where any band is nodata), so that no
    later step (features, labels, painting, vector or raster copies) sees nodata pixels.
    """
    from rasterclass.io import open_segments

    scene = _dask_scene(scene)
    if segments is None:
        return segment(scene, method, **dict(params or {}))
    if not isinstance(segments, xr.DataArray):
        segments = open_segments(segments, chunks=scene.data.chunks[1:])
    _check_grid(segments, scene)
    if not np.issubdtype(segments.dtype, np.integer):
        raise SegmentationError(
            f"segment ids must be integers, got {segments.dtype}; cast them (0 = nodata)"
        )
    return mask_segments(segments, scene)


def mask_segments(segments: xr.DataArray, scene: xr.DataArray) -> xr.DataArray:
    """Segment ids with 0 wherever the scene is nodata (lazy when either is).

    Parameters
    ----------
    segments
        ``(y, x)`` integer segment ids on the scene's grid.
    scene
        ``(band, y, x)`` scene; a pixel is nodata where any band is NaN.

    Returns
    -------
    xarray.DataArray
        The ids (same dtype, coords, attributes), 0 at the scene's nodata.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scene = xr.DataArray(np.array([[[1.0, np.nan, 2.0]]]), dims=("band", "y", "x"))
    >>> segs = xr.DataArray(np.array([[4, 4, 5]], dtype="u4"), dims=("y", "x"))
    >>> mask_segments(segs, scene).values.tolist()
    [[4, 0, 5]]
    """
    scene = _dask_scene(scene)
    _check_grid(segments, scene)
    valid = valid_pixels(scene).data
    data = segments.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=valid.chunks)
    elif valid.chunks != data.chunks:
        valid = valid.rechunk(data.chunks)
    out = da.where(valid, data, np.zeros((), dtype=segments.dtype)).astype(segments.dtype)
    return segments.copy(data=out)


def run_segmentation(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    output: PathLike,
    *,
    method: str = "shepherd",
    params: Mapping[str, Any] | None = None,
    features: PathLike | None = None,
    vector: PathLike | None = None,
    overwrite: bool = False,
    scene_options: Any = None,
    progress: ProgressCallback | None = None,
    cog: bool = False,
) -> SegmentationResult:
    """Segment a scene and write the segment raster (uint32, 0 = nodata).

    Optionally also the feature table (``.parquet`` or ``.csv``) and the segment polygons
    with their features (GeoPackage). ``cog`` writes the raster as a Cloud Optimized GeoTIFF.
    """
    from rasterclass.io import check_writable, write_segments, write_table, write_vector
    from rasterclass.pipeline import SceneOptions, job_inputs

    check_writable(
        {"output": output, "features": features, "vector": vector},
        overwrite,
        inputs=job_inputs(scene, scene_options),
        rasters=("output",),
    )
    if vector is not None and not str(vector).lower().endswith(".gpkg"):
        raise SegmentationError(f"vector output {vector} must be a GeoPackage (.gpkg)")
    if not isinstance(scene, xr.DataArray):
        scene = (scene_options or SceneOptions()).open(scene)
    t0 = time.perf_counter()
    segs = segment(scene, method, **dict(params or {}))
    t1 = time.perf_counter()
    outputs = [write_segments(segs, output, overwrite=overwrite, progress=progress, cog=cog)]
    t2 = time.perf_counter()
    timings = {"segmentation": t1 - t0, "writing": t2 - t1}
    table = None
    if features is not None or vector is not None:
        table = segment_features(scene, segs)
        timings["features"] = time.perf_counter() - t2
        if features is not None:
            outputs.append(write_table(table, features, overwrite=overwrite))
        if vector is not None:
            outputs.append(
                write_vector(segments_to_vector(segs, table), vector, overwrite=overwrite)
            )
    n = segs.attrs.get("n_segments", len(table) if table is not None else None)
    return SegmentationResult(segs, n, table, outputs, timings)


def classify_objects(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    training: Any,
    class_column: str,
    output: PathLike,
    options: Any = None,
    *,
    segments: xr.DataArray | PathLike | None = None,
    segment_method: str = "shepherd",
    segment_params: Mapping[str, Any] | None = None,
    probabilities: PathLike | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    estimator: Any = None,
    scene_options: Any = None,
    min_overlap: float = 0.5,
    min_polygon_share: float | None = 0.5,
    model_output: PathLike | None = None,
    report_output: PathLike | None = None,
    segments_output: PathLike | None = None,
    features_output: PathLike | None = None,
    vector_output: PathLike | None = None,
    cog: bool = False,
) -> Any:
    """Object-based classification: segment, describe, train on segments, classify, paint.

    Parameters
    ----------
    scene
        Scene path(s) or an opened scene.
    training, class_column
        Training polygons and their class column (as for :func:`rasterclass.classify`).
    output
        Map GeoTIFF (colour table, class names, nodata 0), written by the normal writer.
    options
        :class:`rasterclass.TrainingOptions` (method, params, seed, all_touched,
        max_per_class = max training *segments* per class, legend, layer). The seed also
        seeds the segmentation unless ``segment_params`` sets one.
    segments
        A segment raster (path or DataArray on the scene's grid) to use instead of segmenting.
    segment_method, segment_params
        Segmentation when ``segments`` is None (see :func:`segment`).
    probabilities
        Also write per-class probabilities and confidence of each segment (GeoTIFF).
    cog
        Write the rasters as Cloud Optimized GeoTIFFs.
    estimator
        Any scikit-learn classifier; overrides ``options.method``.
    min_overlap, min_polygon_share
        When a segment counts as covered by a training class (see :func:`label_segments`).
    model_output
        Also save the model. It is trained on segment *features* (its band names are feature
        columns), so ``predict`` cannot apply it to pixels; it documents the run.
    report_output
        Write the cross-validation report (``options.cv_folds`` > 1; folds grouped by
        training polygon, one sample per labelled segment) in the format the extension
        names.
    segments_output, features_output, vector_output
        Also write the segment raster, the feature table with the predicted class
        (``.parquet``/``.csv``) and the segment polygons with features and class (``.gpkg``).

    Returns
    -------
    rasterclass.pipeline.RunResult
        The model (trained on segment features), the training samples (one per segment),
        files written and timings.
    """
    from rasterclass.io import (
        RasterOutput,
        check_writable,
        probability_output,
        read_legend,
        write_rasters,
        write_table,
        write_vector,
    )
    from rasterclass.pipeline import (
        RunResult,
        SceneOptions,
        TrainingOptions,
        check_report,
        check_training,
        fit_and_validate,
        job_inputs,
    )
    from rasterclass.training_pixels import provenance_tags

    opts = options or TrainingOptions()
    check_training(opts, estimator)
    for name, share in (("min_overlap", min_overlap), ("min_polygon_share", min_polygon_share)):
        if share is not None and not 0 < share <= 1:
            raise TrainingDataError(f"{param(name)} is a share in (0, 1], got {share}")
    seg_params = {"seed": opts.seed, **dict(segment_params or {})}
    if segments is None:
        _check_params(segment_method, seg_params)
    check_writable(
        {
            "output": output,
            "probabilities": probabilities,
            "model_output": model_output,
            "report_output": report_output,
            "segments_output": segments_output,
            "features_output": features_output,
            "vector_output": vector_output,
        },
        overwrite,
        inputs=job_inputs(
            scene, scene_options, training=training, legend=opts.legend, segments=segments
        ),
        rasters=("output", "probabilities", "segments_output"),
    )
    check_report(opts, report_output)
    if vector_output is not None and not str(vector_output).lower().endswith(".gpkg"):
        raise SegmentationError(f"vector output {vector_output} must be a GeoPackage (.gpkg)")
    if not isinstance(scene, xr.DataArray):
        scene = (scene_options or SceneOptions()).open(scene)
    scene = _dask_scene(scene)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    segs = resolve_segments(scene, segments, segment_method, seg_params)
    t1 = time.perf_counter()
    timings["segmentation"] = t1 - t0
    features = segment_features(scene, segs)
    t2 = time.perf_counter()
    timings["features"] = t2 - t1
    legend = read_legend(opts.legend) if opts.legend else None
    samples = label_segments(
        scene,
        segs,
        training,
        class_column,
        features=features,
        min_overlap=min_overlap,
        min_polygon_share=min_polygon_share,
        all_touched=opts.all_touched,
        legend=legend,
        layer=opts.layer,
    )
    if opts.max_per_class is not None:
        samples = samples.cap_per_class(opts.max_per_class, opts.seed)
    trained = fit_and_validate(
        samples,
        opts,
        estimator=estimator,
        crs=scene.rio.crs.to_wkt() if scene.rio.crs else None,
        training=training,
        summary={
            "object_based": True,
            "segmentation": str(segs.attrs.get("segmentation", "given")),
            "segmentation_params": {k: repr(v) for k, v in segs.attrs.get("params", {}).items()},
            "n_segments": len(features),
        },
        notes=[
            "object-based: one sample per training segment (not per pixel); a segment is "
            f"labelled where a class covers >= {min_overlap:.0%} of its pixels or it holds "
            f">= {min_polygon_share or 1:.0%} of a training polygon."
        ],
        model_output=model_output,
        report_output=report_output,
        overwrite=overwrite,
    )
    model, accuracy = trained.model, trained.accuracy
    method = str(model.summary["method"])
    written: list[str] = list(trained.outputs)
    t3 = time.perf_counter()
    timings["training"] = t3 - t2
    classes = classify_segments(model, features, probabilities=probabilities is not None)
    tags, sidecars = provenance_tags(model.summary, model.training_pixels)
    outs = [
        RasterOutput(
            paint_classes(segs, classes, model.class_map, scene=scene),
            output,
            nodata=0,
            class_map=model.class_map,
            tags={"RASTERCLASS_METHOD": method, "RASTERCLASS_OBJECT_BASED": "true", **tags},
            sidecars=sidecars,
        )
    ]
    if probabilities is not None:
        proba = paint_probabilities(segs, classes, model.class_map, scene=scene)
        outs.append(probability_output(proba, probabilities))
    if segments_output is not None:
        outs.append(
            RasterOutput(
                segs.astype(np.uint32), segments_output, nodata=0, descriptions=["segment"]
            )
        )
    written.extend(write_rasters(outs, overwrite=overwrite, progress=progress, cog=cog))
    table = features.join(classes)
    if features_output is not None:
        written.append(write_table(table, features_output, overwrite=overwrite))
    if vector_output is not None:
        written.append(
            write_vector(segments_to_vector(segs, table), vector_output, overwrite=overwrite)
        )
    timings["prediction"] = time.perf_counter() - t3
    logger.info(
        "object-based map: %d segments classified in %s",
        len(features),
        {k: round(v, 1) for k, v in timings.items()},
    )
    return RunResult(model, samples, outputs=written, timings=timings, accuracy=accuracy)
