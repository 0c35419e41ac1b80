"""Unsupervised classification: clusterers fitted on a sample of valid pixels, applied to any scene.

The flow follows the architecture's rule "fit small, predict in parallel":

1. :func:`sample_valid_pixels` draws a seeded random sample of valid pixels (no NaN in any
   band) in one chunked pass. Every pixel gets a pseudo-random key that depends only on its
   position in the scene and the seed (a 64-bit mixing hash of its flat index); the sample is
   the ``n`` valid pixels with the smallest keys. Each chunk keeps its own ``n`` smallest, the
   partial results are merged in a tree, so the sample is exactly the same for any chunking
   (and for an in-memory scene) and the scene is never held in memory.
2. :func:`fit_clusterer` fits k-means (scikit-learn) or :class:`~rasterclass.estimators.isodata.
   ISODATA` on that sample, optionally on standardised bands, and wraps it in a
   :class:`~rasterclass.model.RasterModel` with a class map ``cluster 1`` .. ``cluster k``.
3. Every pixel is assigned through :func:`rasterclass.apply.predict_raster` (the one chunked
   apply) and written with :func:`rasterclass.io.write_map`.
4. :func:`cluster_statistics` reduces per-chunk partial sums (count, mean and sum of squared
   deviations per cluster and band, combined with Chan's parallel formula) into mean spectrum,
   standard deviation, pixel count and area per cluster.
5. Clusters become classes with :func:`relabel` (a cluster -> class table; clusters sharing a
   class are merged) and :func:`suggest_labels` proposes that table from training polygons.

:func:`cluster`, :func:`relabel_map` and :func:`suggest_labels` (with ``output=``) are the
jobs the command line calls.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from rasterclass.apply import predict_raster, recode
from rasterclass.classes import ClassMap, parse_colour
from rasterclass.errors import (
    BandMismatchError,
    ClassMapError,
    ClusteringError,
    EstimatorError,
    RasterclassError,
    param,
)
from rasterclass.estimators.isodata import ISODATA
from rasterclass.estimators.presets import check_params, parse_value
from rasterclass.io import (
    PathLike,
    ProgressCallback,
    as_scene,
    check_writable,
    open_scene,
    read_class_map,
    read_table,
    scene_radiometry,
    table_format,
    write_map,
    write_text,
)
from rasterclass.model import RasterModel
from rasterclass.pipeline import SceneOptions, job_inputs
from rasterclass.sampling import extract_samples

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SAMPLE_SIZE",
    "METHODS",
    "ClusterResult",
    "PixelSample",
    "cluster",
    "cluster_statistics",
    "fit_clusterer",
    "make_clusterer",
    "read_table",
    "relabel",
    "relabel_map",
    "sample_valid_pixels",
    "statistics_text",
    "suggest_labels",
    "write_statistics",
]

#: Default number of valid pixels a clusterer is fitted on.
DEFAULT_SAMPLE_SIZE = 100_000

#: Clustering methods and what they are.
METHODS: dict[str, str] = {
    "kmeans": "k-means (scikit-learn KMeans; -p minibatch=true for MiniBatchKMeans)",
    "isodata": "ISODATA (Tou & Gonzalez 1974): k-means with split, lump and discard steps",
}

#: Partial samples merged per task of the tree reduction.
_FAN_IN = 8

#: Parameters set through their own options, not through ``params``.
_RESERVED = {"n_clusters": "n_clusters", "random_state": "seed"}


# ------------------------------------------------------------------------------------------
# Sampling valid pixels
# ------------------------------------------------------------------------------------------
@dataclass
class PixelSample:
    """A random sample of valid pixels of a scene.

    Attributes
    ----------
    X : ndarray (n, bands)
        Pixel values, in the scene's band order and dtype, in random (key) order.
    rows, cols : ndarray (n,)
        Position of every sampled pixel in the scene.
    n_valid : int
        Number of valid pixels in the whole scene (the sample holds ``min(n, n_valid)``).
    band_names : list of str
    """

    X: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    n_valid: int
    band_names: list[str]

    def __len__(self) -> int:
        return len(self.X)


_SPLITMIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SPLITMIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SPLITMIX_M2 = np.uint64(0x94D049BB133111EB)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection of uint64 with good avalanche (pseudo-random keys)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _SPLITMIX_GAMMA
        z = (z ^ (z >> np.uint64(30))) * _SPLITMIX_M1
        z = (z ^ (z >> np.uint64(27))) * _SPLITMIX_M2
        return z ^ (z >> np.uint64(31))


def _seed_offset(seed: int) -> np.uint64:
    return _mix64(np.array([seed % 2**64], dtype=np.uint64))[0]


_Partial = tuple[np.ndarray, np.ndarray, np.ndarray, int]


def _sample_block(
    block: np.ndarray, row0: int, col0: int, width: int, n: int, offset: np.uint64
) -> _Partial:
    """The ``n`` valid pixels of one (band, y, x) block with the smallest keys.

    Returns (keys, flat indices, values (m, bands), number of valid pixels in the block).
    """
    n_bands, h, w = block.shape
    pixels = block.reshape(n_bands, -1)
    valid = np.isfinite(pixels).all(axis=0)
    rows = np.arange(row0, row0 + h, dtype=np.uint64) * np.uint64(width)
    flat = (rows[:, None] + np.arange(col0, col0 + w, dtype=np.uint64)[None, :]).reshape(-1)
    pos = np.flatnonzero(valid)
    n_valid = int(pos.size)
    if n_valid < valid.size:
        flat = flat[pos]
    with np.errstate(over="ignore"):
        keys = _mix64(flat + offset)
    if n_valid > n:
        sel = np.argpartition(keys, n - 1)[:n]
        pos, flat, keys = pos[sel], flat[sel], keys[sel]
    return keys, flat, pixels[:, pos].T.copy(), n_valid


def _merge_samples(parts: Sequence[_Partial], n: int) -> _Partial:
    """Merge partial samples, keeping the ``n`` smallest keys."""
    keys = np.concatenate([p[0] for p in parts])
    flat = np.concatenate([p[1] for p in parts])
    values = np.concatenate([p[2] for p in parts], axis=0)
    n_valid = sum(p[3] for p in parts)
    if len(keys) > n:
        sel = np.argpartition(keys, n - 1)[:n]
        keys, flat, values = keys[sel], flat[sel], values[sel]
    return keys, flat, values, n_valid


def _as_scene_array(scene: xr.DataArray) -> np.ndarray | da.Array:
    """The values of a scene in scene form (:func:`rasterclass.io.as_scene`)."""
    return as_scene(scene).data


def _block_origins(data: da.Array) -> list[tuple[int, int, int, int]]:
    """(i, j, row0, col0) of every (y, x) block, row-major."""
    out = []
    y0 = 0
    for i, h in enumerate(data.chunks[1]):
        x0 = 0
        for j, w in enumerate(data.chunks[2]):
            out.append((i, j, y0, x0))
            x0 += w
        y0 += h
    return out


def sample_valid_pixels(
    scene: xr.DataArray, n: int = DEFAULT_SAMPLE_SIZE, seed: int = 0
) -> PixelSample:
    """A seeded random sample of ``n`` valid pixels (no NaN in any band), chunk-invariant.

    Every pixel gets a pseudo-random key from its flat index and the seed (SplitMix64); the
    sample is the ``n`` valid pixels with the smallest keys, i.e. a uniform random sample
    without replacement. One chunked pass: each chunk keeps its ``n`` smallest keys and the
    partial samples are merged in a tree, so memory stays bounded by a few samples and the
    result is identical for any chunking and for an in-memory scene.

    Parameters
    ----------
    scene
        ``(band, y, x)`` DataArray, dask-backed or in memory; NaN marks nodata.
    n
        Sample size. When the scene has fewer valid pixels, all of them are returned.
    seed
        Non-negative integer seed; the same seed gives the same sample.

    Returns
    -------
    PixelSample
        Values in random order, their rows/columns and the scene's number of valid pixels.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> data = np.arange(24, dtype="f4").reshape(2, 3, 4)
    >>> data[:, 0, 0] = np.nan
    >>> scene = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": ["a", "b"]})
    >>> sample = sample_valid_pixels(scene, n=5, seed=1)
    >>> sample.X.shape, sample.n_valid
    ((5, 2), 11)
    >>> bool(np.isfinite(sample.X).all())
    True
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise EstimatorError(f"the sample size must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise EstimatorError(f"the seed must be a non-negative integer, got {seed!r}")
    n = int(n)
    scene = as_scene(scene)
    data = _as_scene_array(scene)
    width = int(data.shape[2])
    offset = _seed_offset(int(seed))
    if isinstance(data, da.Array):
        blocks = data.to_delayed()
        parts = [
            dask.delayed(_sample_block)(blocks[0, i, j], y0, x0, width, n, offset)
            for i, j, y0, x0 in _block_origins(data)
        ]
        while len(parts) > 1:
            parts = [
                dask.delayed(_merge_samples)(parts[k : k + _FAN_IN], n)
                for k in range(0, len(parts), _FAN_IN)
            ]
        keys, flat, values, n_valid = dask.compute(parts[0])[0]
    else:
        keys, flat, values, n_valid = _sample_block(np.asarray(data), 0, 0, width, n, offset)
    order = np.argsort(keys, kind="stable")
    flat = flat[order].astype(np.int64)
    sample = PixelSample(
        X=values[order],
        rows=flat // width,
        cols=flat % width,
        n_valid=int(n_valid),
        band_names=[str(b) for b in scene["band"].values],
    )
    logger.info("sampled %d of %d valid pixels (seed %d)", len(sample), sample.n_valid, int(seed))
    return sample


# ------------------------------------------------------------------------------------------
# Fitting a clusterer
# ------------------------------------------------------------------------------------------
def _check_n_clusters(n_clusters: Any) -> int:
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer):
        raise EstimatorError(
            f"the number of clusters ({param('n_clusters')}) must be an integer, got {n_clusters!r}"
        )
    if n_clusters < 2:
        raise EstimatorError(
            f"the number of clusters ({param('n_clusters')}) must be at least 2, got "
            f"{n_clusters}; one cluster "
            "would paint the whole scene in one class"
        )
    return int(n_clusters)


def make_clusterer(
    method: str = "kmeans",
    n_clusters: int = 8,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    standardize: bool = False,
) -> Any:
    """Build an unfitted clusterer: k-means (or MiniBatchKMeans) or ISODATA.

    Parameters
    ----------
    method
        ``"kmeans"`` (:class:`sklearn.cluster.KMeans`; ``params={"minibatch": True}`` gives
        :class:`~sklearn.cluster.MiniBatchKMeans`) or ``"isodata"``
        (:class:`rasterclass.estimators.isodata.ISODATA`).
    n_clusters
        K, the number of clusters (ISODATA: the desired number), at least 2.
    params
        Further estimator parameters by name; strings are parsed as Python literals
        (``"10"`` -> 10). Unknown names raise :class:`EstimatorError` listing the valid ones.
        ISODATA's parameters (``min_clusters``, ``max_clusters``, ``max_std``, ...) are
        checked here, before any pixel is read.
    seed
        ``random_state`` of the estimator.
    standardize
        Standardise every band (zero mean, unit variance on the sample) before clustering:
        returns ``Pipeline([("scale", StandardScaler()), ("cluster", estimator)])``.

    Examples
    --------
    >>> make_clusterer("isodata", 6, {"max_iter": "20"}, seed=1).max_iter
    20
    >>> make_clusterer("isodata", 6, {"max_clusters": "8"}).max_clusters
    8
    >>> make_clusterer("kmeans", 4, {"minibatch": True}).__class__.__name__
    'MiniBatchKMeans'
    """
    k = _check_n_clusters(n_clusters)
    values = {str(name): parse_value(v) for name, v in dict(params or {}).items()}
    name = str(method).lower().replace("-", "")
    estimator: Any
    if name == "kmeans":
        minibatch = bool(values.pop("minibatch", False))
        estimator = (MiniBatchKMeans if minibatch else KMeans)(n_clusters=k, random_state=seed)
        extra = ["minibatch"]
    elif name == "isodata":
        estimator = ISODATA(n_clusters=k, random_state=seed)
        extra = []
    else:
        raise EstimatorError(f"unknown clustering method {method!r}; choose one of {list(METHODS)}")
    for reserved, how in _RESERVED.items():
        if reserved in values:
            raise EstimatorError(
                f"set {reserved} with {param(how)}, not among the clusterer's parameters"
            )
    valid = estimator.get_params(deep=False)
    unknown = [p for p in values if p not in valid]
    if unknown:
        names = sorted([*(set(valid) - set(_RESERVED)), *extra])
        raise EstimatorError(
            f"unknown parameter(s) {unknown} for {name}; valid ones: {', '.join(names)}"
        )
    try:
        estimator.set_params(**values)
    except (ValueError, TypeError) as exc:
        raise EstimatorError(f"invalid parameter for {name}: {exc}") from None
    # every value validated before any reading (scikit-learn's constraints for k-means,
    # ISODATA's own checks, e.g. min_clusters > -k)
    check_params(estimator, name)
    if standardize:
        return Pipeline([("scale", StandardScaler()), ("cluster", estimator)])
    return estimator


def _final(estimator: Any) -> Any:
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return repr(value)


def fit_clusterer(
    scene: xr.DataArray,
    method: str = "kmeans",
    n_clusters: int = 8,
    params: Mapping[str, Any] | None = None,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
    standardize: bool = False,
) -> RasterModel:
    """Fit k-means or ISODATA on a random sample of the scene's valid pixels.

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene (lazy or in memory); NaN marks nodata.
    method, n_clusters, params, seed, standardize
        See :func:`make_clusterer`.
    sample_size
        Number of valid pixels to fit on (all of them when the scene has fewer).

    Returns
    -------
    RasterModel
        The fitted clusterer with the scene's band names and a class map ``cluster 1`` ..
        ``cluster k`` (codes 1..k; 0 stays nodata). ``summary`` records method, parameters,
        sample size, seed, iterations and, for ISODATA, the thresholds used and the
        per-iteration history. Apply it with :func:`rasterclass.predict_raster`.

    Raises
    ------
    EstimatorError
        K < 2, unknown or invalid parameters.
    ClusteringError
        No valid pixel, fewer valid pixels than clusters, or the fit ends with one cluster.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> data = np.concatenate([rng.normal(0, 1, (2, 20, 40)), rng.normal(9, 1, (2, 20, 40))],
    ...                       axis=1).astype("f4")
    >>> scene = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": ["a", "b"]})
    >>> model = fit_clusterer(scene, "kmeans", 2, seed=0)
    >>> model.class_map.names
    ('cluster 1', 'cluster 2')
    >>> classes = predict_raster(scene, model)["classes"].values
    >>> len(np.unique(classes[:20])), len(np.unique(classes[20:]))
    (1, 1)
    """
    estimator = make_clusterer(method, n_clusters, params, seed, standardize)
    method = str(method).lower().replace("-", "")
    scene = as_scene(scene)
    t0 = time.perf_counter()
    sample = sample_valid_pixels(scene, sample_size, seed)
    if sample.n_valid == 0:
        raise ClusteringError(
            "every pixel of the scene is nodata (NaN or the declared nodata value in at least "
            "one band): there is nothing to cluster; check the scene's nodata value and bands"
        )
    if sample.n_valid <= sample_size:
        logger.info(
            "the scene has %d valid pixels, not more than the sample size %d: clustering all "
            "of them",
            sample.n_valid,
            sample_size,
        )
    if len(sample) < n_clusters:
        raise ClusteringError(
            f"the scene has only {len(sample)} valid pixels for {n_clusters} clusters; ask "
            f"for fewer clusters ({param('n_clusters')})"
        )
    t1 = time.perf_counter()
    try:
        estimator.fit(sample.X)
    except RasterclassError:
        raise
    except (ValueError, TypeError) as exc:
        raise EstimatorError(f"cannot fit {method}: {exc}") from None
    t2 = time.perf_counter()
    final = _final(estimator)
    k_found = len(final.cluster_centers_)
    if k_found < 2:
        raise ClusteringError(
            f"{method} ended with {k_found} cluster: its parameters discard or lump every "
            f"other cluster; lower min_distance or min_samples (e.g. {param('min_distance', 0)}), "
            "or raise max_std"
        )
    summary: dict[str, Any] = {
        "task": "clustering",
        "method": method,
        "estimator": repr(estimator),
        "params": {k: _jsonable(v) for k, v in dict(params or {}).items()},
        "n_clusters_requested": int(n_clusters),
        "n_clusters": int(k_found),
        "sample_size": int(sample_size),
        "n_samples": len(sample),
        "n_valid_pixels": sample.n_valid,
        "seed": int(seed),
        "standardize": bool(standardize),
        "n_iter": int(getattr(final, "n_iter_", 0)),
        "sampling_seconds": round(t1 - t0, 3),
        "fit_seconds": round(t2 - t1, 3),
    }
    if hasattr(final, "inertia_"):
        summary["inertia"] = float(final.inertia_)
    if isinstance(final, ISODATA):
        summary["thresholds"] = {
            "min_samples": int(final.min_samples_),
            "max_std": _jsonable(float(final.max_std_)),
            "min_distance": _jsonable(float(final.min_distance_)),
            "min_clusters": int(final.min_clusters_),
            "max_clusters": int(final.max_clusters_),
        }
        summary["history"] = [dataclasses.asdict(h) for h in final.history_]
    logger.info(
        "fitted %s on %d pixels: %d clusters after %d iterations in %.1f s",
        method,
        len(sample),
        k_found,
        summary["n_iter"],
        t2 - t1,
    )
    codes = range(1, k_found + 1)
    crs = scene.rio.crs
    return RasterModel(
        estimator=estimator,
        band_names=list(sample.band_names),
        class_map=ClassMap.from_codes(codes, [f"cluster {c}" for c in codes]),
        crs=crs.to_wkt() if crs is not None else None,
        summary=summary,
        labels_are_codes=False,
        radiometry=scene_radiometry(scene),
    )


# ------------------------------------------------------------------------------------------
# Per-cluster statistics
# ------------------------------------------------------------------------------------------
def _stats_block(block: np.ndarray, labels: np.ndarray, n_codes: int) -> np.ndarray:
    """Per-code count, mean and sum of squared deviations (M2) of one block.

    Returns float64 (n_codes, 1 + 2 * bands): count, means, M2. Pixels with code 0, a code
    beyond ``n_codes - 1`` or NaN in any band are left out.
    """
    n_bands = block.shape[0]
    pixels = block.reshape(n_bands, -1)
    lab = labels.reshape(-1).astype(np.int64)
    ok = (lab > 0) & (lab < n_codes) & np.isfinite(pixels).all(axis=0)
    lab = lab[ok]
    values = pixels[:, ok].astype(np.float64)
    out = np.zeros((n_codes, 1 + 2 * n_bands), dtype=np.float64)
    count = np.bincount(lab, minlength=n_codes).astype(np.float64)
    out[:, 0] = count
    safe = np.maximum(count, 1.0)
    for f in range(n_bands):
        mean = np.bincount(lab, weights=values[f], minlength=n_codes) / safe
        dev = values[f] - mean[lab]
        out[:, 1 + f] = mean
        out[:, 1 + n_bands + f] = np.bincount(lab, weights=dev * dev, minlength=n_codes)
    return out


def _combine_stats(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chan et al.'s pairwise combination of (count, mean, M2) partials."""
    n_bands = (a.shape[1] - 1) // 2
    na, nb = a[:, :1], b[:, :1]
    n = na + nb
    safe = np.maximum(n, 1.0)
    delta = b[:, 1 : 1 + n_bands] - a[:, 1 : 1 + n_bands]
    out = np.empty_like(a)
    out[:, :1] = n
    out[:, 1 : 1 + n_bands] = a[:, 1 : 1 + n_bands] + delta * (nb / safe)
    out[:, 1 + n_bands :] = a[:, 1 + n_bands :] + b[:, 1 + n_bands :] + delta**2 * (na * nb / safe)
    return out


def _area_factor(scene: xr.DataArray) -> tuple[float, float | None, str]:
    """(pixel area in squared CRS units, factor to hectares or None, unit name)."""
    transform = scene.rio.transform(recalc=True)
    pixel_area = abs(transform.a * transform.e - transform.b * transform.d)
    crs = scene.rio.crs
    if crs is None or crs.is_geographic:
        return pixel_area, None, "degree" if crs is not None else "unknown"
    try:
        unit, to_metre = crs.linear_units_factor
    except Exception:  # rasterio raises CRSError for CRSs without linear units
        return pixel_area, None, "unknown"
    return pixel_area, to_metre**2 / 10_000.0, str(unit)


def cluster_statistics(
    scene: xr.DataArray, classes: xr.DataArray, class_map: ClassMap
) -> pd.DataFrame:
    """Mean spectrum, standard deviation, pixel count and area of every class, chunk by chunk.

    Each chunk contributes per-code counts, means and sums of squared deviations (bincount);
    the partials are combined with Chan's parallel formula, so nothing larger than a chunk is
    ever in memory and the result matches the in-memory statistics to rounding.

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene the map was made from (lazy or in memory).
    classes
        ``(y, x)`` integer class codes on the scene's grid (e.g. ``predict_raster(...)
        ["classes"]``); 0 is nodata.
    class_map
        The classes to report (one row each, in its order).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``color``, ``pixels``, ``share`` (of the classified pixels),
        ``area`` (squared CRS units), ``area_ha`` (NaN when the CRS has no linear unit), then
        ``mean_<band>`` and ``std_<band>`` (population standard deviation) per band. Classes
        without pixels have NaN means and standard deviations. ``attrs`` hold
        ``pixel_area``, ``area_unit`` and ``band_names``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scene = xr.DataArray(np.array([[[1, 2], [3, 5]]], dtype="f4"), dims=("band", "y", "x"),
    ...                      coords={"band": ["b1"]})
    >>> classes = xr.DataArray(np.array([[1, 1], [2, 0]], dtype="u1"), dims=("y", "x"))
    >>> stats = cluster_statistics(scene, classes, ClassMap.from_codes([1, 2]))
    >>> stats["pixels"].tolist(), stats["mean_b1"].tolist(), stats["std_b1"].tolist()
    ([2, 1], [1.5, 3.0], [0.5, 0.0])
    """
    scene = as_scene(scene)
    data = _as_scene_array(scene)
    band_names = [str(b) for b in scene["band"].values]
    n_bands = len(band_names)
    n_codes = max(class_map.codes) + 1
    if classes.dims != ("y", "x"):
        classes = classes.transpose("y", "x")
    if tuple(classes.shape) != tuple(data.shape[1:]):
        raise ClassMapError(
            f"the class map ({classes.shape}) and the scene ({data.shape[1:]}) differ in size; "
            "pass the map made from this scene"
        )
    labels = classes.data
    if isinstance(data, da.Array) or isinstance(labels, da.Array):
        if not isinstance(data, da.Array):
            data = da.from_array(data, chunks=(n_bands, *da.asarray(labels).chunks))
        labels = da.asarray(labels).rechunk(data.chunks[1:])
        scene_blocks, label_blocks = data.to_delayed(), labels.to_delayed()
        parts = [
            dask.delayed(_stats_block)(scene_blocks[0, i, j], label_blocks[i, j], n_codes)
            for i, j, _, _ in _block_origins(data)
        ]
        partials = dask.compute(*parts)
        total = partials[0]
        for part in partials[1:]:
            total = _combine_stats(total, part)
    else:
        total = _stats_block(np.asarray(data), np.asarray(labels), n_codes)
    codes = np.asarray(class_map.codes)
    rows = total[codes]
    counts = rows[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts[:, None] > 0, rows[:, 1 : 1 + n_bands], np.nan)
        stds = np.sqrt(rows[:, 1 + n_bands :] / counts[:, None])
    pixel_area, to_ha, unit = _area_factor(scene)
    n_total = counts.sum()
    frame = pd.DataFrame(
        {
            "code": codes.astype(np.int64),
            "name": list(class_map.names),
            "color": class_map.hex_colors(),
            "pixels": counts.astype(np.int64),
            "share": counts / n_total if n_total else np.zeros_like(counts),
            "area": counts * pixel_area,
            "area_ha": counts * pixel_area * to_ha if to_ha is not None else np.nan,
        }
    )
    for f, band in enumerate(band_names):
        frame[f"mean_{band}"] = means[:, f]
    for f, band in enumerate(band_names):
        frame[f"std_{band}"] = stds[:, f]
    frame.attrs.update(
        {"pixel_area": float(pixel_area), "area_unit": f"{unit}^2", "band_names": band_names}
    )
    logger.info("statistics of %d classes over %d classified pixels", len(class_map), int(n_total))
    return frame


def _clean_number(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def statistics_text(stats: pd.DataFrame, fmt: str = "csv") -> str:
    """Render cluster statistics as CSV, or JSON (``{"pixel_area", "area_unit", "bands",
    "clusters": [one flat record per cluster]}``, NaN as null)."""
    if fmt == "csv":
        return stats.to_csv(index=False, float_format="%.10g")
    records = [
        {k: _clean_number(v) for k, v in rec.items()} for rec in stats.to_dict(orient="records")
    ]
    payload = {
        "pixel_area": stats.attrs.get("pixel_area"),
        "area_unit": stats.attrs.get("area_unit"),
        "bands": stats.attrs.get("band_names"),
        "clusters": records,
    }
    return json.dumps(payload, indent=2, allow_nan=False) + "\n"


def write_statistics(stats: pd.DataFrame, path: PathLike, *, overwrite: bool = False) -> str:
    """Write statistics as CSV or JSON, chosen by the extension (``.csv`` / ``.json``)."""
    return write_text(path, statistics_text(stats, table_format(path)), overwrite=overwrite)


# ------------------------------------------------------------------------------------------
# The clustering job
# ------------------------------------------------------------------------------------------
@dataclass
class ClusterResult:
    """What an unsupervised job did: model, classes, statistics, files written, timings."""

    class_map: ClassMap
    model: RasterModel | None = None
    statistics: pd.DataFrame | None = None
    table: pd.DataFrame | None = None
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _open(
    scene: Sequence[PathLike] | PathLike | xr.DataArray, scene_options: SceneOptions | None
) -> xr.DataArray:
    if isinstance(scene, xr.DataArray):
        opts = scene_options or SceneOptions()
        return as_scene(scene, band_names=opts.band_names)
    return (scene_options or SceneOptions()).open(scene)


def cluster(
    scene: Sequence[PathLike] | PathLike | xr.DataArray,
    output: PathLike,
    method: str = "kmeans",
    n_clusters: int = 8,
    params: Mapping[str, Any] | None = None,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
    standardize: bool = False,
    statistics: PathLike | None = None,
    model_output: PathLike | None = None,
    overwrite: bool = False,
    scene_options: SceneOptions | None = None,
    progress: ProgressCallback | None = None,
    cog: bool = False,
) -> ClusterResult:
    """Cluster a scene and write the cluster map (and statistics, model file).

    Fits :func:`fit_clusterer` on a sample of valid pixels, assigns every pixel block by
    block with :func:`rasterclass.predict_raster`, writes the map with
    :func:`rasterclass.write_map` (uint8, nodata 0, colour table, names ``cluster 1``..),
    and, when ``statistics`` is given, computes :func:`cluster_statistics` in a second
    chunked pass and writes them (CSV or JSON by extension). ``cog`` writes the map as a
    Cloud Optimized GeoTIFF.

    Examples
    --------
    >>> result = cluster("scene.tif", "clusters.tif", "isodata", 6,
    ...                  statistics="clusters.csv")  # doctest: +SKIP
    """
    check_writable(
        {"output": output, "statistics": statistics, "model_output": model_output},
        overwrite,
        inputs=job_inputs(scene, scene_options),
        rasters=("output",),
    )
    if statistics is not None:
        table_format(statistics)
    make_clusterer(method, n_clusters, params, seed, standardize)  # fail before any reading
    scene = _open(scene, scene_options)
    t0 = time.perf_counter()
    model = fit_clusterer(
        scene,
        method,
        n_clusters,
        params,
        sample_size=sample_size,
        seed=seed,
        standardize=standardize,
    )
    result = ClusterResult(model.class_map, model)
    if model_output is not None:
        result.outputs.append(model.save(model_output, overwrite=overwrite))
    t1 = time.perf_counter()
    classes = predict_raster(scene, model)["classes"]
    result.outputs.append(
        write_map(classes, output, model.class_map, overwrite=overwrite, progress=progress, cog=cog)
    )
    t2 = time.perf_counter()
    result.timings = {"fit": t1 - t0, "assign": t2 - t1}
    if statistics is not None:
        result.statistics = cluster_statistics(scene, classes, model.class_map)
        result.outputs.append(write_statistics(result.statistics, statistics, overwrite=overwrite))
        result.timings["statistics"] = time.perf_counter() - t2
    return result


# ------------------------------------------------------------------------------------------
# Labelling clusters
# ------------------------------------------------------------------------------------------
def _columns(table: pd.DataFrame) -> dict[str, str]:
    return {str(c).strip().lower(): c for c in table.columns}


def _cluster_code(value: Any, class_map: ClassMap) -> int | None:
    """Code of a cluster given by code (3, "3") or by name ("cluster 3"); None if unknown."""
    if isinstance(value, str):
        text = value.strip()
        lowered = {n.lower(): c for c, n in zip(class_map.codes, class_map.names, strict=True)}
        if text.lower() in lowered:
            return lowered[text.lower()]
        try:
            value = float(text)
        except ValueError:
            return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer | float | np.floating) and float(value).is_integer():
        code = int(value)
        return code if code in class_map.codes else None
    return None


def _table_frame(table: pd.DataFrame | Mapping[Any, Any]) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    return pd.DataFrame({"cluster": list(table), "class": list(table.values())})


def _label_rules(
    table: pd.DataFrame, class_map: ClassMap
) -> tuple[dict[int, Any], dict[Any, Any], dict[Any, int]]:
    """Parse a label table: cluster code -> class value, class -> colour, class -> code."""
    cols = _columns(table)
    if "cluster" not in cols or "class" not in cols:
        raise ClassMapError(
            "a label table needs the columns 'cluster' and 'class' (optional 'code', "
            f"'color'); it has {list(table.columns)}"
        )
    mapping: dict[int, Any] = {}
    colours: dict[Any, Any] = {}
    codes: dict[Any, int] = {}
    unknown, blank, conflicts = [], [], []
    for i, row in enumerate(table.to_dict(orient="records")):
        raw_cluster, raw_class = row[cols["cluster"]], row[cols["class"]]
        code = _cluster_code(raw_cluster, class_map)
        if code is None:
            unknown.append(raw_cluster)
            continue
        if raw_class is None or (isinstance(raw_class, float) and math.isnan(raw_class)):
            blank.append(i + 1)
            continue
        if isinstance(raw_class, float) and raw_class.is_integer():
            raw_class = int(raw_class)
        value = raw_class.strip() if isinstance(raw_class, str) else raw_class
        if value == "":
            blank.append(i + 1)
            continue
        if isinstance(value, np.integer):
            value = int(value)
        if code in mapping and mapping[code] != value:
            conflicts.append(f"{class_map.name_of(code)}: {mapping[code]!r} and {value!r}")
        mapping[code] = value
        for key, store in (("color", colours), ("colour", colours)):
            if key in cols and pd.notna(row[cols[key]]) and value not in store:
                store[value] = parse_colour(row[cols[key]])
        if "code" in cols and pd.notna(row[cols["code"]]):
            codes.setdefault(value, int(row[cols["code"]]))
    if unknown:
        raise ClassMapError(
            f"the label table names cluster(s) {unknown} that the map does not have; its "
            f"clusters are {', '.join(class_map.names)} (codes {list(class_map.codes)})"
        )
    if blank:
        raise ClassMapError(f"rows {blank} of the label table have no class; fill them in")
    if conflicts:
        raise ClassMapError(
            f"the label table gives one cluster two classes ({'; '.join(conflicts)}); keep one"
        )
    return mapping, colours, codes


def _new_class_map(
    values: list[Any], colours: Mapping[Any, Any], codes: Mapping[Any, int]
) -> ClassMap:
    if codes:
        missing = [v for v in values if v not in codes]
        if missing:
            raise ClassMapError(
                f"the label table gives codes for some classes but not for {missing}; give a "
                "code to every class or to none"
            )
        names = [str(v) for v in values]
        base = ClassMap.from_codes([codes[v] for v in values], names)
        cmap = ClassMap(base.codes, base.names, base.colors, tuple(values))
    else:
        strings = [str(v) for v in values]
        if all(isinstance(v, int) for v in values):
            cmap = ClassMap.from_values(values)
        else:
            cmap = ClassMap.from_values(strings)
    if colours:
        by_value = {str(v): c for v, c in colours.items()}
        new = tuple(by_value.get(n, c) for n, c in zip(cmap.names, cmap.colors, strict=True))
        cmap = ClassMap(cmap.codes, cmap.names, new, cmap.values)
    return cmap


def relabel(
    classes: xr.DataArray,
    class_map: ClassMap,
    table: pd.DataFrame | Mapping[Any, Any],
    *,
    keep_unlisted: bool = False,
) -> tuple[xr.DataArray, ClassMap]:
    """Turn clusters into classes with a table; clusters that share a class are merged.

    Parameters
    ----------
    classes
        ``(y, x)`` cluster codes (lazy or in memory), 0 = nodata. Float maps (NaN = nodata)
        are accepted and cast.
    class_map
        The clusters of the map (names ``cluster 1``..).
    table
        DataFrame with columns ``cluster`` (code ``3`` or name ``cluster 3``) and ``class``
        (the class name, or an integer class code), optionally ``code`` (class code) and
        ``color`` (``#RRGGBB``); or a mapping cluster -> class.
    keep_unlisted
        Clusters missing from the table raise :class:`ClassMapError` listing them (default);
        with ``keep_unlisted`` they stay as classes of their own, under their cluster name.

    Returns
    -------
    (xarray.DataArray, ClassMap)
        The recoded map (lazy when ``classes`` is; 0 stays 0) and its class map. Class
        names get codes 1..M in alphabetical order (integer classes keep their value) and
        the colours users expect (water blue, forest green...) unless the table sets them.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> clusters = ClassMap.from_codes([1, 2, 3], ["cluster 1", "cluster 2", "cluster 3"])
    >>> classes = xr.DataArray(np.array([[0, 1, 2, 3]], dtype="u1"), dims=("y", "x"))
    >>> new, cmap = relabel(classes, clusters, {1: "water", "cluster 2": "forest", 3: "water"})
    >>> cmap.names, new.values.tolist()
    (('forest', 'water'), [[0, 2, 1, 2]])
    """
    mapping, colours, codes = _label_rules(_table_frame(table), class_map)
    unlisted = [c for c in class_map.codes if c not in mapping]
    if unlisted and not keep_unlisted:
        raise ClassMapError(
            f"the label table does not list {[class_map.name_of(c) for c in unlisted]}; add a "
            f"row (cluster,class) for each, or keep them as they are with "
            f"{param('keep_unlisted', True)}"
        )
    for c in unlisted:
        mapping[c] = class_map.name_of(c)
        colours.setdefault(mapping[c], class_map.colors[class_map.codes.index(c)])
        if codes:
            codes.setdefault(mapping[c], c)
    values = list(dict.fromkeys(mapping.values()))
    if any(isinstance(v, int) for v in values) and not all(isinstance(v, int) for v in values):
        values = [str(v) for v in values]
        mapping = {k: str(v) for k, v in mapping.items()}
        colours = {str(k): v for k, v in colours.items()}
        codes = {str(k): v for k, v in codes.items()}
    new_map = _new_class_map(values, colours, codes)
    by_value = {_value_key(v): code for v, code in zip(new_map.values, new_map.codes, strict=True)}
    lut = np.zeros(max(class_map.codes) + 1, dtype=new_map.dtype)
    for cluster_code, value in mapping.items():
        lut[cluster_code] = by_value[_value_key(value)]
    for code, name in zip(new_map.codes, new_map.names, strict=True):
        members = [
            class_map.name_of(c) for c, v in mapping.items() if by_value[_value_key(v)] == code
        ]
        logger.info("class %d %r <- %s", code, name, ", ".join(members))
    if not np.issubdtype(classes.dtype, np.integer):
        classes = classes.fillna(0).astype(np.uint16 if max(class_map.codes) > 255 else np.uint8)
    return recode(classes, lut).rename("classes"), new_map


def _value_key(value: Any) -> Any:
    return int(value) if isinstance(value, int | np.integer) else str(value)


def _class_map_from_table(table: pd.DataFrame) -> ClassMap:
    cols = _columns(table)
    if "cluster" not in cols:
        raise ClassMapError(f"a label table needs a 'cluster' column; it has {list(table.columns)}")
    try:
        codes = sorted({int(v) for v in table[cols["cluster"]]})
    except (TypeError, ValueError):
        raise ClassMapError(
            "the map carries no class names, so the table must give clusters by integer code"
        ) from None
    return ClassMap.from_codes(codes, [f"cluster {c}" for c in codes])


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

    Examples
    --------
    >>> relabel_map("clusters.tif", "labels.csv", "classes.tif")  # doctest: +SKIP
    """
    check_writable(
        {"output": output},
        overwrite,
        inputs={"map": map_path, "label table": table},
        rasters=("output",),
    )
    frame = _table_frame(table) if not isinstance(table, str | os.PathLike) else read_table(table)
    class_map = read_class_map(map_path)
    if class_map is None:
        class_map = _class_map_from_table(frame)
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
