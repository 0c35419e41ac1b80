"""The clustering jobs: cluster a scene, relabel a cluster map, suggest labels.

This module owns :class:`ClusterResult` (what a job did: model, class map, statistics,
files written, timings), :func:`cluster` (check outputs, fit on a sample, assign every pixel
with :func:`rasterclass.predict_raster`, write the map and, optionally, the statistics and
the model), :func:`relabel_map` (relabel a cluster map file with a label table file) and
:func:`suggest_labels` (read the scene, the clusters and the training data, suggest a class
for every cluster with :func:`rasterclass.clustering.suggest.nearest_classes`, write the
label table).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.apply import predict_raster
from rasterclass.classes import ClassMap
from rasterclass.clustering.fit import FitOptions, FitSettings, fit_clusterer, make_clusterer
from rasterclass.clustering.relabel import class_map_from_table, label_frame, relabel
from rasterclass.clustering.statistics import cluster_statistics, write_statistics
from rasterclass.clustering.suggest import nearest_classes
from rasterclass.errors import ClassMapError
from rasterclass.features import scene_features
from rasterclass.io import (
    PathLike,
    ProgressCallback,
    check_writable,
    open_scene,
    read_class_map,
    read_table,
    table_format,
    write_map,
    write_text,
)
from rasterclass.jobs.options import RunOptions, RunSettings, check_job_outputs
from rasterclass.jobs.provenance import recorded
from rasterclass.jobs.scene import SceneOptions, open_job_scene
from rasterclass.model import RasterModel
from rasterclass.sampling import extract_samples

logger = logging.getLogger(__name__)


@dataclass
class ClusterResult:
    """What an unsupervised job did: model, classes, statistics, files written, timings."""

    class_map: ClassMap
    model: RasterModel | None = None
    statistics: pd.DataFrame | None = None
    table: pd.DataFrame | None = None
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


class ClusterOptions(FitOptions, RunOptions, total=False):
    """The keywords of :func:`cluster`: how the clusterer is fitted
    (:class:`~rasterclass.clustering.fit.FitOptions`) and how the run writes
    (:class:`RunOptions`)."""


@recorded("scene", "scene_options.reference", outputs=("output", "statistics", "model_output"))
def cluster(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    output: PathLike,
    method: str = "kmeans",
    n_clusters: int = 8,
    params: Mapping[str, Any] | None = None,
    *,
    statistics: PathLike | None = None,
    model_output: PathLike | None = None,
    **options: Unpack[ClusterOptions],
) -> ClusterResult:
    """Cluster a scene and write the cluster map (and statistics, model file).

    Fits :func:`fit_clusterer` on a sample of valid pixels, assigns every pixel block by
    block with :func:`rasterclass.predict_raster`, writes the map with
    :func:`rasterclass.write_map` (uint8, nodata 0, colour table, names ``cluster 1``..),
    and, when ``statistics`` is given, computes :func:`cluster_statistics` in a second
    chunked pass and writes them (CSV or JSON by extension). Every parameter and output is
    checked before any data is read.

    Parameters
    ----------
    scene
        Scene file(s) or an opened scene (``band`` x ``y`` x ``x``).
    output
        The cluster map GeoTIFF.
    method
        ``"kmeans"`` (``params={"minibatch": True}`` for mini-batch k-means) or
        ``"isodata"`` (see :func:`rasterclass.make_clusterer`).
    n_clusters
        Number of clusters, 2 or more (for ISODATA: the target number).
    params
        The method's parameters (scikit-learn's for k-means, :class:`rasterclass.ISODATA`'s),
        each validated before any reading.
    statistics
        Also write the per-cluster statistics (pixels, mean and standard deviation per
        band) here, as CSV or JSON by extension.
    model_output
        Also save the fitted clusterer as a :class:`rasterclass.RasterModel`.
    **options
        How the clusterer is fitted (:class:`~rasterclass.clustering.fit.FitOptions`):
        ``sample_size`` valid pixels drawn at random with ``seed`` (which seeds the
        clusterer too), on bands scaled to zero mean and unit variance when ``standardize``
        (for bands of different units). How the run writes
        (:class:`rasterclass.jobs.RunOptions`): ``overwrite`` (the map, the statistics, the
        model file), ``scene_options``, ``progress`` (of the map's chunks; the statistics
        pass is not reported) and ``cog`` (the cluster map).

    Returns
    -------
    rasterclass.jobs.ClusterResult
        ``class_map`` (``cluster 1``..``cluster K``), ``model``, ``statistics`` (a
        DataFrame when asked), ``outputs`` (paths written) and ``timings`` (seconds).

    Raises
    ------
    EstimatorError
        An unknown method, a parameter it does not accept, or an invalid ``n_clusters``,
        ``sample_size`` or ``seed``.
    ClusteringError
        No valid pixel, fewer valid pixels than clusters, or a single cluster left.
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    RasterclassIOError
        A scene file does not exist or cannot be read, or a statistics file has an
        extension other than ``.csv``/``.json``.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene
    >>> folder = pathlib.Path(example_scene()).parent  # scene.tif: water left, forest right
    >>> result = rc.cluster(folder / "scene.tif", folder / "clusters.tif", "kmeans", 2,
    ...                     statistics=folder / "clusters.csv")
    >>> result.class_map.names, [pathlib.Path(p).name for p in result.outputs]
    (('cluster 1', 'cluster 2'), ['clusters.tif', 'clusters.csv'])
    >>> rc.open_scene(folder / "clusters.tif", unscale=False).values[0, 0].astype(int).tolist()
    [2, 2, 2, 2, 1, 1, 1, 1]
    """
    run, fit_options = RunSettings.take(options)
    fit = FitSettings(**fit_options)
    run.check_outputs(
        {"output": output, "statistics": statistics, "model_output": model_output},
        scene,
        rasters=("output",),
    )
    if statistics is not None:
        table_format(statistics)
    make_clusterer(method, n_clusters, params, fit.seed, fit.standardize)  # fail before reading
    scene = open_job_scene(scene, run.scene_options)
    t0 = time.perf_counter()
    model = fit_clusterer(scene, method, n_clusters, params, **fit_options)
    model.features = scene_features(scene)
    result = ClusterResult(model.class_map, model)
    if model_output is not None:
        result.outputs.append(model.save(model_output, overwrite=run.overwrite))
    t1 = time.perf_counter()
    classes = predict_raster(scene, model)["classes"]
    result.outputs.append(write_map(classes, output, model.class_map, **run.writing()))
    t2 = time.perf_counter()
    result.timings = {"fit": t1 - t0, "assign": t2 - t1}
    if statistics is not None:
        result.statistics = cluster_statistics(scene, classes, model.class_map)
        result.outputs.append(
            write_statistics(result.statistics, statistics, overwrite=run.overwrite)
        )
        result.timings["statistics"] = time.perf_counter() - t2
    return result


@recorded("map_path", "table")
def relabel_map(
    map_path: PathLike,
    table: PathLike | pd.DataFrame | Mapping[Any, Any],
    output: PathLike,
    *,
    keep_unlisted: bool = False,
    overwrite: bool = False,
    chunks: int | None = None,
    progress: ProgressCallback | None = None,
    cog: bool = False,
) -> ClusterResult:
    """Relabel a cluster map file with a label table file and write the class map.

    See :func:`relabel`. The clusters come from the map's class map (written by
    ``rasterclass cluster``); a map without one takes its cluster codes from the table, and
    codes the table does not list become nodata. ``cog`` writes a Cloud Optimized GeoTIFF.

    Parameters
    ----------
    map_path
        A cluster map (one band of codes, 0 = nodata), e.g. from :func:`rasterclass.cluster`.
    table
        The labels: a CSV/JSON file or DataFrame with ``cluster`` (code or name) and
        ``class`` columns (optionally ``code`` and ``color``), or a mapping cluster ->
        class name (as :func:`rasterclass.suggest_labels` writes it).
    output
        The class map GeoTIFF (uint8/uint16 codes, 0 = nodata, names and colour table).
    keep_unlisted
        Keep the clusters the table does not list as classes of their own, under their
        cluster name (default: they raise :class:`~rasterclass.errors.ClassMapError`).
    overwrite
        Replace an existing output.
    chunks
        Chunk side in pixels for reading the map.
    progress
        Called with the share of chunks written (0 to 1).
    cog
        Write the class map as a Cloud Optimized GeoTIFF.

    Returns
    -------
    rasterclass.jobs.ClusterResult
        ``class_map`` (the new classes; clusters sharing a class merge), ``outputs`` and
        ``timings`` (seconds).

    Raises
    ------
    ClassMapError
        The table lacks the ``cluster``/``class`` columns, names a cluster the map does not
        have, leaves a class blank, gives one cluster two classes or leaves clusters out
        (without ``keep_unlisted``); or the map has more than one band.
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    RasterclassIOError
        The map or the table does not exist or cannot be read.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene
    >>> folder = pathlib.Path(example_scene()).parent  # scene.tif: water left, forest right
    >>> clusters = rc.cluster(folder / "scene.tif", folder / "clusters.tif", n_clusters=2)
    >>> result = rc.relabel_map(folder / "clusters.tif", {"cluster 1": "forest",
    ...                         "cluster 2": "water"}, folder / "classes.tif")
    >>> result.class_map.names, [pathlib.Path(p).name for p in result.outputs]
    (('forest', 'water'), ['classes.tif'])
    """
    check_writable(
        {"output": output},
        overwrite,
        inputs={"map": map_path, "label table": table},
        rasters=("output",),
    )
    frame = label_frame(table) if not isinstance(table, str | os.PathLike) else read_table(table)
    class_map = read_class_map(map_path)
    if class_map is None:
        class_map = class_map_from_table(frame)
        logger.warning(
            "%s carries no class names; clusters taken from the table (codes %s), every other "
            "code becomes nodata",
            map_path,
            list(class_map.codes),
        )
        keep_unlisted = True
    scene = open_scene(map_path, chunks=chunks, unscale=False)
    if scene.sizes["band"] != 1:
        raise ClassMapError(
            f"{map_path} has {scene.sizes['band']} bands; a cluster map has one band of codes"
        )
    classes = scene.isel(band=0, drop=True).fillna(0).astype(np.uint16)
    t0 = time.perf_counter()
    new, new_map = relabel(classes, class_map, frame, keep_unlisted=keep_unlisted)
    path = write_map(new, output, new_map, overwrite=overwrite, progress=progress, cog=cog)
    return ClusterResult(new_map, outputs=[path], timings={"relabel": time.perf_counter() - t0})


def _cluster_frame(
    scene: xr.DataArray, clusters: RasterModel | pd.DataFrame | PathLike
) -> pd.DataFrame:
    if isinstance(clusters, str | os.PathLike):
        suffix = Path(clusters).suffix.lower()
        clusters = (
            read_table(clusters) if suffix in (".csv", ".json") else RasterModel.load(clusters)
        )
    if isinstance(clusters, RasterModel):
        classes = predict_raster(scene, clusters)["classes"]
        return cluster_statistics(scene, classes, clusters.class_map)
    return clusters


@recorded("scene", "clusters", "training", "scene_options.reference")
def suggest_labels(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    clusters: RasterModel | pd.DataFrame | PathLike,
    training: Any,
    class_column: str,
    *,
    layer: str | None = None,
    all_touched: bool = False,
    output: PathLike | None = None,
    overwrite: bool = False,
    scene_options: SceneOptions | None = None,
) -> pd.DataFrame:
    """Suggest a class for every cluster: the class with the nearest mean spectrum.

    Class means come from the pixels under the training geometries
    (:func:`rasterclass.extract_samples`); cluster means from cluster statistics. The
    distance is Euclidean in the bands' units.

    Parameters
    ----------
    scene
        The scene (or its files) the clusters were made from.
    clusters
        A cluster :class:`RasterModel` (its statistics are computed in one chunked pass),
        a statistics table (:func:`cluster_statistics`, or the CSV/JSON of ``cluster
        --stats``), or the path of either.
    training, class_column, layer, all_touched
        Training polygons or points and their class column (see
        :func:`rasterclass.extract_samples`).
    output
        Also write the table as CSV here: it is a label table :func:`relabel` reads.

    overwrite
        Replace an existing output.
    scene_options
        How to open scene files (:class:`rasterclass.SceneOptions`).

    Returns
    -------
    pandas.DataFrame
        One row per cluster with pixels: ``cluster`` (code), ``cluster_name``, ``class``
        (nearest class), ``distance`` (in the bands' units), ``runner_up``,
        ``runner_up_distance`` and ``pixels`` when known.

    Raises
    ------
    TrainingDataError
        The class column is missing, or no training geometry covers a valid pixel.
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    CRSError
        The training data have no CRS.
    RasterclassIOError
        An input file does not exist or cannot be read.
    ModelFileError
        ``clusters`` is a model file that cannot be loaded.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene, example_training
    >>> folder = pathlib.Path(example_scene()).parent  # scene.tif: water left, forest right
    >>> clusters = rc.cluster(folder / "scene.tif", folder / "clusters.tif", n_clusters=2)
    >>> table = rc.suggest_labels(folder / "scene.tif", clusters.model, example_training(),
    ...                           "class", output=folder / "labels.csv")
    >>> table[["cluster", "class", "runner_up", "pixels"]].values.tolist()
    [[1, 'forest', 'water', 32], [2, 'water', 'forest', 32]]
    """
    check_job_outputs(
        {"output": output}, overwrite, scene, scene_options, clusters=clusters, training=training
    )
    scene = open_job_scene(scene, scene_options)
    stats = _cluster_frame(scene, clusters)
    samples = extract_samples(
        scene,
        training,
        class_column,
        layer=layer,
        all_touched=all_touched,
        require_all_classes=False,
    )
    frame = nearest_classes(stats, samples)
    if output is not None:
        write_text(output, frame.to_csv(index=False, float_format="%.6g"), overwrite=overwrite)
    return frame
