"""Change maps of a before/after pair: an index difference (dNDVI) and a "damaged" class.

Owns :func:`detect_change` (the two scenes, cropped to their overlap, an index per date
stacked as a multi-date stack, the difference ``after - before`` and the class map
1 = no change, 2 = damaged where the index dropped by more than a threshold), the grid
helper :func:`crop_to_overlap` and the lazy mask of zone polygons :func:`zones_mask`.

Built from :mod:`rasterclass.temporal` (:func:`~rasterclass.temporal.stack_dates`,
:func:`~rasterclass.temporal.difference`) and :mod:`rasterclass.features`
(:func:`~rasterclass.features.band_roles`, :func:`~rasterclass.features.spectral_index`).
Everything is lazy on dask scenes and identical for any chunking (pixel-wise arithmetic;
zones rasterized per chunk with GDAL's pixel-centre rule, which does not depend on the
window). Nothing here opens or writes a file (see :func:`rasterclass.jobs.change_map`).

The method is the image differencing of Singh (1989, Int. J. Remote Sensing 10(6),
989-1003) on a vegetation index, with a fixed threshold on the difference; the threshold
-0.15 on dNDVI is a usual first guess for crop damage (hail, flood, drought) three weeks
apart, to be checked against field visits (``sample_data/README.md`` shows its trade-off).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from affine import Affine

from rasterclass.classes import ClassMap, parse_colour
from rasterclass.errors import BandMismatchError, GridMismatchError, SceneError, param
from rasterclass.features import INDICES, band_roles, spectral_index
from rasterclass.features.indices import check_indices
from rasterclass.features.roles import parse_bands, require_roles
from rasterclass.io import scene_grid
from rasterclass.stack import georeferenced, rasterize_shapes
from rasterclass.temporal import difference, parse_date, stack_dates

logger = logging.getLogger(__name__)

#: Codes of the change map (0 = nodata or outside the mask).
NO_CHANGE, DAMAGED = 1, 2
#: The classes of the change map: ``no_change`` (light grey), ``damaged`` (red).
CHANGE_CLASSES = ClassMap(
    (NO_CHANGE, DAMAGED),
    ("no_change", "damaged"),
    (parse_colour("#d9d9d9"), parse_colour("#d7301f")),
    ("no_change", "damaged"),
)


def check_threshold(threshold: float) -> float:
    """The threshold as a float: finite and negative (a drop), else :class:`SceneError`."""
    value = float(threshold)
    if not (math.isfinite(value) and value < 0):
        raise SceneError(
            f"{param('threshold', threshold)}: the threshold is the drop of the index that "
            f"counts as damage, a negative number such as {param('threshold', -0.15)}"
        )
    return value


def _offset(grid: Any, of: Any) -> tuple[int, int]:
    """Whole-pixel (row, col) offset of ``of``'s origin on ``grid``, else GridMismatchError."""
    col, row = ~grid.transform @ (of.transform.c, of.transform.f)
    same = grid.crs == of.crs and np.allclose(grid.res, of.res, rtol=1e-6)
    if not same or abs(col - round(col)) > 1e-3 or abs(row - round(row)) > 1e-3:
        raise GridMismatchError(
            f"the scenes are not on one pixel grid ({grid.describe()}; {of.describe()}); "
            f"resample them onto one grid ({param('reference', 'BEFORE.tif')})"
        )
    return round(row), round(col)


def crop_to_overlap(*scenes: xr.DataArray) -> list[xr.DataArray]:
    """Crop scenes of one pixel grid to their common extent (whole pixels, lazily).

    A scene that covers a window of another (``sample_data/scene_t2.tif`` is a 400 x 400
    window of ``scene.tif``) needs no resampling: both are cut to the pixels they share.

    Parameters
    ----------
    *scenes
        Scenes or maps (dims ``(..., y, x)``) with CRS and transform, in one CRS, of one
        pixel size and with origins a whole number of pixels apart.

    Returns
    -------
    list of xarray.DataArray
        Each scene cut to the overlap (same shape, same coordinates), CRS and transform set.

    Raises
    ------
    GridMismatchError
        The scenes are not on one pixel grid (resample one onto the other, e.g.
        ``open_scene(..., reference=...)``), or they do not overlap.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from affine import Affine
    >>> from rasterclass.stack import Grid, georeferenced
    >>> from rasterio.crs import CRS
    >>> grid = Grid(CRS.from_epsg(32633), Affine(10, 0, 0, 0, -10, 40), 4, 4)
    >>> y, x = grid.coords()
    >>> big = georeferenced(xr.DataArray(np.arange(16.0).reshape(4, 4), dims=("y", "x"),
    ...                                  coords={"y": y, "x": x}), grid)
    >>> small = big.isel(y=slice(1, 3), x=slice(2, 4))
    >>> a, b = crop_to_overlap(big, small)
    >>> a.shape, bool((a == b).all())
    ((2, 2), True)
    """
    grids = [scene_grid(s) for s in scenes]
    first = grids[0]
    spans = []
    for grid in grids:
        row, col = _offset(first, grid)
        spans.append((row, row + grid.height, col, col + grid.width))
    top, bottom = max(s[0] for s in spans), min(s[1] for s in spans)
    left, right = max(s[2] for s in spans), min(s[3] for s in spans)
    if bottom <= top or right <= left:
        raise GridMismatchError(
            f"the scenes do not overlap ({'; '.join(g.describe() for g in grids)})"
        )
    out = []
    for scene, (row, _, col, _) in zip(scenes, spans, strict=True):
        cut = scene.isel(y=slice(top - row, bottom - row), x=slice(left - col, right - col))
        out.append(georeferenced(cut, cut))
    if any(s.shape[-2:] != g.shape[-2:] for s, g in zip(scenes, out, strict=True)):
        logger.info("cropped the scenes to their overlap: %s", scene_grid(out[0]).describe())
    return out


def _zones_block(
    block: np.ndarray, shapes: Sequence[Any], transform: Affine, block_info: Any = None
) -> np.ndarray:
    (row, _), (col, _) = block_info[0]["array-location"]
    window = transform @ Affine.translation(col, row)
    burnt = rasterize_shapes([(g, 1) for g in shapes], block.shape, window)
    return burnt.astype(bool)


def zones_mask(geometries: Sequence[Any], like: xr.DataArray) -> xr.DataArray:
    """Which pixels of a grid have their centre in one of the polygons, lazily.

    Parameters
    ----------
    geometries
        Shapely polygons in the CRS of ``like`` (e.g. ``read_vector(...).geometry``,
        reprojected).
    like
        A scene or map (dims ``(..., y, x)``) whose grid and chunks the mask takes.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` bool, True inside a polygon (GDAL's pixel-centre rule, as
        :func:`rasterclass.zonal_summary` counts pixels); lazy, rasterized chunk by chunk.

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from rasterclass.datasets import example_array
    >>> like = example_array(np.zeros((3, 3)))  # 3 x 3 px of 10 m, lower-left corner (0, 0)
    >>> zones_mask([box(0, 0, 20, 10)], like.chunk(2)).values.astype(int).tolist()
    [[0, 0, 0], [0, 0, 0], [1, 1, 0]]
    """
    plane = like.isel({d: 0 for d in like.dims if d not in ("y", "x")}, drop=True)
    data = plane.data if isinstance(plane.data, da.Array) else da.from_array(plane.data)
    grid = scene_grid(like)
    shapes = [g for g in geometries if g is not None and not g.is_empty]
    mask = da.map_blocks(_zones_block, data, shapes, grid.transform, dtype=bool)
    out = xr.DataArray(mask, dims=("y", "x"), coords={"y": like["y"], "x": like["x"]})
    return georeferenced(out, like)


def _index(scene: xr.DataArray, index: str, bands: Any, scale: float) -> xr.DataArray:
    names = [str(b) for b in scene["band"].values]
    roles = band_roles(names, bands)
    sensor, _ = parse_bands(bands)
    require_roles(roles, INDICES[index].roles, names, f"the {index} change map", sensor=sensor)
    layers = {r: scene.sel(band=roles[r], drop=True) for r in INDICES[index].roles}
    return spectral_index(index, layers, scale=scale).expand_dims(band=[index])


def detect_change(
    before: xr.DataArray,
    after: xr.DataArray,
    dates: Sequence[Any],
    *,
    index: str = "ndvi",
    threshold: float = -0.15,
    mask: xr.DataArray | None = None,
    bands: str | Mapping[str, str] | None = None,
    scale: float = 1.0,
) -> xr.Dataset:
    """The change of a spectral index between two dates and the "damaged" class, lazily.

    The two scenes are cropped to their overlap (:func:`crop_to_overlap`), the index is
    computed per date (:func:`rasterclass.features.spectral_index` over the band roles) and
    stacked (:func:`rasterclass.temporal.stack_dates`), and the difference
    ``d<index> = index(after) - index(before)`` taken
    (:func:`rasterclass.temporal.difference`). A pixel is ``damaged`` (code 2) where the
    difference is below ``threshold`` (the index dropped by more than ``-threshold``),
    ``no_change`` (1) elsewhere, and 0 (nodata) where either date is nodata or outside
    ``mask``. Image differencing after Singh (1989, Int. J. Remote Sens. 10, 989-1003).

    Parameters
    ----------
    before, after
        Scenes (dims ``("band", "y", "x")``, CRS and transform) of the two dates on one pixel
        grid (one may cover a window of the other); bands without dates in their names.
    dates
        The two acquisition dates, ``before`` first (see :func:`rasterclass.parse_date`).
    index
        A spectral index (``ndvi``, ``nbr``, ``ndmi``, ``evi``...; see
        :data:`rasterclass.features.INDICES`).
    threshold
        Negative: a pixel whose index changed by less than this is damaged.
    mask
        Optional ``(y, x)`` bool (True: assess the pixel; e.g. :func:`zones_mask` of the
        fields, or the cropland of a land-cover map) on a grid covering the overlap; pixels
        outside it are 0 in ``classes`` (the difference is kept).
    bands
        Band roles and/or a sensor preset (see :func:`rasterclass.features.band_roles`).
    scale
        Multiplier to reflectance (only SAVI and EVI depend on it).

    Returns
    -------
    xarray.Dataset
        On the overlap grid (CRS and transform set): ``difference`` (``(y, x)`` float32,
        unitless index change, NaN where either date is nodata; named ``d<index>``) and
        ``classes`` (``(y, x)`` uint8, 0 nodata, 1 no change, 2 damaged). ``attrs``:
        ``class_map`` (:data:`CHANGE_CLASSES` as a dict, so :func:`rasterclass.write_map`
        writes names and colours), ``index``, ``threshold``, ``dates`` (ISO days).

    Raises
    ------
    SceneError
        A threshold that is not negative, not two dates or ``after`` not later than
        ``before``.
    BandMismatchError
        An unknown index, one the sensor named in ``bands`` cannot give (NDRE on
        Landsat: no red-edge band), a role given to two bands, or bands whose roles it
        needs are not found.
    GridMismatchError
        Scenes (or ``mask``) not on one pixel grid, or not overlapping.

    Examples
    --------
    >>> import numpy as np
    >>> from rasterclass.datasets import example_array
    >>> def scene(red, nir):  # 1 x 3 px of 10 m
    ...     data = np.array([red, nir], "f4").reshape(2, 1, 3)
    ...     return example_array(data, band_names=["red", "nir"])
    >>> t1 = scene([0.05, 0.05, 0.05], [0.45, 0.45, 0.45])  # NDVI 0.8
    >>> t2 = scene([0.05, 0.15, np.nan], [0.45, 0.25, 0.45])  # 0.8, 0.25, nodata
    >>> out = detect_change(t1, t2, ["2024-06-12", "2024-07-03"])
    >>> out["difference"].values.round(2).tolist(), out["classes"].values.tolist()
    ([[0.0, -0.55, nan]], [[1, 2, 0]])
    """
    limit = check_threshold(threshold)
    (key,) = check_indices([index], bands, option="index")
    if len(dates) != 2:
        raise SceneError(f"give two dates, before and after ({param('dates')})")
    first, second = (parse_date(d) for d in dates)
    if not first < second:
        raise SceneError(
            f"the after scene ({second}) is not later than the before scene ({first}); swap "
            f"the scenes or fix {param('dates')}"
        )
    if bands is not None and not isinstance(bands, str | Mapping):
        raise BandMismatchError(f"{param('bands')} must be text such as red=B4,nir=B8")
    t1, t2 = crop_to_overlap(before, after)
    stack = stack_dates([_index(t1, key, bands, scale), _index(t2, key, bands, scale)], dates)
    diff = difference(stack, first, second).isel(band=0, drop=True).astype(np.float32)
    diff = georeferenced(diff.rename(f"d{key}"), t1)
    valid = diff.notnull()
    if mask is not None:
        inside = crop_to_overlap(mask, diff)[0].astype(bool)
        if inside.shape != diff.shape:
            raise GridMismatchError("the mask does not cover the scenes' overlap")
        valid = valid & inside.assign_coords(y=diff["y"], x=diff["x"])
    codes = xr.where(diff < limit, DAMAGED, NO_CHANGE).where(valid, 0).astype(np.uint8)
    out = xr.Dataset({"difference": diff, "classes": codes.rename("classes")})
    out.attrs = {
        "class_map": CHANGE_CLASSES.to_dict(),
        "index": key,
        "threshold": limit,
        "dates": [str(d.astype("datetime64[D]")) for d in (first, second)],
    }
    return georeferenced(out, t1)
