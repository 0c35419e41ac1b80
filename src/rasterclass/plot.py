"""Figures: a thematic map with its legend, and a confusion matrix (matplotlib, lazy import)."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from rasterclass.classes import ClassMap
from rasterclass.io import PathLike, read_class_map, read_quicklook


def pyplot() -> Any:
    """``matplotlib.pyplot``, on the off-screen Agg backend unless a backend was chosen.

    The CLI and the report draw figures only to save them, so they want Agg (no display
    needed). A backend the user chose is kept: one set with ``MPLBACKEND`` (Jupyter's
    kernels set the inline backend so) or by importing ``pyplot`` first (``%matplotlib
    inline``); switching it would stop a notebook's later figures from showing.

    Returns
    -------
    module
        ``matplotlib.pyplot``.

    Examples
    --------
    >>> pyplot().__name__
    'matplotlib.pyplot'
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_map(
    classes: np.ndarray,
    class_map: ClassMap,
    *,
    title: str | None = None,
    extent: tuple[float, float, float, float] | None = None,
    ax: Any = None,
) -> Any:
    """Draw a class map with the ClassMap's colours and a legend; nodata is transparent.

    Parameters
    ----------
    classes
        ``(y, x)`` integer class codes (0 = nodata), e.g. ``prediction["classes"].values``.
    class_map
        Codes, names and colours; the legend lists its classes in its order.
    title
        Axes title.
    extent
        ``(left, right, bottom, top)`` in map units (axes are hidden when not given).
    ax
        Matplotlib axes to draw on. Default: a new 8 x 7 inch figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``.figure`` is the figure).

    Codes missing from ``class_map`` are drawn transparent, like nodata; nothing is raised.

    Examples
    --------
    >>> import numpy as np
    >>> import rasterclass as rc
    >>> ax = rc.plot_map(np.array([[0, 1], [2, 1]]), rc.ClassMap.from_values(["water", "forest"]))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['1 forest', '2 water']
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if ax is None:
        _, ax = pyplot().subplots(figsize=(8, 7))
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
    plt = pyplot()
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
    """A figure of a map file with its class names and colours (``rasterclass quicklook``).

    The map is read decimated to at most ``max_size`` pixels a side (from overviews or by
    nearest-neighbour decimation), never whole, so any map size gives a figure quickly.

    Parameters
    ----------
    map_path
        A class map GeoTIFF; class names and colours come from the file (rasterclass maps),
        else codes get default names and colours.
    max_size
        Largest side, in pixels, of the array drawn.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (save it with ``fig.savefig(path)``), in map coordinates.

    Raises
    ------
    RasterclassIOError
        The file does not exist or cannot be read.

    Examples
    --------
    >>> import rasterclass as rc
    >>> from rasterclass.datasets import example_map
    >>> map_path = example_map()  # 4 x 4 px of 10 m: forest (left), water (right)
    >>> fig = rc.quicklook(map_path)
    >>> fig.axes[0].get_title().endswith("map.tif")
    True
    """
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
