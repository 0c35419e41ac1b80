"""``predict``: apply a saved model to a scene and write the thematic map."""

from __future__ import annotations

import time
from typing import Any

import click

from ._base import command, echo_summary, progress_bar
from .options import (
    aoa_opt,
    bands_opt,
    cog_opt,
    model_opt,
    output_opt,
    overwrite_opt,
    probabilities_opt,
    scene_args,
    scene_options,
    uncertainty_opt,
)

__all__ = ["predict"]


@command()
@scene_args
@bands_opt
@model_opt("Model file written by `rasterclass train`.")
@output_opt("Map GeoTIFF.")
@probabilities_opt
@uncertainty_opt
@aoa_opt
@cog_opt
@overwrite_opt
@click.pass_context
def predict(
    ctx: click.Context,
    scene: tuple[str, ...],
    model_path: str,
    output: str,
    probabilities: str | None,
    uncertainty: str | None,
    aoa: str | None,
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
            uncertainty=uncertainty,
            aoa=aoa,
        )
    echo_summary(result, started)
