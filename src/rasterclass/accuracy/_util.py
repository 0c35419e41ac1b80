"""Private helpers shared by the accuracy modules.

Input checks and coercion (``z``, pixel area, square matrices, per-class vectors, label arrays
and their indices), the division that yields ``NaN`` for a zero denominator, the labelling of
per-class results as pandas objects, and the small converters that turn numpy scalars, counts
and estimate-with-interval triples into JSON-ready Python values. Nothing here is public; the
statistics modules import these helpers.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from rasterclass._json import json_scalar as json_scalar  # re-exported for accuracy
from rasterclass._json import jsonable as jsonable
from rasterclass.errors import AccuracyError

M2_PER_HA = 10_000.0


def safe_div(num: ArrayLike, den: ArrayLike) -> NDArray[np.float64]:
    """Elementwise ``num / den`` with ``NaN`` where ``den == 0``."""
    num_a = np.asarray(num, dtype=np.float64)
    den_a = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den_a != 0, num_a / np.where(den_a != 0, den_a, 1.0), np.nan)
    return np.asarray(out, dtype=np.float64)


def check_class_names(names: Sequence[Hashable] | None, k: int, what: str) -> tuple[str, ...]:
    if names is None:
        return tuple(str(i) for i in range(k))
    if isinstance(names, str):
        raise AccuracyError(f"class_names must be a sequence of names, not the string {names!r}")
    out = tuple(str(n) for n in names)
    if len(out) != k:
        raise AccuracyError(
            f"{what} has {k} classes but {len(out)} class names were given; "
            "pass one name per row/column, in matrix order"
        )
    if len(set(out)) != k:
        dupes = sorted({n for n in out if out.count(n) > 1})
        raise AccuracyError(f"class names must be unique; repeated: {dupes}")
    return out


def as_square_matrix(
    matrix: ArrayLike | pd.DataFrame,
    class_names: Sequence[Hashable] | None,
    what: str,
) -> tuple[NDArray[np.float64], tuple[str, ...]]:
    """Validate a square count matrix and its class names."""
    if isinstance(matrix, pd.DataFrame):
        if class_names is None:
            rows = [str(v) for v in matrix.index]
            cols = [str(v) for v in matrix.columns]
            if rows != cols:
                raise AccuracyError(
                    f"{what}: row labels (map classes) {rows} differ from column labels "
                    f"(reference classes) {cols}; reorder so both list the same classes in the "
                    "same order, or pass class_names"
                )
            class_names = rows
        values: Any = matrix.to_numpy()
    else:
        values = matrix
    arr = _float_array(values, f"{what} must hold numeric counts")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise AccuracyError(
            f"{what} must be a non-empty square matrix (rows = map classes, columns = reference "
            f"classes); got shape {arr.shape}. Add absent classes as rows/columns of zeros."
        )
    if not np.all(np.isfinite(arr)):
        raise AccuracyError(f"{what} contains NaN or infinite values; use 0 for empty cells")
    if np.any(arr < 0):
        bad = [tuple(int(v) for v in ij) for ij in np.argwhere(arr < 0)[:5]]
        raise AccuracyError(
            f"{what} has negative counts at (row, column) {bad}; counts must be >= 0"
        )
    names = check_class_names(class_names, arr.shape[0], what)
    return arr, names


def _float_array(values: Any, problem: str) -> NDArray[np.float64]:
    """``values`` as a new float64 array, or AccuracyError(``problem: why``)."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AccuracyError(f"{problem}: {exc}") from exc


def per_class_vector(
    values: ArrayLike | Mapping[Hashable, float] | pd.Series,
    names: tuple[str, ...],
    what: str,
) -> NDArray[np.float64]:
    """A non-negative finite vector aligned with ``names`` (mapping/Series keyed by name)."""
    if isinstance(values, pd.Series | Mapping):
        mapping = {str(k): v for k, v in values.items()}
        unknown = sorted(set(mapping) - set(names))
        if unknown:
            raise AccuracyError(
                f"{what} has entries for unknown classes {unknown}; known classes: {list(names)}"
            )
        missing = [n for n in names if n not in mapping]
        if missing:
            raise AccuracyError(
                f"{what} has no value for classes {missing}; give every class a value (0 if "
                "it is absent)"
            )
        raw: Any = [mapping[n] for n in names]
    else:
        raw = values
    arr = _float_array(raw, f"{what} must be numeric")
    if arr.ndim != 1 or arr.shape[0] != len(names):
        raise AccuracyError(
            f"{what} must have one value per class ({len(names)}); got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise AccuracyError(f"{what} must be finite and >= 0; got {arr.tolist()}")
    return arr


def as_labels(values: ArrayLike, what: str) -> NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim == 0:
        raise AccuracyError(f"{what} must be a sequence of labels, not a scalar")
    return arr.ravel()


def index_of(
    values: NDArray[Any], labels: Sequence[Hashable], what: str, hint: str
) -> NDArray[np.intp]:
    """Positions of ``values`` in ``labels``; AccuracyError for values not in ``labels``."""
    index = pd.Index(list(labels))
    pos = np.asarray(index.get_indexer(values), dtype=np.intp)
    if np.any(pos < 0):
        unknown = pd.unique(values[pos < 0])[:10]
        raise AccuracyError(
            f"{what} contains labels {[json_scalar(v) for v in unknown]} that are not in "
            f"{list(labels)[:20]}; {hint}"
        )
    return pos


def unique_labels(*arrays: NDArray[Any]) -> list[Hashable]:
    seen = pd.unique(np.concatenate([np.asarray(a, dtype=object) for a in arrays]))
    try:
        return sorted(seen.tolist())
    except TypeError:
        return list(seen.tolist())


def count_value(value: float) -> int | float | None:
    """A count for output: int when integral, float otherwise, None when NaN."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value


def ci_bounds(value: float, se: float, z: float) -> tuple[float, float]:
    return (value - z * se, value + z * se)


def estimate_dict(value: float, se: float | None, z: float) -> dict[str, Any]:
    """An estimate with optional SE and CI as a JSON-friendly dict."""
    out: dict[str, Any] = {"value": json_scalar(float(value))}
    if se is not None:
        low, high = ci_bounds(float(value), float(se), z)
        out.update(se=json_scalar(float(se)), ci_low=json_scalar(low), ci_high=json_scalar(high))
    return out


def _positive_number(value: float, message: str) -> float:
    """``value`` as a float, or AccuracyError(``message``) unless finite and > 0."""
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise AccuracyError(message)
    return number


def check_z(z: float) -> float:
    return _positive_number(
        z,
        f"z must be a positive number (1.96 for 95 % intervals, see z_for_confidence); "
        f"got {float(z)!r}",
    )


def labelled_series(values: ArrayLike, names: tuple[str, ...], name: str) -> pd.Series:
    s = pd.Series(np.asarray(values, dtype=np.float64), index=list(names), name=name)
    s.index.name = "class"
    return s


def labelled_matrix(values: NDArray[np.float64], names: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(values, index=list(names), columns=list(names))
    frame.index.name = "map"
    frame.columns.name = "reference"
    return frame


def check_pixel_area(pixel_area_m2: float | None) -> float | None:
    if pixel_area_m2 is None:
        return None
    return _positive_number(
        pixel_area_m2,
        f"pixel_area_m2 must be a positive area in m² (e.g. 900 for 30 m pixels); "
        f"got {pixel_area_m2!r}",
    )
