"""Accuracy assessment and design-based area estimation (pure numpy/pandas core).

This module holds the statistics of map accuracy assessment. It does no raster or vector
I/O: callers pass counts, label vectors and pixel counts, and get frozen result objects back.

Conventions used throughout (as in Olofsson et al. 2014 and Stehman 2014):

- An error (confusion) matrix has **rows = map classes** and **columns = reference
  classes**. ``n_ij`` is the number (or weight) of samples mapped as ``i`` whose reference
  class is ``j``.
- ``N_i`` is the mapped area of map class ``i`` in pixels (or any area unit), ``W_i = N_i / N``.
- Confidence intervals are ``estimate ± z · SE`` with ``z = 1.96`` by default; they are not
  clipped to ``[0, 1]``.
- A statistic whose denominator is zero (a class with no samples in its row or column, a
  stratum with a single sample for a variance) is returned as ``NaN``, never raised.
  Inputs that are inconsistent (non-square matrix, negative counts, a stratum with mapped
  pixels but no samples, ...) raise :class:`~rasterclass.errors.AccuracyError` with a
  message naming the fix.

Contents
--------
Unweighted confusion-matrix statistics (simple random or reference-polygon samples),
:mod:`~rasterclass.accuracy.confusion`:
    :func:`confusion_matrix_from_labels`, :func:`confusion_statistics`,
    :class:`ConfusionStatistics`, :func:`compare_kappa`, :func:`z_for_confidence`.
Design-based estimation of accuracy and area under stratified random sampling,
:mod:`~rasterclass.accuracy.area` and :mod:`~rasterclass.accuracy.stehman`:
    :func:`estimate_from_error_matrix` (Olofsson et al. 2014, strata = map classes),
    :func:`stehman_estimate` (Stehman 2014, any strata), :class:`AreaEstimate`.
Sample design, :mod:`~rasterclass.accuracy.design`:
    :func:`sample_size_for_overall_accuracy` (Olofsson et al. 2014 eq. 13),
    :func:`anticipated_standard_errors`, :func:`allocate_sample`.
Reporting, :mod:`~rasterclass.accuracy.report`:
    :class:`AccuracyReport` (JSON, Markdown and tidy CSV renderers), :func:`format_for_path`.
Jobs on rasters (these import dask, xarray and scikit-learn, so they are not imported here):
    :mod:`rasterclass.accuracy.areas` (:func:`~rasterclass.accuracy.areas.class_areas`:
    mapped and error-adjusted class areas),
    :mod:`rasterclass.accuracy.assess` (:func:`~rasterclass.accuracy.assess.assess` a map
    against reference data), :mod:`rasterclass.accuracy.draw` (draw a stratified sample of
    points from a map) and :mod:`rasterclass.accuracy.crossval` (cross-validation and
    hold-out split by training polygon).

References
----------
Olofsson, P., Foody, G. M., Herold, M., Stehman, S. V., Woodcock, C. E. & Wulder, M. A.
(2014). Good practices for estimating area and assessing accuracy of land change. *Remote
Sensing of Environment*, 148, 42-57.

Stehman, S. V. (2014). Estimating area and map accuracy for stratified random sampling when
the strata are different from the map classes. *International Journal of Remote Sensing*,
35, 4923-4939.

Fleiss, J. L., Cohen, J. & Everitt, B. S. (1969). Large sample standard errors of kappa and
weighted kappa. *Psychological Bulletin*, 72, 323-327.
"""

from __future__ import annotations

from rasterclass.accuracy.area import AreaEstimate, estimate_from_error_matrix
from rasterclass.accuracy.confusion import (
    Z_95,
    ConfusionStatistics,
    KappaVarianceMethod,
    compare_kappa,
    confusion_matrix_from_labels,
    confusion_statistics,
    z_for_confidence,
)
from rasterclass.accuracy.design import (
    AnticipatedPrecision,
    allocate_sample,
    anticipated_standard_errors,
    sample_size_for_overall_accuracy,
)
from rasterclass.accuracy.report import AccuracyReport, ReportFormat, ReportKind, format_for_path
from rasterclass.accuracy.stehman import stehman_estimate

__all__ = [
    "Z_95",
    "AccuracyReport",
    "AnticipatedPrecision",
    "AreaEstimate",
    "ConfusionStatistics",
    "KappaVarianceMethod",
    "ReportFormat",
    "ReportKind",
    "allocate_sample",
    "anticipated_standard_errors",
    "compare_kappa",
    "confusion_matrix_from_labels",
    "confusion_statistics",
    "estimate_from_error_matrix",
    "format_for_path",
    "sample_size_for_overall_accuracy",
    "stehman_estimate",
    "z_for_confidence",
]
