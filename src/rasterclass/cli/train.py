"""``train``: fit a classifier on a scene under training polygons and save it."""

from __future__ import annotations

import time
from typing import Any

from ._base import command, echo_summary
from .options import (
    feature_args,
    output_opt,
    overwrite_opt,
    scene_args,
    scene_options,
    training_args,
    training_options,
)

__all__ = ["train"]


@command()
@scene_args
@feature_args
@training_args
@output_opt("Model file.")
@overwrite_opt
def train(
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
