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
)
from rasterclass.parallel import compute_stream, n_threads
from rasterclass.stack import (
    Grid,
    band_names_from_files,
    check_crs,
    choose_grid,
    resolve_band_names,
)

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
ProgressCallback = Callable[[int, int], None]

#: Default chunk side in pixels when no chunks and no memory budget are given.
DEFAULT_CHUNK = 512
#: GeoTIFF tile size of every raster rasterclass writes.
TILE = 256
CLASSMAP_TAG = "RASTERCLASS_CLASSMAP"


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
        out = arr.data.astype(dtype, copy=False)
        mask = np.ma.getmaskarray(arr)
        if mask.any():
            out = out.copy() if out is arr.data else out
            out[mask] = np.nan if out.dtype.kind == "f" else 0
        parts.append(out)
    return np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]


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
) -> xr.DataArray:
    """Open one multiband raster, or several rasters stacked in order, as a lazy scene.

    Parameters
    ----------
    paths
        One path, or several paths whose bands are stacked in the given order
        (Landsat/Sentinel-2 one-file-per-band style).
    band_names
        Names for the bands. Default: band descriptions when every band has a unique one,
        else names derived from the file names (``..._B4.TIF`` -> ``B4``).
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
        Override the nodata value declared in the files.

    Returns
    -------
    xarray.DataArray
        Dims ``("band", "y", "x")``, float32 (float64 for 32-bit integer or float64 input),
        nodata as NaN, a ``band`` coordinate of names, CRS and transform via rioxarray, dask
        chunks with ``band`` in one chunk.

    Examples
    --------
    >>> scene = open_scene("sample_data/scene.tif")  # doctest: +SKIP
    >>> scene.dims
    ('band', 'y', 'x')
    """
    path_list = [str(paths)] if isinstance(paths, str | os.PathLike) else [str(p) for p in paths]
    if not path_list:
        raise RasterclassIOError("no scene file given; pass at least one raster")
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
        sources.append(
            _Source(p, tuple(range(1, info["count"] + 1)), warp, resampling_enum.value, nodata)
        )
    described = [d for i in infos for d in i["descriptions"]]
    names = resolve_band_names(
        described, band_names_from_files(path_list, [i["count"] for i in infos]), band_names
    )
    dtype = _float_dtype([d for i in infos for d in i["dtypes"]])
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
        attrs={"source_files": list(path_list)},
    )
    scene = scene.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    logger.info("opened scene %s: %d bands %s, %s", path_list, len(names), names, grid.describe())
    return scene


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
    """One raster to write: a lazy (band, y, x) or (y, x) array, its path and metadata."""

    array: xr.DataArray
    path: PathLike
    nodata: float | None = None
    class_map: ClassMap | None = None
    descriptions: Sequence[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)


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


def write_rasters(
    outputs: Sequence[RasterOutput],
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> list[str]:
    """Compute lazy rasters block by block and write them as tiled, compressed GeoTIFFs.

    All outputs must share the grid; their blocks are computed together (so a prediction
    feeding a map and its probability layers runs once per block) on the active dask scheduler
    (threads, processes or a ``distributed.Client``) with
    :func:`~rasterclass.parallel.compute_stream`, a few blocks in flight at a time, and
    written from this process in block order as they arrive, each tile once. Files are written
    under a temporary name and renamed when complete; on any error the temporary files are
    removed and no output appears.
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
    tmps = [_tmp_path(o.path, ".tif") for o in outputs]
    datasets = []
    try:
        for out, data, tmp in zip(outputs, datas, tmps, strict=True):
            datasets.append(_create_geotiff(tmp, out, data, grid))
        windows = list(_block_windows(chunks_y, chunks_x))
        tasks = [[d.blocks[:, i, j] for d in datas] for i, j, _ in windows]
        for done, ((_, _, window), blocks) in enumerate(
            zip(windows, compute_stream(tasks), strict=True), start=1
        ):
            for dst, block in zip(datasets, blocks, strict=True):
                dst.write(block, window=window)
            if progress is not None:
                progress(done, len(windows))
        for dst in datasets:
            dst.close()
        sidecars = []
        for out, tmp in zip(outputs, tmps, strict=True):
            sidecars.extend(_write_sidecars(out, tmp))
        for tmp_side, final_side in sidecars:
            os.replace(tmp_side, final_side)
        for out, tmp in zip(outputs, tmps, strict=True):
            for stale in (f"{out.path}.aux.xml", str(Path(out.path).with_suffix(".qml"))):
                if os.path.exists(stale) and stale not in {s[1] for s in sidecars}:
                    os.remove(stale)
            os.replace(tmp, out.path)
            logger.info("wrote %s", out.path)
    except BaseException:
        for dst in datasets:
            with contextlib.suppress(Exception):
                dst.close()
        for tmp in tmps:
            for p in (tmp, f"{tmp}.aux.xml"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(p)
        raise
    return [str(o.path) for o in outputs]


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
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "compress": "deflate",
        "predictor": 3 if dtype.kind == "f" else 1,
        "BIGTIFF": "IF_SAFER",
    }
    try:
        dst = rasterio.open(tmp, "w", **profile)
    except rasterio.errors.RasterioError as exc:
        raise RasterclassIOError(f"cannot create {out.path}: {exc}") from None
    if out.descriptions is not None:
        for i, d in enumerate(out.descriptions, start=1):
            dst.set_band_description(i, str(d))
    tags = dict(out.tags)
    if out.class_map is not None:
        cm = out.class_map
        dst.write_colormap(1, cm.colormap())
        tags[CLASSMAP_TAG] = json.dumps(cm.to_dict())
        tags["CLASS_NAMES"] = json.dumps(
            {str(c): n for c, n in zip(cm.codes, cm.names, strict=True)}
        )
        if out.descriptions is None:
            dst.set_band_description(1, "class")
    if tags:
        dst.update_tags(**tags)
    return dst


def _write_sidecars(out: RasterOutput, tmp: str) -> list[tuple[str, str]]:
    """GDAL PAM (.aux.xml: category names + raster attribute table) and a QGIS .qml style."""
    if out.class_map is None:
        return []
    cm = out.class_map
    final_aux = f"{out.path}.aux.xml"
    final_qml = str(Path(out.path).with_suffix(".qml"))
    tmp_aux, tmp_qml = _tmp_path(final_aux), _tmp_path(final_qml)
    Path(tmp_aux).write_text(class_map_pam_xml(cm), encoding="utf-8")
    Path(tmp_qml).write_text(class_map_qml(cm), encoding="utf-8")
    return [(tmp_aux, final_aux), (tmp_qml, final_qml)]


def class_map_pam_xml(cm: ClassMap) -> str:
    """GDAL PAM XML with CategoryNames and a thematic raster attribute table for band 1."""
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
    for r, (code, name, rgba) in enumerate(zip(cm.codes, cm.names, cm.colors, strict=True)):
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
    """A QGIS style (paletted renderer with class names) that QGIS loads as the default."""
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
    classes: xr.DataArray,
    path: PathLike,
    class_map: ClassMap,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> str:
    """Write a thematic map: uint8/uint16 GeoTIFF, nodata 0, colour table and class names.

    Class names are stored in a GDAL ``.aux.xml`` (category names and a raster attribute
    table that ``gdalinfo`` and QGIS show), in a QGIS ``.qml`` default style, and in the
    GeoTIFF's own metadata (``CLASS_NAMES``), so they survive whichever file travels.
    """
    out = RasterOutput(classes.astype(class_map.dtype), path, nodata=0, class_map=class_map)
    return write_rasters([out], overwrite=overwrite, progress=progress)[0]


def write_probabilities(
    probabilities: xr.DataArray,
    path: PathLike,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> str:
    """Write per-class probability (and confidence) layers as float32, nodata NaN."""
    names = [str(b) for b in probabilities["band"].values]
    out = RasterOutput(probabilities, path, nodata=float("nan"), descriptions=names)
    return write_rasters([out], overwrite=overwrite, progress=progress)[0]


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
) -> str:
    """Write a segment-id raster: uint32 GeoTIFF, nodata 0, no colour table."""
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
    return write_rasters([out], overwrite=overwrite, progress=progress)[0]


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
