"""Building and fitting clusterers (k-means or ISODATA) on a sample of valid pixels.

This module owns the clustering methods (:data:`METHODS`), the parameter checks of
:func:`make_clusterer` (number of clusters, reserved and unknown parameters, the estimator's
own constraints, all before any pixel is read) and :func:`fit_clusterer`, which fits the
clusterer on a :func:`~rasterclass.sampling.sample_pixels` sample and wraps it
in a :class:`~rasterclass.model.RasterModel` with a ``cluster 1`` .. ``cluster k`` class map
and a summary (thresholds and history for ISODATA).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

import numpy as np
import xarray as xr
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from rasterclass._json import jsonable
from rasterclass.classes import ClassMap
from rasterclass.errors import ClusteringError, EstimatorError, RasterclassError, param
from rasterclass.estimators.isodata import ISODATA
from rasterclass.estimators.presets import check_params, parse_value, set_known_params
from rasterclass.io import as_scene, scene_radiometry
from rasterclass.methods import CLUSTER_METHODS, DEFAULT_SAMPLE_SIZE
from rasterclass.model import RasterModel
from rasterclass.sampling.pixels import sample_pixels

logger = logging.getLogger(__name__)

#: Clustering methods and what they are.
METHODS = CLUSTER_METHODS

#: Parameters set through their own options, not through ``params``.
_RESERVED = {"n_clusters": "n_clusters", "random_state": "seed"}


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

    Returns
    -------
    sklearn.base.BaseEstimator
        An unfitted :class:`~sklearn.cluster.KMeans`, :class:`~sklearn.cluster.MiniBatchKMeans`
        or :class:`~rasterclass.ISODATA` (Tou & Gonzalez 1974), or a Pipeline of a
        ``StandardScaler`` and the clusterer with ``standardize``.

    Raises
    ------
    EstimatorError
        Unknown method, K < 2, unknown parameter names or invalid values.

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
    set_known_params(estimator, values, name, hidden=_RESERVED, extra=extra)
    # every value validated before any reading (scikit-learn's constraints for k-means,
    # ISODATA's own checks, e.g. min_clusters > -k)
    check_params(estimator, name)
    if standardize:
        return Pipeline([("scale", StandardScaler()), ("cluster", estimator)])
    return estimator


def final_estimator(estimator: Any) -> Any:
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


class FitOptions(TypedDict, total=False):
    """How :func:`fit_clusterer` fits, beyond the method: ``sample_size`` (default
    :data:`~rasterclass.methods.DEFAULT_SAMPLE_SIZE`) valid pixels drawn at random with
    ``seed`` (default 0; it seeds the clusterer as well), on bands scaled to zero mean and
    unit variance when ``standardize`` (default False). Typed for ``**options:
    Unpack[FitOptions]``."""

    sample_size: int
    seed: int
    standardize: bool


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """:class:`FitOptions` with their defaults (an unknown keyword is a :class:`TypeError`)."""

    sample_size: int = DEFAULT_SAMPLE_SIZE
    seed: int = 0
    standardize: bool = False


def fit_clusterer(
    scene: xr.DataArray,
    method: str = "kmeans",
    n_clusters: int = 8,
    params: Mapping[str, Any] | None = None,
    **options: Unpack[FitOptions],
) -> RasterModel:
    """Fit k-means or ISODATA on a random sample of the scene's valid pixels.

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene (lazy or in memory); NaN marks nodata.
    method, n_clusters, params
        See :func:`make_clusterer`.
    **options
        ``sample_size`` (valid pixels to fit on; all of them when the scene has fewer),
        ``seed`` and ``standardize`` (see :func:`make_clusterer`): :class:`FitOptions`.

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

    References
    ----------
    Arthur, D. & Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding.
    *Proceedings of the 18th ACM-SIAM Symposium on Discrete Algorithms*, 1027-1035.

    Tou, J. T. & Gonzalez, R. C. (1974). *Pattern Recognition Principles*. Addison-Wesley
    (ISODATA).

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
    >>> from rasterclass import predict_raster
    >>> classes = predict_raster(scene, model)["classes"].values
    >>> len(np.unique(classes[:20])), len(np.unique(classes[20:]))
    (1, 1)
    """
    fit = FitSettings(**options)
    sample_size, seed = fit.sample_size, fit.seed
    estimator = make_clusterer(method, n_clusters, params, seed, fit.standardize)
    method = str(method).lower().replace("-", "")
    scene = as_scene(scene)
    t0 = time.perf_counter()
    sample = sample_pixels(scene, sample_size, seed)
    if not sample.n_valid:
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
    final = final_estimator(estimator)
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
        "params": {k: jsonable(v, deep=False) for k, v in dict(params or {}).items()},
        "n_clusters_requested": int(n_clusters),
        "n_clusters": int(k_found),
        "sample_size": int(sample_size),
        "n_samples": len(sample),
        "n_valid_pixels": sample.n_valid,
        "seed": int(seed),
        "standardize": bool(fit.standardize),
        "n_iter": int(getattr(final, "n_iter_", 0)),
        "sampling_seconds": round(t1 - t0, 3),
        "fit_seconds": round(t2 - t1, 3),
    }
    if hasattr(final, "inertia_"):
        summary["inertia"] = float(final.inertia_)
    if isinstance(final, ISODATA):
        summary["thresholds"] = {
            "min_samples": int(final.min_samples_),
            "max_std": jsonable(float(final.max_std_), deep=False),
            "min_distance": jsonable(float(final.min_distance_), deep=False),
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
