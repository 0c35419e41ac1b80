"""The raster sections of a run report: the map and its class areas, the uncertainty and the
area-of-applicability layers (numbers, and small previews for the figures).

Every statistic is one chunked reduction over the lazy layer (a bincount of class codes, sums
and histograms of the uncertainty bands), computed in one pass per file, so a map of any
size is summarised in bounded memory. Previews are read decimated (never the whole file).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import dask
import dask.array as da
import numpy as np

from rasterclass.classes import ClassMap
from rasterclass.errors import RasterclassIOError, param
from rasterclass.io import (
    PathLike,
    checked_class_codes,
    open_scene,
    read_class_map,
    read_map_tags,
    read_quicklook,
)

M2_PER_HA = 10_000.0
#: Side, in pixels, of the previews drawn in the report.
PREVIEW_SIZE = 600
SMALL_PREVIEW_SIZE = 300
#: Margins below which a pixel counts as uncertain, in the uncertainty summary.
MARGIN_THRESHOLDS = (0.1, 0.25, 0.5)
HISTOGRAM_BINS = 20
UNCERTAINTY_BANDS = ("margin", "entropy")
AOA_BANDS = ("dissimilarity_index", "aoa")
AOA_THRESHOLD_TAG = "AOA_THRESHOLD"


def _hex(rgba: tuple[int, ...]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgba[:3])


def map_section(map_path: PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """The map's grid, classes and mapped areas, and its preview.

    Parameters
    ----------
    map_path
        A class map GeoTIFF (0 = nodata), class names from the file when it has them.

    Returns
    -------
    tuple of dict
        The section (``path``, ``crs``, ``width``, ``height``, ``pixel_size``,
        ``pixel_area_m2`` (None without a projected CRS in metres), ``classes``: ``code``,
        ``name``, ``color``, ``pixels``, ``area_ha``, ``share`` of the mapped pixels;
        ``mapped_pixels``, ``nodata_pixels``, ``other_pixels`` (codes not in the class
        map)), and the preview (``classes`` array, ``extent``, ``map``: the ClassMap).

    Raises
    ------
    RasterclassIOError
        The file does not exist or cannot be read.
    ClassMapError
        The map holds values that are no class code (e.g. an undeclared nodata of -9999).

    Examples
    --------
    >>> from rasterclass.datasets import example_map
    >>> section, preview = map_section(example_map())  # 4 x 4 px of 10 m
    >>> section["mapped_pixels"], section["pixel_area_m2"], preview["classes"].shape
    (16, 100.0, (4, 4))
    """
    scene = checked_class_codes(open_scene(map_path, unscale=False), map_path)
    class_map = read_class_map(map_path)
    values = scene.data[0]
    codes = da.where(da.isnan(values), 0, values).astype(np.int64)
    top = max(class_map.codes) if class_map is not None else int(codes.max().compute())
    clipped = da.where((codes < 0) | (codes > top), top + 1, codes)
    (counts,) = dask.compute(da.bincount(clipped.ravel(), minlength=top + 2))
    if class_map is None:  # a map of another tool: its codes, default names and colours
        class_map = ClassMap.from_codes([c for c in range(1, top + 1) if counts[c]] or [1])
    transform = scene.rio.transform()
    crs = scene.rio.crs
    metres = (
        crs is not None
        and crs.is_projected
        and (crs.linear_units or "").lower()
        in (
            "metre",
            "meter",
            "m",
        )
    )
    pixel_area = abs(transform.a * transform.e - transform.b * transform.d) if metres else None
    mapped = int(sum(int(counts[c]) for c in class_map.codes))
    classes = []
    for code, name, color in zip(class_map.codes, class_map.names, class_map.colors, strict=True):
        pixels = int(counts[code])
        classes.append(
            {
                "code": int(code),
                "name": str(name),
                "color": _hex(color),
                "pixels": pixels,
                "area_ha": pixels * pixel_area / M2_PER_HA if pixel_area else None,
                "share": pixels / mapped if mapped else None,
            }
        )
    section = {
        "path": str(map_path),
        "crs": crs.to_string() if crs is not None else None,
        "width": int(scene.sizes["x"]),
        "height": int(scene.sizes["y"]),
        "pixel_size": [abs(transform.a), abs(transform.e)],
        "pixel_area_m2": pixel_area,
        "classes": classes,
        "mapped_pixels": mapped,
        "nodata_pixels": int(counts[0]),
        "other_pixels": int(counts[top + 1]),
    }
    preview, ptransform = read_quicklook(map_path, PREVIEW_SIZE)
    return section, {"classes": preview, "extent": _extent(preview, ptransform), "map": class_map}


def _extent(array: np.ndarray, transform: Any) -> tuple[float, float, float, float]:
    h, w = array.shape[-2:]
    return (transform.c, transform.c + transform.a * w, transform.f + transform.e * h, transform.f)


def _bands(path: PathLike, wanted: tuple[str, ...], option: str) -> Any:
    """The lazy layer of ``path`` whose bands are described ``wanted`` (in that order)."""
    layer = open_scene(path)
    names = [str(b) for b in layer.coords["band"].values]
    missing = [b for b in wanted if b not in names]
    if missing:
        raise RasterclassIOError(
            f"{path} has no band described {missing[0]!r} (its bands: {names}); give "
            f"{param(option)} the file that `rasterclass predict --{option} FILE` writes"
        )
    return layer, [names.index(b) + 1 for b in wanted]


def _band_stats(values: Any) -> dict[str, Any]:
    """Lazy reductions of one band: count of valid pixels, sum, min and max."""
    valid = ~da.isnan(values)
    return {
        "count": valid.sum(),
        "sum": da.where(valid, values, 0).sum(),
        "min": da.nanmin(values),
        "max": da.nanmax(values),
    }


def uncertainty_section(path: PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """Summary of an uncertainty layer (bands ``margin`` and ``entropy``, NaN nodata).

    Returns
    -------
    tuple of dict
        Per band ``mean``, ``min``, ``max``, ``valid_pixels`` and a ``histogram`` (counts in
        :data:`HISTOGRAM_BINS` bins on [0, 1]); for the margin the share of valid pixels
        below each of :data:`MARGIN_THRESHOLDS`. Previews of both bands.

    Raises
    ------
    RasterclassIOError
        The file does not exist, cannot be read, or lacks a band.
    """
    layer, index = _bands(path, UNCERTAINTY_BANDS, "uncertainty")
    lazy: dict[str, Any] = {}
    for name, i in zip(UNCERTAINTY_BANDS, index, strict=True):
        values = layer.data[i - 1]
        stats = _band_stats(values)
        stats["histogram"] = da.histogram(
            da.where(da.isnan(values), -1, values), bins=HISTOGRAM_BINS, range=(0, 1)
        )[0]
        if name == "margin":
            for t in MARGIN_THRESHOLDS:
                stats[f"below_{t}"] = (values < t).sum()
        lazy[name] = stats
    (done,) = dask.compute(lazy)
    section: dict[str, Any] = {"path": str(path), "bands": {}}
    for name, stats in done.items():
        count = int(stats["count"])
        entry: dict[str, Any] = {
            "valid_pixels": count,
            "mean": float(stats["sum"]) / count if count else None,
            "min": _finite(stats["min"]),
            "max": _finite(stats["max"]),
            "histogram": [int(v) for v in stats["histogram"]],
        }
        if name == "margin":
            entry["share_below"] = {
                str(t): int(stats[f"below_{t}"]) / count if count else None
                for t in MARGIN_THRESHOLDS
            }
        section["bands"][name] = entry
    previews = {
        name: read_quicklook(path, SMALL_PREVIEW_SIZE, band=i)[0]
        for name, i in zip(UNCERTAINTY_BANDS, index, strict=True)
    }
    return section, previews


def aoa_section(path: PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """Summary of an area-of-applicability layer (bands ``dissimilarity_index`` and ``aoa``:
    1 inside, 0 outside; NaN nodata; tag ``AOA_THRESHOLD``).

    Returns
    -------
    tuple of dict
        ``threshold`` (from the tag, None when absent), ``valid_pixels``, ``inside_pixels``,
        ``inside_share``, ``outside_share`` and the dissimilarity index's ``mean``, ``max``;
        previews of both bands.

    Raises
    ------
    RasterclassIOError
        The file does not exist, cannot be read, or lacks a band.
    """
    layer, index = _bands(path, AOA_BANDS, "aoa")
    di, inside = layer.data[index[0] - 1], layer.data[index[1] - 1]
    lazy = {
        "di": _band_stats(di),
        "inside": (inside == 1).sum(),
        "valid": (~da.isnan(inside)).sum(),
    }
    (done,) = dask.compute(lazy)
    valid, n_inside = int(done["valid"]), int(done["inside"])
    threshold = read_map_tags(path).get(AOA_THRESHOLD_TAG)
    count = int(done["di"]["count"])
    section = {
        "path": str(path),
        "threshold": float(threshold) if threshold not in (None, "") else None,
        "valid_pixels": valid,
        "inside_pixels": n_inside,
        "inside_share": n_inside / valid if valid else None,
        "outside_share": (valid - n_inside) / valid if valid else None,
        "dissimilarity_index": {
            "mean": float(done["di"]["sum"]) / count if count else None,
            "max": _finite(done["di"]["max"]),
        },
    }
    previews = {
        name: read_quicklook(path, SMALL_PREVIEW_SIZE, band=i)[0]
        for name, i in zip(AOA_BANDS, index, strict=True)
    }
    return section, previews


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def areas_section(
    mapped: dict[str, Any],
    accuracy: Mapping[str, Any] | None,
    areas: Any,
) -> dict[str, Any]:
    """Class areas: mapped (from the map), and error-adjusted with 95 % intervals where an
    area table (``--areas``) or the accuracy report's design-based estimate has them.

    ``areas`` is the JSON of an area table: a list of per-class records, or a dict with
    them under ``"classes"``; a record names its class (``class``, ``name`` or
    ``class_name``) and gives the adjusted area in hectares as ``{"value", "se", "ci_low",
    "ci_high"}`` under ``adjusted_area_ha``, ``area_ha_adjusted``, ``adjusted_ha`` or
    ``area_ha`` (a number with ``<key>_se``, ``<key>_ci_low``, ``<key>_ci_high`` siblings
    works too).

    Examples
    --------
    >>> mapped = {"pixel_area_m2": 100.0, "classes": [{"name": "water", "area_ha": 1.0}]}
    >>> table = [{"class": "water", "adjusted_area_ha": {"value": 1.2, "ci_low": 1.0,
    ...                                                  "ci_high": 1.4}}]
    >>> areas_section(mapped, None, table)["classes"][0]["adjusted_ha"]["value"]
    1.2
    """
    adjusted: dict[str, dict[str, Any]] = {}
    source = None
    if accuracy and accuracy.get("design_based"):
        for c in accuracy["design_based"]["classes"]:
            if c.get("area_ha"):
                adjusted[c["name"]] = c["area_ha"]
        source = "accuracy report (design-based estimate)" if adjusted else None
    if areas is not None:
        found = _adjusted_from_table(areas)
        if found:
            adjusted, source = found, "area table"
    rows = []
    for c in mapped["classes"]:
        rows.append({**c, "adjusted_ha": adjusted.get(c["name"])})
    return {
        "unit": "ha" if mapped["pixel_area_m2"] else "pixels",
        "adjusted_source": source,
        "classes": rows,
    }


_ADJUSTED_KEYS = ("adjusted_area_ha", "area_ha_adjusted", "adjusted_ha", "area_ha")


def _adjusted_from_table(table: Any) -> dict[str, dict[str, Any]]:
    records = table.get("classes", []) if isinstance(table, dict) else table
    out: dict[str, dict[str, Any]] = {}
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict):
            continue
        name = record.get("class", record.get("name", record.get("class_name")))
        for key in _ADJUSTED_KEYS:
            value = record.get(key)
            if isinstance(value, dict) and "value" in value:
                out[str(name)] = {k: value.get(k) for k in ("value", "se", "ci_low", "ci_high")}
                break
            if isinstance(value, int | float) and f"{key}_se" in record:
                out[str(name)] = {
                    "value": float(value),
                    "se": record.get(f"{key}_se"),
                    "ci_low": record.get(f"{key}_ci_low"),
                    "ci_high": record.get(f"{key}_ci_high"),
                }
                break
    return out
