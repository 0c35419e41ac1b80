"""Chunk geometry: how scenes are cut into dask chunks.

Owns the default chunk side (:data:`DEFAULT_CHUNK`), the GeoTIFF tile size every output is
written with (:data:`TILE`), the chunk side chosen from a memory budget
(:func:`auto_chunk`, shrunk so every thread gets work), the validation of user-given
``chunks`` and ``memory_budget`` (:func:`check_chunks`), the split of an axis into chunks, and
the fixed blocks float summaries are summed in (:func:`summary_blocks`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rasterclass.errors import RasterclassIOError
from rasterclass.parallel import n_threads, usable_cores
from rasterclass.stack import Grid

#: Default chunk side in pixels when no chunks and no memory budget are given.
DEFAULT_CHUNK = 512

#: GeoTIFF tile size of every raster rasterclass writes.
TILE = 256

#: Side (pixels) of the fixed blocks that float summaries (segment features, class
#: statistics) are summed in: partial sums combined in block order give the same last bits
#: for any chunking only if the blocks do not follow the chunks. The default Shepherd tile.
SUMMARY_BLOCK = 1024


def auto_chunk(n_bands: int, memory_budget: float | None, itemsize: int = 4) -> int:
    """Chunk side (pixels) so that one chunk's working set fits a share of the budget.

    The working set of a chunk during prediction is about 12 copies of its pixels (scene
    block, feature matrix, model buffers, probabilities); two chunks are in flight per core.
    """
    if memory_budget is None:
        return DEFAULT_CHUNK
    per_pixel = max(n_bands, 1) * itemsize * 12
    in_flight = 2 * usable_cores()
    side = math.sqrt(memory_budget / (per_pixel * in_flight))
    return int(min(4096, max(TILE, (side // TILE) * TILE)))


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


def summary_blocks(
    height: int, width: int, side: int = SUMMARY_BLOCK
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Row heights and column widths of the fixed summary blocks of a ``height x width``
    grid: ``side`` pixels from the top-left corner, whatever the chunks.

    Examples
    --------
    >>> summary_blocks(2500, 1000)
    ((1024, 1024, 452), (1000,))
    """
    return split_length(height, side) or (0,), split_length(width, side) or (0,)


def split_length(n: int, side: int) -> tuple[int, ...]:
    full, rest = divmod(n, side)
    return (side,) * full + ((rest,) if rest else ())


def enough_chunks(side: int, grid: Grid) -> int:
    """Shrink an automatic chunk side so that every thread gets at least two chunks.

    One chunk runs on one core: a scene that fits in a single default chunk would otherwise
    be predicted on one core (measured: 2x slower on 2 cores).
    """
    threads = n_threads()
    fair = math.sqrt(grid.width * grid.height / (2 * threads))
    return int(min(side, max(TILE, round(fair / TILE) * TILE)))
