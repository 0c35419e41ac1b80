"""``change``: a before/after change map (dNDVI, damaged class) and the damage per field."""

from __future__ import annotations

import time
from typing import Any

import click

from . import options
from ._base import command, echo_outputs, run_job, say

__all__ = ["change"]


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


@command()
@click.argument("before", type=options.FILE)
@click.argument("after", type=options.FILE)
@click.option(
    "--dates",
    help="The two acquisition dates, BEFORE first: 2024-06-12,2024-07-03 (default: from "
    "the files' metadata or names).",
)
@click.option(
    "--index",
    default="ndvi",
    show_default=True,
    help="Spectral index compared: ndvi, nbr, ndmi, evi, savi...",
)
@click.option(
    "--threshold",
    type=float,
    default=-0.15,
    show_default=True,
    help="A pixel whose index changed by less than this (after - before) is damaged.",
)
@options.bands_opt
@options.reflectance_scale_opt
@click.option(
    "--mask-classes",
    help="Assess only these classes of --map, comma-separated (cropland,stressed_cropland).",
)
@click.option(
    "--map",
    "map_path",
    type=options.FILE,
    help="Land-cover map on the scenes' grid, for --mask-classes.",
)
@options.zones_opt("Field polygons (any CRS): assess only inside them; --per-zone summarises each.")
@options.zone_column_opt("Zone id column (default: row number 1, 2, ...).")
@options.zones_layer_opt
@click.option(
    "--difference", type=options.FILE, help="Also write the index difference (float32 GeoTIFF)."
)
@click.option(
    "--per-zone",
    type=options.FILE,
    help="Write damaged area (ha) and share per zone: .csv, .parquet, or the zones "
    "(.gpkg, .geojson, .fgb).",
)
@options.grid_like_opt
@options.output_opt("Change map GeoTIFF: 1 no_change, 2 damaged, 0 nodata or outside the mask.")
@options.chunks_opt("Chunk side in pixels (the result does not depend on it).")
@options.run_opts
def change(
    before: str,
    after: str,
    dates: str | None,
    index: str,
    threshold: float,
    bands: str | None,
    reflectance_scale: float,
    mask_classes: str | None,
    map_path: str | None,
    zones: str | None,
    zone_column: str | None,
    zones_layer: str | None,
    difference: str | None,
    per_zone: str | None,
    grid_like: str | None,
    output: str,
    **kw: Any,
) -> None:
    """Map where a spectral index dropped between BEFORE.tif and AFTER.tif (damage)."""
    from rasterclass import jobs

    started = time.perf_counter()
    result = run_job(
        "change map",
        jobs.change_map,
        before,
        after,
        output,
        difference=difference,
        per_zone=per_zone,
        dates=_split(dates) if dates else None,
        index=index,
        threshold=threshold,
        bands=bands,
        reflectance_scale=reflectance_scale,
        mask_classes=_split(mask_classes),
        map_path=map_path,
        zones=zones,
        zone_column=zone_column,
        zones_layer=zones_layer,
        reference=grid_like,
        **options.map_run_options(kw),
    )
    table = result.per_zone
    if table is not None:
        hit = table[table["damaged_pixels"] > 0]
        say(
            f"{len(hit)} of {len(table)} zones with damage: {table['damaged_ha'].sum():.1f} ha "
            f"of {table['valid_ha'].sum():.1f} ha"
        )
    echo_outputs(result.outputs, started)
