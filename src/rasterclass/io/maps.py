"""Class maps: thematic maps of class codes, written and read back.

Owns :func:`write_map` and :func:`map_output` (a thematic uint8/uint16 map with colour table
and class names), :func:`checked_class_codes` (a lazy check that a map holds class codes),
and reading what a map carries: its tags, its :class:`~rasterclass.classes.ClassMap`, its
training-pixel record and a decimated quicklook. Probability layers are in
:mod:`rasterclass.io.probabilities`, segment-id rasters in :mod:`rasterclass.io.segments`.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling

from rasterclass.classes import ClassMap
from rasterclass.errors import ClassMapError
from rasterclass.io._read import open_raster
from rasterclass.io.paths import PathLike
from rasterclass.io.writer import (
    CLASSMAP_TAG,
    RasterOutput,
    WriteOptions,
    write_rasters,
)
from rasterclass.training_pixels import (
    RECORD_TAG,
    SHA256_TAG,
    SIDECAR_SUFFIX,
    TrainingPixels,
    read_sidecar_deltas,
)


def read_map_tags(path: PathLike) -> dict[str, str]:
    """Dataset-level metadata tags of a raster."""
    with open_raster(str(path)) as src:
        return dict(src.tags())


def read_training_pixels(path: PathLike) -> tuple[TrainingPixels | None, str | None]:
    """The training-pixel record a map carries (tag or sidecar), and why it is unusable.

    Returns ``(record, None)``; ``(None, None)`` for a map without a record (written by
    another tool or an older rasterclass); ``(None, reason)`` when the map names a record
    that cannot be read (its sidecar ``MAP.tif.training.npz`` is missing or damaged).
    """
    text = read_map_tags(path).get(RECORD_TAG, "")
    if not text:
        return None, None
    sidecar = f"{path}{SIDECAR_SUFFIX}"
    try:
        header = json.loads(text)
        if "sidecar" in header:
            if not os.path.exists(sidecar):
                return None, (
                    f"the map's training-pixel record {sidecar} is missing (copy it with the map)"
                )
            deltas = read_sidecar_deltas(Path(sidecar).read_bytes())
            return TrainingPixels.decode(header, deltas), None
        return TrainingPixels.decode(header), None
    except (ValueError, KeyError, TypeError, OSError, zlib.error) as exc:
        return None, f"the map's training-pixel record cannot be read ({exc})"


def read_class_map(path: PathLike) -> ClassMap | None:
    """The :class:`~rasterclass.classes.ClassMap` a map file written by rasterclass carries.

    Parameters
    ----------
    path
        A class map GeoTIFF (from :func:`write_map`, ``rasterclass classify`` ...).

    Returns
    -------
    ClassMap or None
        Codes, names and colours stored in the file's ``RASTERCLASS_CLASSMAP`` tag; ``None``
        for a map written by another tool (no tag).

    Raises
    ------
    RasterclassIOError
        The file does not exist or is not a raster GDAL can read.
    ClassMapError
        The stored class map is invalid.

    Examples
    --------
    >>> import rasterclass as rc
    >>> from rasterclass.datasets import example_map
    >>> rc.read_class_map(example_map()).names
    ('forest', 'water')
    """
    with open_raster(str(path)) as src:
        tag = src.tags().get(CLASSMAP_TAG)
        if tag:
            return ClassMap.from_dict(json.loads(tag))
    return None


#: The largest class code a map may hold (maps are written as uint8 or uint16).
MAX_CLASS_CODE = 65535


def _check_code_block(block: np.ndarray, source: str) -> np.ndarray:
    a = np.asarray(block)
    values = a[np.isfinite(a)] if a.dtype.kind == "f" else a.ravel()
    bad = values[(values < 0) | (values > MAX_CLASS_CODE) | (values != np.round(values))]
    if bad.size:
        example = np.unique(bad)[:3].tolist()
        shown = ", ".join(f"{v:g}" for v in example)
        raise ClassMapError(
            f"{source} holds values that are no class code ({shown}): a class map holds "
            f"whole numbers 0-{MAX_CLASS_CODE} (0 = nodata). If {example[0]:g} marks nodata, "
            f"declare it (`gdal_edit.py -a_nodata {example[0]:g} {source}`)"
        )
    return block


def checked_class_codes(codes: xr.DataArray, source: PathLike) -> xr.DataArray:
    """``codes`` with a lazy check that every value is a class code or nodata.

    Parameters
    ----------
    codes
        A class map as read (numpy or dask), NaN at the nodata the file declares.
    source
        The file, named in the error.

    Returns
    -------
    xarray.DataArray
        The same values, checked chunk by chunk when computed (nothing is computed here).

    Raises
    ------
    ClassMapError
        When computed: a value that is negative, not whole, or above 65535 (e.g. an
        undeclared nodata of -9999), named with the fix (declare it as nodata).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> codes = xr.DataArray(np.array([[1.0, np.nan], [-9999.0, 2.0]]), dims=("y", "x"))
    >>> checked_class_codes(codes.chunk(1), "map.tif").values
    Traceback (most recent call last):
    ...
    rasterclass.errors.ClassMapError: map.tif holds values that are no class code (-9999): ...
    """
    data = codes.data
    if not hasattr(data, "map_blocks"):
        return codes.copy(data=_check_code_block(np.asarray(data), str(source)))
    return codes.copy(data=data.map_blocks(_check_code_block, str(source), dtype=data.dtype))


def write_map(
    classes: xr.DataArray | xr.Dataset,
    path: PathLike,
    class_map: ClassMap | None = None,
    **options: Unpack[WriteOptions],
) -> str:
    """Write a thematic map: uint8/uint16 GeoTIFF, nodata 0, colour table and class names.

    The colour table covers the codes in use (the map is stored with just the bits its
    largest code needs, so the table has no rows past the last class; code 0 is nodata,
    transparent). Class names are stored in the GeoTIFF's own metadata (``CLASS_NAMES`` of
    the file and of band 1, and the full class map), in a GDAL ``.aux.xml`` (category names
    and a raster attribute table, in code order, that ``gdalinfo`` and QGIS show) and in a
    QGIS ``.qml`` default style, so they survive whichever file travels. The file is written
    under a temporary name, block by block (the array may be lazy), and renamed when
    complete.

    Parameters
    ----------
    classes
        ``(y, x)`` class codes (0 = nodata) with CRS and transform (rioxarray), or the
        Dataset :func:`rasterclass.predict_raster` returns (its ``classes`` are written).
        Nodata of the array (``rio.nodata``, NaN) is written as 0.
    path
        Output GeoTIFF.
    class_map
        Codes, names and colours. Default: the class map the Dataset or the array carries
        (``predict_raster`` outputs carry theirs).
    **options
        How the file is written (:class:`~rasterclass.io.WriteOptions`, passed to
        :func:`write_rasters`): ``overwrite`` replaces an existing file (only ever a file of
        an earlier run); ``progress``, a ``(done, total)`` callback, is called as blocks are
        written; ``cog`` writes a Cloud Optimized GeoTIFF (overviews down to one tile, ahead
        of the data); ``overviews`` builds internal overviews (``mode`` resampling, so nodata
        stays 0; default: for rasters longer than 1024 px on a side, and always with ``cog``).

    Returns
    -------
    str
        The path written. Beside it: ``PATH.aux.xml`` and the QGIS style ``PATH.qml`` (name
        without ``.tif``).

    Raises
    ------
    ClassMapError
        No class map is given or carried, or the map holds a code the class map does not list.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    RasterclassIOError
        The file cannot be created or written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, rasterio, xarray as xr, rioxarray
    >>> import rasterclass as rc
    >>> classes = xr.DataArray(np.array([[1, 2], [0, 1]], dtype="uint8"), dims=("y", "x"),
    ...                        coords={"y": [15.0, 5.0], "x": [5.0, 15.0]})
    >>> classes = classes.rio.write_crs("EPSG:32633").rio.write_transform(
    ...     rasterio.Affine(10, 0, 0, 0, -10, 20))  # 10 m pixels
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> class_map = rc.ClassMap.from_values(["water", "forest"])  # codes 1, 2 by name
    >>> path = rc.write_map(classes, folder / "map.tif", class_map)
    >>> sorted(p.name for p in folder.iterdir())
    ['map.qml', 'map.tif', 'map.tif.aux.xml']
    >>> rc.open_scene(path, unscale=False).values[0].tolist()
    [[1.0, 2.0], [nan, 1.0]]
    """
    return write_rasters([map_output(classes, path, class_map)], **options)[0]


def map_output(
    classes: xr.DataArray | xr.Dataset, path: PathLike, class_map: ClassMap | None = None
) -> RasterOutput:
    """How a thematic map is written (see :func:`write_map`), for :func:`write_rasters`:
    to write it in one pass with other layers on its grid.

    Parameters
    ----------
    classes, path, class_map
        As :func:`write_map`.

    Returns
    -------
    RasterOutput
        The codes (0 = nodata) in the class map's dtype, with its class map and the
        training-pixel record the array carries.

    Raises
    ------
    ClassMapError
        No class map is given or carried.
    """
    if isinstance(classes, xr.Dataset):
        if "classes" not in classes:
            raise ClassMapError(
                "the Dataset has no 'classes' variable; pass predict_raster's result or a "
                "class DataArray"
            )
        if class_map is None and "class_map" in classes.attrs:
            class_map = _class_map_attr(classes.attrs["class_map"])
        classes = classes["classes"]
    if class_map is None:
        value = classes.attrs.get(CLASSMAP_TAG, classes.attrs.get("class_map"))
        if value is None:
            raise ClassMapError(
                "the class array carries no class map; pass class_map= (e.g. the model's "
                "class_map, or ClassMap.from_codes(...))"
            )
        class_map = _class_map_attr(value)
    nodata = None
    with contextlib.suppress(Exception):
        nodata = classes.rio.nodata
    if classes.dtype.kind == "f":
        classes = classes.fillna(0)
    if nodata is not None and not np.isnan(nodata) and nodata != 0:
        classes = classes.where(classes != nodata, 0)
    # the record of the model's training pixels that predict_raster puts on the layer
    tags = {k: str(classes.attrs[k]) for k in (RECORD_TAG, SHA256_TAG) if k in classes.attrs}
    return RasterOutput(
        classes.astype(class_map.dtype), path, nodata=0, class_map=class_map, tags=tags
    )


def _class_map_attr(value: Any) -> ClassMap:
    try:
        return ClassMap.from_dict(json.loads(value) if isinstance(value, str) else dict(value))
    except (TypeError, ValueError, KeyError) as exc:
        raise ClassMapError(
            f"cannot read the class map the array carries ({exc}); pass class_map="
        ) from None


def read_quicklook(path: PathLike, max_size: int = 1200, band: int = 1) -> tuple[np.ndarray, Any]:
    """A band of a raster (a class map's by default) decimated to at most ``max_size`` pixels
    a side (nearest neighbour, read from overviews or by decimation, never the full map), and
    its transform. ``band`` counts from 1; nodata is left as stored."""
    with open_raster(str(path)) as src:
        scale = max(src.width, src.height) / max_size
        if scale <= 1:
            return src.read(band), src.transform
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        data = src.read(band, out_shape=shape, resampling=Resampling.nearest)
        transform = src.transform * src.transform.scale(src.width / shape[1], src.height / shape[0])
        return data, transform
