"""Parametric per-pixel classifiers: Gaussian maximum likelihood and minimum distance.

These are the classic supervised classifiers of remote-sensing packages (ERDAS Imagine,
ENVI, GRASS ``i.maxlik``), written as scikit-learn classifiers so that they work in
pipelines, grid searches and everything else in rasterclass that accepts an estimator.

* :class:`MaximumLikelihoodClassifier` models each class as a multivariate normal
  distribution with its own mean vector and full covariance matrix, and assigns a pixel to
  the class with the largest discriminant (log prior plus log likelihood). It has a
  probabilistic model, so it offers ``predict_proba``; it can also leave pixels that are
  atypical of every class unclassified (:meth:`MaximumLikelihoodClassifier.predict_with_rejection`).
* :class:`MinimumDistanceClassifier` assigns a pixel to the class with the nearest mean,
  in Euclidean distance or in Mahalanobis distance under the pooled within-class
  covariance. It has no probabilistic model and deliberately has no ``predict_proba``.

Both compute in float64 (float32 rasters are accepted and converted block by block), are
vectorised over pixels and loop only over classes, and process large inputs in blocks of
rows so that temporaries stay small.

References
----------
J. A. Richards, *Remote Sensing Digital Image Analysis*, 6th ed., Springer, 2022,
chapter 8 (maximum likelihood, minimum distance, thresholds).

J. H. Friedman, "Regularized discriminant analysis", *Journal of the American Statistical
Association* 84(405), 165-175, 1989 (shrinking class covariances towards the pooled one).

J. P. Hoffbeck and D. A. Landgrebe, "Covariance matrix estimation and classification with
limited training data", *IEEE Transactions on Pattern Analysis and Machine Intelligence*
18(7), 763-767, 1996.

The classifiers live in :mod:`rasterclass.estimators.maxlike` and
:mod:`rasterclass.estimators.mindist`, their shared numerics in
:mod:`rasterclass.estimators._gaussian`; this module re-exports the public names.
"""

from __future__ import annotations

from rasterclass.estimators._gaussian import singular_class_notes
from rasterclass.estimators.maxlike import MaximumLikelihoodClassifier
from rasterclass.estimators.mindist import MinimumDistanceClassifier

__all__ = ["MaximumLikelihoodClassifier", "MinimumDistanceClassifier", "singular_class_notes"]
