"""``classify``: train and classify a scene in one go, per pixel or per segment (object)."""

from __future__ import annotations

import time
from typing import Any

import click

from ._base import command, echo_summary, run_job
from .options import (
    aoa_opt,
    feature_args,
    file_opt,
    flag_opt,
    output_opt,
    params_opt,
    probabilities_opt,
    run_options,
    run_opts,
    save_model_opt,
    scene_args,
    training_args,
    training_options,
    uncertainty_opt,
)

__all__ = ["classify"]


@command()
@scene_args
@feature_args
@training_args
@output_opt("Map GeoTIFF.")
@probabilities_opt
@uncertainty_opt
@aoa_opt
@save_model_opt("Also save the model.")
@flag_opt("--object-based", help="Classify segments (objects), not pixels.")
@file_opt(
    "--segments",
    "segments_path",
    help="Segment raster from `rasterclass segment` (default: segment the scene).",
)
@click.option(
    "--segment-method",
    type=click.Choice(["shepherd", "slic", "felzenszwalb"]),
    default="shepherd",
    show_default=True,
    help="Segmentation when --segments is not given.",
)
@params_opt(
    "Segmentation parameter (repeatable), e.g. --segment-param min_size=50.",
    "--segment-param",
    "segment_params",
)
@click.option(
    "--min-overlap",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Share of a segment's pixels a training class must cover to label it.",
)
@file_opt(
    "--html",
    "html_output",
    help="Also write the run's one-file HTML report (map, CV accuracy, areas, signatures).",
)
@run_opts
def classify(
    scene: tuple[str, ...],
    output: str,
    probabilities: str | None,
    uncertainty: str | None,
    aoa: str | None,
    save_model: str | None,
    report: str | None,
    object_based: bool,
    segments_path: str | None,
    segment_method: str,
    segment_params: tuple[str, ...],
    min_overlap: float,
    html_output: str | None,
    **kw: Any,
) -> None:
    """Train on the training polygons and classify SCENE... in one go.

    With --object-based the scene is segmented (or --segments is used), each segment is
    described (band statistics, size, shape) and the segments are classified.
    """
    from rasterclass import jobs

    started = time.perf_counter()
    run, topts = run_options(kw), training_options(kw)
    if not object_based and (segments_path or segment_params):
        raise click.UsageError("--segments and --segment-param need --object-based")
    objects = None
    if object_based:
        objects = jobs.ObjectOptions(
            segments=segments_path,
            segment_method=segment_method,
            segment_params=jobs.parse_params(segment_params),
            min_overlap=min_overlap,
        )
    result = run_job(
        "classifying",
        jobs.classify,
        list(scene),
        kw.pop("training"),
        kw.pop("class_column"),
        output,
        topts,
        objects=objects,
        probabilities=probabilities,
        model_output=save_model,
        report_output=report,
        html_output=html_output,
        uncertainty=uncertainty,
        aoa=aoa,
        **run,
    )
    echo_summary(result, started)
