"""The raster writer: lazy arrays to tiled, compressed GeoTIFFs (and COGs), block by block.

Owns :class:`RasterOutput` (one raster to write with its metadata), :class:`WriteOptions`
(the keywords every raster writer takes), :func:`write_rasters`
(several outputs on one grid computed together with
:func:`~rasterclass.parallel.compute_stream` and written in tile-aligned windows under
temporary names, renamed when all are complete), the GeoTIFF creation options (class maps
stored with just the bits their codes need), internal overviews (:func:`overview_factors`),
the Cloud Optimized GeoTIFF copy, and the sidecars written with each raster.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import dask.array as da
import numpy as np
import rasterio
import rasterio.errors
import xarray as xr
from rasterio.enums import Resampling
from rasterio.windows import Window

from rasterclass.classes import ClassMap
from rasterclass.errors import ClassMapError, RasterclassIOError
from rasterclass.io.chunks import TILE
from rasterclass.io.paths import PathLike, check_output_format, check_writable, temporary_path
from rasterclass.io.scene import scene_grid
from rasterclass.io.styles import class_map_pam_xml, class_map_qml
from rasterclass.parallel import compute_stream
from rasterclass.stack import Grid
from rasterclass.training_pixels import SIDECAR_SUFFIX

logger = logging.getLogger(__name__)


ProgressCallback = Callable[[int, int], None]


class WriteOptions(TypedDict, total=False):
    """How a raster is written: the keywords of :func:`write_rasters` that every raster
    writer (:func:`rasterclass.write_map`, :func:`rasterclass.write_probabilities`,
    :func:`rasterclass.io.write_segments`) passes on, typed for ``**options:
    Unpack[WriteOptions]``. Their meaning and defaults are those of :func:`write_rasters`."""

    overwrite: bool
    progress: ProgressCallback | None
    cog: bool
    overviews: bool | None


#: Rasters with a side longer than this get internal overviews by default.
OVERVIEW_MIN_SIDE = 1024

CLASSMAP_TAG = "RASTERCLASS_CLASSMAP"


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


def write_chunks(chunks: Sequence[int]) -> tuple[int, ...]:
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


def _block_windows(chunks_y: Sequence[int], chunks_x: Sequence[int]) -> Iterator[tuple]:
    y0 = 0
    for i, h in enumerate(chunks_y):
        x0 = 0
        for j, w in enumerate(chunks_x):
            yield i, j, Window(x0, y0, w, h)
            x0 += w
        y0 += h


def as_3d(arr: xr.DataArray) -> xr.DataArray:
    return arr.expand_dims("band") if arr.ndim == 2 else arr


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
    for out in outputs:
        check_output_format(out.path, "raster")
    check_writable([o.path for o in outputs], overwrite)
    grid = scene_grid(outputs[0].array)
    datas = []
    for out in outputs:
        arr = as_3d(out.array)
        if (arr.sizes["y"], arr.sizes["x"]) != (grid.height, grid.width):
            raise RasterclassIOError("all outputs written together must share one grid")
        datas.append(arr.data if isinstance(arr.data, da.Array) else da.from_array(arr.data))
    chunks_y, chunks_x = write_chunks(datas[0].chunks[1]), write_chunks(datas[0].chunks[2])
    datas = [d.rechunk((d.shape[0], chunks_y, chunks_x)) for d in datas]
    factors = overview_factors(grid.width, grid.height, cog=cog)
    if overviews is False:
        factors = []
    elif overviews and not factors and max(grid.width, grid.height) > TILE:
        factors = overview_factors(grid.width, grid.height, cog=True)
    tmps = [temporary_path(o.path, ".tif") for o in outputs]
    cog_tmps = [temporary_path(o.path, ".cog.tif") for o in outputs] if cog else []
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
        for out, dst, data, tmp in zip(outputs, datasets, datas, tmps, strict=True):
            dst.close()
            if factors:
                # built on the closed file reopened: in write mode GDAL builds the overviews
                # of a palette band before their palette exists, and warns about it
                method = out.overview_resampling(data.dtype)
                with rasterio.open(tmp, "r+") as upd:
                    upd.build_overviews(factors, method)
                    upd.update_tags(ns="rio_overview", resampling=method.name)
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
        bad = sorted({int(v) for v in np.unique(block) if v > top})
        raise ClassMapError(
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
        tmp_side = temporary_path(final)
        Path(tmp_side).write_bytes(content)
        pairs.append((tmp_side, final))
    final_aux = f"{out.path}.aux.xml"
    final_qml = str(Path(out.path).with_suffix(".qml"))
    if out.class_map is None:
        if out.style is None:
            return pairs
        tmp_qml = temporary_path(final_qml)
        Path(tmp_qml).write_text(out.style, encoding="utf-8")
        return [*pairs, (tmp_qml, final_qml)]
    cm = out.class_map
    tmp_aux, tmp_qml = temporary_path(final_aux), temporary_path(final_qml)
    Path(tmp_aux).write_text(class_map_pam_xml(cm), encoding="utf-8")
    Path(tmp_qml).write_text(class_map_qml(cm), encoding="utf-8")
    return [*pairs, (tmp_aux, final_aux), (tmp_qml, final_qml)]
