"""Post-processing of class maps: minimum mapping unit (sieve), majority filter, polygons.

Every step is chunk-invariant: the result is the same for any chunking of the map and equal
to the in-memory result.

- :mod:`.patches`: global connected components of a (lazy) class map and the graph of
  touching patches (:func:`patch_graph`, the dask-image ``ndmeasure.label`` scheme).
- :mod:`.sieving`: :func:`sieve`, small patches merged into the neighbour they share the
  longest border with; protected classes; the MMU in pixels or hectares.
- :mod:`.majority`: :func:`majority_filter`, the modal class in a window (halo = half the
  window).
- :mod:`.polygons`: :func:`polygonize`, one polygon per patch (whole across chunk edges) or
  per class.

The jobs that read and write files (``sieve_map``, ``majority_map``, ``polygonize_map``) live
in :mod:`rasterclass.jobs.postprocess`.
"""

from __future__ import annotations

from rasterclass.postprocess.majority import check_window, majority_filter
from rasterclass.postprocess.patches import PatchGraph, check_connectivity, patch_graph
from rasterclass.postprocess.polygons import polygonize
from rasterclass.postprocess.sieving import (
    merge_small_patches,
    mmu_pixels,
    parse_mmu,
    protected_codes,
    sieve,
)

__all__ = [
    "PatchGraph",
    "check_connectivity",
    "check_window",
    "majority_filter",
    "merge_small_patches",
    "mmu_pixels",
    "parse_mmu",
    "patch_graph",
    "polygonize",
    "protected_codes",
    "sieve",
]
