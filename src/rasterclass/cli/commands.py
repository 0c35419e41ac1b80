"""The commands: each parses options, calls one library function, reports."""

from __future__ import annotations

import time
from typing import Any

import click

from .main import cli, command, echo_summary, progress_bar, scene_options, training_options
from .options import cog_opt, overwrite_opt, scene_args, training_args

__all__ = ["classify", "cli", "predict", "train"]


@command()
@scene_args
@training_args
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Model file.")
@overwrite_opt
@click.pass_context
def train(
    ctx: click.Context,
    scene: tuple[str, ...],
    output: str,
    report: str | None,
    overwrite: bool,
    **kw: Any,
) -> None:
    """Train a classifier on SCENE... under the training polygons and save it."""
    from rasterclass import jobs

    started = time.perf_counter()
    sopts, topts = scene_options(kw), training_options(kw)
    result = jobs.train(
        list(scene),
        kw.pop("training"),
        kw.pop("class_column"),
        topts,
        scene_options=sopts,
        model_output=output,
        report_output=report,
        overwrite=overwrite,
    )
    echo_summary(result, started)


@command()
@scene_args
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Model file written by `rasterclass train`.",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Map GeoTIFF.")
@click.option(
    "--probabilities",
    type=click.Path(dir_okay=False),
    help="Also write per-class probabilities and confidence (GeoTIFF).",
)
@cog_opt
@overwrite_opt
@click.pass_context
def predict(
    ctx: click.Context,
    scene: tuple[str, ...],
    model_path: str,
    output: str,
    probabilities: str | None,
    cog: bool,
    overwrite: bool,
    **kw: Any,
) -> None:
    """Apply a saved model to SCENE... and write the thematic map."""
    from rasterclass import jobs

    started = time.perf_counter()
    with progress_bar(ctx, "classifying") as progress:
        result = jobs.predict(
            list(scene),
            model_path,
            output,
            probabilities=probabilities,
            overwrite=overwrite,
            scene_options=scene_options(kw),
            progress=progress,
            cog=cog,
        )
    echo_summary(result, started)


@command()
@scene_args
@training_args
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Map GeoTIFF.")
@click.option(
    "--probabilities",
    type=click.Path(dir_okay=False),
    help="Also write per-class probabilities and confidence (GeoTIFF).",
)
@click.option("--save-model", type=click.Path(dir_okay=False), help="Also save the model.")
@click.option("--object-based", is_flag=True, help="Classify segments (objects), not pixels.")
@click.option(
    "--segments",
    "segments_path",
    type=click.Path(dir_okay=False),
    help="Segment raster from `rasterclass segment` (default: segment the scene).",
)
@click.option(
    "--segment-method",
    type=click.Choice(["shepherd", "slic", "felzenszwalb"]),
    default="shepherd",
    show_default=True,
    help="Segmentation when --segments is not given.",
)
@click.option(
    "--segment-param",
    "segment_params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Segmentation parameter (repeatable), e.g. --segment-param min_size=50.",
)
@click.option(
    "--min-overlap",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Share of a segment's pixels a training class must cover to label it.",
)
@cog_opt
@overwrite_opt
@click.pass_context
def classify(
    ctx: click.Context,
    scene: tuple[str, ...],
    output: str,
    probabilities: str | None,
    save_model: str | None,
    report: str | None,
    object_based: bool,
    segments_path: str | None,
    segment_method: str,
    segment_params: tuple[str, ...],
    min_overlap: float,
    cog: bool,
    overwrite: bool,
    **kw: Any,
) -> None:
    """Train on the training polygons and classify SCENE... in one go.

    With --object-based the scene is segmented (or --segments is used), each segment is
    described (band statistics, size, shape) and the segments are classified.
    """
    from rasterclass import jobs

    started = time.perf_counter()
    sopts, topts = scene_options(kw), training_options(kw)
    if not object_based and (segments_path or segment_params):
        raise click.UsageError("--segments and --segment-param need --object-based")
    common: dict[str, Any] = {
        "probabilities": probabilities,
        "model_output": save_model,
        "report_output": report,
        "overwrite": overwrite,
        "scene_options": sopts,
        "cog": cog,
    }
    if object_based:
        job: Any = jobs.classify_objects
        common.update(
            segments=segments_path,
            segment_method=segment_method,
            segment_params=jobs.parse_params(segment_params),
            min_overlap=min_overlap,
        )
    else:
        job = jobs.classify
    with progress_bar(ctx, "classifying") as progress:
        result = job(
            list(scene),
            kw.pop("training"),
            kw.pop("class_column"),
            output,
            topts,
            progress=progress,
            **common,
        )
    echo_summary(result, started)
