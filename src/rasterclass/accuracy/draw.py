"""Drawing a probability sample of points from a map, for a design-based assessment.

:func:`draw_sample` draws a seeded stratified random sample of points from a map (strata =
map classes), sized for a target standard error of overall accuracy and allocated to the
classes, optionally a minimum distance away from the training polygons; the points are ready
to label and feed back into :func:`~rasterclass.accuracy.assess.assess`. The map is scanned
in row-major strips, so the sample does not depend on the chunking.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping
from typing import Any, TypedDict

import dask
import numpy as np

from rasterclass.accuracy.assess import mapped_pixel_counts, open_map
from rasterclass.accuracy.design import allocate_sample, sample_size_for_overall_accuracy
from rasterclass.errors import AccuracyError, OptionConflictError, ValidationWarning, param
from rasterclass.io import (
    PathLike,
    read_vector,
    scene_grid,
)
from rasterclass.stack import rasterize_shapes

logger = logging.getLogger(__name__)

#: Rows per strip when a map is scanned in row-major order (the order defines the sample).
_STRIP_PIXELS = 4_000_000


# ------------------------------------------------------------------------------------------
# Sample design
# ------------------------------------------------------------------------------------------
def _strip_counts(block: np.ndarray, excluded: np.ndarray | None, size: int) -> np.ndarray:
    values = np.where(np.isfinite(block), block, 0).astype(np.int64)
    if excluded is not None:
        values[excluded] = 0
    return np.bincount(values.ravel(), minlength=size)[:size]


def _strip_picks(
    block: np.ndarray, excluded: np.ndarray | None, picks: Mapping[int, np.ndarray]
) -> np.ndarray:
    values = np.where(np.isfinite(block), block, 0).astype(np.int64)
    if excluded is not None:
        values[excluded] = 0
    flat = values.ravel()
    out = []
    for code, ranks in picks.items():
        idx = np.flatnonzero(flat == code)[ranks]
        out.append(np.column_stack([idx, np.full(len(idx), code)]))
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def _exclusion(grid: Any, geoms: Any, row0: int, height: int) -> np.ndarray:
    from affine import Affine

    return rasterize_shapes(
        [(g, 1) for g in geoms], (height, grid.width), grid.transform @ Affine.translation(0, row0)
    ).astype(bool)


_DISTANCE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(m|km|px)?\s*$")


def parse_distance(value: float | str, crs: Any, transform: Any) -> float:
    """A distance in map units from ``300`` (map units), ``300m``, ``0.3km`` or ``10px``.

    Metres need a map in a projected CRS in metres; pixels are the map's pixel side (the
    geometric mean of width and height for non-square pixels).

    Parameters
    ----------
    value
        A number (map units) or a string with a unit.
    crs, transform
        The map's CRS and affine transform.

    Returns
    -------
    float
        The distance in map units, >= 0.

    Raises
    ------
    AccuracyError
        A value that is not a distance (or a negative one), or metres on a map not in metres.

    Examples
    --------
    >>> from affine import Affine
    >>> from rasterio.crs import CRS
    >>> parse_distance("0.3km", CRS.from_epsg(32633), Affine(30, 0, 0, 0, -30, 0))
    300.0
    >>> parse_distance("10px", CRS.from_epsg(32633), Affine(30, 0, 0, 0, -30, 0))
    300.0
    """
    if isinstance(value, int | float):
        number, unit = float(value), None
        if not (np.isfinite(number) and number >= 0):
            raise AccuracyError(f"{param('min_distance')} must be >= 0, got {value!r}")
    else:
        match = _DISTANCE.match(str(value))
        if not match:
            raise AccuracyError(
                f"{param('min_distance')} {value!r} is not a distance: give e.g. 300m, 0.3km, "
                "10px or a number in map units"
            )
        number, unit = float(match.group(1)), match.group(2)
    if unit == "px":
        return number * (abs(transform.a * transform.e)) ** 0.5
    if unit in ("m", "km"):
        units = (getattr(crs, "linear_units", "") or "").lower() if crs is not None else ""
        if units not in ("metre", "meter", "metres", "meters", "m"):
            raise AccuracyError(
                f"{param('min_distance')} {value!r} is in metres but the map's CRS is not in "
                "metres: give it in map units (a plain number) or in pixels (e.g. 10px)"
            )
        return number * (1000.0 if unit == "km" else 1.0)
    return number


class SampleOptions(TypedDict, total=False):
    """The keywords of :func:`draw_sample` after the map (meaning and defaults there), typed
    for ``**options: Unpack[SampleOptions]`` where a job passes them on."""

    n: int | None
    target_se: float | None
    expected_ua: Mapping[str, float] | None
    default_ua: float
    allocation: str
    seed: int
    training: Any
    min_distance: float | str
    reference_column: str


def _check_sizing(
    n: int | None,
    target_se: float | None,
    expected_ua: Mapping[str, float] | None,
    training: Any,
    min_distance: float | str,
) -> None:
    """Refuse options that contradict each other, or that would be ignored, before any work
    (a distance counts as given unless its number is 0, whatever its unit)."""
    match = _DISTANCE.match(min_distance) if isinstance(min_distance, str) else None
    number = float(match.group(1)) if match else min_distance
    # anything but zero is given (malformed or negative: parse_distance says what is wrong)
    given = not (isinstance(number, int | float) and number == 0)
    if n is not None and target_se is not None:
        raise OptionConflictError.both(
            param("n", n),
            param("target_se", target_se),
            "both size the sample; give the size, or the target standard error to size it from",
        )
    if expected_ua and target_se is None:
        raise OptionConflictError.without(param("expected_ua"), param("target_se"))
    if training is not None and not given:
        raise OptionConflictError.without(param("training"), param("min_distance"))
    if training is None and given:
        raise OptionConflictError.without(param("min_distance", min_distance), param("training"))


def draw_sample(
    map_path: PathLike,
    n: int | None = None,
    *,
    target_se: float | None = None,
    expected_ua: Mapping[str, float] | None = None,
    default_ua: float = 0.9,
    allocation: str = "proportional",
    seed: int = 0,
    training: Any = None,
    min_distance: float | str = 0.0,
    reference_column: str = "reference",
) -> Any:
    """Draw a stratified random sample of points from a map (strata = map classes).

    Parameters
    ----------
    map_path
        A class map (0 = nodata).
    n
        Total sample size; or give ``target_se`` (target standard error of overall
        accuracy) and ``expected_ua`` (anticipated user's accuracy per class name;
        ``default_ua`` for the others) to size it with Olofsson et al. (2014) eq. 13.
    allocation
        ``"proportional"``, ``"equal"`` or ``"min:N"`` (at least N per class, the rest
        proportional).
    seed
        The same seed gives the same points (whatever the chunking).
    training, min_distance
        Keep points at least ``min_distance`` (map units, or a string with a unit: ``300m``,
        ``0.3km``, ``10px``, see :func:`parse_distance`) away from these training
        geometries (path or GeoDataFrame). Excluded pixels are not sampled; stratum sizes
        for estimation stay the full mapped counts, a small departure from a strict
        probability design that the docs and the report note.

    Returns
    -------
    geopandas.GeoDataFrame
        Points at pixel centres with ``id``, ``map_code``, ``map_class``, ``stratum``, ``row``,
        ``col`` and an empty ``reference`` column to fill in by photo-interpretation.

    Raises
    ------
    RasterclassIOError
        The map (or the training file) does not exist or cannot be read.
    AccuracyError
        The map has no mapped pixel, neither ``n`` nor ``target_se`` is given, or
        ``expected_ua`` names classes the map does not have.
    OptionConflictError
        Both ``n`` and ``target_se`` (two sample sizes), ``expected_ua`` without
        ``target_se``, ``training`` without ``min_distance`` or the other way round (checked
        before any work).

    Examples
    --------
    >>> import rasterclass as rc
    >>> from rasterclass.datasets import example_map
    >>> map_path = example_map()  # 4 x 4 px of 10 m: forest (left), water (right)
    >>> points = rc.draw_sample(map_path, 6, seed=0)
    >>> sorted(points["map_class"].value_counts().items())  # proportional: 8 px each
    [('forest', 3), ('water', 3)]

    """
    import geopandas as gpd
    from shapely.geometry import Point

    _check_sizing(n, target_se, expected_ua, training, min_distance)
    map_scene, cmap = open_map(map_path)
    grid = scene_grid(map_scene)
    distance = parse_distance(min_distance, grid.crs, grid.transform)  # before any work
    counts = mapped_pixel_counts(map_scene)
    if counts.empty:
        raise AccuracyError(f"the map {map_path} has no mapped pixel (all nodata)")
    codes = [int(c) for c in counts.index]
    names = [cmap.name_of(c) if cmap and c in cmap.codes else f"class {c}" for c in codes]
    if n is None:
        if target_se is None:
            raise AccuracyError(
                f"give a sample size ({param('n')}) or a target standard error "
                f"({param('target_se')})"
            )
        ua = dict(expected_ua or {})
        unknown = [k for k in ua if k not in names]
        if unknown:
            raise AccuracyError(
                f"{param('expected_ua')} names unknown classes {unknown}; the map has {names}"
            )
        expected = [float(ua.get(nm, default_ua)) for nm in names]
        n = sample_size_for_overall_accuracy(
            expected, counts.to_numpy(dtype=float), target_se=target_se
        )
        logger.info("sample size for a standard error of %.4f: %d", target_se, n)
    allocated = allocate_sample(int(n), counts.to_numpy(dtype=float), allocation)
    alloc = dict(zip(codes, (int(v) for v in allocated.to_numpy()), strict=True))

    excluded_geoms = None
    if training is not None and distance > 0:
        tr = (
            read_vector(training, grid.crs)
            if isinstance(training, str | os.PathLike)
            else (training.to_crs(grid.crs))
        )
        excluded_geoms = list(tr.geometry.buffer(distance))

    strip_rows = max(1, _STRIP_PIXELS // max(grid.width, 1))
    band = map_scene.data[0].rechunk((strip_rows, -1))
    strips = band.to_delayed().ravel()
    offsets = np.cumsum([0, *band.chunks[0]])
    size = max(codes) + 1
    excl = [
        dask.delayed(_exclusion)(grid, excluded_geoms, int(offsets[i]), int(h))
        if excluded_geoms
        else None
        for i, h in enumerate(band.chunks[0])
    ]
    per_strip = np.array(
        dask.compute(
            *[dask.delayed(_strip_counts)(s, e, size) for s, e in zip(strips, excl, strict=True)]
        )
    )
    eligible = per_strip.sum(axis=0)
    rng = np.random.default_rng(seed)
    picks: list[dict[int, np.ndarray]] = [{} for _ in strips]
    for code in codes:
        want = int(alloc[code])
        have = int(eligible[code])
        if want > have:
            warnings.warn(
                f"class {cmap.name_of(code) if cmap else code} has only {have} eligible pixels "
                f"for {want} sample points: taking all of them",
                ValidationWarning,
                stacklevel=2,
            )
            want = have
        if want == 0:
            continue
        ranks = np.sort(rng.choice(have, size=want, replace=False))
        bounds = np.cumsum(np.r_[0, per_strip[:, code]])
        which = np.searchsorted(bounds, ranks, side="right") - 1
        for i in np.unique(which):
            picks[i][code] = ranks[which == i] - bounds[i]
    tasks = [
        dask.delayed(_strip_picks)(s, e, p)
        for s, e, p in zip(strips, excl, picks, strict=True)
        if p
    ]
    starts = [int(offsets[i]) for i, p in enumerate(picks) if p]
    found = dask.compute(*tasks)
    rows, cols, pcodes = [], [], []
    for row0, arr in zip(starts, found, strict=True):
        rows.append(arr[:, 0] // grid.width + row0)
        cols.append(arr[:, 0] % grid.width)
        pcodes.append(arr[:, 1])
    r = np.concatenate(rows) if rows else np.empty(0, np.int64)
    c = np.concatenate(cols) if cols else np.empty(0, np.int64)
    k = np.concatenate(pcodes) if pcodes else np.empty(0, np.int64)
    order = np.lexsort((c, r))
    r, c, k = r[order], c[order], k[order]
    t = grid.transform
    xs = t.c + (c + 0.5) * t.a
    ys = t.f + (r + 0.5) * t.e
    name_of = dict(zip(codes, names, strict=True))
    gdf = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(r) + 1),
            "map_code": k,
            "map_class": [name_of[int(v)] for v in k],
            "stratum": k,
            "row": r,
            "col": c,
            reference_column: [""] * len(r),
        },
        geometry=[Point(x, y) for x, y in zip(xs, ys, strict=True)],
        crs=grid.crs,
    )
    gdf.attrs["allocation"] = {name_of[int(h)]: int(v) for h, v in alloc.items()}
    logger.info("drew %d points: %s", len(gdf), gdf.attrs["allocation"])
    return gdf
