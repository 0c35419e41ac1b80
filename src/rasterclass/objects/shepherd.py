"""Shepherd segmentation in fixed tiles: seed components, per-tile elimination, join.

Owns the tiled Shepherd algorithm (see the package notes): the fixed tile grid anchored at the
scene's top-left corner (``_Tile``), the seed components of one tile and the elimination of
the clumps that stay inside it (``_tile_segments``), the summary of the open segments a tile
hands to the join (``_tile_summary``), the join of open segments across tile faces followed
by a last elimination (``_join_tiles``), the lazy painting of the final ids tile by tile
(``_tile_ids``) and ``shepherd_segments``, which runs all of it for :func:`segment`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.apply import predict_block
from rasterclass.errors import SegmentationError, param
from rasterclass.objects._blocks import Block, block_layout, compute_batched, grid_like
from rasterclass.objects.eliminate import (
    SegmentTables,
    canonical,
    eliminate_small,
    graph_components,
    unique_pairs,
)
from rasterclass.objects.seeds import SeedAssigner, fit_seeds

logger = logging.getLogger(__name__)


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

    block: Block
    index: int
    key0: int
    faces: tuple[bool, bool, bool, bool]  # top, bottom, left, right face borders another tile


def _tiles(height: int, width: int, tile: int) -> list[_Tile]:
    ty, tx = _tile_grid(height, width, tile)
    return [
        _Tile(b, k, k * tile * tile, (b.i > 0, b.i < len(ty) - 1, b.j > 0, b.j < len(tx) - 1))
        for k, b in enumerate(block_layout(ty, tx))
    ]


def _seeds(block: np.ndarray, assigner: SeedAssigner) -> np.ndarray:
    """Seed label of every pixel of a tile (1..k, 0 where any band is nodata): the block step of
    the chunked apply (:func:`rasterclass.apply.predict_block`)."""
    codes = np.arange(1, len(assigner.cluster_centers_) + 1, dtype=np.uint8)
    return predict_block(block, assigner, None, codes, "uint8", False)[0]


def _tile_segments(
    block: np.ndarray,
    assigner: SeedAssigner,
    tile: _Tile,
    connectivity: int,
    min_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, SegmentTables, np.ndarray]:
    """Seed components of one tile and the elimination of the clumps that stay inside it.

    Components touching an inner face of the tile are *open* (they may go on in the next
    tile): they never pick a neighbour here, but closed clumps may merge into them. Every
    other small clump merges as in :func:`eliminate_small`, with the open segments' statistics
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
    for band in range(n_bands):  # nodata (NaN) falls in bin 0, which is reset
        sums[:, band] = np.bincount(flat, weights=values[band], minlength=n + 1)
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
    tables = SegmentTables(count, sums, first, unique_pairs(a, b), open_)
    mapping, tables, _ = eliminate_small(tables, min_size, assigner.scale_)
    anchor = tables.anchor
    assert anchor is not None
    boundary = np.zeros(len(anchor), dtype=bool)
    pa, pb = tables.pairs
    boundary[pa[anchor[pb]]] = True
    boundary[pb[anchor[pa]]] = True
    boundary &= ~anchor
    return seeds, labels, mapping, tables, boundary


def _nodes(tables: SegmentTables, boundary: np.ndarray) -> np.ndarray:
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


def _face_pairs(
    layout: list[Block],
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
    then go through :func:`eliminate_small`. Returns the final id of every tile's nodes (ids
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
    comp = graph_components(len(count), fa[same], fb[same])
    node_id, _ = canonical(comp, first)
    pairs = np.concatenate(
        [np.empty((2, 0), dtype=np.int64), *internal, np.stack([fa[diff], fb[diff]])], axis=1
    )
    tables = SegmentTables(count, sums, first, pairs).merge(node_id)
    mapping, tables, iterations = eliminate_small(tables, min_size, scale)
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


def shepherd_segments(
    scene: xr.DataArray, sample: np.ndarray, opts: Mapping[str, Any]
) -> xr.DataArray:
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
    results = compute_batched(tasks)
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
    out = grid_like(
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
