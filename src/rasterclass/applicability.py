"""The area of applicability (AOA) of a model: where its training data reach in feature space.

Meyer & Pebesma (2021), Predicting into unknown space? Estimating the area of applicability of
spatial prediction models, Methods in Ecology and Evolution 12:1620-1633
(doi:10.1111/2041-210X.13650), as the R package CAST defines it in ``trainDI()`` and ``aoa()``
(github.com/HannaMeyer/CAST, ``R/trainDI.R``, CAST >= 0.7):

1. features are standardised with the training mean and standard deviation (R's ``scale``:
   ``ddof=1``) and multiplied by the variable importance (negative weights set to 0);
2. the dissimilarity index (DI) of a pixel is its distance to the nearest training sample
   divided by the mean distance between training samples (over all pairs, self excluded);
3. the DI of a training sample is its distance to the nearest training sample *in another
   cross-validation fold*, divided by the same mean;
4. the threshold is the upper whisker of the training DI's box plot (R's
   ``boxplot.stats(TrainDI)$stats[5]``: the largest value not above the upper hinge plus
   1.5 times the hinge spread, Tukey's hinges as in ``fivenum``); a pixel whose DI exceeds it
   is outside the AOA.

Owns :class:`ApplicabilityReference` (what training leaves: step 1-4's numbers, stored in the
model file), :func:`train_applicability` (CAST's ``trainDI``), :func:`importance_weights`,
:func:`boxplot_upper_whisker` and :func:`area_of_applicability` (CAST's ``aoa``), which
applies block by block through the one chunked apply: every pixel is measured on its own
against the whole training set (a k-d tree, scipy's ``cKDTree``), so the layers are
identical for any chunking, and lazy until written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import dask
import numpy as np
import xarray as xr

from rasterclass.errors import ModelFileError, TrainingDataError
from rasterclass.features import add_features
from rasterclass.io import as_scene
from rasterclass.model import RasterModel
from rasterclass.stack import match_bands
from rasterclass.uncertainty_layers import float_layers

logger = logging.getLogger(__name__)

#: Band names of the AOA layers, in order.
AOA_BANDS = ("dissimilarity_index", "aoa")
#: The dataset tag of the threshold in an AOA raster.
AOA_THRESHOLD_TAG = "AOA_THRESHOLD"
#: Above this many training samples the mean pairwise distance is estimated from
#: :data:`SAMPLED_PAIRS` random pairs (seed 0) instead of all n(n-1)/2 pairs.
EXACT_PAIRS_MAX_SAMPLES = 20_000
SAMPLED_PAIRS = 5_000_000


def boxplot_upper_whisker(values: np.ndarray, coef: float = 1.5) -> float:
    """The upper whisker of a box plot, exactly as R's ``boxplot.stats(x)$stats[5]``.

    Tukey's hinges (R's ``fivenum``), then the largest value not above the upper hinge plus
    ``coef`` times the hinge spread (NaN values dropped).

    Parameters
    ----------
    values
        1-D values.
    coef
        Whisker length in hinge spreads (R's default 1.5).

    Returns
    -------
    float
        The upper whisker; NaN when there is no value.

    Examples
    --------
    >>> boxplot_upper_whisker(np.array([*range(1, 11), 50]))  # R: boxplot.stats(c(1:10, 50))
    10.0
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return float("nan")
    n4 = np.floor((n + 3) / 2) / 2
    d = np.array([1, n4, (n + 1) / 2, n + 1 - n4, n]) - 1  # 0-based positions
    hinges = 0.5 * (x[np.floor(d).astype(int)] + x[np.ceil(d).astype(int)])
    fence = hinges[3] + coef * (hinges[3] - hinges[1])
    return float(x[x <= fence].max())


def importance_weights(estimator: Any, n_features: int) -> tuple[np.ndarray, str]:
    """Feature weights of the AOA: the model's variable importance, else equal weights.

    An estimator with ``feature_importances_`` (random forest, extra trees, gradient
    boosting) is weighted by it, as CAST weights by caret's ``varImp``. Any other estimator,
    a Pipeline included (its steps may transform the bands, so importances of its last step
    need not be the bands'), gets equal weights: CAST's own fallback when no importance can be
    retrieved. Permutation importance is not used: it costs a refit-free but full prediction
    per band and repeat, and with correlated bands it understates both (Strobl et al. 2008).

    Parameters
    ----------
    estimator
        A fitted estimator.
    n_features
        The number of bands it was fitted on.

    Returns
    -------
    (numpy.ndarray, str)
        ``(n_features,)`` float64 weights >= 0, and how they were chosen:
        ``"feature_importances_"`` or ``"equal"``.

    Examples
    --------
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> knn = KNeighborsClassifier(1).fit([[0, 0], [1, 1]], [1, 2])
    >>> importance_weights(knn, 2)
    (array([1., 1.]), 'equal')
    """
    imp = getattr(estimator, "feature_importances_", None)
    if imp is not None and np.shape(imp) == (n_features,) and np.nansum(imp) > 0:
        return np.clip(np.nan_to_num(np.asarray(imp, dtype=np.float64)), 0, None), (
            "feature_importances_"
        )
    return np.ones(n_features), "equal"


@dataclass
class ApplicabilityReference:
    """What the AOA of a model needs from its training data (CAST's ``trainDI`` object).

    Attributes
    ----------
    band_names
        The features, in order.
    center, scale
        ``(p,)`` training mean and standard deviation (``ddof=1``) of every feature.
    weights
        ``(p,)`` feature weights (0 for a feature constant in the training data).
    train
        ``(n, p)`` standardised, weighted training features.
    mean_distance
        Mean distance between training samples (all pairs, self excluded).
    train_di
        ``(n,)`` DI of every training sample (NaN where it has no other fold to compare to).
    threshold
        The upper whisker of ``train_di``'s box plot; DI above it is outside the AOA.
    weighting
        How ``weights`` were chosen (see :func:`importance_weights`, or ``"given"``).
    folds
        What the training DI was measured across: ``"cross-validation folds"``,
        ``"training polygons"``, ``"folds"`` (given) or ``"none"`` (nearest other sample).
    notes
        What the computation conceded (constant features, sampled mean distance).
    """

    band_names: list[str]
    center: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    train: np.ndarray
    mean_distance: float
    train_di: np.ndarray
    threshold: float
    weighting: str = "equal"
    folds: str = "none"
    notes: list[str] = field(default_factory=list)

    _ARRAYS = ("center", "scale", "weights", "train", "train_di")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (arrays as lists), as the model file stores it."""
        out: dict[str, Any] = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in self._ARRAYS:
            out[key] = np.asarray(out[key]).tolist()
        out["train_di"] = [None if not np.isfinite(v) else v for v in out["train_di"]]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApplicabilityReference:
        """The reference back from :meth:`to_dict`."""
        values = dict(data)
        for key in cls._ARRAYS:
            values[key] = np.array(values[key], dtype=np.float64)
        values["train"] = values["train"].reshape(-1, len(values["center"]))
        return cls(**values)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardise and weight ``(m, p)`` features as the training data were."""
        return (np.asarray(X, dtype=np.float64) - self.center) / self.scale * self.weights


def _mean_pairwise_distance(train: np.ndarray) -> tuple[float, str | None]:
    n = len(train)
    if n > EXACT_PAIRS_MAX_SAMPLES:
        rng = np.random.default_rng(0)
        i = rng.integers(0, n, SAMPLED_PAIRS)
        j = (i + rng.integers(1, n, SAMPLED_PAIRS)) % n  # j != i
        mean = float(np.sqrt(((train[i] - train[j]) ** 2).sum(axis=1)).mean())
        return mean, (
            f"mean distance between the {n} training samples estimated from "
            f"{SAMPLED_PAIRS} random pairs"
        )
    from scipy.spatial.distance import cdist  # imported when used (0.15 s off every predict)

    total, step = 0.0, max(1, 4_000_000 // max(n, 1))
    for start in range(0, n, step):
        total += float(cdist(train[start : start + step], train).sum())
    return total / (n * (n - 1)), None


def _train_distances(train: np.ndarray, folds: np.ndarray | None) -> np.ndarray:
    """Distance of every training sample to the nearest other one (in another fold)."""
    from scipy.spatial import cKDTree

    if folds is None:
        dist, _ = cKDTree(train).query(train, k=2)
        return np.asarray(dist[:, 1], dtype=np.float64)
    out = np.full(len(train), np.nan)
    for fold in np.unique(folds[folds >= 0]):
        inside, others = folds == fold, folds != fold
        dist, _ = cKDTree(train[others]).query(train[inside], k=1)
        out[inside] = dist
    return out


def train_applicability(
    X: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    folds: np.ndarray | None = None,
    band_names: list[str] | None = None,
    weighting: str | None = None,
    folds_kind: str | None = None,
) -> ApplicabilityReference:
    """The dissimilarity index of the training data and the AOA threshold (CAST's ``trainDI``).

    Follows ``trainDI()`` of CAST (Meyer & Pebesma 2021; R/trainDI.R) step by step: see
    :mod:`rasterclass.applicability`. The training DI of a sample is its distance to the
    nearest sample of *another* fold (``folds``), so that samples of one polygon (near-twins)
    do not make the threshold too tight; without folds, to the nearest other sample.

    Parameters
    ----------
    X
        ``(n, p)`` training features (n >= 2), finite.
    weights
        ``(p,)`` feature weights (e.g. from :func:`importance_weights`); negative ones are set
        to 0. Default equal weights.
    folds
        ``(n,)`` integer fold of every sample (the cross-validation's test fold; -1: never
        tested, its DI is NaN and left out of the threshold). None: no folds.
    band_names
        Feature names (default ``band_1``...).
    weighting, folds_kind
        How weights and folds were chosen, recorded in the reference (default ``"given"`` /
        ``"equal"`` and ``"folds"`` / ``"none"``).

    Returns
    -------
    ApplicabilityReference

    Raises
    ------
    TrainingDataError
        Fewer than two samples, non-finite features, every weight 0, or all samples at the
        same point (no distance to normalise by).

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> ref = train_applicability(X, folds=np.array([0, 0, 1, 1]))  # sides sqrt(3), mean 1.97
    >>> round(ref.mean_distance, 4), ref.train_di.round(4).tolist(), round(ref.threshold, 4)
    (1.9712, [0.8787, 0.8787, 0.8787, 0.8787], 0.8787)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 2:
        raise TrainingDataError("the area of applicability needs at least two training samples")
    if not np.isfinite(X).all():
        raise TrainingDataError("training features for the area of applicability must be finite")
    p = X.shape[1]
    names = list(band_names) if band_names is not None else [f"band_{i + 1}" for i in range(p)]
    if weights is None:
        w, how = np.ones(p), weighting or "equal"
    else:
        w, how = np.clip(np.asarray(weights, dtype=np.float64), 0, None), weighting or "given"
    center = X.mean(axis=0)
    scale = X.std(axis=0, ddof=1)
    notes = []
    constant = ~(scale > 0)
    if constant.all():
        raise TrainingDataError(
            "all training samples are at the same point in feature space (every band is "
            "constant): there is no distance to measure applicability by"
        )
    if constant.any():
        notes.append(
            "features constant in the training data are left out of the distance: "
            + ", ".join(n for n, c in zip(names, constant, strict=True) if c)
        )
        w = np.where(constant, 0.0, w)
        scale = np.where(constant, 1.0, scale)
    if not (w > 0).any():
        raise TrainingDataError(
            "every feature weight of the area of applicability is 0; give positive weights"
        )
    ref = ApplicabilityReference(
        names, center, scale, w, np.empty((0, p)), 0.0, np.empty(0), 0.0, how, "none", notes
    )
    train = ref.transform(X)
    mean, note = _mean_pairwise_distance(train)
    if not mean > 0:
        raise TrainingDataError(
            "all training samples are at the same point in feature space: there is no "
            "distance to measure applicability by"
        )
    if note:
        notes.append(note)
    fold_ids = None if folds is None else np.asarray(folds, dtype=np.int64)
    if fold_ids is not None and len(np.unique(fold_ids[fold_ids >= 0])) < 2:
        notes.append("a single fold: the training DI is the distance to the nearest sample")
        fold_ids = None
    train_di = _train_distances(train, fold_ids) / mean
    ref.train, ref.mean_distance, ref.train_di = train, mean, train_di
    ref.threshold = boxplot_upper_whisker(train_di)
    ref.folds = "none" if fold_ids is None else (folds_kind or "folds")
    logger.info(
        "area of applicability: %d samples, mean distance %.4g, threshold %.4g (%s weights)",
        len(X),
        mean,
        ref.threshold,
        how,
    )
    return ref


def aoa_block(
    block: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    weights: np.ndarray,
    train: np.ndarray,
    mean_distance: float,
    threshold: float,
) -> np.ndarray:
    """DI and AOA mask of one (band, y, x) block: float32 (2, y, x), NaN at nodata."""
    from scipy.spatial import cKDTree

    n_bands, h, w = block.shape
    pixels = block.reshape(n_bands, -1).T
    valid = np.isfinite(pixels).all(axis=1)
    out = np.full((2, h * w), np.nan, dtype=np.float32)
    if valid.any():
        z = (pixels[valid].astype(np.float64) - center) / scale * weights
        dist, _ = cKDTree(train).query(z, k=1)
        di = np.asarray(dist) / mean_distance
        out[0, valid] = di
        out[1, valid] = (di <= threshold).astype(np.float32)
    return out.reshape(2, h, w)


def model_reference(model: RasterModel) -> ApplicabilityReference:
    """The AOA reference stored in a model (see :func:`rasterclass.jobs.train`).

    Raises
    ------
    ModelFileError
        The model has none (trained by an older rasterclass, or by :func:`fit_model`
        alone): the message says to retrain it.
    """
    if not model.applicability:
        raise ModelFileError(
            "this model has no area-of-applicability reference (it was trained by an older "
            "rasterclass or without the training job); retrain it with `rasterclass train` "
            "(rasterclass.train) to map its area of applicability"
        )
    return ApplicabilityReference.from_dict(model.applicability)


def area_of_applicability(
    scene: xr.DataArray, model: RasterModel | ApplicabilityReference
) -> xr.DataArray:
    """The dissimilarity index and the area of applicability of every pixel (CAST's ``aoa``).

    Each valid pixel is standardised and weighted as the training data were, its distance to
    the nearest training sample found with a k-d tree (scipy ``cKDTree``; exact), divided by
    the training data's mean distance (Meyer & Pebesma 2021; CAST R/aoa.R); a pixel whose DI
    exceeds the threshold (:func:`train_applicability`) is outside.

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene with the model's bands (matched by name, as
        :func:`rasterclass.predict_raster` does); dask-backed (lazy result) or in memory.
    model
        A :class:`rasterclass.RasterModel` trained by :func:`rasterclass.jobs.train` (which
        stores the reference), or an :class:`ApplicabilityReference`.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` float32 with bands ``dissimilarity_index`` (>= 0) and ``aoa`` (1
        inside, 0 outside), NaN where the scene is nodata; the threshold in
        ``attrs["AOA_THRESHOLD"]``, the weighting in ``attrs["AOA_WEIGHTING"]``. Lazy when
        the scene is.

    Raises
    ------
    ModelFileError
        The model has no AOA reference (retrain it).
    BandMismatchError
        The scene lacks a band of the model.

    Examples
    --------
    >>> ref = train_applicability(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
    ...                           band_names=["a", "b"])
    >>> scene = xr.DataArray(np.array([[[0.5, 9.0, np.nan]], [[0.5, 9.0, 0.0]]]),
    ...                      dims=("band", "y", "x"), coords={"band": ["a", "b"]})
    >>> out = area_of_applicability(scene, ref)
    >>> out.sel(band="aoa").values.tolist()
    [[1.0, 0.0, nan]]
    """
    ref = model_reference(model) if isinstance(model, RasterModel) else model
    scene = as_scene(scene)
    aliases = model.band_aliases if isinstance(model, RasterModel) else None
    if isinstance(model, RasterModel):
        scene = add_features(scene, model.features)
    scene = match_bands(scene, ref.band_names, aliases)
    args = (ref.center, ref.scale, ref.weights, ref.train, ref.mean_distance, ref.threshold)

    def shared(token: str) -> tuple:
        train = dask.delayed(ref.train, pure=True, name=f"aoa-train-{token}")
        return (*args[:3], train, *args[4:])

    out = float_layers(aoa_block, scene, *args, names=AOA_BANDS, graph_args=shared)
    out.attrs.update(
        {
            AOA_THRESHOLD_TAG: repr(float(ref.threshold)),
            "AOA_WEIGHTING": ref.weighting,
            "AOA_FOLDS": ref.folds,
            "AOA_MEAN_DISTANCE": repr(float(ref.mean_distance)),
        }
    )
    return out
