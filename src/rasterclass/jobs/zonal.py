"""The zonal summary job: a class map and zone polygons in, a table or the zones out.

Owns :func:`zonal_map`: it checks the output before any work, summarises the map per zone
(:func:`rasterclass.accuracy.zonal.zonal_summary`) and writes the summary through
:mod:`rasterclass.io`: a ``.csv``, ``.json`` or ``.md`` table, or the zones themselves with
the summary columns as a vector file (``.gpkg``, ``.geojson``, ``.fgb``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

from rasterclass.accuracy.zonal import ZonalOptions, split_layer, zonal_summary
from rasterclass.accuracy.zonal_report import render_zonal
from rasterclass.errors import RasterclassIOError, param
from rasterclass.io import PathLike, check_writable, write_text, write_vector
from rasterclass.jobs.provenance import recorded

#: Output name endings: the table formats, then the vector formats (the zones with the
#: summary columns).
TABLE_FORMATS = {".csv": "csv", ".json": "json", ".md": "markdown"}
VECTOR_FORMATS = (".gpkg", ".geojson", ".fgb")


@recorded("map_path", "zones", "layers")
def zonal_map(
    map_path: PathLike,
    zones: Any,
    zone_column: str | None = None,
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    **options: Unpack[ZonalOptions],
) -> Any:
    """Summarise a class map per zone (see :func:`rasterclass.zonal_summary`) and write it.

    Parameters
    ----------
    map_path
        A class map GeoTIFF (0 = nodata).
    zones
        Zone polygons (path or GeoDataFrame), any CRS.
    zone_column
        The zone id column (default: the row number, 1, 2, ...).
    output
        Also write the summary here: ``.csv``, ``.json`` or ``.md`` (a table), or
        ``.gpkg``, ``.geojson`` or ``.fgb`` (the zones, in their CRS, with the summary
        columns ``share_<class>``, ``area_ha_<class>``...). The CSV table rounds areas to
        1e-6 ha, shares to 1e-9 and means to 10 significant digits (no
        ``0.30000000000000004`` ha); the JSON table and the zones keep full precision, as
        does the table returned.
    overwrite
        Replace an existing output.
    **options
        Passed to :func:`rasterclass.zonal_summary` (:class:`~rasterclass.accuracy.zonal.
        ZonalOptions`): ``layers`` (rasters on the map's grid to average per zone, ``PATH``
        or ``PATH:BAND``), ``zones_layer``, ``chunks``, ``progress``.

    Returns
    -------
    geopandas.GeoDataFrame
        The summary, one row per zone (see :func:`rasterclass.zonal_summary`).

    Raises
    ------
    RasterclassIOError
        An output name of another format; a file that does not exist or cannot be read.
    OutputExistsError, OutputCollisionError
        As for every job's output (checked before any work).
    ZoneError
        No such zone column (the message lists the columns), zones that are not polygons,
        a layer off the map's grid.
    CRSError
        Zones or map without a CRS.

    Examples
    --------
    >>> import pathlib
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> import rasterclass as rc
    >>> from rasterclass.datasets import example_map
    >>> map_path = example_map()  # 4 x 4 px of 10 m: forest (x 0-20 m), water (x 20-40 m)
    >>> zones = gpd.GeoDataFrame({"field": [7]}, geometry=[box(0, 0, 30, 40)],
    ...                          crs="EPSG:32633")
    >>> out = pathlib.Path(map_path).parent / "fields.gpkg"
    >>> table = rc.zonal_map(map_path, zones, "field", output=out, overwrite=True)
    >>> round(float(table.loc[7, "share_forest"]), 3), out.exists()
    (0.667, True)
    """
    suffix = Path(output).suffix.lower() if output is not None else None
    if suffix is not None and suffix not in (*TABLE_FORMATS, *VECTOR_FORMATS):
        raise RasterclassIOError(
            f"{param('output', output)}: a zonal summary is written as a table (.csv, .json, "
            ".md) or as the zones with their summary (.gpkg, .geojson, .fgb); name it with "
            "one of these endings"
        )
    check_writable(
        {"output": output},
        overwrite,
        inputs={"map": map_path, "zones file": zones, "layer": _layer_paths(options)},
    )
    table = zonal_summary(map_path, zones, zone_column, **options)
    if output is not None and suffix in TABLE_FORMATS:
        write_text(output, render_zonal(table, TABLE_FORMATS[suffix]), overwrite=overwrite)
    elif output is not None:
        write_vector(table.reset_index(), output, overwrite=overwrite)
    return table


def _layer_paths(options: ZonalOptions) -> list[Any]:
    """The sources of the layers (``PATH:BAND`` as ``PATH``), for the collision check."""
    return [split_layer(spec)[0] for spec in options.get("layers", ())]
