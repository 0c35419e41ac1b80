"""Checks of extracted samples and their messages.

:func:`check_classes` names in one error (or warning) every class left without a sample, with
the reason, and the features without a class; :func:`check_trainable` requires two classes;
:func:`rows_text` writes feature rows for a message.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from rasterclass.errors import TrainingClassesError, TrainingDataError, TrainingDataWarning, param
from rasterclass.sampling.samples import Samples

#: How many feature rows a message lists before it says "... (n in all)".
ROWS_SHOWN = 10


def rows_text(rows: Sequence[int]) -> str:
    """Feature rows (0-based row numbers in the vector file) for a message."""
    rows = sorted(int(r) for r in rows)
    text = ", ".join(str(r) for r in rows[:ROWS_SHOWN])
    if len(rows) > ROWS_SHOWN:
        text += f", ... ({len(rows)} in all)"
    return text


def gaps_hint(samples: Samples) -> str:
    """What to do when pixels under the geometries hold values on some bands only."""
    n = int(samples.info.get("partly_valid_pixels", 0))
    if not n:
        return ""
    what = (
        f"no pixel under the geometries is valid on every band ({n} px have values on some "
        "bands only: a time series with cloud gaps?)"
        if len(samples) == 0
        else f"{n} px under the geometries have values on some bands only (a time series "
        "with cloud gaps?)"
    )
    return (
        f"{what}; gap-fill the series first "
        f"({param('gap_fill', True)} with {param('valid_mask', 'FILE')}, or "
        "rasterclass.gap_fill)"
    )


def _no_valid_pixel(samples: Samples, what: str) -> TrainingDataError:
    gaps = gaps_hint(samples)
    if gaps:
        return TrainingDataError(f"the geometries of {what} cover no valid pixel: {gaps}")
    return TrainingDataError(
        f"the geometries of {what} cover no valid pixel of the scene; check the "
        "polygons and the scene's nodata"
    )


def check_classes(
    samples: Samples,
    per_class: dict[int, dict[str, Any]],
    unlabelled: dict[str, list[int]],
    what: str,
    role: str,
    strict: bool,
) -> None:
    """One message naming every class left without a sample (and why) and unlabelled rows.

    An error when ``strict`` and a class is lost, else a warning.
    """
    present = set(np.unique(samples.y).tolist())
    lost: list[str] = []
    small = False
    for code, n in per_class.items():
        if code in present:
            continue
        if n["geometries"] == 0:
            why = f"{n['features']} feature(s), none with a geometry"
        elif n["inside"] == 0:
            k = n["geometries"]
            why = (
                "its 1 geometry lies outside the scene"
                if k == 1
                else f"all its {k} geometries lie outside the scene"
            )
        elif not n["touched"]:
            k = n["inside"]
            why = (
                f"{k} geometr{'y holds' if k == 1 else 'ies hold'} no pixel centre: smaller "
                "than a pixel"
            )
            small = True
        else:
            pieces = []
            if n["nodata"]:
                pieces.append(f"{n['nodata']} px on nodata")
            if n["contested"]:
                pieces.append(f"{n['contested']} px also under another class, dropped")
            why = "every pixel unusable: " + ", ".join(pieces)
        lost.append(f"{samples.class_map.name_of(code)!r} ({why})")
    rows = [f"rows {rows_text(r)} ({reason})" for reason, r in unlabelled.items()]
    if not lost and not rows:
        if len(samples) == 0:
            raise _no_valid_pixel(samples, what)
        return
    parts = []
    if lost:
        parts.append(f"class(es) without any {role} pixel: {', '.join(lost)}")
    if rows:
        parts.append(f"features without a class, ignored: {', '.join(rows)}")
    text = f"{what}: {'; '.join(parts)}"
    fixes = []
    if small and role == "training":
        fixes.append(f"use {param('all_touched', True)} for polygons smaller than a pixel")
    gaps = gaps_hint(samples)
    fix = "fix or remove these features" if lost else "give them a class or remove them"
    if any("code 0" in r for r in rows):
        fix += " (number the classes from 1 if 0 is a class)"
    fixes.append(fix)
    message = f"{text}; {', '.join(fixes)}"
    if gaps:
        message = f"{text}; {gaps}; otherwise {', '.join(fixes)}"
    if strict and (lost or len(samples) == 0):
        raise TrainingClassesError(message)
    warnings.warn(TrainingDataWarning(message), stacklevel=3)
    if len(samples) == 0:
        raise _no_valid_pixel(samples, what)


def check_trainable(samples: Samples) -> None:
    """Raise unless the samples have at least two classes."""
    classes = np.unique(samples.y)
    if len(classes) < 2:
        only = samples.class_map.name_of(int(classes[0])) if len(classes) else "none"
        raise TrainingDataError(
            f"the training data hold one class only ({only}); a classifier needs at least two "
            "classes: add polygons of the other classes or pick another class column"
        )
