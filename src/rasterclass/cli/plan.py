"""``plan``: grid, chunking, tasks and memory of a run, without running it."""

from __future__ import annotations

import json
from typing import Any

import click

from . import options
from ._base import command

__all__ = ["plan"]


@command()
@options.scene_args
@options.model_opt("Model to apply.", required=False)
@click.option(
    "--classes",
    "n_classes",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Number of classes when no model is given.",
)
@click.option("--probabilities", is_flag=True, help="Plan probability layers too.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_context
def plan(
    ctx: click.Context,
    scene: tuple[str, ...],
    model_path: str | None,
    n_classes: int,
    probabilities: bool,
    as_json: bool,
    **kw: Any,
) -> None:
    """Print the grid, chunks, number of tasks and peak memory per worker of a run."""
    from rasterclass import jobs

    sopts = options.scene_options(kw)
    result = jobs.plan_run(
        list(scene),
        model=model_path,
        n_classes=n_classes,
        probabilities=probabilities,
        chunks=sopts.chunks,
        memory_budget=sopts.memory_budget,
        workers=(ctx.find_root().obj or {}).get("workers"),
        band_names=sopts.band_names,
        reference=sopts.reference,
    )
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.describe())
