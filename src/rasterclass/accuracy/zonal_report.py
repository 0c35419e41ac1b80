"""Zonal summaries rendered as text: CSV, JSON (a stable layout) or Markdown.

Owns :func:`render_zonal` and :data:`ZONAL_FORMAT_VERSION`; the table is
:func:`rasterclass.accuracy.zonal.zonal_summary`'s.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pandas as pd

from rasterclass._json import jsonable
from rasterclass.accuracy.report import csv_rounded, markdown_table

#: Version of the layout of the JSON table.
ZONAL_FORMAT_VERSION = 1


def render_zonal(table: Any, fmt: str) -> str:
    """A zonal summary (from :func:`zonal_summary`) as ``"csv"``, ``"json"`` or ``"markdown"``.

    Parameters
    ----------
    table
        The (Geo)DataFrame :func:`zonal_summary` returns (its geometry is left out).
    fmt
        ``"csv"`` (every column; areas rounded to 1e-6 ha, shares to 1e-9, means to 10
        significant digits, see :func:`rasterclass.accuracy.report.csv_rounded`: not
        ``0.30000000000000004``), ``"json"`` (full precision; ``format_version`` 1,
        ``kind`` ``"zonal summary"``, ``map``, ``zone_column``, ``classes``,
        ``pixel_area_m2``, ``notes`` and ``zones``: one record per zone with ``zone`` and
        every column; NaN as null) or
        ``"markdown"`` (zone, status, valid area, the share of each class in %, the layer
        means, then the notes).

    Returns
    -------
    str
        The text.

    Raises
    ------
    ValueError
        An unknown ``fmt``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from rasterclass.accuracy.zonal import zonal_summary
    >>> from rasterclass.datasets import example_map
    >>> zones = gpd.GeoDataFrame(geometry=[box(0, 0, 30, 40)], crs="EPSG:32633")
    >>> print(render_zonal(zonal_summary(example_map(), zones), "markdown").splitlines()[4])
    | 1 | on the map | 0.12 | 66.7 % | 33.3 % |
    """
    attrs = dict(table.attrs)
    name = table.index.name or "zone"
    plain = pd.DataFrame(table.drop(columns=table.geometry.name, errors="ignore"))
    if fmt == "csv":
        return str(csv_rounded(plain).to_csv())
    if fmt == "json":
        records = plain.reset_index().rename(columns={name: "zone"}).to_dict(orient="records")
        doc = {
            "format_version": ZONAL_FORMAT_VERSION,
            "kind": "zonal summary",
            "map": attrs.get("map"),
            "zone_column": attrs.get("zone_column"),
            "classes": attrs.get("classes", []),
            "pixel_area_m2": attrs.get("pixel_area_m2"),
            "notes": attrs.get("notes", []),
            "zones": records,
        }
        return json.dumps(jsonable(doc), indent=2) + "\n"
    if fmt != "markdown":
        raise ValueError(f"unknown format {fmt!r}: use 'csv', 'json' or 'markdown'")
    ha = attrs.get("pixel_area_m2") is not None
    classes = attrs.get("classes", [])
    means = [c for c in plain.columns if str(c).startswith("mean_")]
    headers = [name, "status", "valid ha" if ha else "valid px", *classes, *means]
    rows = [
        [
            zone,
            row["status"],
            f"{row['valid_ha']:,.2f}" if ha else f"{row['valid_pixels']:,}",
            *(_pct(row[f"share_{c}"]) for c in classes),
            *(_num(row[m]) for m in means),
        ]
        for zone, row in plain.iterrows()
    ]
    title = os.path.basename(attrs["map"]) if attrs.get("map") else "the map"
    out = [f"# Zonal summary of {title}", "", markdown_table(headers, rows)]
    out += ["", *(f"- {n}" for n in attrs.get("notes", []))] if attrs.get("notes") else []
    return "\n".join(out) + "\n"


def _pct(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{100 * value:.1f} %"


def _num(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.4g}"
