"""Zonal summaries of a class map: per zone (district, parcel, field) the valid area, the
area and share of each class, and the mean of extra layers (probability, NDVI...).

Owns :func:`zonal_summary` and its block statistics (the rasterization passes, the counts
and exact sums of each chunk, the table, the status and the notes);
:mod:`rasterclass.accuracy.zonal_inputs` reads and checks the map, zones and layers it is
given (:func:`read_zones`, :func:`split_layer` are re-exported here), and
:mod:`rasterclass.accuracy.zonal_report` renders its table as CSV, JSON or Markdown.

The rule is the pixel centre: a pixel belongs to a zone when its centre lies inside the
zone's polygon (GDAL's rasterization rule, :func:`rasterio.features.rasterize` with
``all_touched=False``; the rule training-pixel extraction uses too). The map is read chunk
by chunk; in each chunk the zones whose bounding boxes meet it are rasterized onto the
chunk's window (zone numbers as burn values) and the pixels counted per (zone, class) with
``np.unique``; the counts of all chunks are summed. Counts and areas are therefore exact and
the same for any chunking. Layer means are exact too: every value is split into its binary
exponent and integer significand, the significands are summed per (zone, exponent) as
integers in each chunk and the chunks' integer sums added, so the sum of a zone (then its
mean, rounded once) does not depend on how the pixels were grouped into chunks.

Overlapping zones are each counted on their own: zones whose interiors overlap are
rasterized in separate passes (a greedy colouring of the overlap graph, so zones that only
touch share a pass), so a pixel under two zones counts in both. Rows sharing one zone id
are one zone (their polygons are united). Zones are reprojected to the map's CRS; a zone
partly off the map is summarised over its part on the map, one wholly off it gets area 0;
the ``status`` column and the notes say which.

Why not exactextract or rasterstats: exactextract weights pixels by the fraction of their
area a polygon covers (not the centre rule asked here) and reads rasters itself through
GDAL, outside :mod:`rasterclass.io` and outside dask, so it cannot summarise a lazy map or
a layer computed in memory; rasterstats reads, for each feature, the window that feature
covers (a district covering the scene loads the scene), one feature after another, with no
chunking. Both would add a dependency for what one ``rasterize`` and one ``np.unique`` per
chunk do here, under any dask scheduler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

import dask
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine

from rasterclass.accuracy.assess import pixel_area_m2_of
from rasterclass.accuracy.exactsum import ExactSums, significand_sums
from rasterclass.accuracy.zonal_inputs import (
    LayerSpec,
    open_class_map,
    open_layer,
    read_zones,
)
from rasterclass.accuracy.zonal_inputs import (
    split_layer as split_layer,  # re-exported: rasterclass.jobs.zonal imports it from here
)
from rasterclass.classes import ClassMap
from rasterclass.io import PathLike, scene_grid
from rasterclass.parallel import compute_stream
from rasterclass.stack import Grid, rasterize_shapes

logger = logging.getLogger(__name__)

M2_PER_HA = 10_000.0
#: Pixel codes are packed with the zone number into one int64 key (zone << 32 | code).
_CODE_BITS = 32


class ZonalOptions(TypedDict, total=False):
    """The keywords of :func:`zonal_summary` after ``zone_column`` (meaning and defaults
    there), typed for ``**options: Unpack[ZonalOptions]`` where a job passes them on."""

    layers: Sequence[LayerSpec]
    zones_layer: str | None
    chunks: int | None
    progress: Callable[[int, int], None] | None


def zonal_summary(
    map_: PathLike | xr.DataArray,
    zones: Any,
    zone_column: str | None = None,
    *,
    layers: Sequence[LayerSpec] = (),
    zones_layer: str | None = None,
    chunks: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Area and share of each class, and layer means, per zone of a class map.

    Parameters
    ----------
    map_
        A class map file (0 = nodata), or a lazy ``(y, x)`` (or one-band) DataArray of
        codes with a CRS (0 or NaN = nodata; ``attrs["class_map"]`` names the classes).
    zones
        Polygons (path or GeoDataFrame) in any CRS; reprojected to the map's CRS.
    zone_column
        The zone id column (rows sharing an id are one zone). Default: the row number
        (1, 2, ...).
    layers
        Extra rasters on the map's grid whose mean per zone is wanted: paths (every band),
        ``"PATH:BAND"`` (a band name or its 1-based number), opened scenes, or
        ``(path or scene, band or list of bands)``. NaN and nodata are left out of the mean.
    zones_layer
        Layer of a multi-layer zones file.
    chunks
        Chunk side in pixels for reading (the result does not depend on it).
    progress
        Called with ``(chunks done, chunks in all)``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per zone (index: the zone id, named ``zone_column`` or ``"zone"``), the
        zones' attributes and geometry in their own CRS, then ``status`` (``"on the map"``,
        ``"partly off the map"``, ``"off the map"``, ``"no pixel centre"``,
        ``"no geometry"``), ``pixels``
        (pixel centres in the zone on the map, int64), ``valid_pixels`` (those with a
        class), ``valid_ha``, per class ``area_ha_<name>``, ``share_<name>`` (of the valid
        area, NaN without one) and ``pixels_<name>`` (int64), and per layer band
        ``mean_<layer>`` or ``mean_<layer>_<band>`` (float64). Hectares are NaN in a
        geographic CRS. ``attrs``: ``notes`` (list of str), ``classes`` (names),
        ``pixel_area_m2``, ``map``.

    Raises
    ------
    ZoneError
        No ``zone_column`` in the zones (the message lists the columns), zones that are not
        polygons, a layer off the map's grid or a band it does not have.
    CRSError
        The zones or the map have no CRS.
    RasterclassIOError
        A file does not exist or cannot be read.

    Notes
    -----
    The pixel-centre rule is GDAL's (``GDALRasterizeGeometries`` without ``ALL_TOUCHED``),
    as in rasterstats' default; exactextract's fractional coverage (Baston 2022) is not
    used (see the module's notes).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from rasterclass.datasets import example_map
    >>> map_path = example_map()  # 4 x 4 px of 10 m: forest (x 0-20 m), water (x 20-40 m)
    >>> zones = gpd.GeoDataFrame({"name": ["west", "middle"]},
    ...                          geometry=[box(0, 0, 20, 40), box(10, 0, 30, 40)],
    ...                          crs="EPSG:32633")
    >>> table = zonal_summary(map_path, zones, "name")
    >>> table[["valid_pixels", "area_ha_forest", "share_water"]]
            valid_pixels  area_ha_forest  share_water
    name
    west               8            0.08          0.0
    middle             8            0.04          0.5
    """
    scene, cmap = open_class_map(map_, chunks)
    grid = scene_grid(scene)
    frame, id_name = read_zones(zones, zone_column, zones_layer)
    local = frame.geometry.to_crs(grid.crs)
    bands = [open_layer(spec, i, grid, scene, chunks) for i, spec in enumerate(layers)]
    passes = _passes(local)
    tasks = _block_tasks(scene, bands, local, passes, grid.transform)
    n_zones, n_bands = len(frame), sum(b.sizes["band"] for b in bands)
    counts: dict[int, int] = {}
    sums = [ExactSums() for _ in range(n_bands)]
    valid = np.zeros((n_bands, n_zones), np.int64)
    for done, (part,) in enumerate(compute_stream([(t,) for t in tasks]), start=1):
        keys, n, zs, s, v = part
        for key, count in zip(keys.tolist(), n.tolist(), strict=True):
            counts[key] = counts.get(key, 0) + count
        for b, band_sums in enumerate(s):
            sums[b].add(zs, band_sums)
        valid[:, zs] += v
        if progress is not None:
            progress(done, len(tasks))
    pixel_area = pixel_area_m2_of(grid)
    classes = _classes(cmap, sorted({k & ((1 << _CODE_BITS) - 1) for k in counts}))
    table = _table(n_zones, counts, classes, pixel_area)
    for j, name in enumerate(_mean_names(bands)):
        with np.errstate(invalid="ignore", divide="ignore"):
            table[name] = sums[j].means(valid[j])
    table.insert(0, "status", _status(local, grid, table["pixels"].to_numpy()))
    clash = [c for c in frame.columns if c in table.columns]
    out = frame.rename(columns={c: f"{c}_zone" for c in clash}).join(table.set_axis(frame.index))
    out.index.name = id_name
    out.attrs = {
        "notes": _notes(out, passes, pixel_area),
        "classes": [name for _, name in classes],
        "pixel_area_m2": pixel_area,
        "map": os.fspath(map_) if isinstance(map_, str | os.PathLike) else None,
        "zone_column": zone_column,
    }
    for note in out.attrs["notes"]:
        logger.info("zonal summary: %s", note)
    return out


def _mean_names(bands: Sequence[xr.DataArray]) -> list[str]:
    names: list[str] = []
    for layer in bands:
        label = layer.attrs["label"]
        if layer.sizes["band"] == 1:
            names.append(f"mean_{label}")
        else:
            names += [f"mean_{label}_{b}" for b in layer["band"].values]
    return [n if names.count(n) == 1 else f"{n}_{i + 1}" for i, n in enumerate(names)]


def _passes(geoms: Any) -> list[int]:
    """The rasterization pass of each zone: zones whose interiors overlap never share one."""
    import shapely

    array = geoms.to_numpy()
    left, right = geoms.sindex.query(array, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    inner = shapely.relate_pattern(array[left], array[right], "T********")
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(left[inner].tolist(), right[inner].tolist(), strict=True):
        neighbours.setdefault(b, []).append(a)
    chosen: list[int] = []
    for i in range(len(array)):
        taken = {chosen[j] for j in neighbours.get(i, [])}
        chosen.append(next(k for k in range(len(taken) + 1) if k not in taken))
    return chosen


def _block_tasks(
    scene: xr.DataArray,
    bands: Sequence[xr.DataArray],
    geoms: Any,
    passes: Sequence[int],
    transform: Affine,
) -> list[Any]:
    """One delayed :func:`_block_stats` per chunk of the map, with the zones meeting it."""
    from shapely.geometry import box

    ys, xs = scene.data.chunks
    rows, cols = np.cumsum([0, *ys]), np.cumsum([0, *xs])
    blocks = scene.data.to_delayed()
    layer_blocks = [b.data.to_delayed() for b in bands]
    array = geoms.to_numpy()
    tasks = []
    for i in range(len(rows) - 1):
        for j in range(len(cols) - 1):
            window = transform @ Affine.translation(cols[j], rows[i])
            x0, y0 = window @ (0, 0)
            x1, y1 = window @ (cols[j + 1] - cols[j], rows[i + 1] - rows[i])
            hit = geoms.sindex.query(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
            shapes: dict[int, list[tuple[Any, int]]] = {}
            for z in sorted(hit.tolist()):
                shapes.setdefault(passes[z], []).append((array[z], z + 1))
            tasks.append(
                dask.delayed(_block_stats)(
                    blocks[i, j],
                    [lb[0, i, j] for lb in layer_blocks],
                    window,
                    [shapes[k] for k in sorted(shapes)],
                )
            )
    return tasks


def _block_stats(
    codes: np.ndarray,
    layers: Sequence[np.ndarray],
    window: Affine,
    passes: Sequence[Sequence[tuple[Any, int]]],
) -> tuple[Any, ...]:
    """Pixels per (zone, class code) key, and per zone the layers' sums and valid counts.

    Returns (keys, counts, zones, sums (bands, zones), valid (bands, zones)); code 0 is
    nodata; zones are 0-based numbers.
    """
    finite = np.isfinite(codes)
    code = np.where(finite, codes, 0).astype(np.int64)
    values = np.concatenate(layers) if layers else np.zeros((0, *codes.shape))
    keys, zone_ids, cells = [], [], []
    for shapes in passes:
        burnt = rasterize_shapes(shapes, codes.shape, window, dtype="int32")
        inside = burnt > 0
        zone = burnt[inside].astype(np.int64) - 1
        keys.append((zone << _CODE_BITS) | code[inside])
        zone_ids.append(zone)
        cells.append(values[:, inside])
    all_keys = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    key, count = np.unique(all_keys, return_counts=True)
    zone = np.concatenate(zone_ids) if zone_ids else np.zeros(0, np.int64)
    vals = np.concatenate(cells, axis=1) if cells else np.zeros((len(values), 0))
    zs, local = np.unique(zone, return_inverse=True)
    ok = np.isfinite(vals)
    valid = np.zeros((len(vals), len(zs)), np.int64)
    sums = []
    for b in range(len(vals)):
        sums.append(significand_sums(vals[b][ok[b]], local[ok[b]]))
        valid[b] = np.bincount(local[ok[b]], minlength=len(zs))
    return key, count, zs, sums, valid


def _classes(cmap: ClassMap | None, codes_found: Sequence[int]) -> list[tuple[int, str]]:
    """(code, name) of the table's classes: the map's legend, then codes it does not name."""
    pairs = list(zip(cmap.codes, cmap.names, strict=True)) if cmap is not None else []
    known = {c for c, _ in pairs}
    pairs += [(c, f"class {c}") for c in sorted(set(codes_found)) if c > 0 and c not in known]
    return pairs


def _table(
    n_zones: int, counts: dict[int, int], classes: Sequence[tuple[int, str]], pixel_area: Any
) -> pd.DataFrame:
    """Pixels, valid area and per-class area, share and pixels of every zone (row = zone
    number)."""
    keys = np.fromiter(counts, np.int64, len(counts))
    n = np.fromiter(counts.values(), np.int64, len(counts))
    zone, code = keys >> _CODE_BITS, keys & ((1 << _CODE_BITS) - 1)
    pixels = np.bincount(zone, n, n_zones).astype(np.int64)
    per_class = {
        name: np.bincount(zone[code == c], n[code == c], n_zones).astype(np.int64)
        for c, name in classes
    }
    valid = np.bincount(zone[code > 0], n[code > 0], n_zones).astype(np.int64)
    ha = (pixel_area or np.nan) / M2_PER_HA
    cols: dict[str, Any] = {"pixels": pixels, "valid_pixels": valid, "valid_ha": valid * ha}
    with np.errstate(invalid="ignore", divide="ignore"):
        cols |= {f"area_ha_{name}": p * ha for name, p in per_class.items()}
        cols |= {
            f"share_{name}": np.where(valid > 0, p / valid, np.nan) for name, p in per_class.items()
        }
    cols |= {f"pixels_{name}": p for name, p in per_class.items()}
    return pd.DataFrame(cols)


def _status(geoms: Any, grid: Grid, pixels: np.ndarray) -> np.ndarray:
    """Where each zone lies: on the map, partly or wholly off it, or over no pixel centre."""
    from shapely.geometry import box

    extent = box(*grid.bounds)
    empty = (geoms.isna() | geoms.is_empty).to_numpy()
    within = geoms.within(extent).to_numpy() & ~empty
    meets = geoms.intersects(extent).to_numpy() & ~empty
    status = np.where(within, "on the map", np.where(meets, "partly off the map", "off the map"))
    status = np.where(meets & (pixels == 0), "no pixel centre", status)
    return np.where(empty, "no geometry", status)


def _notes(table: Any, passes: Sequence[int], pixel_area: Any) -> list[str]:
    notes = []
    for status, what in (
        ("off the map", "lie wholly off the map (area 0)"),
        ("partly off the map", "lie partly off the map (only their part on it is counted)"),
        ("no pixel centre", "contain no pixel centre (area 0; smaller than a pixel?)"),
        ("no geometry", "have an empty geometry (area 0)"),
    ):
        ids = table.index[table["status"] == status].tolist()
        if ids:
            shown = ", ".join(str(i) for i in ids[:10]) + (", ..." if len(ids) > 10 else "")
            notes.append(f"{len(ids)} zones {what}: {shown}")
    if max(passes, default=0) > 0:
        notes.append(
            "some zones overlap: each is counted on its own (a pixel under two zones counts "
            "in both)"
        )
    if pixel_area is None:
        notes.append("the map's CRS is not projected: areas in pixels only")
    return notes
