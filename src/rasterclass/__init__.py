"""rasterclass: remote-sensing raster classification for scenes of any size.

The public names below are imported on first use (PEP 562), so that ``import rasterclass``
(and the command line's ``--help``) does not load numpy, dask, xarray, rasterio and
scikit-learn until they are needed.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rasterclass.accuracy.crossval import cross_validate, folds
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
    from rasterclass.jobs.options import SceneOptions, TrainingOptions
    from rasterclass.jobs.supervised import classify, predict, train
    from rasterclass.jobs.training import fit_model
    from rasterclass.model import RasterModel
    from rasterclass.sampling import Samples, extract_samples

#: Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    "predict_raster": "rasterclass.apply",
    "ClassMap": "rasterclass.classes",
    "RasterclassError": "rasterclass.errors",
    "as_scene": "rasterclass.io",
    "open_scene": "rasterclass.io",
    "read_class_map": "rasterclass.io",
    "read_legend": "rasterclass.io",
    "read_vector": "rasterclass.io",
    "write_map": "rasterclass.io",
    "write_probabilities": "rasterclass.io",
    "RasterModel": "rasterclass.model",
    "SceneOptions": "rasterclass.jobs.options",
    "TrainingOptions": "rasterclass.jobs.options",
    "classify": "rasterclass.jobs.supervised",
    "fit_model": "rasterclass.jobs.training",
    "predict": "rasterclass.jobs.supervised",
    "train": "rasterclass.jobs.supervised",
    "Samples": "rasterclass.sampling",
    "extract_samples": "rasterclass.sampling",
    "cross_validate": "rasterclass.accuracy.crossval",
    "folds": "rasterclass.accuracy.crossval",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rasterclass")
    except PackageNotFoundError:  # pragma: no cover
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")  # rasterclass.io etc.
    else:
        raise AttributeError(f"module 'rasterclass' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, "__version__"})


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
