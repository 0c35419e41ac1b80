"""The figures of a run report, drawn with matplotlib and embedded as base64 PNG data URIs.

Each function takes the numbers of a :class:`~rasterclass.report.RunReport` section (and its
previews) and returns ``data:image/png;base64,...`` text, so the page needs no other file.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from rasterclass.plot import plot_map, pyplot

DPI = 96


def data_uri(figure: Any) -> str:
    """A matplotlib figure as a ``data:image/png;base64`` URI (the figure is closed).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> data_uri(plt.figure(figsize=(1, 1)))[:22]
    'data:image/png;base64,'
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    pyplot().close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def map_figure(preview: dict[str, Any]) -> str:
    """The class map with its legend (nodata transparent)."""
    ax = plot_map(preview["classes"], preview["map"], extent=preview["extent"])
    ax.tick_params(labelsize=7)
    return data_uri(ax.figure)


def confusion_figure(section: dict[str, Any]) -> str:
    """Two heatmaps of the error matrix: counts, and area proportions (rows = map)."""
    plt = pyplot()
    names = section["class_names"]
    k = len(names)
    side = 1.6 + 0.55 * k
    fig, axes = plt.subplots(1, 2, figsize=(2 * side + 1, side))
    panels = (
        (np.asarray(section["counts"], dtype=float), "counts", "{:.0f}"),
        (np.asarray(section["proportions"], dtype=float), "area proportions", "{:.3f}"),
    )
    for ax, (matrix, title, fmt) in zip(axes, panels, strict=True):
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), names, fontsize=8)
        ax.set_xlabel("reference")
        ax.set_ylabel("map")
        ax.set_title(title)
        top = np.nanmax(matrix) if matrix.size else 0
        for (i, j), v in np.ndenumerate(matrix):
            colour = "white" if top and v > top / 2 else "black"
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7, color=colour)
    fig.tight_layout()
    return data_uri(fig)


def signatures_figure(signatures: dict[str, Any], colours: dict[str, str]) -> str:
    """Per class: the mean per band (line), the 25-75 % range (band) and mean ± 1 std
    (error bars)."""
    plt = pyplot()
    bands = signatures["bands"]
    x = np.arange(len(bands))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(bands) + 3), 3.8))
    for entry in signatures["classes"]:
        colour = colours.get(entry["name"])
        mean, std = np.asarray(entry["mean"]), np.asarray(entry["std"])
        ax.plot(x, mean, marker="o", color=colour, label=f"{entry['name']} (n={entry['n']})")
        ax.fill_between(x, entry["q25"], entry["q75"], color=colour, alpha=0.2, linewidth=0)
        ax.errorbar(x, mean, yerr=std, fmt="none", ecolor=colour, alpha=0.6, capsize=2)
    ax.set_xticks(x, bands, rotation=45 if len(bands) > 6 else 0, ha="right", fontsize=8)
    ax.set_ylabel("value")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return data_uri(fig)


def layer_figure(array: np.ndarray, title: str, cmap: str, vmin: float, vmax: float) -> str:
    """A small continuous layer (NaN transparent) with a colour bar."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    image = ax.imshow(
        np.asarray(array, dtype=float), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest"
    )
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return data_uri(fig)


def aoa_mask_figure(array: np.ndarray) -> str:
    """The AOA mask: inside (1) and outside (0), nodata transparent."""
    plt = pyplot()
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    ax.imshow(
        np.asarray(array, dtype=float),
        cmap=ListedColormap(["#d7301f", "#f0f0f0"]),
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    ax.set_title("area of applicability", fontsize=9)
    ax.set_axis_off()
    handles = [
        Patch(facecolor="#f0f0f0", edgecolor="0.3", label="inside"),
        Patch(facecolor="#d7301f", edgecolor="0.3", label="outside"),
    ]
    ax.legend(
        handles=handles,
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=2,
        frameon=False,
    )
    return data_uri(fig)


def report_figures(sections: dict[str, Any], previews: dict[str, Any]) -> dict[str, str]:
    """Every figure of a report whose section is present, by name."""
    figures = {"map": map_figure(previews["map"])}
    if sections.get("accuracy"):
        figures["confusion"] = confusion_figure(sections["accuracy"])
    if sections.get("signatures"):
        colours = {c["name"]: c["color"] for c in sections["map"]["classes"]}
        figures["signatures"] = signatures_figure(sections["signatures"], colours)
    if "uncertainty" in previews:
        u = previews["uncertainty"]
        figures["margin"] = layer_figure(u["margin"], "margin (1 = sure)", "viridis", 0, 1)
        figures["entropy"] = layer_figure(u["entropy"], "entropy (1 = unsure)", "magma", 0, 1)
    if "aoa" in previews:
        a = previews["aoa"]
        threshold = (sections.get("aoa") or {}).get("threshold")
        top = (
            float(np.nanmax(a["dissimilarity_index"]))
            if np.isfinite(a["dissimilarity_index"]).any()
            else 1.0
        )
        top = max(top, threshold or 0.0, 1e-9)
        figures["di"] = layer_figure(
            a["dissimilarity_index"], "dissimilarity index", "cividis", 0, top
        )
        figures["aoa"] = aoa_mask_figure(a["aoa"])
    return figures
