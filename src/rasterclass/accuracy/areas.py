"""Class areas of a map: mapped pixels, hectares and shares, and error-adjusted areas.

Owns :class:`ClassAreas` and :func:`class_areas`. The mapped areas are pixel counts of the
map, counted chunk by chunk (:func:`~rasterclass.accuracy.assess.mapped_pixel_counts`, a
per-chunk ``bincount`` summed over the chunks, so the counts are exact and the same for any
chunking). With a labelled stratified random sample whose strata are the map classes, the
error-adjusted areas, their standard errors and 95 % confidence intervals are those of
Olofsson et al. (2014), computed by :func:`~rasterclass.accuracy.assess.assess` with
``design="stratified"`` (the Stehman 2014 estimator, which with strata = map classes and no
finite-population correction is exactly Olofsson's): this module adds no estimator of its own.

The keys of :meth:`ClassAreas.to_dict` are a stable interface (the HTML report reads them);
they are documented on the method.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rasterclass._json import json_scalar, jsonable
from rasterclass.accuracy.area import AreaEstimate
from rasterclass.accuracy.assess import assess, mapped_pixel_counts, open_map, pixel_area_m2_of
from rasterclass.accuracy.report import ReportFormat, csv_rounded, markdown_table
from rasterclass.errors import AccuracyError, ValidationWarning
from rasterclass.io import PathLike, read_vector, scene_grid
from rasterclass.sampling.checks import rows_text

logger = logging.getLogger(__name__)

M2_PER_HA = 10_000.0
#: Version of the layout of :meth:`ClassAreas.to_dict`.
AREAS_FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class ClassAreas:
    """Mapped class areas of a map and, with a labelled sample, error-adjusted areas.

    Built by :func:`class_areas`. Per-class values are indexed by class name, in the map's
    class order (reference classes absent from the map come last, with 0 mapped pixels).

    Attributes
    ----------
    map : str
        The map's path.
    codes : tuple of int or None
        Map code of each class (``None`` for a reference class the map does not have).
    names : tuple of str
        Class names.
    pixels : pandas.Series
        Mapped pixels per class (int64; nodata excluded).
    pixel_area_m2 : float or None
        Area of one pixel in m² (``|det(transform)|``); ``None`` in a geographic CRS.
    estimate : AreaEstimate or None
        The design-based estimate (Olofsson et al. 2014) when a sample was given.
    n_samples : pandas.Series or None
        Sample points per stratum (map class) that entered the estimate.
    notes : list of str
        What was excluded or assumed (points off the map or on nodata, ...).
    """

    map: str
    codes: tuple[int | None, ...]
    names: tuple[str, ...]
    pixels: pd.Series
    pixel_area_m2: float | None
    estimate: AreaEstimate | None = None
    n_samples: pd.Series | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total_pixels(self) -> int:
        """Mapped pixels of all classes (nodata excluded)."""
        return int(self.pixels.sum())

    @property
    def mapped_share(self) -> pd.Series:
        """Share of the mapped area per class (sums to 1)."""
        total = self.total_pixels
        return (self.pixels / total if total else self.pixels * np.nan).rename("mapped_share")

    @property
    def mapped_ha(self) -> pd.Series | None:
        """Mapped hectares per class (``None`` without a pixel area)."""
        if self.pixel_area_m2 is None:
            return None
        return (self.pixels * self.pixel_area_m2 / M2_PER_HA).rename("mapped_ha")

    def _adjusted(self) -> list[tuple[str, pd.Series, pd.Series]]:
        est = self.estimate
        if est is None:
            return []
        out = [
            ("adjusted_share", est.area_proportion, est.area_proportion_se),
            ("adjusted_pixels", est.area_pixels, est.area_pixels_se),
        ]
        if est.area_ha is not None and est.area_ha_se is not None:
            out.append(("adjusted_ha", est.area_ha, est.area_ha_se))
        return [(n, v.reindex(self.names), s.reindex(self.names)) for n, v, s in out]

    def to_frame(self) -> pd.DataFrame:
        """One row per class (index ``class``, the class name).

        Columns: ``code``, ``pixels``, ``mapped_ha`` (with a pixel area), ``mapped_share``;
        with a sample also ``n_samples`` and, for ``adjusted_share``, ``adjusted_pixels``
        and ``adjusted_ha``, the estimate with ``_se``, ``_ci_low`` and ``_ci_high``.
        """
        cols: dict[str, Any] = {"code": pd.array(list(self.codes), dtype="Int64")}
        cols["pixels"] = self.pixels.to_numpy()
        if self.mapped_ha is not None:
            cols["mapped_ha"] = self.mapped_ha.to_numpy()
        cols["mapped_share"] = self.mapped_share.to_numpy()
        if self.n_samples is not None:
            cols["n_samples"] = self.n_samples.reindex(self.names).fillna(0).astype(int).to_numpy()
        z = self.estimate.z if self.estimate is not None else 0.0
        for name, value, se in self._adjusted():
            cols[name] = value.to_numpy()
            cols[f"{name}_se"] = se.to_numpy()
            cols[f"{name}_ci_low"] = (value - z * se).to_numpy()
            cols[f"{name}_ci_high"] = (value + z * se).to_numpy()
        frame = pd.DataFrame(cols, index=pd.Index(list(self.names), name="class"))
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (builtins; ``NaN`` as ``None``). Stable keys (format version 1):

        - ``format_version`` (1), ``kind`` (``"class areas"``), ``map``,
          ``pixel_area_m2`` (float or None), ``total_pixels`` (int), ``total_ha``
          (float or None), ``method`` (``None`` or ``"olofsson2014"``), ``z`` (None or
          1.96), ``n_samples`` (None or int), ``notes`` (list of str);
        - ``classes``: one dict per class with ``code`` (int or None), ``name``,
          ``pixels`` (int), ``mapped_ha`` (float or None), ``mapped_share`` and, with a
          sample (else None), ``n_samples`` (int) and ``adjusted_share``,
          ``adjusted_pixels``, ``adjusted_ha`` each ``{"value", "se", "ci_low",
          "ci_high"}`` (``adjusted_ha`` None without a pixel area);
        - ``estimate``: :meth:`AreaEstimate.to_dict` (accuracies, error matrix) or None.
        """
        est = self.estimate
        frame = self.to_frame()
        adjusted = {name for name, _, _ in self._adjusted()}
        classes = []
        for name, row in frame.iterrows():
            entry: dict[str, Any] = {
                "code": None if pd.isna(row["code"]) else int(row["code"]),
                "name": str(name),
                "pixels": int(row["pixels"]),
                "mapped_ha": json_scalar(row["mapped_ha"]) if "mapped_ha" in row else None,
                "mapped_share": json_scalar(row["mapped_share"]),
                "n_samples": int(row["n_samples"]) if "n_samples" in row else None,
            }
            for key in ("adjusted_share", "adjusted_pixels", "adjusted_ha"):
                entry[key] = (
                    {
                        part: json_scalar(float(row[f"{key}{suffix}"]))
                        for part, suffix in (
                            ("value", ""),
                            ("se", "_se"),
                            ("ci_low", "_ci_low"),
                            ("ci_high", "_ci_high"),
                        )
                    }
                    if key in adjusted
                    else None
                )
            classes.append(entry)
        mapped_ha = self.mapped_ha
        return {
            "format_version": AREAS_FORMAT_VERSION,
            "kind": "class areas",
            "map": self.map,
            "pixel_area_m2": json_scalar(self.pixel_area_m2),
            "total_pixels": self.total_pixels,
            "total_ha": None if mapped_ha is None else json_scalar(float(mapped_ha.sum())),
            "method": None if est is None else "olofsson2014",
            "z": None if est is None else est.z,
            "n_samples": None if est is None else int(est.n_samples),
            "notes": list(self.notes),
            "classes": classes,
            "estimate": None if est is None else est.to_dict(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(jsonable(self.to_dict()), indent=indent)

    def to_markdown(self) -> str:
        """A Markdown table: mapped areas and, with a sample, the adjusted areas with CIs."""
        frame = self.to_frame()
        ha = "mapped_ha" in frame
        unit = "ha" if ha else "pixels"
        headers = ["class", "code", "pixels"] + (["mapped ha"] if ha else []) + ["share"]
        if self.estimate is not None:
            headers += ["samples", f"adjusted {unit}", "± 95 % CI", "95 % CI"]
        rows = []
        for name, row in frame.iterrows():
            cells = [name, "" if pd.isna(row["code"]) else int(row["code"]), f"{row['pixels']:,}"]
            cells += [_num(row["mapped_ha"])] if ha else []
            cells.append(f"{100 * row['mapped_share']:.2f} %")
            if self.estimate is not None:
                value, se = row[f"adjusted_{unit}"], row[f"adjusted_{unit}_se"]
                low, high = row[f"adjusted_{unit}_ci_low"], row[f"adjusted_{unit}_ci_high"]
                cells += [
                    int(row["n_samples"]),
                    _num(value),
                    _num(self.estimate.z * se),
                    f"{_num(low)} to {_num(high)}",
                ]
            rows.append(cells)
        out = [f"# Class areas of {os.path.basename(self.map)}", "", markdown_table(headers, rows)]
        if self.estimate is not None:
            out += [
                "",
                "Adjusted areas: stratified estimator of Olofsson et al. (2014), strata = map "
                f"classes, {self.estimate.n_samples} sample points; CI = ± "
                f"{self.estimate.z:g} SE.",
            ]
        if self.notes:
            out += ["", *(f"- {n}" for n in self.notes)]
        return "\n".join(out).rstrip() + "\n"

    def render(self, fmt: ReportFormat) -> str:
        """The table as ``"json"``, ``"markdown"`` or ``"csv"`` text (CSV: areas rounded to
        1e-6 ha and shares to 1e-9, see :func:`rasterclass.accuracy.report.csv_rounded`;
        JSON: full precision)."""
        if fmt == "json":
            return self.to_json()
        if fmt == "markdown":
            return self.to_markdown()
        return csv_rounded(self.to_frame()).to_csv()


def _num(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:,.1f}"


def class_areas(
    map_path: PathLike,
    sample: Any = None,
    reference_column: str = "reference",
    *,
    layer: str | None = None,
    chunks: int | None = None,
) -> ClassAreas:
    """Mapped area of every class of a map and, with a labelled sample, adjusted areas.

    Parameters
    ----------
    map_path
        A class map (0 = nodata), e.g. from :func:`rasterclass.predict`.
    sample
        Optional labelled stratified random sample (path or GeoDataFrame of points, any
        CRS), the map classes as strata, e.g. drawn by :func:`rasterclass.draw_sample` and
        labelled in QGIS. Points outside the map or on nodata are left out (a warning says
        how many).
    reference_column
        The sample's reference class column: names (matched to the map's class names) or
        codes.
    layer, chunks
        The layer of a multi-layer sample file; the chunk side in pixels for reading the map
        (as for :func:`~rasterclass.accuracy.assess.assess`, which estimates the areas).

    Returns
    -------
    ClassAreas
        Per class: pixels (int64), hectares (``|det(transform)|`` in m² / 10 000; None
        in a geographic CRS) and share of the mapped area (nodata excluded); with a sample
        also the sample count per stratum and the error-adjusted share, pixels and
        hectares with standard errors and 95 % intervals (estimate ± 1.96 SE).

    Raises
    ------
    RasterclassIOError
        The map or the sample file does not exist or cannot be read.
    TrainingDataError
        The reference column is missing, or no sample point falls on the map.
    AccuracyError
        Sample points without a reference class; sample geometries that are not points; a
        mapped class without sample points (every stratum must be sampled).

    Notes
    -----
    Olofsson, P., Foody, G. M., Herold, M., Stehman, S. V., Woodcock, C. E. & Wulder, M. A.
    (2014). Good practices for estimating area and assessing accuracy of land change.
    *Remote Sensing of Environment*, 148, 42-57 (eqs. 9-11: ``p̂_.j = Σ_i W_i n_ij/n_i.``,
    its SE, ``Â_j = A p̂_.j``).

    Examples
    --------
    >>> from rasterclass.datasets import example_map
    >>> areas = class_areas(example_map())  # 4 x 4 px of 10 m: forest (left), water (right)
    >>> areas.to_frame()[["pixels", "mapped_ha", "mapped_share"]]
            pixels  mapped_ha  mapped_share
    class
    forest       8       0.08           0.5
    water        8       0.08           0.5
    """
    path = os.fspath(map_path)
    scene, cmap = open_map(path, chunks=chunks)
    pixel_area = pixel_area_m2_of(scene_grid(scene))
    notes: list[str] = []
    estimate = None
    n_samples = None
    if sample is None:
        counts = mapped_pixel_counts(scene)
    else:
        gdf = _labelled_points(sample, scene, reference_column, layer)
        report = assess(path, gdf, reference_column, design="stratified", chunks=chunks)
        estimate = report.area
        assert estimate is not None
        meta = report.metadata
        counts = pd.Series({int(k): int(v) for k, v in meta["stratum_sizes"].items()})
        off = len(gdf) - int(meta["reference_pixels"])
        if off:
            on_nodata = int(meta["nodata_pixels_excluded"])
            msg = (
                f"{off} of {len(gdf)} sample points are left out: {off - on_nodata} outside "
                f"the map or sharing a pixel, {on_nodata} on nodata; the estimate uses the "
                f"{len(gdf) - off} others. Check the sample's CRS and that it was drawn "
                "from this map"
            )
            warnings.warn(msg, ValidationWarning, stacklevel=2)
            notes.append(msg)
        n_samples = estimate.strata["sample_size"].rename("n_samples")
    codes, names = _classes(counts, cmap, estimate)
    if n_samples is not None:
        by_code = {str(c): n for c, n in zip(codes, names, strict=True) if c is not None}
        n_samples = n_samples.rename(index=lambda h: by_code.get(str(h), str(h)))
    pixels = pd.Series(
        [int(counts.get(c, 0)) if c is not None else 0 for c in codes],
        index=pd.Index(names, name="class"),
        name="pixels",
        dtype=np.int64,
    )
    if pixel_area is None:
        notes.append("the map's CRS is not projected: areas in pixels only")
    return ClassAreas(path, codes, names, pixels, pixel_area, estimate, n_samples, notes)


def _classes(
    counts: pd.Series, cmap: Any, estimate: AreaEstimate | None
) -> tuple[tuple[int | None, ...], tuple[str, ...]]:
    """Codes and names of the table's rows: the map's classes (its legend, else the codes
    counted), then reference classes the map does not have."""
    if cmap is not None:
        codes: list[int | None] = list(cmap.codes)
        names = list(cmap.names)
    else:
        codes = [int(c) for c in counts.index]
        names = [f"class {c}" for c in codes]
    for c in counts.index:
        if int(c) not in codes:
            codes.append(int(c))
            names.append(f"class {c}")
    if estimate is not None:
        for name in estimate.class_names:
            if name not in names:
                codes.append(None)
                names.append(name)
    return tuple(codes), tuple(names)


def _labelled_points(sample: Any, scene: Any, column: str, layer: str | None) -> Any:
    """The sample as a GeoDataFrame in the map's CRS; every point must carry a class."""
    crs = scene_grid(scene).crs
    if isinstance(sample, str | os.PathLike):
        gdf = read_vector(sample, crs, layer=layer, what="sample")
    else:
        gdf = sample.to_crs(crs)
    if column in gdf:
        values = gdf[column]
        blank = values.isna() | values.astype(str).str.strip().isin(["", "nan", "None"])
        if blank.any():
            rows = rows_text(np.flatnonzero(blank.to_numpy()).tolist())
            raise AccuracyError(
                f"{int(blank.sum())} of {len(gdf)} sample points have no reference class in "
                f"column {column!r} (rows {rows}); label "
                "every point (e.g. in QGIS) before estimating areas"
            )
    return gdf
