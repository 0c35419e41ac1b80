"""Suggesting a class for every cluster from training samples.

This module owns :func:`nearest_classes`: class mean spectra come from training samples,
cluster means from a cluster statistics table, and every cluster is given the class with the
nearest mean (Euclidean, in the bands' units) and the runner-up. The table it returns is a
label table that :func:`~rasterclass.clustering.relabel.relabel` reads. The job that reads
the files and writes the table is :func:`rasterclass.jobs.suggest_labels`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from rasterclass.clustering.relabel import columns_by_name
from rasterclass.errors import BandMismatchError
from rasterclass.sampling import Samples

logger = logging.getLogger(__name__)


def nearest_classes(stats: pd.DataFrame, samples: Samples) -> pd.DataFrame:
    """Suggest a class for every cluster: the class with the nearest mean spectrum.

    Parameters
    ----------
    stats
        Cluster statistics (:func:`~rasterclass.clustering.cluster_statistics`, or the
        CSV/JSON of ``cluster --stats`` read back): a ``code`` column and ``mean_<band>``
        columns for every band of ``samples`` (``name`` and ``pixels`` when known).
    samples
        Training samples of the same scene (:func:`rasterclass.extract_samples`).

    Returns
    -------
    pandas.DataFrame
        One row per cluster with pixels: ``cluster`` (code), ``cluster_name``, ``class``
        (nearest class), ``distance``, ``runner_up``, ``runner_up_distance`` and
        ``pixels`` when known.

    Raises
    ------
    BandMismatchError
        The statistics lack a ``code`` column or a ``mean_<band>`` column of a band.
    """
    cols = columns_by_name(stats)
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
    return frame
