"""What a job is asked to do, and what it did: the options and results every job shares.

This module owns :class:`SceneOptions` (how to open a scene) and :func:`open_job_scene`,
:class:`TrainingOptions` (what to train on and with) and its checks (:func:`check_training`,
:func:`check_report`, both with the outputs in :func:`check_training_job`), the outputs'
check (:func:`check_job_outputs`, over :func:`job_inputs`: a job's input files by what they
are, so that no output overwrites one) and
:class:`RunResult` (model, samples, files written, timings).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import xarray as xr

from rasterclass.errors import TrainingDataError, param
from rasterclass.estimators.presets import check_params, make_estimator
from rasterclass.io import PathLike, as_scene, check_writable, open_scene
from rasterclass.model import RasterModel
from rasterclass.sampling import Samples


@dataclass
class SceneOptions:
    """How to open a scene (see :func:`rasterclass.io.open_scene`)."""

    band_names: Sequence[str] | None = None
    chunks: int | None = None
    memory_budget: float | None = None
    reference: PathLike | None = None
    resampling: str = "nearest"

    def open(self, paths: Sequence[PathLike] | PathLike) -> xr.DataArray:
        """Open scene files with these options (every field is an argument of
        :func:`rasterclass.io.open_scene`)."""
        return open_scene(paths, **{f.name: getattr(self, f.name) for f in fields(self)})


def open_job_scene(
    scene: Sequence[PathLike] | PathLike | xr.DataArray, scene_options: SceneOptions | None
) -> xr.DataArray:
    """Open scene files, or bring a scene array to scene form (see :func:`as_scene`)."""
    if isinstance(scene, xr.DataArray):
        opts = scene_options or SceneOptions()
        return as_scene(scene, band_names=opts.band_names)
    return (scene_options or SceneOptions()).open(scene)


@dataclass
class TrainingOptions:
    """What to train on and with."""

    method: str = "rf"
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    all_touched: bool = False
    max_per_class: int | None = None
    legend: PathLike | None = None
    layer: str | None = None
    cv_folds: int = 5
    cv_grouping: str = "polygon"


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_training(options: TrainingOptions, estimator: Any = None) -> None:
    """Validate training options and the classifier's parameters before any data is read.

    Builds the preset (``options.method`` with ``options.params``, every value validated) or
    validates ``estimator``'s parameters, and checks ``seed``, ``cv_folds``,
    ``cv_grouping`` and ``max_per_class``.

    Raises
    ------
    EstimatorError
        A parameter value the classifier does not accept (named, with what is allowed).
    TrainingDataError
        An invalid option (named, with what is allowed).
    """
    opts = options
    if opts.seed is not None and (not _is_int(opts.seed) or not 0 <= opts.seed < 2**32):
        raise TrainingDataError(f"seed must be an integer in [0, 2**32 - 1], got {opts.seed!r}")
    if opts.cv_folds is not None and (
        not _is_int(opts.cv_folds) or opts.cv_folds == 1 or opts.cv_folds < 0
    ):
        raise TrainingDataError(
            f"cv_folds must be 0 or None (no cross-validation) or an integer >= 2, got "
            f"{opts.cv_folds!r}"
        )
    if opts.cv_grouping not in ("polygon", "pixel"):
        raise TrainingDataError(
            f"cv_grouping must be 'polygon' or 'pixel', got {opts.cv_grouping!r}"
        )
    if opts.max_per_class is not None and (
        not _is_int(opts.max_per_class) or opts.max_per_class < 1
    ):
        raise TrainingDataError(
            f"max_per_class must be None (no cap) or an integer >= 1, got {opts.max_per_class!r}"
        )
    if estimator is None:
        make_estimator(opts.method, opts.params, opts.seed)
    else:
        check_params(estimator)


def check_report(options: TrainingOptions, report_output: PathLike | None) -> None:
    """A report needs cross-validation: refuse it before any work when there is none."""
    if report_output is not None and not (options.cv_folds and options.cv_folds > 1):
        raise TrainingDataError(
            f"a report needs cross-validation: set {param('cv_folds', 5)} (2 or more "
            f"folds) or leave out {param('report_output')}"
        )


def check_training_job(
    options: TrainingOptions,
    estimator: Any,
    scene: Any,
    scene_options: SceneOptions | None,
    training: Any,
    outputs: Mapping[str, PathLike | None],
    overwrite: bool,
    *,
    rasters: Collection[str] = (),
    **inputs: Any,
) -> None:
    """The checks of a job that trains, before any work: the training options
    (:func:`check_training`), the outputs (writable, none of them an input: the scene, the
    training data, the legend and ``inputs`` by keyword, see :func:`job_inputs`), and the
    cross-validation that a ``report_output`` among them needs (:func:`check_report`)."""
    check_training(options, estimator)
    check_job_outputs(
        outputs,
        overwrite,
        scene,
        scene_options,
        rasters=rasters,
        training=training,
        legend=options.legend,
        **inputs,
    )
    check_report(options, outputs.get("report_output"))


@dataclass
class RunResult:
    """What a job did: the model, its samples, files written and timings (seconds)."""

    model: RasterModel
    samples: Samples | None = None
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    accuracy: Any = None


def check_job_outputs(
    outputs: Mapping[str, PathLike | None],
    overwrite: bool,
    scene: Any,
    scene_options: SceneOptions | None,
    *,
    rasters: Collection[str] = (),
    **inputs: Any,
) -> None:
    """Check a job's outputs before any work (:func:`rasterclass.io.check_writable`): each
    writable, none of them an input of the job (the scene, its reference grid and ``inputs``
    by keyword, see :func:`job_inputs`)."""
    check_writable(
        outputs, overwrite, inputs=job_inputs(scene, scene_options, **inputs), rasters=rasters
    )


def job_inputs(
    scene: Any, scene_options: SceneOptions | None = None, **others: Any
) -> dict[str, Any]:
    """The inputs of a job by what they are, for :func:`rasterclass.io.check_writable`.

    ``scene`` (paths or an opened scene) and the reference grid of ``scene_options``, plus
    ``others`` by keyword (``training=``, ``legend=``, ``model=``, ``segments=``...), named
    ``"<keyword> file"``.
    """
    inputs: dict[str, Any] = {"scene file": scene}
    if scene_options is not None and scene_options.reference is not None:
        inputs["reference grid"] = scene_options.reference
    inputs.update({f"{key.replace('_', ' ')} file": value for key, value in others.items()})
    return inputs
