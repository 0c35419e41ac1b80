"""``predict``: apply a saved model to a scene and write the thematic map."""

from __future__ import annotations

import time
from typing import Any

from ._base import command, echo_summary, run_job
from .options import (
    aoa_opt,
    bands_opt,
    model_opt,
    output_opt,
    probabilities_opt,
    run_options,
    run_opts,
    scene_args,
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
@run_opts
def predict(
    scene: tuple[str, ...],
    model_path: str,
    output: str,
    probabilities: str | None,
    uncertainty: str | None,
    aoa: str | None,
    **kw: Any,
) -> None:
    """Apply a saved model to SCENE... and write the thematic map."""
    from rasterclass import jobs

    started = time.perf_counter()
    result = run_job(
        "classifying",
        jobs.predict,
        list(scene),
        model_path,
        output,
        probabilities=probabilities,
        uncertainty=uncertainty,
        aoa=aoa,
        **run_options(kw),
    )
    echo_summary(result, started)
