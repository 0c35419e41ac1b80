"""The ``rasterclass`` command group: its global options, the list of commands, and errors
reported as one line in the option names of the command that failed.

Startup is cheap: this module imports only click, :mod:`rasterclass.errors` and
:mod:`rasterclass.cli._base`. Commands are listed from :data:`COMMANDS` and their modules
(named for their commands: ``rasterclass.cli.train``...) imported only when one is run (or its
help asked for), and the command modules import the library (numpy, dask, xarray, rasterio,
scikit-learn...) inside the command functions, so ``rasterclass --help`` and ``--version``
answer at once. The command modules never import this module.
"""

from __future__ import annotations

import gc
import importlib
from typing import Any

import click

from rasterclass.errors import RasterclassError

from ._base import ARGV_KEY, GLOBAL_NAMES, global_options, option_renderer

__all__ = ["COMMANDS", "GLOBAL_NAMES", "cli", "main", "option_renderer"]

#: The commands: name -> (module, attribute, first line of its help). The first line is what
#: ``rasterclass --help`` lists, without importing the module (a test keeps it equal to the
#: command's docstring).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "areas": (
        "rasterclass.cli.areas",
        "areas",
        "Mapped and error-adjusted area of every class of MAP.tif, with 95% intervals.",
    ),
    "assess": (
        "rasterclass.cli.assess",
        "assess",
        "Assess MAP.tif against reference polygons or sample points.",
    ),
    "change": (
        "rasterclass.cli.change",
        "change",
        "Map where a spectral index dropped between BEFORE.tif and AFTER.tif (damage).",
    ),
    "classify": (
        "rasterclass.cli.classify",
        "classify",
        "Train on the training polygons and classify SCENE... in one go.",
    ),
    "cluster": (
        "rasterclass.cli.cluster",
        "cluster",
        "Cluster SCENE... (k-means or ISODATA) and write the cluster map.",
    ),
    "majority": (
        "rasterclass.cli.majority",
        "majority",
        "Replace every pixel of MAP.tif by the most frequent class around it.",
    ),
    "plan": (
        "rasterclass.cli.plan",
        "plan",
        "Print the grid, chunks, number of tasks and peak memory per worker of a run.",
    ),
    "polygonize": (
        "rasterclass.cli.polygonize",
        "polygonize",
        "Write the patches of MAP.tif as polygons with class and area.",
    ),
    "predict": (
        "rasterclass.cli.predict",
        "predict",
        "Apply a saved model to SCENE... and write the thematic map.",
    ),
    "quicklook": (
        "rasterclass.cli.quicklook",
        "quicklook",
        "Render MAP.tif with its class colours and a legend.",
    ),
    "relabel": (
        "rasterclass.cli.cluster",
        "relabel",
        "Turn the clusters of MAP into classes (clusters sharing a class are merged).",
    ),
    "report": (
        "rasterclass.cli.report",
        "report",
        "Write one self-contained HTML report of MAP.tif and the run's other outputs.",
    ),
    "sample": (
        "rasterclass.cli.sample",
        "sample",
        "Draw a stratified random sample of points from MAP.tif for accuracy assessment.",
    ),
    "segment": (
        "rasterclass.cli.segment",
        "segment",
        "Segment SCENE... into spectrally homogeneous objects and write their ids.",
    ),
    "sieve": (
        "rasterclass.cli.sieve",
        "sieve",
        "Remove patches smaller than a minimum mapping unit from MAP.tif.",
    ),
    "suggest-labels": (
        "rasterclass.cli.cluster",
        "suggest_labels",
        "Suggest a class for every cluster: the training class with the nearest mean spectrum.",
    ),
    "suggest-samples": (
        "rasterclass.cli.suggest_samples",
        "suggest_samples",
        "Suggest points to label next: where MAP.tif is least sure or outside its AOA.",
    ),
    "train": (
        "rasterclass.cli.train",
        "train",
        "Train a classifier on SCENE... under the training polygons and save it.",
    ),
    "zonal": (
        "rasterclass.cli.zonal",
        "zonal",
        "Area and share of every class, and layer means, per zone of MAP.tif.",
    ),
}


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
                # shortened as click shortens a command's help (its helper for a bare text is
                # deprecated): through a command that is never registered
                stub = click.Command(name, help=COMMANDS[name][2])
                rows.append((name, stub.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """The context of a run, with the command line it was given (for provenance)."""
        argv = ["rasterclass", *args]
        ctx = super().make_context(info_name, args, parent, **extra)
        ctx.meta[ARGV_KEY] = argv
        return ctx

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


cli.params[:0] = global_options()


def main() -> None:
    """The ``rasterclass`` console script (and ``python -m rasterclass``).

    The process ends as soon as the command has: the heap is frozen (:func:`gc.freeze`)
    before the interpreter shuts down. Its final garbage collections otherwise walk every
    object of scikit-learn, pandas, dask... once more, a second or more after "done" on a
    busy machine; with the heap frozen they skip them. Nothing else changes: every atexit
    handler runs, and objects freed by reference counting (open files...) are closed as before.
    """
    try:
        cli(prog_name="rasterclass")
    finally:
        gc.freeze()
