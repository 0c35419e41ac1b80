"""``classify``: train and classify a scene in one go, per pixel or per segment (object)."""

from __future__ import annotations

import time
from typing import Any

import click

from . import options
from ._base import command, echo_summary, run_job

__all__ = ["classify"]


@command()
@options.scene_args
@options.feature_args
@options.training_args
@options.output_opt("Map GeoTIFF.")
@options.probabilities_opt
@options.uncertainty_opt
@options.aoa_opt
@options.save_model_opt("Also save the model.")
@options.flag_opt("--object-based", help="Classify segments (objects), not pixels.")
@options.segments_opt("Segment raster from `rasterclass segment` (default: segment the scene).")
@click.option(
    "--segment-method",
    type=click.Choice(["shepherd", "slic", "felzenszwalb"]),
    default="shepherd",
    show_default=True,
    help="Segmentation when --segments is not given.",
)
@options.params_opt(
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
@options.file_opt(
    "--html",
    "html_output",
    help="Also write the run's one-file HTML report (map, CV accuracy, areas, signatures).",
)
@options.run_opts
def classify(
    scene: tuple[str, ...],
    output: str,
    probabilities: str | None,
    uncertainty: str | None,
    aoa: str | None,
    save_model: str | None,
    report: str | None,
    object_based: bool,
    segments: str | None,
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
    run, topts = options.run_options(kw), options.training_options(kw)
    ctx = click.get_current_context()
    given = [
        option
        for name, option in (
            ("segment_method", "--segment-method"),
            ("min_overlap", "--min-overlap"),
        )
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    ]
    if segments:
        given.insert(0, "--segments")
    if segment_params:
        given.append("--segment-param")
    if not object_based and given:
        raise click.UsageError(f"{', '.join(given)} need --object-based (or leave them out)")
    if segments and "--segment-method" in given:
        # the library sees the default method and cannot tell that it was given
        raise click.UsageError(
            "--segments and --segment-method contradict each other: given segments are used "
            "as they are; leave out --segment-method or --segments"
        )
    objects = None
    if object_based:
        objects = jobs.ObjectOptions(
            segments=segments,
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
