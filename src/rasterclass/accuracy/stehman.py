"""Design-based estimation of accuracy and area when the strata differ from the map classes.

Owns :func:`stehman_estimate`, the estimator of Stehman (2014) for stratified random samples
whose strata are not the map classes (a previous map, a buffer zone, ...), computed as
stratified ratio estimators with their variances; it returns the same
:class:`~rasterclass.accuracy.area.AreaEstimate` as the Olofsson estimator.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rasterclass.accuracy._util import (
    as_labels,
    check_class_names,
    check_pixel_area,
    check_z,
    index_of,
    json_scalar,
    labelled_matrix,
    labelled_series,
    safe_div,
    unique_labels,
)
from rasterclass.accuracy.area import AreaEstimate
from rasterclass.accuracy.confusion import Z_95
from rasterclass.errors import AccuracyError

logger = logging.getLogger(__name__)


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
    ratio = safe_div(y_tot, x_tot)
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
        var = safe_div(coef @ s_dd, x_tot**2)
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
        Area of one pixel in m², to report the areas in hectares as well as in pixels.
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
    z = check_z(z)
    pixel_area_m2 = check_pixel_area(pixel_area_m2)
    m = as_labels(map_class, "map_class")
    r = as_labels(ref_class, "ref_class")
    s = as_labels(strata, "strata")
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
    h_all = index_of(
        s, size_labels, "strata", "give stratum_sizes an entry (N_h) for every stratum sampled"
    )
    small_n_all = np.bincount(h_all, minlength=len(size_labels)).astype(np.float64)
    empty = [
        json_scalar(size_labels[i]) for i in np.flatnonzero((big_n_all > 0) & (small_n_all == 0))
    ]
    if empty:
        raise AccuracyError(
            f"strata {empty} have pixels (N_h > 0) but no samples; sample every stratum "
            "(>= 2 units each for a standard error) or merge it into another stratum"
        )
    zero = [
        json_scalar(size_labels[i]) for i in np.flatnonzero((big_n_all == 0) & (small_n_all > 0))
    ]
    if zero:
        raise AccuracyError(
            f"strata {zero} have samples but a size of 0 in stratum_sizes; give their N_h"
        )
    if fpc and np.any(small_n_all > big_n_all):
        over = [json_scalar(size_labels[i]) for i in np.flatnonzero(small_n_all > big_n_all)]
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
            [json_scalar(kept_labels[i]) for i in np.flatnonzero(small_n == 1)],
        )

    if classes is None:
        classes = unique_labels(m, r)
    classes = list(classes)
    if len(pd.unique(np.asarray(classes, dtype=object))) != len(classes):
        raise AccuracyError(f"classes must be unique; got {classes}")
    names = check_class_names(
        class_names if class_names is not None else [str(c) for c in classes],
        len(classes),
        "classes",
    )
    k = len(classes)
    hint = "pass every class label in `classes`"
    mi = index_of(m, classes, "map_class", hint)
    ri = index_of(r, classes, "ref_class", hint)

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
    # np.bincount with weights returns float64; numpy's stub types every result as intp
    p: NDArray[np.float64] = np.bincount(flat, weights=weight, minlength=k * k).reshape(k, k)  # type: ignore[assignment]
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
        sample_counts=labelled_matrix(n_ij.astype(np.float64), names).astype(np.int64),
        proportion_matrix=labelled_matrix(p, names),
        strata=strata_frame,
        overall_accuracy=float(oa[0]),
        overall_accuracy_se=float(oa_se[0]),
        users_accuracy=labelled_series(users, names, "users_accuracy"),
        users_accuracy_se=labelled_series(users_se, names, "users_accuracy_se"),
        producers_accuracy=labelled_series(prods, names, "producers_accuracy"),
        producers_accuracy_se=labelled_series(prods_se, names, "producers_accuracy_se"),
        area_proportion=labelled_series(area, names, "area_proportion"),
        area_proportion_se=labelled_series(area_se, names, "area_proportion_se"),
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
