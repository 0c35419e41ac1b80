"""Click options and arguments shared by the commands, declared once (as rasterio's
``rio/options.py``), and the builders that read the scene and training options back.

Every command stacks the decorators it takes. An option whose help text differs from command
to command is a small factory taking that text (``output_opt("Map GeoTIFF.")``); the name,
type, default and validation stay here. Defining an option imports nothing heavy: choices
that a library module defines are loaded when first needed (:class:`LazyChoice`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rasterclass.jobs import FeatureRecipe, RunOptions, SceneOptions, TrainingOptions

F = Callable[..., Any]
Decorator = Callable[[F], F]

#: Option types that refuse impossible values while parsing, naming the option and value.
CHUNK_SIDE = click.IntRange(min=1)
SEED = click.IntRange(0, 2**32 - 1)
POSITIVE = click.IntRange(min=1)

#: A file the command reads or writes (a directory is refused).
FILE = click.Path(dir_okay=False)


def _cv_folds(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and (value == 1 or value < 0):
        raise click.BadParameter(
            f"{value} is neither 0 (no cross-validation) nor a number of folds >= 2", ctx, param
        )
    return value


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            parse_size(value)
        except click.BadParameter as exc:
            raise click.BadParameter(exc.message, ctx, param) from None
    return value


class LazyChoice(click.Choice):
    """A choice among names that a library module defines, imported when first needed
    (parsing a value, or help), so that defining the command imports nothing heavy."""

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        super().__init__([])
        self._load = load
        self._loaded: tuple[str, ...] | None = None

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        if self._loaded is None:
            self._loaded = tuple(self._load())
        return self._loaded

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        self._loaded = tuple(value) if value else None


class AliasedOption(click.Option):
    """An option that also parses under old spellings (``hidden_aliases``), which neither
    help nor messages show: they name the option by its current spelling only."""

    def __init__(
        self, param_decls: Sequence[str], *, hidden_aliases: Sequence[str] = (), **attrs: Any
    ) -> None:
        super().__init__(param_decls, **attrs)
        self.hidden_aliases = tuple(hidden_aliases)

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        shown = self.opts
        self.opts = [*shown, *self.hidden_aliases]
        try:
            super().add_to_parser(parser, ctx)
        finally:
            self.opts = shown


def _presets() -> list[str]:
    from rasterclass import jobs

    return list(jobs.PRESETS)


def stack(*decorators: Decorator) -> Decorator:
    """The decorators applied as if written one above the other, the first on top."""

    def wrap(func: F) -> F:
        for d in reversed(decorators):
            func = d(func)
        return func

    return wrap


# ------------------------------------------------------------------------------------------
# Options whose help differs per command: factories
# ------------------------------------------------------------------------------------------
def file_opt(*param_decls: str, help: str, required: bool = False) -> Decorator:
    """An option naming a file the command reads or writes (:data:`FILE`: not a directory)."""
    return click.option(*param_decls, required=required, type=FILE, help=help)


def flag_opt(*param_decls: str, help: str, default: bool | None = False) -> Decorator:
    """An on/off option (``default=None``: None unless given, for "decide automatically")."""
    return click.option(*param_decls, is_flag=True, default=default, help=help)


def output_opt(help: str, *, required: bool = True) -> Decorator:
    """``-o/--output FILE``: what the command writes."""
    return click.option("-o", "--output", required=required, type=FILE, help=help)


def map_arg(metavar: str = "MAP.tif") -> Decorator:
    """The ``MAP`` argument of commands that read a map (``map_path``)."""
    return click.argument("map_path", metavar=metavar, type=FILE)


def seed_opt(help: str = "Random seed.", *, default: int | None = 0) -> Decorator:
    """``--seed N``: the random seed (0 to 2**32 - 1); without a default when ``default`` is
    None (the command then leaves the seed to the library)."""
    shown: dict[str, Any] = {} if default is None else {"default": default, "show_default": True}
    return click.option("--seed", type=SEED, help=help, **shown)


def params_opt(help: str, *param_decls: str) -> Decorator:
    """``-p/--param NAME=VALUE`` (repeatable; ``params``), or the names given."""
    decls = param_decls or ("-p", "--param", "params")
    return click.option(*decls, multiple=True, metavar="NAME=VALUE", help=help)


def method_opt(choices: click.Choice, default: str, help: str) -> Decorator:
    """``-m/--method NAME``: the algorithm, among ``choices``."""
    return click.option(
        "-m", "--method", type=choices, default=default, show_default=True, help=help
    )


def chunks_opt(help: str = "Chunk side in pixels (default: from the budget).") -> Decorator:
    """``--chunks N``: the chunk side in pixels."""
    return click.option("--chunks", type=CHUNK_SIDE, help=help)


def model_opt(help: str, dest: str = "model_path", *, required: bool = True) -> Decorator:
    """``--model FILE``: a model file read by the command."""
    return click.option("--model", dest, required=required, type=FILE, help=help)


def segments_opt(help: str) -> Decorator:
    """``--segments FILE``: a segment raster (``segments``, the jobs' name) used instead of
    segmenting."""
    return file_opt("--segments", "segments", help=help)


def save_model_opt(help: str) -> Decorator:
    """``--save-model FILE``: also write the fitted model."""
    return click.option("--save-model", type=FILE, help=help)


def training_opt(help: str, *, required: bool = True) -> Decorator:
    """``-t/--training FILE``: training polygons or points."""
    return click.option("-t", "--training", required=required, type=FILE, help=help)


def class_column_opt(help: str) -> Decorator:
    """``-c/--class-column NAME``: the class column of a vector file."""
    return click.option("-c", "--class-column", required=True, help=help)


def layer_opt(help: str) -> Decorator:
    """``--layer NAME``: the layer of a multi-layer vector file."""
    return click.option("--layer", help=help)


def zones_opt(help: str, *, required: bool = False) -> Decorator:
    """``-z/--zones FILE``: zone polygons (fields, districts)."""
    return click.option("-z", "--zones", required=required, type=FILE, help=help)


def zone_column_opt(help: str) -> Decorator:
    """``-c/--zone-column NAME``: the zone id column of ``--zones``."""
    return click.option("-c", "--zone-column", help=help)


def n_points_opt(help: str, *, default: int | None = None) -> Decorator:
    """``-n N``: how many points to draw (``n``, at least 1); without a default when
    ``default`` is None."""
    shown: dict[str, Any] = {} if default is None else {"default": default, "show_default": True}
    return click.option("-n", "n", type=POSITIVE, help=help, **shown)


def min_distance_opt(help: str) -> Decorator:
    """``--min-distance DISTANCE``: a least distance with its unit (``min_distance``; see
    :func:`rasterclass.accuracy.draw.parse_distance`), 0 by default."""
    return click.option(
        "--min-distance",
        default="0",
        show_default=True,
        metavar="DISTANCE",
        help=f"{help} 300m, 0.3km, 10px, or a number in map units.",
    )


# ------------------------------------------------------------------------------------------
# Options the same everywhere
# ------------------------------------------------------------------------------------------
overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")

cog_opt = click.option(
    "--cog",
    is_flag=True,
    help="Write rasters as Cloud Optimized GeoTIFFs (overviews first, for web and network "
    "drives). Without it, rasters longer than 1024 px on a side get internal overviews.",
)

#: ``--zones-layer NAME``: the layer of a multi-layer ``--zones`` file.
zones_layer_opt = click.option("--zones-layer", help="Layer of a multi-layer zones file.")

#: ``-o/--output FILE``: the points that ``sample`` and ``suggest-samples`` draw, to label.
points_output_opt = output_opt("Points (GeoPackage) with an empty 'reference' column to label.")

connectivity_opt = click.option(
    "--connectivity",
    type=click.Choice(["4", "8"]),
    default="4",
    show_default=True,
    help="Pixels of one patch: 4 (edge neighbours) or 8 (also diagonal).",
)

#: ``--cog`` and ``--overwrite``: how every command that writes rasters writes them (read back
#: with the scene options by :func:`run_options`).
run_opts = stack(cog_opt, overwrite_opt)

probabilities_opt = click.option(
    "--probabilities",
    type=FILE,
    help="Also write per-class probabilities and confidence (GeoTIFF).",
)

uncertainty_opt = click.option(
    "--uncertainty",
    type=FILE,
    help="Also write the margin and normalised entropy of the class probabilities "
    "(GeoTIFF, 2 bands).",
)

aoa_opt = click.option(
    "--aoa",
    type=FILE,
    help="Also write the dissimilarity index and area of applicability (GeoTIFF, 2 bands: "
    "dissimilarity_index, aoa = 1 inside, 0 outside).",
)

#: ``--grid-like FILE``: the grid every scene file is resampled onto. ``--reference`` still
#: parses (hidden): it was this option's name before ``assess -r/--reference`` (reference
#: data) made it mean two things.
grid_like_opt = click.option(
    "--grid-like",
    "grid_like",
    cls=AliasedOption,
    hidden_aliases=["--reference"],
    type=FILE,
    help="Raster whose grid every scene file is resampled onto (files on other grids).",
)

scene_args = stack(
    click.argument("scene", nargs=-1, required=True, type=FILE),
    click.option("--band-names", help="Comma-separated band names (default: from the files)."),
    grid_like_opt,
    click.option(
        "--resampling",
        default="nearest",
        show_default=True,
        help="Resampling for files not on the reference grid (nearest, bilinear, cubic...).",
    ),
    chunks_opt(),
    click.option(
        "--memory-budget",
        callback=_size,
        help="Memory a run may use, e.g. 2GB (sets the chunk size when --chunks is not given).",
    ),
    click.option(
        "--gap-fill",
        is_flag=True,
        help="The scene is a time series with gaps (dates in the band names): interpolate "
        "masked or nodata dates per pixel, linearly in time.",
    ),
    click.option(
        "--valid-mask",
        type=FILE,
        help="With --gap-fill: raster of validity per date (1 valid, 0 cloud), e.g. IS_VALID.",
    ),
    click.option(
        "--date",
        "dates",
        multiple=True,
        metavar="DATE",
        help="The scene files are scenes of different dates, one file per date: the date of "
        "each file, in order (repeat it: --date 2024-06-12 --date 2024-07-03). The bands "
        "are named <band>@<date>.",
    ),
    click.option(
        "--multi-date",
        is_flag=True,
        help="The scene files are scenes of different dates, one file per date: read each "
        "date from the file's metadata or name.",
    ),
)

#: ``--bands``: band roles and/or a sensor preset, for the derived features.
bands_opt = click.option(
    "--bands",
    help="Band roles for indices and texture, and/or a sensor preset: red=B4,nir=B8 or "
    "landsat-tm, landsat-etm, landsat-oli, sentinel-2 (default: from the band names).",
)

#: ``--reflectance-scale``: the multiplier to reflectance that SAVI and EVI need.
reflectance_scale_opt = click.option(
    "--reflectance-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiplier to reflectance for SAVI/EVI (1e-4 for reflectance x 10000).",
)

#: The derived features of a scene (spectral indices, texture), recorded in the model.
feature_args = stack(
    click.option(
        "--indices",
        help="Spectral indices added as bands, comma-separated: ndvi, ndwi, mndwi, ndbi, "
        "savi, evi, nbr, ndre, ndmi, gndvi.",
    ),
    bands_opt,
    click.option(
        "--texture",
        help="Texture measures added as bands, comma-separated: mean, variance, "
        "glcm_contrast, glcm_homogeneity, glcm_dissimilarity.",
    ),
    click.option(
        "--texture-window",
        type=int,
        default=5,
        show_default=True,
        help="Side of the texture window in pixels (odd).",
    ),
    click.option(
        "--texture-band",
        help="Layer texture is measured on: a role (nir), an index or a band (default: nir).",
    ),
    reflectance_scale_opt,
    click.option(
        "--difference",
        "differences",
        help="With --date per file: layers differenced last date minus first, "
        "comma-separated (ndvi gives dndvi = ndvi@<last> - ndvi@<first>).",
    ),
)

vector_args = stack(
    training_opt("Training polygons or points (GeoPackage, shapefile, GeoJSON; any CRS)."),
    class_column_opt("Column with the class of each feature."),
    layer_opt("Layer of the training file (multi-layer GeoPackage)."),
    click.option(
        "--all-touched",
        is_flag=True,
        help="Sample every pixel a polygon touches (default: pixel centre inside).",
    ),
)

training_args = stack(
    vector_args,
    method_opt(LazyChoice(_presets), "rf", "Classifier preset."),
    params_opt("Classifier parameter (repeatable), e.g. -p n_estimators=300."),
    seed_opt(),
    click.option(
        "--max-samples-per-class", type=POSITIVE, help="Cap of training pixels per class."
    ),
    click.option("--legend", type=FILE, help="Legend CSV: code,name,color."),
    click.option(
        "--cv",
        "cv_folds",
        type=int,
        callback=_cv_folds,
        default=5,
        show_default=True,
        help="Folds of the cross-validation grouped by polygon (0: none).",
    ),
    click.option(
        "--cv-pixels",
        is_flag=True,
        help="Split pixels, not polygons, in the cross-validation (optimistic; for comparison).",
    ),
    click.option(
        "--report",
        type=FILE,
        help="Write the cross-validation report (.json, .md or .csv).",
    ),
)


# ------------------------------------------------------------------------------------------
# Reading the options back
# ------------------------------------------------------------------------------------------
def parse_size(text: str | None) -> float | None:
    """'2GB' -> 2e9 bytes; plain numbers are bytes."""
    if text is None:
        return None
    units = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
    t = text.strip().lower().rstrip("b").rstrip("i")
    try:
        size = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a size like 512MB or 2GB") from None
    if not size > 0 or size == float("inf"):
        raise click.BadParameter(f"{text!r} is not a positive size like 512MB or 2GB")
    return size


def scene_options(kw: dict[str, Any]) -> SceneOptions:
    """The :func:`scene_args` options, popped from a command's keyword arguments."""
    from rasterclass.jobs import SceneOptions

    names, dates = kw.pop("band_names", None), kw.pop("dates", None) or ()
    return SceneOptions(
        band_names=[n.strip() for n in names.split(",")] if names else None,
        chunks=kw.pop("chunks", None),
        memory_budget=parse_size(kw.pop("memory_budget", None)),
        reference=kw.pop("grid_like", None),
        resampling=kw.pop("resampling", "nearest"),
        features=feature_recipe(kw),
        gap_fill=kw.pop("gap_fill", False),
        valid_mask=kw.pop("valid_mask", None),
        dates=[d.strip() for v in dates for d in v.split(",") if d.strip()] or None,
        multi_date=kw.pop("multi_date", False),
    )


def feature_recipe(kw: dict[str, Any]) -> FeatureRecipe | None:
    """The :func:`feature_args` options (and ``--bands``), popped; None when none given."""
    from rasterclass.jobs import FeatureRecipe

    def items(key: str) -> tuple[str, ...]:
        return tuple(t.strip() for t in (kw.pop(key, None) or "").split(",") if t.strip())

    indices, texture, bands = items("indices"), items("texture"), kw.pop("bands", None)
    window, band = kw.pop("texture_window", 5), kw.pop("texture_band", None)
    scale, differences = kw.pop("reflectance_scale", 1.0), items("differences")
    if not (indices or texture or bands or differences):
        return None
    return FeatureRecipe(
        indices=indices,
        bands=bands,
        texture=texture,
        texture_window=window,
        texture_band=band,
        reflectance_scale=scale,
        differences=differences,
    )


def run_options(kw: dict[str, Any]) -> RunOptions:
    """The :data:`run_opts` and :data:`scene_args` options, popped from a command's keyword
    arguments, as the jobs' run keywords (:class:`rasterclass.jobs.RunOptions`; the progress
    bar comes from :func:`rasterclass.cli._base.run_job`)."""
    overwrite, cog = kw.pop("overwrite"), kw.pop("cog")
    return {"overwrite": overwrite, "scene_options": scene_options(kw), "cog": cog}


def map_run_options(kw: dict[str, Any]) -> dict[str, Any]:
    """The ``--chunks`` and :data:`run_opts` options of a command that rewrites a map, popped
    from its keyword arguments, as the map jobs' keywords (``overwrite``, ``chunks``,
    ``cog``: :func:`rasterclass.jobs.sieve_map`, :func:`rasterclass.jobs.majority_map`,
    :func:`rasterclass.relabel_map`, :func:`rasterclass.change_map`; the progress bar comes
    from :func:`rasterclass.cli._base.run_job`)."""
    overwrite, chunks, cog = kw.pop("overwrite"), kw.pop("chunks"), kw.pop("cog")
    return {"overwrite": overwrite, "chunks": chunks, "cog": cog}


def training_options(kw: dict[str, Any]) -> TrainingOptions:
    """The :func:`training_args` options, popped from a command's keyword arguments."""
    from rasterclass.jobs import TrainingOptions, parse_params

    return TrainingOptions(
        method=kw.pop("method"),
        params=parse_params(kw.pop("params")),
        seed=kw.pop("seed"),
        all_touched=kw.pop("all_touched"),
        max_per_class=kw.pop("max_samples_per_class"),
        legend=kw.pop("legend"),
        layer=kw.pop("layer"),
        cv_folds=kw.pop("cv_folds"),
        cv_grouping="pixel" if kw.pop("cv_pixels") else "polygon",
    )
