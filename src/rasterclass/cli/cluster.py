"""Unsupervised commands: ``cluster``, ``relabel`` and ``suggest-labels``."""

from __future__ import annotations

import time
from typing import Any

import click

from rasterclass import jobs

from . import options
from ._base import command, echo_outputs, run_job, say

__all__ = ["cluster", "relabel", "suggest_labels"]


@command()
@options.scene_args
@options.feature_args
@options.method_opt(click.Choice(list(jobs.CLUSTER_METHODS)), "kmeans", "Clustering method.")
@click.option(
    "-k",
    "--clusters",
    "n_clusters",
    type=int,
    default=8,
    show_default=True,
    help=(
        "Number of clusters (ISODATA: the desired number; it may end with more or fewer, "
        "within -p min_clusters / max_clusters)."
    ),
)
@options.params_opt(
    "Clusterer parameter (repeatable), e.g. -p max_std=8 -p min_samples=50. ISODATA bounds "
    "its number of clusters with -p min_clusters=N (lumping and discarding stop there; "
    "default 1) and -p max_clusters=N (splitting stops there, largest spread first; "
    "default 2 x -k)."
)
@click.option(
    "--sample-size",
    type=options.POSITIVE,
    default=jobs.DEFAULT_SAMPLE_SIZE,
    show_default=True,
    help="Valid pixels drawn at random to fit the clusterer.",
)
@options.seed_opt()
@options.flag_opt("--standardize", help="Standardise the bands before clustering.")
@options.output_opt("Map GeoTIFF.")
@options.file_opt(
    "--stats", help="Per-cluster statistics (mean, std, pixels, area): .csv or .json."
)
@options.save_model_opt("Also save the clusterer.")
@options.run_opts
def cluster(
    scene: tuple[str, ...],
    method: str,
    n_clusters: int,
    params: tuple[str, ...],
    sample_size: int,
    seed: int,
    standardize: bool,
    output: str,
    stats: str | None,
    save_model: str | None,
    **kw: Any,
) -> None:
    """Cluster SCENE... (k-means or ISODATA) and write the cluster map."""
    started = time.perf_counter()
    result = run_job(
        "assigning clusters",
        jobs.cluster,
        list(scene),
        output,
        method,
        n_clusters,
        jobs.parse_params(params),
        sample_size=sample_size,
        seed=seed,
        standardize=standardize,
        statistics=stats,
        model_output=save_model,
        **options.run_options(kw),
    )
    info = result.model.summary if result.model is not None else {}
    say(
        f"{method}: {info.get('n_clusters')} clusters (asked {n_clusters}) after "
        f"{info.get('n_iter')} iterations, fitted on {info.get('n_samples')} of "
        f"{info.get('n_valid_pixels')} valid pixels"
    )
    if result.statistics is not None:
        for row in result.statistics.itertuples():
            say(f"  {row.code:>4}  {row.name:<12} {row.pixels:>10} px {row.share:>7.1%}")
    echo_outputs(result.outputs, started)


@command()
@options.map_arg("MAP")
@options.file_opt(
    "--table",
    required=True,
    help="CSV with columns cluster,class (optional code,color); cluster by code or name.",
)
@options.output_opt("Map GeoTIFF.")
@options.flag_opt(
    "--keep-unlisted",
    help="Keep clusters missing from the table as classes of their own (default: error).",
)
@options.chunks_opt("Chunk side in pixels.")
@options.run_opts
def relabel(
    map_path: str,
    table: str,
    output: str,
    keep_unlisted: bool,
    **kw: Any,
) -> None:
    """Turn the clusters of MAP into classes (clusters sharing a class are merged)."""
    started = time.perf_counter()
    result = run_job(
        "relabelling",
        jobs.relabel_map,
        map_path,
        table,
        output,
        keep_unlisted=keep_unlisted,
        **options.map_run_options(kw),
    )
    cmap = result.class_map
    say(f"{len(cmap)} classes:")
    for code, name in zip(cmap.codes, cmap.names, strict=True):
        say(f"  {code:>4}  {name}")
    echo_outputs(result.outputs, started)


@command("suggest-labels")
@options.scene_args
@options.model_opt(
    "Cluster model (--save-model of `cluster`) or its statistics table (--stats).", "clusters"
)
@options.vector_args
@options.output_opt(
    "Write the suggestions as a label table (CSV) for `relabel --table`.", required=False
)
@options.overwrite_opt
def suggest_labels(
    scene: tuple[str, ...],
    clusters: str,
    training: str,
    class_column: str,
    layer: str | None,
    all_touched: bool,
    output: str | None,
    overwrite: bool,
    **kw: Any,
) -> None:
    """Suggest a class for every cluster: the training class with the nearest mean spectrum."""
    started = time.perf_counter()
    table = jobs.suggest_labels(
        list(scene),
        clusters,
        training,
        class_column,
        layer=layer,
        all_touched=all_touched,
        output=output,
        overwrite=overwrite,
        scene_options=options.scene_options(kw),
    )
    for rec in table.to_dict(orient="records"):
        say(f"  {rec['cluster_name']:<12} -> {rec['class']:<16} distance {rec['distance']:.4g}")
    echo_outputs([output] if output else [], started)
