"""Zonal summaries of a class map: per zone (district, parcel, field) the valid area, the
area and share of each class, and the mean of extra layers (probability, NDVI...).

Owns :func:`zonal_summary`; :mod:`rasterclass.accuracy.zonal_report` renders its table as
CSV, JSON or Markdown.

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

from rasterclass.accuracy.assess import open_map, pixel_area_m2_of
from rasterclass.accuracy.exactsum import ExactSums, significand_sums
from rasterclass.classes import ClassMap
from rasterclass.errors import CRSError, ZoneError, param
from rasterclass.io import PathLike, open_scene, read_vector, scene_grid
from rasterclass.parallel import compute_stream
from rasterclass.stack import Grid, rasterize_shapes

logger = logging.getLogger(__name__)

M2_PER_HA = 10_000.0
#: Pixel codes are packed with the zone number into one int64 key (zone << 32 | code).
_CODE_BITS = 32

#: A layer: a path, ``"PATH:BAND"`` (a band name or 1-based number), an opened scene
#: ``(band, y, x)`` or ``(y, x)``, or ``(path or scene, band or bands)``.
LayerSpec = PathLike | xr.DataArray | tuple[Any, Any]


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
    scene, cmap = _open_class_map(map_, chunks)
    grid = scene_grid(scene)
    frame, id_name = read_zones(zones, zone_column, zones_layer)
    local = frame.geometry.to_crs(grid.crs)
    bands = [_open_layer(spec, i, grid, scene, chunks) for i, spec in enumerate(layers)]
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


def _open_class_map(map_: Any, chunks: int | None) -> tuple[xr.DataArray, ClassMap | None]:
    """The map as a lazy ``(y, x)`` array of codes (NaN = nodata) and its classes."""
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
    written); :func:`zonal_summary` calls it again on what it is given.

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


def _open_layer(
    spec: Any, position: int, grid: Grid, like: xr.DataArray, chunks: int | None
) -> xr.DataArray:
    """A layer as a lazy ``(band, y, x)`` float array chunked as the map, its bands chosen;
    ``attrs["label"]`` names it in the columns."""
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
    """A layer given to :func:`zonal_summary` as (source, chosen bands or None).

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
