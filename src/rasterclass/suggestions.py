"""Where to label next: points where the model is least sure or outside its area of
applicability, spread in space and stratified by mapped class.

Owns :func:`suggest_samples`. The ranking is uncertainty sampling by smallest margin
(Scheffer et al. 2001; Settles 2009, Active Learning Literature Survey, section 3.1), with the
pixels outside the area of applicability (Meyer & Pebesma 2021) first: the model has seen
nothing like them, so a label there teaches it most. Points are spread greedily: taken in rank
order, a candidate closer than ``min_distance`` to a point already taken is skipped (a
sequential inhibition rule, Diggle 2003, section 6.3). The sample is stratified by mapped
class with :func:`rasterclass.accuracy.design.allocate_sample` (``min:N``: proportional to the
mapped area, at least N per class; Olofsson et al. 2014's allocation for rare classes).

The maps are read block by block: every block gives its pixel counts per class and its own
candidate pool (its best-ranked pixels of each class), so no whole-scene array is held. Ties
are broken by a hash of the pixel's position and the seed, so the result is the same for a
seed on every run.
"""

from __future__ import annotations

import logging
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from rasterclass.accuracy.design import allocate_sample
from rasterclass.accuracy.draw import parse_distance
from rasterclass.classes import ClassMap
from rasterclass.errors import AccuracyError, param

logger = logging.getLogger(__name__)

#: Candidates kept per class and block: this many times the total number of points asked.
POOL_FACTOR = 4
#: Columns of the suggested points, besides the geometry.
COLUMNS = ("class_code", "class_name", "margin", "di", "outside_aoa", "reference")


def _mix(index: np.ndarray, seed: int) -> np.ndarray:
    """A 64-bit hash of pixel positions and the seed (splitmix64's finaliser)."""
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _block_pool(
    classes: np.ndarray,
    margin: np.ndarray,
    di: np.ndarray | None,
    inside: np.ndarray | None,
    row0: int,
    col0: int,
    width: int,
    seed: int,
    pool: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Counts per class code and the best-ranked ``pool`` pixels of each class of a block."""
    codes = np.nan_to_num(np.asarray(classes, dtype=np.float64), nan=0.0).astype(np.int64)
    m = np.asarray(margin, dtype=np.float64)
    valid = (codes > 0) & np.isfinite(m)
    counts = np.bincount(codes[valid].ravel(), minlength=1)
    rows, cols = np.nonzero(valid)
    k = k0 = codes[rows, cols]
    mv = m[rows, cols]
    d = np.full(len(rows), np.nan) if di is None else np.asarray(di, np.float64)[rows, cols]
    out = np.zeros(len(rows), bool) if inside is None else np.asarray(inside)[rows, cols] == 0
    rows, cols = rows + row0, cols + col0
    tie = _mix(rows.astype(np.int64) * width + cols, seed)
    order = np.lexsort((tie, mv, ~out, k))  # by class, outside first, smallest margin
    k = k[order]
    rank = np.arange(len(k)) - np.searchsorted(k, k, side="left")
    keep = order[rank < pool]
    fields: dict[str, np.ndarray] = {"row": rows, "col": cols, "code": k0}
    fields.update({"margin": mv, "di": d, "outside": out, "tie": tie})
    return counts, {key: v[keep] for key, v in fields.items()}


def _band(layers: xr.DataArray | None, name: str) -> xr.DataArray | None:
    if layers is None:
        return None
    if "band" not in layers.dims:
        return layers
    names = [str(b) for b in layers["band"].values]
    if name not in names:
        raise AccuracyError(f"the layers have no band {name!r} (they have {names})")
    return layers.isel(band=names.index(name))


def _blocks(arr: xr.DataArray | None, chunks: tuple) -> list[Any]:
    if arr is None:
        return []
    data = arr.data if isinstance(arr.data, da.Array) else da.from_array(np.asarray(arr.data))
    return list(data.rechunk(chunks).to_delayed().ravel())


def _greedy(pool: pd.DataFrame, quota: dict[int, int], min_distance: float, transform: Any):
    """Take candidates in rank order while their class has quota left and no point taken
    lies closer than ``min_distance``."""
    xs = transform.c + (pool["col"].to_numpy() + 0.5) * transform.a
    ys = transform.f + (pool["row"].to_numpy() + 0.5) * transform.e
    taken: list[int] = []
    tx: list[float] = []
    ty: list[float] = []
    left = dict(quota)
    for i, code in enumerate(pool["code"].to_numpy().tolist()):
        if left.get(code, 0) <= 0:
            continue
        if min_distance > 0 and taken:
            dist2 = (np.asarray(tx) - xs[i]) ** 2 + (np.asarray(ty) - ys[i]) ** 2
            if dist2.min() < min_distance**2:
                continue
        taken.append(i)
        tx.append(float(xs[i]))
        ty.append(float(ys[i]))
        left[code] -= 1
        if not any(v > 0 for v in left.values()):
            break
    return taken, np.asarray(tx), np.asarray(ty), left


def suggest_samples(
    classes: xr.DataArray,
    uncertainty: xr.DataArray,
    *,
    aoa: xr.DataArray | None = None,
    class_map: ClassMap | None = None,
    n: int = 50,
    min_distance: float | str = 0.0,
    min_per_class: int = 5,
    seed: int = 0,
) -> Any:
    """Points to label next: least sure (smallest margin) or outside the AOA, spread in space.

    Pixels are ranked within their mapped class: outside the area of applicability first
    (when ``aoa`` is given), then by smallest margin (uncertainty sampling, Scheffer et al.
    2001), ties broken by a seeded hash of the position. Every class gets its share of
    ``n`` (proportional to its mapped pixels, at least ``min_per_class``:
    :func:`rasterclass.accuracy.design.allocate_sample` with ``min:N``) and points are taken
    greedily in rank order, skipping any closer than ``min_distance`` to a point already
    taken (of any class). Maps are read block by block; each block keeps its
    ``4 * n`` best pixels per class as candidates.

    Parameters
    ----------
    classes
        ``(y, x)`` or ``(1, y, x)`` class codes, 0 or NaN at nodata (a map from
        :func:`rasterclass.predict_raster` or :func:`rasterclass.accuracy.assess.open_map`),
        with its CRS and transform.
    uncertainty
        The uncertainty layers on the same grid (:func:`rasterclass.uncertainty`: a
        ``margin`` band), NaN at nodata.
    aoa
        The AOA layers on the same grid (:func:`rasterclass.area_of_applicability`: bands
        ``dissimilarity_index`` and ``aoa``); optional.
    class_map
        Names of the class codes (default ``class <code>``).
    n
        Number of points (>= 1).
    min_distance
        Least distance between two points: map units (>= 0), or a string with a unit
        (``300m``, ``0.3km``, ``10px``; see :func:`rasterclass.accuracy.draw.parse_distance`).
    min_per_class
        Least number of points per mapped class (lowered to ``n // classes`` when the
        classes are more than ``n / min_per_class``).
    seed
        Seed of the tie-break.

    Returns
    -------
    geopandas.GeoDataFrame
        Up to ``n`` points at pixel centres in the map's CRS, best-ranked first, with
        ``class_code``, ``class_name``, ``margin``, ``di`` (NaN without ``aoa``),
        ``outside_aoa`` (bool) and an empty ``reference`` column to fill in (e.g. in QGIS);
        ``attrs["allocation"]`` gives the points per class asked and ``attrs["short"]``
        the classes that got fewer (too few pixels far enough apart).

    Raises
    ------
    AccuracyError
        ``n`` < 1, ``min_distance`` < 0, layers on another grid or without their bands, or
        a map without mapped pixels.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> classes = xr.DataArray(np.array([[1, 1, 2, 2]] * 2, dtype="u1"), dims=("y", "x"))
    >>> margin = np.array([[0.9, 0.1, 0.5, 0.2], [0.8, 0.7, 0.6, 0.05]], dtype="f4")
    >>> u = xr.DataArray(np.stack([margin, 1 - margin]), dims=("band", "y", "x"),
    ...                  coords={"band": ["margin", "entropy"]})
    >>> points = suggest_samples(classes, u, n=2, min_per_class=1)
    >>> points[["class_code", "margin"]].values.round(2).tolist()
    [[2.0, 0.05], [1.0, 0.1]]
    """
    import geopandas as gpd
    from shapely.geometry import Point

    if not (isinstance(n, int | np.integer) and n >= 1):
        raise AccuracyError(f"{param('n')} must be a whole number >= 1, got {n!r}")
    cls = classes.squeeze("band", drop=True) if "band" in classes.dims else classes
    distance = parse_distance(min_distance, cls.rio.crs, cls.rio.transform())
    margin = _band(uncertainty, "margin")
    di, inside = _band(aoa, "dissimilarity_index"), _band(aoa, "aoa")
    for other in (margin, di):
        if other is not None and other.shape != cls.shape:
            raise AccuracyError(
                f"the map is {cls.shape} pixels, a layer {other.shape}: give the uncertainty "
                "and AOA layers written with this map"
            )
    data = cls.data if isinstance(cls.data, da.Array) else da.from_array(np.asarray(cls.data))
    chunks = data.chunks
    offsets = [np.cumsum([0, *c[:-1]]) for c in chunks]
    none = [None] * data.npartitions
    blocks = zip(
        data.to_delayed().ravel(),
        _blocks(margin, chunks),
        _blocks(di, chunks) or none,
        _blocks(inside, chunks) or none,
        strict=True,
    )
    width, pool_size = cls.shape[1], POOL_FACTOR * int(n)
    tasks = []
    for index, (c, m, d, a) in zip(np.ndindex(*data.numblocks), blocks, strict=True):
        r0, c0 = int(offsets[0][index[0]]), int(offsets[1][index[1]])
        tasks.append(dask.delayed(_block_pool)(c, m, d, a, r0, c0, width, seed, pool_size))
    results = dask.compute(*tasks)
    size = max(len(r[0]) for r in results)
    counts = np.zeros(size, np.int64)
    for r in results:
        counts[: len(r[0])] += r[0]
    codes = [c for c in np.flatnonzero(counts).tolist() if c > 0]
    if not codes:
        raise AccuracyError("the map has no mapped pixel with an uncertainty value")
    least = max(0, min(int(min_per_class), int(n) // len(codes)))
    alloc = allocate_sample(int(n), counts[codes].astype(float), f"min:{least}")
    quota = dict(zip(codes, (int(v) for v in alloc.to_numpy()), strict=True))
    pool = pd.concat([pd.DataFrame(r[1]) for r in results], ignore_index=True)
    pool = pool.sort_values(["outside", "margin", "tie"], ascending=[False, True, True])
    taken, xs, ys, left = _greedy(pool, quota, distance, cls.rio.transform())
    chosen = pool.iloc[taken]
    name_of = (lambda c: class_map.name_of(c)) if class_map else (lambda c: f"class {c}")
    gdf = gpd.GeoDataFrame(
        {
            "class_code": chosen["code"].to_numpy(np.int64),
            "class_name": [name_of(int(c)) for c in chosen["code"]],
            "margin": chosen["margin"].to_numpy(np.float64),
            "di": chosen["di"].to_numpy(np.float64),
            "outside_aoa": chosen["outside"].to_numpy(bool),
            "reference": [""] * len(chosen),
        },
        geometry=[Point(x, y) for x, y in zip(xs, ys, strict=True)],
        crs=cls.rio.crs,
    )
    gdf.attrs["allocation"] = {name_of(c): q for c, q in quota.items()}
    gdf.attrs["short"] = {name_of(c): v for c, v in left.items() if v > 0}
    if gdf.attrs["short"]:
        logger.warning("fewer points than asked for: %s", gdf.attrs["short"])
    return gdf
