"""What every command is made of: the :class:`Command` class and its ``@command()`` decorator
(global options, logging, warnings, the dask cluster of a run), library messages in the
command's option names, the progress bar and the run summary.

The command modules import this module and :mod:`rasterclass.cli.options`, never
:mod:`rasterclass.cli.main` (which imports them): there is no import cycle. Like ``main``,
it imports only click and :mod:`rasterclass.errors`.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from rasterclass.errors import ParamRenderer, RasterclassWarning

logger = logging.getLogger("rasterclass")

F = Callable[..., Any]
R = TypeVar("R")

#: Where the group's context keeps the command line of the run (``ctx.meta``), recorded in
#: the provenance sidecars of its outputs.
ARGV_KEY = "rasterclass.argv"

#: Library parameter names that a command spells differently. A value starting with ``-`` is
#: written as it stands (``-p NAME=`` for a parameter passed through ``-p``); any other
#: value is the name of the command's click parameter, written as its long option. Names
#: not listed here are looked up among the command's options by the same name (``cv_folds``
#: is ``--cv``, ``probabilities`` is ``--probabilities``); what is still unknown goes through
#: ``-p NAME=`` where the command has ``-p``.
OPTION_NAMES: dict[str, dict[str, str]] = {
    "train": {
        "model_output": "output",
        "report_output": "report",
        "max_per_class": "max_samples_per_class",
        "cv_grouping": "cv_pixels",
    },
    "classify": {
        "model_output": "save_model",
        "report_output": "report",
        "max_per_class": "max_samples_per_class",
        "cv_grouping": "cv_pixels",
        "segment_method": "segment_method",
        "objects": "object_based",
    },
    "predict": {"model": "model_path"},
    "cluster": {"model_output": "save_model", "statistics": "stats"},
    "suggest-labels": {"model": "clusters"},
    "plan": {"model": "model_path", "n_classes": "n_classes"},
}

#: Library parameter names spelled differently by every command that has the option: the
#: library's grid ``reference`` is ``--grid-like`` (``--reference`` is ``assess``'s data).
SCENE_OPTION_NAMES: dict[str, str] = {"reference": "grid_like"}


def _segmentation_params() -> list[str]:
    from rasterclass import jobs

    return sorted({name for params in jobs.SEGMENT_PARAMS.values() for name in params})


def option_renderer(command: click.Command) -> ParamRenderer:
    """How ``command`` writes a library parameter name: its option (``cv_folds`` -> ``--cv``).

    The CLI turns library messages (Python parameter names, see
    :func:`rasterclass.errors.param`) into messages in its own option names with this.
    """
    table = dict(OPTION_NAMES.get(command.name or "", {}))
    options = {p.name: p for p in command.params if isinstance(p, click.Option) and p.name}
    for name, option_name in SCENE_OPTION_NAMES.items():
        if option_name in options:
            table.setdefault(name, option_name)
    if command.name == "classify" and "segment_params" in options:
        # segmentation parameters travel through --segment-param, classifier ones through -p
        table.update(dict.fromkeys(_segmentation_params(), "--segment-param {}="))

    def render(name: str, value: str | None) -> str | None:
        spec = table.get(name, name)
        if spec.startswith("-"):
            return spec.format(name) + (value or "") if spec.endswith("=") else spec
        option = options.get(spec)
        if option is None:
            params = options.get("params")
            return f"{_long(params)} {name}={value or ''}" if params is not None else None
        flag = _long(option)
        if option.is_flag:
            return f"without {flag}" if value == "False" else flag
        return f"{flag} {value}" if value else flag

    return render


def _long(option: click.Parameter) -> str:
    """An option's name as messages write it: the long form, or its only form."""
    opts = list(option.opts)
    longs = [o for o in opts if o.startswith("--")]
    if option.name == "params" or not longs:
        return min(opts, key=len)  # -p, -n, -k: what users type
    return longs[0]


# ------------------------------------------------------------------------------------------
# Global options: before or after the command
# ------------------------------------------------------------------------------------------
def global_options() -> list[click.Option]:
    """-v/-q/--scheduler/--workers, defined once for the group and for every command."""
    return [
        click.Option(
            ["-v", "--verbose"], count=True, help="More output (-vv for debug); tracebacks."
        ),
        click.Option(["-q", "--quiet"], is_flag=True, help="Only errors."),
        click.Option(
            ["--scheduler"],
            metavar="ADDRESS",
            help="Run on this dask.distributed scheduler (tcp://...).",
        ),
        click.Option(
            ["--workers"],
            type=click.IntRange(min=1),
            help="Run on a local cluster of N worker processes.",
        ),
    ]


GLOBAL_NAMES = ("verbose", "quiet", "scheduler", "workers")


def _merge_globals(ctx: click.Context) -> dict[str, Any]:
    """Merge a command's global options into the group's: -v counts add up, -q holds if given
    anywhere, --scheduler/--workers given after the command win (the last one given).
    -q with -v is refused; --scheduler with --workers by :func:`rasterclass.jobs.compute_on`
    when the run sets up its cluster."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {"verbose": 0, "quiet": False, "scheduler": None, "workers": None}
    obj: dict[str, Any] = root.obj
    if ctx is not root:
        mine = {name: ctx.params.pop(name, None) for name in GLOBAL_NAMES}
        obj["verbose"] = obj.get("verbose", 0) + (mine["verbose"] or 0)
        obj["quiet"] = bool(obj.get("quiet")) or bool(mine["quiet"])
        for name in ("scheduler", "workers"):
            if mine[name] is not None:
                obj[name] = mine[name]
    if obj.get("quiet") and obj.get("verbose"):
        # not a library error: under -v those become tracebacks
        raise click.UsageError(
            "-q/--quiet (only errors) and -v/--verbose (more output) contradict each other: "
            "give one of them",
            ctx,
        )
    return obj


def _set_up(ctx: click.Context, obj: Mapping[str, Any]) -> None:
    """Logging, warnings and the dask cluster of a run, undone when the command ends."""
    verbose, quiet = int(obj.get("verbose") or 0), bool(obj.get("quiet"))
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
    warnings.showwarning = _warning_printer(ctx.command)
    from rasterclass import jobs

    ctx.with_resource(jobs.command_line(ctx.find_root().meta.get(ARGV_KEY)))
    scheduler, workers = obj.get("scheduler"), obj.get("workers")
    if scheduler or workers:
        ctx.with_resource(jobs.compute_on(scheduler, workers))


class Command(click.Command):
    """A rasterclass command: takes the global options too, and sets up the run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options())

    def invoke(self, ctx: click.Context) -> Any:
        _set_up(ctx, _merge_globals(ctx))
        return super().invoke(ctx)


def command(name: str | None = None, **kwargs: Any) -> Callable[[F], Command]:
    """``@command()``: a click command of class :class:`Command` (global options included)."""
    return click.command(name, cls=Command, **kwargs)  # type: ignore[return-value]


def _warning_printer(command: click.Command) -> Callable[..., None]:
    """Print RasterclassWarnings as one line in the command's option names (from any thread);
    other warnings go to the debug log."""
    render = option_renderer(command)

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, RasterclassWarning):
            text = message.render(render) if isinstance(message, RasterclassWarning) else message
            click.echo(f"Warning: {text}", err=True)
        else:
            logger.debug("%s: %s", category.__name__, message)

    return show


# ------------------------------------------------------------------------------------------
# Reporting a run
# ------------------------------------------------------------------------------------------
@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A click progress bar fed by the writer's (done, total) callback (none under ``-q``)."""
    if quiet():
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


def run_job(label: str, job: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """``job(*args, **kwargs)`` under a progress bar labelled ``label``, fed through the job's
    ``progress`` keyword (not passed under ``-q``: no bar); the job's result."""
    with progress_bar(label) as progress:
        if progress is not None:
            kwargs["progress"] = progress
        return job(*args, **kwargs)


def quiet() -> bool:
    """Whether ``-q`` asked for errors only (before or after the command)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return bool(obj and obj.get("quiet"))


def say(message: str = "") -> None:
    """Echo a summary or progress line, unless ``-q`` asked for errors only."""
    if not quiet():
        click.echo(message)


def echo_summary(result: Any, started: float) -> None:
    if quiet():
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
    echo_outputs(result.outputs, started)


def echo_outputs(outputs: list[str], started: float) -> None:
    """Name every file written, then the run's duration since ``started``."""
    for path in outputs:
        say(f"wrote {path}")
    say(f"done in {time.perf_counter() - started:.1f} s")
