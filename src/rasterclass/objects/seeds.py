"""Pixel sample and k-means seeds: the spectral start of a Shepherd segmentation.

Owns the per-band standardisation of a pixel sample (drawn by
:func:`rasterclass.sampling.sample_pixels`), the k-means fit of the seeds on it
(:func:`fit_seeds`) and :class:`SeedAssigner`, the estimator that gives every
pixel its nearest seed with a k-d tree, so that a pixel's seed never depends on its block.
"""

from __future__ import annotations

import logging

import numpy as np

from rasterclass.errors import SegmentationError

logger = logging.getLogger(__name__)


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
