"""Acquisition dates of raster files, and scenes of several dates opened as one stack.

:func:`read_date` reads a file's date from its metadata (GDAL's ``TIFFTAG_DATETIME``, the
``ACQUISITIONDATETIME`` of the ``IMAGERY`` domain, product keys such as ``DATE_ACQUIRED``)
or else from its file name; :func:`open_dates` opens one scene per date and stacks them with
:func:`rasterclass.temporal.stack_dates` (band names ``<band>@<date>``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from rasterclass.errors import SceneError, param
from rasterclass.io._read import open_raster
from rasterclass.io.paths import PathLike
from rasterclass.io.scene import open_scene
from rasterclass.temporal import date_from_tags, find_date, parse_date, stack_dates

logger = logging.getLogger(__name__)

#: Metadata domains searched for a date, in order (None: the default domain).
DATE_DOMAINS = (None, "IMAGERY")


def read_date(path: PathLike) -> np.datetime64:
    """The acquisition date of a raster file: from its metadata tags, else its file name.

    Parameters
    ----------
    path
        A raster file.

    Returns
    -------
    numpy.datetime64
        The date (unit seconds): the first of
        :data:`rasterclass.temporal.DATE_TAGS` found in the default or ``IMAGERY`` metadata
        domain, else a date written in the file name (``..._20200601T101031_...``,
        ``2020-06-01``, a Landsat scene id; see :func:`rasterclass.temporal.find_date`).

    Raises
    ------
    RasterclassIOError
        The file cannot be read.
    SceneError
        Neither the metadata nor the file name holds a date.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, rasterio
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "field.tif"
    >>> with rasterio.open(path, "w", driver="GTiff", width=2, height=2, count=1,
    ...                    dtype="float32", crs="EPSG:32633",
    ...                    transform=rasterio.Affine(10, 0, 0, 0, -10, 20)) as dst:
    ...     dst.write(np.ones((1, 2, 2), "f4"))
    ...     dst.update_tags(TIFFTAG_DATETIME="2021:05:04 09:30:00")
    >>> str(read_date(path))
    '2021-05-04T09:30:00'
    """
    with open_raster(str(path)) as src:
        for domain in DATE_DOMAINS:
            found = date_from_tags(src.tags(ns=domain) if domain else src.tags())
            if found is not None:
                return found
    found = find_date(os.path.basename(str(path)))
    if found is None:
        raise SceneError(
            f"{path} holds no acquisition date (no date tag such as TIFFTAG_DATETIME, no date "
            f"in the file name); give the dates ({param('dates')})"
        )
    return found


def open_dates(
    scenes: Sequence[PathLike | Sequence[PathLike]],
    dates: Sequence[Any] | None = None,
    **options: Any,
) -> xr.DataArray:
    """Open scenes of several dates on one grid as one multi-date stack.

    Parameters
    ----------
    scenes
        One entry per date: a raster file, or a list of files stacked into one scene (one
        band per file), as :func:`open_scene` takes.
    dates
        One acquisition date per entry (``"2020-06-01"``...); default: read from each
        entry's first file (:func:`read_date`).
    **options
        Passed to :func:`open_scene` for every entry (``band_names`` naming the bands of
        one date, ``chunks``, ``reference`` to resample every date onto one grid...).

    Returns
    -------
    xarray.DataArray
        A lazy scene with bands ``<band>@<date>`` (``nir@2020-06-01``), earliest date first
        (see :func:`rasterclass.temporal.stack_dates`).

    Raises
    ------
    SceneError
        No date for an entry, not one date per entry, a date twice, or dates on different
        grids (open them with ``reference=``).
    RasterclassIOError
        A file cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, rasterio
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for day in ("2020-06-01", "2020-08-01"):
    ...     with rasterio.open(folder / f"field_{day}.tif", "w", driver="GTiff", width=2,
    ...                        height=2, count=2, dtype="float32", crs="EPSG:32633",
    ...                        transform=rasterio.Affine(10, 0, 0, 0, -10, 20)) as dst:
    ...         dst.write(np.ones((2, 2, 2), "f4"))
    >>> stack = open_dates(sorted(folder.glob("*.tif")), band_names=["red", "nir"])
    >>> [str(b) for b in stack.band.values]
    ['red@2020-06-01', 'nir@2020-06-01', 'red@2020-08-01', 'nir@2020-08-01']
    """
    if dates is not None and len(dates) != len(scenes):
        raise SceneError(
            f"{len(scenes)} scene(s) and {len(dates)} date(s): give one date per scene "
            f"({param('dates')})"
        )
    opened, when = [], []
    for i, entry in enumerate(scenes):
        files = [entry] if isinstance(entry, str | os.PathLike) else list(entry)
        opened.append(open_scene(files, **options))
        when.append(parse_date(dates[i]) if dates is not None else read_date(files[0]))
        logger.info("date of %s: %s", files[0], when[-1])
    return stack_dates(opened, when)
