"""Probability layers: the per-class probability (and confidence) bands of a prediction,
stacked, described and written.

Owns :func:`stack_probabilities` (a prediction's probability and confidence layers as one
``(band, y, x)`` array in class-map order), :func:`probability_output` (how such a stack is
written: one described, coded band per class, for :func:`~rasterclass.io.write_rasters`),
:func:`write_probabilities`, and the band tag values :data:`PROBABILITY_LAYER` and
:data:`CONFIDENCE_LAYER`. Class maps are in :mod:`rasterclass.io.maps`.
"""

from __future__ import annotations

import json
from typing import Unpack

import numpy as np
import xarray as xr

from rasterclass.errors import ClassMapError
from rasterclass.io.paths import PathLike
from rasterclass.io.styles import probabilities_qml
from rasterclass.io.writer import RasterOutput, WriteOptions, as_3d, write_rasters

#: Band tag values of probability layers.
PROBABILITY_LAYER = "probability"

CONFIDENCE_LAYER = "confidence"


def probability_output(probabilities: xr.DataArray, path: PathLike) -> RasterOutput:
    """How a probability stack is written: one band per class, described and coded.

    Every band's description is its name (the class name, or ``confidence``); class bands
    carry the tags ``layer=probability``, ``class_code`` and ``class_name`` (from the
    ``class_code`` coordinate that :func:`rasterclass.predict_raster` and
    :func:`stack_probabilities` set), the confidence band
    ``layer=confidence``. The file is band-interleaved and grey (not an RGB composite), with
    ``average`` overviews and a QGIS ``.qml`` style that shows the confidence band (else the
    first band) from 0 to 1.
    """
    arr = as_3d(probabilities)
    names = [str(b) for b in arr["band"].values]
    if "class_code" in arr.coords:
        codes = [int(c) for c in np.atleast_1d(arr["class_code"].values)]
    else:
        codes = [0] * len(names)
    band_tags: list[dict[str, str]] = []
    listing = []
    for i, (name, code) in enumerate(zip(names, codes, strict=True), start=1):
        if code > 0:
            band_tags.append(
                {"layer": PROBABILITY_LAYER, "class_code": str(code), "class_name": name}
            )
            listing.append({"band": i, "class_code": code, "class_name": name})
        elif name == CONFIDENCE_LAYER:
            band_tags.append({"layer": CONFIDENCE_LAYER, "definition": "highest class probability"})
        else:
            band_tags.append({"layer": name})
    shown = names.index(CONFIDENCE_LAYER) + 1 if CONFIDENCE_LAYER in names else 1
    return RasterOutput(
        arr,
        path,
        nodata=float("nan"),
        descriptions=names,
        band_tags=band_tags,
        tags={"RASTERCLASS_PROBABILITY_BANDS": json.dumps(listing)} if listing else {},
        resampling="average",
        style=probabilities_qml(shown, names[shown - 1]),
    )


def stack_probabilities(prediction: xr.Dataset) -> xr.DataArray:
    """Probability layers plus the confidence layer as one (band, y, x) array for writing.

    Bands are in class-map order (legend order, else code order), each named by its class
    and carrying its code in the ``class_code`` coordinate; the last band is ``confidence``
    (``class_code`` 0: not a class).
    """
    proba = prediction["probabilities"]
    if "class_code" not in proba.coords:
        proba = proba.assign_coords(class_code=("band", [0] * proba.sizes["band"]))
    conf = prediction["confidence"].expand_dims(band=["confidence"])
    conf = conf.assign_coords(class_code=("band", [0]))
    stacked = xr.concat([proba, conf], dim="band")
    stacked.attrs["long_name"] = tuple(str(b) for b in stacked["band"].values)
    return stacked


def write_probabilities(
    probabilities: xr.DataArray | xr.Dataset,
    path: PathLike,
    **options: Unpack[WriteOptions],
) -> str:
    """Write per-class probability (and confidence) layers as float32, nodata NaN.

    See :func:`probability_output` for the layout (one band per class in class-map order,
    described by the class name and tagged ``class_code``/``class_name``, band-interleaved,
    a QGIS style showing the confidence band) and :func:`write_rasters` for ``cog`` and
    ``overviews`` (``average`` overviews).

    Parameters
    ----------
    probabilities
        A ``(band, y, x)`` array of layers named by class (values 0..1, CRS and transform via
        rioxarray), or the Dataset :func:`rasterclass.predict_raster` returns with
        ``probabilities=True`` (its probability layers and the confidence layer are written).
    path
        Output GeoTIFF.
    **options
        ``overwrite``, ``progress``, ``cog``, ``overviews``
        (:class:`~rasterclass.io.WriteOptions`): as for :func:`~rasterclass.io.write_map`.

    Returns
    -------
    str
        The path written (a QGIS style ``.qml`` is written beside it).

    Raises
    ------
    ClassMapError
        The Dataset has no probability layers (``probabilities=False``).
    OutputExistsError, RasterclassIOError
        As for :func:`~rasterclass.io.write_map`: ``path`` exists and ``overwrite`` is
        False; the file cannot be created or written.

    Examples
    --------
    >>> import rasterclass as rc
    >>> import pathlib, tempfile
    >>> import numpy as np, rasterio, xarray as xr, rioxarray
    >>> proba = xr.DataArray(np.array([[[0.9, 0.2]], [[0.1, 0.8]]], dtype="float32"),
    ...                      dims=("band", "y", "x"),
    ...                      coords={"band": ["forest", "water"], "y": [5.0], "x": [5.0, 15.0]})
    >>> proba = proba.rio.write_crs("EPSG:32633").rio.write_transform(
    ...     rasterio.Affine(10, 0, 0, 0, -10, 10))
    >>> path = rc.write_probabilities(proba, pathlib.Path(tempfile.mkdtemp()) / "proba.tif")
    >>> scene = rc.open_scene(path)
    >>> [str(b) for b in scene["band"].values]
    ['forest', 'water']
    """
    if isinstance(probabilities, xr.Dataset):
        if "probabilities" not in probabilities:
            raise ClassMapError(
                "the Dataset has no probability layers; call predict_raster(..., "
                "probabilities=True)"
            )
        probabilities = stack_probabilities(probabilities)
    out = probability_output(probabilities, path)
    return write_rasters([out], **options)[0]
