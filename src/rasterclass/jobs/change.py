"""The change job: a before and an after scene in, a change map (and damage per field) out.

Owns :func:`change_map`: it checks every value and output before any work, opens the two
scenes (:func:`rasterclass.open_scene`; dates from the files or given), builds the mask of
the pixels to assess (classes of a land-cover map and/or zone polygons), runs
:func:`rasterclass.change.detect_change` and writes the class map
(:func:`rasterclass.write_map`: ``no_change`` / ``damaged``, colour table, names), the index
difference (float32 GeoTIFF, NaN nodata) and the damaged area and share per zone
(:func:`rasterclass.accuracy.damage.damage_summary`).

Scenes of different extents: an after scene covering a window of the before scene (or the
other way round) on the same pixel grid is handled by cropping both to their overlap, with
no resampling (``sample_data/scene_t2.tif`` is a 400 x 400 window of ``scene.tif``). Scenes
on different grids are refused with a message naming ``--grid-like`` (``reference=``): with
it both are resampled onto that raster's grid, then cropped the same way.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from rasterclass.accuracy.damage import damage_summary
from rasterclass.accuracy.report import csv_rounded
from rasterclass.accuracy.zonal import read_zones
from rasterclass.change import check_threshold, crop_to_overlap, detect_change, zones_mask
from rasterclass.classes import ClassMap
from rasterclass.errors import (
    ClassMapError,
    GridMismatchError,
    RasterclassIOError,
    SceneError,
    param,
)
from rasterclass.features.indices import check_indices
from rasterclass.io import (
    PathLike,
    RasterOutput,
    check_writable,
    map_output,
    open_scene,
    read_date,
    read_vector,
    scene_grid,
    write_rasters,
    write_table,
    write_vector,
)
from rasterclass.jobs.postprocess import open_class_map
from rasterclass.jobs.provenance import recorded
from rasterclass.temporal import parse_date

logger = logging.getLogger(__name__)

#: Name endings of the per-zone output: a table, or the zones with their damage columns.
PER_ZONE_TABLES = (".csv", ".parquet")
PER_ZONE_VECTORS = (".gpkg", ".geojson", ".fgb")


@dataclass
class ChangeResult:
    """What :func:`change_map` did.

    Attributes
    ----------
    outputs
        The files written.
    change
        The lazy change Dataset (see :func:`rasterclass.change.detect_change`).
    per_zone
        The damage table per zone (see :func:`rasterclass.accuracy.damage.damage_summary`),
        or None without zones.
    timings
        Seconds per phase.
    """

    outputs: list[str] = field(default_factory=list)
    change: xr.Dataset | None = None
    per_zone: Any = None
    timings: dict[str, float] = field(default_factory=dict)


def _check_values(
    threshold: float,
    index: str,
    bands: Any,
    dates: Sequence[Any] | None,
    mask_classes: Sequence[Any],
    map_path: PathLike | None,
    zones: Any,
    per_zone: PathLike | None,
) -> None:
    check_threshold(threshold)
    check_indices([index], bands, option="index")
    if dates is not None:
        if len(dates) != 2:
            raise SceneError(f"give two dates, before and after ({param('dates')})")
        for d in dates:
            parse_date(d)
    if bool(mask_classes) != (map_path is not None):
        raise SceneError(
            f"a mask by land cover needs both the map ({param('map_path')}) and its classes to "
            f"assess ({param('mask_classes', 'cropland,stressed_cropland')})"
        )
    if per_zone is not None:
        if zones is None:
            raise SceneError(f"{param('per_zone')} needs the zones ({param('zones')})")
        if Path(per_zone).suffix.lower() not in (*PER_ZONE_TABLES, *PER_ZONE_VECTORS):
            raise RasterclassIOError(
                f"{param('per_zone', per_zone)}: write the damage per zone as a table (.csv, "
                ".parquet) or as the zones with their damage (.gpkg, .geojson, .fgb)"
            )


def _codes(names: Sequence[Any], class_map: ClassMap) -> list[int]:
    """The codes of the classes given by name or code."""
    codes = []
    for name in names:
        text = str(name).strip()
        if text in class_map.names:
            codes.append(class_map.code_of(text))
        elif text.isdigit() and int(text) in class_map.codes:
            codes.append(int(text))
        else:
            raise ClassMapError(
                f"{param('mask_classes')}: the map has no class {text!r}; its classes are "
                f"{', '.join(class_map.names)}"
            )
    return codes


def _mask(
    like: xr.DataArray,
    mask_classes: Sequence[Any],
    map_path: PathLike | None,
    frame: Any,
    chunks: int | None,
) -> xr.DataArray | None:
    """The pixels to assess (None: all): of the classes of the map, inside the zones."""
    mask = None
    if map_path is not None:
        codes = open_class_map(map_path, chunks)
        _check_map_grid(codes, like, map_path)
        wanted = _codes(mask_classes, ClassMap.from_dict(codes.attrs["class_map"]))
        mask = codes.isin(wanted)
    if frame is not None:
        inside = zones_mask(list(frame.geometry.to_crs(like.rio.crs)), like)
        mask = inside if mask is None else _both(mask, inside)
    return mask


def _check_map_grid(codes: xr.DataArray, like: xr.DataArray, map_path: PathLike) -> None:
    """The land-cover map must share the scenes' pixel grid (any extent that overlaps);
    the message names the map, not the scenes, and how to bring it onto their grid."""
    try:
        crop_to_overlap(like, codes)
    except GridMismatchError as err:
        raise GridMismatchError(
            f"the land-cover map {map_path} ({scene_grid(codes).describe()}) is not on the "
            f"scenes' pixel grid ({scene_grid(like).describe()}) or does not overlap them; "
            "resample it onto that grid (nearest neighbour, the scenes' pixel size and "
            f"alignment) before giving it in {param('map_path')}"
        ) from err


def _zones(zones: Any, zone_column: str | None, zones_layer: str | None) -> Any:
    """The zones as given (a file read once), checked as the per-zone summary will check
    them (column, ids, polygons), so that a bad zones input fails before any work."""
    if zones is None:
        return None
    is_path = isinstance(zones, str | os.PathLike)
    frame = read_vector(zones, layer=zones_layer, what="zones") if is_path else zones
    read_zones(frame, zone_column)
    return frame


def _both(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """Two masks on one pixel grid (possibly of different extents) combined on the overlap."""
    first, second = crop_to_overlap(a, b)
    return first & second.assign_coords(y=first["y"], x=first["x"])


@recorded("before", "after", "map_path", "zones", outputs=("output", "difference", "per_zone"))
def change_map(
    before: PathLike,
    after: PathLike,
    output: PathLike,
    *,
    difference: PathLike | None = None,
    per_zone: PathLike | None = None,
    dates: Sequence[Any] | None = None,
    index: str = "ndvi",
    threshold: float = -0.15,
    bands: str | None = None,
    reflectance_scale: float = 1.0,
    mask_classes: Sequence[Any] = (),
    map_path: PathLike | None = None,
    zones: Any = None,
    zone_column: str | None = None,
    zones_layer: str | None = None,
    reference: PathLike | None = None,
    chunks: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cog: bool = False,
) -> ChangeResult:
    """Map the change of a spectral index between two scenes, and the damage per zone.

    Parameters
    ----------
    before, after
        The two scene files (same bands; ``after`` later). On one pixel grid they are
        cropped to their overlap; on different grids give ``reference``.
    output
        The change map GeoTIFF: 0 nodata (either date, or outside the mask), 1 ``no_change``,
        2 ``damaged`` (colour table, class names, QGIS style).
    difference
        Also write the index difference ``after - before`` (float32 GeoTIFF, NaN nodata).
    per_zone
        Also write the damage per zone (needs ``zones``): a table (``.csv``, with areas
        rounded to 1e-6 ha, shares to 1e-9 and means to 10 significant digits; ``.parquet``,
        full precision) or the zones with their damage columns (``.gpkg``, ``.geojson``,
        ``.fgb``).
    dates
        The two acquisition dates (``["2024-06-12", "2024-07-03"]``); default: read from
        each file (:func:`rasterclass.read_date`).
    index, threshold, bands, reflectance_scale
        As for :func:`rasterclass.change.detect_change` (``reflectance_scale`` is its
        ``scale``).
    mask_classes, map_path
        Assess only the pixels of these classes (names or codes) of this land-cover map
        (e.g. ``cropland``, ``stressed_cropland``); the map is on the scenes' pixel grid.
    zones, zone_column, zones_layer
        Zone polygons (fields; path or GeoDataFrame, any CRS), their id column and layer:
        only pixels inside a zone are assessed, and ``per_zone`` summarises each.
    reference
        A raster whose grid both scenes are resampled onto (``--grid-like``).
    chunks, overwrite, progress, cog
        Chunk side for reading; replace existing outputs; a ``(done, total)`` callback of
        the map's writing; write Cloud Optimized GeoTIFFs.

    Returns
    -------
    ChangeResult
        ``outputs``, the lazy ``change`` Dataset, the ``per_zone`` table and ``timings``.

    Raises
    ------
    SceneError
        A threshold that is not negative, dates missing from a file and not given, dates
        not in order, ``mask_classes`` without ``map_path`` (or the other way round),
        ``per_zone`` without ``zones`` (all checked before any work).
    BandMismatchError
        An unknown index, one the sensor named in ``bands`` cannot give (NDRE on
        Landsat: no red-edge band), a role given to two bands, or bands whose roles it
        needs are not found.
    GridMismatchError
        Scenes (or the map) not on one pixel grid, or not overlapping.
    ZoneError, CRSError
        Zones that are empty, not polygons or without a CRS, no such ``zone_column``, a
        zone without an id (all checked before any work).
    ClassMapError
        A class of ``mask_classes`` the map does not have.
    OutputExistsError, OutputCollisionError, RasterclassIOError
        As for every job's output and input.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import rasterclass as rc
    >>> data = pathlib.Path(rc.__file__).parents[2] / "sample_data"
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> result = rc.change_map(data / "scene.tif", data / "scene_t2.tif", out / "change.tif",
    ...                        dates=["2024-06-12", "2024-07-03"], zones=data / "fields.gpkg",
    ...                        zone_column="field_id", per_zone=out / "damage.csv")
    >>> round(float(result.per_zone.loc[130, "damaged_share"]), 2)
    0.93
    """
    _check_values(threshold, index, bands, dates, mask_classes, map_path, zones, per_zone)
    check_writable(
        {"output": output, "difference": difference, "per_zone": per_zone},
        overwrite,
        inputs={"before": before, "after": after, "map": map_path, "zones file": zones},
        rasters=("output", "difference"),
    )
    t0 = time.perf_counter()
    frame = _zones(zones, zone_column, zones_layer)
    when = list(dates) if dates is not None else [read_date(before), read_date(after)]
    first, second = (open_scene(p, chunks=chunks, reference=reference) for p in (before, after))
    mask = _mask(first, mask_classes, map_path, frame, chunks)
    change = detect_change(
        first,
        second,
        when,
        index=index,
        threshold=threshold,
        mask=mask,
        bands=bands,
        scale=reflectance_scale,
    )
    result = ChangeResult(change=change)
    # the map and the difference layer in one pass over the scenes
    layers = [map_output(change, output)]
    if difference is not None:
        diff = change["difference"].rename(f"d{change.attrs['index']}")
        layers.append(
            RasterOutput(
                diff, difference, nodata=float("nan"), descriptions=[str(diff.name)],
                tags={
                    "RASTERCLASS_LAYERS": str(diff.name), "DATES": ",".join(change.attrs["dates"])
                },
                resampling="average",
            )
        )  # fmt: skip
    result.outputs += write_rasters(layers, overwrite=overwrite, progress=progress, cog=cog)
    t1 = time.perf_counter()
    result.timings["change map"] = t1 - t0
    if frame is not None:
        # from the layers just written where both are (reading a map and one float band
        # instead of both scenes again); else from the scenes
        written = _written(change, output, difference, chunks) if difference else change
        result.per_zone = damage_summary(written, frame, zone_column, chunks=chunks)
        if per_zone is not None:
            result.outputs.append(_write_per_zone(result.per_zone, per_zone, overwrite))
        result.timings["per zone"] = time.perf_counter() - t1
    logger.info("change map %s: %s", change.attrs["dates"], result.outputs)
    return result


def _written(
    change: xr.Dataset, output: PathLike, difference: PathLike, chunks: int | None
) -> xr.Dataset:
    """The change Dataset as written: classes (0 = nodata) and the difference, read back
    from ``output`` and ``difference``, with ``change``'s attributes."""
    codes = open_scene(output, chunks=chunks, unscale=False)[0]
    diff = open_scene(difference, chunks=chunks, unscale=False)[0]
    classes = codes.fillna(0).astype(change["classes"].dtype).drop_vars("band")
    out = xr.Dataset({"classes": classes, "difference": diff.drop_vars("band")})
    out.attrs = dict(change.attrs)
    return out


def _write_per_zone(table: Any, path: PathLike, overwrite: bool) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in PER_ZONE_TABLES:
        plain = pd.DataFrame(table.drop(columns=table.geometry.name))
        plain = csv_rounded(plain) if suffix == ".csv" else plain  # Parquet: full precision
        return write_table(plain, path, overwrite=overwrite)
    return write_vector(table.reset_index(), path, overwrite=overwrite)
