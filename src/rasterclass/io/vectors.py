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
    """Read polygons or points (GeoPackage, shapefile, GeoJSON...) reprojected to ``target_crs``.

    Parameters
    ----------
    path
        A vector file GDAL/pyogrio can read.
    target_crs
        CRS to reproject to (anything :meth:`rasterio.crs.CRS.from_user_input` takes, e.g.
        ``scene.rio.crs``). Default: keep the file's CRS.
    layer
        Layer of a multi-layer file (GeoPackage). Default: the first.
    what
        What the file is, for messages (``"training"``, ``"reference"``).

    Returns
    -------
    geopandas.GeoDataFrame
        The features with their attributes, in ``target_crs``.

    Raises
    ------
    RasterclassIOError
        The file does not exist or cannot be read as a vector file.
    CRSError
        The file has no CRS.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> import rasterclass as rc
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "training.gpkg"
    >>> gpd.GeoDataFrame({"class": ["water"]}, geometry=[box(0, 0, 20, 20)],
    ...                  crs="EPSG:32633").to_file(path)
    >>> gdf = rc.read_vector(path, "EPSG:4326")
    >>> gdf.crs.to_epsg(), list(gdf["class"])
    (4326, ['water'])
    """
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
    """Read a legend CSV: one class a row, columns ``code,name,color``.

    Parameters
    ----------
    path
        CSV with a ``name`` column, optionally ``code`` (default 1..K in row order) and
        ``color`` (``#RRGGBB``, ``#RRGGBBAA`` or ``r,g,b``; default: a fixed palette).

    Returns
    -------
    ClassMap
        Classes in the legend's row order (the order every listing then follows); the
        names are also the values training data are matched against.

    Raises
    ------
    RasterclassIOError
        The file cannot be read as CSV.
    ClassMapError
        No ``name`` column, a colour that cannot be parsed, duplicate codes or names.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import rasterclass as rc
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "legend.csv"
    >>> _ = path.write_text("code,name,color\\n3,water,#2b6cd6\\n1,forest,#1b6b2e\\n")
    >>> legend = rc.read_legend(path)
    >>> legend.codes, legend.names
    ((3, 1), ('water', 'forest'))
    """
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
