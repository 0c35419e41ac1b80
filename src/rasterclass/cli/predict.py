"""``predict``: apply a saved model to a scene and write the thematic map."""

from __future__ import annotations

import time
from typing import Any

from . import options
from ._base import command, echo_summary, run_job

__all__ = ["predict"]


@command()
@options.scene_args
@options.bands_opt
@options.model_opt("Model file written by `rasterclass train` or `classify --save-model`.")
@options.output_opt("Map GeoTIFF.")
@options.probabilities_opt
@options.uncertainty_opt
@options.aoa_opt
@options.segments_opt(
    "Object-based model: this scene's segment raster (default: segment it as the model "
    "records; required for a model trained on given segments)."
)
@options.run_opts
def predict(scene: tuple[str, ...], model_path: str, **kw: Any) -> None:
    """Apply a saved model to SCENE... and write the thematic map.

    An object-based model (`classify --object-based --save-model`) segments SCENE... as it
    was trained (or uses --segments) and classifies the segments.
    """
    from rasterclass import jobs

    started = time.perf_counter()
    run = options.run_options(kw)  # what is left: the outputs and --segments, by job name
    result = run_job("classifying", jobs.predict, list(scene), model_path, **kw, **run)
    echo_summary(result, started)
