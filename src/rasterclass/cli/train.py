"""``train``: fit a classifier on a scene under training polygons and save it."""

from __future__ import annotations

import time
from typing import Any

from . import options
from ._base import command, echo_summary

__all__ = ["train"]


@command()
@options.scene_args
@options.feature_args
@options.training_args
@options.output_opt("Model file.")
@options.overwrite_opt
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
    sopts, topts = options.scene_options(kw), options.training_options(kw)
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
