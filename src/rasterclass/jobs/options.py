"""What a job is asked to do, and what it did: the options and results every job shares.

This module owns :class:`SceneOptions` (how to open a scene) and :func:`open_job_scene`,
:class:`RunOptions` (the keywords of every job that writes rasters: ``overwrite``,
``scene_options``, ``progress``, ``cog``) with :class:`RunSettings` (the same with their
defaults),
:class:`TrainingOptions` (what to train on and with) and its checks (:func:`check_training`,
:func:`check_report`, both with the outputs in :func:`check_training_job`), the outputs'
check (:func:`check_job_outputs`, over :func:`job_inputs`: a job's input files by what they
are, so that no output overwrites one) and
:class:`RunResult` (model, samples, files written, timings).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypedDict

import numpy as np
import xarray as xr

from rasterclass.errors import OptionConflictError, SceneError, TrainingDataError, param
from rasterclass.estimators.presets import check_params, make_estimator
from rasterclass.features import FeatureRecipe, add_features
from rasterclass.io import (
    PathLike,
    ProgressCallback,
    WriteOptions,
    as_scene,
    check_writable,
    open_dates,
    open_scene,
)
from rasterclass.model import RasterModel
from rasterclass.sampling import Samples
from rasterclass.temporal import DATE_SEP, GAP_FILL_ATTR, as_series, gap_fill, split_name

logger = logging.getLogger(__name__)


@dataclass
class SceneOptions:
    """How to open a scene (see :func:`rasterclass.open_scene`).

    The jobs (:func:`rasterclass.train`, :func:`rasterclass.predict`,
    :func:`rasterclass.classify`...) open their scene files with these options; a scene
    given as an array is taken as it is (only ``band_names`` applies).

    Parameters
    ----------
    band_names
        A name per band (default: the bands' descriptions, else ``band_1``...). A model
        matches the bands of a scene to classify by these names.
    chunks
        Chunk side in pixels (default: from ``memory_budget``, else the files' tiling).
    memory_budget
        Bytes one chunk of the scene may take (float32), used when ``chunks`` is None.
    reference
        A raster whose grid (CRS, transform, size) the scene is warped to (``--grid-like``
        on the command line).
    resampling
        Resampling method of that warp (a :class:`rasterio.enums.Resampling` name).
    gap_fill
        The scene is a time series with gaps (clouds): fill them per pixel by linear
        interpolation in time (:func:`rasterclass.gap_fill`; the bands' dates come from their
        names, e.g. ``NDVI_2015-07-11`` or ``ndvi@2015-07-11``). The band names stay as they
        are. A model trained on a gap-filled scene records it (``summary["gap_fill"]``) and
        :func:`rasterclass.predict` gap-fills its scene too.
    valid_mask
        With ``gap_fill``: a raster of the series' validity, one band per date (eo-learn's
        ``IS_VALID``: 1 valid, 0 cloud or no data), on the scene's grid. Without it only NaN
        values are gaps.
    features
        Derived features (spectral indices, texture) added to the scene as extra bands (see
        :class:`rasterclass.features.FeatureRecipe`); a model trained on them records them,
        and :func:`rasterclass.predict` derives them again, after any gap filling (only
        ``bands`` applies there: the roles of that scene's bands).
    dates
        The files are scenes of different dates, one file per date: the date of each, in
        order (:func:`rasterclass.open_dates`; bands named ``<band>@<date>``).
    multi_date
        The same, with each file's date read from its metadata or name.

    Raises
    ------
    RasterclassIOError
        :meth:`open`: a file does not exist or cannot be read.
    GridMismatchError
        :meth:`open`: files on different grids, and no ``reference`` to align them.
    CRSError
        :meth:`open`: a file has no CRS.
    BandMismatchError
        :meth:`open`: ``features`` needs a band role the scene does not show, or has an
        invalid value.
    SceneError
        :meth:`open`: ``valid_mask`` without ``gap_fill``, ``gap_fill`` on bands without
        dates in their names, not one date per file in ``dates``, a date twice, or a file
        without a date with ``multi_date``.
    OptionConflictError
        On creation: both ``dates`` and ``multi_date`` (the dates are given, or read from
        the files, not both).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, rasterio
    >>> import rasterclass as rc
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scene.tif"
    >>> with rasterio.open(path, "w", driver="GTiff", width=4, height=3, count=2,
    ...                    dtype="float32", crs="EPSG:32633",
    ...                    transform=rasterio.Affine(10, 0, 0, 0, -10, 30)) as dst:
    ...     dst.write(np.ones((2, 3, 4), dtype="f4"))
    >>> scene = rc.SceneOptions(band_names=["red", "nir"], chunks=2).open(path)
    >>> [str(b) for b in scene["band"].values], scene.shape, scene.chunks[1:]
    (['red', 'nir'], (2, 3, 4), ((2, 1), (2, 2)))
    """

    band_names: Sequence[str] | None = None
    chunks: int | None = None
    memory_budget: float | None = None
    reference: PathLike | None = None
    resampling: str = "nearest"
    features: FeatureRecipe | None = None
    gap_fill: bool = False
    valid_mask: PathLike | None = None
    dates: Sequence[str] | None = None
    multi_date: bool = False

    def __post_init__(self) -> None:
        if self.dates is not None and self.multi_date:
            raise OptionConflictError.both(
                param("dates"),
                param("multi_date", True),
                f"give each file's date ({param('dates')}) or read the dates from the files' "
                f"metadata or names ({param('multi_date', True)}), not both",
            )

    def open(self, paths: Sequence[PathLike] | PathLike) -> xr.DataArray:
        """Open scene files with these options (the fields other than ``features``,
        ``gap_fill``, ``valid_mask``, ``dates`` and ``multi_date`` are arguments of
        :func:`rasterclass.io.open_scene`; with ``dates`` or ``multi_date``, of
        :func:`rasterclass.io.open_dates`, one file per date), fill the gaps of the series
        when asked (:meth:`fill_gaps`), then add the derived features (from the filled
        series)."""
        recipe = self.features.check() if self.features else None
        own = ("features", "gap_fill", "valid_mask", "dates", "multi_date")
        kwargs = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in own}
        if self.dates is not None or self.multi_date:
            files = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
            scene = open_dates(files, self.dates, **kwargs)
        else:
            scene = open_scene(paths, **kwargs)
        return add_features(self.fill_gaps(scene), recipe)

    def fill_gaps(self, scene: xr.DataArray) -> xr.DataArray:
        """``scene`` gap-filled in time when ``gap_fill`` (unless it already is), else as it
        is."""
        if self.valid_mask is not None and not self.gap_fill:
            raise SceneError(
                f"a validity mask is given without gap filling: add {param('gap_fill', True)}"
            )
        if not self.gap_fill or GAP_FILL_ATTR in scene.attrs:
            return scene
        valid = None
        if self.valid_mask is not None:
            valid = open_scene(
                self.valid_mask,
                chunks=self.chunks,
                memory_budget=self.memory_budget,
                reference=self.reference,
                unscale=False,
            )
        filled = gap_fill(as_series(scene), valid)
        return filled.assign_coords(band=scene["band"].values)


def _dates(names: Sequence[str]) -> dict[np.datetime64, str]:
    """The dates of date-tagged band names, earliest first, with their labels."""
    found = {}
    for name in names:
        date = split_name(name)[1]
        if date is not None:
            found[date] = str(name).rpartition(DATE_SEP)[2]
    return dict(sorted(found.items()))


def align_dates(scene: xr.DataArray, band_names: Sequence[str]) -> xr.DataArray:
    """A multi-date scene with its dates renamed to the dates a model was trained on.

    A model trained on a multi-date stack (bands ``<band>@<date>``, see
    :func:`rasterclass.io.open_dates`) records its bands with their dates. A scene of other
    dates is matched to it by the dates' position in time: the scene's earliest date stands
    for the model's earliest date, and so on; within a date, bands are matched by their name
    without the date (as any scene is, :func:`rasterclass.stack.match_bands`). Bands without
    a date (derived features) keep their names.

    Parameters
    ----------
    scene
        A scene (dims ``("band", "y", "x")``), bands named ``<band>@<date>`` when it is a
        multi-date stack.
    band_names
        The model's bands (:attr:`rasterclass.RasterModel.band_names`).

    Returns
    -------
    xarray.DataArray
        ``scene`` (lazy if it was) with its band coordinates renamed to the model's dates;
        the same object when the model has no dates or the dates already agree.

    Raises
    ------
    SceneError
        The model was trained on several dates and the scene has none, or a different number
        of dates (the message names ``dates``: ``--date`` on the command line).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scene = xr.DataArray(np.zeros((2, 1, 1)), dims=("band", "y", "x"),
    ...                      coords={"band": ["nir@2025-05-01", "nir@2025-06-01"]})
    >>> model_bands = ["nir@2024-06-12", "nir@2024-07-03"]
    >>> [str(b) for b in align_dates(scene, model_bands).band.values]
    ['nir@2024-06-12', 'nir@2024-07-03']
    """
    want = _dates(band_names)
    if not want:
        return scene
    have_names = [str(b) for b in scene["band"].values]
    have = _dates(have_names)
    trained = f"{len(want)} date(s) ({', '.join(want.values())})"
    if not have:
        raise SceneError(
            f"the model was trained on a stack of {trained}; open the scene's files as one "
            f"file per date: {param('dates')} per file, or {param('multi_date', True)}"
        )
    if len(have) != len(want):
        raise SceneError(
            f"the model was trained on {trained}, the scene has {len(have)} "
            f"({', '.join(have.values())}): give one scene file per date of the model, "
            f"with {param('dates')} per file"
        )
    if list(have) == list(want):
        return scene
    label = dict(zip(have, want.values(), strict=True))
    logger.info("matching the scene's dates %s to the model's %s", list(have.values()), trained)
    renamed = []
    for name in have_names:
        band, date = split_name(name)
        renamed.append(name if date is None else f"{band}{DATE_SEP}{label[date]}")
    return scene.assign_coords(band=renamed)


def open_job_scene(
    scene: Sequence[PathLike] | PathLike | xr.DataArray, scene_options: SceneOptions | None
) -> xr.DataArray:
    """Open scene files, or bring a scene array to scene form (see :func:`as_scene`)."""
    if isinstance(scene, xr.DataArray):
        opts = scene_options or SceneOptions()
        return add_features(
            opts.fill_gaps(as_scene(scene, band_names=opts.band_names)), opts.features
        )
    return (scene_options or SceneOptions()).open(scene)


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


def model_scene_options(
    scene_options: SceneOptions | None, model: RasterModel
) -> SceneOptions | None:
    """Scene options that derive the features ``model`` was trained with: its recipe, with
    the band roles (``features.bands``) of ``scene_options`` when they give them."""
    if not model.features:
        return scene_options
    recipe = FeatureRecipe.from_dict(model.features)
    opts = scene_options or SceneOptions()
    if opts.features is not None and opts.features.bands is not None:
        recipe = replace(recipe, bands=opts.features.bands, roles=recipe.roles)
    return replace(opts, features=recipe)


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
