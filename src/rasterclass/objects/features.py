"""Segment features: per-segment spectral statistics, size and shape, chunk by chunk.

Owns :func:`segment_features` (zonal statistics of the scene over the segments, combined
across chunks from partial sums, Chan's formula for variances, and edge strips for the
perimeter), the check that a segment raster lies on the scene's grid (``check_grid``), the
fixed block grid the features are summed on (so that they do not change with chunking), and
which feature columns are used to classify (:func:`feature_columns`, :data:`POSITION_COLUMNS`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.errors import BandMismatchError, GridMismatchError, SegmentationError
from rasterclass.io.chunks import SUMMARY_BLOCK, summary_blocks
from rasterclass.methods import SEGMENT_METHODS
from rasterclass.objects._blocks import Block, block_layout, compute_batched, dask_scene, pixel_area

logger = logging.getLogger(__name__)


#: Feature-table columns that describe where a segment is, not what it is; they are kept in
#: the table but never used to classify.
POSITION_COLUMNS = ("centroid_row", "centroid_col", "area")


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
    seg = np.asarray(seg)
    valid = np.isfinite(block).all(axis=0)
    used = seg[valid]  # ids where the scene is nodata are nodata whatever they are
    if used.size and (used.min() < 0 or used.max() > np.iinfo(np.int64).max):
        raise SegmentationError(
            f"segment ids on valid pixels run from {used.min()} to {used.max()}: ids are 0 "
            "(nodata) or positive integers below 2**63; renumber them "
            "(skimage.segmentation.relabel_sequential)"
        )
    s = np.where(valid, seg.astype(np.int64), 0)
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
    for first, second in ((s[:, :-1], s[:, 1:]), (s[:-1, :], s[1:, :])):
        diff = first != second
        for side in (first, second):
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
    if "ndvi" in lower:  # a derived ndvi band (rasterclass.add_features) gives ndvi_mean
        return None
    if "red" in lower and "nir" in lower:
        return lower.index("red"), lower.index("nir")
    return None


def check_grid(segments: xr.DataArray, scene: xr.DataArray) -> None:
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


#: Side of the feature blocks (pixels) when the segments record no ``tile``: the default
#: Shepherd tile, so that :func:`segment`'s segments are never split.
FEATURE_TILE = SUMMARY_BLOCK

#: Methods of :func:`segment` that segment chunk by chunk (their chunks are their tiles).
TILED_BY_CHUNKS = tuple(m for m in SEGMENT_METHODS if m != "shepherd")


def _blocks(segments: xr.DataArray, tile: int | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Row heights and column widths of the blocks the features of ``segments`` are summed in."""
    if tile is not None:
        if isinstance(tile, bool) or not isinstance(tile, int | np.integer) or tile < 1:
            raise SegmentationError(f"tile={tile!r}: give the block side as a positive integer")
        return summary_blocks(segments.shape[0], segments.shape[1], int(tile))
    method = segments.attrs.get("segmentation")
    if method in TILED_BY_CHUNKS and isinstance(segments.data, da.Array):
        # slic and felzenszwalb segment chunk by chunk: their chunks are their tiles (the
        # segments themselves follow the chunks), and splitting one would run it again
        chunks = segments.data.chunks
        return tuple(chunks[0]), tuple(chunks[1])
    params = segments.attrs.get("params")
    side = params.get("tile") if isinstance(params, dict) else None
    if isinstance(side, bool) or not isinstance(side, int | np.integer) or side < 1:
        side = FEATURE_TILE
    return summary_blocks(segments.shape[0], segments.shape[1], int(side))


def _aligned(
    segments: xr.DataArray, scene: xr.DataArray, tile: int | None = None
) -> tuple[da.Array, da.Array]:
    """Scene and segment ids as dask arrays on one fixed block grid.

    The blocks are ``tile`` pixels or the segmentation tiles (``tile`` in the segments'
    ``params``, else :data:`FEATURE_TILE`) anchored at the top-left corner, whatever the
    chunks of the scene or of the segments: features are partial sums combined in block
    order, so one grid gives the same floating-point values for any chunking. Shepherd
    segments already lie on it (a lazy tile is computed once, never once per piece); lazy
    slic and felzenszwalb segments keep their chunks, which are their tiles.
    """
    check_grid(segments, scene)
    if not np.issubdtype(segments.dtype, np.integer):
        raise SegmentationError(
            f"segment ids must be integers, got {segments.dtype}; cast them (0 = nodata)"
        )
    blocks = _blocks(segments, tile)
    seg = segments.data
    if isinstance(seg, da.Array):
        seg = seg.rechunk(blocks)
    else:
        seg = da.from_array(np.asarray(seg), chunks=blocks)
    data = scene.data.rechunk({1: blocks[0], 2: blocks[1]})
    return data, seg


def segment_features(
    scene: xr.DataArray,
    segments: xr.DataArray,
    *,
    ndvi_bands: Sequence[str] | None = None,
    tile: int | None = None,
) -> pd.DataFrame:
    """Describe every segment: spectral statistics, size and shape.

    Computed block by block from partial sums (counts, means and centred sums of squares
    combined with Chan's formula, minima, maxima, edge counts) and combined across blocks; the
    scene is never loaded at once. The blocks are a fixed grid of ``tile`` pixels anchored at
    the top-left corner, not the chunks, so the features are the same, to the last bit, for
    any chunking of the scene or the segments. Pixels where the scene is nodata belong to no
    segment.

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
    tile
        Side of the blocks in pixels (memory: one block of every band at a time per
        thread). Default: the segments' own tiles (``params["tile"]`` of :func:`segment`'s
        Shepherd segments; the chunks of its lazy slic and felzenszwalb segments, which
        depend on the chunks anyway), else :data:`FEATURE_TILE` (1024).

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
        - ``ndvi_mean``: mean of the per-pixel NDVI (0 where red + nir is 0); not added when
          the scene has an ``ndvi`` band, whose ``ndvi_mean`` it is.

        Derived bands of :func:`rasterclass.add_features` (indices, texture such as
        ``nir_variance_5x5``) are bands like any other: their per-segment mean, std, min and
        max are features (``classify --object-based --texture ...``).

    Raises
    ------
    SegmentationError
        ``segments`` is not a ``(y, x)`` raster of integer ids, an id on a valid pixel is
        negative or not below 2**63, or ``tile`` is not a positive integer.
    GridMismatchError
        ``segments`` is not on the scene's grid (size or transform).
    BandMismatchError
        ``ndvi_bands`` names bands the scene does not have.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scene = xr.DataArray(np.arange(8, dtype="f4").reshape(1, 2, 4), dims=("band", "y", "x"),
    ...                      coords={"band": ["b"]})
    >>> segs = xr.DataArray(np.array([[1, 1, 2, 2], [1, 1, 2, 2]], "u4"), dims=("y", "x"))
    >>> segment_features(scene, segs)["b_mean"].tolist()
    [2.5, 4.5]
    """
    scene = dask_scene(scene)
    data, seg_data = _aligned(segments, scene, tile)
    names = [str(b) for b in scene["band"].values]
    ndvi = _ndvi_bands(names, ndvi_bands)
    layout = block_layout(data.chunks[1], data.chunks[2])
    blocks = data.to_delayed()
    seg_blocks = seg_data.to_delayed()
    tasks = [
        dask.delayed(_feature_block)(blocks[0, b.i, b.j], seg_blocks[b.i, b.j], b.r0, b.c0, ndvi)
        for b in layout
    ]
    parts = compute_batched(tasks)
    table = _combine_features(parts, layout, data.chunks, names, ndvi is not None)
    table["area"] = table["pixels"] * pixel_area(scene)
    logger.info("features of %d segments (%d columns)", len(table), table.shape[1])
    return table


def _combine_features(
    parts: list[dict[str, Any]],
    layout: list[Block],
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
    layout: list[Block],
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
