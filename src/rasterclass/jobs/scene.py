"""How a job opens its scene: the scene options and the scene a model is applied to.

This module owns :class:`SceneOptions` (how to open a scene: bands, chunks, reference grid,
gap filling, derived features, one file per date) with :func:`open_job_scene` (scene files
or a scene array, brought to scene form with those options), :func:`model_scene_options`
(the options that derive the features a model was trained with) and :func:`align_dates`
(a multi-date scene's dates renamed to the dates a model was trained on).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import xarray as xr

from rasterclass.errors import OptionConflictError, SceneError, param
from rasterclass.features import FeatureRecipe, add_features
from rasterclass.io import PathLike, as_scene, open_dates, open_scene, rename_bands
from rasterclass.model import RasterModel
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
        return rename_bands(filled, list(scene["band"].values))


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
    return rename_bands(scene, renamed)


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
