"""Model files: an estimator and its metadata saved with skops, never pickle.

Owns the model file format (:data:`MODEL_FORMAT`, :data:`MODEL_FORMAT_VERSION`),
:func:`save_model_file` (atomic) and :func:`load_model_file`, which accepts only types from
:data:`TRUSTED_PACKAGES` so that a model file cannot smuggle in code to run.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from rasterclass.errors import ModelFileError, RasterclassIOError
from rasterclass.io.paths import PathLike, atomic_write, check_writable

logger = logging.getLogger(__name__)


MODEL_FORMAT = "rasterclass-model"

MODEL_FORMAT_VERSION = 1

#: Packages whose types a model file may hold: scikit-learn's estimators (trees included),
#: numpy/scipy containers and rasterclass's own estimators. Anything else is refused, so a
#: model file cannot smuggle in code to run.
TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy", "rasterclass")


def _is_trusted(type_name: str) -> bool:
    return type_name.split(".", 1)[0] in TRUSTED_PACKAGES


def save_model_file(
    estimator: Any, metadata: dict[str, Any], path: PathLike, *, overwrite: bool = False
) -> str:
    """Save an estimator and its metadata with skops (no pickle)."""
    import skops.io as sio

    check_writable([path], overwrite)
    payload = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "metadata": json.dumps(metadata),
        "estimator": estimator,
    }
    with atomic_write(path) as tmp:
        sio.dump(payload, tmp)
    logger.info("saved model %s", path)
    return str(path)


def load_model_file(path: PathLike) -> tuple[Any, dict[str, Any]]:
    """Load an estimator and its metadata; only known-safe types are accepted."""
    import skops.io as sio

    if not os.path.exists(path):
        raise RasterclassIOError(f"model file {path} does not exist; train one with `train`")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelFileError(
            f"{path} is not a rasterclass model file ({exc}); train one with `rasterclass train`"
        ) from None
    unknown = [t for t in untrusted if not _is_trusted(t)]
    if unknown:
        raise ModelFileError(
            f"{path} contains types rasterclass does not trust: {unknown}; loading it could "
            "run arbitrary code. Re-train the model, or load it yourself with skops.io.load "
            "and trusted=[...] if you know where it comes from"
        )
    try:
        payload = sio.load(path, trusted=untrusted)
    except Exception as exc:
        raise ModelFileError(f"cannot load model file {path}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is not a rasterclass model file; train one with `train`")
    return payload["estimator"], json.loads(payload["metadata"])
