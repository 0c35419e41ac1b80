"""Tiny example data for docstrings, tutorials and tests (like :mod:`sklearn.datasets`).

Every function writes (or builds) the same small world: 10 m pixels in EPSG:32633 with
water on the left and forest on the right.

- :func:`example_scene`: a 2-band float32 scene of 8 x 8 pixels, origin (0, 80).
- :func:`example_training`: two training boxes over that scene, ``water`` and ``forest``.
- :func:`example_map`: a class map of 4 x 4 pixels, origin (0, 40) (``forest`` left,
  ``water`` right).
- :func:`example_array`: any values on that grid, in memory (lower-left corner at (0, 0)),
  for examples that build their own scene.

Files are written through :mod:`rasterclass.io` into a new temporary folder unless a folder
is given; nothing is downloaded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from rasterclass.classes import ClassMap
from rasterclass.errors import SceneError
from rasterclass.io import PathLike, RasterOutput, write_map, write_rasters
from rasterclass.stack import Grid, georeferenced

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import ArrayLike

#: The CRS of every example: UTM zone 33N.
EXAMPLE_CRS = "EPSG:32633"

#: Band values of the example scene's two halves (band 1, band 2).
WATER = (0.1, 0.3)
FOREST = (0.6, 0.1)


def _target(folder: PathLike | None, name: str) -> Path:
    return Path(tempfile.mkdtemp() if folder is None else folder) / name


def example_array(values: ArrayLike, band_names: Sequence[str] | None = None) -> xr.DataArray:
    """Values on the examples' grid: 10 m pixels in EPSG:32633, lower-left corner at (0, 0).

    The grid has as many rows and columns as ``values`` (:func:`example_scene` and
    :func:`example_map` are such arrays, written); the array carries the ``y``/``x``
    coordinates, the CRS and the transform, as a scene opened by rasterclass does.

    Parameters
    ----------
    values
        ``(y, x)`` or ``(band, y, x)`` values, kept as given (dtype, NaN).
    band_names
        The ``band`` coordinate of ``(band, y, x)`` values; default none.

    Returns
    -------
    xarray.DataArray
        ``values`` with dims ``("y", "x")`` or ``("band", "y", "x")``, in memory.

    Raises
    ------
    SceneError
        ``values`` is not 2-D or 3-D, or ``band_names`` has not one name per band.

    Examples
    --------
    >>> import numpy as np
    >>> from rasterclass.datasets import example_array
    >>> scene = example_array(np.zeros((2, 1, 3), "f4"), band_names=["red", "nir"])
    >>> scene.rio.bounds(), scene.rio.crs.to_epsg(), scene.band.values.tolist()
    ((0.0, 0.0, 30.0, 10.0), 32633, ['red', 'nir'])
    """
    data = np.asarray(values)
    if data.ndim not in (2, 3):
        raise SceneError(f"values of shape {data.shape}: give (y, x) or (band, y, x) values")
    height, width = data.shape[-2:]
    grid = Grid(CRS.from_string(EXAMPLE_CRS), Affine(10, 0, 0, 0, -10, 10 * height), width, height)
    y, x = grid.coords()
    coords: dict[str, Any] = {"y": y, "x": x}
    if band_names is not None:
        if data.ndim != 3 or len(band_names) != data.shape[0]:
            raise SceneError(
                f"{len(band_names)} band names for values of shape {data.shape}: give one "
                "name per band of (band, y, x) values"
            )
        coords["band"] = list(band_names)
    dims = ("y", "x") if data.ndim == 2 else ("band", "y", "x")
    return georeferenced(xr.DataArray(data, dims=dims, coords=coords), grid)


def example_scene(folder: PathLike | None = None) -> str:
    """Write a tiny scene: 8 x 8 pixels of 10 m in EPSG:32633 (origin 0, 80), 2 float32 bands.

    The four left columns are water (band values 0.1 and 0.3), the four right ones forest
    (0.6 and 0.1). The bands have no names (they read as ``band_1``, ``band_2``) and no
    nodata value.

    Parameters
    ----------
    folder
        Where to write ``scene.tif``; default a new temporary folder.

    Returns
    -------
    str
        The path of the scene.

    Raises
    ------
    OutputExistsError
        ``folder`` already holds a ``scene.tif``.

    Examples
    --------
    >>> from rasterclass.datasets import example_scene
    >>> from rasterclass.io import open_scene
    >>> scene = open_scene(example_scene())
    >>> scene.shape, scene.values[:, 0, [0, 7]].tolist()
    ((2, 8, 8), [[0.1, 0.6], [0.3, 0.1]])
    """
    data = np.empty((2, 8, 8), dtype="float32")
    data[:, :, :4] = np.array(WATER, dtype="float32")[:, None, None]
    data[:, :, 4:] = np.array(FOREST, dtype="float32")[:, None, None]
    out = RasterOutput(example_array(data), _target(folder, "scene.tif"))
    return write_rasters([out])[0]


def example_training() -> gpd.GeoDataFrame:
    """Two training polygons over :func:`example_scene`, class column ``class``.

    ``water`` covers the three leftmost pixel columns (x 0 to 30 m), ``forest`` the three
    rightmost (x 50 to 80 m), both over the whole height: 24 pixels each, and the two middle
    columns are left out.

    Returns
    -------
    geopandas.GeoDataFrame
        Two rows, ``class`` ``water`` and ``forest``, polygons in EPSG:32633.

    Examples
    --------
    >>> from rasterclass.datasets import example_training
    >>> training = example_training()
    >>> training["class"].tolist(), training.total_bounds.tolist()
    (['water', 'forest'], [0.0, 0.0, 80.0, 80.0])
    """
    import geopandas as gpd
    from shapely.geometry import box

    return gpd.GeoDataFrame(
        {"class": ["water", "forest"]},
        crs=EXAMPLE_CRS,
        geometry=[box(0, 0, 30, 80), box(50, 0, 80, 80)],
    )


def example_map(folder: PathLike | None = None) -> str:
    """Write a tiny class map: 4 x 4 pixels of 10 m in EPSG:32633 (origin 0, 40).

    ``forest`` (code 1) fills the two left columns, ``water`` (code 2) the two right ones;
    the map carries its class names, colours and sidecars (see
    :func:`rasterclass.write_map`).

    Parameters
    ----------
    folder
        Where to write ``map.tif``; default a new temporary folder.

    Returns
    -------
    str
        The path of the map.

    Raises
    ------
    OutputExistsError
        ``folder`` already holds a ``map.tif``.

    Examples
    --------
    >>> from rasterclass.datasets import example_map
    >>> from rasterclass.io import open_scene
    >>> open_scene(example_map(), unscale=False).values[0, 0].tolist()
    [1.0, 1.0, 2.0, 2.0]
    """
    codes = np.repeat([[1, 1, 2, 2]], 4, axis=0).astype("uint8")
    return write_map(
        example_array(codes), _target(folder, "map.tif"), ClassMap.from_values(["forest", "water"])
    )
