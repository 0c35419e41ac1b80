"""Damage per zone: the damaged area and share of each field of a change map.

Owns :func:`damage_summary`, a :func:`rasterclass.zonal_summary` of the change map of
:func:`rasterclass.change.detect_change` (classes ``no_change`` / ``damaged``) with the mean
index change per zone, its columns named for the question asked (``damaged_ha``,
``damaged_share``, ``mean_dndvi``). Counts are exact and chunk-invariant (see
:mod:`rasterclass.accuracy.zonal`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from rasterclass.accuracy.zonal import zonal_summary
from rasterclass.errors import SceneError

#: Columns of :func:`zonal_summary` -> their names in the damage table.
_RENAMED = {
    "pixels_damaged": "damaged_pixels",
    "area_ha_damaged": "damaged_ha",
    "share_damaged": "damaged_share",
}


def damage_summary(
    change: xr.Dataset,
    zones: Any,
    zone_column: str | None = None,
    *,
    zones_layer: str | None = None,
    chunks: int | None = None,
) -> Any:
    """Damaged area (ha) and share, and the mean index change, per zone of a change map.

    Parameters
    ----------
    change
        The result of :func:`rasterclass.change.detect_change` (``classes``: 0 nodata or
        masked, 1 no change, 2 damaged; ``difference``: the index change).
    zones
        Zone polygons (fields; path or GeoDataFrame), any CRS.
    zone_column
        The zone id column (default: the row number 1, 2, ...).
    zones_layer, chunks
        Layer of a multi-layer zones file; chunk side for reading (no effect on the result).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per zone (index: the zone id), the zones' attributes and geometry, then
        ``status``, ``valid_pixels`` (pixel centres in the zone with a class on both dates,
        int64), ``valid_ha``, ``damaged_pixels`` (int64), ``damaged_ha``,
        ``damaged_share`` (damaged / valid pixels, NaN without a valid pixel) and
        ``mean_d<index>`` (mean change of the index over the zone's pixels with a
        difference, float64), as in :func:`rasterclass.zonal_summary`.

    Raises
    ------
    SceneError
        ``change`` is not a change map (no ``classes`` or ``difference``).
    ZoneError, CRSError
        As for :func:`rasterclass.zonal_summary`.

    Examples
    --------
    >>> import numpy as np, xarray as xr, geopandas as gpd
    >>> from affine import Affine
    >>> from rasterio.crs import CRS
    >>> from shapely.geometry import box
    >>> from rasterclass.change import detect_change
    >>> from rasterclass.stack import Grid, georeferenced
    >>> grid = Grid(CRS.from_epsg(32633), Affine(100, 0, 0, 0, -100, 100), 4, 1)  # 1 ha px
    >>> y, x = grid.coords()
    >>> def scene(nir):
    ...     data = np.array([[0.05] * 4, nir], "f4").reshape(2, 1, 4)
    ...     return georeferenced(xr.DataArray(data, dims=("band", "y", "x"),
    ...                          coords={"band": ["red", "nir"], "y": y, "x": x}), grid)
    >>> change = detect_change(scene([0.45] * 4), scene([0.45, 0.1, 0.1, 0.45]),
    ...                        ["2024-06-12", "2024-07-03"])
    >>> fields = gpd.GeoDataFrame({"field_id": [7]}, geometry=[box(0, 0, 400, 100)],
    ...                           crs="EPSG:32633")
    >>> table = damage_summary(change, fields, "field_id")
    >>> table[["damaged_ha", "damaged_share"]]
              damaged_ha  damaged_share
    field_id
    7                2.0            0.5
    """
    if not isinstance(change, xr.Dataset) or not {"classes", "difference"} <= set(change):
        raise SceneError(
            "damage_summary takes the Dataset detect_change returns (classes and difference)"
        )
    classes = change["classes"].copy()
    classes.attrs = {"class_map": change.attrs["class_map"]}
    diff = change["difference"]
    layer = diff.rename(f"d{change.attrs.get('index', 'index')}")
    table = zonal_summary(
        classes, zones, zone_column, layers=[layer], zones_layer=zones_layer, chunks=chunks
    )
    if "pixels_damaged" not in table:  # nothing damaged anywhere: the columns, with zeros
        table["pixels_damaged"] = np.zeros(len(table), np.int64)
        table["area_ha_damaged"] = 0.0 * table["valid_ha"]
        table["share_damaged"] = np.where(table["valid_pixels"] > 0, 0.0, np.nan)
    return table.rename(columns=_RENAMED)
