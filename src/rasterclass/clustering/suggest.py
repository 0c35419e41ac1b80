"""Suggesting a class for every cluster from training polygons.

This module owns :func:`suggest_labels`: class mean spectra come from the pixels under the
training geometries, cluster means from cluster statistics (computed from a cluster model,
or read from a statistics table), and every cluster is given the class with the nearest mean
(Euclidean, in the bands' units) and the runner-up. The table it writes is a label table
that :func:`~rasterclass.clustering.relabel.relabel` reads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial.distance import cdist

from rasterclass.apply import predict_raster
from rasterclass.clustering.jobs import _open
from rasterclass.clustering.relabel import _columns
from rasterclass.clustering.statistics import cluster_statistics
from rasterclass.errors import BandMismatchError
from rasterclass.io import PathLike, check_writable, read_table, write_text
from rasterclass.model import RasterModel
from rasterclass.pipeline import SceneOptions, job_inputs
from rasterclass.sampling import extract_samples

logger = logging.getLogger(__name__)


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

    Returns
    -------
    pandas.DataFrame
        One row per cluster with pixels: ``cluster`` (code), ``cluster_name``, ``class``
        (nearest class), ``distance``, ``runner_up``, ``runner_up_distance`` and
        ``pixels`` when known.

    Examples
    --------
    >>> table = suggest_labels("scene.tif", "clusters.csv", "training.gpkg", "class",
    ...                        output="labels.csv")  # doctest: +SKIP
    """
    check_writable(
        {"output": output},
        overwrite,
        inputs=job_inputs(scene, scene_options, clusters=clusters, training=training),
    )
    scene = _open(scene, scene_options)
    stats = _cluster_frame(scene, clusters)
    samples = extract_samples(
        scene,
        training,
        class_column,
        layer=layer,
        all_touched=all_touched,
        require_all_classes=False,
    )
    cols = _columns(stats)
    missing = [b for b in samples.band_names if f"mean_{b}".lower() not in cols]
    if missing or "code" not in cols:
        raise BandMismatchError(
            f"the cluster statistics lack mean_<band> columns for {missing} (or a 'code' "
            f"column); their columns are {list(stats.columns)}. Use statistics of this scene"
        )
    cluster_means = stats[[cols[f"mean_{b}".lower()] for b in samples.band_names]].to_numpy(
        dtype=np.float64
    )
    present = [c for c in samples.class_map.codes if np.any(samples.y == c)]
    class_means = np.stack([samples.X[samples.y == c].mean(axis=0) for c in present])
    names = np.array([samples.class_map.name_of(c) for c in present], dtype=object)
    ok = np.isfinite(cluster_means).all(axis=1)
    if "pixels" in cols:
        ok &= stats[cols["pixels"]].to_numpy() > 0
    if not ok.all():
        logger.info("%d cluster(s) without pixels get no suggestion", int((~ok).sum()))
    dist = cdist(cluster_means[ok], class_means.astype(np.float64))
    order = np.argsort(dist, axis=1, kind="stable")
    rows = np.arange(len(dist))
    cluster_names = (
        stats[cols["name"]].astype(str) if "name" in cols else stats[cols["code"]].astype(str)
    )
    frame = pd.DataFrame(
        {
            "cluster": stats[cols["code"]].to_numpy()[ok].astype(np.int64),
            "cluster_name": cluster_names.to_numpy()[ok],
            "class": names[order[:, 0]],
            "distance": dist[rows, order[:, 0]],
        }
    )
    if len(present) > 1:
        frame["runner_up"] = names[order[:, 1]]
        frame["runner_up_distance"] = dist[rows, order[:, 1]]
    if "pixels" in cols:
        frame["pixels"] = stats[cols["pixels"]].to_numpy()[ok].astype(np.int64)
    for rec in frame.to_dict(orient="records"):
        logger.info("%s -> %s (distance %.3g)", rec["cluster_name"], rec["class"], rec["distance"])
    if output is not None:
        write_text(output, frame.to_csv(index=False, float_format="%.6g"), overwrite=overwrite)
    return frame
