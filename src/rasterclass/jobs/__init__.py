"""The jobs layer: every end-to-end run the command line performs, from files to files.

A job checks its parameters and outputs before any work, opens its inputs, calls the
library (sampling, estimators, the chunked apply, objects, clustering, accuracy) and writes
its outputs; it returns what it did. The command line calls these and only these.

Modules: :mod:`.scene` (:class:`SceneOptions`, :func:`open_job_scene`: how a job opens its
scene), :mod:`.options` (:class:`TrainingOptions`, :class:`RunOptions`, :class:`RunResult`,
checks), :mod:`.training` (:func:`fit_model`, :func:`fit_and_validate`:
the training step shared by pixel- and object-based jobs), :mod:`.supervised`
(:func:`train`, :func:`predict`, :func:`write_prediction`), :mod:`.classification`
(:func:`classify`: train and classify in one go, per pixel or per segment), :mod:`.objects`
(:class:`ObjectOptions`: the object-based steps), :mod:`.segmentation` (:func:`run_segmentation`),
:mod:`.clustering` (:func:`cluster`, :func:`relabel_map`, :func:`suggest_labels`),
:mod:`.suggestions`
(:func:`suggest_samples_map`: where to label next), :mod:`.accuracy` (:func:`areas_map`,
:func:`assess_map`, :func:`sample_map`, :func:`quicklook_map`), :mod:`.postprocess`
(:func:`sieve_map`, :func:`majority_map`, :func:`polygonize_map`), :mod:`.report`
(:func:`report_map`: the HTML run report), :mod:`.zonal` (:func:`zonal_map`: per-zone
class areas and layer means), :mod:`.change` (:func:`change_map`: before/after change map and
damage per field), :mod:`.plan` (:func:`plan_run`) and
:mod:`.provenance` (:func:`recorded`: the ``PATH.provenance.json`` sidecar of every output;
:func:`command_line`).

The names below are imported on first use (PEP 562), so that the command line imports only
what the command it runs needs. The constants the command line's options list
(``CLUSTER_METHODS``, ``SEGMENT_METHODS``, ``SEGMENT_PARAMS``, ``PRESETS``...) are
re-exported here for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rasterclass.accuracy.zonal_report import render_zonal
    from rasterclass.estimators.presets import PRESETS, parse_params
    from rasterclass.features import FeatureRecipe
    from rasterclass.jobs.accuracy import areas_map, assess_map, quicklook_map, sample_map
    from rasterclass.jobs.change import ChangeResult, change_map
    from rasterclass.jobs.classification import classify, classify_objects
    from rasterclass.jobs.clustering import (
        ClusterOptions,
        ClusterResult,
        cluster,
        relabel_map,
        suggest_labels,
    )
    from rasterclass.jobs.objects import ObjectOptions
    from rasterclass.jobs.options import (
        RunOptions,
        RunResult,
        TrainingOptions,
        check_report,
        check_training,
        job_inputs,
    )
    from rasterclass.jobs.plan import plan_run
    from rasterclass.jobs.postprocess import (
        PostprocessResult,
        majority_map,
        polygonize_map,
        sieve_map,
    )
    from rasterclass.jobs.provenance import command_line, recorded
    from rasterclass.jobs.report import report_map
    from rasterclass.jobs.scene import SceneOptions, open_job_scene
    from rasterclass.jobs.segmentation import (
        SegmentationResult,
        resolve_segments,
        run_segmentation,
    )
    from rasterclass.jobs.suggestions import suggest_samples_map
    from rasterclass.jobs.supervised import predict, train, write_prediction
    from rasterclass.jobs.training import fit_and_validate, fit_model, write_report
    from rasterclass.jobs.zonal import zonal_map
    from rasterclass.methods import CLUSTER_METHODS, DEFAULT_SAMPLE_SIZE, SEGMENT_METHODS
    from rasterclass.methods import SEGMENT_DEFAULTS as SEGMENT_PARAMS
    from rasterclass.parallel import compute_on
    from rasterclass.planning import Plan

#: Public name -> (module that defines it, its name there).
_EXPORTS: dict[str, tuple[str, str]] = {
    **{
        name: ("rasterclass.jobs.options", name)
        for name in (
            "RunOptions",
            "RunResult",
            "TrainingOptions",
            "check_report",
            "check_training",
            "job_inputs",
        )
    },
    **{name: ("rasterclass.jobs.scene", name) for name in ("SceneOptions", "open_job_scene")},
    **{
        name: ("rasterclass.jobs.training", name)
        for name in ("fit_and_validate", "fit_model", "write_report")
    },
    **{
        name: ("rasterclass.jobs.supervised", name)
        for name in ("predict", "train", "write_prediction")
    },
    **{
        name: ("rasterclass.jobs.classification", name) for name in ("classify", "classify_objects")
    },
    "ObjectOptions": ("rasterclass.jobs.objects", "ObjectOptions"),
    **{
        name: ("rasterclass.jobs.segmentation", name)
        for name in ("SegmentationResult", "resolve_segments", "run_segmentation")
    },
    **{
        name: ("rasterclass.jobs.clustering", name)
        for name in ("ClusterOptions", "ClusterResult", "cluster", "relabel_map", "suggest_labels")
    },
    **{
        name: ("rasterclass.jobs.accuracy", name)
        for name in ("areas_map", "assess_map", "quicklook_map", "sample_map")
    },
    **{
        name: ("rasterclass.jobs.postprocess", name)
        for name in ("PostprocessResult", "majority_map", "polygonize_map", "sieve_map")
    },
    "plan_run": ("rasterclass.jobs.plan", "plan_run"),
    "FeatureRecipe": ("rasterclass.features", "FeatureRecipe"),
    "command_line": ("rasterclass.jobs.provenance", "command_line"),
    "recorded": ("rasterclass.jobs.provenance", "recorded"),
    "report_map": ("rasterclass.jobs.report", "report_map"),
    "suggest_samples_map": ("rasterclass.jobs.suggestions", "suggest_samples_map"),
    "zonal_map": ("rasterclass.jobs.zonal", "zonal_map"),
    "change_map": ("rasterclass.jobs.change", "change_map"),
    "ChangeResult": ("rasterclass.jobs.change", "ChangeResult"),
    "render_zonal": ("rasterclass.accuracy.zonal_report", "render_zonal"),
    "Plan": ("rasterclass.planning", "Plan"),
    "CLUSTER_METHODS": ("rasterclass.methods", "CLUSTER_METHODS"),
    "DEFAULT_SAMPLE_SIZE": ("rasterclass.methods", "DEFAULT_SAMPLE_SIZE"),
    "PRESETS": ("rasterclass.estimators.presets", "PRESETS"),
    "parse_params": ("rasterclass.estimators.presets", "parse_params"),
    "SEGMENT_METHODS": ("rasterclass.methods", "SEGMENT_METHODS"),
    "SEGMENT_PARAMS": ("rasterclass.methods", "SEGMENT_DEFAULTS"),
    "compute_on": ("rasterclass.parallel", "compute_on"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rasterclass.jobs' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "CLUSTER_METHODS",
    "DEFAULT_SAMPLE_SIZE",
    "PRESETS",
    "SEGMENT_METHODS",
    "SEGMENT_PARAMS",
    "ChangeResult",
    "ClusterOptions",
    "ClusterResult",
    "FeatureRecipe",
    "ObjectOptions",
    "Plan",
    "PostprocessResult",
    "RunOptions",
    "RunResult",
    "SceneOptions",
    "SegmentationResult",
    "TrainingOptions",
    "areas_map",
    "assess_map",
    "change_map",
    "check_report",
    "check_training",
    "classify",
    "classify_objects",
    "cluster",
    "command_line",
    "compute_on",
    "fit_and_validate",
    "fit_model",
    "job_inputs",
    "majority_map",
    "open_job_scene",
    "parse_params",
    "plan_run",
    "polygonize_map",
    "predict",
    "quicklook_map",
    "recorded",
    "relabel_map",
    "render_zonal",
    "report_map",
    "resolve_segments",
    "run_segmentation",
    "sample_map",
    "sieve_map",
    "suggest_labels",
    "suggest_samples_map",
    "train",
    "write_prediction",
    "write_report",
    "zonal_map",
]
