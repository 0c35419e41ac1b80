"""The one-file HTML report of a classification run.

Compute, then present: :func:`build_report` gathers every number from a run's outputs (the
map, the accuracy report, the model, the uncertainty and area-of-applicability layers, an
area table, the provenance sidecar) into a :class:`RunReport`, whose ``to_dict()`` is the
JSON report; :func:`render_html` draws one self-contained page from it (Jinja2 template,
matplotlib figures embedded as PNG data URIs, no network).

Modules: :mod:`.accuracy` (accuracy, cross-validation and signature sections),
:mod:`.layers` (map, areas, uncertainty and AOA sections), :mod:`.build`
(:class:`RunReport`, :func:`build_report`), :mod:`.figures` (the figures) and :mod:`.html`
(:func:`render_html`).
"""

from __future__ import annotations

from rasterclass.report.accuracy import f1_intervals, wilson_interval
from rasterclass.report.build import RunReport, build_report
from rasterclass.report.html import render_html

__all__ = ["RunReport", "build_report", "f1_intervals", "render_html", "wilson_interval"]
