"""The notebooks in ``notebooks/`` run from a fresh clone, without an error, and show figures.

Each notebook is executed with nbclient (cwd = ``notebooks/``, as a reader opens it); a cell
that raises fails the test, and a notebook whose executed outputs hold no ``image/png`` (a
figure shown inline) fails too: a figure saved to a file under the Agg backend is not shown.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_a_figure(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    figures = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert figures, f"{path.name} shows no figure inline"
