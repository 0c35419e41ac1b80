"""Seeded, chunk-invariant random samples of a scene's pixels: the one pixel sampler.

This module owns :func:`sample_pixels` and :class:`PixelSample`, the random pixel sample that
unsupervised classification fits its clusterers on and that a Shepherd segmentation fits its
k-means seeds on, plus the small block-layout helpers (:func:`as_scene_array`,
:func:`block_origins`) that the per-cluster statistics reuse. Two designs, chosen with
``replace``: without replacement (every valid pixel keyed by a hash of its position and the
seed, the ``n`` smallest keys kept) and with replacement (``n`` grid positions drawn with
:class:`numpy.random.Generator`, repeats and nodata dropped). Either depends only on the
pixels' positions and the seed, so the sample is the same for any chunking and for an
in-memory scene.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.errors import EstimatorError
from rasterclass.io import as_scene
from rasterclass.methods import DEFAULT_SAMPLE_SIZE
from rasterclass.parallel import compute_stream

logger = logging.getLogger(__name__)

#: Partial samples merged per task of the tree reduction.
_FAN_IN = 8


@dataclass
class PixelSample:
    """A random sample of valid pixels of a scene.

    Attributes
    ----------
    X : ndarray (n, bands)
        Pixel values, in the scene's band order and dtype: in random (key) order without
        replacement, in row-major position order with replacement.
    rows, cols : ndarray (n,)
        Position of every sampled pixel in the scene.
    n_valid : int or None
        Number of valid pixels in the whole scene (the sample holds ``min(n, n_valid)``);
        None for a sample with replacement (not counted).
    band_names : list of str
    """

    X: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    n_valid: int | None
    band_names: list[str]

    def __len__(self) -> int:
        return len(self.X)


_SPLITMIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SPLITMIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SPLITMIX_M2 = np.uint64(0x94D049BB133111EB)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection of uint64 with good avalanche (pseudo-random keys)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _SPLITMIX_GAMMA
        z = (z ^ (z >> np.uint64(30))) * _SPLITMIX_M1
        z = (z ^ (z >> np.uint64(27))) * _SPLITMIX_M2
        return z ^ (z >> np.uint64(31))


def _seed_offset(seed: int) -> np.uint64:
    return _mix64(np.array([seed % 2**64], dtype=np.uint64))[0]


_Partial = tuple[np.ndarray, np.ndarray, np.ndarray, int]


def _sample_block(
    block: np.ndarray, row0: int, col0: int, width: int, n: int, offset: np.uint64
) -> _Partial:
    """The ``n`` valid pixels of one (band, y, x) block with the smallest keys.

    Returns (keys, flat indices, values (m, bands), number of valid pixels in the block).
    """
    n_bands, h, w = block.shape
    pixels = block.reshape(n_bands, -1)
    valid = np.isfinite(pixels).all(axis=0)
    rows = np.arange(row0, row0 + h, dtype=np.uint64) * np.uint64(width)
    flat = (rows[:, None] + np.arange(col0, col0 + w, dtype=np.uint64)[None, :]).reshape(-1)
    pos = np.flatnonzero(valid)
    n_valid = int(pos.size)
    if n_valid < valid.size:
        flat = flat[pos]
    with np.errstate(over="ignore"):
        keys = _mix64(flat + offset)
    if n_valid > n:
        sel = np.argpartition(keys, n - 1)[:n]
        pos, flat, keys = pos[sel], flat[sel], keys[sel]
    return keys, flat, pixels[:, pos].T.copy(), n_valid


def _merge_samples(parts: Sequence[_Partial], n: int) -> _Partial:
    """Merge partial samples, keeping the ``n`` smallest keys."""
    keys = np.concatenate([p[0] for p in parts])
    flat = np.concatenate([p[1] for p in parts])
    values = np.concatenate([p[2] for p in parts], axis=0)
    n_valid = sum(p[3] for p in parts)
    if len(keys) > n:
        sel = np.argpartition(keys, n - 1)[:n]
        keys, flat, values = keys[sel], flat[sel], values[sel]
    return keys, flat, values, n_valid


def as_scene_array(scene: xr.DataArray) -> np.ndarray | da.Array:
    """The values of a scene in scene form (:func:`rasterclass.io.as_scene`)."""
    return as_scene(scene).data


def block_origins(data: da.Array) -> list[tuple[int, int, int, int]]:
    """(i, j, row0, col0) of every (y, x) block, row-major."""
    out = []
    y0 = 0
    for i, h in enumerate(data.chunks[1]):
        x0 = 0
        for j, w in enumerate(data.chunks[2]):
            out.append((i, j, y0, x0))
            x0 += w
        y0 += h
    return out


def _keyed(data: np.ndarray | da.Array, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Without replacement: the ``n`` valid pixels with the smallest keys, in key order.

    Returns (flat indices, values (m, bands), number of valid pixels in the scene).
    """
    width = int(data.shape[2])
    offset = _seed_offset(seed)
    if isinstance(data, da.Array):
        blocks = data.to_delayed()
        parts = [
            dask.delayed(_sample_block)(blocks[0, i, j], y0, x0, width, n, offset)
            for i, j, y0, x0 in block_origins(data)
        ]
        while len(parts) > 1:
            parts = [
                dask.delayed(_merge_samples)(parts[k : k + _FAN_IN], n)
                for k in range(0, len(parts), _FAN_IN)
            ]
        keys, flat, values, n_valid = dask.compute(parts[0])[0]
    else:
        keys, flat, values, n_valid = _sample_block(np.asarray(data), 0, 0, width, n, offset)
    order = np.argsort(keys, kind="stable")
    return flat[order].astype(np.int64), values[order], int(n_valid)


def _gather(block: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.asarray(block[:, rows, cols]).T


def _with_replacement(
    data: np.ndarray | da.Array, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """With replacement: ``n`` grid positions drawn at random, each kept once, nodata
    dropped, in row-major order; read block by block, a few blocks at a time.

    Returns (flat indices, values (m, bands)).
    """
    _, height, width = data.shape
    n_pix = height * width
    if n >= n_pix:
        pos = np.arange(n_pix, dtype=np.int64)
    else:
        pos = np.unique(np.random.default_rng(seed).integers(0, n_pix, size=n))
    rows, cols = np.divmod(pos, width)
    if not isinstance(data, da.Array):
        values = _gather(np.asarray(data), rows, cols)
    else:
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
            rows_ij, cols_ij = rows[idx] - bounds_y[i], cols[idx] - bounds_x[j]
            tasks.append((dask.delayed(_gather)(blocks[0, i, j], rows_ij, cols_ij),))
            positions.append(pos[idx])
        parts = [part for (part,) in compute_stream(tasks)]
        values = np.concatenate(parts, axis=0)
        values = values[np.argsort(np.concatenate(positions), kind="stable")]
    valid = np.isfinite(values).all(axis=1)
    return pos[valid], values[valid]


def sample_pixels(
    scene: xr.DataArray, n: int = DEFAULT_SAMPLE_SIZE, seed: int = 0, *, replace: bool = False
) -> PixelSample:
    """A seeded random sample of a scene's valid pixels (no NaN in any band), chunk-invariant.

    Without replacement (the default), every pixel gets a pseudo-random key from its flat
    index and the seed (SplitMix64, Steele et al. 2014); the sample is the ``n`` valid pixels
    with the smallest keys, i.e. a uniform random sample without replacement of exactly
    ``min(n, n_valid)`` pixels, in key order. One chunked pass: each chunk keeps its ``n``
    smallest keys and the partial samples are merged in a tree, so memory stays bounded by a
    few samples. The clusterers are fitted on it (:func:`rasterclass.fit_clusterer`).

    With ``replace=True``, ``n`` grid positions are drawn with replacement over the whole grid
    (``numpy.random.default_rng(seed).integers``; every position when ``n`` covers the grid),
    each kept once and nodata dropped, so the sample holds at most ``n`` pixels, in row-major
    order; only the blocks holding a drawn position are read, a few at a time. A Shepherd
    segmentation fits its k-means seeds on it (:func:`rasterclass.segment`). Either result is
    identical for any chunking and for an in-memory scene.

    Parameters
    ----------
    scene
        ``(band, y, x)`` DataArray, dask-backed or in memory; NaN marks nodata.
    n
        Sample size (a positive integer). Without replacement, when the scene has fewer valid
        pixels, all of them are returned.
    seed
        Non-negative integer seed; the same seed gives the same sample.
    replace
        Draw positions with replacement over the whole grid (see above).

    Returns
    -------
    PixelSample
        Values ``X`` (``(m, bands)``, the scene's dtype), their ``rows``/``cols`` (int64)
        and the scene's number of valid pixels ``n_valid`` (None with replacement).

    Raises
    ------
    EstimatorError
        ``n`` is not a positive integer or ``seed`` not a non-negative integer.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from rasterclass.sampling import sample_pixels
    >>> data = np.arange(24, dtype="f4").reshape(2, 3, 4)
    >>> data[:, 0, 0] = np.nan
    >>> scene = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": ["a", "b"]})
    >>> sample = sample_pixels(scene, n=5, seed=1)
    >>> sample.X.shape, sample.n_valid
    ((5, 2), 11)
    >>> bool(np.isfinite(sample.X).all())
    True
    >>> drawn = sample_pixels(scene, n=12, seed=1, replace=True)  # nodata pixel (0, 0) dropped
    >>> len(drawn), drawn.n_valid, (int(drawn.rows[0]), int(drawn.cols[0]))
    (11, None, (0, 1))
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise EstimatorError(f"the sample size must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise EstimatorError(f"the seed must be a non-negative integer, got {seed!r}")
    scene = as_scene(scene)
    data = scene.data
    n_valid: int | None = None
    if replace:
        flat, values = _with_replacement(data, int(n), int(seed))
    else:
        flat, values, n_valid = _keyed(data, int(n), int(seed))
    width = int(data.shape[2])
    sample = PixelSample(
        X=values,
        rows=flat // width,
        cols=flat % width,
        n_valid=n_valid,
        band_names=[str(b) for b in scene["band"].values],
    )
    logger.info(
        "sampled %d valid pixels (%s, seed %d)",
        len(sample),
        "with replacement" if replace else f"of {n_valid}",
        int(seed),
    )
    return sample
