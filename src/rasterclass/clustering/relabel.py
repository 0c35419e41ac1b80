"""Turning clusters into classes with a label table.

This module owns the label rules: reading a cluster -> class table (clusters by code or by
name, optional class codes and colours, with errors for unknown, blank or conflicting rows),
building the new class map, :func:`relabel` itself (clusters sharing a class are merged
through one lookup table) and the class map a table implies when a cluster map carries no
class names (:func:`class_map_from_table`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.apply import recode
from rasterclass.classes import ClassMap, parse_colour
from rasterclass.errors import ClassMapError, param

logger = logging.getLogger(__name__)


def columns_by_name(table: pd.DataFrame) -> dict[str, str]:
    return {str(c).strip().lower(): c for c in table.columns}


def _cluster_code(value: Any, class_map: ClassMap) -> int | None:
    """Code of a cluster given by code (3, "3") or by name ("cluster 3"); None if unknown."""
    if isinstance(value, str):
        text = value.strip()
        lowered = {n.lower(): c for c, n in zip(class_map.codes, class_map.names, strict=True)}
        if text.lower() in lowered:
            return lowered[text.lower()]
        try:
            value = float(text)
        except ValueError:
            return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer | float | np.floating) and float(value).is_integer():
        code = int(value)
        return code if code in class_map.codes else None
    return None


def label_frame(table: pd.DataFrame | Mapping[Any, Any]) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    return pd.DataFrame({"cluster": list(table), "class": list(table.values())})


def _label_rules(
    table: pd.DataFrame, class_map: ClassMap
) -> tuple[dict[int, Any], dict[Any, Any], dict[Any, int]]:
    """Parse a label table: cluster code -> class value, class -> colour, class -> code."""
    cols = columns_by_name(table)
    if "cluster" not in cols or "class" not in cols:
        raise ClassMapError(
            "a label table needs the columns 'cluster' and 'class' (optional 'code', "
            f"'color'); it has {list(table.columns)}"
        )
    mapping: dict[int, Any] = {}
    colours: dict[Any, Any] = {}
    codes: dict[Any, int] = {}
    unknown, blank, conflicts = [], [], []
    for i, row in enumerate(table.to_dict(orient="records")):
        raw_cluster, raw_class = row[cols["cluster"]], row[cols["class"]]
        code = _cluster_code(raw_cluster, class_map)
        if code is None:
            unknown.append(raw_cluster)
            continue
        if raw_class is None or (isinstance(raw_class, float) and math.isnan(raw_class)):
            blank.append(i + 1)
            continue
        if isinstance(raw_class, float) and raw_class.is_integer():
            raw_class = int(raw_class)
        value = raw_class.strip() if isinstance(raw_class, str) else raw_class
        if value == "":
            blank.append(i + 1)
            continue
        if isinstance(value, np.integer):
            value = int(value)
        if code in mapping and mapping[code] != value:
            conflicts.append(f"{class_map.name_of(code)}: {mapping[code]!r} and {value!r}")
        mapping[code] = value
        for key, store in (("color", colours), ("colour", colours)):
            if key in cols and pd.notna(row[cols[key]]) and value not in store:
                store[value] = parse_colour(row[cols[key]])
        if "code" in cols and pd.notna(row[cols["code"]]):
            codes.setdefault(value, int(row[cols["code"]]))
    if unknown:
        raise ClassMapError(
            f"the label table names cluster(s) {unknown} that the map does not have; its "
            f"clusters are {', '.join(class_map.names)} (codes {list(class_map.codes)})"
        )
    if blank:
        raise ClassMapError(f"rows {blank} of the label table have no class; fill them in")
    if conflicts:
        raise ClassMapError(
            f"the label table gives one cluster two classes ({'; '.join(conflicts)}); keep one"
        )
    return mapping, colours, codes


def _new_class_map(
    values: list[Any], colours: Mapping[Any, Any], codes: Mapping[Any, int]
) -> ClassMap:
    if codes:
        missing = [v for v in values if v not in codes]
        if missing:
            raise ClassMapError(
                f"the label table gives codes for some classes but not for {missing}; give a "
                "code to every class or to none"
            )
        names = [str(v) for v in values]
        base = ClassMap.from_codes([codes[v] for v in values], names)
        cmap = ClassMap(base.codes, base.names, base.colors, tuple(values))
    else:
        strings = [str(v) for v in values]
        if all(isinstance(v, int) for v in values):
            cmap = ClassMap.from_values(values)
        else:
            cmap = ClassMap.from_values(strings)
    if colours:
        by_value = {str(v): c for v, c in colours.items()}
        new = tuple(by_value.get(n, c) for n, c in zip(cmap.names, cmap.colors, strict=True))
        cmap = ClassMap(cmap.codes, cmap.names, new, cmap.values)
    return cmap


def relabel(
    classes: xr.DataArray,
    class_map: ClassMap,
    table: pd.DataFrame | Mapping[Any, Any],
    *,
    keep_unlisted: bool = False,
) -> tuple[xr.DataArray, ClassMap]:
    """Turn clusters into classes with a table; clusters that share a class are merged.

    Parameters
    ----------
    classes
        ``(y, x)`` cluster codes (lazy or in memory), 0 = nodata. Float maps (NaN = nodata)
        are accepted and cast.
    class_map
        The clusters of the map (names ``cluster 1``..).
    table
        DataFrame with columns ``cluster`` (code ``3`` or name ``cluster 3``) and ``class``
        (the class name, or an integer class code), optionally ``code`` (class code) and
        ``color`` (``#RRGGBB``); or a mapping cluster -> class.
    keep_unlisted
        Clusters missing from the table raise :class:`ClassMapError` listing them (default);
        with ``keep_unlisted`` they stay as classes of their own, under their cluster name.

    Returns
    -------
    (xarray.DataArray, ClassMap)
        The recoded map (lazy when ``classes`` is; 0 stays 0) and its class map. Class
        names get codes 1..M in alphabetical order (integer classes keep their value) and
        the colours users expect (water blue, forest green...) unless the table sets them.

    Raises
    ------
    ClassMapError
        The table lacks the ``cluster``/``class`` columns, names a cluster the map does not
        have, leaves a class blank, gives one cluster two classes, gives codes to some
        classes only, or leaves clusters out (without ``keep_unlisted``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> clusters = ClassMap.from_codes([1, 2, 3], ["cluster 1", "cluster 2", "cluster 3"])
    >>> classes = xr.DataArray(np.array([[0, 1, 2, 3]], dtype="u1"), dims=("y", "x"))
    >>> new, cmap = relabel(classes, clusters, {1: "water", "cluster 2": "forest", 3: "water"})
    >>> cmap.names, new.values.tolist()
    (('forest', 'water'), [[0, 2, 1, 2]])
    """
    mapping, colours, codes = _label_rules(label_frame(table), class_map)
    unlisted = [c for c in class_map.codes if c not in mapping]
    if unlisted and not keep_unlisted:
        raise ClassMapError(
            f"the label table does not list {[class_map.name_of(c) for c in unlisted]}; add a "
            f"row (cluster,class) for each, or keep them as they are with "
            f"{param('keep_unlisted', True)}"
        )
    for c in unlisted:
        mapping[c] = class_map.name_of(c)
        colours.setdefault(mapping[c], class_map.colors[class_map.codes.index(c)])
        if codes:
            codes.setdefault(mapping[c], c)
    values = list(dict.fromkeys(mapping.values()))
    if any(isinstance(v, int) for v in values) and not all(isinstance(v, int) for v in values):
        values = [str(v) for v in values]
        mapping = {k: str(v) for k, v in mapping.items()}
        colours = {str(k): v for k, v in colours.items()}
        codes = {str(k): v for k, v in codes.items()}
    new_map = _new_class_map(values, colours, codes)
    by_value = {_value_key(v): code for v, code in zip(new_map.values, new_map.codes, strict=True)}
    lut = np.zeros(max(class_map.codes) + 1, dtype=new_map.dtype)
    for cluster_code, value in mapping.items():
        lut[cluster_code] = by_value[_value_key(value)]
    for code, name in zip(new_map.codes, new_map.names, strict=True):
        members = [
            class_map.name_of(c) for c, v in mapping.items() if by_value[_value_key(v)] == code
        ]
        logger.info("class %d %r <- %s", code, name, ", ".join(members))
    if not np.issubdtype(classes.dtype, np.integer):
        classes = classes.fillna(0).astype(np.uint16 if max(class_map.codes) > 255 else np.uint8)
    return recode(classes, lut).rename("classes"), new_map


def _value_key(value: Any) -> Any:
    return int(value) if isinstance(value, int | np.integer) else str(value)


def class_map_from_table(table: pd.DataFrame) -> ClassMap:
    cols = columns_by_name(table)
    if "cluster" not in cols:
        raise ClassMapError(f"a label table needs a 'cluster' column; it has {list(table.columns)}")
    try:
        codes = sorted({int(v) for v in table[cols["cluster"]]})
    except (TypeError, ValueError):
        raise ClassMapError(
            "the map carries no class names, so the table must give clusters by integer code"
        ) from None
    return ClassMap.from_codes(codes, [f"cluster {c}" for c in codes])
