"""``sample``: a stratified random sample of points from a map, for accuracy assessment."""

from __future__ import annotations

import time
from typing import Any

import click

from . import options
from ._base import command, say

__all__ = ["sample"]


def _ua_pairs(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not CLASS=UA, e.g. water=0.9")
        name, value = item.rsplit("=", 1)
        out[name.strip()] = float(value)
    return out


@command()
@options.map_arg()
@options.n_points_opt("Total number of sample points.")
@click.option(
    "--target-se",
    type=click.FloatRange(0, 1, min_open=True),
    help="Target standard error of overall accuracy.",
)
@click.option(
    "--expected-ua",
    multiple=True,
    metavar="CLASS=UA",
    help="Anticipated user's accuracy of a class (repeatable; others: --default-ua).",
)
@click.option(
    "--default-ua", type=click.FloatRange(0, 1, min_open=True), default=0.9, show_default=True
)
@click.option(
    "--allocation",
    default="proportional",
    show_default=True,
    help="proportional, equal, or min:N (at least N points per class).",
)
@options.seed_opt()
@options.training_opt("Training polygons to keep away from (with --min-distance).", required=False)
@options.min_distance_opt("Least distance from the training polygons:")
@options.points_output_opt
@options.overwrite_opt
def sample(
    map_path: str, output: str, overwrite: bool, expected_ua: tuple[str, ...], **kw: Any
) -> None:
    """Draw a stratified random sample of points from MAP.tif for accuracy assessment."""
    from rasterclass import jobs

    started = time.perf_counter()
    points = jobs.sample_map(
        map_path, output=output, overwrite=overwrite, expected_ua=_ua_pairs(expected_ua), **kw
    )
    say(f"{len(points)} points per class: {points.attrs.get('allocation')}")
    say(f"wrote {output} (fill in its 'reference' column, then run `assess --design stratified`)")
    say(f"done in {time.perf_counter() - started:.1f} s")
