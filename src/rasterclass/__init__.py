"""rasterclass: remote-sensing raster classification for scenes of any size."""

from importlib.metadata import PackageNotFoundError, version

from rasterclass.apply import predict_raster
from rasterclass.classes import ClassMap
from rasterclass.errors import RasterclassError
from rasterclass.io import (
    as_scene,
    open_scene,
    read_class_map,
    read_legend,
    read_vector,
    write_map,
    write_probabilities,
)
from rasterclass.model import RasterModel
from rasterclass.pipeline import (
    SceneOptions,
    TrainingOptions,
    classify,
    fit_model,
    predict,
    train,
)
from rasterclass.sampling import Samples, extract_samples
from rasterclass.validation import cross_validate, folds

try:
    __version__ = version("rasterclass")
except PackageNotFoundError:  # pragma: no cover
    __version__ = "0+unknown"

__all__ = [
    "ClassMap",
    "RasterModel",
    "RasterclassError",
    "Samples",
    "SceneOptions",
    "TrainingOptions",
    "__version__",
    "as_scene",
    "classify",
    "cross_validate",
    "extract_samples",
    "fit_model",
    "folds",
    "open_scene",
    "predict",
    "predict_raster",
    "read_class_map",
    "read_legend",
    "read_vector",
    "train",
    "write_map",
    "write_probabilities",
]
