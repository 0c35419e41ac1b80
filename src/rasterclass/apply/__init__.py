"""The one chunked apply: any fitted estimator over a scene, block by block.

Classifiers, clusterers, probability layers and segment painting all go through the same
block runner. On a dask-backed scene it builds a lazy graph (nothing computes until a writer
or ``.compute()``); on an in-memory scene it runs the very same block function on the whole
array, which is the oracle the dask path is tested against.

- :mod:`.blocks`: :func:`on_blocks` (any block function over an array) and
  :func:`predict_block` (one block through a fitted estimator).
- :mod:`.raster`: :func:`predict_raster`, a model over a scene (bands matched, the model
  handed to the blocks) and :func:`with_map_attributes` (the output layers' nodata and class
  map, shared with the painted object-based maps).
- :mod:`.segments`: lookup-table painting: :func:`recode`, :func:`paint_segments` and
  :func:`valid_pixels`.

:func:`stack_probabilities` (from :mod:`rasterclass.io`) and :func:`probability_order`
(from :mod:`rasterclass.model`) are re-exported here.
"""

from __future__ import annotations

from rasterclass.apply.blocks import on_blocks, predict_block
from rasterclass.apply.raster import predict_raster, with_map_attributes
from rasterclass.apply.segments import paint_segments, recode, valid_pixels
from rasterclass.io import stack_probabilities
from rasterclass.model import probability_order

__all__ = [
    "on_blocks",
    "paint_segments",
    "predict_block",
    "predict_raster",
    "probability_order",
    "recode",
    "stack_probabilities",
    "valid_pixels",
    "with_map_attributes",
]
