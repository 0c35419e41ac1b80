"""``polygonize``: the patches of a class map as polygons."""

from __future__ import annotations

import math
import time

import click

from . import options
from ._base import command, echo_outputs, say

__all__ = ["polygonize"]


@command()
@options.map_arg()
@options.output_opt("Vector file (.gpkg, .shp, .geojson, .fgb) in the map's CRS.")
@click.option("--dissolve", is_flag=True, help="One (multi)polygon per class, not per patch.")
@options.connectivity_opt
@options.chunks_opt("Chunk side in pixels.")
@options.overwrite_opt
def polygonize(
    map_path: str,
    output: str,
    dissolve: bool,
    connectivity: str,
    chunks: int | None,
    overwrite: bool,
) -> None:
    """Write the patches of MAP.tif as polygons with class and area."""
    from rasterclass import jobs

    started = time.perf_counter()
    result = jobs.polygonize_map(
        map_path,
        output,
        dissolve=dissolve,
        connectivity=int(connectivity),
        overwrite=overwrite,
        chunks=chunks,
    )
    say(f"{result.info['features']} polygons")
    for name, area in result.info["area_ha"].items():
        size = (
            f"{area:>14.4f} ha" if math.isfinite(area) else f"{result.info['pixels'][name]:>14} px"
        )
        say(f"  {name:<16} {size}")
    echo_outputs(result.outputs, started)
