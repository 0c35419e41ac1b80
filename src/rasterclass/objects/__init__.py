"""Object-based image analysis: segment a scene, describe the segments, classify, paint.

The flow (see ``ARCHITECTURE.md``)::

    scene --segment--> segment ids --segment_features--> table (one row per segment)
    training polygons --label_segments--> labelled segments (Samples, grouped by polygon)
    --fit_model--> model --classify_segments--> class per segment
    --paint_segments (chunked apply)--> class map (same writer, same assessment)

Segmentation methods
--------------------
``shepherd`` (default, any scene size)
    Shepherd et al. (2019), "Operational large-scale segmentation of imagery based on
    iterative elimination", as in RSGISLib: k-means seeds are fitted on a seeded sample of
    valid pixels (bands standardised), every pixel takes its nearest seed (a k-d tree, so the
    seed of a pixel does not depend on the block it is computed in), connected components of
    equal seed label become segments, and segments smaller than ``min_size`` pixels are merged
    into their spectrally most similar neighbour until every segment that has a neighbour
    reaches ``min_size``.

    Memory does not grow with the scene: the work is done in fixed square tiles of ``tile``
    pixels (default 1024, on a grid anchored at the scene's top-left corner, independent of
    the dask chunks). Inside a tile, seed components are labelled
    (:func:`skimage.measure.label`) and the clumps that do not touch an inner tile edge are
    eliminated there; components that touch one are *open*: they never pick a neighbour in
    the tile, but closed clumps may merge into them. Only the open segments and the closed
    segments next to them leave the tile (``O(tile perimeter)`` rows per tile, not one per
    seed component): open segments of equal seed facing each other across a tile edge are
    joined (one connected-components pass, the dask-image ``ndmeasure.label`` scheme) and the
    joined segments that are still small are eliminated in a last pass. The raster is painted
    lazily, tile by tile, by running the tile again and looking up the joined ids. On a scene
    no larger than one tile this is the one-pass algorithm over the whole scene; on larger
    scenes the tiles change only the decisions next to tile edges (adjusted Rand index 0.996 between
    ``tile=256`` and one tile on the sample scene).

    The result does **not** depend on the chunking, the scheduler or the number of workers
    (the tiles are fixed; ties are broken by a canonical id, the segment's first pixel), only
    on the parameters, ``tile`` included. Final ids are 1..N: first the segments joined
    across tiles, then each tile's own segments, tiles in row-major order, by first pixel
    (on a one-tile scene: row-major order of first pixels).

    Connectivity is 4 (edge neighbours) by default; ``connectivity=8`` also joins diagonal
    neighbours. Segments whose every neighbour is nodata cannot be merged and may stay
    smaller than ``min_size``.

``slic`` and ``felzenszwalb`` (scenes or tiles that fit in memory)
    scikit-image's algorithms on the standardised bands, run **per chunk** with globally
    unique ids (ids are offset by the number of pixels of the chunks before, so they are
    unique but not consecutive). No segment crosses a chunk edge: chunk edges are always
    segment boundaries (a seam). Open the scene as one chunk (``chunks=`` larger than the
    scene, or ``scene.chunk({"y": -1, "x": -1})``) to segment it in memory without seams.
    The seams are measured by ``benchmarks/bench_segment.py`` and ``tests/test_objects.py``.

Modules
-------
``_blocks`` (chunk layout, the scene as dask), ``seeds`` (k-means seeds on a pixel sample),
``eliminate`` (segment tables, elimination of small segments), ``shepherd`` (the tiled
Shepherd segmentation), ``segmentation`` (:func:`segment`, parameters, slic/felzenszwalb per
chunk), ``features`` (:func:`segment_features`), ``labels`` (training labels, classes,
painting, masking), ``vector`` (:func:`segments_to_vector`). Every name is re-exported
here: import from :mod:`rasterclass.objects`. The jobs that read and write files
(``run_segmentation``, ``classify`` with ``objects=``) live in :mod:`rasterclass.jobs`.
"""

from __future__ import annotations

from rasterclass.objects.features import POSITION_COLUMNS, feature_columns, segment_features
from rasterclass.objects.labels import (
    classify_segments,
    label_segments,
    mask_segments,
    paint_classes,
    paint_map,
    paint_probabilities,
)
from rasterclass.objects.seeds import SeedAssigner, fit_seeds
from rasterclass.objects.segmentation import (
    DEFAULT_PARAMS,
    SEGMENT_METHODS,
    seam_statistics,
    segment,
)
from rasterclass.objects.vector import segments_to_vector

__all__ = [
    "DEFAULT_PARAMS",
    "POSITION_COLUMNS",
    "SEGMENT_METHODS",
    "SeedAssigner",
    "classify_segments",
    "feature_columns",
    "fit_seeds",
    "label_segments",
    "mask_segments",
    "paint_classes",
    "paint_map",
    "paint_probabilities",
    "seam_statistics",
    "segment",
    "segment_features",
    "segments_to_vector",
]
