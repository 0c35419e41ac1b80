"""``assess`` and ``sample``: accuracy of a map and the sample design behind it."""

from __future__ import annotations

import time
from typing import Any

import click

from .main import command
from .options import POSITIVE, SEED, overwrite_opt


@command()
@click.argument("map_path", metavar="MAP.tif", type=click.Path(dir_okay=False))
@click.option(
    "-r",
    "--reference",
    required=True,
    type=click.Path(dir_okay=False),
    help="Reference polygons or labelled sample points (any CRS).",
)
@click.option("-c", "--class-column", required=True, help="Reference class column.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Report: .json, .md or .csv.",
)
@click.option(
    "--design",
    type=click.Choice(["stratified"]),
    help="The reference is a stratified random sample of points: area-adjusted estimates.",
)
@click.option(
    "--strata",
    type=click.Path(dir_okay=False),
    help="Raster of stratum ids when the strata are not the map classes (Stehman 2014).",
)
@click.option("--fpc", is_flag=True, help="Finite-population correction.")
@click.option(
    "--fit-diagnostic",
    is_flag=True,
    default=None,
    help="Label the report a fit diagnostic (detected automatically for training data).",
)
@click.option("--layer", help="Layer of the reference file.")
@overwrite_opt
def assess(map_path: str, output: str, overwrite: bool, **kw: Any) -> None:
    """Assess MAP.tif against reference polygons or sample points."""
    from rasterclass import jobs

    started = time.perf_counter()
    report = jobs.assess_map(map_path, output=output, overwrite=overwrite, **kw)
    stats = report.confusion
    click.echo(f"{report.title} ({report.kind}):")
    if report.area is not None:
        lo, hi = report.area.overall_accuracy_ci
        click.echo(
            f"  overall accuracy {report.area.overall_accuracy:.3f} (95% CI {lo:.3f}-{hi:.3f}), "
            f"{report.area.n_samples} sample points"
        )
    elif stats is not None:
        click.echo(
            f"  overall accuracy {stats.overall_accuracy:.3f}, kappa {stats.kappa:.3f}, "
            f"{stats.n:.0f} reference pixels"
        )
    for note in report.notes:
        click.echo(f"  note: {note}")
    click.echo(f"wrote {output}\ndone in {time.perf_counter() - started:.1f} s")


def _ua_pairs(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not CLASS=UA, e.g. water=0.9")
        name, value = item.rsplit("=", 1)
        out[name.strip()] = float(value)
    return out


@command()
@click.argument("map_path", metavar="MAP.tif", type=click.Path(dir_okay=False))
@click.option("-n", "n", type=POSITIVE, help="Total number of sample points.")
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
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option(
    "-t",
    "--training",
    type=click.Path(dir_okay=False),
    help="Training polygons to keep away from (with --min-distance).",
)
@click.option(
    "--min-distance",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Distance from training (map units).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Points (GeoPackage) with an empty 'reference' column to label.",
)
@overwrite_opt
def sample(
    map_path: str, output: str, overwrite: bool, expected_ua: tuple[str, ...], **kw: Any
) -> None:
    """Draw a stratified random sample of points from MAP.tif for accuracy assessment."""
    from rasterclass import jobs

    started = time.perf_counter()
    points = jobs.sample_map(
        map_path, output=output, overwrite=overwrite, expected_ua=_ua_pairs(expected_ua), **kw
    )
    click.echo(f"{len(points)} points per class: {points.attrs.get('allocation')}")
    click.echo(
        f"wrote {output} (fill in its 'reference' column, then run `assess --design stratified`)"
    )
    click.echo(f"done in {time.perf_counter() - started:.1f} s")


@command()
@click.argument("map_path", metavar="MAP.tif", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Figure: .png, .pdf or .svg.",
)
@overwrite_opt
def quicklook(map_path: str, output: str, overwrite: bool) -> None:
    """Render MAP.tif with its class colours and a legend."""
    from rasterclass import jobs

    click.echo(f"wrote {jobs.quicklook_map(map_path, output, overwrite=overwrite)}")
