"""Unweighted confusion-matrix statistics and the normal quantile behind every interval.

Owns the error matrix built from label vectors (:func:`confusion_matrix_from_labels`), the
statistics of a simple random or reference-polygon sample (:func:`confusion_statistics`
returning :class:`ConfusionStatistics`: overall, user's and producer's accuracy, F1, kappa and
its large-sample variance), the kappa comparison test (:func:`compare_kappa`), and the
``z`` helpers (:data:`Z_95`, :func:`z_for_confidence`) used for confidence intervals.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rasterclass.accuracy._util import (
    as_labels,
    as_square_matrix,
    check_z,
    ci_bounds,
    count_value,
    index_of,
    json_scalar,
    per_class_vector,
    safe_div,
    unique_labels,
)
from rasterclass.errors import AccuracyError

logger = logging.getLogger(__name__)


#: The normal quantile used for 95 % confidence intervals, as in Olofsson et al. (2014).
Z_95 = 1.96

#: Kappa variance formula: ``"fce"`` is the large-sample variance of Fleiss, Cohen & Everitt
#: (1969) (= the delta method of Bishop, Fienberg & Holland 1975); ``"congalton-green"`` is
#: the variant printed in Congalton & Green (2009) and used by GRASS ``r.kappa``, which
#: uses each cell's own margins in theta_4.
KappaVarianceMethod = Literal["fce", "congalton-green"]

_KAPPA_METHODS: tuple[str, ...] = get_args(KappaVarianceMethod)


def z_for_confidence(level: float) -> float:
    """Two-sided normal quantile for a confidence level.

    Parameters
    ----------
    level : float
        Confidence level in ``(0, 1)``, e.g. ``0.95``.

    Returns
    -------
    float
        ``z`` such that ``estimate ± z · SE`` covers ``level`` (1.959964 for 0.95).
        Olofsson et al. (2014) use the rounded :data:`Z_95` = 1.96.

    Examples
    --------
    >>> round(z_for_confidence(0.95), 6)
    1.959964
    """
    from scipy.stats import norm

    if not 0.0 < level < 1.0:
        raise AccuracyError(f"confidence level must be in (0, 1), e.g. 0.95; got {level!r}")
    return float(norm.ppf(0.5 + level / 2.0))


# --------------------------------------------------------------------------------------
# Confusion-matrix statistics
# --------------------------------------------------------------------------------------


def confusion_matrix_from_labels(
    map_codes: ArrayLike,
    ref_codes: ArrayLike,
    codes: Sequence[Hashable] | None = None,
    *,
    sample_weight: ArrayLike | None = None,
) -> NDArray[np.int64] | NDArray[np.float64]:
    """Cross-tabulate map and reference labels into a confusion matrix.

    Parameters
    ----------
    map_codes, ref_codes : array_like
        Map (predicted) and reference labels of the same samples, any shape (raveled) and
        any hashable dtype (integer codes or names). Remove nodata before calling.
    codes : sequence, optional
        The class labels in matrix order. Every label in ``map_codes`` and ``ref_codes`` must
        be one of them; classes absent from the sample get rows/columns of zeros. By
        default, the sorted union of the labels present.
    sample_weight : array_like, optional
        Non-negative weight of each sample (same shape as the labels). Without weights the
        matrix holds counts.

    Returns
    -------
    numpy.ndarray
        ``(k, k)`` matrix with rows = map classes and columns = reference classes, in the
        order of ``codes``; ``int64`` counts, or ``float64`` weight sums when
        ``sample_weight`` is given.

    Raises
    ------
    AccuracyError
        Lengths differ, a label is not in ``codes``, ``codes`` has duplicates, or a weight
        is negative or not finite.

    Examples
    --------
    >>> confusion_matrix_from_labels([1, 1, 2, 3], [1, 2, 2, 3], codes=[1, 2, 3])
    array([[1, 1, 0],
           [0, 1, 0],
           [0, 0, 1]])
    """
    m = as_labels(map_codes, "map_codes")
    r = as_labels(ref_codes, "ref_codes")
    if m.shape != r.shape:
        raise AccuracyError(
            f"map_codes and ref_codes must have the same length; got {m.size} and {r.size}"
        )
    if codes is None:
        codes = unique_labels(m, r)
        if not codes:
            raise AccuracyError("no samples and no codes: pass codes to get an empty matrix")
    codes = list(codes)
    k = len(codes)
    if k == 0:
        raise AccuracyError("codes is empty; pass the class codes in matrix order")
    if len(pd.unique(np.asarray(codes, dtype=object))) != k:
        raise AccuracyError(f"codes must be unique; got {codes}")
    hint = "mask nodata before calling, or add the missing codes to `codes`"
    mi = index_of(m, codes, "map_codes", hint)
    ri = index_of(r, codes, "ref_codes", hint)
    flat = mi * k + ri
    if sample_weight is None:
        return np.bincount(flat, minlength=k * k).astype(np.int64).reshape(k, k)
    w = np.asarray(sample_weight, dtype=np.float64).ravel()
    if w.shape != m.shape:
        raise AccuracyError(
            f"sample_weight must have one weight per sample ({m.size}); got {w.size}"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise AccuracyError("sample_weight must be finite and >= 0")
    return np.bincount(flat, weights=w, minlength=k * k).reshape(k, k)


@dataclass(frozen=True, eq=False)
class ConfusionStatistics:
    """Unweighted statistics of a confusion matrix (rows = map, columns = reference).

    Build with :func:`confusion_statistics`. Per-class statistics are ``pandas.Series``
    indexed by class name; undefined ratios (a class with no samples in the relevant row
    or column) are ``NaN``.

    Attributes
    ----------
    class_names : tuple of str
        Class names in matrix order.
    matrix : pandas.DataFrame
        The confusion matrix; index = map classes (named ``"map"``), columns = reference
        classes (named ``"reference"``).
    n : float
        Total count (or total weight).
    overall_accuracy : float
        ``Σ n_ii / n``.
    kappa : float
        Cohen's kappa ``(θ1 − θ2) / (1 − θ2)``; ``NaN`` when chance agreement θ2 is 1.
    kappa_variance : float
        Large-sample variance of kappa (method in ``kappa_variance_method``).
    kappa_variance_null : float
        Variance of kappa under the null hypothesis κ = 0 (Fleiss et al. 1969).
    kappa_variance_method : str
        ``"fce"`` or ``"congalton-green"`` (see :data:`KappaVarianceMethod`).
    z : float
        Normal quantile of the confidence intervals.
    users_accuracy, producers_accuracy, f1 : pandas.Series
        ``n_ii / n_i+``, ``n_jj / n_+j`` and ``2 n_ii / (n_i+ + n_+i)`` (the harmonic mean of
        user's and producer's accuracy, 0 when a class is never correct, ``NaN`` only when
        the class has neither map nor reference samples).
    map_counts, reference_counts : pandas.Series
        Row totals (samples per map class) and column totals (per reference class).
    conditional_kappa_users, conditional_kappa_producers : pandas.Series
        Conditional kappa per row (user's) and per column (producer's).
    polygon_counts : pandas.Series or None
        Number of reference polygons per class, when given.
    """

    class_names: tuple[str, ...]
    matrix: pd.DataFrame
    n: float
    overall_accuracy: float
    kappa: float
    kappa_variance: float
    kappa_variance_null: float
    kappa_variance_method: str
    z: float
    users_accuracy: pd.Series
    producers_accuracy: pd.Series
    f1: pd.Series
    map_counts: pd.Series
    reference_counts: pd.Series
    conditional_kappa_users: pd.Series
    conditional_kappa_producers: pd.Series
    polygon_counts: pd.Series | None = None

    @property
    def kappa_se(self) -> float:
        """Standard error of kappa, ``sqrt(kappa_variance)``."""
        return math.sqrt(self.kappa_variance) if self.kappa_variance >= 0 else math.nan

    @property
    def kappa_ci(self) -> tuple[float, float]:
        """``kappa ± z · kappa_se`` (not clipped)."""
        return ci_bounds(self.kappa, self.kappa_se, self.z)

    @property
    def kappa_z_score(self) -> float:
        """``kappa / sqrt(kappa_variance_null)``: test statistic of H0 κ = 0."""
        return float(safe_div(self.kappa, math.sqrt(max(self.kappa_variance_null, 0.0))))

    @property
    def macro_f1(self) -> float:
        """Mean F1 over classes with a defined F1 (``NaN`` if none)."""
        return float(self.f1.mean(skipna=True)) if self.f1.notna().any() else math.nan

    def per_class(self) -> pd.DataFrame:
        """Per-class statistics as one DataFrame indexed by class name."""
        cols: dict[str, pd.Series] = {
            "users_accuracy": self.users_accuracy,
            "producers_accuracy": self.producers_accuracy,
            "f1": self.f1,
            "map_count": self.map_counts,
            "reference_count": self.reference_counts,
            "conditional_kappa_users": self.conditional_kappa_users,
            "conditional_kappa_producers": self.conditional_kappa_producers,
        }
        if self.polygon_counts is not None:
            cols["polygon_count"] = self.polygon_counts
        frame = pd.DataFrame(cols)
        frame.index.name = "class"
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (builtins only; ``NaN`` becomes ``None``)."""
        classes = []
        for name, row in self.per_class().iterrows():
            entry: dict[str, Any] = {"class": str(name)}
            for key, value in row.items():
                is_count = key.endswith("_count")
                entry[str(key)] = count_value(value) if is_count else json_scalar(float(value))
            classes.append(entry)
        low, high = self.kappa_ci
        return {
            "class_names": list(self.class_names),
            "n": count_value(self.n),
            "matrix": {
                "rows": "map",
                "columns": "reference",
                "values": [[count_value(v) for v in row] for row in self.matrix.to_numpy()],
            },
            "overall_accuracy": json_scalar(self.overall_accuracy),
            "kappa": {
                "value": json_scalar(self.kappa),
                "variance": json_scalar(self.kappa_variance),
                "se": json_scalar(self.kappa_se),
                "ci_low": json_scalar(low),
                "ci_high": json_scalar(high),
                "variance_null": json_scalar(self.kappa_variance_null),
                "variance_method": self.kappa_variance_method,
            },
            "macro_f1": json_scalar(self.macro_f1),
            "z": self.z,
            "classes": classes,
        }


def confusion_statistics(
    matrix: ArrayLike | pd.DataFrame,
    class_names: Sequence[Hashable] | None = None,
    *,
    polygon_counts: ArrayLike | Mapping[Hashable, int] | pd.Series | None = None,
    z: float = Z_95,
    kappa_variance: KappaVarianceMethod = "fce",
) -> ConfusionStatistics:
    """Overall, user's and producer's accuracy, F1 and Cohen's kappa of a confusion matrix.

    These are sample statistics: they describe the reference sample and are unbiased map
    accuracies only under simple random sampling. For stratified samples use
    :func:`estimate_from_error_matrix` or :func:`stehman_estimate`.

    Parameters
    ----------
    matrix : array_like or pandas.DataFrame
        Square matrix of counts (or weights), rows = map classes, columns = reference
        classes. A DataFrame must have the same labels on both axes unless ``class_names``
        is given.
    class_names : sequence, optional
        One name per row/column (converted to ``str``). Default: the DataFrame labels, or
        ``"0", "1", ...``.
    polygon_counts : array_like or mapping, optional
        Number of reference polygons per class (one per class in order, or keyed by class
        name), reported alongside the pixel counts.
    z : float, default 1.96
        Normal quantile of the kappa confidence interval.
    kappa_variance : {"fce", "congalton-green"}, default "fce"
        ``"fce"``: large-sample variance of Fleiss, Cohen & Everitt (1969), with
        ``θ4 = Σ p_ij (p_j+ + p_+i)²``. ``"congalton-green"``: the variant printed in
        Congalton & Green (2009) and used by GRASS ``r.kappa``, with
        ``θ4 = Σ p_ij (p_i+ + p_+j)²``; it reproduces those books' numbers but not the
        statistics literature.

    Returns
    -------
    ConfusionStatistics

    Raises
    ------
    AccuracyError
        The matrix is not square, has negative or non-finite values, sums to 0, or the
        names/polygon counts do not match it.

    Notes
    -----
    With ``p_ij = n_ij / n``: ``θ1 = Σ p_ii``, ``θ2 = Σ p_i+ p_+i``,
    ``θ3 = Σ p_ii (p_i+ + p_+i)`` and ::

        var(κ) = 1/n [ θ1(1−θ1)/(1−θ2)² + 2(1−θ1)(2θ1θ2 − θ3)/(1−θ2)³
                       + (1−θ1)²(θ4 − 4θ2²)/(1−θ2)⁴ ]

    For weighted matrices ``n`` is the total weight, which is only meaningful when the
    weights are frequencies.

    Examples
    --------
    >>> stats = confusion_statistics([[65, 4, 22, 24], [6, 81, 5, 8],
    ...                               [0, 11, 85, 19], [4, 7, 3, 90]],
    ...                              ["D", "C", "BA", "SB"])
    >>> round(stats.overall_accuracy, 4), round(stats.kappa, 4)
    (0.7396, 0.6535)
    >>> float(round(stats.users_accuracy["D"], 4)), float(round(stats.producers_accuracy["D"], 4))
    (0.5652, 0.8667)
    """
    z = check_z(z)
    if kappa_variance not in _KAPPA_METHODS:
        raise AccuracyError(
            f"kappa_variance must be one of {list(_KAPPA_METHODS)}; got {kappa_variance!r}"
        )
    arr, names = as_square_matrix(matrix, class_names, "confusion matrix")
    n = float(arr.sum())
    if n <= 0:
        raise AccuracyError("confusion matrix has no samples (all counts are 0)")

    rows = arr.sum(axis=1)
    cols = arr.sum(axis=0)
    diag = np.diag(arr)

    p = arr / n
    pr = p.sum(axis=1)
    pc = p.sum(axis=0)
    pd_ = np.diag(p)
    t1 = float(pd_.sum())
    t2 = float(np.sum(pr * pc))
    t3 = float(np.sum(pd_ * (pr + pc)))
    if kappa_variance == "fce":
        t4 = float(np.sum(p * (pc[:, None] + pr[None, :]) ** 2))
    else:
        t4 = float(np.sum(p * (pr[:, None] + pc[None, :]) ** 2))
    one_m_t2 = 1.0 - t2
    if one_m_t2 > 1e-15:
        kappa = (t1 - t2) / one_m_t2
        var = (
            t1 * (1 - t1) / one_m_t2**2
            + 2 * (1 - t1) * (2 * t1 * t2 - t3) / one_m_t2**3
            + (1 - t1) ** 2 * (t4 - 4 * t2**2) / one_m_t2**4
        ) / n
        var0 = (t2 + t2**2 - float(np.sum(pr * pc * (pr + pc)))) / (n * one_m_t2**2)
    else:
        logger.debug("chance agreement is 1 (one class only): kappa is undefined")
        kappa = var = var0 = math.nan

    chance = pr * pc
    cond_users = safe_div(pd_ - chance, pr - chance)
    cond_prod = safe_div(pd_ - chance, pc - chance)

    def series(values: ArrayLike, name: str) -> pd.Series:
        s = pd.Series(np.asarray(values, dtype=np.float64), index=list(names), name=name)
        s.index.name = "class"
        return s

    polys: pd.Series | None = None
    if polygon_counts is not None:
        pc_arr = per_class_vector(polygon_counts, names, "polygon_counts")
        if not np.all(pc_arr == np.round(pc_arr)):
            raise AccuracyError("polygon_counts must be whole numbers")
        polys = pd.Series(pc_arr.astype(np.int64), index=list(names), name="polygon_count")
        polys.index.name = "class"

    frame = pd.DataFrame(arr, index=list(names), columns=list(names))
    if np.all(arr == np.round(arr)):
        frame = frame.astype(np.int64)
    frame.index.name = "map"
    frame.columns.name = "reference"

    stats = ConfusionStatistics(
        class_names=names,
        matrix=frame,
        n=n,
        overall_accuracy=float(diag.sum() / n),
        kappa=float(kappa),
        kappa_variance=float(var),
        kappa_variance_null=float(var0),
        kappa_variance_method=kappa_variance,
        z=z,
        users_accuracy=series(safe_div(diag, rows), "users_accuracy"),
        producers_accuracy=series(safe_div(diag, cols), "producers_accuracy"),
        f1=series(safe_div(2 * diag, rows + cols), "f1"),
        map_counts=series(rows, "map_count"),
        reference_counts=series(cols, "reference_count"),
        conditional_kappa_users=series(cond_users, "conditional_kappa_users"),
        conditional_kappa_producers=series(cond_prod, "conditional_kappa_producers"),
        polygon_counts=polys,
    )
    logger.debug(
        "confusion statistics: n=%s OA=%.4f kappa=%.4f", n, stats.overall_accuracy, stats.kappa
    )
    return stats


def compare_kappa(first: ConfusionStatistics, second: ConfusionStatistics) -> float:
    """Z statistic for the difference of two independent kappas.

    ``Z = |κ1 − κ2| / sqrt(var1 + var2)``; the kappas differ at the 95 % level when
    ``Z > 1.96`` (Congalton & Green 2009).

    Examples
    --------
    >>> a = confusion_statistics([[40, 10], [5, 45]])
    >>> b = confusion_statistics([[30, 20], [15, 35]])
    >>> compare_kappa(a, b) > 1.96
    True
    """
    denom = math.sqrt(first.kappa_variance + second.kappa_variance)
    return float(safe_div(abs(first.kappa - second.kappa), denom))
