"""Radiometry: how each band of a scene was stored, and whether another scene stores it alike.

A scene opened by :func:`~rasterclass.io.open_scene` keeps one record per band (dtype,
scale, offset, nodata: :func:`radiometry_records`) in its ``radiometry`` attribute
(:func:`scene_radiometry`), renamed with its bands (:func:`rename_bands`: dates aligned or
stacked, bands named by role); a model trained on it keeps the records, and
:func:`check_radiometry` warns (:class:`~rasterclass.errors.RadiometryWarning`) when the model
is applied to a scene stored differently: scale and offset are applied on read, so a DN
scene without scale metadata would otherwise be classified as if it held reflectance.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from rasterclass.errors import RadiometryWarning

#: Scene attribute holding how each band is stored (JSON list of records).
RADIOMETRY_ATTR = "radiometry"


def radiometry_records(
    names: Sequence[str],
    dtypes: Sequence[str],
    scales: Sequence[float],
    offsets: Sequence[float],
    nodatas: Sequence[float | None],
) -> list[dict[str, Any]]:
    """One record per band of how its values are stored: ``band``, ``dtype``, ``scale``,
    ``offset``, ``nodata`` (None when there is none, or NaN)."""
    out = []
    for name, dtype, scale, offset, nd in zip(names, dtypes, scales, offsets, nodatas, strict=True):
        nodata_value = None if nd is None or math.isnan(float(nd)) else float(nd)
        out.append(
            {
                "band": str(name),
                "dtype": str(np.dtype(dtype).name),
                "scale": float(scale),
                "offset": float(offset),
                "nodata": nodata_value,
            }
        )
    return out


def scene_radiometry(scene: xr.DataArray) -> list[dict[str, Any]] | None:
    """The radiometry records of a scene (see :func:`~rasterclass.io.open_scene`), or None."""
    value = scene.attrs.get(RADIOMETRY_ATTR)
    if value is None:
        return None
    try:
        records = json.loads(value) if isinstance(value, str) else list(value)
    except (TypeError, ValueError):
        return None
    return [dict(r) for r in records] if isinstance(records, list) else None


def rename_bands(scene: xr.DataArray, names: Sequence[Any]) -> xr.DataArray:
    """``scene`` with its bands renamed to ``names`` (in order), radiometry records included.

    Use it instead of ``scene.assign_coords(band=names)``, which leaves the records under the
    old names, where :func:`check_radiometry` no longer finds them.

    Examples
    --------
    >>> scene = xr.DataArray(np.zeros((1, 1, 1), "f4"), dims=("band", "y", "x"),
    ...     coords={"band": ["nir@2021-06-01"]}, attrs={RADIOMETRY_ATTR: json.dumps(
    ...         radiometry_records(["nir@2021-06-01"], ["uint16"], [1e-4], [0.0], [0]))})
    >>> scene_radiometry(rename_bands(scene, ["nir@2020-06-03"]))[0]["band"]
    'nir@2020-06-03'
    """
    old = [str(b) for b in scene["band"].values] if "band" in scene.coords else []
    out = scene.assign_coords(band=list(names))
    records = scene_radiometry(scene)
    if records is not None and old:
        renamed = dict(zip(old, (str(n) for n in names), strict=True))
        for rec in records:
            rec["band"] = renamed.get(str(rec.get("band")), rec.get("band"))
        out.attrs[RADIOMETRY_ATTR] = json.dumps(records)
    return out


def band_records(scene: xr.DataArray) -> dict[str, dict[str, Any]]:
    """The radiometry record of every band of ``scene``, by band name.

    Records are matched to bands by name; when some name has no record but there is one
    record per band (bands renamed without :func:`rename_bands`), by position.
    """
    records = scene_radiometry(scene) or []
    names = [str(b) for b in scene["band"].values] if "band" in scene.coords else []
    by_name = {str(r.get("band")): r for r in records}
    if all(n in by_name for n in names) or len(records) != len(names):
        return by_name
    return dict(zip(names, records, strict=True))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "none" if key == "nodata" else "unknown"
    return f"{value:g}" if isinstance(value, float) else str(value)


def radiometry_differences(
    trained: list[dict[str, Any]] | None,
    scene: list[dict[str, Any]] | None,
    band_names: list[str],
) -> list[str]:
    """Per band, how a scene's storage (dtype, scale, offset, nodata) differs from the
    training scene's; bands compared in the model's order (the scene's bands matched)."""
    if not trained or not scene or len(trained) != len(scene):
        return []
    lines = []
    for name, then, now in zip(band_names, trained, scene, strict=True):
        diffs = [
            f"{key} {_fmt(key, now.get(key))} (training: {_fmt(key, then.get(key))})"
            for key in ("dtype", "scale", "offset", "nodata")
            if not _same(then.get(key), now.get(key))
        ]
        if diffs:
            lines.append(f"{name}: " + ", ".join(diffs))
    return lines


def check_radiometry(
    trained: list[dict[str, Any]] | None,
    scene: xr.DataArray,
    bands: Sequence[Any],
    names: Sequence[Any] | None = None,
) -> None:
    """Warn when ``scene`` stores its ``bands`` differently from the training scene.

    Parameters
    ----------
    trained
        The training scene's records (``RasterModel.radiometry``), in the order of ``bands``;
        None (an old model file): nothing is checked.
    scene
        The scene the model is applied to (its ``radiometry`` attribute: from the files'
        metadata, or from the dtype and encoding of an array given to
        :func:`~rasterclass.io.as_scene`); a scene without records for ``bands`` is not
        checked.
    bands
        The scene's bands the model reads, in the order of ``trained``: a pixel model's
        matched input bands, an object-based model's segmented bands.
    names
        How the bands are named in the message (default: ``bands``).

    Warns
    -----
    RadiometryWarning
        Naming each band whose dtype, scale, offset or nodata differs, with both values.

    Examples
    --------
    >>> import warnings, numpy as np, xarray as xr
    >>> trained = radiometry_records(["red"], ["uint16"], [1e-4], [0.0], [0])
    >>> scene = xr.DataArray(np.zeros((1, 1, 1), "f4"), dims=("band", "y", "x"),
    ...     coords={"band": ["red"]},
    ...     attrs={RADIOMETRY_ATTR: json.dumps(radiometry_records(["red"], ["uint16"], [1.0],
    ...                                                           [0.0], [0]))})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_radiometry(trained, scene, ["red"])
    >>> "red: scale 1 (training: 0.0001)" in str(caught[0].message)
    True
    """
    records = band_records(scene)
    ordered = [records.get(str(b)) for b in bands]
    if any(r is None for r in ordered):
        return
    shown = [str(n) for n in (bands if names is None else names)]
    lines = radiometry_differences(trained, ordered, shown)  # type: ignore[arg-type]
    if not lines:
        return
    text = "; ".join(lines[:4]) + (f"; and {len(lines) - 4} more bands" if len(lines) > 4 else "")
    warnings.warn(
        f"the scene is stored differently from the scene the model was trained on (band "
        f"{text}); scale and offset are applied on read, so the map is right only if both "
        "scenes hold the same quantity (e.g. surface reflectance): check the files' scale/"
        "offset metadata (gdalinfo; set it with gdal_edit.py -scale/-offset) and processing "
        "level",
        RadiometryWarning,
        stacklevel=3,
    )
