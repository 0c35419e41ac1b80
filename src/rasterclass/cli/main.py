"""``rasterclass`` command group: global options, logging, error reporting, progress bars.

Startup is cheap: this module imports only click and :mod:`rasterclass.errors`. Commands are
listed from :data:`COMMANDS` and their modules imported only when one is run (or its help
asked for), and the command modules import the library (numpy, dask, xarray, rasterio,
scikit-learn...) inside the command functions, so ``rasterclass --help`` and ``--version``
answer at once.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from rasterclass.errors import ParamRenderer, RasterclassError, RasterclassWarning

if TYPE_CHECKING:
    from rasterclass.jobs import SceneOptions, TrainingOptions

logger = logging.getLogger("rasterclass")

F = Callable[..., Any]

#: The commands: name -> (module, attribute, first line of its help). The first line is what
#: ``rasterclass --help`` lists, without importing the module (a test keeps it equal to the
#: command's docstring).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "assess": (
        "rasterclass.cli.cmd_accuracy",
        "assess",
        "Assess MAP.tif against reference polygons or sample points.",
    ),
    "classify": (
        "rasterclass.cli.commands",
        "classify",
        "Train on the training polygons and classify SCENE... in one go.",
    ),
    "cluster": (
        "rasterclass.cli.cmd_cluster",
        "cluster",
        "Cluster SCENE... (k-means or ISODATA) and write the cluster map.",
    ),
    "plan": (
        "rasterclass.cli.cmd_plan",
        "plan",
        "Print the grid, chunks, number of tasks and peak memory per worker of a run.",
    ),
    "predict": (
        "rasterclass.cli.commands",
        "predict",
        "Apply a saved model to SCENE... and write the thematic map.",
    ),
    "quicklook": (
        "rasterclass.cli.cmd_accuracy",
        "quicklook",
        "Render MAP.tif with its class colours and a legend.",
    ),
    "relabel": (
        "rasterclass.cli.cmd_cluster",
        "relabel",
        "Turn the clusters of MAP into classes (clusters sharing a class are merged).",
    ),
    "sample": (
        "rasterclass.cli.cmd_accuracy",
        "sample",
        "Draw a stratified random sample of points from MAP.tif for accuracy assessment.",
    ),
    "segment": (
        "rasterclass.cli.cmd_objects",
        "segment",
        "Segment SCENE... into spectrally homogeneous objects and write their ids.",
    ),
    "suggest-labels": (
        "rasterclass.cli.cmd_cluster",
        "suggest_labels",
        "Suggest a class for every cluster: the training class with the nearest mean spectrum.",
    ),
    "train": (
        "rasterclass.cli.commands",
        "train",
        "Train a classifier on SCENE... under the training polygons and save it.",
    ),
}

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
        "segments": "segments_path",
        "segment_method": "segment_method",
    },
    "predict": {"model": "model_path"},
    "cluster": {"model_output": "save_model", "statistics": "stats"},
    "suggest-labels": {"model": "clusters"},
    "plan": {"model": "model_path", "n_classes": "n_classes"},
}


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
def _global_options() -> list[click.Option]:
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
    anywhere, --scheduler/--workers given after the command win (the last one given)."""
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
    scheduler, workers = obj.get("scheduler"), obj.get("workers")
    if scheduler or workers:
        from rasterclass import jobs

        ctx.with_resource(jobs.compute_on(scheduler, workers))


class Command(click.Command):
    """A rasterclass command: takes the global options too, and sets up the run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_global_options())

    def invoke(self, ctx: click.Context) -> Any:
        _set_up(ctx, _merge_globals(ctx))
        return super().invoke(ctx)


def command(name: str | None = None, **kwargs: Any) -> Callable[[F], Command]:
    """``@command()``: a click command of class :class:`Command` (global options included)."""
    return click.command(name, cls=Command, **kwargs)  # type: ignore[return-value]


class _Group(click.Group):
    """Commands imported when used; RasterclassError becomes one clear line (a traceback
    only with -v), in the option names of the command that failed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attr, _ = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from :data:`COMMANDS` for commands not imported yet."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands:
                cmd = self.commands[name]
                if cmd.hidden:
                    continue
                rows.append((name, cmd.get_short_help_str(limit)))
            else:
                rows.append((name, click.utils.make_default_short_help(COMMANDS[name][2], limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RasterclassError as exc:
            if ctx.obj and ctx.obj.get("verbose", 0) > 0:
                raise
            click.echo(f"Error: {self.message(ctx, exc)}", err=True)
            ctx.exit(1)

    def message(self, ctx: click.Context, exc: RasterclassError) -> str:
        """The error's message in the option names of the command that raised it."""
        name = ctx.invoked_subcommand
        cmd = self.commands.get(name) if name else None
        return exc.render(option_renderer(cmd) if cmd is not None else None)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rasterclass")
@click.pass_context
def cli(ctx: click.Context, **options: Any) -> None:
    """Remote-sensing raster classification for scenes of any size.

    The options below may also come after the command: rasterclass classify ... -v
    """
    ctx.obj = {
        "verbose": options.get("verbose") or 0,
        "quiet": bool(options.get("quiet")),
        "scheduler": options.get("scheduler"),
        "workers": options.get("workers"),
    }


cli.params[:0] = _global_options()


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


@contextmanager
def progress_bar(ctx: click.Context, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A click progress bar fed by the writer's (done, total) callback."""
    if ctx.find_root().obj.get("quiet"):
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
    from rasterclass.jobs import SceneOptions

    from .options import parse_size

    names = kw.pop("band_names", None)
    return SceneOptions(
        band_names=[n.strip() for n in names.split(",")] if names else None,
        chunks=kw.pop("chunks", None),
        memory_budget=parse_size(kw.pop("memory_budget", None)),
        reference=kw.pop("reference", None),
        resampling=kw.pop("resampling", "nearest"),
    )


def training_options(kw: dict[str, Any]) -> TrainingOptions:
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
    """The ``rasterclass`` console script."""
    cli(prog_name="rasterclass")
