"""Training samples: pixels under polygons or points, with the polygon id of every pixel.

:func:`extract_samples` reprojects the vector to the scene CRS, reads only the scene chunks
that the geometries cover, and keeps for every sampled pixel its class code, its polygon id
(for validation grouped by polygon) and its row/column. Nodata pixels never become samples.
The result does not depend on the chunking of the scene.

The package is split by concept: :mod:`.samples` (:class:`Samples`), :mod:`.extract`
(:func:`extract_samples` and the per-chunk extraction), :mod:`.clean` (cleaning the training
vector: features without a class, 0..K-1 codes, repeated features), :mod:`._overlaps` (one
sample per pixel where polygons overlap) and :mod:`.checks` (classes left without a sample,
:func:`check_trainable`) and :mod:`.pixels` (:func:`sample_pixels`, the one random pixel
sampler, used by the clusterers and the Shepherd seeds); this module re-exports their
public names.
"""

from __future__ import annotations

from rasterclass.sampling.checks import check_trainable
from rasterclass.sampling.extract import extract_samples
from rasterclass.sampling.pixels import PixelSample, sample_pixels
from rasterclass.sampling.samples import Samples

__all__ = ["PixelSample", "Samples", "check_trainable", "extract_samples", "sample_pixels"]
