"""``segment``: split a scene into objects (segments) for object-based classification."""

from __future__ import annotations

import time
from typing import Any

import click

from rasterclass import jobs

from . import options
from ._base import command, echo_outputs, run_job, say

__all__ = ["segment"]


def _params_help() -> str:
    return "; ".join(
        f"{m}: " + ", ".join(f"{k}={v}" for k, v in p.items())
        for m, p in jobs.SEGMENT_PARAMS.items()
    )


@command()
@options.scene_args
@options.method_opt(
    click.Choice(list(jobs.SEGMENT_METHODS)),
    "shepherd",
    "Segmentation: shepherd (k-means seeds + clump elimination; the same result for any "
    "chunking), slic or felzenszwalb (per chunk: chunk edges are segment edges).",
)
@options.params_opt(f"Segmentation parameter (repeatable). Defaults: {_params_help()}.")
@options.seed_opt("Random seed (same as -p seed=...).", default=None)
@options.output_opt("Segment raster: uint32 GeoTIFF, 0 = nodata.")
@options.file_opt("--features", help="Also write the per-segment feature table (.parquet or .csv).")
@options.file_opt(
    "--vector", help="Also write the segments as polygons with their features (.gpkg)."
)
@options.run_opts
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
        **options.run_options(kw),
    )
    if result.n_segments is not None:
        say(f"{result.n_segments} segments ({method})")
    echo_outputs(result.outputs, started)
