"""Click options shared by several commands, defined once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

F = Callable[..., Any]

#: Option types that refuse impossible values while parsing, naming the option and value.
CHUNK_SIDE = click.IntRange(min=1)
SEED = click.IntRange(0, 2**32 - 1)
POSITIVE = click.IntRange(min=1)


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


def _presets() -> list[str]:
    from rasterclass import jobs

    return list(jobs.PRESETS)


def _stack(*decorators: F) -> Callable[[F], F]:
    def wrap(func: F) -> F:
        for d in reversed(decorators):
            func = d(func)
        return func

    return wrap


scene_args = _stack(
    click.argument("scene", nargs=-1, required=True, type=click.Path(dir_okay=False)),
    click.option("--band-names", help="Comma-separated band names (default: from the files)."),
    click.option(
        "--reference",
        type=click.Path(dir_okay=False),
        help="Raster whose grid every scene file is resampled onto (files on other grids).",
    ),
    click.option(
        "--resampling",
        default="nearest",
        show_default=True,
        help="Resampling for files not on the reference grid (nearest, bilinear, cubic...).",
    ),
    click.option(
        "--chunks", type=CHUNK_SIDE, help="Chunk side in pixels (default: from the budget)."
    ),
    click.option(
        "--memory-budget",
        callback=_size,
        help="Memory a run may use, e.g. 2GB (sets the chunk size when --chunks is not given).",
    ),
)

vector_args = _stack(
    click.option(
        "-t",
        "--training",
        required=True,
        type=click.Path(dir_okay=False),
        help="Training polygons or points (GeoPackage, shapefile, GeoJSON; any CRS).",
    ),
    click.option(
        "-c", "--class-column", required=True, help="Column with the class of each feature."
    ),
    click.option("--layer", help="Layer of the training file (multi-layer GeoPackage)."),
    click.option(
        "--all-touched",
        is_flag=True,
        help="Sample every pixel a polygon touches (default: pixel centre inside).",
    ),
)

training_args = _stack(
    vector_args,
    click.option(
        "-m",
        "--method",
        type=LazyChoice(_presets),
        default="rf",
        show_default=True,
        help="Classifier preset.",
    ),
    click.option(
        "-p",
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="Classifier parameter (repeatable), e.g. -p n_estimators=300.",
    ),
    click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed."),
    click.option(
        "--max-samples-per-class", type=POSITIVE, help="Cap of training pixels per class."
    ),
    click.option("--legend", type=click.Path(dir_okay=False), help="Legend CSV: code,name,color."),
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
        type=click.Path(dir_okay=False),
        help="Write the cross-validation report (.json, .md or .csv).",
    ),
)

overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")

cog_opt = click.option(
    "--cog",
    is_flag=True,
    help="Write rasters as Cloud Optimized GeoTIFFs (overviews first, for web and network "
    "drives). Without it, rasters longer than 1024 px on a side get internal overviews.",
)


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
