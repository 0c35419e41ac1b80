"""rasterclass: remote-sensing raster classification for scenes of any size.

The public names below are imported on first use (PEP 562), so that ``import rasterclass``
(and the command line's ``--help``) does not load numpy, dask, xarray, rasterio and
scikit-learn until they are needed.

Examples
--------
>>> import rasterclass as rc
>>> cm = rc.ClassMap.from_values(["water", "forest"])
>>> cm.names
('forest', 'water')
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rasterclass.accuracy.area import estimate_from_error_matrix
    from rasterclass.accuracy.areas import class_areas
    from rasterclass.accuracy.assess import assess
    from rasterclass.accuracy.confusion import confusion_statistics
    from rasterclass.accuracy.crossval import cross_validate, folds
    from rasterclass.accuracy.damage import damage_summary
    from rasterclass.accuracy.draw import draw_sample
    from rasterclass.accuracy.report import AccuracyReport
    from rasterclass.accuracy.stehman import stehman_estimate
    from rasterclass.accuracy.zonal import zonal_summary
    from rasterclass.applicability import area_of_applicability, train_applicability
    from rasterclass.apply import predict_raster
    from rasterclass.change import detect_change
    from rasterclass.classes import ClassMap
    from rasterclass.clustering.fit import fit_clusterer, make_clusterer
    from rasterclass.clustering.relabel import relabel
    from rasterclass.clustering.statistics import cluster_statistics
    from rasterclass.errors import RasterclassError
    from rasterclass.estimators.isodata import ISODATA
    from rasterclass.estimators.maxlike import MaximumLikelihoodClassifier
    from rasterclass.estimators.mindist import MinimumDistanceClassifier
    from rasterclass.estimators.presets import make_estimator
    from rasterclass.features import (
        FeatureRecipe,
        add_features,
        band_roles,
        spectral_index,
        texture,
    )
    from rasterclass.io import (
        as_scene,
        open_dates,
        open_scene,
        read_class_map,
        read_date,
        read_legend,
        read_vector,
        write_map,
        write_probabilities,
    )
    from rasterclass.jobs.accuracy import areas_map, assess_map, sample_map
    from rasterclass.jobs.change import change_map
    from rasterclass.jobs.classification import classify
    from rasterclass.jobs.clustering import cluster, relabel_map, suggest_labels
    from rasterclass.jobs.objects import ObjectOptions
    from rasterclass.jobs.options import TrainingOptions
    from rasterclass.jobs.plan import plan_run
    from rasterclass.jobs.report import report_map
    from rasterclass.jobs.scene import SceneOptions
    from rasterclass.jobs.segmentation import run_segmentation
    from rasterclass.jobs.supervised import predict, train
    from rasterclass.jobs.training import fit_model
    from rasterclass.jobs.zonal import zonal_map
    from rasterclass.model import RasterModel
    from rasterclass.objects.features import segment_features
    from rasterclass.objects.labels import classify_segments, label_segments, paint_map
    from rasterclass.objects.segmentation import segment
    from rasterclass.plot import plot_map, quicklook
    from rasterclass.postprocess.majority import majority_filter
    from rasterclass.postprocess.polygons import polygonize
    from rasterclass.postprocess.sieving import sieve
    from rasterclass.report.build import build_report
    from rasterclass.report.html import render_html
    from rasterclass.sampling import Samples, extract_samples
    from rasterclass.suggestions import suggest_samples
    from rasterclass.temporal import (
        as_series,
        difference,
        gap_fill,
        select_date,
        stack_dates,
        temporal_features,
    )
    from rasterclass.uncertainty_layers import uncertainty

#: Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    "predict_raster": "rasterclass.apply",
    "ClassMap": "rasterclass.classes",
    "RasterclassError": "rasterclass.errors",
    "as_scene": "rasterclass.io",
    "open_scene": "rasterclass.io",
    "read_class_map": "rasterclass.io",
    "read_legend": "rasterclass.io",
    "read_vector": "rasterclass.io",
    "write_map": "rasterclass.io",
    "write_probabilities": "rasterclass.io",
    # multi-date stacks and time series
    "open_dates": "rasterclass.io",
    "read_date": "rasterclass.io",
    "as_series": "rasterclass.temporal",
    "stack_dates": "rasterclass.temporal",
    "select_date": "rasterclass.temporal",
    "difference": "rasterclass.temporal",
    "gap_fill": "rasterclass.temporal",
    "temporal_features": "rasterclass.temporal",
    "RasterModel": "rasterclass.model",
    "SceneOptions": "rasterclass.jobs.scene",
    "TrainingOptions": "rasterclass.jobs.options",
    "classify": "rasterclass.jobs.classification",
    "ObjectOptions": "rasterclass.jobs.objects",
    "fit_model": "rasterclass.jobs.training",
    "predict": "rasterclass.jobs.supervised",
    "train": "rasterclass.jobs.supervised",
    # the other end-to-end jobs the command line runs, from files to files
    "run_segmentation": "rasterclass.jobs.segmentation",
    "cluster": "rasterclass.jobs.clustering",
    "relabel_map": "rasterclass.jobs.clustering",
    "suggest_labels": "rasterclass.jobs.clustering",
    "areas_map": "rasterclass.jobs.accuracy",
    "assess_map": "rasterclass.jobs.accuracy",
    "sample_map": "rasterclass.jobs.accuracy",
    "plan_run": "rasterclass.jobs.plan",
    "report_map": "rasterclass.jobs.report",
    "Samples": "rasterclass.sampling",
    "extract_samples": "rasterclass.sampling",
    "cross_validate": "rasterclass.accuracy.crossval",
    "folds": "rasterclass.accuracy.crossval",
    # derived features: band roles, spectral indices, texture
    "FeatureRecipe": "rasterclass.features",
    "add_features": "rasterclass.features",
    "band_roles": "rasterclass.features",
    "spectral_index": "rasterclass.features",
    "texture": "rasterclass.features",
    # estimators
    "make_estimator": "rasterclass.estimators.presets",
    "ISODATA": "rasterclass.estimators.isodata",
    "MaximumLikelihoodClassifier": "rasterclass.estimators.maxlike",
    "MinimumDistanceClassifier": "rasterclass.estimators.mindist",
    # unsupervised classification
    "make_clusterer": "rasterclass.clustering.fit",
    "fit_clusterer": "rasterclass.clustering.fit",
    "cluster_statistics": "rasterclass.clustering.statistics",
    "relabel": "rasterclass.clustering.relabel",
    # object-based classification
    "segment": "rasterclass.objects.segmentation",
    "segment_features": "rasterclass.objects.features",
    "label_segments": "rasterclass.objects.labels",
    "classify_segments": "rasterclass.objects.labels",
    "paint_map": "rasterclass.objects.labels",
    # post-processing of class maps
    "sieve": "rasterclass.postprocess.sieving",
    "majority_filter": "rasterclass.postprocess.majority",
    "polygonize": "rasterclass.postprocess.polygons",
    # accuracy
    "assess": "rasterclass.accuracy.assess",
    "class_areas": "rasterclass.accuracy.areas",
    "zonal_summary": "rasterclass.accuracy.zonal",
    "zonal_map": "rasterclass.jobs.zonal",
    # change between two dates, damage per field
    "detect_change": "rasterclass.change",
    "damage_summary": "rasterclass.accuracy.damage",
    "change_map": "rasterclass.jobs.change",
    "draw_sample": "rasterclass.accuracy.draw",
    "AccuracyReport": "rasterclass.accuracy.report",
    "confusion_statistics": "rasterclass.accuracy.confusion",
    "estimate_from_error_matrix": "rasterclass.accuracy.area",
    "stehman_estimate": "rasterclass.accuracy.stehman",
    # uncertainty and area of applicability
    "uncertainty": "rasterclass.uncertainty_layers",
    "suggest_samples": "rasterclass.suggestions",
    "area_of_applicability": "rasterclass.applicability",
    "train_applicability": "rasterclass.applicability",
    # figures
    "plot_map": "rasterclass.plot",
    "quicklook": "rasterclass.plot",
    # the run report
    "build_report": "rasterclass.report.build",
    "render_html": "rasterclass.report.html",
}


#: Deprecated names still found here (not in ``__all__``), and where they live now. Each
#: warns with a :class:`FutureWarning` when called and names what replaces it.
_DEPRECATED: dict[str, str] = {
    "classify_objects": "rasterclass.jobs.classification",  # classify(..., objects=ObjectOptions())
    "paint_classes": "rasterclass.objects.labels",  # paint_map(...)["classes"]
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rasterclass")
    except PackageNotFoundError:  # pragma: no cover
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _DEPRECATED:  # not exported; the function warns when called
        value = getattr(importlib.import_module(_DEPRECATED[name]), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")  # rasterclass.io etc.
    else:
        raise AttributeError(f"module 'rasterclass' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, "__version__"})


#: The exported names: every key of ``_EXPORTS`` and ``__version__`` (a test checks).
__all__ = [
    "ISODATA",
    "AccuracyReport",
    "ClassMap",
    "FeatureRecipe",
    "MaximumLikelihoodClassifier",
    "MinimumDistanceClassifier",
    "ObjectOptions",
    "RasterModel",
    "RasterclassError",
    "Samples",
    "SceneOptions",
    "TrainingOptions",
    "__version__",
    "add_features",
    "area_of_applicability",
    "areas_map",
    "as_scene",
    "as_series",
    "assess",
    "assess_map",
    "band_roles",
    "build_report",
    "change_map",
    "class_areas",
    "classify",
    "classify_segments",
    "cluster",
    "cluster_statistics",
    "confusion_statistics",
    "cross_validate",
    "damage_summary",
    "detect_change",
    "difference",
    "draw_sample",
    "estimate_from_error_matrix",
    "extract_samples",
    "fit_clusterer",
    "fit_model",
    "folds",
    "gap_fill",
    "label_segments",
    "majority_filter",
    "make_clusterer",
    "make_estimator",
    "open_dates",
    "open_scene",
    "paint_map",
    "plan_run",
    "plot_map",
    "polygonize",
    "predict",
    "predict_raster",
    "quicklook",
    "read_class_map",
    "read_date",
    "read_legend",
    "read_vector",
    "relabel",
    "relabel_map",
    "render_html",
    "report_map",
    "run_segmentation",
    "sample_map",
    "segment",
    "segment_features",
    "select_date",
    "sieve",
    "spectral_index",
    "stack_dates",
    "stehman_estimate",
    "suggest_labels",
    "suggest_samples",
    "temporal_features",
    "texture",
    "train",
    "train_applicability",
    "uncertainty",
    "write_map",
    "write_probabilities",
    "zonal_map",
    "zonal_summary",
]
