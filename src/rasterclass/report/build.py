"""The run report as numbers: :class:`RunReport` and :func:`build_report`.

Compute, then present: :func:`build_report` reads a run's outputs and gathers every number
of the report into :class:`RunReport` (its :meth:`~RunReport.to_dict` is the JSON report);
:func:`rasterclass.report.render_html` draws the page from it, with the same numbers.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rasterclass._json import jsonable
from rasterclass.accuracy import AccuracyReport
from rasterclass.errors import RasterclassIOError, param
from rasterclass.io import PROVENANCE_SUFFIX, PathLike, file_sha256, read_json
from rasterclass.model import RasterModel, library_versions
from rasterclass.report.accuracy import (
    accuracy_section,
    cross_validation_section,
    signature_section,
)
from rasterclass.report.layers import aoa_section, areas_section, map_section, uncertainty_section

REPORT_FORMAT_VERSION = 1

#: The optional sections and the option that gives each its input.
OPTIONAL_INPUTS = {
    "accuracy": "--accuracy",
    "model": "--model",
    "uncertainty": "--uncertainty",
    "aoa": "--aoa",
    "areas": "--areas",
}


@dataclass
class RunReport:
    """Every number of a run report, and the small arrays its figures draw.

    Parameters
    ----------
    sections
        JSON-ready sections: ``map``, ``areas``, ``accuracy``, ``cross_validation``,
        ``signatures``, ``model``, ``uncertainty``, ``aoa``, ``provenance`` (None where the
        input was not given) and ``missing`` (why each absent section is absent).
    previews
        Decimated arrays for the figures (map, uncertainty and AOA bands); not in the JSON.
    title
        Page title.

    Examples
    --------
    >>> report = RunReport({"map": None}, {}, "run")
    >>> sorted(report.to_dict())
    ['created', 'format_version', 'sections', 'title']
    """

    sections: dict[str, Any]
    previews: dict[str, Any] = field(default_factory=dict)
    title: str = "Classification report"
    created: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: builtins only, ``NaN`` as None."""
        return {
            "format_version": REPORT_FORMAT_VERSION,
            "title": self.title,
            "created": self.created,
            "sections": jsonable(self.sections),
        }


def _as_dict(accuracy: AccuracyReport | PathLike | dict[str, Any] | None) -> Any:
    if accuracy is None:
        return None
    if isinstance(accuracy, AccuracyReport):
        return accuracy.to_dict()
    if isinstance(accuracy, dict):
        report, what = accuracy, param("accuracy")
    else:
        report, what = read_json(accuracy, "accuracy report"), param("accuracy", accuracy)
    if not _has_matrix(report):
        raise RasterclassIOError(
            f"{what} holds no confusion matrix (keys 'confusion' or 'area_estimate' with "
            "their class names and values); give an accuracy report written as .json by an "
            "assessment (assess) or a cross-validation (classify, train)"
        )
    return report


def _has_matrix(report: Any) -> bool:
    """Whether an accuracy report's JSON has a square matrix with a name per row."""
    if not isinstance(report, dict):
        return False
    for key, inner in (("confusion", "matrix"), ("area_estimate", "sample_counts")):
        part = report.get(key)
        if not part:
            continue
        try:
            matrix = np.asarray(part[inner]["values"], dtype=float)
            names = list(part["class_names"])
        except (KeyError, TypeError, ValueError):
            return False
        return matrix.ndim == 2 and matrix.shape == (len(names), len(names))
    return False


def _file(role: str, path: PathLike) -> dict[str, Any]:
    return {
        "role": role,
        "path": str(path),
        "size": os.path.getsize(path),
        "sha256": file_sha256(path),
    }


def build_report(
    map_path: PathLike,
    *,
    accuracy: AccuracyReport | PathLike | dict[str, Any] | None = None,
    model: RasterModel | PathLike | None = None,
    uncertainty: PathLike | None = None,
    aoa: PathLike | None = None,
    areas: PathLike | None = None,
    title: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> RunReport:
    """Gather the numbers of a run report from a map and what else the run wrote.

    Sections: the map with its classes and mapped areas; the accuracy (confusion matrix in
    counts and area proportions, overall, user's and producer's accuracy and F1 with 95 %
    intervals: see :mod:`rasterclass.report.accuracy`); class areas, mapped and
    error-adjusted (Olofsson et al. 2014) where the accuracy report or the area table has
    them; the spectral signatures and the cross-validation design the model keeps; the
    uncertainty and area-of-applicability summaries (Meyer & Pebesma 2021); and the
    provenance (the map's ``<map>.provenance.json`` sidecar when present, and the sha256 of
    every input given here). A section whose input is not given says so in ``missing``.

    Parameters
    ----------
    map_path
        The class map GeoTIFF (0 = nodata).
    accuracy
        An :class:`~rasterclass.accuracy.AccuracyReport`, its ``to_dict()``, or the JSON
        file ``rasterclass assess -o accuracy.json`` (or ``classify --report cv.json``)
        writes.
    model
        The model (or its ``.skops`` file): method, parameters, seed, training summary,
        spectral signatures (models trained by this version on), cross-validation design.
    uncertainty
        GeoTIFF with float32 bands described ``margin`` and ``entropy`` (NaN nodata), as
        ``predict --uncertainty`` writes.
    aoa
        GeoTIFF with bands ``dissimilarity_index`` and ``aoa`` (1 inside, 0 outside; NaN
        nodata) and the tag ``AOA_THRESHOLD``, as ``predict --aoa`` writes.
    areas
        An area table as JSON (``rasterclass areas ... -o areas.json``), for the adjusted
        areas (see :func:`rasterclass.report.layers.areas_section`).
    title
        Page title (default: "Classification report: <map file name>").
    parameters
        Parameters of the run that made the report (shown in the provenance).

    Returns
    -------
    RunReport
        The numbers (``to_dict()`` is the JSON report) and the previews for the figures.

    Raises
    ------
    RasterclassIOError
        An input file does not exist or cannot be read, a raster lacks its bands, or the
        accuracy report holds no confusion matrix.
    ModelFileError
        The model file is not a rasterclass model.

    Examples
    --------
    >>> from rasterclass.datasets import example_map
    >>> report = build_report(example_map())  # 4 x 4 px of 10 m: forest left, water right
    >>> [(c["name"], c["pixels"], c["area_ha"]) for c in report.sections["map"]["classes"]]
    [('forest', 8, 0.08), ('water', 8, 0.08)]
    >>> report.sections["missing"]["accuracy"]
    'no accuracy report given (--accuracy)'
    """
    given = {"accuracy": accuracy, "model": model, "uncertainty": uncertainty, "aoa": aoa}
    given["areas"] = areas
    sections: dict[str, Any] = {}
    previews: dict[str, Any] = {}
    sections["map"], previews["map"] = map_section(map_path)
    mapped = {c["name"]: c["pixels"] for c in sections["map"]["classes"]}
    acc = _as_dict(accuracy)
    sections["accuracy"] = accuracy_section(acc, mapped) if acc else None
    loaded = model if isinstance(model, RasterModel) or model is None else RasterModel.load(model)
    sections["model"] = _model_section(loaded, model)
    summary = loaded.summary if loaded is not None else None
    sections["cross_validation"] = cross_validation_section(acc, summary)
    sections["signatures"] = signature_section(summary)
    area_table = read_json(areas, "area table") if areas is not None else None
    sections["areas"] = areas_section(sections["map"], sections["accuracy"], area_table)
    sections["uncertainty"] = sections["aoa"] = None
    if uncertainty is not None:
        sections["uncertainty"], previews["uncertainty"] = uncertainty_section(uncertainty)
    if aoa is not None:
        sections["aoa"], previews["aoa"] = aoa_section(aoa)
    sections["provenance"] = _provenance(map_path, given, parameters)
    sections["missing"] = _missing(given, sections)
    if sections["aoa"] is None and summary is not None and summary.get("object_based"):
        # not a layer left out: --aoa is refused with --object-based
        sections["missing"]["aoa"] = (
            "an object-based map has no area of applicability (it is computed per pixel)"
        )
    return RunReport(sections, previews, title or f"Classification report: {Path(map_path).name}")


def _model_section(model: RasterModel | None, source: Any) -> dict[str, Any] | None:
    if model is None:
        return None
    s = model.summary
    return {
        "path": None if isinstance(source, RasterModel) else str(source),
        "method": s.get("method"),
        "params": s.get("params", {}),
        "seed": s.get("seed"),
        "band_names": list(model.band_names),
        "classes": list(model.class_map.names),
        "n_samples": s.get("n_samples"),
        "n_polygons": s.get("n_polygons"),
        "per_class": s.get("per_class", {}),
        "training_file": s.get("training_file"),
        "training_sha256": s.get("training_sha256"),
        "versions": dict(model.versions),
    }


def _provenance(
    map_path: PathLike, given: dict[str, Any], parameters: dict[str, Any] | None
) -> dict[str, Any]:
    sidecar_path = f"{map_path}{PROVENANCE_SUFFIX}"
    sidecar = read_json(sidecar_path, "provenance") if os.path.isfile(sidecar_path) else None
    if sidecar is not None and not isinstance(sidecar, dict):
        sidecar = None  # not a provenance record: said as missing
    inputs = [_file("map", map_path)]
    for role, value in given.items():
        if isinstance(value, str | os.PathLike):
            inputs.append(_file(role, value))
    seed = (sidecar or {}).get("seed")
    if seed is None and isinstance(given.get("model"), RasterModel):
        seed = given["model"].summary.get("seed")
    return {
        "map_sidecar": sidecar_path if sidecar is not None else None,
        "map_run": sidecar,
        "seed": seed,
        "report_inputs": inputs,
        "report_parameters": dict(parameters or {}),
        "versions": library_versions(),
    }


def _missing(given: dict[str, Any], sections: dict[str, Any]) -> dict[str, str]:
    out = {
        key: f"no {label} given ({OPTIONAL_INPUTS[key]})"
        for key, label in (
            ("accuracy", "accuracy report"),
            ("model", "model"),
            ("uncertainty", "uncertainty layer"),
            ("aoa", "area-of-applicability layer"),
        )
        if given[key] is None
    }
    if sections["signatures"] is None:
        out["signatures"] = (
            "no model given (--model)"
            if given["model"] is None
            else "the model keeps no spectral signatures (trained by an older rasterclass: "
            "retrain it to get them)"
        )
    if sections["cross_validation"] is None:
        out["cross_validation"] = (
            "neither a cross-validation report (--accuracy from `classify --report cv.json`) "
            "nor a cross-validated model (--model) given"
        )
    if sections["areas"]["adjusted_source"] is None:
        out["adjusted_areas"] = (
            "no error-adjusted areas: give an area table (--areas from `rasterclass areas -r "
            "POINTS`) or an accuracy report of a stratified sample (--accuracy)"
            if given["areas"] is None
            else f"the area table {given['areas']} holds no error-adjusted areas (it was made "
            "without a labelled sample: make it with `rasterclass areas MAP -r POINTS`)"
        )
    if sections["provenance"]["map_sidecar"] is None:
        out["provenance"] = (
            "the map has no provenance sidecar (<map>.provenance.json): only the report's own "
            "inputs are listed"
        )
    return out
