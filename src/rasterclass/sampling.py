"""Training samples: pixels under polygons or points, with the polygon id of every pixel.

:func:`extract_samples` reprojects the vector to the scene CRS, reads only the scene chunks
that the geometries cover, and keeps for every sampled pixel its class code, its polygon id
(for validation grouped by polygon) and its row/column. Nodata pixels never become samples.
The result does not depend on the chunking of the scene.
"""

from __future__ import annotations

import logging
import os
import warnings
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
from rasterclass.errors import TrainingClassesError, TrainingDataError, TrainingDataWarning, param
from rasterclass.io import DEFAULT_CHUNK, as_scene, read_vector, scene_grid, scene_radiometry
from rasterclass.stack import rasterize_shapes
from rasterclass.training_pixels import TrainingPixels

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
        Id of the polygon each pixel comes from: the row number in the vector file (from
        0), or, when the file holds multi-part features, the number of the part (every
        part of a multipolygon is a polygon of its own for validation). Each pixel appears
        once: pixels under polygons of different classes are dropped (counted in
        ``info["contested_pixels"]``), a pixel under several polygons of one class belongs
        to the first of them.
    rows, cols : ndarray (n,)
        Pixel position in the scene.
    band_names : list of str
    class_map : ClassMap
    footprint : TrainingPixels, optional
        Every valid pixel under the geometries (before any cap per class), on the scene's
        grid: what a model keeps to recognise its training data later (see
        :mod:`rasterclass.training_pixels`).
    info : dict
        What the extraction did (recorded in the model summary).
    radiometry : list of dict or None
        How each band of the scene was stored (see :func:`rasterclass.open_scene`); the
        model keeps it to warn when a scene to classify is stored differently.
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    band_names: list[str]
    class_map: ClassMap
    info: dict[str, Any] = field(default_factory=dict)
    footprint: TrainingPixels | None = None
    radiometry: list[dict[str, Any]] | None = None

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
            self.footprint,
            self.radiometry,
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


#: How many feature rows a message lists before it says "... (n in all)".
_ROWS_SHOWN = 10


def _rows_text(rows: Sequence[int]) -> str:
    """Feature rows (0-based row numbers in the vector file) for a message."""
    rows = sorted(int(r) for r in rows)
    text = ", ".join(str(r) for r in rows[:_ROWS_SHOWN])
    if len(rows) > _ROWS_SHOWN:
        text += f", ... ({len(rows)} in all)"
    return text


def _clean_training(
    gdf: Any, class_column: str, what: str
) -> tuple[Any, dict[str, list[int]], bool]:
    """Features with a class value, the rows of those without one, and whether codes shift.

    Returns the features that carry a class (their geometry may still be empty: the caller
    accounts for them per class), ``{reason: rows}`` for the features that carry none (no
    value, empty name, code 0 or a negative code) and whether the integer codes are
    0..K-1 (as scikit-learn's LabelEncoder writes them) and so are shifted to 1..K.
    """
    if class_column not in gdf.columns:
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        raise TrainingDataError(
            f"{what} has no column {class_column!r}; its columns are {cols}. "
            f"Pass the class column as {param('class_column')}"
        )
    gdf = gdf.reset_index(drop=True)
    gdf["_pid"] = np.arange(len(gdf))
    values = gdf[class_column]
    has_value = values.notna().to_numpy().copy()
    unlabelled: dict[str, list[int]] = {}
    shifted = False
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        blank = has_value & (values.astype(str).str.strip() == "").to_numpy()
        if blank.any():
            unlabelled["empty class name"] = np.flatnonzero(blank).tolist()
        has_value &= ~blank
    elif pd.api.types.is_integer_dtype(values) or pd.api.types.is_float_dtype(values):
        if pd.api.types.is_float_dtype(values):
            whole = values.dropna()
            if not np.all(np.mod(whole, 1) == 0):
                raise TrainingDataError(
                    f"class column {class_column!r} holds fractional numbers; use a column of "
                    "class names or integer codes"
                )
        ints = values.fillna(-1).to_numpy().astype(np.int64)
        present = sorted(set(ints[has_value].tolist()))
        natural = [v for v in present if v >= 0]
        # codes 0..K-1 (LabelEncoder): 0 is a class, every code moves up by one in the map
        shifted = len(natural) >= 2 and natural == list(range(len(natural)))
        negative = has_value & (ints < 0)
        if negative.any():
            unlabelled["negative class code"] = np.flatnonzero(negative).tolist()
        zero = has_value & (ints == 0) & (not shifted)
        if zero.any():
            unlabelled["class code 0, the map's nodata"] = np.flatnonzero(zero).tolist()
        has_value &= ~negative & ~zero
    missing = ~values.notna().to_numpy()
    if missing.any():
        unlabelled = {"no class value": np.flatnonzero(missing).tolist(), **unlabelled}
    gdf = gdf[has_value].copy()
    if pd.api.types.is_float_dtype(gdf[class_column]):
        gdf[class_column] = gdf[class_column].astype(np.int64)
    return gdf, unlabelled, shifted


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

    Examples
    --------
    >>> samples = extract_samples(scene, "training.gpkg", "class")  # doctest: +SKIP
    >>> samples.counts()  # doctest: +SKIP
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
    gdf, unlabelled, shifted = _clean_training(gdf, class_column, what)
    has_geom = (gdf.geometry.notna() & ~gdf.geometry.is_empty).to_numpy()
    if not has_geom.any():
        raise TrainingDataError(f"{what} holds no feature with a geometry and a class")
    # every class of a labelled feature is in the class map, so that one lost is named
    if class_map is None:
        class_map = ClassMap.from_values(gdf[class_column].tolist(), legend)
    if shifted and role == "training":
        _warn_shift(class_map, class_column)
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
    duplicate = _duplicates(gdf, codes, inside)
    n_duplicates = int(duplicate.sum())
    if n_duplicates:
        warnings.warn(
            TrainingDataWarning(
                f"{n_duplicates} feature(s) of {what} repeat an earlier feature of the same "
                f"class exactly (rows {_rows_text(gdf['_pid'].to_numpy()[duplicate])}) and "
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
    valid = np.isfinite(records[:, 4:]).all(axis=1)
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
    records, overlap = _one_sample_per_pixel(records, grid.width, pid_of, class_map, what)
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
    _check_classes(samples, per_class, unlabelled, what, role, require_all_classes)
    if max_per_class is not None:
        samples = samples.cap_per_class(max_per_class, seed)
    logger.info(
        "extracted %d pixels from %d geometries: %s",
        len(samples),
        len(np.unique(samples.groups)),
        {str(r.name): int(r.pixels) for r in samples.counts().itertuples()},
    )
    return samples


def _warn_shift(class_map: ClassMap, class_column: str) -> None:
    pairs = list(zip(class_map.values, class_map.codes, strict=True))
    shown = ", ".join(f"{v} -> {c}" for v, c in pairs[:8])
    if len(pairs) > 8:
        shown += ", ..."
    warnings.warn(
        TrainingDataWarning(
            f"class column {class_column!r} holds the codes 0..{len(pairs) - 1}, and 0 is the "
            f"map's nodata: the classes get the map codes {shown} (class names keep the "
            "column's values); number the classes from 1 to keep their codes"
        ),
        stacklevel=3,
    )


def _duplicates(gdf: Any, codes: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Features whose geometry and class repeat an earlier feature exactly."""
    import shapely

    out = np.zeros(len(gdf), dtype=bool)
    idx = np.flatnonzero(inside)
    if idx.size < 2:
        return out
    wkb = shapely.to_wkb(shapely.normalize(gdf.geometry.to_numpy()[idx]))
    key = pd.Series([(w, int(c)) for w, c in zip(wkb, codes[idx], strict=True)])
    out[idx] = key.duplicated(keep="first").to_numpy()
    return out


def _first_of_pixel(keys: np.ndarray, width: int) -> np.ndarray:
    """Mask of the first record of each pixel (row, col) in records sorted by pixel."""
    if len(keys) == 0:
        return np.zeros(0, dtype=bool)
    pixel = keys[:, 0] * width + keys[:, 1]
    return np.r_[True, pixel[1:] != pixel[:-1]]


def _one_sample_per_pixel(
    records: np.ndarray,
    width: int,
    pid_of: dict[int, int],
    class_map: ClassMap,
    what: str,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Each pixel sampled at most once.

    ``records`` are sorted by (row, col, group). A pixel under several polygons of one class
    is kept once, in the first polygon (lowest group id); a pixel claimed by polygons of
    different classes is dropped and counted, and a warning names the features involved.
    Every pixel lies in one chunk, so the result does not depend on the chunking.
    """
    info: dict[str, Any] = {"contested_pixels": 0, "merged_pixels": 0, "contested_by_class": {}}
    if len(records) == 0:
        return records, info
    new = _first_of_pixel(records[:, :2], width)
    start = np.flatnonzero(new)
    pixel_of = np.cumsum(new) - 1
    code = records[:, 2]
    mixed = (np.minimum.reduceat(code, start) != np.maximum.reduceat(code, start))[pixel_of]
    keep = new & ~mixed
    info["merged_pixels"] = int(new[~mixed].size - new[~mixed].sum())
    if mixed.any():
        frame = pd.DataFrame(
            {
                "pixel": pixel_of[mixed],
                "code": code[mixed].astype(np.int64),
                "row": [pid_of[int(g)] for g in records[mixed, 3]],
            }
        )
        n = int(frame["pixel"].nunique())
        info["contested_pixels"] = n
        info["contested_by_class"] = (
            frame.drop_duplicates(["pixel", "code"]).groupby("code").size().to_dict()
        )
        label = {
            r: class_map.name_of(c)
            for r, c in frame.drop_duplicates("row")[["row", "code"]].itertuples(index=False)
        }
        sets = frame.groupby("pixel")["row"].agg(lambda r: tuple(sorted(set(r))))
        counts = sets.value_counts().sort_index()
        shown = "; ".join(
            " & ".join(f"{r} ({label[r]})" for r in rows) + f": {k} px"
            for rows, k in list(counts.items())[:_ROWS_SHOWN]
        )
        if len(counts) > _ROWS_SHOWN:
            shown += f"; ... ({len(counts)} overlaps in all)"
        warnings.warn(
            TrainingDataWarning(
                f"{n} pixel(s) lie under polygons of different classes in {what} and are "
                f"dropped (features by 0-based row: {shown}); fix the overlapping polygons"
            ),
            stacklevel=3,
        )
    return records[keep], info


def _check_classes(
    samples: Samples,
    per_class: dict[int, dict[str, Any]],
    unlabelled: dict[str, list[int]],
    what: str,
    role: str,
    strict: bool,
) -> None:
    """One message naming every class left without a sample (and why) and unlabelled rows.

    An error when ``strict`` and a class is lost, else a warning.
    """
    present = set(np.unique(samples.y).tolist())
    lost: list[str] = []
    small = False
    for code, n in per_class.items():
        if code in present:
            continue
        if n["geometries"] == 0:
            why = f"{n['features']} feature(s), none with a geometry"
        elif n["inside"] == 0:
            k = n["geometries"]
            why = (
                "its 1 geometry lies outside the scene"
                if k == 1
                else f"all its {k} geometries lie outside the scene"
            )
        elif not n["touched"]:
            k = n["inside"]
            why = (
                f"{k} geometr{'y holds' if k == 1 else 'ies hold'} no pixel centre: smaller "
                "than a pixel"
            )
            small = True
        else:
            pieces = []
            if n["nodata"]:
                pieces.append(f"{n['nodata']} px on nodata")
            if n["contested"]:
                pieces.append(f"{n['contested']} px also under another class, dropped")
            why = "every pixel unusable: " + ", ".join(pieces)
        lost.append(f"{samples.class_map.name_of(code)!r} ({why})")
    rows = [f"rows {_rows_text(r)} ({reason})" for reason, r in unlabelled.items()]
    if not lost and not rows:
        if len(samples) == 0:
            raise TrainingDataError(
                f"the geometries of {what} cover no valid pixel of the scene; check the "
                "polygons and the scene's nodata"
            )
        return
    parts = []
    if lost:
        parts.append(f"class(es) without any {role} pixel: {', '.join(lost)}")
    if rows:
        parts.append(f"features without a class, ignored: {', '.join(rows)}")
    text = f"{what}: {'; '.join(parts)}"
    fixes = []
    if small and role == "training":
        fixes.append(f"use {param('all_touched', True)} for polygons smaller than a pixel")
    fix = "fix or remove these features" if lost else "give them a class or remove them"
    if any("code 0" in r for r in rows):
        fix += " (number the classes from 1 if 0 is a class)"
    fixes.append(fix)
    message = f"{text}; {', '.join(fixes)}"
    if strict and (lost or len(samples) == 0):
        raise TrainingClassesError(message)
    warnings.warn(TrainingDataWarning(message), stacklevel=3)
    if len(samples) == 0:
        raise TrainingDataError(
            f"the geometries of {what} cover no valid pixel of the scene; check the "
            "polygons and the scene's nodata"
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
