"""rasterclass: remote-sensing raster classification for scenes of any size."""

from importlib.metadata import PackageNotFoundError, version

from rasterclass.apply import predict_raster
from rasterclass.classes import ClassMap
from rasterclass.errors import RasterclassError
from rasterclass.io import (
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
    "classify",
    "extract_samples",
    "fit_model",
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
