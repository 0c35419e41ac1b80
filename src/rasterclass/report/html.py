"""Render a :class:`~rasterclass.report.RunReport` as one self-contained HTML page.

The page is a Jinja2 template (``templates/report.html.j2``, shipped with the package) filled
with the report's numbers; figures are base64 PNG data URIs, styles are inline, there is no
script to run and a Content-Security-Policy forbids every fetch, so the file opens anywhere
without a network. The JSON report is embedded too (``<script type="application/json"
id="report-data">``, never executed), so the page carries its own numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

from markupsafe import Markup

from rasterclass.report.build import RunReport
from rasterclass.report.figures import report_figures

TEMPLATE = "report.html.j2"


def _number(value: Any, digits: int = 4) -> str:
    """A number as the page writes it: ``digits`` decimals, "n/a" for None/NaN."""
    if value is None:
        return "n/a"
    number = float(value)
    if not math.isfinite(number):
        return "n/a"
    return f"{number:.{digits}f}"


def _count(value: Any) -> str:
    if value is None:
        return "n/a"
    number = float(value)
    return f"{int(number)}" if number.is_integer() else f"{number:.2f}"


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("rasterclass.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    env.filters["count"] = _count
    return env


def render_html(report: RunReport) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    report
        From :func:`rasterclass.report.build_report`.

    Returns
    -------
    str
        HTML5 text: no external reference (figures as ``data:`` URIs, inline CSS, no
        script), the JSON report embedded. Accuracies are printed with 4 decimals, areas in
        hectares with 4 decimals, counts as integers: each number as the JSON holds it,
        rounded.

    Raises
    ------
    jinja2.TemplateError
        The packaged template is missing or broken (a broken install).

    Examples
    --------
    >>> from rasterclass.datasets import example_map
    >>> from rasterclass.report import build_report
    >>> page = render_html(build_report(example_map()))
    >>> page.startswith("<!DOCTYPE html>"), "http://" in page, 'id="map"' in page
    (True, False, True)
    """
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False, ensure_ascii=True).replace("<", "\\u003c")
    template = _environment().get_template(TEMPLATE)
    return template.render(
        title=report.title,
        created=report.created,
        s=data["sections"],
        figures=report_figures(report.sections, report.previews),
        json_data=Markup(text),  # JSON with "<" escaped: safe in a data block
    )
