"""``segment``: split a scene into objects (segments) for object-based classification."""

from __future__ import annotations

import time
from typing import Any

import click

from rasterclass import jobs

from ._base import command, echo_outputs, run_job, say
from .options import (
    file_opt,
    method_opt,
    output_opt,
    params_opt,
    run_options,
    run_opts,
    scene_args,
    seed_opt,
)

__all__ = ["segment"]


def _params_help() -> str:
    return "; ".join(
        f"{m}: " + ", ".join(f"{k}={v}" for k, v in p.items())
        for m, p in jobs.SEGMENT_PARAMS.items()
    )


@command()
@scene_args
@method_opt(
    click.Choice(list(jobs.SEGMENT_METHODS)),
    "shepherd",
    "Segmentation: shepherd (k-means seeds + clump elimination; the same result for any "
    "chunking), slic or felzenszwalb (per chunk: chunk edges are segment edges).",
)
@params_opt(f"Segmentation parameter (repeatable). Defaults: {_params_help()}.")
@seed_opt("Random seed (same as -p seed=...).", default=None)
@output_opt("Segment raster: uint32 GeoTIFF, 0 = nodata.")
@file_opt("--features", help="Also write the per-segment feature table (.parquet or .csv).")
@file_opt("--vector", help="Also write the segments as polygons with their features (.gpkg).")
@run_opts
def segment(
    scene: tuple[str, ...],
    method: str,
    params: tuple[str, ...],
    seed: int | None,
    output: str,
    features: str | None,
    vector: str | None,
    **kw: Any,
) -> None:
    """Segment SCENE... into spectrally homogeneous objects and write their ids."""
    started = time.perf_counter()
    values = jobs.parse_params(params)
    if seed is not None:
        values["seed"] = seed
    result = run_job(
        "segmenting",
        jobs.run_segmentation,
        list(scene),
        output,
        method=method,
        params=values,
        features=features,
        vector=vector,
        **run_options(kw),
    )
    if result.n_segments is not None:
        say(f"{result.n_segments} segments ({method})")
    echo_outputs(result.outputs, started)
