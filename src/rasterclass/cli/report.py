"""``report``: one self-contained HTML page of a run's outputs."""

from __future__ import annotations

import time

import click

from . import options
from ._base import command, echo_outputs, say

__all__ = ["report"]


@command()
@options.map_arg()
@click.option(
    "--accuracy",
    type=options.FILE,
    help="Accuracy report JSON (assess -o accuracy.json, or classify --report cv.json).",
)
@click.option(
    "--model", type=options.FILE, help="Model file (.skops): signatures, CV design, settings."
)
@click.option(
    "--uncertainty", type=options.FILE, help="Uncertainty GeoTIFF (bands margin, entropy)."
)
@click.option(
    "--aoa",
    type=options.FILE,
    help="Area-of-applicability GeoTIFF (bands dissimilarity_index, aoa).",
)
@click.option("--areas", type=options.FILE, help="Area table JSON (areas -o areas.json).")
@click.option("--json", "json_output", type=options.FILE, help="Also write the numbers as JSON.")
@click.option("--title", help="Page title (default: from the map's file name).")
@options.output_opt("HTML page (.html).")
@options.overwrite_opt
def report(
    map_path: str,
    output: str,
    accuracy: str | None,
    model: str | None,
    uncertainty: str | None,
    aoa: str | None,
    areas: str | None,
    json_output: str | None,
    title: str | None,
    overwrite: bool,
) -> None:
    """Write one self-contained HTML report of MAP.tif and the run's other outputs.

    Sections: the map and its legend, the confusion matrix (counts and area proportions),
    accuracies with 95 % intervals, class areas (mapped and adjusted), spectral signatures,
    the cross-validation design, uncertainty and area of applicability, provenance. A
    section whose input is not given says so.
    """
    from rasterclass import jobs

    started = time.perf_counter()
    result = jobs.report_map(
        map_path,
        output,
        accuracy=accuracy,
        model=model,
        uncertainty=uncertainty,
        aoa=aoa,
        areas=areas,
        json_output=json_output,
        title=title,
        overwrite=overwrite,
    )
    for key, why in result.sections["missing"].items():
        say(f"  {key}: {why}")
    echo_outputs([p for p in (output, json_output) if p], started)
