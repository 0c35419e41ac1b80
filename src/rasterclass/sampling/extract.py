"""Extraction of the scene's pixels under training polygons or points (:func:`extract_samples`).

:func:`extract_samples` reprojects the vector to the scene CRS, cleans it
(:mod:`rasterclass.sampling.clean`), splits multi-part features into parts, reads only the
scene chunks that the geometries cover (``_extract_block``, one delayed task per chunk),
drops nodata pixels, keeps each pixel once (:mod:`rasterclass.sampling._overlaps`) and names
every class left without a sample (:mod:`rasterclass.sampling.checks`). The result does not
depend on the chunking of the scene.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
from affine import Affine
from shapely.geometry import box

from rasterclass.classes import ClassMap
from rasterclass.errors import TrainingDataError, TrainingDataWarning
from rasterclass.io import DEFAULT_CHUNK, as_scene, read_vector, scene_grid, scene_radiometry
from rasterclass.sampling._overlaps import one_sample_per_pixel
from rasterclass.sampling.checks import check_classes, rows_text
from rasterclass.sampling.clean import clean_training, duplicate_features, warn_shift
from rasterclass.sampling.samples import Samples
from rasterclass.stack import rasterize_shapes
from rasterclass.training_pixels import TrainingPixels

logger = logging.getLogger(__name__)


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
    """Extract the scene's pixels under training polygons or points, each pixel once.

    Features repeating an earlier feature of the same class exactly are removed; pixels
    under polygons of different classes are dropped (a warning names the features);
    multi-part features are split into parts, each a group for validation. Integer codes
    0..K-1 (as scikit-learn's LabelEncoder writes them) become map codes 1..K with a
    warning, since 0 is the map's nodata; features with code 0 among other codes, a
    negative code or no class value are left out. Every class that ends with no pixel is
    named, with the reason, in one error (or one warning when ``require_all_classes`` is
    false).

    Parameters
    ----------
    scene
        A scene from :func:`rasterclass.open_scene` (lazy or in memory), or any raster
        array (e.g. ``rioxarray.open_rasterio(path)``; see :func:`rasterclass.io.as_scene`).
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
        Raise when a class ends up with no pixel (default); otherwise warn.
    role
        What the vector is ("training", "reference"), for messages.

    Returns
    -------
    Samples
        One row per training pixel: ``X`` (n, bands) values in the scene's band order and
        dtype, ``y`` (n,) int64 class codes, ``groups`` (n,) polygon ids, ``rows``/``cols``
        (n,) pixel positions, the class map and what the extraction did (``info``).

    Raises
    ------
    RasterclassIOError
        The training file does not exist or cannot be read.
    CRSError
        The training data have no CRS.
    SceneError
        ``scene`` cannot be used as a scene (dims, band coordinate).
    TrainingDataError
        The class column is missing or holds fractional numbers, no feature has a
        geometry and a class, no geometry overlaps the scene, or the geometries cover no
        valid pixel.
    TrainingClassesError
        A class ends with no training pixel (each named with the reason), unless
        ``require_all_classes`` is False.

    Examples
    --------
    >>> import numpy as np, rasterio, xarray as xr, rioxarray
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> import rasterclass as rc
    >>> scene = xr.DataArray(np.arange(32, dtype="f4").reshape(2, 4, 4), dims=("band", "y", "x"),
    ...                      coords={"band": ["red", "nir"], "y": [35.0, 25.0, 15.0, 5.0],
    ...                              "x": [5.0, 15.0, 25.0, 35.0]})
    >>> scene = scene.rio.write_crs("EPSG:32633").rio.write_transform(
    ...     rasterio.Affine(10, 0, 0, 0, -10, 40))  # 4 x 4 px of 10 m
    >>> training = gpd.GeoDataFrame({"class": ["water", "forest"]}, crs="EPSG:32633",
    ...                             geometry=[box(0, 20, 20, 40), box(20, 0, 40, 20)])
    >>> samples = rc.extract_samples(scene, training, "class")
    >>> samples.counts()["pixels"].to_dict()  # codes by name: forest 1, water 2
    {1: 4, 2: 4}
    >>> samples.X[:2].tolist(), samples.rows[:2].tolist(), samples.cols[:2].tolist()
    ([[0.0, 16.0], [1.0, 17.0]], [0, 0], [0, 1])
    """
    scene = as_scene(scene)
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
    gdf, unlabelled, shifted = clean_training(gdf, class_column, what)
    has_geom = (gdf.geometry.notna() & ~gdf.geometry.is_empty).to_numpy()
    if not has_geom.any():
        raise TrainingDataError(f"{what} holds no feature with a geometry and a class")
    # every class of a labelled feature is in the class map, so that one lost is named
    if class_map is None:
        class_map = ClassMap.from_values(gdf[class_column].tolist(), legend)
    if shifted and role == "training":
        warn_shift(class_map, class_column)
    codes = class_map.encode(gdf[class_column].tolist())
    scene_box = box(*grid.bounds)
    inside = has_geom.copy()
    inside[has_geom] = gdf.geometry[has_geom].intersects(scene_box).to_numpy()
    if not inside.any():
        vb = ", ".join(f"{b:.1f}" for b in gdf[has_geom].total_bounds)
        sb = ", ".join(f"{b:.1f}" for b in grid.bounds)
        raise TrainingDataError(
            f"no geometry of {what} overlaps the scene (geometries span {vb}, the scene "
            f"{sb}, both in {grid.crs.to_string()}); check that the vector belongs to this "
            "scene and that its CRS is declared correctly"
        )
    if not inside[has_geom].all():
        logger.warning(
            "%d of %d geometries of %s lie outside the scene and are ignored",
            int((~inside[has_geom]).sum()),
            int(has_geom.sum()),
            what,
        )
    duplicate = duplicate_features(gdf, codes, inside)
    n_duplicates = int(duplicate.sum())
    if n_duplicates:
        warnings.warn(
            TrainingDataWarning(
                f"{n_duplicates} feature(s) of {what} repeat an earlier feature of the same "
                f"class exactly (rows {rows_text(gdf['_pid'].to_numpy()[duplicate])}) and "
                "are removed, so that their pixels count once"
            ),
            stacklevel=2,
        )
    use = gdf[inside & ~duplicate].copy()
    use["_code"] = codes[inside & ~duplicate]
    # one group per connected part: a class dissolved into one multipolygon still has
    # many polygons to validate with (and a multipoint many points)
    parts = use.explode(index_parts=False, ignore_index=True)
    parts = parts[parts.geometry.notna() & ~parts.geometry.is_empty]
    multipart = len(parts) > len(use)
    part_pid = parts["_pid"].to_numpy(np.int64)
    gids = np.arange(len(parts), dtype=np.int64) if multipart else part_pid
    pid_of = dict(zip(gids.tolist(), part_pid.tolist(), strict=True))
    if multipart:
        logger.info(
            "%d multi-part features split into %d parts: each part is a polygon (group) of "
            "its own for validation",
            int(use.geometry.geom_type.str.startswith("Multi").sum()),
            len(parts),
        )
    geoms = list(parts.geometry)
    part_codes = parts["_code"].to_numpy(np.int64)
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
                        part_codes[hit].tolist(),
                        gids[hit].tolist(),
                        t @ Affine.translation(x0, y0),
                        y0,
                        x0,
                        all_touched,
                    )
                )
            x0 += w
        y0 += h
    parts_out = dask.compute(*tasks)
    records = np.concatenate(parts_out, axis=0) if parts_out else np.empty((0, 4 + data.shape[0]))
    order = np.lexsort((records[:, 3], records[:, 1], records[:, 0]))
    records = records[order]
    touched = set(np.unique(records[:, 2]).astype(np.int64).tolist())
    finite = np.isfinite(records[:, 4:])
    valid = finite.all(axis=1)
    partly_valid = int((finite.any(axis=1) & ~valid).sum())
    nodata = records[~valid]
    records = records[valid]
    # a nodata pixel under several polygons of one class counts once
    nodata = np.unique(nodata[:, :3], axis=0)
    nodata_pixels = {
        class_map.name_of(int(c)): int(n)
        for c, n in zip(*np.unique(nodata[:, 2], return_counts=True), strict=True)
    }
    if nodata_pixels:
        logger.info("skipped nodata pixels under the geometries: %s", nodata_pixels)
    records, overlap = one_sample_per_pixel(records, grid.width, pid_of, class_map, what)
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
            "partly_valid_pixels": partly_valid,
            "contested_pixels": overlap["contested_pixels"],
            "overlap_pixels_merged": overlap["merged_pixels"],
            "duplicate_features_removed": n_duplicates,
            "features_without_class": sum(len(r) for r in unlabelled.values()),
        },
        footprint=TrainingPixels.from_positions(records[:, 0], records[:, 1], grid),
        radiometry=scene_radiometry(scene),
    )
    per_class = {
        int(c): {
            "features": int((codes == c).sum()),
            "geometries": int(((codes == c) & has_geom).sum()),
            "inside": int(((codes == c) & inside).sum()),
            "touched": int(c) in touched,
            "nodata": nodata_pixels.get(class_map.name_of(int(c)), 0),
            "contested": overlap["contested_by_class"].get(int(c), 0),
        }
        for c in np.unique(codes).tolist()
    }
    check_classes(samples, per_class, unlabelled, what, role, require_all_classes)
    if max_per_class is not None:
        samples = samples.cap_per_class(max_per_class, seed)
    logger.info(
        "extracted %d pixels from %d geometries: %s",
        len(samples),
        len(np.unique(samples.groups)),
        {str(r.name): int(r.pixels) for r in samples.counts().itertuples()},
    )
    return samples
