"""All file input and output: scenes, vectors, legends, maps, probability layers, model files.

Only this module opens or writes files. Scenes are read lazily, chunk by chunk, by one
module-level block reader that keeps only file *paths* in the dask graph (so the graph runs
on threads, processes or a ``dask.distributed`` cluster). Every output is written to a
temporary file beside the target and renamed when complete, so a failure never leaves a half
file, and nothing is overwritten unless asked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import uuid
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import dask
import dask.array as da
import numpy as np
import rasterio
import rasterio.errors
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from rasterclass.classes import ClassMap, parse_colour
from rasterclass.errors import (
    ClassMapError,
    CRSError,
    OutputExistsError,
    RasterclassIOError,
    SceneError,
)
from rasterclass.parallel import compute_stream, n_threads
from rasterclass.stack import (
    Grid,
    band_names_from_files,
    check_crs,
    choose_grid,
    is_positional,
    positional_name,
    resolve_band_names,
)
from rasterclass.training_pixels import (
    RECORD_TAG,
    SIDECAR_SUFFIX,
    TrainingPixels,
    read_sidecar_deltas,
)

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
ProgressCallback = Callable[[int, int], None]

#: Default chunk side in pixels when no chunks and no memory budget are given.
DEFAULT_CHUNK = 512
#: GeoTIFF tile size of every raster rasterclass writes.
TILE = 256
#: Rasters with a side longer than this get internal overviews by default.
OVERVIEW_MIN_SIDE = 1024
CLASSMAP_TAG = "RASTERCLASS_CLASSMAP"
#: Scene attribute holding how each band is stored (JSON list of records).
RADIOMETRY_ATTR = "radiometry"


# ------------------------------------------------------------------------------------------
# Reading scenes
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Source:
    """One input file as the block reader needs it (picklable, paths only)."""

    path: str
    indexes: tuple[int, ...]
    warp: bool
    resampling: int
    nodata: float | None
    #: GDAL scale and offset of each band read (None: values are used as stored).
    scales: tuple[float, ...] | None = None
    offsets: tuple[float, ...] | None = None


def _open_raster(path: str) -> Any:
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        if not os.path.exists(path):
            raise RasterclassIOError(f"raster {path} does not exist; check the path") from None
        raise RasterclassIOError(
            f"cannot read raster {path}: {exc}; the file is corrupt or not a raster GDAL "
            "reads (re-export or re-download it)"
        ) from None


def _read_source(
    src: Any, source: _Source, window: Window, alpha: bool = False
) -> np.ma.MaskedArray:
    if alpha:  # warped file without nodata: the added alpha band marks the covered area
        data = src.read(list(source.indexes), window=window)
        uncovered = src.read(src.count, window=window) == 0
        return np.ma.MaskedArray(data, mask=np.broadcast_to(uncovered, data.shape))
    if source.nodata is not None:
        data = src.read(list(source.indexes), window=window)
        mask = data == source.nodata
        return np.ma.MaskedArray(data, mask=mask)
    return src.read(list(source.indexes), window=window, masked=True)


def _read_block(
    sources: tuple[_Source, ...], grid: Grid, dtype: str, block_info: Any = None
) -> np.ndarray:
    """Read one (band, y, x) block of the stacked scene; nodata becomes NaN (0 for integer
    outputs such as segment ids)."""
    loc = block_info[None]["array-location"]
    (r0, r1), (c0, c1) = loc[1], loc[2]
    window = Window(c0, r0, c1 - c0, r1 - r0)
    parts = []
    for source in sources:
        try:
            with rasterio.open(source.path) as src:
                if source.warp:
                    alpha = source.nodata is None and src.nodata is None
                    with WarpedVRT(
                        src,
                        crs=grid.crs,
                        transform=grid.transform,
                        width=grid.width,
                        height=grid.height,
                        resampling=Resampling(source.resampling),
                        src_nodata=source.nodata if source.nodata is not None else src.nodata,
                        add_alpha=alpha,
                    ) as vrt:
                        arr = _read_source(vrt, source, window, alpha)
                else:
                    arr = _read_source(src, source, window)
        except rasterio.errors.RasterioError as exc:
            raise RasterclassIOError(
                f"cannot read pixels {window} of {source.path}: {exc}; the file is corrupt or "
                "truncated (re-export or re-download it)"
            ) from None
        parts.append(
            _to_values(arr.data, np.ma.getmaskarray(arr), dtype, source.scales, source.offsets)
        )
    return np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]


def _to_values(
    raw: np.ndarray,
    mask: np.ndarray | None,
    dtype: str,
    scales: Sequence[float] | None = None,
    offsets: Sequence[float] | None = None,
) -> np.ndarray:
    """Stored (band, y, x) values to scene values: ``value * scale + offset`` per band
    (computed in float64), cast to ``dtype``; masked pixels become NaN (0 for integer
    outputs such as segment ids). The one conversion behind every scene, read from files by
    :func:`open_scene` or handed over as an array to :func:`as_scene`."""
    if scales is not None or offsets is not None:
        n = raw.shape[0]
        scale = np.asarray(scales if scales is not None else [1.0] * n, dtype=np.float64)
        offset = np.asarray(offsets if offsets is not None else [0.0] * n, dtype=np.float64)
        out = (raw.astype(np.float64) * scale[:, None, None] + offset[:, None, None]).astype(
            dtype, copy=False
        )
    else:
        out = raw.astype(dtype, copy=False)
    if mask is not None and mask.any():
        out = out.copy() if out is raw else out
        out[mask] = np.nan if out.dtype.kind == "f" else 0
    return out


def _lazy_read(
    sources: tuple[_Source, ...],
    grid: Grid,
    dtype: str,
    n_bands: int,
    ychunks: tuple[int, ...],
    xchunks: tuple[int, ...],
) -> da.Array:
    """The one lazy reader: a (band, y, x) dask array whose blocks :func:`_read_block` reads."""
    token = dask.base.tokenize(
        [(s, os.path.getmtime(s.path)) for s in sources], grid, dtype, ychunks, xchunks
    )
    return da.map_blocks(
        _read_block,
        sources,
        grid,
        dtype,
        chunks=((n_bands,), ychunks, xchunks),
        dtype=dtype,
        meta=np.array((), dtype=dtype),
        name=f"read-{token}",
    )


def _float_dtype(dtypes: Sequence[str]) -> str:
    big = {"int32", "uint32", "int64", "uint64", "float64", "complex64", "complex128"}
    return "float64" if any(d in big for d in dtypes) else "float32"


def auto_chunk(n_bands: int, memory_budget: float | None, itemsize: int = 4) -> int:
    """Chunk side (pixels) so that one chunk's working set fits a share of the budget.

    The working set of a chunk during prediction is about 12 copies of its pixels (scene
    block, feature matrix, model buffers, probabilities); two chunks are in flight per core.
    """
    if memory_budget is None:
        return DEFAULT_CHUNK
    per_pixel = max(n_bands, 1) * itemsize * 12
    in_flight = 2 * (os.cpu_count() or 1)
    side = math.sqrt(memory_budget / (per_pixel * in_flight))
    return int(min(4096, max(TILE, (side // TILE) * TILE)))


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

    Examples
    --------
    >>> scene = open_scene("sample_data/scene.tif")  # doctest: +SKIP
    >>> scene.dims
    ('band', 'y', 'x')
    """
    path_list = [str(paths)] if isinstance(paths, str | os.PathLike) else [str(p) for p in paths]
    if not path_list:
        raise RasterclassIOError("no scene file given; pass at least one raster")
    check_chunks(chunks, memory_budget)
    infos = []
    for p in path_list:
        with _open_raster(p) as src:
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
            with _open_raster(str(reference)) as ref:
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
            _Source(
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
    dtype = _float_dtype([d for i in infos for d in i["dtypes"]])
    radiometry = radiometry_records(
        names,
        [d for i in infos for d in i["dtypes"]],
        [v for i in infos for v in (i["scales"] if unscale else (1.0,) * i["count"])],
        [v for i in infos for v in (i["offsets"] if unscale else (0.0,) * i["count"])],
        [nodata if nodata is not None else i["nodata"] for i in infos for _ in range(i["count"])],
    )
    side = chunks or _enough_chunks(
        auto_chunk(len(names), memory_budget, np.dtype(dtype).itemsize), grid
    )
    ychunks = _split(grid.height, side)
    xchunks = _split(grid.width, side)
    data = _lazy_read(tuple(sources), grid, dtype, len(names), ychunks, xchunks)
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
    """The radiometry records of a scene (see :func:`open_scene`), or None."""
    value = scene.attrs.get(RADIOMETRY_ATTR)
    if value is None:
        return None
    try:
        records = json.loads(value) if isinstance(value, str) else list(value)
    except (TypeError, ValueError):
        return None
    return [dict(r) for r in records] if isinstance(records, list) else None


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
            scene = scene.assign_coords(band=resolve_band_names(current, current, band_names))
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
    dtype = _float_dtype([stored, scene.dtype.name])
    scale_arr = None if scales is None else tuple(scales)
    offset_arr = None if offsets is None else tuple(offsets)
    data = scene.data
    if isinstance(data, da.Array):
        if len(data.chunks[0]) != 1:
            data = data.rechunk({0: -1})
        values = data.map_blocks(
            _decode_block,
            nodata,
            scale_arr,
            offset_arr,
            dtype,
            dtype=dtype,
            meta=np.array((), dtype=dtype),
        )
    else:
        values = _decode_block(np.asarray(data), nodata, scale_arr, offset_arr, dtype)
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


def _decode_block(
    block: np.ndarray,
    nodata: float | None,
    scales: tuple[float, ...] | None,
    offsets: tuple[float, ...] | None,
    dtype: str,
) -> np.ndarray:
    raw = np.asarray(block)
    mask = None if nodata is None else raw == nodata
    return _to_values(raw, mask, dtype, scales, offsets)


def _band_in_one_chunk(scene: xr.DataArray) -> xr.DataArray:
    data = scene.data
    if isinstance(data, da.Array) and len(data.chunks[0]) != 1:
        return scene.chunk({"band": -1})
    return scene


def check_chunks(chunks: Any, memory_budget: Any = None) -> None:
    """Refuse a chunk side that is not a positive integer and a budget that is not positive.

    Raises
    ------
    RasterclassIOError
        Naming the parameter, the value and what is allowed.
    """
    if chunks is not None and (
        isinstance(chunks, bool) or not isinstance(chunks, int | np.integer) or chunks < 1
    ):
        raise RasterclassIOError(
            f"chunks is a chunk side in pixels, an integer >= 1 (or None for automatic), got "
            f"{chunks!r}"
        )
    if memory_budget is not None and (
        isinstance(memory_budget, bool)
        or not isinstance(memory_budget, int | float | np.number)
        or not 0 < memory_budget < math.inf
    ):
        raise RasterclassIOError(
            f"memory_budget is a number of bytes > 0 (or None), got {memory_budget!r}"
        )


def _split(n: int, side: int) -> tuple[int, ...]:
    full, rest = divmod(n, side)
    return (side,) * full + ((rest,) if rest else ())


def scene_grid(scene: xr.DataArray) -> Grid:
    """The grid of a scene (or map) DataArray."""
    crs = scene.rio.crs
    if crs is None:
        raise CRSError("the scene has no CRS; open it with open_scene() or set scene.rio.crs")
    return Grid(crs, scene.rio.transform(recalc=True), scene.sizes["x"], scene.sizes["y"])


# ------------------------------------------------------------------------------------------
# Vectors and legends
# ------------------------------------------------------------------------------------------
def read_vector(
    path: PathLike, target_crs: Any = None, *, layer: str | None = None, what: str = "vector"
) -> Any:
    """Read polygons/points (GeoPackage, shapefile, GeoJSON...) reprojected to ``target_crs``."""
    import geopandas as gpd

    if not os.path.exists(path):
        raise RasterclassIOError(f"{what} file {path} does not exist; check the path")
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own DataSourceError etc.
        raise RasterclassIOError(
            f"cannot read {what} file {path}: {exc}; is it a GeoPackage, shapefile or GeoJSON?"
        ) from None
    if gdf.crs is None:
        raise CRSError(
            f"{what} file {path} has no CRS; assign one (QGIS 'Assign projection', "
            "ogr2ogr -a_srs, or GeoDataFrame.set_crs) and try again"
        )
    if target_crs is not None and not gdf.crs.equals(target_crs):
        logger.info(
            "reprojecting %s %s from %s to the scene CRS %s",
            what,
            path,
            gdf.crs.to_string(),
            rasterio.crs.CRS.from_user_input(target_crs).to_string(),
        )
        gdf = gdf.to_crs(target_crs)
    return gdf


def write_vector(
    gdf: Any, path: PathLike, *, overwrite: bool = False, layer: str | None = None
) -> str:
    """Write a GeoDataFrame (GeoPackage, shapefile or GeoJSON by extension) atomically."""
    check_writable([path], overwrite)
    suffix = Path(path).suffix
    tmp = _tmp_path(path, suffix)
    try:
        gdf.to_file(tmp, layer=layer or Path(path).stem)
        if suffix.lower() == ".shp":
            for ext in (".shx", ".dbf", ".prj", ".cpg"):
                side = Path(tmp).with_suffix(ext)
                if side.exists():
                    os.replace(side, Path(path).with_suffix(ext))
        os.replace(tmp, path)
    except BaseException:
        for p in Path(tmp).parent.glob(Path(tmp).stem + ".*"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        raise
    logger.info("wrote %s (%d features)", path, len(gdf))
    return str(path)


def read_legend(path: PathLike) -> ClassMap:
    """Read a legend CSV (``code,name,color``; color as ``#RRGGBB`` or ``r,g,b``)."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise RasterclassIOError(f"cannot read legend {path}: {exc}") from None
    cols = {c.lower().strip(): c for c in table.columns}
    if "name" not in cols:
        raise ClassMapError(f"legend {path} needs a 'name' column (and 'code', 'color')")
    names = [str(n) for n in table[cols["name"]]]
    codes = (
        [int(c) for c in table[cols["code"]]] if "code" in cols else list(range(1, len(names) + 1))
    )
    if "color" in cols or "colour" in cols:
        col = cols.get("color", cols.get("colour"))
        colours = tuple(parse_colour(c) for c in table[col])
    else:
        from rasterclass.classes import default_colour

        colours = tuple(default_colour(n, i) for i, n in enumerate(names))
    return ClassMap(tuple(codes), tuple(names), colours, tuple(names))


def file_sha256(path: PathLike) -> str:
    """SHA-256 of a file (to recognise training data used again as reference)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_map_tags(path: PathLike) -> dict[str, str]:
    """Dataset-level metadata tags of a raster."""
    with _open_raster(str(path)) as src:
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
    """The ClassMap a map file carries (rasterclass tag, else colour table codes), or None."""
    with _open_raster(str(path)) as src:
        tag = src.tags().get(CLASSMAP_TAG)
        if tag:
            return ClassMap.from_dict(json.loads(tag))
    return None


# ------------------------------------------------------------------------------------------
# Writing rasters
# ------------------------------------------------------------------------------------------
@dataclass
class RasterOutput:
    """One raster to write: a lazy (band, y, x) or (y, x) array, its path and metadata.

    Attributes
    ----------
    array, path, nodata
        The pixels, where they go, the nodata value.
    class_map
        For a thematic map: colour table, class names (in the GeoTIFF, a GDAL ``.aux.xml``
        and a QGIS ``.qml``).
    descriptions
        One description per band.
    tags
        Dataset metadata.
    band_tags
        One dict of metadata per band (e.g. ``class_code`` of a probability band).
    resampling
        Resampling of the overviews; default ``mode`` for class maps, ``average`` for float
        layers, ``nearest`` for other integers (segment ids).
    style
        A QGIS ``.qml`` style written next to the file (class maps get theirs from
        ``class_map``).
    """

    array: xr.DataArray
    path: PathLike
    nodata: float | None = None
    class_map: ClassMap | None = None
    descriptions: Sequence[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: Extra sidecar files: suffix appended to ``path`` -> content, written with the raster.
    sidecars: dict[str, bytes] = field(default_factory=dict)
    band_tags: Sequence[dict[str, str]] | None = None
    resampling: str | None = None
    style: str | None = None

    def overview_resampling(self, dtype: np.dtype) -> Resampling:
        if self.resampling is not None:
            return Resampling[self.resampling]
        if self.class_map is not None:
            return Resampling.mode
        return Resampling.average if np.dtype(dtype).kind == "f" else Resampling.nearest


def _raster_sidecars(path: str) -> list[str]:
    """Files written beside a raster output: GDAL PAM metadata and the QGIS default style."""
    return [f"{path}.aux.xml", str(Path(path).with_suffix(".qml"))]


#: The parts of an ESRI shapefile besides ``.shp``.
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
#: Files that belong to an input file when they exist beside it: GDAL PAM metadata, external
#: overviews and masks, and a QGIS style.
_INPUT_SIDECARS = (".aux.xml", ".ovr", ".msk")


def output_files(path: PathLike, *, raster: bool = False) -> list[str]:
    """Every file writing ``path`` creates or replaces.

    A raster output (written by :func:`write_rasters`) also writes or removes
    ``PATH.aux.xml`` and ``STEM.qml``; a shapefile writes its ``.shx``, ``.dbf``, ``.prj``
    and ``.cpg``.
    """
    p = str(path)
    files = [p]
    if raster:
        files += _raster_sidecars(p)
    if Path(p).suffix.lower() == ".shp":
        files += [str(Path(p).with_suffix(ext)) for ext in SHAPEFILE_PARTS[:4]]
    return files


def input_files(value: Any) -> list[tuple[str, str]]:
    """The files an input of a job consists of, as (input file, file) pairs.

    A path gives itself and what GDAL/OGR and QGIS keep beside it when that exists
    (``.aux.xml``, ``.ovr``, ``.msk``, ``.qml``, the parts of a shapefile); a scene or segment
    raster opened by rasterclass gives its source files; sequences give the files of their
    items; in-memory data (GeoDataFrame, model object) gives none.
    """
    if value is None:
        return []
    if isinstance(value, str | os.PathLike):
        p = str(value)
        stem = Path(p)
        beside = [*(p + ext for ext in _INPUT_SIDECARS), str(stem.with_suffix(".qml"))]
        if stem.suffix.lower() == ".shp":
            beside += [str(stem.with_suffix(ext)) for ext in SHAPEFILE_PARTS]
        return [(p, p)] + [(p, f) for f in beside if f != p and os.path.isfile(f)]
    if isinstance(value, list | tuple):
        return [pair for item in value for pair in input_files(item)]
    attrs = getattr(value, "attrs", None)
    if isinstance(attrs, dict):
        sources = attrs.get("source_files", attrs.get("source"))
        if isinstance(sources, str | os.PathLike | list | tuple):
            return input_files(sources)
    return []


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: resolved paths (links followed), or the same inode
    (hard links, case-insensitive file systems) when both exist."""
    if os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b)):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_writable(
    outputs: Mapping[str, PathLike | None] | Sequence[PathLike | None],
    overwrite: bool = False,
    *,
    inputs: Mapping[str, Any] | None = None,
    rasters: Collection[str] = (),
) -> None:
    """Check a run's outputs before anything is read or written; create missing folders.

    Parameters
    ----------
    outputs
        Output paths by the name of the parameter that gave them (``{"output": ...,
        "probabilities": ...}``), or a plain sequence; ``None`` entries are skipped.
    overwrite
        Whether existing outputs may be replaced.
    inputs
        The run's inputs by what they are (``{"scene file": paths, "model file": path}``):
        paths, sequences of paths, scenes or segment rasters opened by rasterclass (their
        source files), or in-memory data (ignored).
    rasters
        Names in ``outputs`` written as GeoTIFFs, whose ``.aux.xml`` and ``.qml`` sidecars
        are written too (see :func:`output_files`).

    Raises
    ------
    OutputCollisionError
        An output (or a file written beside it) is an input or its sidecar, or two outputs
        write the same file. ``overwrite`` never allows this: it only replaces files of
        earlier runs.
    OutputExistsError
        An output exists and ``overwrite`` is false.
    """
    from rasterclass.errors import OutputCollisionError, param

    named: list[tuple[str, str]] = (
        [(k, str(v)) for k, v in outputs.items() if v is not None]
        if isinstance(outputs, Mapping)
        else [("output", str(v)) for v in outputs if v is not None]
    )
    parts = [(role, pair) for role, value in (inputs or {}).items() for pair in input_files(value)]
    # (entry index, output name, output path, file written)
    written = [
        (i, name, path, f)
        for i, (name, path) in enumerate(named)
        for f in output_files(path, raster=name in rasters)
    ]
    for _, name, path, f in written:
        for role, (main, part) in parts:
            if not _same_file(f, part):
                continue
            what = f"the {role} {main}" if part == main else f"{part} of the {role} {main}"
            beside = "" if f == path else f" (it writes {f} beside it)"
            raise OutputCollisionError(
                f"{param(name)} {path} would replace {what}{beside}; an output never replaces "
                f"an input, not even with {param('overwrite', True)}: choose another path"
            )
    for k, (i, name, _, f) in enumerate(written):
        for j, other, _, g in written[k + 1 :]:
            if i == j or not _same_file(f, g):
                continue
            both = f"{param(name)} and {param(other)}" if name != other else "two outputs"
            raise OutputCollisionError(f"{both} both write {f}; give each output its own path")
    for _name, path in named:
        if os.path.exists(path) and not overwrite:
            raise OutputExistsError(
                f"{path} already exists; pass {param('overwrite', True)} or choose another path"
            )
    for _name, path in named:
        parent = Path(path).resolve().parent
        if not parent.is_dir():
            logger.info("creating folder %s", parent)
            parent.mkdir(parents=True, exist_ok=True)


def _tmp_path(path: PathLike, suffix: str = "") -> str:
    p = Path(path)
    return str(p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}.tmp{suffix}"))


def _write_chunks(chunks: Sequence[int]) -> tuple[int, ...]:
    """Write windows along one axis: runs of whole source chunks, each at least one tile long.

    Windows never cut a source chunk, so no chunk (no prediction) is computed twice, and tiny
    chunks are grouped so that GDAL gets tile-sized writes. Chunks that are multiples of the
    256 px tile (the default) give tile-aligned windows.
    """
    out: list[int] = []
    run = 0
    for c in chunks:
        run += c
        if run >= TILE:
            out.append(run)
            run = 0
    if run:
        out.append(run)
    return tuple(out)


def _as_3d(arr: xr.DataArray) -> xr.DataArray:
    return arr.expand_dims("band") if arr.ndim == 2 else arr


def _block_windows(chunks_y: Sequence[int], chunks_x: Sequence[int]) -> Iterator[tuple]:
    y0 = 0
    for i, h in enumerate(chunks_y):
        x0 = 0
        for j, w in enumerate(chunks_x):
            yield i, j, Window(x0, y0, w, h)
            x0 += w
        y0 += h


def _enough_chunks(side: int, grid: Grid) -> int:
    """Shrink an automatic chunk side so that every thread gets at least two chunks.

    One chunk runs on one core: a scene that fits in a single default chunk would otherwise
    be predicted on one core (measured: 2x slower on 2 cores).
    """
    threads = n_threads()
    fair = math.sqrt(grid.width * grid.height / (2 * threads))
    return int(min(side, max(TILE, round(fair / TILE) * TILE)))


def overview_factors(width: int, height: int, *, cog: bool = False) -> list[int]:
    """Overview levels (2, 4, 8...) down to one tile, for rasters worth them.

    A raster gets overviews when a side is longer than :data:`OVERVIEW_MIN_SIDE` pixels
    (a Cloud Optimized GeoTIFF: longer than one tile), as GDAL's COG driver does.
    """
    side = max(width, height)
    if side <= (TILE if cog else OVERVIEW_MIN_SIDE):
        return []
    factors = [2]
    while math.ceil(side / factors[-1]) > TILE:
        factors.append(factors[-1] * 2)
    return factors


def write_rasters(
    outputs: Sequence[RasterOutput],
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cog: bool = False,
    overviews: bool | None = None,
) -> list[str]:
    """Compute lazy rasters block by block and write them as tiled, compressed GeoTIFFs.

    All outputs must share the grid; their blocks are computed together (so a prediction
    feeding a map and its probability layers runs once per block) on the active dask scheduler
    (threads, processes or a ``distributed.Client``) with
    :func:`~rasterclass.parallel.compute_stream`, a few blocks in flight at a time, and
    written from this process in block order as they arrive, each tile once. Files are written
    under a temporary name and renamed when complete; on any error the temporary files are
    removed and no output appears.

    Parameters
    ----------
    outputs
        The rasters to write (one grid).
    overwrite
        Replace existing files.
    progress
        Called with (blocks done, blocks in all).
    cog
        Write Cloud Optimized GeoTIFFs: overviews down to one tile, then the file is copied
        with its overviews ahead of the full-resolution tiles (GDAL ``COPY_SRC_OVERVIEWS``).
    overviews
        Internal overviews (``mode`` for class maps, ``average`` for probabilities). Default:
        on when a side is longer than :data:`OVERVIEW_MIN_SIDE` pixels (always with ``cog``
        when longer than a tile). Overviews keep nodata (0 in class maps, NaN in floats).
    """
    if not outputs:
        return []
    check_writable([o.path for o in outputs], overwrite)
    grid = scene_grid(outputs[0].array)
    datas = []
    for out in outputs:
        arr = _as_3d(out.array)
        if (arr.sizes["y"], arr.sizes["x"]) != (grid.height, grid.width):
            raise RasterclassIOError("all outputs written together must share one grid")
        datas.append(arr.data if isinstance(arr.data, da.Array) else da.from_array(arr.data))
    chunks_y, chunks_x = _write_chunks(datas[0].chunks[1]), _write_chunks(datas[0].chunks[2])
    datas = [d.rechunk((d.shape[0], chunks_y, chunks_x)) for d in datas]
    factors = overview_factors(grid.width, grid.height, cog=cog)
    if overviews is False:
        factors = []
    elif overviews and not factors and max(grid.width, grid.height) > TILE:
        factors = overview_factors(grid.width, grid.height, cog=True)
    tmps = [_tmp_path(o.path, ".tif") for o in outputs]
    cog_tmps = [_tmp_path(o.path, ".cog.tif") for o in outputs] if cog else []
    datasets = []
    try:
        for out, data, tmp in zip(outputs, datas, tmps, strict=True):
            datasets.append(_create_geotiff(tmp, out, data, grid))
        windows = list(_block_windows(chunks_y, chunks_x))
        tasks = [[d.blocks[:, i, j] for d in datas] for i, j, _ in windows]
        for done, ((_, _, window), blocks) in enumerate(
            zip(windows, compute_stream(tasks), strict=True), start=1
        ):
            for out, dst, block in zip(outputs, datasets, blocks, strict=True):
                if out.class_map is not None:
                    _check_codes(block, out)
                dst.write(block, window=window)
            if progress is not None:
                progress(done, len(windows))
        for out, dst, data in zip(outputs, datasets, datas, strict=True):
            if factors:
                method = out.overview_resampling(data.dtype)
                dst.build_overviews(factors, method)
                dst.update_tags(ns="rio_overview", resampling=method.name)
            dst.close()
        if cog:
            for out, data, tmp, cog_tmp in zip(outputs, datas, tmps, cog_tmps, strict=True):
                _copy_as_cog(tmp, cog_tmp, out, data)
                os.replace(cog_tmp, tmp)
        sidecars = []
        for out, tmp in zip(outputs, tmps, strict=True):
            sidecars.extend(_write_sidecars(out, tmp))
        for tmp_side, final_side in sidecars:
            os.replace(tmp_side, final_side)
        for out, tmp in zip(outputs, tmps, strict=True):
            for stale in (
                f"{out.path}.aux.xml",
                str(Path(out.path).with_suffix(".qml")),
                f"{out.path}{SIDECAR_SUFFIX}",
            ):
                if os.path.exists(stale) and stale not in {s[1] for s in sidecars}:
                    os.remove(stale)
            os.replace(tmp, out.path)
            logger.info("wrote %s", out.path)
    except BaseException:
        for dst in datasets:
            with contextlib.suppress(Exception):
                dst.close()
        for tmp in [*tmps, *cog_tmps]:
            for p in (tmp, f"{tmp}.aux.xml"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(p)
        raise
    return [str(o.path) for o in outputs]


def _check_codes(block: np.ndarray, out: RasterOutput) -> None:
    """Refuse class codes above the class map's largest code (they have no colour or name,
    and a map stored with fewer bits per pixel could not hold them)."""
    assert out.class_map is not None
    top = max(out.class_map.codes)
    if block.size and int(block.max()) > top:
        from rasterclass.errors import ClassMapError as _ClassMapError

        bad = sorted({int(v) for v in np.unique(block) if v > top})
        raise _ClassMapError(
            f"{out.path}: the map holds codes {bad[:10]} that its class map does not list "
            f"(codes {list(out.class_map.codes)}); pass a class_map that lists every code"
        )


def _creation_options(out: RasterOutput, dtype: np.dtype, count: int) -> dict[str, Any]:
    """GeoTIFF creation options shared by the streaming write and the COG copy."""
    options: dict[str, Any] = {
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "compress": "deflate",
        "predictor": 3 if dtype.kind == "f" else 1,
        "BIGTIFF": "IF_SAFER",
    }
    if count > 1:  # layers, not a colour composite: band-interleaved, grey
        options["interleave"] = "band"
        options["photometric"] = "minisblack"
    nbits = class_map_nbits(out.class_map, dtype) if out.class_map is not None else None
    if nbits is not None:
        options["nbits"] = nbits
    return options


def class_map_nbits(cm: ClassMap, dtype: np.dtype) -> int | None:
    """Bits per pixel of a class map: just enough for its largest code.

    A GeoTIFF colour table always has 2**bits entries; a map stored with only the bits its
    codes need carries a colour table without rows past the last class (a 7-class uint8 map
    has 8 rows, nodata + 7 classes, not 256). None when the codes need every bit.
    """
    bits = max(1, int(max(cm.codes)).bit_length())
    return bits if bits < np.dtype(dtype).itemsize * 8 else None


def _copy_as_cog(tmp: str, cog_tmp: str, out: RasterOutput, data: da.Array) -> None:
    """Copy a finished GeoTIFF (with its overviews) into a Cloud Optimized GeoTIFF layout."""
    from rasterio.shutil import copy as rio_copy

    options = _creation_options(out, np.dtype(data.dtype), data.shape[0])
    try:
        rio_copy(tmp, cog_tmp, driver="GTiff", COPY_SRC_OVERVIEWS="YES", **options)
    except rasterio.errors.RasterioError as exc:
        raise RasterclassIOError(f"cannot write {out.path} as a COG: {exc}") from None
    os.remove(tmp)


def _create_geotiff(tmp: str, out: RasterOutput, data: da.Array, grid: Grid) -> Any:
    dtype = np.dtype(data.dtype)
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": data.shape[0],
        "dtype": dtype.name,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": out.nodata,
        **_creation_options(out, dtype, data.shape[0]),
    }
    try:
        dst = rasterio.open(tmp, "w", **profile)
    except rasterio.errors.RasterioError as exc:
        raise RasterclassIOError(f"cannot create {out.path}: {exc}") from None
    if out.descriptions is not None:
        for i, d in enumerate(out.descriptions, start=1):
            dst.set_band_description(i, str(d))
    if out.band_tags is not None:
        for i, band in enumerate(out.band_tags, start=1):
            if band:
                dst.update_tags(i, **{k: str(v) for k, v in band.items()})
    tags = dict(out.tags)
    if out.class_map is not None:
        cm = out.class_map
        dst.write_colormap(1, cm.colormap())
        tags[CLASSMAP_TAG] = json.dumps(cm.to_dict())
        names = json.dumps({str(cm.codes[i]): cm.names[i] for i in cm.code_order()})
        tags["CLASS_NAMES"] = names
        # the names inside the GeoTIFF (GDAL keeps category names in the .aux.xml only)
        dst.update_tags(1, CLASS_NAMES=names)
        if out.descriptions is None:
            dst.set_band_description(1, "class")
    if tags:
        dst.update_tags(**tags)
    return dst


def _write_sidecars(out: RasterOutput, tmp: str) -> list[tuple[str, str]]:
    """GDAL PAM (.aux.xml: category names + raster attribute table), a QGIS .qml style and
    the output's extra sidecars, as (temporary, final) paths."""
    pairs = []
    for suffix, content in out.sidecars.items():
        final = f"{out.path}{suffix}"
        tmp_side = _tmp_path(final)
        Path(tmp_side).write_bytes(content)
        pairs.append((tmp_side, final))
    final_aux = f"{out.path}.aux.xml"
    final_qml = str(Path(out.path).with_suffix(".qml"))
    if out.class_map is None:
        if out.style is None:
            return pairs
        tmp_qml = _tmp_path(final_qml)
        Path(tmp_qml).write_text(out.style, encoding="utf-8")
        return [*pairs, (tmp_qml, final_qml)]
    cm = out.class_map
    tmp_aux, tmp_qml = _tmp_path(final_aux), _tmp_path(final_qml)
    Path(tmp_aux).write_text(class_map_pam_xml(cm), encoding="utf-8")
    Path(tmp_qml).write_text(class_map_qml(cm), encoding="utf-8")
    return [*pairs, (tmp_aux, final_aux), (tmp_qml, final_qml)]


def class_map_pam_xml(cm: ClassMap) -> str:
    """GDAL PAM XML with CategoryNames and a thematic raster attribute table for band 1.

    Both are indexed by code: category ``i`` names code ``i``, attribute table rows are in
    code order.
    """
    names = [""] * (max(cm.codes) + 1)
    for code, name in zip(cm.codes, cm.names, strict=True):
        names[code] = name
    cats = "\n".join(f"      <Category>{escape(n)}</Category>" for n in names)
    fields = [("Value", 0, 5), ("Class_Name", 2, 2), ("Red", 0, 6), ("Green", 0, 7)]
    fields += [("Blue", 0, 8), ("Alpha", 0, 9)]
    fdefs = "\n".join(
        f'      <FieldDefn index="{i}">\n        <Name>{n}</Name>\n        <Type>{t}</Type>\n'
        f"        <Usage>{u}</Usage>\n      </FieldDefn>"
        for i, (n, t, u) in enumerate(fields)
    )
    rows = []
    for r, i in enumerate(cm.code_order()):
        code, name, rgba = cm.codes[i], cm.names[i], cm.colors[i]
        cells = [str(code), escape(name), *(str(v) for v in rgba)]
        rows.append(f'      <Row index="{r}">' + "".join(f"<F>{c}</F>" for c in cells) + "</Row>")
    return (
        "<PAMDataset>\n"
        '  <PAMRasterBand band="1">\n'
        "    <CategoryNames>\n"
        f"{cats}\n"
        "    </CategoryNames>\n"
        '    <GDALRasterAttributeTable tableType="thematic">\n'
        f"{fdefs}\n" + "\n".join(rows) + "\n"
        "    </GDALRasterAttributeTable>\n"
        "  </PAMRasterBand>\n"
        "</PAMDataset>\n"
    )


def class_map_qml(cm: ClassMap) -> str:
    """A QGIS style (paletted renderer with class names) that QGIS loads as the default.

    Entries are in the class map's order (legend order, else code order): the order of the
    QGIS legend.
    """
    entries = "\n".join(
        f'        <paletteEntry value="{code}" color="#{r:02x}{g:02x}{b:02x}" alpha="{a}" '
        f'label="{escape(name, {chr(34): "&quot;"})}"/>'
        for code, name, (r, g, b, a) in zip(cm.codes, cm.names, cm.colors, strict=True)
    )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="AllStyleCategories">\n'
        "  <pipe>\n"
        '    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" '
        'nodataColor="">\n'
        "      <rasterTransparency/>\n"
        "      <colorPalette>\n"
        f"{entries}\n"
        "      </colorPalette>\n"
        "    </rasterrenderer>\n"
        "  </pipe>\n"
        "</qgis>\n"
    )


def write_map(
    classes: xr.DataArray | xr.Dataset,
    path: PathLike,
    class_map: ClassMap | None = None,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cog: bool = False,
    overviews: bool | None = None,
) -> str:
    """Write a thematic map: uint8/uint16 GeoTIFF, nodata 0, colour table and class names.

    The colour table covers the codes in use (the map is stored with just the bits its
    largest code needs, so the table has no rows past the last class; code 0 is nodata,
    transparent). Class names are stored in the GeoTIFF's own metadata (``CLASS_NAMES`` of
    the file and of band 1, and the full class map), in a GDAL ``.aux.xml`` (category names
    and a raster attribute table, in code order, that ``gdalinfo`` and QGIS show) and in a
    QGIS ``.qml`` default style, so they survive whichever file travels. ``cog`` and
    ``overviews``: see :func:`write_rasters` (overviews of a class map use ``mode`` and keep
    nodata 0).

    Parameters
    ----------
    classes
        ``(y, x)`` class codes (0 = nodata), or the Dataset
        :func:`rasterclass.predict_raster` returns (its ``classes`` are written). Nodata
        of the array (``rio.nodata``, NaN) is written as 0.
    path
        Output GeoTIFF.
    class_map
        Codes, names and colours. Default: the class map the Dataset or the array carries
        (``predict_raster`` outputs carry theirs).
    overwrite, progress
        Replace an existing file; a ``(done, total)`` callback.
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
    out = RasterOutput(classes.astype(class_map.dtype), path, nodata=0, class_map=class_map)
    return write_rasters(
        [out], overwrite=overwrite, progress=progress, cog=cog, overviews=overviews
    )[0]


#: Band tag values of probability layers.
PROBABILITY_LAYER = "probability"
CONFIDENCE_LAYER = "confidence"


def probability_output(probabilities: xr.DataArray, path: PathLike) -> RasterOutput:
    """How a probability stack is written: one band per class, described and coded.

    Every band's description is its name (the class name, or ``confidence``); class bands
    carry the tags ``layer=probability``, ``class_code`` and ``class_name`` (from the
    ``class_code`` coordinate that :func:`rasterclass.predict_raster` and
    :func:`rasterclass.apply.stack_probabilities` set), the confidence band
    ``layer=confidence``. The file is band-interleaved and grey (not an RGB composite), with
    ``average`` overviews and a QGIS ``.qml`` style that shows the confidence band (else the
    first band) from 0 to 1.
    """
    arr = _as_3d(probabilities)
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


def probabilities_qml(band: int, name: str) -> str:
    """A QGIS style for a probability file: band ``band`` in a 0..1 colour ramp.

    QGIS opens a multiband raster as an RGB composite of bands 1-3 unless a style says
    otherwise; this default style (``<file>.qml``) shows one layer instead.
    """
    ramp = [(0.0, "#d7191c"), (0.25, "#fdae61"), (0.5, "#ffffbf"), (0.75, "#a6d96a")]
    ramp.append((1.0, "#1a9641"))
    items = "\n".join(
        f'          <item value="{v:g}" color="{c}" alpha="255" label="{v:g}"/>' for v, c in ramp
    )
    title = escape(name, {chr(34): "&quot;"})
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="AllStyleCategories">\n'
        "  <pipe>\n"
        f'    <rasterrenderer type="singlebandpseudocolor" band="{band}" opacity="1" '
        f'alphaBand="-1" classificationMin="0" classificationMax="1" nodataColor="">\n'
        "      <rasterTransparency/>\n"
        "      <minMaxOrigin>\n"
        "        <limits>None</limits>\n"
        "        <extent>WholeRaster</extent>\n"
        "        <statAccuracy>Estimated</statAccuracy>\n"
        "        <cumulativeCutLower>0.02</cumulativeCutLower>\n"
        "        <cumulativeCutUpper>0.98</cumulativeCutUpper>\n"
        "        <stdDevFactor>2</stdDevFactor>\n"
        "      </minMaxOrigin>\n"
        "      <rastershader>\n"
        '        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" '
        f'clip="0" minimumValue="0" maximumValue="1" labelPrecision="2">\n'
        f"{items}\n"
        "        </colorrampshader>\n"
        "      </rastershader>\n"
        "    </rasterrenderer>\n"
        "  </pipe>\n"
        f"  <!-- rasterclass: band {band} ({title}) -->\n"
        "</qgis>\n"
    )


def _class_map_attr(value: Any) -> ClassMap:
    try:
        return ClassMap.from_dict(json.loads(value) if isinstance(value, str) else dict(value))
    except (TypeError, ValueError, KeyError) as exc:
        raise ClassMapError(
            f"cannot read the class map the array carries ({exc}); pass class_map="
        ) from None


def write_probabilities(
    probabilities: xr.DataArray | xr.Dataset,
    path: PathLike,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cog: bool = False,
    overviews: bool | None = None,
) -> str:
    """Write per-class probability (and confidence) layers as float32, nodata NaN.

    ``probabilities`` is a ``(band, y, x)`` array of layers named by class, or the Dataset
    :func:`rasterclass.predict_raster` returns with ``probabilities=True`` (its probability
    layers and the confidence layer are written). See :func:`probability_output` for the
    layout (one described, coded band per class in class-map order, band-interleaved, a QGIS
    style) and :func:`write_rasters` for ``cog`` and ``overviews`` (``average`` overviews).
    """
    if isinstance(probabilities, xr.Dataset):
        from rasterclass.apply import stack_probabilities

        if "probabilities" not in probabilities:
            raise ClassMapError(
                "the Dataset has no probability layers; call predict_raster(..., "
                "probabilities=True)"
            )
        probabilities = stack_probabilities(probabilities)
    out = probability_output(probabilities, path)
    return write_rasters(
        [out], overwrite=overwrite, progress=progress, cog=cog, overviews=overviews
    )[0]


def write_text(path: PathLike, text: str, *, overwrite: bool = False) -> str:
    """Write a small text output (report, table) atomically."""
    check_writable([path], overwrite)
    tmp = _tmp_path(path)
    try:
        Path(tmp).write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    return str(path)


# ------------------------------------------------------------------------------------------
# Model files
# ------------------------------------------------------------------------------------------
MODEL_FORMAT = "rasterclass-model"
MODEL_FORMAT_VERSION = 1


#: Packages whose types a model file may hold: scikit-learn's estimators (trees included),
#: numpy/scipy containers and rasterclass's own estimators. Anything else is refused, so a
#: model file cannot smuggle in code to run.
TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy", "rasterclass")


def _is_trusted(type_name: str) -> bool:
    return type_name.split(".", 1)[0] in TRUSTED_PACKAGES


def save_model_file(
    estimator: Any, metadata: dict[str, Any], path: PathLike, *, overwrite: bool = False
) -> str:
    """Save an estimator and its metadata with skops (no pickle)."""
    import skops.io as sio

    check_writable([path], overwrite)
    payload = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "metadata": json.dumps(metadata),
        "estimator": estimator,
    }
    tmp = _tmp_path(path)
    try:
        sio.dump(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    logger.info("saved model %s", path)
    return str(path)


def load_model_file(path: PathLike) -> tuple[Any, dict[str, Any]]:
    """Load an estimator and its metadata; only known-safe types are accepted."""
    import skops.io as sio

    from rasterclass.errors import ModelFileError

    if not os.path.exists(path):
        raise RasterclassIOError(f"model file {path} does not exist; train one with `train`")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelFileError(
            f"{path} is not a rasterclass model file ({exc}); train one with `rasterclass train`"
        ) from None
    unknown = [t for t in untrusted if not _is_trusted(t)]
    if unknown:
        raise ModelFileError(
            f"{path} contains types rasterclass does not trust: {unknown}; loading it could "
            "run arbitrary code. Re-train the model, or load it yourself with skops.io.load "
            "and trusted=[...] if you know where it comes from"
        )
    try:
        payload = sio.load(path, trusted=untrusted)
    except Exception as exc:
        raise ModelFileError(f"cannot load model file {path}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is not a rasterclass model file; train one with `train`")
    return payload["estimator"], json.loads(payload["metadata"])


# ------------------------------------------------------------------------------------------
# Segments: segment-id rasters, feature tables, segment polygons
# ------------------------------------------------------------------------------------------
SEGMENTS_TAG = "RASTERCLASS_SEGMENTS"


def open_segments(
    path: PathLike,
    *,
    chunks: int | tuple[Sequence[int], Sequence[int]] | None = None,
) -> xr.DataArray:
    """Open a segment-id raster (one integer band, 0 = nodata) lazily.

    Parameters
    ----------
    path
        GeoTIFF written by ``rasterclass segment`` (or any one-band integer raster of ids).
    chunks
        Chunk side in pixels, or the (y, x) chunk sizes of a scene to align with (used when
        they fit the raster's size).

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` uint32 ids, 0 at nodata (and at the declared nodata value), with CRS and
        transform.
    """
    from rasterclass.errors import SegmentationError

    p = str(path)
    if not isinstance(chunks, tuple):
        check_chunks(chunks)
    with _open_raster(p) as src:
        if src.count != 1 or not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
            raise SegmentationError(
                f"{p} is not a segment raster: it needs one integer band of segment ids "
                f"(it has {src.count} band(s) of {src.dtypes[0]})"
            )
        grid = Grid(src.crs, src.transform, src.width, src.height)
        nodata = src.nodata
    if isinstance(chunks, tuple) and (sum(chunks[0]), sum(chunks[1])) == (
        grid.height,
        grid.width,
    ):
        ychunks, xchunks = tuple(chunks[0]), tuple(chunks[1])
    else:
        side = chunks if isinstance(chunks, int) else DEFAULT_CHUNK
        ychunks, xchunks = _split(grid.height, side), _split(grid.width, side)
    source = _Source(p, (1,), False, Resampling.nearest.value, nodata)
    data = _lazy_read((source,), grid, "uint32", 1, ychunks, xchunks)[0]
    y, x = grid.coords()
    arr = xr.DataArray(
        data, dims=("y", "x"), coords={"y": y, "x": x}, name="segments", attrs={"source": p}
    )
    if grid.crs is not None:
        arr = arr.rio.write_crs(grid.crs)
    return arr.rio.write_transform(grid.transform)


def write_segments(
    segments: xr.DataArray,
    path: PathLike,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cog: bool = False,
    overviews: bool | None = None,
) -> str:
    """Write a segment-id raster: uint32 GeoTIFF, nodata 0, no colour table.

    ``cog`` and ``overviews``: see :func:`write_rasters` (``nearest`` overviews).
    """
    attrs = {k: v for k, v in segments.attrs.items() if k in ("segmentation", "n_segments")}
    params = segments.attrs.get("params")
    if params:
        attrs["params"] = {k: repr(v) for k, v in dict(params).items()}
    out = RasterOutput(
        segments.astype(np.uint32),
        path,
        nodata=0,
        descriptions=["segment"],
        tags={SEGMENTS_TAG: json.dumps(attrs, default=str)},
    )
    return write_rasters(
        [out], overwrite=overwrite, progress=progress, cog=cog, overviews=overviews
    )[0]


def write_table(table: Any, path: PathLike, *, overwrite: bool = False) -> str:
    """Write a pandas DataFrame (index kept) as ``.parquet`` or ``.csv``, atomically."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise RasterclassIOError(f"table {path}: use a .parquet or .csv file name")
    check_writable([path], overwrite)
    tmp = _tmp_path(path, suffix)
    try:
        if suffix == ".parquet":
            table.to_parquet(tmp)
        else:
            table.to_csv(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    logger.info("wrote %s", path)
    return str(path)


# ------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------
def table_format(path: PathLike) -> str:
    """``"csv"`` or ``"json"`` from a table's file name."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise RasterclassIOError(f"cannot tell the table format of {path}: name it .csv or .json")
    return suffix[1:]


def read_table(path: PathLike) -> Any:
    """Read a label or statistics table (CSV, or JSON records / ``{"clusters": [...]}``)."""
    import pandas as pd

    fmt = table_format(path)
    if not os.path.exists(path):
        raise RasterclassIOError(f"table {path} does not exist; check the path")
    try:
        if fmt == "csv":
            return pd.read_csv(path, skipinitialspace=True)
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RasterclassIOError(f"cannot read table {path}: {exc}") from None
    records = payload.get("clusters", payload) if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise RasterclassIOError(f"{path} holds no list of records (or 'clusters')")
    return pd.DataFrame.from_records(records)


# ------------------------------------------------------------------------------------------
# Quicklooks and figures
# ------------------------------------------------------------------------------------------
def read_quicklook(path: PathLike, max_size: int = 1200) -> tuple[np.ndarray, Any]:
    """A class map decimated to at most ``max_size`` pixels a side (nearest neighbour, read
    from overviews or by decimation, never the full map), and its transform."""
    with _open_raster(str(path)) as src:
        scale = max(src.width, src.height) / max_size
        if scale <= 1:
            return src.read(1), src.transform
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        data = src.read(1, out_shape=shape, resampling=Resampling.nearest)
        transform = src.transform * src.transform.scale(src.width / shape[1], src.height / shape[0])
        return data, transform


def write_figure(figure: Any, path: PathLike, *, overwrite: bool = False, dpi: int = 120) -> str:
    """Save a matplotlib figure atomically (format from the extension)."""
    check_writable([path], overwrite)
    tmp = _tmp_path(path, Path(path).suffix)
    try:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    return str(path)
