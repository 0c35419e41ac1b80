"""``majority``: a class map smoothed with a majority (modal) filter."""

from __future__ import annotations

import time
from typing import Any

import click

from . import options
from ._base import command, echo_outputs, run_job

__all__ = ["majority"]


@command()
@options.map_arg()
@click.option(
    "--size",
    type=int,
    default=3,
    show_default=True,
    help="Window side in pixels (odd, 3 or more). Ties keep the centre class.",
)
@options.output_opt("Filtered map GeoTIFF (same classes, colours and styles).")
@options.chunks_opt("Chunk side in pixels.")
@options.run_opts
def majority(
    map_path: str,
    size: int,
    output: str,
    **kw: Any,
) -> None:
    """Replace every pixel of MAP.tif by the most frequent class around it."""
    from rasterclass import jobs

    started = time.perf_counter()
    result = run_job(
        "filtering", jobs.majority_map, map_path, output, size=size, **options.map_run_options(kw)
    )
    echo_outputs(result.outputs, started)
