"""One sample per pixel where training polygons overlap.

:func:`one_sample_per_pixel` keeps a pixel under several polygons of one class once (in the
first polygon) and drops a pixel claimed by polygons of different classes, with a warning
naming the features involved.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from rasterclass.classes import ClassMap
from rasterclass.errors import TrainingDataWarning
from rasterclass.sampling.checks import ROWS_SHOWN


def _first_of_pixel(keys: np.ndarray, width: int) -> np.ndarray:
    """Mask of the first record of each pixel (row, col) in records sorted by pixel."""
    if len(keys) == 0:
        return np.zeros(0, dtype=bool)
    pixel = keys[:, 0] * width + keys[:, 1]
    return np.r_[True, pixel[1:] != pixel[:-1]]


def one_sample_per_pixel(
    records: np.ndarray,
    width: int,
    pid_of: dict[int, int],
    class_map: ClassMap,
    what: str,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Each pixel sampled at most once.

    ``records`` are sorted by (row, col, group). A pixel under several polygons of one class
    is kept once, in the first polygon (lowest group id); a pixel claimed by polygons of
    different classes is dropped and counted, and a warning names the features involved.
    Every pixel lies in one chunk, so the result does not depend on the chunking.
    """
    info: dict[str, Any] = {"contested_pixels": 0, "merged_pixels": 0, "contested_by_class": {}}
    if len(records) == 0:
        return records, info
    new = _first_of_pixel(records[:, :2], width)
    start = np.flatnonzero(new)
    pixel_of = np.cumsum(new) - 1
    code = records[:, 2]
    mixed = (np.minimum.reduceat(code, start) != np.maximum.reduceat(code, start))[pixel_of]
    keep = new & ~mixed
    info["merged_pixels"] = int(new[~mixed].size - new[~mixed].sum())
    if mixed.any():
        frame = pd.DataFrame(
            {
                "pixel": pixel_of[mixed],
                "code": code[mixed].astype(np.int64),
                "row": [pid_of[int(g)] for g in records[mixed, 3]],
            }
        )
        n = int(frame["pixel"].nunique())
        info["contested_pixels"] = n
        info["contested_by_class"] = (
            frame.drop_duplicates(["pixel", "code"]).groupby("code").size().to_dict()
        )
        label = {
            r: class_map.name_of(c)
            for r, c in frame.drop_duplicates("row")[["row", "code"]].itertuples(index=False)
        }
        sets = frame.groupby("pixel")["row"].agg(lambda r: tuple(sorted(set(r))))
        counts = sets.value_counts().sort_index()
        shown = "; ".join(
            " & ".join(f"{r} ({label[r]})" for r in rows) + f": {k} px"
            for rows, k in list(counts.items())[:ROWS_SHOWN]
        )
        if len(counts) > ROWS_SHOWN:
            shown += f"; ... ({len(counts)} overlaps in all)"
        warnings.warn(
            TrainingDataWarning(
                f"{n} pixel(s) lie under polygons of different classes in {what} and are "
                f"dropped (features by 0-based row: {shown}); fix the overlapping polygons"
            ),
            stacklevel=3,
        )
    return records[keep], info
