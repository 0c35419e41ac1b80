"""``zonal``: class areas, shares and layer means per zone of a class map."""

from __future__ import annotations

import time

import click

from . import options
from ._base import command, echo_outputs, run_job, say

__all__ = ["zonal"]


@command()
@options.map_arg()
@options.zones_opt("Zone polygons (districts, fields), any CRS.", required=True)
@options.zone_column_opt(
    "Zone id column (rows sharing an id are one zone; default: row number 1, 2, ...)."
)
@click.option(
    "-l",
    "--layer",
    "layers",
    multiple=True,
    metavar="RASTER[:BAND]",
    help="Raster on the map's grid to average per zone (probability, NDVI...): every band, "
    "or one band by name or number after a colon. Repeatable.",
)
@options.zones_layer_opt
@options.output_opt(
    "Summary: a table (.csv, .json, .md) or the zones with their summary columns "
    "(.gpkg, .geojson, .fgb). Default: print it.",
    required=False,
)
@options.chunks_opt("Chunk side in pixels for reading the map (the result does not depend on it).")
@options.overwrite_opt
def zonal(
    map_path: str,
    zones: str,
    zone_column: str | None,
    layers: tuple[str, ...],
    zones_layer: str | None,
    output: str | None,
    chunks: int | None,
    overwrite: bool,
) -> None:
    """Area and share of every class, and layer means, per zone of MAP.tif."""
    from rasterclass import jobs

    started = time.perf_counter()
    table = run_job(
        "zones",
        jobs.zonal_map,
        map_path,
        zones,
        zone_column,
        output=output,
        overwrite=overwrite,
        layers=list(layers),
        zones_layer=zones_layer,
        chunks=chunks,
    )
    if output is None:
        say(jobs.render_zonal(table, "markdown").rstrip())
        return
    say(f"{len(table)} zones, {int(table['valid_pixels'].sum())} valid pixels counted")
    for note in table.attrs.get("notes", []):
        say(f"note: {note}")
    echo_outputs([output], started)
