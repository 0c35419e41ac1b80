"""Accuracy assessment and design-based area estimation (pure numpy/pandas core).

This module holds the statistics of map accuracy assessment. It does no raster or vector
I/O: callers pass counts, label vectors and pixel counts, and get frozen result objects back.

Conventions used throughout (as in Olofsson et al. 2014 and Stehman 2014):

- An error (confusion) matrix has **rows = map classes** and **columns = reference
  classes**. ``n_ij`` is the number (or weight) of samples mapped as ``i`` whose reference
  class is ``j``.
- ``N_i`` is the mapped area of map class ``i`` in pixels (or any area unit), ``W_i = N_i / N``.
- Confidence intervals are ``estimate ± z · SE`` with ``z = 1.96`` by default; they are not
  clipped to ``[0, 1]``.
- A statistic whose denominator is zero (a class with no samples in its row or column, a
  stratum with a single sample for a variance) is returned as ``NaN``, never raised.
  Inputs that are inconsistent (non-square matrix, negative counts, a stratum with mapped
  pixels but no samples, ...) raise :class:`~rasterclass.errors.AccuracyError` with a
  message naming the fix.

Contents
--------
Unweighted confusion-matrix statistics (simple random or reference-polygon samples):
    :func:`confusion_matrix_from_labels`, :func:`confusion_statistics`,
    :class:`ConfusionStatistics`, :func:`compare_kappa`.
Design-based estimation of accuracy and area under stratified random sampling:
    :func:`estimate_from_error_matrix` (Olofsson et al. 2014, strata = map classes),
    :func:`stehman_estimate` (Stehman 2014, any strata), :class:`AreaEstimate`.
Sample design:
    :func:`sample_size_for_overall_accuracy` (Olofsson et al. 2014 eq. 13),
    :func:`anticipated_standard_errors`, :func:`allocate_sample`.
Reporting:
    :class:`AccuracyReport` (JSON, Markdown and tidy CSV renderers), :func:`format_for_path`.

References
----------
Olofsson, P., Foody, G. M., Herold, M., Stehman, S. V., Woodcock, C. E. & Wulder, M. A.
(2014). Good practices for estimating area and assessing accuracy of land change. *Remote
Sensing of Environment*, 148, 42-57.

Stehman, S. V. (2014). Estimating area and map accuracy for stratified random sampling when
the strata are different from the map classes. *International Journal of Remote Sensing*,
35, 4923-4939.

Fleiss, J. L., Cohen, J. & Everitt, B. S. (1969). Large sample standard errors of kappa and
weighted kappa. *Psychological Bulletin*, 72, 323-327.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rasterclass.errors import AccuracyError

__all__ = [
    "Z_95",
    "AccuracyReport",
    "AnticipatedPrecision",
    "AreaEstimate",
    "ConfusionStatistics",
    "KappaVarianceMethod",
    "ReportFormat",
    "ReportKind",
    "allocate_sample",
    "anticipated_standard_errors",
    "compare_kappa",
    "confusion_matrix_from_labels",
    "confusion_statistics",
    "estimate_from_error_matrix",
    "format_for_path",
    "sample_size_for_overall_accuracy",
    "stehman_estimate",
    "z_for_confidence",
]

logger = logging.getLogger(__name__)

#: The normal quantile used for 95 % confidence intervals, as in Olofsson et al. (2014).
Z_95 = 1.96

#: Output formats of :meth:`AccuracyReport.render`.
ReportFormat = Literal["json", "markdown", "csv"]

#: What a report describes. ``"fit diagnostic"`` marks statistics computed on the training
#: data (optimistic); ``"design-based"`` marks area-adjusted estimates from a probability
#: sample.
ReportKind = Literal["validation", "cross-validation", "fit diagnostic", "design-based"]

#: Kappa variance formula: ``"fce"`` is the large-sample variance of Fleiss, Cohen & Everitt
#: (1969) (= the delta method of Bishop, Fienberg & Holland 1975); ``"congalton-green"`` is
#: the variant printed in Congalton & Green (2009) and used by GRASS ``r.kappa``, which
#: uses each cell's own margins in theta_4.
KappaVarianceMethod = Literal["fce", "congalton-green"]

_REPORT_FORMATS: tuple[str, ...] = get_args(ReportFormat)
_REPORT_KINDS: tuple[str, ...] = get_args(ReportKind)
_KAPPA_METHODS: tuple[str, ...] = get_args(KappaVarianceMethod)
_EXTENSIONS: dict[str, ReportFormat] = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".csv": "csv",
}
_M2_PER_HA = 10_000.0
_REPORT_FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


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


def _check_z(z: float) -> float:
    z = float(z)
    if not math.isfinite(z) or z <= 0:
        raise AccuracyError(
            f"z must be a positive number (1.96 for 95 % intervals, see z_for_confidence); "
            f"got {z!r}"
        )
    return z


def _safe_div(num: ArrayLike, den: ArrayLike) -> NDArray[np.float64]:
    """Elementwise ``num / den`` with ``NaN`` where ``den == 0``."""
    num_a = np.asarray(num, dtype=np.float64)
    den_a = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den_a != 0, num_a / np.where(den_a != 0, den_a, 1.0), np.nan)
    return np.asarray(out, dtype=np.float64)


def _class_names(names: Sequence[Hashable] | None, k: int, what: str) -> tuple[str, ...]:
    if names is None:
        return tuple(str(i) for i in range(k))
    if isinstance(names, str):
        raise AccuracyError(f"class_names must be a sequence of names, not the string {names!r}")
    out = tuple(str(n) for n in names)
    if len(out) != k:
        raise AccuracyError(
            f"{what} has {k} classes but {len(out)} class names were given; "
            "pass one name per row/column, in matrix order"
        )
    if len(set(out)) != k:
        dupes = sorted({n for n in out if out.count(n) > 1})
        raise AccuracyError(f"class names must be unique; repeated: {dupes}")
    return out


def _as_square_matrix(
    matrix: ArrayLike | pd.DataFrame,
    class_names: Sequence[Hashable] | None,
    what: str,
) -> tuple[NDArray[np.float64], tuple[str, ...]]:
    """Validate a square count matrix and its class names."""
    if isinstance(matrix, pd.DataFrame):
        if class_names is None:
            rows = [str(v) for v in matrix.index]
            cols = [str(v) for v in matrix.columns]
            if rows != cols:
                raise AccuracyError(
                    f"{what}: row labels (map classes) {rows} differ from column labels "
                    f"(reference classes) {cols}; reorder so both list the same classes in the "
                    "same order, or pass class_names"
                )
            class_names = rows
        values: Any = matrix.to_numpy()
    else:
        values = matrix
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AccuracyError(f"{what} must hold numeric counts: {exc}") from exc
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise AccuracyError(
            f"{what} must be a non-empty square matrix (rows = map classes, columns = reference "
            f"classes); got shape {arr.shape}. Add absent classes as rows/columns of zeros."
        )
    if not np.all(np.isfinite(arr)):
        raise AccuracyError(f"{what} contains NaN or infinite values; use 0 for empty cells")
    if np.any(arr < 0):
        bad = [tuple(int(v) for v in ij) for ij in np.argwhere(arr < 0)[:5]]
        raise AccuracyError(
            f"{what} has negative counts at (row, column) {bad}; counts must be >= 0"
        )
    names = _class_names(class_names, arr.shape[0], what)
    return arr, names


def _per_class_vector(
    values: ArrayLike | Mapping[Hashable, float] | pd.Series,
    names: tuple[str, ...],
    what: str,
) -> NDArray[np.float64]:
    """A non-negative finite vector aligned with ``names`` (mapping/Series keyed by name)."""
    if isinstance(values, pd.Series | Mapping):
        mapping = {str(k): v for k, v in values.items()}
        unknown = sorted(set(mapping) - set(names))
        if unknown:
            raise AccuracyError(
                f"{what} has entries for unknown classes {unknown}; known classes: {list(names)}"
            )
        missing = [n for n in names if n not in mapping]
        if missing:
            raise AccuracyError(
                f"{what} has no value for classes {missing}; give every class a value (0 if "
                "it is absent)"
            )
        raw: Any = [mapping[n] for n in names]
    else:
        raw = values
    try:
        arr = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AccuracyError(f"{what} must be numeric: {exc}") from exc
    if arr.ndim != 1 or arr.shape[0] != len(names):
        raise AccuracyError(
            f"{what} must have one value per class ({len(names)}); got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise AccuracyError(f"{what} must be finite and >= 0; got {arr.tolist()}")
    return arr


def _as_labels(values: ArrayLike, what: str) -> NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim == 0:
        raise AccuracyError(f"{what} must be a sequence of labels, not a scalar")
    return arr.ravel()


def _index_of(
    values: NDArray[Any], labels: Sequence[Hashable], what: str, hint: str
) -> NDArray[np.intp]:
    """Positions of ``values`` in ``labels``; AccuracyError for values not in ``labels``."""
    index = pd.Index(list(labels))
    pos = np.asarray(index.get_indexer(values), dtype=np.intp)
    if np.any(pos < 0):
        unknown = pd.unique(values[pos < 0])[:10]
        raise AccuracyError(
            f"{what} contains labels {[_py(v) for v in unknown]} that are not in "
            f"{list(labels)[:20]}; {hint}"
        )
    return pos


def _unique_labels(*arrays: NDArray[Any]) -> list[Hashable]:
    seen = pd.unique(np.concatenate([np.asarray(a, dtype=object) for a in arrays]))
    try:
        return sorted(seen.tolist())
    except TypeError:
        return list(seen.tolist())


def _py(value: Any) -> Any:
    """A JSON-friendly Python scalar (NaN/inf -> None, numpy -> builtin)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _jsonable(obj: Any) -> Any:
    """Recursively convert to JSON-serialisable builtins (no numpy types, no NaN)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, pd.Series):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, str | bool) or obj is None:
        return obj
    if isinstance(obj, np.generic | int | float):
        return _py(obj)
    return str(obj)


def _count(value: float) -> int | float | None:
    """A count for output: int when integral, float otherwise, None when NaN."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value


def _ci(value: float, se: float, z: float) -> tuple[float, float]:
    return (value - z * se, value + z * se)


def _est(value: float, se: float | None, z: float) -> dict[str, Any]:
    """An estimate with optional SE and CI as a JSON-friendly dict."""
    out: dict[str, Any] = {"value": _py(float(value))}
    if se is not None:
        low, high = _ci(float(value), float(se), z)
        out.update(se=_py(float(se)), ci_low=_py(low), ci_high=_py(high))
    return out


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
    m = _as_labels(map_codes, "map_codes")
    r = _as_labels(ref_codes, "ref_codes")
    if m.shape != r.shape:
        raise AccuracyError(
            f"map_codes and ref_codes must have the same length; got {m.size} and {r.size}"
        )
    if codes is None:
        codes = _unique_labels(m, r)
        if not codes:
            raise AccuracyError("no samples and no codes: pass codes to get an empty matrix")
    codes = list(codes)
    k = len(codes)
    if k == 0:
        raise AccuracyError("codes is empty; pass the class codes in matrix order")
    if len(pd.unique(np.asarray(codes, dtype=object))) != k:
        raise AccuracyError(f"codes must be unique; got {codes}")
    hint = "mask nodata before calling, or add the missing codes to `codes`"
    mi = _index_of(m, codes, "map_codes", hint)
    ri = _index_of(r, codes, "ref_codes", hint)
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
        return _ci(self.kappa, self.kappa_se, self.z)

    @property
    def kappa_z_score(self) -> float:
        """``kappa / sqrt(kappa_variance_null)``: test statistic of H0 κ = 0."""
        return float(_safe_div(self.kappa, math.sqrt(max(self.kappa_variance_null, 0.0))))

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
                entry[str(key)] = _count(value) if is_count else _py(float(value))
            classes.append(entry)
        low, high = self.kappa_ci
        return {
            "class_names": list(self.class_names),
            "n": _count(self.n),
            "matrix": {
                "rows": "map",
                "columns": "reference",
                "values": [[_count(v) for v in row] for row in self.matrix.to_numpy()],
            },
            "overall_accuracy": _py(self.overall_accuracy),
            "kappa": {
                "value": _py(self.kappa),
                "variance": _py(self.kappa_variance),
                "se": _py(self.kappa_se),
                "ci_low": _py(low),
                "ci_high": _py(high),
                "variance_null": _py(self.kappa_variance_null),
                "variance_method": self.kappa_variance_method,
            },
            "macro_f1": _py(self.macro_f1),
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
    z = _check_z(z)
    if kappa_variance not in _KAPPA_METHODS:
        raise AccuracyError(
            f"kappa_variance must be one of {list(_KAPPA_METHODS)}; got {kappa_variance!r}"
        )
    arr, names = _as_square_matrix(matrix, class_names, "confusion matrix")
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
    cond_users = _safe_div(pd_ - chance, pr - chance)
    cond_prod = _safe_div(pd_ - chance, pc - chance)

    def series(values: ArrayLike, name: str) -> pd.Series:
        s = pd.Series(np.asarray(values, dtype=np.float64), index=list(names), name=name)
        s.index.name = "class"
        return s

    polys: pd.Series | None = None
    if polygon_counts is not None:
        pc_arr = _per_class_vector(polygon_counts, names, "polygon_counts")
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
        users_accuracy=series(_safe_div(diag, rows), "users_accuracy"),
        producers_accuracy=series(_safe_div(diag, cols), "producers_accuracy"),
        f1=series(_safe_div(2 * diag, rows + cols), "f1"),
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
    return float(_safe_div(abs(first.kappa - second.kappa), denom))


# --------------------------------------------------------------------------------------
# Design-based estimation of accuracy and area
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AreaEstimate:
    """Design-based (area-weighted) accuracy and area estimates with standard errors.

    Built by :func:`estimate_from_error_matrix` (Olofsson et al. 2014) or
    :func:`stehman_estimate` (Stehman 2014). Per-class values are ``pandas.Series``
    indexed by class name; undefined ratios are ``NaN`` (e.g. the producer's accuracy of a
    class never seen in the reference sample), and standard errors are ``NaN`` when a
    stratum has a single sample.

    Attributes
    ----------
    class_names : tuple of str
        Class names in matrix order (the same classes for map and reference).
    method : str
        ``"olofsson2014"`` or ``"stehman2014"``.
    z : float
        Normal quantile of the confidence intervals.
    fpc : bool
        Whether the finite-population correction ``1 − n_h/N_h`` was applied.
    total_pixels : float
        ``N``, the total of the stratum sizes (pixels or area units).
    pixel_area_m2 : float or None
        Area of one pixel in m² (``None``: areas only in pixels).
    n_samples : int
        Number of sample units.
    sample_counts : pandas.DataFrame
        Error matrix of sample counts (rows = map, columns = reference).
    proportion_matrix : pandas.DataFrame
        Estimated area proportions ``p̂_ij`` (rows = map, columns = reference), sum 1.
    strata : pandas.DataFrame
        Per stratum: ``stratum_size`` (``N_h``) and ``sample_size`` (``n_h``).
    overall_accuracy, overall_accuracy_se : float
        Estimated overall accuracy and its standard error.
    users_accuracy, users_accuracy_se : pandas.Series
        User's accuracy per map class and SE.
    producers_accuracy, producers_accuracy_se : pandas.Series
        Producer's accuracy per reference class and SE.
    area_proportion, area_proportion_se : pandas.Series
        Estimated proportion of area of each reference class ``p̂_.j`` and SE.
    mapped_pixels : pandas.Series or None
        Mapped pixels per class when known (strata = map classes), else ``None``.
    """

    class_names: tuple[str, ...]
    method: str
    z: float
    fpc: bool
    total_pixels: float
    pixel_area_m2: float | None
    n_samples: int
    sample_counts: pd.DataFrame
    proportion_matrix: pd.DataFrame
    strata: pd.DataFrame
    overall_accuracy: float
    overall_accuracy_se: float
    users_accuracy: pd.Series
    users_accuracy_se: pd.Series
    producers_accuracy: pd.Series
    producers_accuracy_se: pd.Series
    area_proportion: pd.Series
    area_proportion_se: pd.Series
    mapped_pixels: pd.Series | None = None

    @property
    def overall_accuracy_ci(self) -> tuple[float, float]:
        """``overall_accuracy ± z · SE``."""
        return _ci(self.overall_accuracy, self.overall_accuracy_se, self.z)

    @property
    def area_pixels(self) -> pd.Series:
        """Estimated area per reference class in pixels (units of the stratum sizes)."""
        return (self.area_proportion * self.total_pixels).rename("area_pixels")

    @property
    def area_pixels_se(self) -> pd.Series:
        """Standard error of :attr:`area_pixels`."""
        return (self.area_proportion_se * self.total_pixels).rename("area_pixels_se")

    @property
    def area_m2(self) -> pd.Series | None:
        """Estimated area in m² (``None`` without ``pixel_area_m2``)."""
        if self.pixel_area_m2 is None:
            return None
        return (self.area_pixels * self.pixel_area_m2).rename("area_m2")

    @property
    def area_ha(self) -> pd.Series | None:
        """Estimated area in hectares (``None`` without ``pixel_area_m2``)."""
        if self.pixel_area_m2 is None:
            return None
        return (self.area_pixels * self.pixel_area_m2 / _M2_PER_HA).rename("area_ha")

    @property
    def area_ha_se(self) -> pd.Series | None:
        """Standard error of :attr:`area_ha` (``None`` without ``pixel_area_m2``)."""
        if self.pixel_area_m2 is None:
            return None
        return (self.area_pixels_se * self.pixel_area_m2 / _M2_PER_HA).rename("area_ha_se")

    def _metrics(self) -> list[tuple[str, pd.Series, pd.Series]]:
        out = [
            ("users_accuracy", self.users_accuracy, self.users_accuracy_se),
            ("producers_accuracy", self.producers_accuracy, self.producers_accuracy_se),
            ("area_proportion", self.area_proportion, self.area_proportion_se),
            ("area_pixels", self.area_pixels, self.area_pixels_se),
        ]
        if self.pixel_area_m2 is not None:
            ha, ha_se = self.area_ha, self.area_ha_se
            assert ha is not None
            assert ha_se is not None
            out.append(("area_ha", ha, ha_se))
        return out

    def to_frame(self) -> pd.DataFrame:
        """Per-class table: each metric with ``_se``, ``_ci_low`` and ``_ci_high`` columns.

        Columns: ``mapped_pixels`` (and ``mapped_ha``) when known, then ``users_accuracy``,
        ``producers_accuracy``, ``area_proportion``, ``area_pixels`` and, with a pixel
        area, ``area_ha``.
        """
        cols: dict[str, pd.Series] = {}
        if self.mapped_pixels is not None:
            cols["mapped_pixels"] = self.mapped_pixels
            if self.pixel_area_m2 is not None:
                cols["mapped_ha"] = self.mapped_pixels * self.pixel_area_m2 / _M2_PER_HA
        for name, value, se in self._metrics():
            cols[name] = value
            cols[f"{name}_se"] = se
            cols[f"{name}_ci_low"] = value - self.z * se
            cols[f"{name}_ci_high"] = value + self.z * se
        frame = pd.DataFrame(cols)
        frame.index.name = "class"
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (builtins only; ``NaN`` becomes ``None``)."""
        classes = []
        for name in self.class_names:
            entry: dict[str, Any] = {"class": name}
            if self.mapped_pixels is not None:
                entry["mapped_pixels"] = _count(self.mapped_pixels[name])
            for metric, value, se in self._metrics():
                entry[metric] = _est(value[name], se[name], self.z)
            classes.append(entry)
        return {
            "method": self.method,
            "z": self.z,
            "fpc": self.fpc,
            "total_pixels": _count(self.total_pixels),
            "pixel_area_m2": _py(self.pixel_area_m2),
            "n_samples": int(self.n_samples),
            "class_names": list(self.class_names),
            "overall_accuracy": _est(self.overall_accuracy, self.overall_accuracy_se, self.z),
            "classes": classes,
            "sample_counts": {
                "rows": "map",
                "columns": "reference",
                "values": [[_count(v) for v in row] for row in self.sample_counts.to_numpy()],
            },
            "proportion_matrix": {
                "rows": "map",
                "columns": "reference",
                "values": [
                    [_py(float(v)) for v in row] for row in self.proportion_matrix.to_numpy()
                ],
            },
            "strata": [
                {
                    "stratum": str(h),
                    "stratum_size": _count(row["stratum_size"]),
                    "sample_size": _count(row["sample_size"]),
                }
                for h, row in self.strata.iterrows()
            ],
        }


def _labelled(values: ArrayLike, names: tuple[str, ...], name: str) -> pd.Series:
    s = pd.Series(np.asarray(values, dtype=np.float64), index=list(names), name=name)
    s.index.name = "class"
    return s


def _labelled_matrix(values: NDArray[np.float64], names: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(values, index=list(names), columns=list(names))
    frame.index.name = "map"
    frame.columns.name = "reference"
    return frame


def _check_pixel_area(pixel_area_m2: float | None) -> float | None:
    if pixel_area_m2 is None:
        return None
    value = float(pixel_area_m2)
    if not math.isfinite(value) or value <= 0:
        raise AccuracyError(
            f"pixel_area_m2 must be a positive area in m² (e.g. 900 for 30 m pixels); "
            f"got {pixel_area_m2!r}"
        )
    return value


def estimate_from_error_matrix(
    counts: ArrayLike | pd.DataFrame,
    mapped_pixels: ArrayLike | Mapping[Hashable, float] | pd.Series,
    class_names: Sequence[Hashable] | None = None,
    *,
    pixel_area_m2: float | None = None,
    z: float = Z_95,
) -> AreaEstimate:
    """Stratified estimator of accuracy and area with the map classes as strata.

    Implements the estimators of Olofsson et al. (2013, 2014) for stratified random
    sampling where the strata are the map classes (no finite-population correction).

    Parameters
    ----------
    counts : array_like or pandas.DataFrame
        Square error matrix of **sample counts**, rows = map classes (strata), columns =
        reference classes.
    mapped_pixels : array_like or mapping
        Mapped pixels ``N_i`` of each map class (one per row, or keyed by class name). Any
        area unit works; :attr:`AreaEstimate.area_pixels` is then in that unit.
    class_names : sequence, optional
        One name per row/column. Default: the DataFrame labels or ``"0", "1", ...``.
    pixel_area_m2 : float, optional
        Area of one pixel in m², to report areas in hectares.
    z : float, default 1.96
        Normal quantile of the confidence intervals.

    Returns
    -------
    AreaEstimate

    Raises
    ------
    AccuracyError
        Invalid matrix; a map class with mapped pixels but no samples (the stratum must be
        sampled); samples in a class with 0 mapped pixels; no mapped pixels at all.

    Notes
    -----
    With ``W_i = N_i/N`` and ``p̂_ij = W_i n_ij/n_i.``: ``Ô = Σ p̂_jj``,
    ``Û_i = n_ii/n_i.``, ``P̂_j = p̂_jj/p̂_.j``; ``V̂(Ô) = Σ W_i² Û_i(1−Û_i)/(n_i.−1)``,
    ``V̂(Û_i) = Û_i(1−Û_i)/(n_i.−1)``, ``V̂(p̂_.j) = Σ W_i² (n_ij/n_i.)(1−n_ij/n_i.)/(n_i.−1)``
    and V̂(P̂_j) as eq. (7) of Olofsson et al. (2014). A map class with one sample has
    ``NaN`` standard errors (and so do the overall and area SEs it enters).

    Examples
    --------
    Olofsson et al. (2014), section 5:

    >>> est = estimate_from_error_matrix(
    ...     [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]],
    ...     [200_000, 150_000, 3_200_000, 6_450_000],
    ...     ["deforestation", "gain", "forest", "nonforest"], pixel_area_m2=900)
    >>> round(est.overall_accuracy, 4)
    0.9465
    >>> round(est.area_ha["deforestation"]), round(est.z * est.area_ha_se["deforestation"])
    (21158, 6158)
    """
    z = _check_z(z)
    pixel_area_m2 = _check_pixel_area(pixel_area_m2)
    n_ij, names = _as_square_matrix(counts, class_names, "error matrix of sample counts")
    if not np.all(n_ij == np.round(n_ij)):
        raise AccuracyError(
            "the error matrix must hold whole sample counts; for area-weighted inputs use "
            "stehman_estimate with one row per sample unit"
        )
    n_pix = _per_class_vector(mapped_pixels, names, "mapped_pixels")
    n_i = n_ij.sum(axis=1)
    unsampled = [names[i] for i in np.flatnonzero((n_pix > 0) & (n_i == 0))]
    if unsampled:
        raise AccuracyError(
            f"map classes {unsampled} have mapped pixels but no samples in the error matrix; "
            "sample every mapped class (>= 2 samples each for a standard error) or merge the "
            "class into another before estimating"
        )
    orphans = [names[i] for i in np.flatnonzero((n_pix == 0) & (n_i > 0))]
    if orphans:
        raise AccuracyError(
            f"map classes {orphans} have samples but 0 mapped pixels; check that "
            "mapped_pixels is in the same class order as the matrix rows"
        )
    total = float(n_pix.sum())
    if total <= 0:
        raise AccuracyError("mapped_pixels sums to 0; give the mapped pixel count of each class")
    if np.any((n_i == 1) & (n_pix > 0)):
        logger.warning(
            "map classes %s have a single sample: their standard errors are NaN",
            [names[i] for i in np.flatnonzero(n_i == 1)],
        )

    w = n_pix / total
    sampled = n_i > 0
    frac = np.zeros_like(n_ij)
    frac[sampled] = n_ij[sampled] / n_i[sampled, None]
    p = w[:, None] * frac  # p̂_ij
    # 1/(n_i. - 1): NaN for a single sample, 0 for unsampled (empty, W_i = 0) strata.
    with np.errstate(divide="ignore"):
        inv = np.where(n_i > 1, 1.0 / np.maximum(n_i - 1.0, 1.0), np.nan)
    inv = np.where(sampled, inv, 0.0)
    users = np.where(sampled, np.diag(frac), np.nan)
    u_fill = np.where(sampled, users, 0.0)
    bern = frac * (1.0 - frac)  # (n_ij/n_i.)(1 - n_ij/n_i.)

    oa = float(np.trace(p))
    oa_var = float(np.sum(w**2 * u_fill * (1 - u_fill) * inv))
    users_var = np.where(sampled, users * (1 - users) * inv, np.nan)
    p_col = p.sum(axis=0)
    p_col_var = np.sum((w**2)[:, None] * bern * inv[:, None], axis=0)
    producers = _safe_div(np.diag(p), p_col)
    # 1 - P_j as Σ_{i≠j} p_ij / p_.j (no cancellation when P_j is close to 1).
    p_offdiag = p * (1.0 - np.eye(p.shape[0]))
    one_minus_producers = _safe_div(p_offdiag.sum(axis=0), p_col)

    # Eq. (7): V(P_j) = [N_j.² (1-P_j)² U_j(1-U_j)/(n_j.-1)
    #                    + P_j² Σ_{i≠j} N_i.² (n_ij/n_i.)(1-n_ij/n_i.)/(n_i.-1)] / N̂_.j²
    n_hat_col = total * p_col
    off = (n_pix**2)[:, None] * bern * inv[:, None]
    np.fill_diagonal(off, 0.0)  # Σ over i ≠ j (masking, not subtracting: no cancellation)
    off_sum = off.sum(axis=0)
    own = n_pix**2 * one_minus_producers**2 * u_fill * (1 - u_fill) * inv
    producers_var = _safe_div(own + producers**2 * off_sum, n_hat_col**2)

    strata = pd.DataFrame({"stratum_size": n_pix, "sample_size": n_i}, index=list(names))
    strata.index.name = "stratum"
    est = AreaEstimate(
        class_names=names,
        method="olofsson2014",
        z=z,
        fpc=False,
        total_pixels=total,
        pixel_area_m2=pixel_area_m2,
        n_samples=int(n_ij.sum()),
        sample_counts=_labelled_matrix(n_ij, names).astype(np.int64),
        proportion_matrix=_labelled_matrix(p, names),
        strata=strata,
        overall_accuracy=oa,
        overall_accuracy_se=math.sqrt(oa_var) if not math.isnan(oa_var) else math.nan,
        users_accuracy=_labelled(users, names, "users_accuracy"),
        users_accuracy_se=_labelled(np.sqrt(users_var), names, "users_accuracy_se"),
        producers_accuracy=_labelled(producers, names, "producers_accuracy"),
        producers_accuracy_se=_labelled(np.sqrt(producers_var), names, "producers_accuracy_se"),
        area_proportion=_labelled(p_col, names, "area_proportion"),
        area_proportion_se=_labelled(np.sqrt(p_col_var), names, "area_proportion_se"),
        mapped_pixels=_labelled(n_pix, names, "mapped_pixels"),
    )
    logger.debug("olofsson estimate: n=%d OA=%.4f", est.n_samples, est.overall_accuracy)
    return est


def _group_sum(values: NDArray[np.float64], idx: NDArray[np.intp], groups: int) -> NDArray:
    out = np.zeros((groups, values.shape[1]), dtype=np.float64)
    np.add.at(out, idx, values)
    return out


def _stratified_ratio(
    y: NDArray[np.float64],
    x: NDArray[np.float64],
    h: NDArray[np.intp],
    big_n: NDArray[np.float64],
    small_n: NDArray[np.float64],
    fpc: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Stratified combined ratio estimator ``R̂ = Ŷ/X̂`` and its SE (Stehman 2014, eq. 28).

    ``y`` and ``x`` are ``(n, t)`` arrays of per-unit values for ``t`` targets. A
    proportion is the special case ``x = 1`` (eq. 25).
    """
    n_strata = big_n.shape[0]
    ybar = _group_sum(y, h, n_strata) / small_n[:, None]
    xbar = _group_sum(x, h, n_strata) / small_n[:, None]
    y_tot = big_n @ ybar
    x_tot = big_n @ xbar
    ratio = _safe_div(y_tot, x_tot)
    # s²_yh + R² s²_xh − 2 R s_xyh is the within-stratum sample variance of the residual
    # d_u = y_u − R x_u; computing it from d avoids catastrophic cancellation.
    d = y - ratio[None, :] * x
    dbar = _group_sum(d, h, n_strata) / small_n[:, None]
    dc = d - dbar[h]
    with np.errstate(divide="ignore"):
        inv_dof = np.where(small_n > 1, 1.0 / np.maximum(small_n - 1.0, 1.0), np.nan)
    s_dd = _group_sum(dc * dc, h, n_strata) * inv_dof[:, None]
    f = (1.0 - small_n / big_n) if fpc else np.ones_like(big_n)
    coef = big_n**2 * f / small_n
    with np.errstate(invalid="ignore"):
        var = _safe_div(coef @ s_dd, x_tot**2)
    se = np.sqrt(var)
    return ratio, se


def stehman_estimate(
    map_class: ArrayLike,
    ref_class: ArrayLike,
    strata: ArrayLike,
    stratum_sizes: Mapping[Hashable, float] | pd.Series,
    *,
    fpc: bool = False,
    classes: Sequence[Hashable] | None = None,
    class_names: Sequence[Hashable] | None = None,
    pixel_area_m2: float | None = None,
    z: float = Z_95,
) -> AreaEstimate:
    """Accuracy and area under stratified random sampling with any strata (Stehman 2014).

    The strata need not be the map classes (e.g. a previous map, buffers of change, or
    administrative units). With strata = map classes and ``fpc=False`` the results equal
    :func:`estimate_from_error_matrix`.

    Parameters
    ----------
    map_class, ref_class, strata : array_like
        Per sample unit: its map class, reference class and stratum label (same length).
    stratum_sizes : mapping or pandas.Series
        ``N_h`` for every stratum label: pixel count (or area) of the stratum in the
        population. Strata of size 0 without samples are ignored.
    fpc : bool, default False
        Apply the finite-population correction ``1 − n_h/N_h`` to the variances
        (Stehman 2014 eq. 25/28). ``False`` reproduces Olofsson et al. (2014) and the
        EnMAP-Box.
    classes : sequence, optional
        The class labels (as they appear in ``map_class`` and ``ref_class``) in output
        order. Default: sorted union of the labels present.
    class_names : sequence, optional
        Display names for ``classes`` (same length). Default: ``str`` of the labels.
    pixel_area_m2 : float, optional
        Area of one pixel in m², to report areas in hectares.
    z : float, default 1.96
        Normal quantile of the confidence intervals.

    Returns
    -------
    AreaEstimate
        ``mapped_pixels`` is ``None`` (the map class sizes are not inputs here).

    Raises
    ------
    AccuracyError
        Lengths differ; a sample's stratum has no size; a stratum with ``N_h > 0`` has no
        samples; a stratum of size 0 has samples; a class label is not in ``classes``;
        ``fpc=True`` with more samples than units in a stratum.

    Notes
    -----
    Every target is a ratio ``R̂ = Σ_h N_h ȳ_h / Σ_h N_h x̄_h`` with per-unit indicators
    ``y_u`` and ``x_u`` (``x_u = 1`` for proportions), and ::

        V̂(R̂) = 1/X̂² Σ_h N_h² (1 − n_h/N_h) (s²_yh + R̂² s²_xh − 2 R̂ s_xyh) / n_h

    (the factor ``1 − n_h/N_h`` only with ``fpc=True``). The bracket is computed as the
    within-stratum sample variance of ``y_u − R̂ x_u``, which is algebraically identical
    and free of cancellation.

    Overall accuracy: ``y = [map = ref]``; area of class k: ``y = [ref = k]``; user's
    accuracy of i: ``y = [map = ref = i]``, ``x = [map = i]``; producer's accuracy of j:
    ``y = [map = ref = j]``, ``x = [ref = j]``. A stratum with one sample makes the SEs
    ``NaN``.

    Examples
    --------
    Stehman (2014), section 3 (four strata, four classes, ten samples per stratum):

    >>> strata = [1] * 10 + [2] * 10 + [3] * 10 + [4] * 10
    >>> m = list("AAAAAAABBB" "ABBBBBBBBB" "BBCCCCCCBB" "DDDDDDDDDD")
    >>> r = list("AAAAACBABC" "ABBBBBAABB" "CCCCCDDBBA" "DDDDDDDCCB")
    >>> est = stehman_estimate(m, r, strata, {1: 40_000, 2: 30_000, 3: 20_000, 4: 10_000})
    >>> round(est.overall_accuracy, 2), round(float(est.users_accuracy["B"]), 3)
    (0.63, 0.574)
    """
    z = _check_z(z)
    pixel_area_m2 = _check_pixel_area(pixel_area_m2)
    m = _as_labels(map_class, "map_class")
    r = _as_labels(ref_class, "ref_class")
    s = _as_labels(strata, "strata")
    if not (m.size == r.size == s.size):
        raise AccuracyError(
            "map_class, ref_class and strata must have one entry per sample unit; got "
            f"lengths {m.size}, {r.size} and {s.size}"
        )
    if m.size == 0:
        raise AccuracyError("no sample units were given")
    if not isinstance(stratum_sizes, Mapping | pd.Series):
        raise AccuracyError(
            "stratum_sizes must map each stratum label to its size N_h, e.g. {1: 40000, 2: ...}"
        )
    size_labels = list(stratum_sizes.keys())
    if len(pd.unique(np.asarray(size_labels, dtype=object))) != len(size_labels):
        raise AccuracyError("stratum_sizes has repeated stratum labels")
    try:
        big_n_all = np.array([stratum_sizes[k] for k in size_labels], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AccuracyError(f"stratum_sizes must be numeric: {exc}") from exc
    if not np.all(np.isfinite(big_n_all)) or np.any(big_n_all < 0):
        raise AccuracyError("stratum_sizes must be finite and >= 0")
    h_all = _index_of(
        s, size_labels, "strata", "give stratum_sizes an entry (N_h) for every stratum sampled"
    )
    small_n_all = np.bincount(h_all, minlength=len(size_labels)).astype(np.float64)
    empty = [_py(size_labels[i]) for i in np.flatnonzero((big_n_all > 0) & (small_n_all == 0))]
    if empty:
        raise AccuracyError(
            f"strata {empty} have pixels (N_h > 0) but no samples; sample every stratum "
            "(>= 2 units each for a standard error) or merge it into another stratum"
        )
    zero = [_py(size_labels[i]) for i in np.flatnonzero((big_n_all == 0) & (small_n_all > 0))]
    if zero:
        raise AccuracyError(
            f"strata {zero} have samples but a size of 0 in stratum_sizes; give their N_h"
        )
    if fpc and np.any(small_n_all > big_n_all):
        over = [_py(size_labels[i]) for i in np.flatnonzero(small_n_all > big_n_all)]
        raise AccuracyError(
            f"strata {over} have more samples than units (n_h > N_h), so the finite-population "
            "correction is negative; check stratum_sizes are pixel counts or use fpc=False"
        )
    keep = small_n_all > 0
    remap = np.cumsum(keep) - 1
    h = remap[h_all].astype(np.intp)
    big_n = big_n_all[keep]
    small_n = small_n_all[keep]
    kept_labels = [size_labels[i] for i in np.flatnonzero(keep)]
    if np.any(small_n == 1):
        logger.warning(
            "strata %s have a single sample: standard errors are NaN",
            [_py(kept_labels[i]) for i in np.flatnonzero(small_n == 1)],
        )

    if classes is None:
        classes = _unique_labels(m, r)
    classes = list(classes)
    if len(pd.unique(np.asarray(classes, dtype=object))) != len(classes):
        raise AccuracyError(f"classes must be unique; got {classes}")
    names = _class_names(
        class_names if class_names is not None else [str(c) for c in classes],
        len(classes),
        "classes",
    )
    k = len(classes)
    hint = "pass every class label in `classes`"
    mi = _index_of(m, classes, "map_class", hint)
    ri = _index_of(r, classes, "ref_class", hint)

    total = float(big_n.sum())
    eye = np.arange(k)
    on_map = (mi[:, None] == eye[None, :]).astype(np.float64)
    on_ref = (ri[:, None] == eye[None, :]).astype(np.float64)
    correct = on_map * on_ref
    ones1 = np.ones((m.size, 1))
    onesk = np.ones((m.size, k))

    oa, oa_se = _stratified_ratio(
        (mi == ri).astype(np.float64)[:, None], ones1, h, big_n, small_n, fpc
    )
    area, area_se = _stratified_ratio(on_ref, onesk, h, big_n, small_n, fpc)
    users, users_se = _stratified_ratio(correct, on_map, h, big_n, small_n, fpc)
    prods, prods_se = _stratified_ratio(correct, on_ref, h, big_n, small_n, fpc)

    weight = big_n[h] / small_n[h] / total  # 1 / (π_u N)
    flat = mi * k + ri
    p = np.bincount(flat, weights=weight, minlength=k * k).reshape(k, k)
    n_ij = np.bincount(flat, minlength=k * k).reshape(k, k)

    strata_frame = pd.DataFrame(
        {"stratum_size": big_n, "sample_size": small_n}, index=[str(v) for v in kept_labels]
    )
    strata_frame.index.name = "stratum"
    est = AreaEstimate(
        class_names=names,
        method="stehman2014",
        z=z,
        fpc=bool(fpc),
        total_pixels=total,
        pixel_area_m2=pixel_area_m2,
        n_samples=int(m.size),
        sample_counts=_labelled_matrix(n_ij.astype(np.float64), names).astype(np.int64),
        proportion_matrix=_labelled_matrix(p, names),
        strata=strata_frame,
        overall_accuracy=float(oa[0]),
        overall_accuracy_se=float(oa_se[0]),
        users_accuracy=_labelled(users, names, "users_accuracy"),
        users_accuracy_se=_labelled(users_se, names, "users_accuracy_se"),
        producers_accuracy=_labelled(prods, names, "producers_accuracy"),
        producers_accuracy_se=_labelled(prods_se, names, "producers_accuracy_se"),
        area_proportion=_labelled(area, names, "area_proportion"),
        area_proportion_se=_labelled(area_se, names, "area_proportion_se"),
        mapped_pixels=None,
    )
    logger.debug(
        "stehman estimate: n=%d strata=%d fpc=%s OA=%.4f",
        est.n_samples,
        len(kept_labels),
        fpc,
        est.overall_accuracy,
    )
    return est


# --------------------------------------------------------------------------------------
# Sample design
# --------------------------------------------------------------------------------------


def _weights(mapped: ArrayLike, what: str = "mapped") -> NDArray[np.float64]:
    arr = np.asarray(mapped, dtype=np.float64).ravel() if not isinstance(mapped, str) else None
    if arr is None or arr.size == 0:
        raise AccuracyError(f"{what} must be a non-empty sequence of mapped sizes or proportions")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
        raise AccuracyError(
            f"{what} must be finite, >= 0 and not all 0 (mapped pixels or proportions per "
            f"class); got {arr.tolist()}"
        )
    return arr / arr.sum()


def _expected_ua(expected_users_accuracy: ArrayLike, k: int) -> NDArray[np.float64]:
    u = np.asarray(expected_users_accuracy, dtype=np.float64).ravel()
    if u.size != k:
        raise AccuracyError(
            f"expected_users_accuracy needs one value per class ({k}); got {u.size}"
        )
    if not np.all((u >= 0) & (u <= 1)):
        raise AccuracyError(f"expected user's accuracies must be in [0, 1]; got {u.tolist()}")
    return u


def sample_size_for_overall_accuracy(
    expected_users_accuracy: ArrayLike,
    mapped: ArrayLike,
    *,
    target_se: float = 0.01,
    population_size: float | None = None,
) -> int:
    """Sample size for a target standard error of overall accuracy (Olofsson 2014, eq. 13).

    Parameters
    ----------
    expected_users_accuracy : array_like
        Anticipated user's accuracy ``U_i`` of each map class.
    mapped : array_like
        Mapped pixels (or proportions) of each map class; normalised to ``W_i``.
    target_se : float, default 0.01
        Target standard error ``S(Ô)`` of the overall accuracy.
    population_size : float, optional
        ``N`` (pixels in the map) for the finite-population form
        ``n = (Σ W_i S_i)² / (S(Ô)² + Σ W_i S_i² / N)``; by default the large-population
        approximation ``n = (Σ W_i S_i / S(Ô))²``.

    Returns
    -------
    int
        ``n``, rounded up, with ``S_i = sqrt(U_i (1 − U_i))``.

    Examples
    --------
    Olofsson et al. (2014), section 5.1.1:

    >>> sample_size_for_overall_accuracy([0.70, 0.60, 0.90, 0.95],
    ...                                  [0.020, 0.015, 0.320, 0.645], target_se=0.01)
    641
    """
    w = _weights(mapped)
    u = _expected_ua(expected_users_accuracy, w.size)
    target = float(target_se)
    if not math.isfinite(target) or target <= 0:
        raise AccuracyError(f"target_se must be a positive standard error; got {target_se!r}")
    s = np.sqrt(u * (1.0 - u))
    numerator = float(np.sum(w * s)) ** 2
    denominator = target**2
    if population_size is not None:
        big_n = float(population_size)
        if not math.isfinite(big_n) or big_n <= 0:
            raise AccuracyError(f"population_size must be > 0; got {population_size!r}")
        denominator += float(np.sum(w * s**2)) / big_n
    n = numerator / denominator
    # Round up, ignoring floating-point noise just above an integer.
    return max(math.ceil(round(n, 9)), 0)


@dataclass(frozen=True, eq=False)
class AnticipatedPrecision:
    """Standard errors expected from a sample allocation (Olofsson et al. 2014, Table 7).

    Attributes
    ----------
    overall_accuracy_se : float
        Anticipated ``S(Ô) = sqrt(Σ W_i² U_i(1−U_i)/(n_i − 1))``.
    users_accuracy_se : pandas.Series
        Anticipated ``S(Û_i) = sqrt(U_i(1−U_i)/(n_i − 1))`` (``NaN`` for ``n_i < 2``).
    """

    overall_accuracy_se: float
    users_accuracy_se: pd.Series


def anticipated_standard_errors(
    expected_users_accuracy: ArrayLike,
    mapped: ArrayLike,
    allocation: ArrayLike,
    class_names: Sequence[Hashable] | None = None,
) -> AnticipatedPrecision:
    """Standard errors of overall and user's accuracies anticipated for an allocation.

    Uses the variance formulas of :func:`estimate_from_error_matrix` with the anticipated
    user's accuracies in place of the sample ones, to compare allocations before sampling.

    Examples
    --------
    >>> prec = anticipated_standard_errors([0.7, 0.6, 0.9, 0.95], [0.02, 0.015, 0.32, 0.645],
    ...                                    [100, 100, 149, 292])
    >>> round(prec.overall_accuracy_se, 3), round(float(prec.users_accuracy_se.iloc[0]), 3)
    (0.011, 0.046)
    """
    w = _weights(mapped)
    u = _expected_ua(expected_users_accuracy, w.size)
    n = np.asarray(allocation, dtype=np.float64).ravel()
    if n.size != w.size or not np.all(np.isfinite(n)) or np.any(n < 0):
        raise AccuracyError(f"allocation must have one sample size >= 0 per class ({w.size})")
    names = _class_names(class_names, w.size, "mapped")
    with np.errstate(divide="ignore", invalid="ignore"):
        var_u = np.where(n > 1, u * (1 - u) / np.maximum(n - 1, 1), np.nan)
    var_o = float(np.sum(np.where(w > 0, w**2 * var_u, 0.0)))
    return AnticipatedPrecision(
        overall_accuracy_se=math.sqrt(var_o) if math.isfinite(var_o) else math.nan,
        users_accuracy_se=_labelled(np.sqrt(var_u), names, "users_accuracy_se"),
    )


def _largest_remainder(
    quotas: NDArray[np.float64], total: int, w: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Round non-negative quotas summing to ``total`` to integers summing to ``total``.

    Hamilton's method: floor, then one more unit to the largest remainders (ties go to the
    larger weight, then the lower index).
    """
    base = np.floor(quotas + 1e-9).astype(np.int64)
    left = int(total - base.sum())
    if left > 0:
        remainder = quotas - base
        order = np.lexsort((np.arange(quotas.size), -w, -np.round(remainder, 9)))
        order = order[quotas[order] > 0] if np.count_nonzero(quotas > 0) >= left else order
        base[order[:left]] += 1
    return base


def allocate_sample(
    n_total: int,
    mapped: ArrayLike | Mapping[Hashable, float] | pd.Series,
    method: str = "proportional",
    *,
    class_names: Sequence[Hashable] | None = None,
) -> pd.Series:
    """Allocate a total sample size over strata (integers that sum exactly to ``n_total``).

    Parameters
    ----------
    n_total : int
        Total sample size, >= 0.
    mapped : array_like or mapping
        Mapped pixels (or proportions) per stratum; a mapping/Series gives the names.
    method : str, default "proportional"
        ``"proportional"``: ``n_h ∝ W_h``. ``"equal"``: the same number per stratum.
        ``"min:N"``: proportional, but every stratum gets at least ``N`` units (the rare
        classes; Olofsson et al. 2014, "allocation 1"); the remainder is spread in proportion
        to ``W_h`` over the other strata.
    class_names : sequence, optional
        Stratum names (default: the mapping keys, or ``"0", "1", ...``).

    Returns
    -------
    pandas.Series
        ``int64`` sample size per stratum. Strata with 0 mapped pixels get 0. Rounding
        uses the largest-remainder method. Allocations are not capped at the stratum size.

    Raises
    ------
    AccuracyError
        Unknown method; ``n_total`` negative or not whole; ``min:N`` infeasible
        (``N`` times the number of mapped strata exceeds ``n_total``).

    Examples
    --------
    >>> w = [0.020, 0.015, 0.320, 0.645]
    >>> allocate_sample(641, w).tolist()
    [13, 10, 205, 413]
    >>> allocate_sample(641, w, "min:100").tolist()
    [100, 100, 146, 295]
    """
    if isinstance(mapped, Mapping | pd.Series):
        keys = list(mapped.keys())
        values: Any = [mapped[k] for k in keys]
        if class_names is None:
            class_names = keys
    else:
        values = mapped
    w = _weights(values)
    names = _class_names(class_names, w.size, "mapped")
    if isinstance(n_total, bool) or float(n_total) != int(n_total) or int(n_total) < 0:
        raise AccuracyError(f"n_total must be a whole number >= 0; got {n_total!r}")
    total = int(n_total)
    active = np.asarray(values, dtype=np.float64).ravel() > 0
    spec = method.strip().lower() if isinstance(method, str) else ""
    if spec == "proportional":
        alloc = _largest_remainder(total * w, total, w)
    elif spec == "equal":
        quotas = np.where(active, total / np.count_nonzero(active), 0.0)
        alloc = _largest_remainder(quotas, total, w)
    elif spec.startswith("min:"):
        try:
            minimum = int(spec[4:])
        except ValueError:
            minimum = -1
        if minimum < 0:
            raise AccuracyError(
                f"allocation {method!r}: the minimum must be a whole number >= 0, e.g. 'min:50'"
            )
        n_active = int(np.count_nonzero(active))
        if minimum * n_active > total:
            raise AccuracyError(
                f"allocation {method!r} needs {minimum} x {n_active} strata = "
                f"{minimum * n_active} samples but n_total is {total}; raise n_total or lower "
                "the minimum"
            )
        fixed = np.zeros_like(active)
        while True:
            free = active & ~fixed
            remaining = total - minimum * int(np.count_nonzero(fixed))
            quotas = np.zeros_like(w)
            if free.any():
                quotas[free] = remaining * w[free] / w[free].sum()
            newly = free & (quotas < minimum)
            if not newly.any():
                break
            fixed |= newly
        alloc = _largest_remainder(quotas, remaining, w)
        alloc[fixed] = minimum
    else:
        raise AccuracyError(
            f"unknown allocation {method!r}; use 'proportional', 'equal' or 'min:N' (e.g. 'min:50')"
        )
    if int(alloc.sum()) != total:  # pragma: no cover - defensive
        raise AccuracyError(f"internal error: allocation sums to {alloc.sum()}, not {total}")
    out = pd.Series(alloc.astype(np.int64), index=list(names), name="sample_size")
    out.index.name = "stratum"
    return out


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def format_for_path(path: str | os.PathLike[str]) -> ReportFormat:
    """Report format implied by a file extension: ``.json``, ``.md``/``.markdown``, ``.csv``.

    Examples
    --------
    >>> format_for_path("out/accuracy.md")
    'markdown'
    """
    suffix = Path(path).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        raise AccuracyError(
            f"cannot write an accuracy report to {os.fspath(path)!r}: unsupported extension "
            f"{suffix or '(none)'!r}; use .json, .md or .csv"
        ) from None


def _md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    align = align or "l" + "r" * (len(headers) - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(_md_escape(h) for h in headers) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
    ]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _f(value: float, digits: int = 4) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _fa(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:,.1f}"


def _fc(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def _pm(value: float, se: float, z: float, fmt: Any = _f) -> str:
    if not math.isfinite(value):
        return "n/a"
    if not math.isfinite(se):
        return f"{fmt(value)} ± n/a"
    return f"{fmt(value)} ± {fmt(z * se)}"


@dataclass(eq=False)
class AccuracyReport:
    """Results of an accuracy assessment, with renderers.

    Parameters
    ----------
    confusion : ConfusionStatistics, optional
        Unweighted confusion-matrix statistics.
    area : AreaEstimate, optional
        Design-based (area-adjusted) accuracy and area estimates.
    kind : {"validation", "cross-validation", "fit diagnostic", "design-based"}
        What the numbers are. Use ``"fit diagnostic"`` for statistics on the training data,
        which are optimistic.
    title : str, optional
        Heading of the Markdown report.
    notes : list of str
        Free-text caveats rendered in every format (e.g. "pixel-level random split:
        optimistic because of spatial autocorrelation").
    metadata : dict
        JSON-serialisable provenance (map path, reference file, date, ...).

    Examples
    --------
    >>> stats = confusion_statistics([[50, 5], [10, 35]], ["water", "land"])
    >>> report = AccuracyReport(confusion=stats, kind="fit diagnostic",
    ...                         notes=["computed on the training pixels"])
    >>> "water" in report.render("markdown")
    True
    >>> report.render(format_for_path("accuracy.json"))[:1]
    '{'
    """

    confusion: ConfusionStatistics | None = None
    area: AreaEstimate | None = None
    kind: ReportKind = "validation"
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in _REPORT_KINDS:
            raise AccuracyError(
                f"report kind must be one of {list(_REPORT_KINDS)}; got {self.kind!r}"
            )
        if self.confusion is None and self.area is None:
            raise AccuracyError(
                "an AccuracyReport needs confusion statistics, an area estimate, or both"
            )
        if self.confusion is not None and not isinstance(self.confusion, ConfusionStatistics):
            raise AccuracyError(
                "confusion must be a ConfusionStatistics (see confusion_statistics)"
            )
        if self.area is not None and not isinstance(self.area, AreaEstimate):
            raise AccuracyError("area must be an AreaEstimate (see estimate_from_error_matrix)")
        if isinstance(self.notes, str):
            self.notes = [self.notes]
        self.notes = [str(n) for n in self.notes]

    # -- structured output ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict: builtins only, ``NaN`` as ``None``."""
        return {
            "format_version": _REPORT_FORMAT_VERSION,
            "kind": self.kind,
            "title": self.title,
            "notes": list(self.notes),
            "metadata": _jsonable(self.metadata),
            "confusion": self.confusion.to_dict() if self.confusion is not None else None,
            "area_estimate": self.area.to_dict() if self.area is not None else None,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as strict JSON text (no ``NaN``)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    def to_frame(self) -> pd.DataFrame:
        """Tidy long table: one row per (section, class, metric).

        Columns: ``kind, section, class, reference_class, metric, value, se, ci_low,
        ci_high``. ``section`` is ``"confusion"`` or ``"area_estimate"``; ``class`` is
        empty for whole-map metrics; ``reference_class`` is set only for matrix cells
        (``metric`` ``"count"``, ``"sample_count"`` or ``"proportion"``).
        """
        rows: list[dict[str, Any]] = []

        def add(
            section: str,
            cls: str,
            metric: str,
            value: float,
            se: float | None = None,
            z: float = Z_95,
            ref: str = "",
        ) -> None:
            low = high = math.nan
            if se is not None:
                low, high = _ci(float(value), float(se), z)
            rows.append(
                {
                    "kind": self.kind,
                    "section": section,
                    "class": cls,
                    "reference_class": ref,
                    "metric": metric,
                    "value": float(value),
                    "se": math.nan if se is None else float(se),
                    "ci_low": low,
                    "ci_high": high,
                }
            )

        c = self.confusion
        if c is not None:
            add("confusion", "", "n", c.n)
            add("confusion", "", "overall_accuracy", c.overall_accuracy)
            add("confusion", "", "kappa", c.kappa, c.kappa_se, c.z)
            add("confusion", "", "macro_f1", c.macro_f1)
            for name, row in c.per_class().iterrows():
                for metric, value in row.items():
                    add("confusion", str(name), str(metric), value)
            for i, name in enumerate(c.class_names):
                for j, ref in enumerate(c.class_names):
                    add("confusion", name, "count", c.matrix.iat[i, j], ref=ref)
        a = self.area
        if a is not None:
            add(
                "area_estimate",
                "",
                "overall_accuracy",
                a.overall_accuracy,
                a.overall_accuracy_se,
                a.z,
            )
            for name in a.class_names:
                if a.mapped_pixels is not None:
                    add("area_estimate", name, "mapped_pixels", a.mapped_pixels[name])
                for metric, value, se in a._metrics():
                    add("area_estimate", name, metric, value[name], se[name], a.z)
            for i, name in enumerate(a.class_names):
                for j, ref in enumerate(a.class_names):
                    add("area_estimate", name, "sample_count", a.sample_counts.iat[i, j], ref=ref)
                    add("area_estimate", name, "proportion", a.proportion_matrix.iat[i, j], ref=ref)
        return pd.DataFrame(
            rows,
            columns=[
                "kind",
                "section",
                "class",
                "reference_class",
                "metric",
                "value",
                "se",
                "ci_low",
                "ci_high",
            ],
        )

    def to_csv(self) -> str:
        """The tidy table of :meth:`to_frame` as CSV text (empty cells for ``NaN``)."""
        buf = io.StringIO()
        self.to_frame().to_csv(buf, index=False, lineterminator="\n", float_format="%.10g")
        return buf.getvalue()

    # -- Markdown ---------------------------------------------------------------------

    def to_markdown(self) -> str:
        """A readable Markdown report with labelled tables."""
        title = self.title or "Accuracy assessment"
        out = [f"# {title}", "", f"**Kind:** {self.kind}"]
        if self.kind == "fit diagnostic":
            out += [
                "",
                "> These statistics describe the fit to the training data; they are "
                "optimistic and are not an accuracy assessment of the map.",
            ]
        if self.notes:
            out += ["", "**Notes:**", ""] + [f"- {_md_escape(n)}" for n in self.notes]
        if self.metadata:
            out += ["", "**Metadata:**", ""]
            out += [
                f"- {_md_escape(k)}: {_md_escape(v)}" for k, v in _jsonable(self.metadata).items()
            ]
        if self.confusion is not None:
            out += ["", self._confusion_markdown(self.confusion)]
        if self.area is not None:
            out += ["", self._area_markdown(self.area)]
        return "\n".join(out).rstrip() + "\n"

    @staticmethod
    def _confusion_markdown(c: ConfusionStatistics) -> str:
        names = list(c.class_names)
        matrix_rows = []
        for i, name in enumerate(names):
            matrix_rows.append(
                [f"**{name}**"] + [_fc(v) for v in c.matrix.iloc[i]] + [_fc(c.map_counts.iloc[i])]
            )
        matrix_rows.append(["**total**"] + [_fc(v) for v in c.reference_counts] + [_fc(c.n)])
        parts = [
            "## Confusion matrix",
            "",
            "Rows are map classes, columns are reference classes.",
            "",
            _md_table(["map \\ reference", *names, "total"], matrix_rows),
            "",
            "## Summary",
            "",
            _md_table(
                ["statistic", "value"],
                [
                    ["samples (n)", _fc(c.n)],
                    ["overall accuracy", _f(c.overall_accuracy)],
                    [f"kappa (± {c.z:g} SE)", _pm(c.kappa, c.kappa_se, c.z)],
                    ["kappa variance method", c.kappa_variance_method],
                    ["macro F1", _f(c.macro_f1)],
                ],
            ),
            "",
            "## Per-class accuracy",
            "",
        ]
        headers = [
            "class",
            "user's accuracy",
            "producer's accuracy",
            "F1",
            "map count",
            "reference count",
        ]
        if c.polygon_counts is not None:
            headers.append("reference polygons")
        rows = []
        for name in names:
            row = [
                name,
                _f(c.users_accuracy[name]),
                _f(c.producers_accuracy[name]),
                _f(c.f1[name]),
                _fc(c.map_counts[name]),
                _fc(c.reference_counts[name]),
            ]
            if c.polygon_counts is not None:
                row.append(_fc(c.polygon_counts[name]))
            rows.append(row)
        parts.append(_md_table(headers, rows))
        return "\n".join(parts)

    @staticmethod
    def _area_markdown(a: AreaEstimate) -> str:
        label = {
            "olofsson2014": "Olofsson et al. (2014), strata = map classes",
            "stehman2014": "Stehman (2014)",
        }.get(a.method, a.method)
        hectares = a.pixel_area_m2 is not None
        unit = "ha" if hectares else "pixels"
        ci = f"± {a.z:g} SE"
        parts = [
            "## Area-adjusted estimates",
            "",
            f"Estimator: {label}; finite-population correction: {'yes' if a.fpc else 'no'}; "
            f"{a.n_samples} sample units. Intervals are estimate {ci}.",
            "",
            _md_table(
                ["statistic", "value"],
                [["overall accuracy", _pm(a.overall_accuracy, a.overall_accuracy_se, a.z)]],
            ),
            "",
        ]
        area = a.area_ha if hectares else a.area_pixels
        area_se = a.area_ha_se if hectares else a.area_pixels_se
        assert area is not None
        assert area_se is not None
        headers = ["class"]
        if a.mapped_pixels is not None:
            headers.append(f"mapped area ({unit})")
        headers += [
            f"estimated area ({unit}, {ci})",
            f"area proportion ({ci})",
            f"user's accuracy ({ci})",
            f"producer's accuracy ({ci})",
        ]
        rows = []
        for name in a.class_names:
            row = [name]
            if a.mapped_pixels is not None:
                mapped = a.mapped_pixels[name]
                row.append(_fa(mapped * a.pixel_area_m2 / _M2_PER_HA if hectares else mapped))
            row += [
                _pm(area[name], area_se[name], a.z, _fa),
                _pm(a.area_proportion[name], a.area_proportion_se[name], a.z),
                _pm(a.users_accuracy[name], a.users_accuracy_se[name], a.z),
                _pm(a.producers_accuracy[name], a.producers_accuracy_se[name], a.z),
            ]
            rows.append(row)
        parts.append(_md_table(headers, rows))
        names = list(a.class_names)
        parts += [
            "",
            "### Sample counts (rows = map, columns = reference)",
            "",
            _md_table(
                ["map \\ reference", *names],
                [
                    [f"**{n}**"] + [_fc(v) for v in a.sample_counts.iloc[i]]
                    for i, n in enumerate(names)
                ],
            ),
            "",
            "### Estimated area proportions (rows = map, columns = reference)",
            "",
            _md_table(
                ["map \\ reference", *names],
                [
                    [f"**{n}**"] + [_f(v) for v in a.proportion_matrix.iloc[i]]
                    for i, n in enumerate(names)
                ],
            ),
        ]
        return "\n".join(parts)

    # -- dispatch ---------------------------------------------------------------------

    def render(self, fmt: ReportFormat) -> str:
        """Render as ``"json"``, ``"markdown"`` or ``"csv"`` text.

        The caller writes the text (atomically) to disk; use :func:`format_for_path` to
        pick ``fmt`` from a file name.
        """
        if fmt == "json":
            return self.to_json()
        if fmt == "markdown":
            return self.to_markdown()
        if fmt == "csv":
            return self.to_csv()
        raise AccuracyError(f"unknown report format {fmt!r}; use one of {list(_REPORT_FORMATS)}")
