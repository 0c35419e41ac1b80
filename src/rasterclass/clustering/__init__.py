"""Unsupervised classification: clusterers fitted on a sample of valid pixels, applied to any scene.

The flow follows the architecture's rule "fit small, predict in parallel":

1. :func:`rasterclass.sampling.sample_pixels` draws a seeded random sample of valid pixels
   (no NaN in any band) in one chunked pass. Every pixel gets a pseudo-random key that
   depends only on its position in the scene and the seed (a 64-bit mixing hash of its flat
   index); the sample is the ``n`` valid pixels with the smallest keys. Each chunk keeps its
   own ``n`` smallest, the partial results are merged in a tree, so the sample is exactly the
   same for any chunking (and for an in-memory scene) and the scene is never held in memory.
2. :func:`fit_clusterer` fits k-means (scikit-learn) or :class:`~rasterclass.estimators.isodata.
   ISODATA` on that sample, optionally on standardised bands, and wraps it in a
   :class:`~rasterclass.model.RasterModel` with a class map ``cluster 1`` .. ``cluster k``.
3. Every pixel is assigned through :func:`rasterclass.apply.predict_raster` (the one chunked
   apply) and written with :func:`rasterclass.io.write_map`.
4. :func:`cluster_statistics` reduces per-chunk partial sums (count, mean and sum of squared
   deviations per cluster and band, combined with Chan's parallel formula) into mean spectrum,
   standard deviation, pixel count and area per cluster.
5. Clusters become classes with :func:`relabel` (a cluster -> class table; clusters sharing a
   class are merged) and :func:`nearest_classes` proposes that table from training samples.

The jobs the command line calls (``cluster``, ``relabel_map``, ``suggest_labels``) live in
:mod:`rasterclass.jobs`.

The package is split by step: :mod:`.fit` (clusterers),
:mod:`.statistics`, :mod:`.relabel` (label tables) and :mod:`.suggest`; this module
re-exports their public names.
"""

from __future__ import annotations

from rasterclass.clustering.fit import METHODS, fit_clusterer, make_clusterer
from rasterclass.clustering.relabel import relabel
from rasterclass.clustering.statistics import cluster_statistics, statistics_text, write_statistics
from rasterclass.clustering.suggest import nearest_classes
from rasterclass.io import read_table
from rasterclass.methods import DEFAULT_SAMPLE_SIZE

__all__ = [
    "DEFAULT_SAMPLE_SIZE",
    "METHODS",
    "cluster_statistics",
    "fit_clusterer",
    "make_clusterer",
    "nearest_classes",
    "read_table",
    "relabel",
    "statistics_text",
    "write_statistics",
]
