"""All file input and output: scenes, vectors, legends, maps, probability layers, model files.

Only this package opens or writes files. Scenes are read lazily, chunk by chunk, by one
module-level block reader that keeps only file *paths* in the dask graph (so the graph runs
on threads, processes or a ``dask.distributed`` cluster). Every output is written to a
temporary file beside the target and renamed when complete, so a failure never leaves a half
file, and nothing is overwritten unless asked.

Modules, lowest layer first: :mod:`~rasterclass.io.paths` (output/input files, the collision
check, the atomic write), :mod:`~rasterclass.io.chunks` (chunk and tile sizes),
:mod:`~rasterclass.io._read` (the block reader), :mod:`~rasterclass.io.scene` (scenes),
:mod:`~rasterclass.io.vectors` (vector files, legends), :mod:`~rasterclass.io.styles` (PAM and
QGIS sidecar text), :mod:`~rasterclass.io.writer` (the GeoTIFF/COG writer),
:mod:`~rasterclass.io.maps` (class maps), :mod:`~rasterclass.io.probabilities` (probability
layers), :mod:`~rasterclass.io.segments` (segment-id rasters),
:mod:`~rasterclass.io.dates` (acquisition dates, scenes of several dates),
:mod:`~rasterclass.io.models` (model files) and :mod:`~rasterclass.io.tables` (text, tables,
figures). Every name is re-exported here, so ``from rasterclass.io import ...`` keeps working;
so are the radiometry records scenes carry (:mod:`rasterclass.radiometry`).
"""

from __future__ import annotations

from rasterclass.io.chunks import (
    DEFAULT_CHUNK,
    SUMMARY_BLOCK,
    TILE,
    auto_chunk,
    check_chunks,
    summary_blocks,
)
from rasterclass.io.dates import open_dates, read_date
from rasterclass.io.maps import (
    checked_class_codes,
    map_output,
    read_class_map,
    read_map_tags,
    read_quicklook,
    read_training_pixels,
    write_map,
)
from rasterclass.io.models import (
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    TRUSTED_PACKAGES,
    load_model_file,
    read_model_members,
    save_model_file,
)
from rasterclass.io.paths import (
    PROVENANCE_SUFFIX,
    SHAPEFILE_PARTS,
    PathLike,
    atomic_write,
    check_output_format,
    check_writable,
    input_files,
    output_files,
)
from rasterclass.io.probabilities import (
    CONFIDENCE_LAYER,
    PROBABILITY_LAYER,
    probability_output,
    stack_probabilities,
    write_probabilities,
)
from rasterclass.io.scene import as_scene, open_scene, scene_grid
from rasterclass.io.segments import SEGMENTS_TAG, open_segments, write_segments
from rasterclass.io.styles import class_map_pam_xml, class_map_qml, probabilities_qml
from rasterclass.io.tables import (
    file_sha256,
    read_json,
    read_table,
    table_format,
    write_figure,
    write_table,
    write_text,
)
from rasterclass.io.vectors import read_legend, read_vector, write_vector
from rasterclass.io.writer import (
    CLASSMAP_TAG,
    OVERVIEW_MIN_SIDE,
    ProgressCallback,
    RasterOutput,
    WriteOptions,
    class_map_nbits,
    overview_factors,
    write_rasters,
)
from rasterclass.io.writer import (
    write_chunks as write_chunks,  # private; tests/test_predict.py imports it
)
from rasterclass.radiometry import (
    RADIOMETRY_ATTR,
    check_radiometry,
    radiometry_differences,
    radiometry_records,
    rename_bands,
    scene_radiometry,
)

__all__ = [
    "CLASSMAP_TAG",
    "CONFIDENCE_LAYER",
    "DEFAULT_CHUNK",
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "OVERVIEW_MIN_SIDE",
    "PROBABILITY_LAYER",
    "PROVENANCE_SUFFIX",
    "RADIOMETRY_ATTR",
    "SEGMENTS_TAG",
    "SHAPEFILE_PARTS",
    "SUMMARY_BLOCK",
    "TILE",
    "TRUSTED_PACKAGES",
    "PathLike",
    "ProgressCallback",
    "RasterOutput",
    "WriteOptions",
    "as_scene",
    "atomic_write",
    "auto_chunk",
    "check_chunks",
    "check_output_format",
    "check_radiometry",
    "check_writable",
    "checked_class_codes",
    "class_map_nbits",
    "class_map_pam_xml",
    "class_map_qml",
    "file_sha256",
    "input_files",
    "load_model_file",
    "map_output",
    "open_dates",
    "open_scene",
    "open_segments",
    "output_files",
    "overview_factors",
    "probabilities_qml",
    "probability_output",
    "radiometry_differences",
    "radiometry_records",
    "read_class_map",
    "read_date",
    "read_json",
    "read_legend",
    "read_map_tags",
    "read_model_members",
    "read_quicklook",
    "read_table",
    "read_training_pixels",
    "read_vector",
    "rename_bands",
    "save_model_file",
    "scene_grid",
    "scene_radiometry",
    "stack_probabilities",
    "summary_blocks",
    "table_format",
    "write_figure",
    "write_map",
    "write_probabilities",
    "write_rasters",
    "write_segments",
    "write_table",
    "write_text",
    "write_vector",
]
