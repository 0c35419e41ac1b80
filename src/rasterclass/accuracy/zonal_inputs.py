"""The inputs of a zonal summary, read and checked: the class map, the zones and the layers.

Owns :func:`read_zones` (zones indexed by their id, checked as every zonal summary checks
them; jobs call it before any work), :func:`open_class_map` (the map as lazy codes and its
classes), :func:`split_layer` and :func:`open_layer` (a layer given to
:func:`~rasterclass.accuracy.zonal.zonal_summary`, opened on the map's grid and chunks, its
bands chosen) and :data:`LayerSpec`. :mod:`rasterclass.accuracy.zonal` counts and sums what
these return.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.accuracy.assess import open_map
from rasterclass.classes import ClassMap
from rasterclass.errors import CRSError, ZoneError, param
from rasterclass.io import PathLike, open_scene, read_vector, scene_grid
from rasterclass.stack import Grid

logger = logging.getLogger(__name__)

#: A layer: a path, ``"PATH:BAND"`` (a band name or 1-based number), an opened scene
#: ``(band, y, x)`` or ``(y, x)``, or ``(path or scene, band or bands)``.
LayerSpec = PathLike | xr.DataArray | tuple[Any, Any]


def open_class_map(map_: Any, chunks: int | None) -> tuple[xr.DataArray, ClassMap | None]:
    """The map as a lazy ``(y, x)`` array of codes (NaN = nodata) and its classes.

    ``map_`` is a class map file or a DataArray of codes with a CRS, as
    :func:`~rasterclass.accuracy.zonal.zonal_summary` takes it; ``chunks`` is the chunk side
    in pixels. Raises :class:`~rasterclass.errors.CRSError` for an array without a CRS.
    """
    if isinstance(map_, xr.DataArray):
        data = map_.isel(band=0, drop=True) if "band" in map_.dims else map_
        cmap_dict = map_.attrs.get("class_map")
        cmap = ClassMap.from_dict(cmap_dict) if cmap_dict else None
        data = data.astype(np.float32)
        data = data.where(data != 0)
        data = data.chunk(chunks or "auto") if data.chunks is None or chunks else data
        if map_.rio.crs is None:
            raise CRSError("the map has no CRS; set one with map_.rio.write_crs(...)")
        return data.rio.write_crs(map_.rio.crs), cmap
    scene, cmap = open_map(map_, chunks=chunks)
    return scene.isel(band=0, drop=True), cmap


def read_zones(zones: Any, column: str | None = None, layer: str | None = None) -> tuple[Any, str]:
    """The zones, one row per zone id, checked as every zonal summary checks them.

    Jobs call it before any work (so that a bad zone column fails before a map is
    written); :func:`~rasterclass.accuracy.zonal.zonal_summary` calls it again on what it
    is given.

    Parameters
    ----------
    zones
        Zone polygons: a vector file path or a GeoDataFrame (any CRS).
    column
        The zone id column (rows sharing an id are united into one zone); None numbers
        the zones 1, 2, ...
    layer
        Layer of a multi-layer zones file.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, str)
        The zones indexed by their id, in their own CRS, and the id's name (``column``, or
        ``"zone"``).

    Raises
    ------
    ZoneError
        No zones; no such column (the message lists the columns); a zone without an id;
        geometries that are not polygons.
    CRSError
        Zones without a CRS.
    RasterclassIOError
        A file that does not exist or cannot be read.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> frame = gpd.GeoDataFrame({"field": [7, 7, 9]}, crs="EPSG:32633",
    ...                          geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)])
    >>> zones, name = read_zones(frame, "field")
    >>> name, zones.index.tolist()
    ('field', [7, 9])
    """
    if isinstance(zones, str | os.PathLike):
        frame = read_vector(zones, layer=layer, what="zones")
    else:
        frame = zones.copy()
        if frame.crs is None:
            raise CRSError("the zones have no CRS; set one with GeoDataFrame.set_crs(...)")
    if frame.geometry.dropna().is_empty.all():
        raise ZoneError(
            f"the zones hold no polygon ({len(frame)} rows); give a file with zones, or the "
            f"layer that has them ({param('zones_layer')})"
        )
    if column is not None and column not in frame.columns:
        columns = ", ".join(repr(c) for c in frame.columns if c != frame.geometry.name)
        raise ZoneError(
            f"the zones have no column {column!r}; set {param('zone_column')} to one of: "
            f"{columns or '(none: leave it out to number the zones 1, 2, ...)'}"
        )
    types = set(frame.geometry.dropna().geom_type) - {"Polygon", "MultiPolygon"}
    if types:
        raise ZoneError(
            f"zones must be polygons, found {', '.join(sorted(types))}; buffer points or "
            "lines into polygons first"
        )
    if column is None:
        frame.index = pd.RangeIndex(1, len(frame) + 1)
        return frame, "zone"
    ids = frame[column]
    if ids.isna().any():
        raise ZoneError(
            f"{int(ids.isna().sum())} of {len(ids)} zones have no id in column {column!r}; "
            f"fill in their ids, or choose another column ({param('zone_column')}) or none "
            "(the zones are then numbered 1, 2, ...)"
        )
    if ids.duplicated().any():
        logger.info("zones sharing an id in %r are united", column)
        frame = frame.dissolve(by=column, sort=False, aggfunc="first")
    else:
        frame = frame.set_index(column)
    return frame, column


def open_layer(
    spec: Any, position: int, grid: Grid, like: xr.DataArray, chunks: int | None
) -> xr.DataArray:
    """A layer as a lazy ``(band, y, x)`` float array chunked as the map, its bands chosen;
    ``attrs["label"]`` names it in the columns.

    ``spec`` is as :func:`split_layer` takes it, ``position`` its place among the layers
    (for the label of an unnamed array), ``grid`` and ``like`` the map's grid and lazy
    codes. Raises :class:`~rasterclass.errors.ZoneError` for a layer off the map's grid or
    a band it does not have.
    """
    source, chosen = split_layer(spec)
    if isinstance(source, xr.DataArray):
        layer = source if "band" in source.dims else source.expand_dims(band=["value"])
        label = str(source.name or f"layer{position + 1}")
    else:
        layer = open_scene(source, chunks=chunks)
        label = os.path.splitext(os.path.basename(os.fspath(source)))[0]
    if layer.rio.crs is None or not scene_grid(layer).same_as(grid):
        raise ZoneError(
            f"layer {label} is not on the map's grid ({grid.describe()}); resample it onto "
            f"the map (e.g. gdalwarp -te/-tr) before giving it in {param('layers')}"
        )
    if chosen is not None:
        layer = layer.isel(band=_band_positions(layer, chosen, label))
    ys, xs = like.data.chunks
    layer = layer.astype(np.float64).chunk({"band": -1, "y": ys, "x": xs})
    layer.attrs = {"label": label}
    return layer


def split_layer(spec: LayerSpec) -> tuple[Any, Any]:
    """A layer given to :func:`~rasterclass.accuracy.zonal.zonal_summary` as (source, chosen
    bands or None).

    Parameters
    ----------
    spec
        A path, ``"PATH:BAND"`` (when ``PATH`` exists and the whole string does not), a
        DataArray, or ``(source, band or bands)``.

    Returns
    -------
    tuple
        The path or DataArray, and the band name / 1-based number / list given (or None).

    Raises
    ------
    ValueError
        Never for a well-formed tuple; a malformed one raises as unpacking does.

    Examples
    --------
    >>> split_layer("probabilities.tif"), split_layer(("ndvi.tif", 1))
    (('probabilities.tif', None), ('ndvi.tif', 1))
    """
    if isinstance(spec, tuple):
        source, chosen = spec
        return source, chosen
    if isinstance(spec, str) and not os.path.exists(spec) and ":" in spec:
        head, _, tail = spec.rpartition(":")
        if os.path.exists(head):
            return head, tail
    return spec, None


def _band_positions(layer: xr.DataArray, chosen: Any, label: str) -> list[int]:
    names = [str(b) for b in layer["band"].values]
    wanted = chosen if isinstance(chosen, list | tuple) else [chosen]
    out = []
    for w in wanted:
        if str(w) in names:
            out.append(names.index(str(w)))
        elif str(w).isdigit() and 1 <= int(w) <= len(names):
            out.append(int(w) - 1)
        else:
            raise ZoneError(
                f"layer {label} has no band {w!r}; its bands are {', '.join(names)} "
                f"(or 1 to {len(names)})"
            )
    return out
