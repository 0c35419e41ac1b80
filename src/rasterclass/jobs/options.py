"""What a job is asked to do, and what it did: the run and training options every job shares.

This module owns :class:`RunOptions` (the keywords of every job that writes rasters:
``overwrite``, ``scene_options``, ``progress``, ``cog``) with :class:`RunSettings` (the same
with their defaults), :class:`TrainingOptions` (what to train on and with) and its checks
(:func:`check_training`, :func:`check_report`, both with the outputs in
:func:`check_training_job`), the outputs' check (:func:`check_job_outputs`, over
:func:`job_inputs`: a job's input files by what they are, so that no output overwrites one)
and :class:`RunResult` (model, samples, files written, timings). How a job opens its scene
(:class:`SceneOptions`, :func:`open_job_scene`) is :mod:`rasterclass.jobs.scene`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypedDict

import numpy as np

from rasterclass.errors import OptionConflictError, TrainingDataError, param
from rasterclass.estimators.presets import check_params, make_estimator
from rasterclass.io import PathLike, ProgressCallback, WriteOptions, check_writable
from rasterclass.jobs.scene import SceneOptions
from rasterclass.model import RasterModel
from rasterclass.sampling import Samples


class RunOptions(TypedDict, total=False):
    """The keywords every job that writes rasters takes, typed for ``**options:
    Unpack[RunOptions]`` (:func:`rasterclass.predict`, :func:`rasterclass.classify`,
    :func:`rasterclass.cluster`, :func:`rasterclass.run_segmentation`,
    :func:`rasterclass.classify_objects`).

    ``overwrite`` (default False) replaces existing outputs, never an input of the run;
    ``scene_options`` (:class:`SceneOptions`, default None: the files' own) says how to open
    the scene files; ``progress`` (default None) is called with (blocks done, blocks in all)
    as the rasters are written; ``cog`` (default False) writes Cloud Optimized GeoTIFFs.
    """

    overwrite: bool
    scene_options: SceneOptions | None
    progress: ProgressCallback | None
    cog: bool


@dataclass(frozen=True)
class RunSettings:
    """:class:`RunOptions` with their defaults, as a job reads them (``RunSettings(**options)``
    refuses an unknown keyword with a :class:`TypeError`, as a function does)."""

    overwrite: bool = False
    scene_options: SceneOptions | None = None
    progress: ProgressCallback | None = None
    cog: bool = False

    @classmethod
    def take(cls, options: Mapping[str, Any]) -> tuple[RunSettings, dict[str, Any]]:
        """The run settings among a job's keywords, and the other keywords."""
        names = {f.name for f in fields(cls)}
        run = cls(**{k: v for k, v in options.items() if k in names})
        return run, {k: v for k, v in options.items() if k not in names}

    def writing(self) -> WriteOptions:
        """The keywords of the raster writer (:func:`rasterclass.io.write_rasters`)."""
        return {"overwrite": self.overwrite, "progress": self.progress, "cog": self.cog}

    def check_outputs(
        self,
        outputs: Mapping[str, PathLike | None],
        scene: Any,
        *,
        rasters: Collection[str] = (),
        **inputs: Any,
    ) -> None:
        """:func:`check_job_outputs` with this run's ``overwrite`` and ``scene_options``."""
        check_job_outputs(
            outputs, self.overwrite, scene, self.scene_options, rasters=rasters, **inputs
        )

    def check_training(
        self,
        options: TrainingOptions,
        estimator: Any,
        scene: Any,
        training: Any,
        outputs: Mapping[str, PathLike | None],
        **keywords: Any,
    ) -> None:
        """:func:`check_training_job` with this run's ``overwrite`` and ``scene_options``
        (``keywords``: its ``rasters`` and inputs)."""
        check_training_job(
            options,
            estimator,
            scene,
            self.scene_options,
            training,
            outputs,
            self.overwrite,
            **keywords,
        )


@dataclass
class TrainingOptions:
    """What to train on and with: classifier, sampling of the training data, validation.

    The jobs check every field before they read any data (:func:`check_training`).

    Parameters
    ----------
    method
        A classifier preset: ``"rf"`` (random forest), ``"svm"``, ``"maxlike"`` (Gaussian
        maximum likelihood) or ``"mindist"`` (minimum distance); see
        :func:`rasterclass.make_estimator`. An ``estimator`` given to a job overrides it.
    params
        The preset's parameters (``{"n_estimators": 200}``), each validated.
    seed
        Seeds the classifier, the cap per class and the cross-validation folds; an integer
        in [0, 2**32 - 1].
    all_touched
        Sample every pixel a polygon touches; default: pixels whose centre is inside.
    max_per_class
        At most this many training pixels per class (drawn at random with ``seed``); None
        for no cap.
    legend
        A legend file (CSV: ``code``, ``name``, ``color``) fixing the classes' codes,
        names and colours (see :func:`rasterclass.read_legend`).
    layer
        The layer of a multi-layer training file (GeoPackage).
    cv_folds
        Cross-validation folds; 0 or None for none, else 2 or more.
    cv_grouping
        ``"polygon"`` (default: every pixel of a polygon in one fold, an honest accuracy) or
        ``"pixel"`` (optimistic: neighbouring pixels in different folds).

    Raises
    ------
    TrainingDataError
        Raised by the jobs, before any work, for an invalid ``seed``, ``cv_folds``,
        ``cv_grouping`` or ``max_per_class`` (the message names the field).
    EstimatorError
        Raised by the jobs for an unknown ``method`` or a parameter it does not accept.

    Examples
    --------
    >>> import rasterclass as rc
    >>> options = rc.TrainingOptions(method="rf", params={"n_estimators": 50}, cv_folds=0)
    >>> options.method, dict(options.params), options.cv_grouping
    ('rf', {'n_estimators': 50}, 'polygon')
    >>> rc.jobs.check_training(rc.TrainingOptions(cv_folds=1))
    Traceback (most recent call last):
    ...
    rasterclass.errors.TrainingDataError: cv_folds must be 0 or None (no cross-validation) ...
    """

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
    OptionConflictError
        ``cv_grouping="pixel"`` without cross-validation (``cv_folds`` 0 or None).
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
    if opts.cv_grouping == "pixel" and not opts.cv_folds:
        raise OptionConflictError.without(param("cv_grouping", "pixel"), param("cv_folds", 5))
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
    if scene_options is not None and scene_options.valid_mask is not None:
        inputs["validity mask"] = scene_options.valid_mask
    inputs.update({f"{key.replace('_', ' ')} file": value for key, value in others.items()})
    return inputs
