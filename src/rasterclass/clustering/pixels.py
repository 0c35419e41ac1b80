"""Seeded, chunk-invariant random samples of a scene's valid pixels.

This module owns the sampling step of unsupervised classification: :class:`PixelSample`,
:func:`sample_valid_pixels` and its block helpers (the SplitMix64 pixel keys, the per-block
smallest-key selection and the tree merge of partial samples), plus the small block-layout
helpers (:func:`as_scene_array`, :func:`block_origins`) that the per-cluster statistics
reuse. Every pixel's key depends only on its position and the seed, so the sample is the
same for any chunking and for an in-memory scene.
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

logger = logging.getLogger(__name__)

#: Default number of valid pixels a clusterer is fitted on.

#: Partial samples merged per task of the tree reduction.
_FAN_IN = 8


@dataclass
class PixelSample:
    """A random sample of valid pixels of a scene.

    Attributes
    ----------
    X : ndarray (n, bands)
        Pixel values, in the scene's band order and dtype, in random (key) order.
    rows, cols : ndarray (n,)
        Position of every sampled pixel in the scene.
    n_valid : int
        Number of valid pixels in the whole scene (the sample holds ``min(n, n_valid)``).
    band_names : list of str
    """

    X: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    n_valid: int
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


def sample_valid_pixels(
    scene: xr.DataArray, n: int = DEFAULT_SAMPLE_SIZE, seed: int = 0
) -> PixelSample:
    """A seeded random sample of ``n`` valid pixels (no NaN in any band), chunk-invariant.

    Every pixel gets a pseudo-random key from its flat index and the seed (SplitMix64); the
    sample is the ``n`` valid pixels with the smallest keys, i.e. a uniform random sample
    without replacement. One chunked pass: each chunk keeps its ``n`` smallest keys and the
    partial samples are merged in a tree, so memory stays bounded by a few samples and the
    result is identical for any chunking and for an in-memory scene.

    Parameters
    ----------
    scene
        ``(band, y, x)`` DataArray, dask-backed or in memory; NaN marks nodata.
    n
        Sample size. When the scene has fewer valid pixels, all of them are returned.
    seed
        Non-negative integer seed; the same seed gives the same sample.

    Returns
    -------
    PixelSample
        Values in random order, their rows/columns and the scene's number of valid pixels.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> data = np.arange(24, dtype="f4").reshape(2, 3, 4)
    >>> data[:, 0, 0] = np.nan
    >>> scene = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": ["a", "b"]})
    >>> sample = sample_valid_pixels(scene, n=5, seed=1)
    >>> sample.X.shape, sample.n_valid
    ((5, 2), 11)
    >>> bool(np.isfinite(sample.X).all())
    True
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise EstimatorError(f"the sample size must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise EstimatorError(f"the seed must be a non-negative integer, got {seed!r}")
    n = int(n)
    scene = as_scene(scene)
    data = as_scene_array(scene)
    width = int(data.shape[2])
    offset = _seed_offset(int(seed))
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
    flat = flat[order].astype(np.int64)
    sample = PixelSample(
        X=values[order],
        rows=flat // width,
        cols=flat % width,
        n_valid=int(n_valid),
        band_names=[str(b) for b in scene["band"].values],
    )
    logger.info("sampled %d of %d valid pixels (seed %d)", len(sample), sample.n_valid, int(seed))
    return sample
