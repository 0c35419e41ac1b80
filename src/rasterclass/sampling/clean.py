"""Cleaning a training vector before extraction: class values, code shift, repeated features.

:func:`clean_training` keeps the features that carry a class and lists by reason the rows of
those that carry none (no value, empty name, code 0, negative code); integer codes 0..K-1 (as
scikit-learn's LabelEncoder writes them) are recognised so that they shift to map codes 1..K,
with the warning of :func:`warn_shift`. :func:`duplicate_features` finds features repeating
an earlier feature of the same class exactly.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from rasterclass.classes import ClassMap
from rasterclass.errors import TrainingDataError, TrainingDataWarning, param


def clean_training(
    gdf: Any, class_column: str, what: str
) -> tuple[Any, dict[str, list[int]], bool]:
    """Features with a class value, the rows of those without one, and whether codes shift.

    Returns the features that carry a class (their geometry may still be empty: the caller
    accounts for them per class), ``{reason: rows}`` for the features that carry none (no
    value, empty name, code 0 or a negative code) and whether the integer codes are
    0..K-1 (as scikit-learn's LabelEncoder writes them) and so are shifted to 1..K.
    """
    if class_column not in gdf.columns:
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        raise TrainingDataError(
            f"{what} has no column {class_column!r}; its columns are {cols}. "
            f"Pass the class column as {param('class_column')}"
        )
    gdf = gdf.reset_index(drop=True)
    gdf["_pid"] = np.arange(len(gdf))
    values = gdf[class_column]
    has_value = values.notna().to_numpy().copy()
    unlabelled: dict[str, list[int]] = {}
    shifted = False
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        blank = has_value & (values.astype(str).str.strip() == "").to_numpy()
        if blank.any():
            unlabelled["empty class name"] = np.flatnonzero(blank).tolist()
        has_value &= ~blank
    elif pd.api.types.is_integer_dtype(values) or pd.api.types.is_float_dtype(values):
        if pd.api.types.is_float_dtype(values):
            whole = values.dropna()
            if not np.all(np.mod(whole, 1) == 0):
                raise TrainingDataError(
                    f"class column {class_column!r} holds fractional numbers; use a column of "
                    "class names or integer codes"
                )
        ints = values.fillna(-1).to_numpy().astype(np.int64)
        present = sorted(set(ints[has_value].tolist()))
        natural = [v for v in present if v >= 0]
        # codes 0..K-1 (LabelEncoder): 0 is a class, every code moves up by one in the map
        shifted = len(natural) >= 2 and natural == list(range(len(natural)))
        negative = has_value & (ints < 0)
        if negative.any():
            unlabelled["negative class code"] = np.flatnonzero(negative).tolist()
        zero = has_value & (ints == 0) & (not shifted)
        if zero.any():
            unlabelled["class code 0, the map's nodata"] = np.flatnonzero(zero).tolist()
        has_value &= ~negative & ~zero
    missing = ~values.notna().to_numpy()
    if missing.any():
        unlabelled = {"no class value": np.flatnonzero(missing).tolist(), **unlabelled}
    gdf = gdf[has_value].copy()
    if pd.api.types.is_float_dtype(gdf[class_column]):
        gdf[class_column] = gdf[class_column].astype(np.int64)
    return gdf, unlabelled, shifted


def warn_shift(class_map: ClassMap, class_column: str) -> None:
    pairs = list(zip(class_map.values, class_map.codes, strict=True))
    shown = ", ".join(f"{v} -> {c}" for v, c in pairs[:8])
    if len(pairs) > 8:
        shown += ", ..."
    warnings.warn(
        TrainingDataWarning(
            f"class column {class_column!r} holds the codes 0..{len(pairs) - 1}, and 0 is the "
            f"map's nodata: the classes get the map codes {shown} (class names keep the "
            "column's values); number the classes from 1 to keep their codes"
        ),
        stacklevel=3,
    )


def duplicate_features(gdf: Any, codes: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Features whose geometry and class repeat an earlier feature exactly."""
    import shapely

    out = np.zeros(len(gdf), dtype=bool)
    idx = np.flatnonzero(inside)
    if idx.size < 2:
        return out
    wkb = shapely.to_wkb(shapely.normalize(gdf.geometry.to_numpy()[idx]))
    key = pd.Series([(w, int(c)) for w, c in zip(wkb, codes[idx], strict=True)])
    out[idx] = key.duplicated(keep="first").to_numpy()
    return out
