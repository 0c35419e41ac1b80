"""Training samples: pixels under polygons or points, with the polygon id of every pixel.

:func:`extract_samples` reprojects the vector to the scene CRS, reads only the scene chunks
that the geometries cover, and keeps for every sampled pixel its class code, its polygon id
(for validation grouped by polygon) and its row/column. Nodata pixels never become samples.
The result does not depend on the chunking of the scene.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from shapely.geometry import box

from rasterclass.classes import ClassMap
from rasterclass.errors import TrainingDataError, param
from rasterclass.io import DEFAULT_CHUNK, read_vector, scene_grid
from rasterclass.stack import rasterize_shapes

logger = logging.getLogger(__name__)


@dataclass
class Samples:
    """Training pixels.

    Attributes
    ----------
    X : ndarray (n, bands)
        Pixel values in the scene's band order.
    y : ndarray (n,)
        Class codes (see ``class_map``).
    groups : ndarray (n,)
        Id of the polygon (row number in the vector file) each pixel comes from.
    rows, cols : ndarray (n,)
        Pixel position in the scene.
    band_names : list of str
    class_map : ClassMap
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    band_names: list[str]
    class_map: ClassMap
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def counts(self) -> pd.DataFrame:
        """Pixels and polygons per class."""
        frame = pd.DataFrame({"code": self.y, "polygon": self.groups})
        agg = frame.groupby("code").agg(pixels=("code", "size"), polygons=("polygon", "nunique"))
        agg = agg.reindex(list(self.class_map.codes), fill_value=0)
        agg.insert(0, "name", [self.class_map.name_of(c) for c in agg.index])
        return agg

    def subset(self, index: np.ndarray) -> Samples:
        return Samples(
            self.X[index],
            self.y[index],
            self.groups[index],
            self.rows[index],
            self.cols[index],
            list(self.band_names),
            self.class_map,
            dict(self.info),
        )

    def cap_per_class(self, max_per_class: int, seed: int = 0) -> Samples:
        """At most ``max_per_class`` pixels per class, drawn at random (seeded)."""
        rng = np.random.default_rng(seed)
        keep = []
        for code in np.unique(self.y):
            idx = np.flatnonzero(self.y == code)
            if len(idx) > max_per_class:
                idx = np.sort(rng.choice(idx, size=max_per_class, replace=False))
            keep.append(idx)
        return self.subset(np.sort(np.concatenate(keep)))

    def summary(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "n_samples": len(self),
            "n_polygons": len(np.unique(self.groups)),
            "per_class": {
                str(r.name): {"pixels": int(r.pixels), "polygons": int(r.polygons)}
                for r in counts.itertuples()
            },
            **self.info,
        }


def _extract_block(
    block: np.ndarray,
    geoms: Sequence[Any],
    codes: Sequence[int],
    pids: Sequence[int],
    transform: Affine,
    row0: int,
    col0: int,
    all_touched: bool,
) -> np.ndarray:
    """Pixels of one chunk under the geometries: (n, 4 + bands) of row, col, code, pid, values.

    Nodata pixels are kept (NaN values) so that the caller can count them.
    """
    h, w = block.shape[1:]
    inv = ~transform
    out = []
    for geom, code, pid in zip(geoms, codes, pids, strict=True):
        minx, miny, maxx, maxy = geom.bounds
        cs = [inv @ (x, y) for x in (minx, maxx) for y in (miny, maxy)]
        c_lo = max(0, int(np.floor(min(c[0] for c in cs))) - 1)
        c_hi = min(w, int(np.ceil(max(c[0] for c in cs))) + 1)
        r_lo = max(0, int(np.floor(min(c[1] for c in cs))) - 1)
        r_hi = min(h, int(np.ceil(max(c[1] for c in cs))) + 1)
        if c_hi <= c_lo or r_hi <= r_lo:
            continue
        sub_t = transform @ Affine.translation(c_lo, r_lo)
        mask = rasterize_shapes(
            [(geom, 1)], (r_hi - r_lo, c_hi - c_lo), sub_t, all_touched=all_touched
        )
        rr, cc = np.nonzero(mask)
        if rr.size == 0:
            continue
        rr, cc = rr + r_lo, cc + c_lo
        rec = np.empty((rr.size, 4 + block.shape[0]), dtype=np.float64)
        rec[:, 0] = rr + row0
        rec[:, 1] = cc + col0
        rec[:, 2] = code
        rec[:, 3] = pid
        rec[:, 4:] = block[:, rr, cc].T
        out.append(rec)
    if not out:
        return np.empty((0, 4 + block.shape[0]), dtype=np.float64)
    return np.concatenate(out, axis=0)


def _clean_training(gdf: Any, class_column: str, what: str) -> Any:
    if class_column not in gdf.columns:
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        raise TrainingDataError(
            f"{what} has no column {class_column!r}; its columns are {cols}. "
            f"Pass the class column as {param('class_column')}"
        )
    gdf = gdf.reset_index(drop=True)
    gdf["_pid"] = np.arange(len(gdf))
    keep = gdf.geometry.notna() & ~gdf.geometry.is_empty
    values = gdf[class_column]
    keep &= values.notna()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        keep &= values.astype(str).str.strip() != ""
    elif pd.api.types.is_integer_dtype(values) or pd.api.types.is_float_dtype(values):
        if pd.api.types.is_float_dtype(values):
            whole = values.dropna()
            if not np.all(np.mod(whole, 1) == 0):
                raise TrainingDataError(
                    f"class column {class_column!r} holds fractional numbers; use a column of "
                    "class names or integer codes"
                )
        keep &= values.fillna(0) > 0
    dropped = int((~keep).sum())
    if dropped:
        logger.warning(
            "%d of %d features of %s have no geometry or no class (empty, null or code <= 0) "
            "and are ignored",
            dropped,
            len(gdf),
            what,
        )
    gdf = gdf[keep].copy()
    if pd.api.types.is_float_dtype(gdf[class_column]):
        gdf[class_column] = gdf[class_column].astype(np.int64)
    return gdf


def extract_samples(
    scene: xr.DataArray,
    training: Any,
    class_column: str,
    *,
    all_touched: bool = False,
    max_per_class: int | None = None,
    seed: int = 0,
    legend: ClassMap | None = None,
    class_map: ClassMap | None = None,
    layer: str | None = None,
    require_all_classes: bool = True,
    role: str = "training",
) -> Samples:
    """Extract the scene's pixels under training polygons or points.

    Parameters
    ----------
    scene
        A scene from :func:`rasterclass.open_scene` (lazy or in memory).
    training
        Path of a GeoPackage/shapefile/GeoJSON, or a GeoDataFrame, in any CRS (reprojected
        to the scene CRS).
    class_column
        Column holding class names (strings) or integer codes.
    all_touched
        Take every pixel a polygon touches; default is pixels whose centre is inside.
    max_per_class
        Cap of pixels per class, drawn at random with ``seed``.
    legend
        Names/colours/codes overriding the defaults (see :func:`rasterclass.io.read_legend`).
    class_map
        Use this ClassMap instead of building one (e.g. a model's, for reference data).
    require_all_classes
        Raise when a class ends up with no pixel (default); otherwise log it.
    role
        What the vector is ("training", "reference"), for messages.

    Returns
    -------
    Samples

    Examples
    --------
    >>> samples = extract_samples(scene, "training.gpkg", "class")  # doctest: +SKIP
    >>> samples.counts()  # doctest: +SKIP
    """
    grid = scene_grid(scene)
    what = f"{role} file {training}" if isinstance(training, str | os.PathLike) else role
    if isinstance(training, str | os.PathLike):
        gdf = read_vector(training, grid.crs, layer=layer, what=role)
    else:
        from rasterclass.errors import CRSError

        gdf = training
        if gdf.crs is None:
            raise CRSError(f"the {role} GeoDataFrame has no CRS; call .set_crs(...) first")
        if not gdf.crs.equals(grid.crs):
            logger.info("reprojecting %s data to the scene CRS %s", role, grid.crs.to_string())
            gdf = gdf.to_crs(grid.crs)
    gdf = _clean_training(gdf, class_column, what)
    if len(gdf) == 0:
        raise TrainingDataError(f"{what} holds no feature with a geometry and a class")
    scene_box = box(*grid.bounds)
    inside = gdf.geometry.intersects(scene_box)
    if not inside.any():
        vb = ", ".join(f"{b:.1f}" for b in gdf.total_bounds)
        sb = ", ".join(f"{b:.1f}" for b in grid.bounds)
        raise TrainingDataError(
            f"no geometry of {what} overlaps the scene (geometries span {vb}, the scene "
            f"{sb}, both in {grid.crs.to_string()}); check that the vector belongs to this "
            "scene and that its CRS is declared correctly"
        )
    if not inside.all():
        logger.warning(
            "%d of %d geometries of %s lie outside the scene and are ignored",
            int((~inside).sum()),
            len(gdf),
            what,
        )
    gdf = gdf[inside]
    if class_map is None:
        class_map = ClassMap.from_values(gdf[class_column].tolist(), legend)
    codes = class_map.encode(gdf[class_column].tolist())
    geoms = list(gdf.geometry)
    pids = gdf["_pid"].to_numpy()
    bounds = np.array([g.bounds for g in geoms])

    data = scene.data
    if not isinstance(data, da.Array):
        data = da.from_array(data, chunks=(data.shape[0], DEFAULT_CHUNK, DEFAULT_CHUNK))
    blocks = data.to_delayed()
    tasks = []
    t = grid.transform
    y0 = 0
    for i, h in enumerate(data.chunks[1]):
        x0 = 0
        for j, w in enumerate(data.chunks[2]):
            cx0, cy0 = t @ (x0, y0)
            cx1, cy1 = t @ (x0 + w, y0 + h)
            bx0, bx1 = min(cx0, cx1), max(cx0, cx1)
            by0, by1 = min(cy0, cy1), max(cy0, cy1)
            hit = np.flatnonzero(
                (bounds[:, 0] <= bx1)
                & (bounds[:, 2] >= bx0)
                & (bounds[:, 1] <= by1)
                & (bounds[:, 3] >= by0)
            )
            if hit.size:
                tasks.append(
                    dask.delayed(_extract_block)(
                        blocks[0, i, j],
                        [geoms[k] for k in hit],
                        codes[hit].tolist(),
                        pids[hit].tolist(),
                        t @ Affine.translation(x0, y0),
                        y0,
                        x0,
                        all_touched,
                    )
                )
            x0 += w
        y0 += h
    parts = dask.compute(*tasks)
    records = np.concatenate(parts, axis=0) if parts else np.empty((0, 4 + data.shape[0]))
    order = np.lexsort((records[:, 3], records[:, 1], records[:, 0]))
    records = records[order]
    valid = np.isfinite(records[:, 4:]).all(axis=1)
    nodata = records[~valid]
    records = records[valid]
    nodata_pixels = {
        class_map.name_of(int(c)): int(n)
        for c, n in zip(*np.unique(nodata[:, 2], return_counts=True), strict=True)
    }
    if nodata_pixels:
        logger.info("skipped nodata pixels under the geometries: %s", nodata_pixels)
    band_names = [str(b) for b in scene["band"].values]
    samples = Samples(
        X=records[:, 4:].astype(scene.dtype),
        y=records[:, 2].astype(np.int64),
        groups=records[:, 3].astype(np.int64),
        rows=records[:, 0].astype(np.int64),
        cols=records[:, 1].astype(np.int64),
        band_names=band_names,
        class_map=class_map,
        info={
            "all_touched": all_touched,
            "class_column": class_column,
            "nodata_pixels": nodata_pixels,
        },
    )
    _check_classes(samples, gdf, class_column, codes, require_all_classes)
    if max_per_class is not None:
        samples = samples.cap_per_class(max_per_class, seed)
    logger.info(
        "extracted %d pixels from %d geometries: %s",
        len(samples),
        len(np.unique(samples.groups)),
        {str(r.name): int(r.pixels) for r in samples.counts().itertuples()},
    )
    return samples


def _check_classes(
    samples: Samples, gdf: Any, class_column: str, codes: np.ndarray, strict: bool
) -> None:
    present = set(np.unique(samples.y).tolist())
    empty = [c for c in np.unique(codes).tolist() if c not in present]
    if empty:
        names = [samples.class_map.name_of(c) for c in empty]
        msg = (
            f"class(es) {names} have no valid pixel: their geometries cover only nodata or are "
            f"smaller than a pixel; use {param('all_touched', True)}, fix the polygons, or "
            "remove the class"
        )
        if strict:
            raise TrainingDataError(msg)
        logger.warning("%s", msg)
    if len(samples) == 0:
        raise TrainingDataError(
            "the training geometries cover no valid pixel of the scene; check the polygons "
            "and the scene's nodata"
        )


def check_trainable(samples: Samples) -> None:
    """Raise unless the samples have at least two classes."""
    classes = np.unique(samples.y)
    if len(classes) < 2:
        only = samples.class_map.name_of(int(classes[0])) if len(classes) else "none"
        raise TrainingDataError(
            f"the training data hold one class only ({only}); a classifier needs at least two "
            "classes: add polygons of the other classes or pick another class column"
        )
