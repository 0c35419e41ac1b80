"""``rasterclass`` command group: logging, error reporting, progress bars."""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from rasterclass.errors import RasterclassError, RasterclassWarning
from rasterclass.pipeline import SceneOptions, TrainingOptions

from .options import parse_size

logger = logging.getLogger("rasterclass")


class _Group(click.Group):
    """Turns RasterclassError into one clear line (a traceback only with -v)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RasterclassError as exc:
            if ctx.obj and ctx.obj.get("verbose", 0) > 0:
                raise
            # errors that know the command line word their fix with its option names
            click.echo(f"Error: {getattr(exc, 'cli_message', None) or exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More output (-vv for debug); tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option(
    "--scheduler", metavar="ADDRESS", help="Run on this dask.distributed scheduler (tcp://...)."
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Run on a local cluster of N worker processes."
)
@click.version_option(package_name="rasterclass")
@click.pass_context
def cli(
    ctx: click.Context, verbose: int, quiet: bool, scheduler: str | None, workers: int | None
) -> None:
    """Remote-sensing raster classification for scenes of any size."""
    level = (
        logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("rasterclass")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    ctx.with_resource(warnings.catch_warnings())  # restored when the command ends
    warnings.simplefilter("always" if not quiet else "ignore", RasterclassWarning)
    warnings.showwarning = _show_warning
    ctx.obj = {"verbose": verbose, "quiet": quiet}
    if scheduler or workers:
        from rasterclass.parallel import compute_on

        ctx.with_resource(compute_on(scheduler, workers))


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    if issubclass(category, RasterclassWarning):
        click.echo(f"Warning: {getattr(message, 'cli_message', None) or message}", err=True)
    else:
        logger.debug("%s: %s", category.__name__, message)


@contextmanager
def progress_bar(ctx: click.Context, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A click progress bar fed by the writer's (done, total) callback."""
    if ctx.obj.get("quiet"):
        yield None
        return
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr)
            state["bar"].__enter__()
        bar = state["bar"]
        bar.update(done - bar.pos)

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)


def scene_options(kw: dict[str, Any]) -> SceneOptions:
    names = kw.pop("band_names", None)
    return SceneOptions(
        band_names=[n.strip() for n in names.split(",")] if names else None,
        chunks=kw.pop("chunks", None),
        memory_budget=parse_size(kw.pop("memory_budget", None)),
        reference=kw.pop("reference", None),
        resampling=kw.pop("resampling", "nearest"),
    )


def training_options(kw: dict[str, Any]) -> TrainingOptions:
    from rasterclass.estimators.presets import parse_params

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


def echo_summary(result: Any, started: float) -> None:
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().obj and ctx.find_root().obj.get("quiet"):
        return
    samples = result.samples
    if samples is not None:
        counts = samples.counts()
        unit = "segments" if samples.info.get("object_based") else "px"
        what = "training segments" if unit == "segments" else "training pixels"
        click.echo(f"{len(counts)} classes, {len(samples)} {what}:")
        for row in counts.itertuples():
            click.echo(
                f"  {row.Index:>4}  {row.name:<24} {row.pixels:>8} {unit} "
                f"{row.polygons:>5} polygons"
            )
        info = samples.info
        for key, text in (
            ("contested_pixels", "pixels under polygons of different classes, dropped"),
            ("overlap_pixels_merged", "pixels under several polygons of one class, kept once"),
            ("duplicate_features_removed", "duplicated features removed"),
            ("features_without_class", "features without a class, ignored"),
        ):
            if info.get(key):
                click.echo(f"  {info[key]} {text}")
    report = getattr(result, "accuracy", None)
    if report is not None and report.confusion is not None:
        stats = report.confusion
        lo, hi = stats.kappa_ci
        click.echo(
            f"{report.title}: overall accuracy {stats.overall_accuracy:.3f}, "
            f"kappa {stats.kappa:.3f} (95% CI {lo:.3f}-{hi:.3f})"
        )
        for note in report.notes:
            if note.startswith("pixel-level"):
                click.echo(f"  note: {note}")
    for path in result.outputs:
        click.echo(f"wrote {path}")
    click.echo(f"done in {time.perf_counter() - started:.1f} s")


def main() -> None:
    from . import commands  # noqa: F401  (registers the commands)

    cli(prog_name="rasterclass")
