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
from typing import Any, TypeVar

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


Georeferenced = TypeVar("Georeferenced", xr.DataArray, xr.Dataset)


def georeferenced(obj: Georeferenced, like: xr.DataArray | Grid) -> Georeferenced:
    """``obj`` with the CRS and transform of ``like``: the one way a result gets its grid back.

    Parameters
    ----------
    obj
        A DataArray, or a Dataset (then every data variable gets them too), on the grid of
        ``like``.
    like
        A :class:`Grid`, or a DataArray on that grid: its CRS (when it has one) and its
        transform (when it has ``y`` and ``x`` dims, recalculated from the coordinates).

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        ``obj`` with ``rio.crs`` and ``rio.transform()`` set.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from affine import Affine
    >>> from rasterio.crs import CRS
    >>> grid = Grid(CRS.from_epsg(32633), Affine(10, 0, 0, 0, -10, 40), 2, 4)
    >>> out = georeferenced(xr.DataArray(np.zeros((4, 2)), dims=("y", "x")), grid)
    >>> out.rio.crs.to_epsg(), out.rio.transform().a
    (32633, 10.0)
    """
    transform: Affine | None
    if isinstance(like, Grid):
        crs, transform = like.crs, like.transform
    else:
        crs = like.rio.crs
        has_grid = "x" in like.dims and "y" in like.dims
        transform = like.rio.transform(recalc=True) if has_grid else None

    def write(arr: Any) -> Any:
        if crs is not None:
            arr = arr.rio.write_crs(crs)
        return arr if transform is None else arr.rio.write_transform(transform)

    obj = write(obj)
    if isinstance(obj, xr.Dataset):
        for name in obj.data_vars:
            obj[name] = write(obj[name])
    return obj


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


#: Prefix of the names of bands known only by their position (``band_1``...), as GDAL and
#: rioxarray number them.
POSITIONAL_PREFIX = "band_"
_POSITIONAL = re.compile(rf"^{POSITIONAL_PREFIX}(\d+)$")


def positional_name(position: int) -> str:
    """The name of the band at 1-based ``position`` when it has no name (``band_3``)."""
    return f"{POSITIONAL_PREFIX}{int(position)}"


def is_positional(names: Sequence[str]) -> bool:
    """True when every name is a position name (``band_1``, ``band_2``...)."""
    return bool(names) and all(_POSITIONAL.match(str(n)) for n in names)


def band_names_from_files(paths: Sequence[str], counts: Sequence[int]) -> list[str]:
    """Band names for bands without a description.

    A one-band file is named after its file name (Landsat ``LT05_..._B4.TIF`` -> ``B4``; the
    ``_``/``-``/``.``-separated tokens that all file names share at the start are dropped):
    one-band-per-file stacks carry the band in the file name. A band of a multiband file is
    named by its position in the stacked scene (``band_1``, ``band_2``..., as GDAL and
    rioxarray number bands), never after its file name, so the same sensor's scene of another
    date, in a file of another name, gets the same names.
    """
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    tokens = [re.split(r"[_\-. ]+", s) for s in stems]
    shared = 0
    if len(stems) > 1:
        while all(len(t) > shared + 1 for t in tokens) and len({t[shared] for t in tokens}) == 1:
            shared += 1
    names: list[str] = []
    for stem, toks, count in zip(stems, tokens, counts, strict=True):
        if count == 1:
            names.append("_".join(toks[shared:]) or stem)
        else:
            names.extend(positional_name(len(names) + 1) for _ in range(count))
    return names


def resolve_band_names(
    described: Sequence[str | None], from_files: Sequence[str], given: Sequence[str] | None
) -> list[str]:
    """Band names: given > band descriptions > file-derived or position names; unique."""
    n = len(from_files)
    if given is not None:
        names = [str(g) for g in given]
        if len(names) != n:
            raise BandMismatchError(
                f"{len(names)} band names given for a scene of {n} bands; give one name per "
                f"band ({param('band_names')})"
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


def legacy_positional_names(names: Sequence[str]) -> list[str] | None:
    """Position names for the bands an older rasterclass named after a multiband file.

    Before bands without descriptions were named by position, the bands of a multiband file
    ``scene_2023.tif`` were named ``scene_2023_1``, ``scene_2023_2``... Runs of such names
    (one prefix, suffixes 1..k, k >= 2) become ``band_<position>``; None when there is none.
    """
    out = [str(n) for n in names]
    i, changed = 0, False
    while i < len(out):
        m = re.match(r"^(.+)_1$", out[i])
        k = 1
        if m:
            while i + k < len(out) and out[i + k] == f"{m.group(1)}_{k + 1}":
                k += 1
        if m and k >= 2:
            for j in range(i, i + k):
                out[j] = positional_name(j + 1)
            changed = True
        i += k
    return out if changed else None


def valid_mask(scene: xr.DataArray) -> xr.DataArray:
    """True where every band holds a value (lazy if the scene is)."""
    return scene.notnull().all("band")


def _names(names: Sequence[str]) -> str:
    shown = list(names)
    if len(shown) > 8:
        return "[" + ", ".join(shown[:3]) + f", ... {len(shown) - 4} more ..., {shown[-1]}]"
    return "[" + ", ".join(shown) + "]"


def match_bands(
    scene: xr.DataArray, band_names: Sequence[str], aliases: Sequence[str] | None = None
) -> xr.DataArray:
    """Select and order the scene's bands to ``band_names`` (a model's training bands).

    Bands are matched by name where names are meaningful (band descriptions, file names,
    given names) and by position where both sides are named by position (``band_1``...,
    bands without a description). ``aliases`` are other names of the same bands (a model file
    from an older rasterclass). A scene with other bands raises :class:`BandMismatchError`
    saying which case it is and how to fix it.
    """
    have = [str(b) for b in scene["band"].values]
    for want in (list(band_names), list(aliases) if aliases is not None else None):
        if want is None:
            continue
        if have == want:
            return scene
        if sorted(have) == sorted(want) and len(set(want)) == len(want):
            logger.info("reordering scene bands to the model's order %s", want)
            return scene.sel(band=want)
    want = list(band_names)
    fix = f"name the scene's bands with {param('band_names')}"
    if is_positional(want) and is_positional(have):
        raise BandMismatchError(
            f"the scene has {len(have)} bands, the model was trained on {len(want)}; both "
            "are bands without names, matched by position (band_1, band_2...), so the scene "
            f"must hold the model's {len(want)} bands in the training scene's order"
        )
    if is_positional(want) and len(have) == len(want):
        raise BandMismatchError(
            f"the model was trained on {len(want)} bands without names (matched by position: "
            f"{_names(want)}), the scene's bands are named {_names(have)}; if they are the "
            f"same bands in the same order, {fix}: {','.join(want)}"
        )
    if is_positional(have) and len(have) == len(want):
        raise BandMismatchError(
            f"the scene's {len(have)} bands have no names (named by position: {_names(have)}), "
            f"the model was trained on bands named {_names(want)}; if they are the model's "
            f"bands in this order, {fix}: {','.join(want)}"
        )
    missing = [b for b in want if b not in have]
    extra = [b for b in have if b not in want]
    raise BandMismatchError(
        f"the scene's bands differ from the model's (matched by name): the model was trained "
        f"on {_names(want)}, the scene has {_names(have)} (missing {missing}, unexpected "
        f"{extra}). Give the same bands, or, if only the names differ, {fix}"
    )
