"""Vector files and legends: polygons/points in, GeoDataFrames out, legend CSVs.

Owns :func:`read_vector` (GeoPackage, shapefile, GeoJSON..., reprojected to the scene CRS),
:func:`write_vector` (atomic, a shapefile's parts included) and :func:`read_legend` (a
``code,name,color`` CSV as a :class:`~rasterclass.classes.ClassMap`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import rasterio
import rasterio.errors

from rasterclass.classes import ClassMap, default_colour, parse_colour
from rasterclass.errors import ClassMapError, CRSError, RasterclassIOError
from rasterclass.io.paths import PathLike, atomic_write, check_writable

logger = logging.getLogger(__name__)


def read_vector(
    path: PathLike, target_crs: Any = None, *, layer: str | None = None, what: str = "vector"
) -> Any:
    """Read polygons/points (GeoPackage, shapefile, GeoJSON...) reprojected to ``target_crs``."""
    import geopandas as gpd

    if not os.path.exists(path):
        raise RasterclassIOError(f"{what} file {path} does not exist; check the path")
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own DataSourceError etc.
        raise RasterclassIOError(
            f"cannot read {what} file {path}: {exc}; is it a GeoPackage, shapefile or GeoJSON?"
        ) from None
    if gdf.crs is None:
        raise CRSError(
            f"{what} file {path} has no CRS; assign one (QGIS 'Assign projection', "
            "ogr2ogr -a_srs, or GeoDataFrame.set_crs) and try again"
        )
    if target_crs is not None and not gdf.crs.equals(target_crs):
        logger.info(
            "reprojecting %s %s from %s to the scene CRS %s",
            what,
            path,
            gdf.crs.to_string(),
            rasterio.crs.CRS.from_user_input(target_crs).to_string(),
        )
        gdf = gdf.to_crs(target_crs)
    return gdf


def write_vector(
    gdf: Any, path: PathLike, *, overwrite: bool = False, layer: str | None = None
) -> str:
    """Write a GeoDataFrame (GeoPackage, shapefile or GeoJSON by extension) atomically."""
    check_writable([path], overwrite)
    suffix = Path(path).suffix
    with atomic_write(path, suffix, cleanup=_remove_parts) as tmp:
        gdf.to_file(tmp, layer=layer or Path(path).stem)
        if suffix.lower() == ".shp":
            for ext in (".shx", ".dbf", ".prj", ".cpg"):
                side = Path(tmp).with_suffix(ext)
                if side.exists():
                    os.replace(side, Path(path).with_suffix(ext))
    logger.info("wrote %s (%d features)", path, len(gdf))
    return str(path)


def _remove_parts(tmp: str) -> None:
    """Remove a temporary vector output and every part written beside it (``.shx``...)."""
    for p in Path(tmp).parent.glob(Path(tmp).stem + ".*"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def read_legend(path: PathLike) -> ClassMap:
    """Read a legend CSV (``code,name,color``; color as ``#RRGGBB`` or ``r,g,b``)."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise RasterclassIOError(f"cannot read legend {path}: {exc}") from None
    cols = {c.lower().strip(): c for c in table.columns}
    if "name" not in cols:
        raise ClassMapError(f"legend {path} needs a 'name' column (and 'code', 'color')")
    names = [str(n) for n in table[cols["name"]]]
    codes = (
        [int(c) for c in table[cols["code"]]] if "code" in cols else list(range(1, len(names) + 1))
    )
    if "color" in cols or "colour" in cols:
        col = cols.get("color", cols.get("colour"))
        colours = tuple(parse_colour(c) for c in table[col])
    else:
        colours = tuple(default_colour(n, i) for i, n in enumerate(names))
    return ClassMap(tuple(codes), tuple(names), colours, tuple(names))
