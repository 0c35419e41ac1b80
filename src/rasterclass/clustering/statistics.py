"""Per-cluster statistics: mean spectrum, standard deviation, pixel count and area.

This module owns :func:`cluster_statistics`, which reduces partial sums (count, mean and sum
of squared deviations per class and band, combined with Chan's parallel formula) of fixed
1024 px blocks (:func:`rasterclass.io.summary_blocks`), so nothing larger than a block is in
memory and the result does not change in its last bits with the chunks; the pixel-area
helper; and the CSV / JSON rendering and writing of the statistics table
(:func:`statistics_text`, :func:`write_statistics`).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.classes import ClassMap
from rasterclass.errors import ClassMapError
from rasterclass.io import PathLike, as_scene, summary_blocks, table_format, write_text
from rasterclass.sampling.pixels import as_scene_array, block_origins

logger = logging.getLogger(__name__)


def _stats_block(block: np.ndarray, labels: np.ndarray, n_codes: int) -> np.ndarray:
    """Per-code count, mean and sum of squared deviations (M2) of one block.

    Returns float64 (n_codes, 1 + 2 * bands): count, means, M2. Pixels with code 0, a code
    beyond ``n_codes - 1`` or NaN in any band are left out.
    """
    n_bands = block.shape[0]
    pixels = block.reshape(n_bands, -1)
    lab = labels.reshape(-1).astype(np.int64)
    ok = (lab > 0) & (lab < n_codes) & np.isfinite(pixels).all(axis=0)
    lab = lab[ok]
    values = pixels[:, ok].astype(np.float64)
    out = np.zeros((n_codes, 1 + 2 * n_bands), dtype=np.float64)
    count = np.bincount(lab, minlength=n_codes).astype(np.float64)
    out[:, 0] = count
    safe = np.maximum(count, 1.0)
    for f in range(n_bands):
        mean = np.bincount(lab, weights=values[f], minlength=n_codes) / safe
        dev = values[f] - mean[lab]
        out[:, 1 + f] = mean
        out[:, 1 + n_bands + f] = np.bincount(lab, weights=dev * dev, minlength=n_codes)
    return out


def _combine_stats(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chan et al.'s pairwise combination of (count, mean, M2) partials."""
    n_bands = (a.shape[1] - 1) // 2
    na, nb = a[:, :1], b[:, :1]
    n = na + nb
    safe = np.maximum(n, 1.0)
    delta = b[:, 1 : 1 + n_bands] - a[:, 1 : 1 + n_bands]
    out = np.empty_like(a)
    out[:, :1] = n
    out[:, 1 : 1 + n_bands] = a[:, 1 : 1 + n_bands] + delta * (nb / safe)
    out[:, 1 + n_bands :] = a[:, 1 + n_bands :] + b[:, 1 + n_bands :] + delta**2 * (na * nb / safe)
    return out


def _area_factor(scene: xr.DataArray) -> tuple[float, float | None, str]:
    """(pixel area in squared CRS units, factor to hectares or None, unit name)."""
    transform = scene.rio.transform(recalc=True)
    pixel_area = abs(transform.a * transform.e - transform.b * transform.d)
    crs = scene.rio.crs
    if crs is None or crs.is_geographic:
        return pixel_area, None, "degree" if crs is not None else "unknown"
    try:
        unit, to_metre = crs.linear_units_factor
    except Exception:  # rasterio raises CRSError for CRSs without linear units
        return pixel_area, None, "unknown"
    return pixel_area, to_metre**2 / 10_000.0, str(unit)


def cluster_statistics(
    scene: xr.DataArray, classes: xr.DataArray, class_map: ClassMap
) -> pd.DataFrame:
    """Mean spectrum, standard deviation, pixel count and area of every class, chunk by chunk.

    Each block of a fixed 1024 px grid contributes per-code counts, means and sums of
    squared deviations (bincount); the partials are combined in block order with Chan's
    parallel formula (Chan, Golub & LeVeque 1979), so nothing larger than a block is in
    memory and the result is the same, to the last bit, for any chunking of the scene or the
    map, in memory or lazy.

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene the map was made from (lazy or in memory).
    classes
        ``(y, x)`` integer class codes on the scene's grid (e.g. ``predict_raster(...)
        ["classes"]``; a numpy or dask array works too); 0 is nodata.
    class_map
        The classes to report (one row each, in its order).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``color``, ``pixels``, ``share`` (of the classified pixels),
        ``area`` (squared CRS units), ``area_ha`` (NaN when the CRS has no linear unit), then
        ``mean_<band>`` and ``std_<band>`` (population standard deviation) per band. Classes
        without pixels have NaN means and standard deviations. ``attrs`` hold
        ``pixel_area``, ``area_unit`` and ``band_names``.

    Raises
    ------
    ClassMapError
        ``classes`` and ``scene`` differ in size, or ``classes`` is not 2-D.
    SceneError
        ``scene`` is not a ``(band, y, x)`` raster array.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scene = xr.DataArray(np.array([[[1, 2], [3, 5]]], dtype="f4"), dims=("band", "y", "x"),
    ...                      coords={"band": ["b1"]})
    >>> classes = xr.DataArray(np.array([[1, 1], [2, 0]], dtype="u1"), dims=("y", "x"))
    >>> stats = cluster_statistics(scene, classes, ClassMap.from_codes([1, 2]))
    >>> stats["pixels"].tolist(), stats["mean_b1"].tolist(), stats["std_b1"].tolist()
    ([2, 1], [1.5, 3.0], [0.5, 0.0])
    """
    scene = as_scene(scene)
    data = as_scene_array(scene)
    band_names = [str(b) for b in scene["band"].values]
    n_bands = len(band_names)
    n_codes = max(class_map.codes) + 1
    if not isinstance(classes, xr.DataArray):  # a numpy or dask array of (y, x) codes
        if np.ndim(classes) != 2:
            raise ClassMapError(
                f"classes are a (y, x) array of codes, got {np.ndim(classes)} dimensions"
            )
        classes = xr.DataArray(classes, dims=("y", "x"))
    if classes.dims != ("y", "x"):
        classes = classes.transpose("y", "x")
    if tuple(classes.shape) != tuple(data.shape[1:]):
        raise ClassMapError(
            f"the class map ({classes.shape}) and the scene ({data.shape[1:]}) differ in size; "
            "pass the map made from this scene"
        )
    # Summed in fixed blocks, not in the chunks: the same last bits for any chunking, and
    # for an in-memory scene (the numpy oracle) too.
    blocks = summary_blocks(data.shape[1], data.shape[2])
    data = da.asarray(data).rechunk((n_bands, *blocks))
    labels = da.asarray(classes.data).rechunk(blocks)
    scene_blocks, label_blocks = data.to_delayed(), labels.to_delayed()
    parts = [
        dask.delayed(_stats_block)(scene_blocks[0, i, j], label_blocks[i, j], n_codes)
        for i, j, _, _ in block_origins(data)
    ]
    partials = dask.compute(*parts)
    total = partials[0]
    for part in partials[1:]:
        total = _combine_stats(total, part)
    codes = np.asarray(class_map.codes)
    rows = total[codes]
    counts = rows[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts[:, None] > 0, rows[:, 1 : 1 + n_bands], np.nan)
        stds = np.sqrt(rows[:, 1 + n_bands :] / counts[:, None])
    pixel_area, to_ha, unit = _area_factor(scene)
    n_total = counts.sum()
    frame = pd.DataFrame(
        {
            "code": codes.astype(np.int64),
            "name": list(class_map.names),
            "color": class_map.hex_colors(),
            "pixels": counts.astype(np.int64),
            "share": counts / n_total if n_total else np.zeros_like(counts),
            "area": counts * pixel_area,
            "area_ha": counts * pixel_area * to_ha if to_ha is not None else np.nan,
        }
    )
    for f, band in enumerate(band_names):
        frame[f"mean_{band}"] = means[:, f]
    for f, band in enumerate(band_names):
        frame[f"std_{band}"] = stds[:, f]
    frame.attrs.update(
        {"pixel_area": float(pixel_area), "area_unit": f"{unit}^2", "band_names": band_names}
    )
    logger.info("statistics of %d classes over %d classified pixels", len(class_map), int(n_total))
    return frame


def _clean_number(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def statistics_text(stats: pd.DataFrame, fmt: str = "csv") -> str:
    """Render cluster statistics as CSV, or JSON (``{"pixel_area", "area_unit", "bands",
    "clusters": [one flat record per cluster]}``, NaN as null)."""
    if fmt == "csv":
        return stats.to_csv(index=False, float_format="%.10g")
    records = [
        {k: _clean_number(v) for k, v in rec.items()} for rec in stats.to_dict(orient="records")
    ]
    payload = {
        "pixel_area": stats.attrs.get("pixel_area"),
        "area_unit": stats.attrs.get("area_unit"),
        "bands": stats.attrs.get("band_names"),
        "clusters": records,
    }
    return json.dumps(payload, indent=2, allow_nan=False) + "\n"


def write_statistics(stats: pd.DataFrame, path: PathLike, *, overwrite: bool = False) -> str:
    """Write statistics as CSV or JSON, chosen by the extension (``.csv`` / ``.json``)."""
    return write_text(path, statistics_text(stats, table_format(path)), overwrite=overwrite)
