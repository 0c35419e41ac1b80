"""Multi-date stacks and time series: date-tagged bands, differences, gap fill, features.

A *multi-date stack* is an ordinary scene whose band names carry their acquisition date,
``<band>@<date>`` (``nir@2020-06-01``); see :mod:`rasterclass.temporal.dates`;
:func:`difference` (:mod:`rasterclass.temporal.change`) compares two dates. A *time
series* is such a stack of one or several variables. :func:`gap_fill` interpolates masked
dates (clouds) per pixel, :func:`temporal_features` summarises each variable over time (see
:mod:`rasterclass.temporal.gaps`). Everything is lazy on dask scenes and identical for any
chunking; files are read by :mod:`rasterclass.io` (:func:`rasterclass.io.open_dates`).

Layer: beside :mod:`rasterclass.stack` (it works on scene arrays, opens no file).
"""

from __future__ import annotations

from rasterclass.temporal.change import difference
from rasterclass.temporal.dates import (
    DATE_SEP,
    DATE_TAGS,
    TEMPORAL_STATS,
    as_series,
    date_from_tags,
    date_labels,
    find_date,
    parse_date,
    select_date,
    series_layout,
    split_name,
    stack_dates,
)
from rasterclass.temporal.gaps import DATE_OF_MAX, GAP_FILL_ATTR, gap_fill, temporal_features

__all__ = [
    "DATE_OF_MAX",
    "DATE_SEP",
    "DATE_TAGS",
    "GAP_FILL_ATTR",
    "TEMPORAL_STATS",
    "as_series",
    "date_from_tags",
    "date_labels",
    "difference",
    "find_date",
    "gap_fill",
    "parse_date",
    "select_date",
    "series_layout",
    "split_name",
    "stack_dates",
    "temporal_features",
]
