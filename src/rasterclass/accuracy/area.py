"""Design-based estimation of accuracy and area when the strata are the map classes.

Owns :class:`AreaEstimate` (area-adjusted accuracies and class areas with standard errors
and confidence intervals, in pixels, m² and ha) and :func:`estimate_from_error_matrix`, the
estimator of Olofsson et al. (2014) for stratified random sampling by map class.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from rasterclass.accuracy._util import (
    M2_PER_HA,
    as_square_matrix,
    check_pixel_area,
    check_z,
    ci_bounds,
    count_value,
    estimate_dict,
    json_scalar,
    labelled_matrix,
    labelled_series,
    per_class_vector,
    safe_div,
)
from rasterclass.accuracy.confusion import Z_95
from rasterclass.errors import AccuracyError

logger = logging.getLogger(__name__)


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
        return ci_bounds(self.overall_accuracy, self.overall_accuracy_se, self.z)

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
        return (self.area_pixels * self.pixel_area_m2 / M2_PER_HA).rename("area_ha")

    @property
    def area_ha_se(self) -> pd.Series | None:
        """Standard error of :attr:`area_ha` (``None`` without ``pixel_area_m2``)."""
        if self.pixel_area_m2 is None:
            return None
        return (self.area_pixels_se * self.pixel_area_m2 / M2_PER_HA).rename("area_ha_se")

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
                cols["mapped_ha"] = self.mapped_pixels * self.pixel_area_m2 / M2_PER_HA
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
                entry["mapped_pixels"] = count_value(self.mapped_pixels[name])
            for metric, value, se in self._metrics():
                entry[metric] = estimate_dict(value[name], se[name], self.z)
            classes.append(entry)
        return {
            "method": self.method,
            "z": self.z,
            "fpc": self.fpc,
            "total_pixels": count_value(self.total_pixels),
            "pixel_area_m2": json_scalar(self.pixel_area_m2),
            "n_samples": int(self.n_samples),
            "class_names": list(self.class_names),
            "overall_accuracy": estimate_dict(
                self.overall_accuracy, self.overall_accuracy_se, self.z
            ),
            "classes": classes,
            "sample_counts": {
                "rows": "map",
                "columns": "reference",
                "values": [[count_value(v) for v in row] for row in self.sample_counts.to_numpy()],
            },
            "proportion_matrix": {
                "rows": "map",
                "columns": "reference",
                "values": [
                    [json_scalar(float(v)) for v in row]
                    for row in self.proportion_matrix.to_numpy()
                ],
            },
            "strata": [
                {
                    "stratum": str(h),
                    "stratum_size": count_value(row["stratum_size"]),
                    "sample_size": count_value(row["sample_size"]),
                }
                for h, row in self.strata.iterrows()
            ],
        }


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
    z = check_z(z)
    pixel_area_m2 = check_pixel_area(pixel_area_m2)
    n_ij, names = as_square_matrix(counts, class_names, "error matrix of sample counts")
    if not np.all(n_ij == np.round(n_ij)):
        raise AccuracyError(
            "the error matrix must hold whole sample counts; for area-weighted inputs use "
            "stehman_estimate with one row per sample unit"
        )
    n_pix = per_class_vector(mapped_pixels, names, "mapped_pixels")
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
    producers = safe_div(np.diag(p), p_col)
    # 1 - P_j as Σ_{i≠j} p_ij / p_.j (no cancellation when P_j is close to 1).
    p_offdiag = p * (1.0 - np.eye(p.shape[0]))
    one_minus_producers = safe_div(p_offdiag.sum(axis=0), p_col)

    # Eq. (7): V(P_j) = [N_j.² (1-P_j)² U_j(1-U_j)/(n_j.-1)
    #                    + P_j² Σ_{i≠j} N_i.² (n_ij/n_i.)(1-n_ij/n_i.)/(n_i.-1)] / N̂_.j²
    n_hat_col = total * p_col
    off = (n_pix**2)[:, None] * bern * inv[:, None]
    np.fill_diagonal(off, 0.0)  # Σ over i ≠ j (masking, not subtracting: no cancellation)
    off_sum = off.sum(axis=0)
    own = n_pix**2 * one_minus_producers**2 * u_fill * (1 - u_fill) * inv
    producers_var = safe_div(own + producers**2 * off_sum, n_hat_col**2)

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
        sample_counts=labelled_matrix(n_ij, names).astype(np.int64),
        proportion_matrix=labelled_matrix(p, names),
        strata=strata,
        overall_accuracy=oa,
        overall_accuracy_se=math.sqrt(oa_var) if not math.isnan(oa_var) else math.nan,
        users_accuracy=labelled_series(users, names, "users_accuracy"),
        users_accuracy_se=labelled_series(np.sqrt(users_var), names, "users_accuracy_se"),
        producers_accuracy=labelled_series(producers, names, "producers_accuracy"),
        producers_accuracy_se=labelled_series(
            np.sqrt(producers_var), names, "producers_accuracy_se"
        ),
        area_proportion=labelled_series(p_col, names, "area_proportion"),
        area_proportion_se=labelled_series(np.sqrt(p_col_var), names, "area_proportion_se"),
        mapped_pixels=labelled_series(n_pix, names, "mapped_pixels"),
    )
    logger.debug("olofsson estimate: n=%d OA=%.4f", est.n_samples, est.overall_accuracy)
    return est
