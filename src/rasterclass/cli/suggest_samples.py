"""``suggest-samples``: points to label next, where a map is least sure or outside its AOA."""

from __future__ import annotations

import time
from typing import Any

import click

from . import options
from ._base import command, say

__all__ = ["suggest_samples"]


@command("suggest-samples")
@options.map_arg()
@options.file_opt(
    "--uncertainty",
    required=True,
    help="The map's uncertainty layers (predict/classify --uncertainty).",
)
@options.file_opt("--aoa", help="The map's AOA layers (predict/classify --aoa).")
@options.n_points_opt("Number of points.", default=50)
@options.min_distance_opt("Least distance between points:")
@click.option(
    "--min-per-class",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Least points per mapped class (the rest in proportion to mapped area).",
)
@options.seed_opt("Seed of the tie-break between equally ranked pixels.")
@options.points_output_opt
@options.overwrite_opt
def suggest_samples(map_path: str, output: str, overwrite: bool, **kw: Any) -> None:
    """Suggest points to label next: where MAP.tif is least sure or outside its AOA.

    Pixels outside the area of applicability come first, then those with the smallest
    margin between the two likeliest classes; points are stratified by mapped class and kept
    at least --min-distance apart.
    """
    from rasterclass import jobs

    started = time.perf_counter()
    points = jobs.suggest_samples_map(map_path, output=output, overwrite=overwrite, **kw)
    say(f"{len(points)} points per class: {points.attrs.get('allocation')}")
    if points.attrs.get("short"):
        say(f"fewer than asked (too few pixels far enough apart): {points.attrs['short']}")
    outside = int(points["outside_aoa"].sum())
    say(f"{outside} outside the area of applicability")
    say(f"wrote {output} (fill in its 'reference' column, then retrain)")
    say(f"done in {time.perf_counter() - started:.1f} s")
