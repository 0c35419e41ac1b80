"""Sample design for accuracy assessment: how many points, and where to put them.

Owns the sample size for a target standard error of overall accuracy
(:func:`sample_size_for_overall_accuracy`, Olofsson et al. 2014 eq. 13), the standard errors
a design can be expected to give (:func:`anticipated_standard_errors` and
:class:`AnticipatedPrecision`), and the allocation of a sample to strata
(:func:`allocate_sample`: proportional, equal or a minimum per stratum).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rasterclass.accuracy._util import (
    check_class_names,
    labelled_series,
)
from rasterclass.errors import AccuracyError

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
    names = check_class_names(class_names, w.size, "mapped")
    with np.errstate(divide="ignore", invalid="ignore"):
        var_u = np.where(n > 1, u * (1 - u) / np.maximum(n - 1, 1), np.nan)
    var_o = float(np.sum(np.where(w > 0, w**2 * var_u, 0.0)))
    return AnticipatedPrecision(
        overall_accuracy_se=math.sqrt(var_o) if math.isfinite(var_o) else math.nan,
        users_accuracy_se=labelled_series(np.sqrt(var_u), names, "users_accuracy_se"),
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
    names = check_class_names(class_names, w.size, "mapped")
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
