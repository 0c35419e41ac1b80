"""The run-report job: gather a run's outputs into one HTML page (and its JSON).

This module owns :func:`report_map` (``rasterclass report``), :func:`check_report_outputs`
(the checks before any work, shared with ``classify --html``) and :func:`write_html_report`
(render and write a built report).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from rasterclass.errors import RasterclassIOError, param
from rasterclass.io import PathLike, check_output_format, check_writable, write_text
from rasterclass.jobs.provenance import recorded
from rasterclass.model import RasterModel
from rasterclass.report import RunReport, build_report, render_html

logger = logging.getLogger(__name__)


def check_report_outputs(
    html: PathLike | None, json_output: PathLike | None = None, *, html_name: str = "output"
) -> None:
    """Refuse, before any work, an HTML report not named ``.html``/``.htm`` or a JSON report
    not named ``.json``; ``html_name`` is the parameter that gave the HTML path (named in
    the message: ``output`` of ``report_map``, ``html_output`` of ``classify``).

    Raises
    ------
    RasterclassIOError
        A file name with another ending.
    """
    check_output_format(html, "html", html_name)
    if json_output is not None and Path(json_output).suffix.lower() != ".json":
        raise RasterclassIOError(
            f"{param('json_output', json_output)}: the JSON report is written as .json; name "
            "it with that ending"
        )


def write_html_report(
    report: RunReport,
    output: PathLike,
    *,
    json_output: PathLike | None = None,
    overwrite: bool = False,
) -> list[str]:
    """Render a report to ``output`` (HTML) and, when given, its numbers to ``json_output``.

    Returns
    -------
    list of str
        The paths written.
    """
    written = [write_text(output, render_html(report), overwrite=overwrite)]
    if json_output is not None:
        text = json.dumps(report.to_dict(), indent=2, allow_nan=False, ensure_ascii=False)
        written.append(write_text(json_output, text + "\n", overwrite=overwrite))
    logger.info("wrote %s", ", ".join(written))
    return written


@recorded(
    "map_path",
    "accuracy",
    "model",
    "uncertainty",
    "aoa",
    "areas",
    outputs=("output", "json_output"),
)
def report_map(
    map_path: PathLike,
    output: PathLike,
    *,
    accuracy: PathLike | None = None,
    model: PathLike | RasterModel | None = None,
    uncertainty: PathLike | None = None,
    aoa: PathLike | None = None,
    areas: PathLike | None = None,
    json_output: PathLike | None = None,
    title: str | None = None,
    overwrite: bool = False,
) -> RunReport:
    """Write the one-file HTML report of a run (``rasterclass report``).

    See :func:`rasterclass.report.build_report` for what each input adds; a section whose
    input is not given says so on the page. The HTML is self-contained (figures embedded, no
    network); ``json_output`` holds the same numbers.

    Parameters
    ----------
    map_path
        The class map GeoTIFF.
    output
        The HTML page (``.html``).
    accuracy, model, uncertainty, aoa, areas
        The run's other outputs: accuracy report JSON (``assess -o x.json`` or ``classify
        --report cv.json``), model file, uncertainty layer, AOA layer, area table JSON.
    json_output
        Also write the report's numbers here (``.json``).
    title
        Page title.
    overwrite
        Replace existing outputs (never an input).

    Returns
    -------
    rasterclass.report.RunReport
        The report's numbers.

    Raises
    ------
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input, or the other output.
    RasterclassIOError
        An output named with the wrong ending, an input that does not exist or cannot be
        read, or a raster without the bands its option expects.
    ModelFileError
        ``model`` is not a rasterclass model file.

    Examples
    --------
    >>> import pathlib
    >>> from rasterclass.datasets import example_map
    >>> map_path = example_map()  # 4 x 4 px of 10 m: forest left, water right
    >>> out = pathlib.Path(map_path).parent / "report.html"
    >>> report = report_map(map_path, out, json_output=out.with_suffix(".json"))
    >>> out.read_text().count("<section"), report.sections["map"]["mapped_pixels"]
    (8, 16)
    """
    inputs = {
        "map": map_path,
        "accuracy report": accuracy,
        "model file": model if not isinstance(model, RasterModel) else None,
        "uncertainty layer": uncertainty,
        "AOA layer": aoa,
        "area table": areas,
    }
    check_writable({"output": output, "json_output": json_output}, overwrite, inputs=inputs)
    check_report_outputs(output, json_output)
    parameters = {"title": title} if title else {}
    report = build_report(
        map_path,
        accuracy=accuracy,
        model=model,
        uncertainty=uncertainty,
        aoa=aoa,
        areas=areas,
        title=title,
        parameters=parameters,
    )
    write_html_report(report, output, json_output=json_output, overwrite=overwrite)
    return report
