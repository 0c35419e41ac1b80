"""``areas``: the area of every class of a map, error-adjusted with a labelled sample."""

from __future__ import annotations

import time
from typing import Any

import click

from . import options
from ._base import command, echo_outputs, say

__all__ = ["areas"]


@command()
@options.map_arg()
@click.option(
    "-r",
    "--reference",
    "sample",
    type=options.FILE,
    help="Labelled stratified sample points (strata = map classes; any CRS).",
)
@click.option(
    "-c",
    "--reference-column",
    default="reference",
    show_default=True,
    help="Reference class column of the sample points.",
)
@options.output_opt("Table: .csv, .md or .json (default: print it).", required=False)
@options.layer_opt("Layer of the sample file.")
@options.chunks_opt("Chunk side in pixels for reading the map (the result does not depend on it).")
@options.overwrite_opt
def areas(map_path: str, output: str | None, overwrite: bool, **kw: Any) -> None:
    """Mapped and error-adjusted area of every class of MAP.tif, with 95% intervals."""
    from rasterclass import jobs

    started = time.perf_counter()
    result = jobs.areas_map(map_path, output=output, overwrite=overwrite, **kw)
    if output is None:
        say(result.to_markdown().rstrip())
        return
    for note in result.notes:
        say(f"note: {note}")
    echo_outputs([output], started)
