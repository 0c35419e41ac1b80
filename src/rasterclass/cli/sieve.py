"""``sieve``: a class map cleaned to a minimum mapping unit."""

from __future__ import annotations

import time
from typing import Any

import click

from . import options
from ._base import command, echo_outputs, run_job, say

__all__ = ["sieve"]


@command()
@options.map_arg()
@click.option(
    "--mmu",
    required=True,
    help="Minimum mapping unit with its unit: hectares (0.5ha) or pixels (25px). Smaller "
    "patches take the class of the neighbour they share the longest border with.",
)
@options.connectivity_opt
@click.option(
    "--keep",
    default="",
    help="Protected classes, comma-separated names or codes (never merged, never absorb).",
)
@options.output_opt("Sieved map GeoTIFF (same classes, colours and styles).")
@options.chunks_opt("Chunk side in pixels.")
@options.run_opts
def sieve(
    map_path: str,
    mmu: str,
    connectivity: str,
    keep: str,
    output: str,
    **kw: Any,
) -> None:
    """Remove patches smaller than a minimum mapping unit from MAP.tif."""
    from rasterclass import jobs

    started = time.perf_counter()
    protected = [k.strip() for k in keep.split(",") if k.strip()]
    result = run_job(
        "sieving",
        jobs.sieve_map,
        map_path,
        output,
        mmu,
        connectivity=int(connectivity),
        keep=protected,
        **options.map_run_options(kw),
    )
    say(f"MMU {mmu} = {result.info['mmu_pixels']:.4g} pixels")
    echo_outputs(result.outputs, started)
