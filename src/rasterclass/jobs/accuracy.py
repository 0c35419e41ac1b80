"""Jobs on a finished map: assess its accuracy, draw a sample design, render a quicklook.

This module owns :func:`assess_map` (assess a map against reference data and write the
report), :func:`sample_map` (draw stratified sample points and write them) and
:func:`quicklook_map` (render a map with its legend to a figure file).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    inputs = {"reference data": reference, "strata raster": options.get("strata")}
    return _map_job(
        lambda: assess(map_path, reference, class_column, **options),
        write_report,
        map_path,
        output,
        overwrite,
        inputs,
    )


def sample_map(
    map_path: PathLike,
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    **options: Any,
) -> Any:
    """Draw sample points (see :func:`rasterclass.accuracy.draw.draw_sample`) and write them."""
    inputs = {"training file": options.get("training")}
    return _map_job(
        lambda: draw_sample(map_path, **options), write_vector, map_path, output, overwrite, inputs
    )


def quicklook_map(map_path: PathLike, output: PathLike, *, overwrite: bool = False) -> str:
    """Render a map file (legend, class colours) to a PNG/PDF/SVG."""
    check_writable({"output": output}, overwrite, inputs={"map": map_path})
    figure = quicklook(map_path)
    return write_figure(figure, output, overwrite=overwrite)


def _map_job(
    run: Callable[[], Any],
    write: Callable[..., Any],
    map_path: PathLike,
    output: PathLike | None,
    overwrite: bool,
    inputs: Mapping[str, Any],
) -> Any:
    """Check ``output`` against the map and the other inputs, ``run()``, and write the
    result to ``output`` (``write(result, output, overwrite=...)``) when given."""
    check_writable({"output": output}, overwrite, inputs={"map": map_path, **inputs})
    result = run()
    if output is not None:
        write(result, output, overwrite=overwrite)
    return result
