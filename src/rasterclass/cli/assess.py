"""``assess``: the accuracy of a map against reference polygons or labelled sample points."""

from __future__ import annotations

import time
from typing import Any

import click

from . import options
from ._base import command, echo_outputs, say

__all__ = ["assess"]


@command()
@options.map_arg()
@options.file_opt(
    "-r",
    "--reference",
    required=True,
    help="Reference polygons or labelled sample points (any CRS).",
)
@options.class_column_opt("Reference class column.")
@options.output_opt("Report: .json, .md or .csv.")
@click.option(
    "--design",
    type=click.Choice(["stratified"]),
    help="The reference is a stratified random sample of points: area-adjusted estimates.",
)
@options.file_opt(
    "--strata", help="Raster of stratum ids when the strata are not the map classes (Stehman 2014)."
)
@options.flag_opt("--fpc", help="Finite-population correction.")
@options.flag_opt(
    "--fit-diagnostic",
    default=None,
    help="Label the report a fit diagnostic (detected automatically for training data).",
)
@options.layer_opt("Layer of the reference file.")
@options.overwrite_opt
def assess(map_path: str, output: str, overwrite: bool, **kw: Any) -> None:
    """Assess MAP.tif against reference polygons or sample points."""
    from rasterclass import jobs

    started = time.perf_counter()
    report = jobs.assess_map(map_path, output=output, overwrite=overwrite, **kw)
    stats = report.confusion
    say(f"{report.title} ({report.kind}):")
    if report.area is not None:
        lo, hi = report.area.overall_accuracy_ci
        say(
            f"  overall accuracy {report.area.overall_accuracy:.3f} (95% CI {lo:.3f}-{hi:.3f}), "
            f"{report.area.n_samples} sample points"
        )
    elif stats is not None:
        say(
            f"  overall accuracy {stats.overall_accuracy:.3f}, kappa {stats.kappa:.3f}, "
            f"{stats.n:.0f} reference pixels"
        )
    for note in report.notes:
        say(f"  note: {note}")
    echo_outputs([output], started)
