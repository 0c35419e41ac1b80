"""The names and defaults of the methods rasterclass offers, without importing them.

The command line lists methods and defaults in its options and ``--help``; reading them here
keeps that light (no numpy, scikit-learn or dask). The modules that implement the methods
use these same values.
"""

from __future__ import annotations

from typing import Any

#: Clustering methods of :func:`rasterclass.fit_clusterer`, with one line each.
CLUSTER_METHODS: dict[str, str] = {
    "kmeans": "k-means (scikit-learn KMeans; -p minibatch=true for MiniBatchKMeans)",
    "isodata": "ISODATA (Tou & Gonzalez 1974): k-means with split, lump and discard steps",
}

#: Pixels sampled to fit a clusterer (:func:`rasterclass.fit_clusterer`).
DEFAULT_SAMPLE_SIZE = 100_000


#: Segmentation methods of :func:`rasterclass.segment`.
SEGMENT_METHODS = ("shepherd", "slic", "felzenszwalb")


#: Default parameters of each method (``-p NAME=VALUE`` on the command line).
SEGMENT_DEFAULTS: dict[str, dict[str, Any]] = {
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
