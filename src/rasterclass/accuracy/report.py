"""Accuracy reports and their renderings.

Owns :class:`AccuracyReport`, the one result object of every assessment (validation,
cross-validation, fit diagnostic, design-based), with its JSON, Markdown and tidy CSV
renderers, the report format and kind literals, and :func:`format_for_path`, which picks the
format from a file name. The Markdown table helpers are private to this module.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd

from rasterclass.accuracy._util import (
    M2_PER_HA,
    ci_bounds,
    jsonable,
)
from rasterclass.accuracy.area import (
    AreaEstimate,
)
from rasterclass.accuracy.confusion import (
    Z_95,
    ConfusionStatistics,
)
from rasterclass.errors import AccuracyError

#: Output formats of :meth:`AccuracyReport.render`.
ReportFormat = Literal["json", "markdown", "csv"]

#: What a report describes. ``"fit diagnostic"`` marks statistics computed on the training
#: data (optimistic); ``"design-based"`` marks area-adjusted estimates from a probability
#: sample.
ReportKind = Literal["validation", "cross-validation", "fit diagnostic", "design-based"]

_REPORT_FORMATS: tuple[str, ...] = get_args(ReportFormat)
_REPORT_KINDS: tuple[str, ...] = get_args(ReportKind)
_EXTENSIONS: dict[str, ReportFormat] = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".csv": "csv",
}
_REPORT_FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def format_for_path(path: str | os.PathLike[str]) -> ReportFormat:
    """Report format implied by a file extension: ``.json``, ``.md``/``.markdown``, ``.csv``.

    Examples
    --------
    >>> format_for_path("out/accuracy.md")
    'markdown'
    """
    suffix = Path(path).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        raise AccuracyError(
            f"cannot write an accuracy report to {os.fspath(path)!r}: unsupported extension "
            f"{suffix or '(none)'!r}; use .json, .md or .csv"
        ) from None


def _md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    align = align or "l" + "r" * (len(headers) - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(_md_escape(h) for h in headers) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
    ]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


#: Decimals of areas in hectares and of shares in CSV tables, and significant digits of other
#: derived values (means): 1e-6 ha (0.01 m2), 1e-9, and 1e-9 relative.
CSV_HA_DECIMALS, CSV_SHARE_DECIMALS, CSV_SIGNIFICANT = 6, 9, 10


def csv_rounded(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of an area table with its float columns rounded for CSV.

    CSV prints a float with every digit of its binary value (``0.30000000000000004`` ha for
    an area of 0.3 ha): the CSV outputs of zonal summaries, damage per zone and class areas
    round first. JSON, Parquet and vector outputs keep the full precision.

    Parameters
    ----------
    table
        A table whose column names are words joined by ``_``.

    Returns
    -------
    pandas.DataFrame
        The same columns: areas in hectares (a ``ha`` word: ``valid_ha``,
        ``area_ha_forest``, ``damaged_ha``, ``adjusted_ha_se``) rounded to 1e-6 ha
        (0.01 m2), shares (a ``share`` word) to 1e-9, means (``mean_...``) to 10
        significant digits (1e-9 relative, finer than any float32 layer); other columns
        (counts, text) as they are. NaN stays NaN. The rounding moves a sum of areas or
        shares by at most a few units of its last decimal.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"valid_ha": [0.1 + 0.2], "share_forest": [2 / 3],
    ...                       "mean_ndvi": [1 / 3], "pixels": [7]})
    >>> csv_rounded(table).to_csv(index=False).splitlines()[1]
    '0.3,0.666666667,0.3333333333,7'
    """
    out = table.copy()
    for column in out.columns:
        if not pd.api.types.is_float_dtype(out[column]):
            continue
        words = str(column).split("_")
        if "ha" in words:
            out[column] = out[column].round(CSV_HA_DECIMALS)
        elif "share" in words:
            out[column] = out[column].round(CSV_SHARE_DECIMALS)
        elif words[0] == "mean":
            out[column] = [float(f"{v:.{CSV_SIGNIFICANT}g}") for v in out[column]]
    return out


def _md_matrix(names: list[str], matrix: Any, fmt: Callable[[float], str]) -> str:
    """A map-by-reference matrix as a Markdown table, rows headed by the class in bold."""
    return markdown_table(
        ["map \\ reference", *names],
        [[f"**{n}**"] + [fmt(v) for v in matrix.iloc[i]] for i, n in enumerate(names)],
    )


def _f(value: float, digits: int = 4) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _fa(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:,.1f}"


def _fc(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def _pm(value: float, se: float, z: float, fmt: Any = _f) -> str:
    if not math.isfinite(value):
        return "n/a"
    if not math.isfinite(se):
        return f"{fmt(value)} ± n/a"
    return f"{fmt(value)} ± {fmt(z * se)}"


@dataclass(eq=False)
class AccuracyReport:
    """Results of an accuracy assessment, with renderers.

    Parameters
    ----------
    confusion : ConfusionStatistics, optional
        Unweighted confusion-matrix statistics.
    area : AreaEstimate, optional
        Design-based (area-adjusted) accuracy and area estimates.
    kind : {"validation", "cross-validation", "fit diagnostic", "design-based"}
        What the numbers are. Use ``"fit diagnostic"`` for statistics on the training data,
        which are optimistic.
    title : str, optional
        Heading of the Markdown report.
    notes : list of str
        Free-text caveats rendered in every format (e.g. "pixel-level random split:
        optimistic because of spatial autocorrelation").
    metadata : dict
        JSON-serialisable provenance (map path, reference file, date, ...).

    Raises
    ------
    AccuracyError
        An unknown ``kind``, neither ``confusion`` nor ``area`` given, or objects of the wrong
        type; from :meth:`render`, an unknown format.

    Examples
    --------
    >>> from rasterclass.accuracy import confusion_statistics
    >>> stats = confusion_statistics([[50, 5], [10, 35]], ["water", "land"])
    >>> report = AccuracyReport(confusion=stats, kind="fit diagnostic",
    ...                         notes=["computed on the training pixels"])
    >>> "water" in report.render("markdown")
    True
    >>> report.render(format_for_path("accuracy.json"))[:1]
    '{'
    """

    confusion: ConfusionStatistics | None = None
    area: AreaEstimate | None = None
    kind: ReportKind = "validation"
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in _REPORT_KINDS:
            raise AccuracyError(
                f"report kind must be one of {list(_REPORT_KINDS)}; got {self.kind!r}"
            )
        if self.confusion is None and self.area is None:
            raise AccuracyError(
                "an AccuracyReport needs confusion statistics, an area estimate, or both"
            )
        if self.confusion is not None and not isinstance(self.confusion, ConfusionStatistics):
            raise AccuracyError(
                "confusion must be a ConfusionStatistics (see confusion_statistics)"
            )
        if self.area is not None and not isinstance(self.area, AreaEstimate):
            raise AccuracyError("area must be an AreaEstimate (see estimate_from_error_matrix)")
        if isinstance(self.notes, str):
            self.notes = [self.notes]
        self.notes = [str(n) for n in self.notes]

    # -- structured output ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict: builtins only, ``NaN`` as ``None``."""
        return {
            "format_version": _REPORT_FORMAT_VERSION,
            "kind": self.kind,
            "title": self.title,
            "notes": list(self.notes),
            "metadata": jsonable(self.metadata),
            "confusion": self.confusion.to_dict() if self.confusion is not None else None,
            "area_estimate": self.area.to_dict() if self.area is not None else None,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as strict JSON text (no ``NaN``)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    def to_frame(self) -> pd.DataFrame:
        """Tidy long table: one row per (section, class, metric).

        Columns: ``kind, section, class, reference_class, metric, value, se, ci_low,
        ci_high``. ``section`` is ``"confusion"`` or ``"area_estimate"``; ``class`` is
        empty for whole-map metrics; ``reference_class`` is set only for matrix cells
        (``metric`` ``"count"``, ``"sample_count"`` or ``"proportion"``).
        """
        rows: list[dict[str, Any]] = []

        def add(
            section: str,
            cls: str,
            metric: str,
            value: float,
            se: float | None = None,
            z: float = Z_95,
            ref: str = "",
        ) -> None:
            low = high = math.nan
            if se is not None:
                low, high = ci_bounds(float(value), float(se), z)
            rows.append(
                {
                    "kind": self.kind,
                    "section": section,
                    "class": cls,
                    "reference_class": ref,
                    "metric": metric,
                    "value": float(value),
                    "se": math.nan if se is None else float(se),
                    "ci_low": low,
                    "ci_high": high,
                }
            )

        c = self.confusion
        if c is not None:
            add("confusion", "", "n", c.n)
            add("confusion", "", "overall_accuracy", c.overall_accuracy)
            add("confusion", "", "kappa", c.kappa, c.kappa_se, c.z)
            add("confusion", "", "macro_f1", c.macro_f1)
            for name, row in c.per_class().iterrows():
                for metric, value in row.items():
                    add("confusion", str(name), str(metric), value)
            for i, name in enumerate(c.class_names):
                for j, ref in enumerate(c.class_names):
                    add("confusion", name, "count", c.matrix.iat[i, j], ref=ref)
        a = self.area
        if a is not None:
            add(
                "area_estimate",
                "",
                "overall_accuracy",
                a.overall_accuracy,
                a.overall_accuracy_se,
                a.z,
            )
            for name in a.class_names:
                if a.mapped_pixels is not None:
                    add("area_estimate", name, "mapped_pixels", a.mapped_pixels[name])
                for metric, value, se in a._metrics():
                    add("area_estimate", name, metric, value[name], se[name], a.z)
            for i, name in enumerate(a.class_names):
                for j, ref in enumerate(a.class_names):
                    add("area_estimate", name, "sample_count", a.sample_counts.iat[i, j], ref=ref)
                    add("area_estimate", name, "proportion", a.proportion_matrix.iat[i, j], ref=ref)
        return pd.DataFrame(
            rows,
            columns=[
                "kind",
                "section",
                "class",
                "reference_class",
                "metric",
                "value",
                "se",
                "ci_low",
                "ci_high",
            ],
        )

    def to_csv(self) -> str:
        """The tidy table of :meth:`to_frame` as CSV text (empty cells for ``NaN``)."""
        buf = io.StringIO()
        self.to_frame().to_csv(buf, index=False, lineterminator="\n", float_format="%.10g")
        return buf.getvalue()

    # -- Markdown ---------------------------------------------------------------------

    def to_markdown(self) -> str:
        """A readable Markdown report with labelled tables."""
        title = self.title or "Accuracy assessment"
        out = [f"# {title}", "", f"**Kind:** {self.kind}"]
        if self.kind == "fit diagnostic":
            out += [
                "",
                "> These statistics describe the fit to the training data; they are "
                "optimistic and are not an accuracy assessment of the map.",
            ]
        if self.notes:
            out += ["", "**Notes:**", ""] + [f"- {_md_escape(n)}" for n in self.notes]
        if self.metadata:
            out += ["", "**Metadata:**", ""]
            out += [
                f"- {_md_escape(k)}: {_md_escape(v)}" for k, v in jsonable(self.metadata).items()
            ]
        if self.confusion is not None:
            out += ["", self._confusion_markdown(self.confusion)]
        if self.area is not None:
            out += ["", self._area_markdown(self.area)]
        return "\n".join(out).rstrip() + "\n"

    @staticmethod
    def _confusion_markdown(c: ConfusionStatistics) -> str:
        names = list(c.class_names)
        matrix_rows = []
        for i, name in enumerate(names):
            matrix_rows.append(
                [f"**{name}**"] + [_fc(v) for v in c.matrix.iloc[i]] + [_fc(c.map_counts.iloc[i])]
            )
        matrix_rows.append(["**total**"] + [_fc(v) for v in c.reference_counts] + [_fc(c.n)])
        parts = [
            "## Confusion matrix",
            "",
            "Rows are map classes, columns are reference classes.",
            "",
            markdown_table(["map \\ reference", *names, "total"], matrix_rows),
            "",
            "## Summary",
            "",
            markdown_table(
                ["statistic", "value"],
                [
                    ["samples (n)", _fc(c.n)],
                    ["overall accuracy", _f(c.overall_accuracy)],
                    [f"kappa (± {c.z:g} SE)", _pm(c.kappa, c.kappa_se, c.z)],
                    ["kappa variance method", c.kappa_variance_method],
                    ["macro F1", _f(c.macro_f1)],
                ],
            ),
            "",
            "## Per-class accuracy",
            "",
        ]
        headers = [
            "class",
            "user's accuracy",
            "producer's accuracy",
            "F1",
            "map count",
            "reference count",
        ]
        if c.polygon_counts is not None:
            headers.append("reference polygons")
        rows = []
        for name in names:
            row = [
                name,
                _f(c.users_accuracy[name]),
                _f(c.producers_accuracy[name]),
                _f(c.f1[name]),
                _fc(c.map_counts[name]),
                _fc(c.reference_counts[name]),
            ]
            if c.polygon_counts is not None:
                row.append(_fc(c.polygon_counts[name]))
            rows.append(row)
        parts.append(markdown_table(headers, rows))
        return "\n".join(parts)

    @staticmethod
    def _area_markdown(a: AreaEstimate) -> str:
        label = {
            "olofsson2014": "Olofsson et al. (2014), strata = map classes",
            "stehman2014": "Stehman (2014)",
        }.get(a.method, a.method)
        hectares = a.pixel_area_m2 is not None
        unit = "ha" if hectares else "pixels"
        ci = f"± {a.z:g} SE"
        parts = [
            "## Area-adjusted estimates",
            "",
            f"Estimator: {label}; finite-population correction: {'yes' if a.fpc else 'no'}; "
            f"{a.n_samples} sample units. Intervals are estimate {ci}.",
            "",
            markdown_table(
                ["statistic", "value"],
                [["overall accuracy", _pm(a.overall_accuracy, a.overall_accuracy_se, a.z)]],
            ),
            "",
        ]
        area = a.area_ha if hectares else a.area_pixels
        area_se = a.area_ha_se if hectares else a.area_pixels_se
        assert area is not None
        assert area_se is not None
        headers = ["class"]
        if a.mapped_pixels is not None:
            headers.append(f"mapped area ({unit})")
        headers += [
            f"estimated area ({unit}, {ci})",
            f"area proportion ({ci})",
            f"user's accuracy ({ci})",
            f"producer's accuracy ({ci})",
        ]
        rows = []
        for name in a.class_names:
            row = [name]
            if a.mapped_pixels is not None:
                mapped = a.mapped_pixels[name]
                row.append(_fa(mapped * a.pixel_area_m2 / M2_PER_HA if hectares else mapped))
            row += [
                _pm(area[name], area_se[name], a.z, _fa),
                _pm(a.area_proportion[name], a.area_proportion_se[name], a.z),
                _pm(a.users_accuracy[name], a.users_accuracy_se[name], a.z),
                _pm(a.producers_accuracy[name], a.producers_accuracy_se[name], a.z),
            ]
            rows.append(row)
        parts.append(markdown_table(headers, rows))
        names = list(a.class_names)
        parts += [
            "",
            "### Sample counts (rows = map, columns = reference)",
            "",
            _md_matrix(names, a.sample_counts, _fc),
            "",
            "### Estimated area proportions (rows = map, columns = reference)",
            "",
            _md_matrix(names, a.proportion_matrix, _f),
        ]
        return "\n".join(parts)

    # -- dispatch ---------------------------------------------------------------------

    def render(self, fmt: ReportFormat) -> str:
        """Render as ``"json"``, ``"markdown"`` or ``"csv"`` text.

        The caller writes the text (atomically) to disk; use :func:`format_for_path` to
        pick ``fmt`` from a file name.
        """
        if fmt == "json":
            return self.to_json()
        if fmt == "markdown":
            return self.to_markdown()
        if fmt == "csv":
            return self.to_csv()
        raise AccuracyError(f"unknown report format {fmt!r}; use one of {list(_REPORT_FORMATS)}")
