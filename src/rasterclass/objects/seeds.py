"""Pixel sample and k-means seeds: the spectral start of a Shepherd segmentation.

Owns the seeded, chunk-independent random sample of a scene's valid pixels
(:func:`sample_pixels`), the per-band standardisation of a sample, the k-means fit of the
seeds on it (:func:`fit_seeds`) and :class:`SeedAssigner`, the estimator that gives every
pixel its nearest seed with a k-d tree, so that a pixel's seed never depends on its block.
"""

from __future__ import annotations

import logging

import dask
import numpy as np
import xarray as xr

from rasterclass.errors import SegmentationError
from rasterclass.objects._blocks import compute_batched, dask_scene

logger = logging.getLogger(__name__)


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
    scene = dask_scene(scene)
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
    parts = compute_batched(tasks)
    if not parts:
        return np.empty((0, scene.shape[0]))
    values = np.concatenate(parts, axis=0)
    values = values[np.argsort(np.concatenate(positions), kind="stable")]
    return values[np.isfinite(values).all(axis=1)]


def standardise(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

    mean, scale = standardise(sample)
    Z = (sample - mean) / scale
    distinct = len(np.unique(Z, axis=0))
    k = min(int(n_clusters), distinct)
    if k < n_clusters:
        logger.info("only %d distinct pixel values in the sample: %d seeds", distinct, k)
    if k < 1:
        raise SegmentationError("the scene has no valid pixel to segment")
    km = KMeans(n_clusters=k, n_init=1, max_iter=max_iter, random_state=seed).fit(Z)
    return SeedAssigner(km.cluster_centers_, mean, scale)
