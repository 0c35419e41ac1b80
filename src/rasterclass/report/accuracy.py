"""The accuracy, cross-validation and signature sections of a run report (numbers only).

Everything here works on the JSON form of an :class:`~rasterclass.accuracy.AccuracyReport`
(what ``rasterclass assess -o accuracy.json`` writes, or ``report.to_dict()``), so that a
report file and a report object give the same section.

Intervals on sample counts: overall, user's and producer's accuracies are binomial
proportions, given with the Wilson score interval (Wilson 1927; Agresti & Coull 1998 show it
keeps its coverage for small counts and proportions near 0 or 1, where the Wald interval
fails). F1 has no closed-form interval: a percentile bootstrap (Efron & Tibshirani 1993) of
the error matrix (multinomial resampling of its cells, seeded) gives it. These assume that
the reference units are a simple random sample; design-based estimates (Olofsson et al.
2014), when the report holds them, come with their own standard errors and are shown beside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rasterclass.accuracy.confusion import Z_95

#: Bootstrap replicates and seed of the F1 intervals.
F1_BOOTSTRAP = 2000
F1_SEED = 0

INTERVAL_METHOD = (
    "95 % intervals: Wilson score interval for overall, user's and producer's accuracy "
    "(binomial, Wilson 1927); percentile bootstrap of the error matrix for F1 "
    f"({F1_BOOTSTRAP} multinomial replicates, seed {F1_SEED}). Both treat the reference "
    "units as a simple random sample."
)


def wilson_interval(successes: float, n: float, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    successes
        Number of successes (e.g. correctly mapped reference units of a class).
    n
        Number of trials (>= 0).
    z
        Normal quantile (1.96 for 95 %).

    Returns
    -------
    tuple of float
        ``(low, high)`` in [0, 1]; ``(nan, nan)`` when ``n`` is 0.

    Notes
    -----
    Wilson, E. B. (1927), Probable inference, the law of succession, and statistical
    inference, JASA 22:209-212.

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(45, 50)]
    [0.7864, 0.9565]
    """
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def f1_intervals(
    matrix: np.ndarray, *, replicates: int = F1_BOOTSTRAP, seed: int = F1_SEED
) -> list[tuple[float, float]]:
    """Percentile bootstrap 95 % intervals of each class's F1 from an error matrix.

    Parameters
    ----------
    matrix
        ``(k, k)`` counts, rows = map, columns = reference.
    replicates
        Bootstrap replicates (multinomial draws of ``n`` units over the cells).
    seed
        Random seed (same seed, same intervals).

    Returns
    -------
    list of tuple of float
        ``(low, high)`` per class; ``(nan, nan)`` for an empty matrix.

    Notes
    -----
    Efron, B. & Tibshirani, R. (1993), An Introduction to the Bootstrap, ch. 13.

    Examples
    --------
    >>> low, high = f1_intervals(np.array([[40, 10], [5, 45]]))[0]
    >>> bool(low < 2 * 40 / (2 * 40 + 10 + 5) < high)
    True
    """
    counts = np.asarray(matrix, dtype=np.int64)
    k, n = len(counts), int(counts.sum())
    if n == 0:
        return [(math.nan, math.nan)] * k
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts.ravel() / n, size=replicates).reshape(replicates, k, k)
    diag = np.diagonal(draws, axis1=1, axis2=2)
    denom = draws.sum(axis=1) + draws.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * diag / denom, np.nan)
    out = []
    for j in range(k):
        values = f1[:, j][np.isfinite(f1[:, j])]
        if not len(values):
            out.append((math.nan, math.nan))
        else:
            low, high = np.quantile(values, [0.025, 0.975])
            out.append((float(low), float(high)))
    return out


def _estimate(value: Any, low: float | None = None, high: float | None = None) -> dict[str, Any]:
    def clean(v: Any) -> float | None:
        return None if v is None or not math.isfinite(float(v)) else float(v)

    return {"value": clean(value), "ci_low": clean(low), "ci_high": clean(high)}


def accuracy_section(
    report: Mapping[str, Any], mapped_pixels: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The accuracy section of a run report from an accuracy report's JSON form.

    Parameters
    ----------
    report
        ``AccuracyReport.to_dict()`` or the JSON that ``rasterclass assess -o x.json`` writes.
    mapped_pixels
        Mapped pixels per class name, to weight the matrix rows into area proportions
        (``W_i n_ij / n_i.``) when the report holds no design-based estimate.

    Returns
    -------
    dict
        ``kind``, ``n``, ``overall_accuracy`` and per class ``users_accuracy``,
        ``producers_accuracy``, ``f1`` as ``{"value", "ci_low", "ci_high"}`` (see
        :data:`INTERVAL_METHOD`), the matrix ``counts`` and ``proportions`` (with what they
        are in ``proportions_kind``), ``kappa``, ``notes`` and, when the report has them,
        the ``design_based`` estimates (Olofsson et al. 2014).

    Examples
    --------
    >>> from rasterclass.accuracy import AccuracyReport, confusion_statistics
    >>> stats = confusion_statistics([[45, 5], [10, 40]], ["water", "land"])
    >>> section = accuracy_section(AccuracyReport(confusion=stats).to_dict())
    >>> section["overall_accuracy"]["value"], section["classes"][0]["users_accuracy"]["value"]
    (0.85, 0.9)
    """
    confusion = report.get("confusion") or {}
    area = report.get("area_estimate")
    names = list(confusion.get("class_names") or (area or {}).get("class_names") or [])
    if confusion:
        counts = np.asarray(confusion["matrix"]["values"], dtype=float)
    else:
        counts = np.asarray(area["sample_counts"]["values"], dtype=float)  # type: ignore[index]
    n = float(counts.sum())
    diag = np.diag(counts)
    rows, cols = counts.sum(axis=1), counts.sum(axis=0)
    f1_ci = f1_intervals(counts)
    classes = []
    for i, name in enumerate(names):
        ua = diag[i] / rows[i] if rows[i] else math.nan
        pa = diag[i] / cols[i] if cols[i] else math.nan
        f1 = 2 * diag[i] / (rows[i] + cols[i]) if rows[i] + cols[i] else math.nan
        classes.append(
            {
                "name": name,
                "users_accuracy": _estimate(ua, *wilson_interval(diag[i], rows[i])),
                "producers_accuracy": _estimate(pa, *wilson_interval(diag[i], cols[i])),
                "f1": _estimate(f1, *f1_ci[i]),
                "map_count": float(rows[i]),
                "reference_count": float(cols[i]),
            }
        )
    oa = float(diag.sum() / n) if n else math.nan
    kappa = confusion.get("kappa") or {}
    section: dict[str, Any] = {
        "kind": report.get("kind"),
        "title": report.get("title"),
        "n": n,
        "class_names": names,
        "overall_accuracy": _estimate(oa, *wilson_interval(diag.sum(), n)),
        "kappa": _estimate(kappa.get("value"), kappa.get("ci_low"), kappa.get("ci_high")),
        "classes": classes,
        "counts": counts.tolist(),
        "interval_method": INTERVAL_METHOD,
        "notes": list(report.get("notes") or []),
        "metadata": dict(report.get("metadata") or {}),
        "design_based": None,
    }
    if area:
        section["proportions"] = area["proportion_matrix"]["values"]
        section["proportions_kind"] = (
            "estimated area proportions of the design-based estimator "
            f"({area.get('method')}; rows = map, columns = reference)"
        )
        section["design_based"] = _design_based(area)
    elif mapped_pixels and n:
        weights = np.array([float(mapped_pixels.get(c, 0)) for c in names])
        weights = weights / weights.sum() if weights.sum() else weights
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(rows[:, None] > 0, counts / rows[:, None], 0.0)
        section["proportions"] = (weights[:, None] * share).tolist()
        section["proportions_kind"] = (
            "area proportions: each map row weighted by its mapped share (W_i n_ij / n_i.); a "
            "design-based estimate only when the reference units are a stratified random "
            "sample of the map"
        )
    else:
        section["proportions"] = (counts / n).tolist() if n else counts.tolist()
        section["proportions_kind"] = "sample proportions n_ij / n (no mapped areas known)"
    return section


def _design_based(area: Mapping[str, Any]) -> dict[str, Any]:
    """The design-based estimates of an area estimate's JSON form, kept as they are."""

    def pick(entry: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if not entry:
            return None
        return _estimate(entry.get("value"), entry.get("ci_low"), entry.get("ci_high"))

    return {
        "method": area.get("method"),
        "n_samples": area.get("n_samples"),
        "overall_accuracy": pick(area.get("overall_accuracy")),
        "classes": [
            {
                "name": c["class"],
                "users_accuracy": pick(c.get("users_accuracy")),
                "producers_accuracy": pick(c.get("producers_accuracy")),
                "area_ha": pick(c.get("area_ha")),
                "area_pixels": pick(c.get("area_pixels")),
            }
            for c in area.get("classes", [])
        ],
    }


def cross_validation_section(
    report: Mapping[str, Any] | None, model_summary: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """How the accuracy was cross-validated: grouping, folds, seed, per-fold accuracy, notes.

    From a cross-validation report (``kind`` ``"cross-validation"``, as ``classify --report``
    writes it) or, failing that, from what a model's summary records (``cv_grouping``,
    ``cv_folds``, ``cv_overall_accuracy``, ``cv_notes``); None when neither says anything.

    Parameters
    ----------
    report
        An accuracy report's JSON form, or None.
    model_summary
        A model's ``summary``, or None.

    Returns
    -------
    dict or None
        ``source``, ``grouping`` (``"polygon"`` or ``"pixel"``), ``folds``, ``seed``,
        ``n_samples``, ``n_polygons``, ``fold_overall_accuracy``, ``overall_accuracy``,
        ``optimistic`` (a pixel-level split) and ``notes``.

    Examples
    --------
    >>> cross_validation_section(None, {"cv_grouping": "pixel", "cv_folds": 5})["optimistic"]
    True
    """
    if report is not None and report.get("kind") == "cross-validation":
        meta = report.get("metadata") or {}
        grouping = meta.get("grouping")
        notes = list(report.get("notes") or [])
        return {
            "source": "cross-validation report",
            "grouping": grouping,
            "folds": meta.get("folds"),
            "seed": meta.get("seed"),
            "n_samples": meta.get("n_samples"),
            "n_polygons": meta.get("n_polygons"),
            "fold_overall_accuracy": list(meta.get("fold_overall_accuracy") or []),
            "overall_accuracy": (report.get("confusion") or {}).get("overall_accuracy"),
            "optimistic": grouping == "pixel",
            "notes": notes,
        }
    summary = model_summary or {}
    if "cv_grouping" in summary:
        return {
            "source": "model summary",
            "grouping": summary.get("cv_grouping"),
            "folds": summary.get("cv_folds"),
            "seed": summary.get("seed"),
            "n_samples": summary.get("n_samples"),
            "n_polygons": summary.get("n_polygons"),
            "fold_overall_accuracy": [],
            "overall_accuracy": summary.get("cv_overall_accuracy"),
            "optimistic": summary.get("cv_grouping") == "pixel",
            "notes": list(summary.get("cv_notes") or []),
        }
    return None


def signature_section(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The spectral signatures a model keeps (``summary["signatures"]``, see
    :func:`rasterclass.model.class_signatures`), or None for a model saved without them.

    ``unit`` says what the samples were: ``"pixels"``, or ``"segments"`` for an object-based
    model (its "bands" are the segments' features).

    Examples
    --------
    >>> signature_section({"method": "rf"}) is None
    True
    >>> signature_section({"signatures": {"bands": ["ndvi_mean"]}, "object_based": True})
    {'bands': ['ndvi_mean'], 'unit': 'segments'}
    """
    signatures = (summary or {}).get("signatures")
    if not signatures:
        return None
    unit = "segments" if (summary or {}).get("object_based") else "pixels"
    return {**dict(signatures), "unit": unit}
