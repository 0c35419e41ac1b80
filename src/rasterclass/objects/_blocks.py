"""Chunk and block layout of object-based work: where each chunk sits, the scene as dask.

Owns the small helpers every object-based step shares: the position of a chunk in the grid of
chunks and of pixels (``Block``, ``block_layout``), the scene as a dask array in scene form with
``band`` in one chunk (``dask_scene``), streamed computation of delayed tasks a few at a time
(``compute_batched``), the area of one pixel (``pixel_area``) and a ``(y, x)`` DataArray on the
scene's grid (``grid_like``). Nothing here knows about segments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import xarray as xr

from rasterclass.parallel import compute_stream
from rasterclass.stack import georeferenced


@dataclass(frozen=True)
class Block:
    """Position of one chunk in the (y, x) grid of chunks and of pixels."""

    i: int
    j: int
    r0: int
    c0: int
    h: int
    w: int


def block_layout(chunks_y: Sequence[int], chunks_x: Sequence[int]) -> list[Block]:
    """Blocks in row-major chunk order."""
    out = []
    r0 = 0
    for i, h in enumerate(chunks_y):
        c0 = 0
        for j, w in enumerate(chunks_x):
            out.append(Block(i, j, r0, c0, int(h), int(w)))
            c0 += w
        r0 += h
    return out


def dask_scene(scene: xr.DataArray) -> xr.DataArray:
    """The scene as a dask array with ``band`` in one chunk (one chunk if in memory), in
    scene form (:func:`rasterclass.io.as_scene`: nodata NaN, scale/offset applied, names)."""
    from rasterclass.io import as_scene

    scene = as_scene(scene)
    if not isinstance(scene.data, da.Array):
        return scene.chunk({"band": -1, "y": -1, "x": -1})
    if len(scene.data.chunks[0]) != 1:
        return scene.chunk({"band": -1})
    return scene


def compute_batched(tasks: Sequence[Any]) -> list[Any]:
    """Compute delayed tasks a few at a time (memory stays that of a few chunks)."""
    return [result for (result,) in compute_stream([(t,) for t in tasks])]


def pixel_area(arr: xr.DataArray) -> float:
    try:
        t = arr.rio.transform(recalc=True)
    except Exception:  # no spatial coords: pixel units
        return 1.0
    return float(abs(t.a * t.e - t.b * t.d)) or 1.0


def grid_like(data: Any, scene: xr.DataArray, name: str, attrs: Mapping[str, Any]) -> xr.DataArray:
    """A (y, x) DataArray on the scene's grid (coords, CRS, transform)."""
    coords = {k: v for k, v in scene.coords.items() if "band" not in v.dims and k != "band"}
    out = xr.DataArray(data, dims=("y", "x"), coords=coords, name=name, attrs=dict(attrs))
    return georeferenced(out, scene)
