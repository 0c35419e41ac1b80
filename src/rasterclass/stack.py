"""Grids, band stacking/alignment decisions, band names and the valid-data mask.

Nothing here opens a file: :mod:`rasterclass.io` reads metadata and pixels, this module
decides how the inputs fit onto one grid.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from rasterclass.errors import BandMismatchError, CRSError, GridMismatchError, param

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grid:
    """A raster grid: CRS, affine transform (north-up), width and height in pixels."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def res(self) -> tuple[float, float]:
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t = self.transform
        xs = (t.c, t.c + t.a * self.width)
        ys = (t.f, t.f + t.e * self.height)
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def pixel_area(self) -> float:
        """Area of one pixel in squared CRS units."""
        return abs(self.transform.a * self.transform.e - self.transform.b * self.transform.d)

    def same_as(self, other: Grid, tol: float = 1e-6) -> bool:
        if (self.width, self.height) != (other.width, other.height):
            return False
        if self.crs != other.crs:
            return False
        res = min(self.res)
        return self.transform.almost_equals(other.transform, precision=tol * max(res, 1.0))

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates (y, x) for a north-up grid."""
        t = self.transform
        x = t.c + t.a * (np.arange(self.width) + 0.5)
        y = t.f + t.e * (np.arange(self.height) + 0.5)
        return y, x

    def describe(self) -> str:
        return (
            f"{self.width}x{self.height} px, pixel {self.res[0]:g}x{self.res[1]:g}, "
            f"{self.crs.to_string() if self.crs else 'no CRS'}, bounds "
            + ", ".join(f"{b:.1f}" for b in self.bounds)
        )


_RASTERIZE_LOCK = threading.Lock()


def rasterize_shapes(
    shapes: Sequence[tuple[object, int]],
    out_shape: tuple[int, int],
    transform: Affine,
    *,
    all_touched: bool = False,
    dtype: str = "uint8",
) -> np.ndarray:
    """Burn (geometry, value) pairs onto a window of a grid (0 elsewhere).

    Serialised with a lock: rasterio's rasterize enters ``warnings.catch_warnings()``, which
    is not thread-safe; run from several dask threads at once it scrambles the process's
    warning filters and loses warnings raised elsewhere.
    """
    from rasterio.features import rasterize

    with _RASTERIZE_LOCK:
        return rasterize(
            shapes,
            out_shape=out_shape,
            transform=transform,
            all_touched=all_touched,
            fill=0,
            dtype=dtype,
        )


def choose_grid(grids: Sequence[Grid], names: Sequence[str], reference: int | None) -> Grid:
    """Pick the one grid every input is aligned to.

    Identical grids need nothing. Grids in one CRS that cover the same extent with different
    resolutions (Sentinel-2 10/20/60 m style) go onto the finest grid. Anything else needs an
    explicit ``reference``; rasterclass never silently misaligns.
    """
    if reference is not None:
        return grids[reference]
    first = grids[0]
    if all(g.same_as(first) for g in grids[1:]):
        return first
    if all(g.crs == first.crs for g in grids):
        coarsest = max(max(g.res) for g in grids)
        b0 = np.array(first.bounds)
        if all(np.allclose(np.array(g.bounds), b0, atol=coarsest / 2) for g in grids):
            finest = min(range(len(grids)), key=lambda i: grids[i].res[0] * grids[i].res[1])
            logger.info(
                "inputs cover the same extent at different resolutions: resampling all onto "
                "the grid of %s (%g m)",
                names[finest],
                grids[finest].res[0],
            )
            return grids[finest]
    lines = "; ".join(f"{n}: {g.describe()}" for n, g in zip(names, grids, strict=True))
    raise GridMismatchError(
        "the scene files are on different grids and cannot be stacked as they are "
        f"({lines}); pass a reference grid ({param('reference', 'FILE')}) to "
        "resample every file onto that file's grid"
    )


def check_crs(crs: CRS | None, what: str) -> CRS:
    if crs is None or not crs.to_wkt():
        raise CRSError(
            f"{what} has no coordinate reference system; assign one (e.g. "
            "`gdal_edit.py -a_srs EPSG:32633 FILE`, QGIS 'Assign projection', or crs= in Python)"
        )
    return crs


def band_names_from_files(paths: Sequence[str], counts: Sequence[int]) -> list[str]:
    """Band names from file names (Landsat ``LT05_..._B4.TIF`` -> ``B4``).

    The ``_``/``-``/``.``-separated tokens that all file names share at the start are dropped.
    """
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    tokens = [re.split(r"[_\-. ]+", s) for s in stems]
    shared = 0
    if len(stems) > 1:
        while all(len(t) > shared + 1 for t in tokens) and len({t[shared] for t in tokens}) == 1:
            shared += 1
    names: list[str] = []
    for stem, toks, count in zip(stems, tokens, counts, strict=True):
        short = "_".join(toks[shared:]) or stem
        if count == 1:
            names.append(short)
        else:
            names.extend(f"{short}_{i}" for i in range(1, count + 1))
    return names


def resolve_band_names(
    described: Sequence[str | None], from_files: Sequence[str], given: Sequence[str] | None
) -> list[str]:
    """Band names: given > band descriptions > file-derived names; unique."""
    n = len(from_files)
    if given is not None:
        names = [str(g) for g in given]
        if len(names) != n:
            raise BandMismatchError(
                f"{len(names)} band names given for a scene of {n} bands; give one name per band"
            )
    elif all(d for d in described) and len(set(described)) == n:
        names = [str(d) for d in described]
    else:
        names = list(from_files)
    if len(set(names)) != n:
        dup = sorted({x for x in names if names.count(x) > 1})
        raise BandMismatchError(
            f"band names must be unique, got duplicates {dup}; pass {param('band_names')}"
        )
    return names


def valid_mask(scene: xr.DataArray) -> xr.DataArray:
    """True where every band holds a value (lazy if the scene is)."""
    return scene.notnull().all("band")


def match_bands(scene: xr.DataArray, band_names: Sequence[str]) -> xr.DataArray:
    """Select and order the scene's bands to ``band_names`` (a model's training bands).

    Bands are matched by name; a scene with other bands raises :class:`BandMismatchError`.
    """
    have = [str(b) for b in scene["band"].values]
    want = list(band_names)
    if have == want:
        return scene
    missing = [b for b in want if b not in have]
    extra = [b for b in have if b not in want]
    if missing or extra or len(have) != len(want):
        raise BandMismatchError(
            f"the scene's bands differ from the model's: the model was trained on {want}, the "
            f"scene has {have} (missing {missing}, unexpected {extra}). Give the same bands, "
            f"or rename them with {param('band_names')} if only the names differ"
        )
    logger.info("reordering scene bands to the model's order %s", want)
    return scene.sel(band=want)
