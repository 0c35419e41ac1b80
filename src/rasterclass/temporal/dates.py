"""Multi-date stacks: date-tagged band names, dates found in names and tags, stacking.

A *multi-date stack* is an ordinary scene (dims ``("band", "y", "x")``) whose band names carry
their acquisition date: ``<band>@<date>``, e.g. ``nir@2020-06-01`` (``@`` reads "nir at
2020-06-01"; the band comes first so that the names of one band sort together, and a name
without ``@`` is a band without a date). Dates are ISO 8601 days, or seconds
(``2015-12-08T10:04:09``) when two dates of one stack fall on the same day. A *time series*
is such a stack: one or several variables (``ndvi``, or ``red`` and ``nir``), each over the
dates at which it was observed.

This module names and stacks dates; nothing here opens a file
(:func:`rasterclass.io.open_dates` reads dates from file metadata). Every function is lazy on
dask scenes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import dask.array as da
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from rasterclass.errors import BandMismatchError, SceneError, param
from rasterclass.radiometry import RADIOMETRY_ATTR, band_records, rename_bands
from rasterclass.stack import georeferenced

logger = logging.getLogger(__name__)

#: Separator of a band name and its date in a multi-date stack: ``nir@2020-06-01``.
DATE_SEP = "@"
#: The temporal features :func:`temporal_features` computes, in this order.
TEMPORAL_STATS = ("min", "max", "mean", "std", "amplitude", "date_of_max")
#: Metadata tags holding an acquisition date, first match wins (GDAL's TIFF tag, the
#: ACQUISITIONDATETIME of GDAL's IMAGERY domain, Landsat/Sentinel product keys).
DATE_TAGS = (
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATE",
    "DATE_ACQUIRED",
    "SENSING_TIME",
    "PRODUCT_START_TIME",
    "TIFFTAG_DATETIME",
)

_DATE_PATTERNS = (
    # 2020-06-01, 2020_06_01, 2020-06-01T10:00:08, 2020:06:01 10:00:08 (TIFF)
    re.compile(
        r"(?<!\d)(\d{4})[-_:.](\d{2})[-_:.](\d{2})(?:[T _](\d{2})[:_-]?(\d{2})[:_-]?(\d{2}))?"
    ),
    # 20200601, 20200601T101031 (Sentinel-2 product and file names)
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2}))?(?!\d)"),
)
#: Landsat collection-1-era scene ids carry year and day of year: LT52240631988227CUB02.
_LANDSAT_ID = re.compile(r"L[CETMO]\d(\d{6})(\d{4})(\d{3})[A-Z]{3}\d{2}")


def _checked(year: int, month: int, day: int, hms: Sequence[int] = (0, 0, 0)) -> Any:
    hour, minute, second = hms
    if not 1950 <= year <= 2100:
        return None
    try:
        value = dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return np.datetime64(value, "s")


def find_date(text: str) -> np.datetime64 | None:
    """The first acquisition date written in ``text`` (a file or band name, a tag value).

    Recognises ``YYYY-MM-DD`` (also with ``_``, ``:`` or ``.``, and an optional time),
    ``YYYYMMDD[THHMMSS]`` and Landsat scene ids (``LT52240631988227CUB02``: year and day of
    year). Years outside 1950-2100 and impossible days are ignored.

    Parameters
    ----------
    text
        Any text.

    Returns
    -------
    numpy.datetime64 or None
        The date (unit seconds), or None when ``text`` holds none.

    Examples
    --------
    >>> str(find_date("S2A_MSIL2A_20200601T101031_N0214.tif"))
    '2020-06-01T10:10:31'
    >>> str(find_date("LT52240631988227CUB02_B4.TIF"))
    '1988-08-14T00:00:00'
    >>> find_date("scene_b4.tif") is None
    True
    """
    found = _find(text)
    return found[0] if found else None


def _find(text: str) -> tuple[np.datetime64, tuple[int, int]] | None:
    """The first date in ``text`` and where it is written."""
    landsat = _LANDSAT_ID.search(text)
    if landsat:
        year, doy = int(landsat.group(2)), int(landsat.group(3))
        first = _checked(year, 1, 1)
        if first is not None and 1 <= doy <= 366:
            return first + np.timedelta64(doy - 1, "D"), (landsat.start(2), landsat.end(3))
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            hms = [int(g) for g in m.groups()[3:]] if m.group(4) else [0, 0, 0]
            found = _checked(int(m.group(1)), int(m.group(2)), int(m.group(3)), hms)
            if found is not None:
                return found, m.span()
    return None


def parse_date(value: Any) -> np.datetime64:
    """A date given by a user: ``"2020-06-01"``, a datetime, a numpy datetime64...

    Parameters
    ----------
    value
        A :class:`datetime.date`/:class:`datetime.datetime`, a ``numpy.datetime64`` or a text
        that :func:`find_date` reads.

    Returns
    -------
    numpy.datetime64
        Unit seconds.

    Raises
    ------
    SceneError
        ``value`` holds no date.

    Examples
    --------
    >>> str(parse_date("2020:06:01 10:00:08"))
    '2020-06-01T10:00:08'
    """
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[s]")
    if isinstance(value, dt.date):
        return np.datetime64(value, "s")
    found = find_date(str(value))
    if found is None:
        raise SceneError(
            f"{value!r} is not a date; write dates as YYYY-MM-DD (e.g. 2020-06-01) in "
            f"{param('dates')}"
        )
    return found


def date_from_tags(tags: Mapping[str, Any]) -> np.datetime64 | None:
    """The acquisition date in a raster's metadata tags (see :data:`DATE_TAGS`), or None.

    Parameters
    ----------
    tags
        Tag names to values (``rasterio``'s ``src.tags()``, any domain).

    Returns
    -------
    numpy.datetime64 or None
        The date of the first tag of :data:`DATE_TAGS` present that holds one.

    Examples
    --------
    >>> str(date_from_tags({"TIFFTAG_DATETIME": "2021:05:04 09:30:00"}))
    '2021-05-04T09:30:00'
    """
    upper = {str(k).upper(): v for k, v in tags.items()}
    for key in DATE_TAGS:
        if key in upper:
            found = find_date(str(upper[key]))
            if found is not None:
                return found
    return None


def date_labels(dates: Sequence[Any]) -> list[str]:
    """How dates are written in band names: days, or seconds when two share a day.

    Parameters
    ----------
    dates
        Dates (anything :func:`parse_date` reads).

    Returns
    -------
    list of str
        ``YYYY-MM-DD`` each, or ``YYYY-MM-DDTHH:MM:SS`` each when days repeat.

    Examples
    --------
    >>> date_labels(["2020-06-01", "2020-08-01"])
    ['2020-06-01', '2020-08-01']
    """
    parsed = [parse_date(d) for d in dates]
    days = [str(d.astype("datetime64[D]")) for d in parsed]
    return days if len(set(days)) == len(days) else [str(d) for d in parsed]


def split_name(name: str) -> tuple[str, np.datetime64 | None]:
    """A band name's band and date: ``"nir@2020-06-01"`` -> ``("nir", 2020-06-01)``.

    Parameters
    ----------
    name
        A band name.

    Returns
    -------
    tuple
        The band (the name before :data:`DATE_SEP`) and its date, or ``(name, None)`` for a
        band without a date.

    Examples
    --------
    >>> band, date = split_name("nir@2020-06-01")
    >>> band, str(date)
    ('nir', '2020-06-01T00:00:00')
    """
    band, sep, label = str(name).rpartition(DATE_SEP)
    if not sep:
        return str(name), None
    return band, parse_date(label)


def _same_grid(a: xr.DataArray, b: xr.DataArray) -> bool:
    if a.shape[1:] != b.shape[1:]:
        return False
    return all(np.allclose(a[d].values, b[d].values) for d in ("y", "x") if d in a.coords)


def stack_dates(scenes: Sequence[xr.DataArray], dates: Sequence[Any]) -> xr.DataArray:
    """Stack scenes of several dates on one grid, in date order, with date-tagged band names.

    Parameters
    ----------
    scenes
        Scenes (dims ``("band", "y", "x")``) on one grid, bands without dates (``nir``).
    dates
        One acquisition date per scene (see :func:`parse_date`).

    Returns
    -------
    xarray.DataArray
        The bands of every scene, earliest date first, named ``<band>@<date>`` (see
        :func:`date_labels`); lazy when the scenes are, CRS and transform of the first scene.

    Raises
    ------
    SceneError
        Not one date per scene, a date twice, or scenes on different grids.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = xr.DataArray(np.ones((2, 2, 3), "f4"), dims=("band", "y", "x"),
    ...                  coords={"band": ["red", "nir"], "y": [1.5, 0.5], "x": [0.5, 1.5, 2.5]})
    >>> [str(b) for b in stack_dates([a, a + 1], ["2020-08-01", "2020-06-01"]).band.values]
    ['red@2020-06-01', 'nir@2020-06-01', 'red@2020-08-01', 'nir@2020-08-01']
    """
    if len(scenes) != len(dates) or not scenes:
        raise SceneError(
            f"{len(scenes)} scene(s) and {len(dates)} date(s): give one date per scene "
            f"({param('dates')})"
        )
    parsed = [parse_date(d) for d in dates]
    if len(set(parsed)) != len(parsed):
        raise SceneError(f"a date is given twice ({[str(d) for d in parsed]}): {param('dates')}")
    for i, scene in enumerate(scenes[1:], start=1):
        if not _same_grid(scenes[0], scene):
            raise SceneError(
                f"the scene of {parsed[i]} is not on the grid of the scene of {parsed[0]}; open "
                f"them on one grid ({param('reference', 'FILE')})"
            )
    order = np.argsort(np.array(parsed), kind="stable")
    labels = date_labels(parsed)
    parts, records = [], []
    for i in order:
        names = [f"{split_name(str(b))[0]}{DATE_SEP}{labels[i]}" for b in scenes[i].band.values]
        parts.append(rename_bands(scenes[i], names))
        part = band_records(parts[-1])
        records.append([part.get(n) for n in names])
    out = xr.concat(parts, dim="band", combine_attrs="drop")
    if all(r is not None for rs in records for r in rs):  # how every date's bands are stored
        out.attrs[RADIOMETRY_ATTR] = json.dumps([r for rs in records for r in rs])
    if isinstance(out.data, da.Array):
        out = out.chunk({"band": -1})
    return georeferenced(out, scenes[0])


def as_series(
    scene: xr.DataArray, dates: Sequence[Any] | None = None, variable: str | None = None
) -> xr.DataArray:
    """A scene as a multi-date stack: every band named ``<band>@<date>``.

    Bands already tagged stay as they are. A band whose name holds a date
    (``NDVI_2015-07-11T10:00:08``) becomes ``<the name without its date>@<date>``
    (``NDVI@2015-07-11``). With ``dates`` (one per band), every band is ``variable`` at that
    date (a one-variable series stored one band per date).

    Parameters
    ----------
    scene
        A scene (dims ``("band", "y", "x")``).
    dates
        One date per band; default: the dates in the band names.
    variable
        The variable's name when ``dates`` are given (default ``"value"``).

    Returns
    -------
    xarray.DataArray
        The scene with date-tagged band names (values and chunks unchanged).

    Raises
    ------
    SceneError
        A band has no date and no ``dates`` were given, or not one date per band.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> s = xr.DataArray(np.zeros((2, 1, 1)), dims=("band", "y", "x"),
    ...                  coords={"band": ["NDVI_2015-07-11T10:00:08", "NDVI_2015-07-31"]})
    >>> [str(b) for b in as_series(s).band.values]
    ['NDVI@2015-07-11', 'NDVI@2015-07-31']
    """
    names = [str(b) for b in scene.band.values]
    if dates is not None:
        if len(dates) != len(names):
            raise SceneError(
                f"{len(dates)} date(s) for a scene of {len(names)} bands: give one date per "
                f"band ({param('dates')})"
            )
        var = variable or "value"
        labels = date_labels(dates)
        return rename_bands(scene, [f"{var}{DATE_SEP}{d}" for d in labels])
    if all(DATE_SEP in n for n in names):
        return scene
    variables, found = [], []
    for name in names:
        hit = _find(name)
        if hit is None:
            raise SceneError(
                f"band {name!r} has no date in its name, so the scene is no time series; "
                "name its bands <band>@<YYYY-MM-DD> "
                f"({param('band_names', 'ndvi@2024-04-15,ndvi@2024-05-05,...')}), or stack "
                f"one file per date, each with its date ({param('dates')})"
            )
        date, (start, end) = hit
        stripped = (name[:start].rstrip("_-. ") + name[end:]).strip("_-. ") or "value"
        variables.append(stripped)
        found.append(date)
    per_var: dict[str, list[np.datetime64]] = {}
    for var, date in zip(variables, found, strict=True):
        per_var.setdefault(var, []).append(date)
    labels_of = {var: iter(date_labels(ds)) for var, ds in per_var.items()}
    return rename_bands(scene, [f"{v}{DATE_SEP}{next(labels_of[v])}" for v in variables])


def series_layout(scene: xr.DataArray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per variable of a multi-date stack: its band positions and dates, in date order.

    Parameters
    ----------
    scene
        A multi-date stack (see :func:`as_series`).

    Returns
    -------
    dict
        Variable name -> (band positions, int64; dates, ``datetime64[s]``), both sorted by
        date; variables in the order of their first band.

    Raises
    ------
    BandMismatchError
        A band without a date.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> s = xr.DataArray(np.zeros((3, 1, 1)), dims=("band", "y", "x"),
    ...                  coords={"band": ["a@2020-02-01", "a@2020-01-01", "b@2020-01-01"]})
    >>> {k: v[0].tolist() for k, v in series_layout(s).items()}
    {'a': [1, 0], 'b': [2]}
    """
    layout: dict[str, tuple[list[int], list[np.datetime64]]] = {}
    for i, name in enumerate(str(b) for b in scene.band.values):
        var, date = split_name(name)
        if date is None:
            raise BandMismatchError(
                f"band {name!r} has no date: a time series needs bands named "
                f"<band>@<YYYY-MM-DD> (rasterclass.as_series, or {param('dates')})"
            )
        layout.setdefault(var, ([], []))
        layout[var][0].append(i)
        layout[var][1].append(date)
    out = {}
    for var, (idx, dates) in layout.items():
        arr = np.array(dates, dtype="datetime64[s]")
        order = np.argsort(arr, kind="stable")
        out[var] = (np.array(idx, dtype=np.int64)[order], arr[order])
    return out


def select_date(scene: xr.DataArray, date: Any) -> xr.DataArray:
    """The bands of one date of a multi-date stack, named without their date.

    Parameters
    ----------
    scene
        A multi-date stack.
    date
        The date (see :func:`parse_date`); a day matches a date with a time on that day.

    Returns
    -------
    xarray.DataArray
        Its bands (``nir@2020-06-01`` -> ``nir``), lazy when the scene is; the input of
        index or texture functions that want plain band names.

    Raises
    ------
    BandMismatchError
        No band of that date (the message lists the stack's dates).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> s = xr.DataArray(np.arange(2.0).reshape(2, 1, 1), dims=("band", "y", "x"),
    ...                  coords={"band": ["nir@2020-06-01", "nir@2020-08-01"]})
    >>> late = select_date(s, "2020-08-01")
    >>> late.band.values.tolist(), float(late[0, 0, 0])
    (['nir'], 1.0)
    """
    want = parse_date(date)
    day = want.astype("datetime64[D]")
    names = [str(b) for b in scene.band.values]
    keep, plain, seen = [], [], set()
    for i, name in enumerate(names):
        band, when = split_name(name)
        if when is None:
            continue
        seen.add(str(when.astype("datetime64[D]")))
        if when == want or (want == day and when.astype("datetime64[D]") == day):
            keep.append(i)
            plain.append(band)
    if not keep:
        raise BandMismatchError(
            f"no band of {day} in the stack; its dates are {sorted(seen)} ({param('dates')})"
        )
    return rename_bands(scene.isel(band=keep), plain)
