"""Scenes: opening rasters as lazy ``(band, y, x)`` DataArrays and the scene invariants.

Owns :func:`open_scene` (one multiband file or several stacked files, resampled onto one
grid, scale/offset applied, nodata as NaN, lazily read chunk by chunk), :func:`as_scene`
(any raster DataArray brought to the same form, its radiometry records taken from
:mod:`~rasterclass.radiometry`) and the grid of a scene (:func:`scene_grid`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import rasterio
import rasterio.errors
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling

from rasterclass.errors import CRSError, RasterclassIOError, SceneError
from rasterclass.io._read import RasterSource, decode_block, float_dtype, lazy_read, open_raster
from rasterclass.io.chunks import auto_chunk, check_chunks, enough_chunks, split_length
from rasterclass.io.paths import PathLike
from rasterclass.radiometry import RADIOMETRY_ATTR, radiometry_records, rename_bands
from rasterclass.stack import (
    Grid,
    band_names_from_files,
    check_crs,
    choose_grid,
    is_positional,
    positional_name,
    resolve_band_names,
)

logger = logging.getLogger(__name__)


def open_scene(
    paths: PathLike | Sequence[PathLike],
    *,
    band_names: Sequence[str] | None = None,
    chunks: int | None = None,
    memory_budget: float | None = None,
    reference: PathLike | int | None = None,
    resampling: str = "nearest",
    crs: Any = None,
    nodata: float | None = None,
    unscale: bool = True,
) -> xr.DataArray:
    """Open one multiband raster, or several rasters stacked in order, as a lazy scene.

    Values are read as GDAL defines them: a band's declared scale and offset are applied
    on read, ``value = stored * scale + offset`` (in float64, then stored in the scene's
    float type), so a scene stored as scaled integers (Sentinel-2 L2A since processing
    baseline 04.00: reflectance = (DN - 1000) / 10000, i.e. scale 0.0001 and offset -0.1)
    gives the same values as the same reflectance stored as floats. Pixels equal to the
    nodata value (compared with the stored value, before scaling) become NaN. How each band
    is stored (dtype, scale, offset, nodata) is recorded in ``attrs["radiometry"]``; a model
    trained on the scene keeps that record and warns (:class:`RadiometryWarning`) when a
    scene to classify is stored differently.

    Parameters
    ----------
    paths
        One path, or several paths whose bands are stacked in the given order
        (Landsat/Sentinel-2 one-file-per-band style).
    band_names
        Names for the bands. Default: band descriptions when every band has a unique one,
        else the file name for one-band files (``..._B4.TIF`` -> ``B4``) and the position
        for bands of multiband files (``band_1``, ``band_2``..., as GDAL numbers them).
    chunks
        Chunk side in pixels (band is always one chunk). Default: from ``memory_budget`` or
        1024.
    memory_budget
        Bytes of memory a run may use; sets the chunk size when ``chunks`` is not given.
    reference
        A path (or index into ``paths``) whose grid every file is resampled onto. Needed when
        files are on different grids; identical grids need none, and same-extent grids of
        different resolutions go onto the finest one.
    resampling
        Resampling for files that are not on the reference grid (``nearest``, ``bilinear``,
        ``cubic``, ``average``...).
    crs
        Assign this CRS to inputs that have none.
    nodata
        Override the nodata value declared in the files (a stored value, before scaling).
    unscale
        Apply the bands' scale and offset (default). ``False`` reads stored values (class
        maps, codes).

    Returns
    -------
    xarray.DataArray
        Dims ``("band", "y", "x")``, float32 (float64 for 32-bit integer or float64 input),
        nodata as NaN, scale and offset applied, a ``band`` coordinate of names, CRS and
        transform via rioxarray, dask chunks with ``band`` in one chunk,
        ``attrs["radiometry"]`` (one record per band: ``band``, ``dtype``, ``scale``,
        ``offset``, ``nodata``) and ``attrs["source_files"]``.

    Raises
    ------
    RasterclassIOError
        No path; a missing, unreadable or rotated file; ``chunks`` < 1 or ``memory_budget`` <= 0.
    CRSError
        A file has no CRS (and ``crs`` is not given), or files are in different CRSs.
    GridMismatchError
        Files on different grids and no usable ``reference``.
    BandMismatchError
        ``band_names`` does not give one unique name per band.

    Examples
    --------
    A two-band, 3 x 4 pixel GeoTIFF written to a temporary folder:

    >>> import tempfile, pathlib, numpy as np, rasterio
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scene.tif"
    >>> with rasterio.open(path, "w", driver="GTiff", width=4, height=3, count=2,
    ...                    dtype="uint16", nodata=0, crs="EPSG:32633",
    ...                    transform=rasterio.Affine(30, 0, 500_000, 0, -30, 4_000_000)) as f:
    ...     f.write(np.arange(24, dtype="uint16").reshape(2, 3, 4))
    >>> scene = open_scene(path, band_names=["red", "nir"])
    >>> scene.dims, scene.shape, str(scene.dtype), scene.rio.crs.to_epsg()
    (('band', 'y', 'x'), (2, 3, 4), 'float32', 32633)
    >>> int(np.isnan(scene.values).sum())  # the stored 0 is nodata
    1
    """
    path_list = [str(paths)] if isinstance(paths, str | os.PathLike) else [str(p) for p in paths]
    if not path_list:
        raise RasterclassIOError("no scene file given; pass at least one raster")
    check_chunks(chunks, memory_budget)
    infos = []
    for p in path_list:
        with open_raster(p) as src:
            src_crs = src.crs
            if src_crs is None or not src_crs.to_wkt():
                if crs is None:
                    check_crs(None, f"scene file {p}")
                src_crs = rasterio.crs.CRS.from_user_input(crs)
            if src.transform.b != 0 or src.transform.d != 0:
                raise RasterclassIOError(
                    f"{p} is rotated or sheared; warp it to a north-up grid first (gdalwarp)"
                )
            infos.append(
                {
                    "grid": Grid(src_crs, src.transform, src.width, src.height),
                    "count": src.count,
                    "descriptions": list(src.descriptions),
                    "dtypes": list(src.dtypes),
                    "nodata": src.nodata,
                    "scales": tuple(float(v) for v in src.scales),
                    "offsets": tuple(float(v) for v in src.offsets),
                    "native_crs": src.crs is not None and bool(src.crs.to_wkt()),
                }
            )
    grids = [i["grid"] for i in infos]
    ref_index: int | None = None
    if reference is not None:
        if isinstance(reference, int):
            ref_index = reference
        elif str(reference) in path_list:
            ref_index = path_list.index(str(reference))
        else:
            with open_raster(str(reference)) as ref:
                rcrs = check_crs(ref.crs, f"reference grid {reference}")
                grids.append(Grid(rcrs, ref.transform, ref.width, ref.height))
                ref_index = len(grids) - 1
    grid = choose_grid(grids, [*path_list, str(reference)][: len(grids)], ref_index)
    try:
        resampling_enum = Resampling[resampling]
    except KeyError:
        options = ", ".join(r.name for r in Resampling if r.value < 14)
        raise RasterclassIOError(
            f"unknown resampling {resampling!r}; use one of {options}"
        ) from None
    sources = []
    for p, info in zip(path_list, infos, strict=True):
        warp = not info["grid"].same_as(grid) or not info["native_crs"]
        if warp:
            logger.info("resampling %s onto the scene grid (%s)", p, resampling)
        scaled = unscale and (
            any(v != 1.0 for v in info["scales"]) or any(v != 0.0 for v in info["offsets"])
        )
        if scaled:
            logger.info(
                "%s: applying band scale %s and offset %s on read",
                p,
                list(info["scales"]),
                list(info["offsets"]),
            )
        sources.append(
            RasterSource(
                p,
                tuple(range(1, info["count"] + 1)),
                warp,
                resampling_enum.value,
                nodata,
                info["scales"] if scaled else None,
                info["offsets"] if scaled else None,
            )
        )
    described = [d for i in infos for d in i["descriptions"]]
    names = resolve_band_names(
        described, band_names_from_files(path_list, [i["count"] for i in infos]), band_names
    )
    dtype = float_dtype([d for i in infos for d in i["dtypes"]])
    radiometry = radiometry_records(
        names,
        [d for i in infos for d in i["dtypes"]],
        [v for i in infos for v in (i["scales"] if unscale else (1.0,) * i["count"])],
        [v for i in infos for v in (i["offsets"] if unscale else (0.0,) * i["count"])],
        [nodata if nodata is not None else i["nodata"] for i in infos for _ in range(i["count"])],
    )
    side = chunks or enough_chunks(
        auto_chunk(len(names), memory_budget, np.dtype(dtype).itemsize), grid
    )
    ychunks = split_length(grid.height, side)
    xchunks = split_length(grid.width, side)
    data = lazy_read(tuple(sources), grid, dtype, len(names), ychunks, xchunks)
    y, x = grid.coords()
    scene = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": names, "y": y, "x": x},
        name="scene",
        attrs={"source_files": list(path_list), RADIOMETRY_ATTR: json.dumps(radiometry)},
    )
    scene = scene.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    logger.info("opened scene %s: %d bands %s, %s", path_list, len(names), names, grid.describe())
    return scene


#: Attributes of an incoming array that describe its stored values; they do not carry over
#: to the scene (whose values are decoded).
_ENCODING_ATTRS = (
    "_FillValue",
    "missing_value",
    "nodata",
    "scale_factor",
    "add_offset",
    "scales",
    "offsets",
    "long_name",
)


def _per_band(value: Any, n: int, coords: Sequence[Any], what: str) -> list[float] | None:
    """A per-band attribute (one value, or one per band of the file) for ``n`` bands."""
    if value is None:
        return None
    if np.ndim(value) == 0:
        return [float(value)] * n
    values = [float(v) for v in value]
    if len(values) == n:
        return values
    if all(isinstance(c, int | np.integer) and 1 <= int(c) <= len(values) for c in coords):
        return [values[int(c) - 1] for c in coords]  # bands selected from a file's bands
    raise SceneError(
        f"the scene array has {n} bands but its '{what}' attribute has {len(values)} values; "
        "select bands by their number (isel keeps rioxarray's band coordinate) or drop the "
        "attribute after decoding the values yourself"
    )


def _band_coord_names(arr: xr.DataArray) -> list[str]:
    """Band names of an array: strings kept, band numbers (rioxarray's 1..n) and missing
    coordinates become position names (``band_1``...)."""
    n = arr.sizes["band"]
    if "band" not in arr.coords:
        return [positional_name(i) for i in range(1, n + 1)]
    values = list(arr["band"].values)
    if all(isinstance(v, int | np.integer) for v in values) or all(
        isinstance(v, str) and v.isdigit() for v in values
    ):
        return [positional_name(int(v)) for v in values]
    return [str(v) for v in values]


def _long_names(arr: xr.DataArray) -> list[str | None]:
    long_name = arr.attrs.get("long_name")
    n = arr.sizes["band"]
    if isinstance(long_name, str):
        return [long_name] if n == 1 else [None] * n
    if isinstance(long_name, list | tuple) and len(long_name) == n:
        return [str(v) if v else None for v in long_name]
    return [None] * n


def as_scene(
    scene: xr.DataArray,
    *,
    band_names: Sequence[str] | None = None,
    nodata: float | None = None,
) -> xr.DataArray:
    """Bring any raster DataArray to the scene form every rasterclass function works on.

    The same invariants as :func:`open_scene`: dims ``("band", "y", "x")``, float values
    with NaN at nodata, scale and offset applied, a ``band`` coordinate of unique names,
    ``band`` in one dask chunk, and ``attrs["radiometry"]`` recording how the values were
    stored. Every public function that takes a scene array calls it, so an array from
    ``rioxarray.open_rasterio(path)`` (masked or not, with or without ``chunks=``), a
    scene from :func:`open_scene` and an in-memory array all give the same result.

    - nodata: ``nodata`` if given, else ``scene.rio.nodata`` (from ``_FillValue``); with
      ``masked=True`` / ``mask_and_scale=True`` the masked pixels are already NaN (the
      encoded value is not compared again). NaN in float input is nodata.
    - scale/offset: ``scale_factor``/``add_offset`` (or per-band ``scales``/``offsets``)
      attributes are applied, ``value * scale + offset``, as :func:`open_scene` applies
      GDAL's; values already decoded by rioxarray (``mask_and_scale=True``) are not scaled
      again.
    - band names: ``band_names`` if given, else the ``band`` coordinate when it holds names,
      else ``long_name`` (GDAL band descriptions) when every band has a unique one, else
      positions (``band_1``...): rioxarray's band numbers 1..n are positions.

    A scene that already has these invariants is returned as it is (cheap to call again).

    Parameters
    ----------
    scene
        ``(band, y, x)`` or ``(y, x)`` DataArray, dask-backed or in memory, any dtype.
    band_names
        Names for the bands (overrides the array's).
    nodata
        Stored value that marks nodata (overrides the array's).

    Returns
    -------
    xarray.DataArray
        The scene; lazy when the input is dask-backed. CRS and transform are kept.

    Raises
    ------
    SceneError
        Not a DataArray of dims ``(band, y, x)`` or ``(y, x)``, no band, or unusable
        scale/offset.
    BandMismatchError
        ``band_names`` does not give one unique name per band.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> raw = xr.DataArray(np.array([[[0, 1200]], [[0, 3000]]], dtype="u2"),
    ...                    dims=("band", "y", "x"), coords={"band": [1, 2]},
    ...                    attrs={"_FillValue": 0, "scale_factor": 1e-4, "add_offset": -0.1})
    >>> scene = as_scene(raw)
    >>> [str(b) for b in scene["band"].values]
    ['band_1', 'band_2']
    >>> scene.values[:, 0, 1].astype(float).round(4).tolist()
    [0.02, 0.2]
    >>> bool(np.isnan(scene.values[:, 0, 0]).all())
    True
    """
    if not isinstance(scene, xr.DataArray):
        raise SceneError(
            f"a scene is an xarray.DataArray (band, y, x), got {type(scene).__name__}; open "
            "files with open_scene() or rioxarray.open_rasterio()"
        )
    if scene.ndim == 2 and set(scene.dims) == {"y", "x"}:
        scene = scene.expand_dims("band")
    if set(scene.dims) != {"band", "y", "x"}:
        raise SceneError(
            f"a scene has dims ('band', 'y', 'x'), got {scene.dims}; rename or transpose them "
            "(scene.rename(...)), or open the file with open_scene()"
        )
    if scene.dims != ("band", "y", "x"):
        scene = scene.transpose("band", "y", "x")
    if scene.sizes["band"] == 0:
        raise SceneError("the scene has no bands; select at least one (scene.isel(band=...))")
    attrs = scene.attrs
    done = (
        RADIOMETRY_ATTR in attrs
        and scene.dtype.kind == "f"
        and nodata is None
        and not any(k in attrs for k in _ENCODING_ATTRS)
        and "band" in scene.coords
        and all(isinstance(v, str) for v in scene["band"].values)
    )
    if done:
        if band_names is not None:
            current = [str(b) for b in scene["band"].values]
            scene = rename_bands(scene, resolve_band_names(current, current, band_names))
        return _band_in_one_chunk(scene)
    n = scene.sizes["band"]
    coords = list(scene["band"].values) if "band" in scene.coords else list(range(1, n + 1))
    coord_names = _band_coord_names(scene)
    if band_names is None and not is_positional(coord_names):
        names = resolve_band_names(coord_names, coord_names, None)
    else:
        names = resolve_band_names(_long_names(scene), coord_names, band_names)
    stored = str(scene.encoding.get("dtype", scene.dtype))
    if nodata is None:
        try:
            nodata = scene.rio.nodata
        except Exception:  # a malformed attribute: fall back to the plain attribute
            nodata = attrs.get("_FillValue")
    if nodata is not None and math.isnan(float(nodata)):
        nodata = None
    encoded = None
    if nodata is None:
        with contextlib.suppress(Exception):
            encoded = scene.rio.encoded_nodata
    scales = _per_band(attrs.get("scale_factor", attrs.get("scales")), n, coords, "scales")
    offsets = _per_band(attrs.get("add_offset", attrs.get("offsets")), n, coords, "offsets")
    if scales is not None and all(v == 1.0 for v in scales):
        scales = None
    if offsets is not None and all(v == 0.0 for v in offsets):
        offsets = None
    decoded_scale = scene.encoding.get("scale_factor", 1.0)
    decoded_offset = scene.encoding.get("add_offset", 0.0)
    record_nodata = nodata if nodata is not None else encoded
    radiometry = radiometry_records(
        names,
        [stored] * n,
        scales or [float(decoded_scale)] * n,
        offsets or [float(decoded_offset)] * n,
        [record_nodata] * n,
    )
    dtype = float_dtype([stored, scene.dtype.name])
    scale_arr = None if scales is None else tuple(scales)
    offset_arr = None if offsets is None else tuple(offsets)
    data = scene.data
    if isinstance(data, da.Array):
        if len(data.chunks[0]) != 1:
            data = data.rechunk({0: -1})
        values = data.map_blocks(
            decode_block,
            nodata,
            scale_arr,
            offset_arr,
            dtype,
            dtype=dtype,
            meta=np.array((), dtype=dtype),
        )
    else:
        values = decode_block(np.asarray(data), nodata, scale_arr, offset_arr, dtype)
    keep = {k: v for k, v in attrs.items() if k not in _ENCODING_ATTRS}
    keep[RADIOMETRY_ATTR] = json.dumps(radiometry)
    out = xr.DataArray(
        values,
        dims=("band", "y", "x"),
        coords={**{k: v for k, v in scene.coords.items() if k != "band"}, "band": names},
        name=scene.name,
        attrs=keep,
    )
    if nodata is not None or scales is not None or offsets is not None:
        logger.info(
            "scene array: nodata %s, scale %s, offset %s applied; bands %s",
            nodata,
            scales,
            offsets,
            names,
        )
    return out


def _band_in_one_chunk(scene: xr.DataArray) -> xr.DataArray:
    data = scene.data
    if isinstance(data, da.Array) and len(data.chunks[0]) != 1:
        return scene.chunk({"band": -1})
    return scene


def scene_grid(scene: xr.DataArray) -> Grid:
    """The grid of a scene (or map) DataArray."""
    crs = scene.rio.crs
    if crs is None:
        raise CRSError("the scene has no CRS; open it with open_scene() or set scene.rio.crs")
    return Grid(crs, scene.rio.transform(recalc=True), scene.sizes["x"], scene.sizes["y"])
