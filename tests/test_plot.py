"""Figures keep the matplotlib backend a user (or Jupyter) chose; alone they draw off-screen."""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

import rasterclass as rc


def _plot() -> None:
    ax = rc.plot_map(np.array([[0, 1], [2, 1]]), rc.ClassMap.from_values(["water", "forest"]))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1 forest", "2 water"]
    plt.close(ax.figure)


def test_plot_map_keeps_a_chosen_backend():
    # %matplotlib inline sets pyplot's backend; plot_map used to switch it to Agg, and no
    # later figure of the notebook was shown
    before = matplotlib.get_backend()
    try:
        plt.switch_backend("svg")
        _plot()
        assert matplotlib.get_backend().lower() == "svg"
    finally:
        plt.switch_backend(before)


def test_plot_map_draws_off_screen_when_no_backend_was_chosen():
    script = (
        "import numpy as np, matplotlib, rasterclass as rc\n"
        "rc.plot_map(np.array([[1]]), rc.ClassMap.from_values(['water']))\n"
        "print(matplotlib.get_backend().lower())"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert run.stdout.split()[-1] == "agg"
