"""JSON-ready values: the one conversion of numbers, arrays and mappings for JSON files.

Reports, model metadata and sidecars all go through :func:`jsonable` (and
:func:`json_scalar` for one number), so a value is written the same way everywhere.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def json_scalar(value: Any) -> Any:
    """A JSON-friendly Python scalar (NaN/inf -> None, numpy -> builtin).

    Examples
    --------
    >>> import numpy as np
    >>> json_scalar(np.float32(0.5)), json_scalar(float("nan"))
    (0.5, None)
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def jsonable(obj: Any, *, deep: bool = True) -> Any:
    """``obj`` as JSON-serialisable builtins.

    Parameters
    ----------
    obj
        Any value.
    deep
        True (reports): mappings, Series, arrays, lists and tuples converted recursively,
        paths as strings, numpy scalars as builtins, NaN/inf as None (JSON ``null``),
        anything else ``str``. False (an estimator's parameters, kept as given): bool, int,
        str, None and finite floats as they are; NaN/inf and anything else their ``repr``
        (``'nan'``, ``'inf'``, ``"[1, 2]"``), so that the value reads back as it was.

    Returns
    -------
    Any
        A value :func:`json.dumps` writes (with ``deep=False``: strictly valid JSON too).

    Examples
    --------
    >>> import numpy as np
    >>> jsonable({"a": np.array([1.0, np.nan])})
    {'a': [1.0, None]}
    >>> jsonable(float("nan"), deep=False), jsonable([1, 2], deep=False)
    ('nan', '[1, 2]')
    """
    if deep:
        if isinstance(obj, Mapping | pd.Series):
            return {str(k): jsonable(v) for k, v in obj.items()}
        if isinstance(obj, np.ndarray):
            return [jsonable(v) for v in obj.tolist()]
        if isinstance(obj, list | tuple):
            return [jsonable(v) for v in obj]
        if isinstance(obj, os.PathLike):
            return os.fspath(obj)
    if isinstance(obj, str | bool) or obj is None:
        return obj
    if deep and isinstance(obj, np.generic | int | float):
        return json_scalar(obj)
    if isinstance(obj, int | float):
        return obj if math.isfinite(obj) else repr(obj)
    return str(obj) if deep else repr(obj)
