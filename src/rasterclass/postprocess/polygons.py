"""Polygons of a class map: one feature per patch, or one per class."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.classes import ClassMap
from rasterclass.objects.vector import segments_to_vector
from rasterclass.postprocess.patches import patch_graph
from rasterclass.postprocess.sieving import HECTARE, pixel_area_m2

logger = logging.getLogger(__name__)


def polygonize(
    class_map: xr.DataArray,
    *,
    dissolve: bool = False,
    connectivity: int = 4,
    classes: ClassMap | None = None,
) -> Any:
    """The patches of a class map as polygons, in the map's CRS.

    Patches are labelled globally (:func:`rasterclass.postprocess.patch_graph`), so a patch
    cut by chunk edges is one feature. The patch raster is polygonised chunk by chunk in
    exact pixel coordinates and the pieces of a patch are dissolved
    (:func:`rasterclass.objects.segments_to_vector`, :func:`rasterio.features.shapes`); the
    polygons are valid and tile the mapped pixels exactly. A patch whose pixels touch only
    diagonally (8-connectivity) is a MultiPolygon.

    Parameters
    ----------
    class_map
        ``(y, x)`` integer class codes, 0 = nodata, with CRS and transform (rioxarray).
    dissolve
        One (multi)polygon per class instead of one per patch.
    connectivity
        4 or 8: which pixels make one patch.
    classes
        Names of the codes. Default: the ``class_map`` attribute the array carries; codes
        without a name are named ``class <code>``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``patch`` (patch id 1..N in row-major order of first pixels; absent with
        ``dissolve``), ``code`` (class code), ``class`` (name), ``pixels`` and ``area_ha``
        (pixels x pixel area in hectares, the polygons' own area in a projected CRS; NaN
        without a CRS or in a geographic one, whose pixels have no fixed area), ``geometry``.

    Raises
    ------
    PostprocessError
        ``connectivity`` not 4 or 8, or the map is not 2-D integers.

    Examples
    --------
    >>> import numpy as np, rasterio, xarray as xr, rioxarray
    >>> import rasterclass as rc
    >>> m = xr.DataArray(np.array([[1, 1, 2], [0, 2, 2]], dtype="u1"), dims=("y", "x"),
    ...                  coords={"y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]})
    >>> m = m.rio.write_crs("EPSG:32633").rio.write_transform(rasterio.Affine(10, 0, 0, 0, -10, 20))
    >>> polygons = rc.polygonize(m.chunk({"x": 1}))
    >>> polygons[["patch", "code", "class", "area_ha"]].values.tolist()
    [[1, 1, 'class 1', 0.02], [2, 2, 'class 2', 0.03]]
    """
    import geopandas as gpd

    if classes is None and "class_map" in class_map.attrs:
        classes = ClassMap.from_dict(class_map.attrs["class_map"])
    graph = patch_graph(class_map, connectivity)
    dtype = np.uint32 if graph.n_patches < 2**32 else np.uint64
    ids = graph.paint(class_map, np.arange(graph.n_patches + 1, dtype=dtype))
    names = {} if classes is None else dict(zip(classes.codes, classes.names, strict=True))
    area = pixel_area_m2(class_map)
    if area is None:
        logger.warning(
            "the map has no projected CRS (%s): its pixels have no area in metres, area_ha "
            "is NaN (warp the map to a projected CRS for areas)",
            class_map.rio.crs,
        )
    table = pd.DataFrame(
        {
            "code": graph.classes[1:],
            "class": [names.get(int(c), f"class {int(c)}") for c in graph.classes[1:]],
            "pixels": graph.pixels[1:],
            "area_ha": graph.pixels[1:] * (np.nan if area is None else area / HECTARE),
        },
        index=pd.Index(np.arange(1, graph.n_patches + 1), name="patch"),
    )
    frame = segments_to_vector(ids, table).rename(columns={"segment": "patch"})
    frame = frame[["patch", "code", "class", "pixels", "area_ha", "geometry"]]
    frame = frame.reset_index(drop=True)
    if dissolve:
        frame = frame.dissolve(by=["code", "class"], aggfunc={"pixels": "sum", "area_ha": "sum"})
        frame = gpd.GeoDataFrame(frame.reset_index(), crs=frame.crs)
        frame = frame[["code", "class", "pixels", "area_ha", "geometry"]]
    logger.info("%d polygons (%s)", len(frame), "per class" if dissolve else "per patch")
    return frame
