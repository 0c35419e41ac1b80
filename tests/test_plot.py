"""Figures keep the matplotlib backend a user chose (``%matplotlib inline`` shows them)."""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

import rasterclass as rc
from rasterclass.datasets import example_map

CLASSES = rc.ClassMap.from_values(["water", "forest"])


def test_plot_map_and_quicklook_keep_the_chosen_backend():
    # a notebook has chosen its backend (inline) before the first figure: it must stay, or
    # plt.show() shows nothing (matplotlib.use("Agg", force=False) switched it to Agg)
    before = matplotlib.get_backend()
    plt.switch_backend("svg")
    try:
        ax = rc.plot_map(np.array([[0, 1], [2, 1]]), CLASSES)
        assert matplotlib.get_backend() == "svg"
        figure = rc.quicklook(example_map())
        assert matplotlib.get_backend() == "svg"
        plt.close(ax.figure)
        plt.close(figure)
    finally:
        plt.switch_backend(before)


def test_a_headless_run_gets_agg():
    code = (
        "import numpy as np, matplotlib, rasterclass as rc;"
        "rc.plot_map(np.array([[1]]), rc.ClassMap.from_values(['a']));"
        "print(matplotlib.get_backend())"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().lower() == "agg"
