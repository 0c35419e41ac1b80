"""Sieve a class map to a minimum mapping unit (MMU).

Owns :func:`sieve`, the parsing of an MMU (:func:`parse_mmu`: ``"0.5ha"``, ``"25px"``), the
protected classes (:func:`protected_codes`) and the merging rule on the patch graph
(:func:`merge_small_patches`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import xarray as xr

from rasterclass.classes import ClassMap
from rasterclass.errors import CRSError, PostprocessError, param
from rasterclass.postprocess._crowded import merge_crowded
from rasterclass.postprocess.patches import PatchGraph, patch_graph

logger = logging.getLogger(__name__)

_MMU = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ha|px)\s*$")
#: Square metres in a hectare.
HECTARE = 10_000.0


def parse_mmu(mmu: float | str) -> tuple[float, str]:
    """A minimum mapping unit as ``(value, unit)``, unit ``"px"`` or ``"ha"``.

    A number is pixels; a text carries its unit: ``"25px"``, ``"0.5ha"``.

    Raises
    ------
    PostprocessError
        No unit, an unknown unit, or a negative or non-finite value.
    """
    if isinstance(mmu, str):
        match = _MMU.match(mmu.lower())
        if match is None:
            raise PostprocessError(
                f"{param('mmu')} {mmu!r} is a size with its unit: pixels (e.g. 25px) or "
                "hectares (e.g. 0.5ha)"
            )
        value, unit = float(match.group(1)), match.group(2)
    else:
        value, unit = float(mmu), "px"
    if not np.isfinite(value) or value < 0:
        raise PostprocessError(f"{param('mmu')} must be 0 or more, got {mmu!r}")
    return value, unit


def mmu_pixels(class_map: xr.DataArray, mmu: float | str) -> float:
    """The MMU in pixels of ``class_map`` (hectares use ``|pixel width x pixel height|``).

    Raises
    ------
    PostprocessError
        An invalid ``mmu`` (see :func:`parse_mmu`).
    CRSError
        An MMU in hectares on a map without a projected CRS (metres).
    """
    value, unit = parse_mmu(mmu)
    if unit == "px":
        return value
    area = pixel_area_m2(class_map)
    if area is None:
        crs = class_map.rio.crs
        what = "has no CRS" if crs is None else f"is in a geographic CRS ({crs})"
        raise CRSError(
            f"an MMU in hectares needs the map's pixel area in metres, but the map {what}; "
            f"give {param('mmu')} in pixels (e.g. 25px) or write a projected CRS to the map"
        )
    return value * HECTARE / area


def pixel_area_m2(class_map: xr.DataArray) -> float | None:
    """The area of one pixel of ``class_map`` in m²: ``|pixel width x pixel height|`` of
    its transform times the square of its CRS's linear unit in metres (feet are converted);
    None without a CRS or in a geographic CRS, whose pixels have no fixed area.

    Examples
    --------
    >>> import numpy as np, rasterio, rioxarray, xarray as xr
    >>> m = xr.DataArray(np.ones((2, 2), "u1"), dims=("y", "x"), coords={"y": [5.0, -5.0],
    ...                  "x": [10.0, 30.0]}).rio.write_crs("EPSG:32633")
    >>> pixel_area_m2(m), pixel_area_m2(m.rio.write_crs("EPSG:4326"))
    (200.0, None)
    """
    crs = class_map.rio.crs
    if crs is None or not crs.is_projected:
        return None
    t = class_map.rio.transform(recalc=True)
    return float(abs(t.a * t.e - t.b * t.d) * float(crs.linear_units_factor[1]) ** 2)


def protected_codes(keep: Iterable[Any], class_map: ClassMap | None) -> list[int]:
    """Codes of the protected classes, given by name or code.

    Raises
    ------
    PostprocessError
        A name the class map does not list (the message lists the map's classes), or a
        name with no class map.
    """
    codes = []
    for item in keep:
        if isinstance(item, int | np.integer) or (isinstance(item, str) and item.isdigit()):
            code = int(item)
            if class_map is not None and code not in class_map.codes:
                raise PostprocessError(
                    f"{param('keep')} names class code {code}, which the map does not have; "
                    f"its classes: {_listing(class_map)}"
                )
            codes.append(code)
            continue
        if class_map is None:
            raise PostprocessError(
                f"{param('keep')} names class {item!r} but the map carries no class names; "
                "give the protected classes by code"
            )
        if item not in class_map.names:
            raise PostprocessError(
                f"{param('keep')} names unknown class {item!r}; the map's classes: "
                f"{_listing(class_map)}"
            )
        codes.append(class_map.code_of(item))
    return sorted(set(codes))


def _listing(class_map: ClassMap) -> str:
    return ", ".join(f"{n} ({c})" for c, n in zip(class_map.codes, class_map.names, strict=True))


def merge_small_patches(
    graph: PatchGraph, min_pixels: float, protected: Iterable[int] = ()
) -> np.ndarray:
    """The class of every patch after merging the patches smaller than ``min_pixels``.

    The rule (deterministic, so the same for every chunking): small patches are taken one
    at a time, smallest first (ties: the patch whose first pixel comes first in row-major
    order). Each merges into the neighbour with which it shares the longest border (in pixel
    edges); ties go to the neighbour that was larger in the input map, then to the one whose
    first pixel comes first. The merged patch keeps the neighbour's class, its size is the
    sum and its borders the union; if it is still small it is taken again in its turn.
    Patches of protected classes never merge and never absorb; nodata is no neighbour. A
    small patch with no eligible neighbour (only nodata, protected classes or the scene's
    edge) stays.

    Small patches whose neighbours are all large (most of them: isolated pixels of noise)
    cannot be affected by any other merge, so they are resolved at once (numpy); the others
    are merged in rounds of patches that come before all their small neighbours, then, if
    long chains are left, through a priority queue (see
    :func:`rasterclass.postprocess._crowded.merge_crowded`): the same merges as taking them
    one at a time.

    Returns
    -------
    numpy.ndarray
        int64, ``classes[patch id]`` after the sieve (0 for id 0).
    """
    n = graph.n_patches
    is_protected = np.isin(graph.classes, list(protected))
    is_protected[0] = True
    small = (graph.pixels < min_pixels) & ~is_protected
    root = np.arange(n + 1)
    if not small.any():
        return graph.classes.copy()
    a, b, w = graph.edges
    eligible = ~is_protected[a] & ~is_protected[b] & (small[a] | small[b])
    a, b, w = a[eligible], b[eligible], w[eligible]
    both = small[a] & small[b]
    crowded = np.zeros(n + 1, dtype=bool)  # small patches with a small neighbour
    crowded[a[both]] = crowded[b[both]] = True
    one = ~both
    i = np.where(small[a[one]], a[one], b[one])  # the small end of the edge
    j = np.where(small[a[one]], b[one], a[one])
    alone = ~crowded[i]
    i, j, wi = i[alone], j[alone], w[one][alone]
    order = np.lexsort((-j, graph.pixels[j], wi, i))  # best neighbour last per patch
    i, j = i[order], j[order]
    last = np.r_[i[1:] != i[:-1], True] if i.size else np.zeros(0, dtype=bool)
    root[i[last]] = j[last]
    merges = int(last.sum())
    merges += merge_crowded(
        root, np.flatnonzero(crowded), (a, b, w), graph.pixels, graph.first, min_pixels
    )
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    logger.info(
        "sieve: %d of %d patches smaller than %.4g px, %d merged (%d next to another small one)",
        int(small.sum()),
        n,
        min_pixels,
        merges,
        int(crowded.sum()),
    )
    return graph.classes[root]


def sieve(
    class_map: xr.DataArray,
    mmu: float | str,
    *,
    connectivity: int = 4,
    keep: Iterable[Any] = (),
    classes: ClassMap | None = None,
) -> xr.DataArray:
    """Remove patches smaller than a minimum mapping unit (MMU) from a class map.

    A patch (connected pixels of one class, 4- or 8-connectivity) smaller than the MMU takes
    the class of the neighbouring patch it shares the **longest border** with (ties: the
    neighbour that was larger in the input map, then the one whose first pixel comes first
    in row-major order);
    chains of small patches resolve smallest first, see :func:`merge_small_patches`. This is
    the rule of GRASS ``r.reclass.area method=rmarea`` (``v.clean tool=rmarea``: a small
    area joins the neighbour with the longest common boundary); GDAL's
    ``GDALSieveFilter`` (:func:`rasterio.features.sieve`) merges into the **largest**
    neighbour instead. The two agree wherever a small patch has one eligible neighbour (e.g.
    islands inside one class), and there the result equals GDAL's pixel for pixel (tested).

    Patches are measured whole across chunk edges (global connected components, see
    :func:`rasterclass.postprocess.patch_graph`), so the result is identical for every
    chunking and equal to the in-memory result. The patch graph is computed when this is
    called (the map is read once, a few chunks at a time; one row per patch held); the
    sieved map itself is lazy (computed when written).

    Parameters
    ----------
    class_map
        ``(y, x)`` integer class codes, 0 = nodata, numpy or dask, with CRS/transform
        (rioxarray) for an MMU in hectares.
    mmu
        The minimum mapping unit: a number of pixels, or a text with its unit: ``"25px"``,
        ``"0.5ha"`` (hectares use ``|pixel width x pixel height|`` of the transform, so
        non-square pixels are fine). Patches with an area *below* it are merged.
    connectivity
        4 (edge neighbours) or 8 (also diagonal) for patches; the border length counts
        shared pixel edges either way (diagonal-only neighbours touch with 0).
    keep
        Protected classes, by name or code: never merged, never absorb a patch.
    classes
        The map's classes, to resolve names in ``keep``. Default: the ``class_map``
        attribute the array carries (maps read by rasterclass carry it).

    Returns
    -------
    xarray.DataArray
        Same shape, dtype, coords, CRS, transform and attributes (class map included);
        nodata stays 0. Lazy when ``class_map`` is.

    Raises
    ------
    PostprocessError
        Invalid ``mmu`` (no unit, negative), ``connectivity`` or ``keep`` (an unknown class;
        the message lists the map's classes).
    CRSError
        An MMU in hectares on a map without a projected CRS.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> import rasterclass as rc
    >>> m = xr.DataArray(np.array([[1, 1, 1, 2, 2],
    ...                            [1, 3, 1, 2, 2],
    ...                            [1, 1, 1, 2, 0]], dtype="u1"), dims=("y", "x"))
    >>> rc.sieve(m.chunk({"x": 2}), mmu="2px").values.tolist()  # the lone 3 joins the 1s
    [[1, 1, 1, 2, 2], [1, 1, 1, 2, 2], [1, 1, 1, 2, 0]]
    """
    connectivity = int(connectivity)
    if classes is None and "class_map" in class_map.attrs:
        classes = ClassMap.from_dict(class_map.attrs["class_map"])
    protected = protected_codes(keep, classes)
    min_pixels = mmu_pixels(class_map, mmu)
    graph = patch_graph(class_map, connectivity)
    new = merge_small_patches(graph, min_pixels, protected).astype(class_map.dtype)
    return graph.paint(class_map, new)
