"""Jobs on a finished map: assess its accuracy, draw a sample design, render a quicklook.

This module owns :func:`assess_map` (assess a map against reference data and write the
report), :func:`sample_map` (draw stratified sample points and write them) and
:func:`quicklook_map` (render a map with its legend to a figure file).
"""

from __future__ import annotations

from typing import Any

from rasterclass.accuracy.assess import assess
from rasterclass.accuracy.draw import draw_sample
from rasterclass.io import PathLike, check_writable, write_figure, write_vector
from rasterclass.jobs.training import write_report
from rasterclass.plot import quicklook


def assess_map(
    map_path: PathLike,
    reference: Any,
    class_column: str,
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    **options: Any,
) -> Any:
    """Assess a map (see :func:`rasterclass.accuracy.assess.assess`) and write the report."""
    check_writable(
        {"output": output},
        overwrite,
        inputs={
            "map": map_path,
            "reference data": reference,
            "strata raster": options.get("strata"),
        },
    )
    report = assess(map_path, reference, class_column, **options)
    if output is not None:
        write_report(report, output, overwrite=overwrite)
    return report


def sample_map(
    map_path: PathLike,
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    **options: Any,
) -> Any:
    """Draw sample points (see :func:`rasterclass.accuracy.draw.draw_sample`) and write them."""
    check_writable(
        {"output": output},
        overwrite,
        inputs={"map": map_path, "training file": options.get("training")},
    )
    points = draw_sample(map_path, **options)
    if output is not None:
        write_vector(points, output, overwrite=overwrite)
    return points


def quicklook_map(map_path: PathLike, output: PathLike, *, overwrite: bool = False) -> str:
    """Render a map file (legend, class colours) to a PNG/PDF/SVG."""
    check_writable({"output": output}, overwrite, inputs={"map": map_path})
    figure = quicklook(map_path)
    return write_figure(figure, output, overwrite=overwrite)
