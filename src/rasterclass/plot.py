"""Figures: a thematic map with its legend, and a confusion matrix (matplotlib, lazy import)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rasterclass.classes import ClassMap
from rasterclass.io import PathLike, read_class_map, read_quicklook


def plot_map(
    classes: np.ndarray,
    class_map: ClassMap,
    *,
    title: str | None = None,
    extent: tuple[float, float, float, float] | None = None,
    ax: Any = None,
) -> Any:
    """Draw a class map with the ClassMap's colours and a legend; nodata is transparent.

    Examples
    --------
    >>> cm = ClassMap.from_values(["water", "forest"])
    >>> fig = plot_map(np.array([[0, 1], [2, 1]]), cm).figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 7))
    table = class_map.lookup_table().astype(float) / 255
    ax.imshow(
        classes,
        cmap=ListedColormap(table),
        vmin=0,
        vmax=len(table) - 1,
        interpolation="nearest",
        extent=extent,
    )
    # the class map's order (legend order, else code order), as in every other listing
    entries = list(zip(class_map.codes, class_map.colors, class_map.names, strict=True))
    handles = [
        Patch(facecolor=np.array(c[:3]) / 255, edgecolor="0.3", label=f"{code} {n}")  # type: ignore[arg-type]
        for code, c, n in entries
    ]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    if title:
        ax.set_title(title)
    if extent is None:
        ax.set_axis_off()
    return ax


def plot_confusion(report: Any, ax: Any = None) -> Any:
    """Draw the confusion matrix of an AccuracyReport (rows = map, columns = reference)."""
    import matplotlib.pyplot as plt

    stats = report.confusion
    matrix = np.asarray(stats.matrix, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(1 + 0.7 * len(matrix), 1 + 0.6 * len(matrix)))
    ax.imshow(matrix, cmap="Blues")
    names = list(stats.class_names)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("reference")
    ax.set_ylabel("map")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            f"{v:.0f}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if v > matrix.max() / 2 else "black",
        )
    ax.set_title(f"overall accuracy {stats.overall_accuracy:.3f}")
    return ax


def quicklook(map_path: PathLike, *, max_size: int = 1200) -> Any:
    """A figure of a map file (decimated read) with its class names and colours."""
    classes, transform = read_quicklook(map_path, max_size)
    class_map = read_class_map(map_path)
    if class_map is None:
        codes = [int(c) for c in np.unique(classes) if c > 0]
        class_map = ClassMap.from_codes(codes)
    h, w = classes.shape
    extent = (
        transform.c,
        transform.c + transform.a * w,
        transform.f + transform.e * h,
        transform.f,
    )
    ax = plot_map(classes, class_map, title=str(map_path), extent=extent)
    return ax.figure
