"""Assessment of a written map against reference data.

:func:`assess` rasterises reference polygons or points (any CRS) on the map grid, matches
reference classes to map classes by name (or by integer code), excludes and counts nodata, and
returns an :class:`~rasterclass.accuracy.report.AccuracyReport`; with ``design="stratified"`` a
probability sample of points gives area-adjusted estimates with confidence intervals
(Olofsson et al. 2014; Stehman 2014 when the strata are not the map classes). This module also
owns opening a map for assessment (:func:`open_map`) and counting its pixels per class
(:func:`mapped_pixel_counts`). Everything reads the map chunk by chunk; the result does not
depend on the chunking.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any, Literal, TypedDict

import dask
import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.accuracy.confusion import confusion_matrix_from_labels, confusion_statistics
from rasterclass.accuracy.report import AccuracyReport
from rasterclass.accuracy.stehman import stehman_estimate
from rasterclass.classes import ClassMap
from rasterclass.errors import (
    AccuracyError,
    OptionConflictError,
    TrainingReferenceWarning,
    ValidationWarning,
    param,
)
from rasterclass.io import (
    PathLike,
    checked_class_codes,
    file_sha256,
    open_scene,
    read_class_map,
    read_map_tags,
    read_training_pixels,
    read_vector,
    scene_grid,
)
from rasterclass.sampling import Samples, extract_samples
from rasterclass.stack import Grid
from rasterclass.training_pixels import FIT_DIAGNOSTIC_SHARE, SHA256_TAG

logger = logging.getLogger(__name__)

Design = Literal["stratified"] | None


class AssessOptions(TypedDict, total=False):
    """The keywords of :func:`assess` after its three arguments (meaning and defaults there),
    typed for ``**options: Unpack[AssessOptions]`` where a job passes them on."""

    design: Design
    strata: PathLike | None
    fpc: bool
    fit_diagnostic: bool | None
    layer: str | None
    chunks: int | None


# ------------------------------------------------------------------------------------------
# Maps
# ------------------------------------------------------------------------------------------
def open_map(path: PathLike, *, chunks: int | None = None) -> tuple[xr.DataArray, ClassMap | None]:
    """A map as a lazy (band=1, y, x) scene and the ClassMap it carries, if any.

    NaN at nodata: code 0 (rasterclass's nodata) and the nodata value the file declares
    (a map of another tool may mark nodata 255), so no nodata value is counted as a class.
    Any other value must be a class code (checked when computed: ClassMapError).
    """
    scene = open_scene(path, chunks=chunks, band_names=["class"], unscale=False)
    return checked_class_codes(scene.where(scene != 0), path), read_class_map(path)


def pixel_area_m2_of(grid: Grid) -> float | None:
    """Area of one pixel of ``grid`` in m² (``|det(transform)|`` times the CRS's linear
    unit squared); ``None`` in a geographic or unknown CRS, whose pixels have no fixed area."""
    crs = grid.crs
    if crs is None or not crs.is_projected:
        return None
    return float(grid.pixel_area * (crs.linear_units_factor[1] ** 2))


def _block_counts(block: np.ndarray) -> np.ndarray:
    values = block[np.isfinite(block)].astype(np.int64)
    return np.bincount(values, minlength=1)


def mapped_pixel_counts(map_scene: xr.DataArray) -> pd.Series:
    """Pixels per class code of a map (nodata excluded), counted chunk by chunk."""
    data = map_scene.data
    parts = dask.compute(*[dask.delayed(_block_counts)(b) for b in data.to_delayed().ravel()])
    size = max(len(p) for p in parts)
    total = np.zeros(size, dtype=np.int64)
    for p in parts:
        total[: len(p)] += p
    codes = np.flatnonzero(total)
    codes = codes[codes > 0]
    return pd.Series(total[codes], index=codes, name="pixels")


# ------------------------------------------------------------------------------------------
# Matching reference classes to map classes
# ------------------------------------------------------------------------------------------
def _match_classes(
    ref_cmap: ClassMap, map_cmap: ClassMap | None, map_codes_seen: Sequence[int]
) -> tuple[list[int], list[str], dict[int, int], list[str]]:
    """Union of classes and the reference code -> matrix code translation.

    Returns (codes, names, ref_to_code, unmatched reference names).
    """
    strings = any(isinstance(v, str) for v in ref_cmap.values)
    if map_cmap is not None:
        codes, names = list(map_cmap.codes), list(map_cmap.names)
    else:
        codes = sorted({int(c) for c in map_codes_seen})
        names = [f"class {c}" for c in codes]
    translate: dict[int, int] = {}
    unmatched: list[str] = []
    by_name = {n.strip().lower(): c for c, n in zip(codes, names, strict=True)}
    map_values: dict[int, int] = {}
    if map_cmap is not None:
        map_values = {
            int(v): c
            for v, c in zip(map_cmap.values, map_cmap.codes, strict=True)
            if not isinstance(v, str)
        }
    for ref_code, value, name in zip(ref_cmap.codes, ref_cmap.values, ref_cmap.names, strict=True):
        if strings:
            if map_cmap is None:
                raise AccuracyError(
                    "the map carries no class names (it was not written by rasterclass), so "
                    "reference names cannot be matched; use an integer class column holding "
                    "the map's codes"
                )
            target = by_name.get(str(name).strip().lower())
        else:
            # the map's training values first (a map trained on codes 0..K-1 writes them
            # as 1..K), then its codes, then its names; never the nodata code 0
            target = map_values.get(int(value))
            if target is None and (int(value) in codes or map_cmap is None):
                target = int(value)
            if target is None:  # integers on a named map: match by code, else by name
                target = by_name.get(str(name).strip().lower())
            if target == 0:
                target = None
        if target is None:
            unmatched.append(str(name))
            target = max([*codes, *translate.values(), 0]) + 1
            codes.append(target)
            names.append(str(name))
        elif target not in codes:
            codes.append(target)
            names.append(str(name))
        translate[ref_code] = target
    return codes, names, translate, unmatched


def _dedupe_pixels(samples: Samples) -> Samples:
    """One reference label per pixel.

    :func:`extract_samples` already samples each pixel once (pixels under features of
    different classes are dropped with a warning); this keeps the guarantee for samples
    from elsewhere: where records of one pixel repeat, the last one wins.
    """
    if len(samples) == 0:
        return samples
    key = samples.rows * (int(samples.cols.max()) + 1) + samples.cols
    # samples are sorted by (row, col, polygon id): keep the last of each pixel
    last = np.r_[key[1:] != key[:-1], True]
    dropped = int((~last).sum())
    if dropped:
        logger.info("%d reference pixels are covered by several features: last one wins", dropped)
    return samples.subset(np.flatnonzero(last))


def _reference_samples(
    map_scene: xr.DataArray, reference: Any, class_column: str, layer: str | None
) -> tuple[Samples, Any]:
    grid = scene_grid(map_scene)
    if isinstance(reference, str | os.PathLike):
        gdf = read_vector(reference, grid.crs, layer=layer, what="reference")
    else:
        gdf = reference.to_crs(grid.crs)
    samples = extract_samples(
        map_scene,
        gdf,
        class_column,
        require_all_classes=False,
        role="reference",
    )
    return _dedupe_pixels(samples), gdf


# ------------------------------------------------------------------------------------------
# assess
# ------------------------------------------------------------------------------------------
def assess(
    map_path: PathLike,
    reference: Any,
    class_column: str,
    *,
    design: Design = None,
    strata: PathLike | None = None,
    fpc: bool = False,
    fit_diagnostic: bool | None = None,
    layer: str | None = None,
    chunks: int | None = None,
) -> AccuracyReport:
    """Assess a thematic map against reference polygons or sample points.

    Parameters
    ----------
    map_path
        A class map (0 = nodata). Class names come from the map (written by rasterclass);
        maps from other tools carry codes only, and the reference must then hold codes.
    reference
        Polygons or points (path or GeoDataFrame), any CRS, rasterised on the map grid
        (pixel centre in polygon; a point takes the pixel it falls in).
    class_column
        Reference class column: names (matched to map class names, case-insensitive) or
        integer codes (matched to map codes). Reference classes missing from the map are
        kept as columns of the confusion matrix and reported in the notes.
    design
        ``None``: confusion-matrix statistics of the reference pixels. ``"stratified"``:
        the reference is a stratified random sample of points (e.g. from
        :func:`draw_sample`) and the report adds design-based area and accuracy estimates
        with 95% confidence intervals; strata are the map classes (Olofsson et al. 2014)
        unless ``strata`` gives a raster of stratum ids (Stehman 2014).
    strata
        With ``design="stratified"``: a raster of stratum ids on the map's grid, when the
        sample was stratified by something other than the map classes (Stehman 2014).
    fpc
        Apply the finite-population correction (Stehman estimator).
    fit_diagnostic
        Label the report a fit diagnostic (True) or not (False). Default: detected. A map
        written by rasterclass carries the positions of its model's training pixels; the
        share of reference pixels that were training pixels is reported
        (``metadata["training_pixel_share"]``), from 50 % on the report is labelled a fit
        diagnostic, and below that any overlap warns (:class:`TrainingReferenceWarning`).
        Whatever file the reference comes from counts (a reprojected copy, a subset, shifted
        polygons). Maps without that record: labelled when the reference file is the very
        file the model was trained on (same SHA-256).
    layer
        Layer of a multi-layer reference file.
    chunks
        Chunk side in pixels for reading the map (the result does not depend on it).

    Returns
    -------
    AccuracyReport

    Raises
    ------
    RasterclassIOError
        The map or the reference file does not exist or cannot be read.
    CRSError
        The reference has no CRS.
    TrainingDataError
        The class column is missing, or no reference pixel falls on the map.
    AccuracyError
        Reference names cannot be matched (a map without class names), an unknown
        ``design``, a stratified design given polygons (not a probability sample), or a
        ``strata`` raster off the map's grid or with nodata under sample points.
    OptionConflictError
        ``strata`` or ``fpc`` without ``design="stratified"`` (checked before any work).

    Examples
    --------
    >>> import rasterclass as rc
    >>> from rasterclass.datasets import example_map
    >>> map_path = example_map()  # 4 x 4 px of 10 m: forest (left), water (right)
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> reference = gpd.GeoDataFrame({"class": ["forest", "water"]}, crs="EPSG:32633",
    ...                              geometry=[box(0, 0, 20, 40), box(20, 20, 30, 40)])
    >>> report = rc.assess(map_path, reference, "class")
    >>> report.confusion.overall_accuracy, report.confusion.n
    (1.0, 10.0)

    """
    _check_design(design, strata, fpc)
    map_scene, map_cmap = open_map(map_path, chunks=chunks)
    samples, gdf = _reference_samples(map_scene, reference, class_column, layer)
    nodata = dict(samples.info.get("nodata_pixels", {}))
    map_codes = samples.X[:, 0].astype(np.int64)
    codes, names, translate, unmatched = _match_classes(
        samples.class_map, map_cmap, np.unique(map_codes).tolist()
    )
    ref_codes = np.array([translate[int(c)] for c in samples.y], dtype=np.int64)
    notes: list[str] = []
    if unmatched:
        msg = (
            f"reference classes not in the map: {unmatched}; they are kept as reference "
            "columns (every pixel of them counts as an error). Check the spelling or the legend"
        )
        warnings.warn(msg, ValidationWarning, stacklevel=2)
        notes.append(msg)
    n_nodata = int(sum(nodata.values()))
    if n_nodata:
        notes.append(f"{n_nodata} reference pixels fall on map nodata and are excluded: {nodata}")
    polygons = {
        translate[int(c)]: len(np.unique(samples.groups[samples.y == c]))
        for c in np.unique(samples.y)
    }
    matrix = confusion_matrix_from_labels(map_codes, ref_codes, codes)
    stats = confusion_statistics(matrix, names, polygon_counts=[polygons.get(c, 0) for c in codes])
    metadata: dict[str, Any] = {
        "map": str(map_path),
        "reference": str(reference) if isinstance(reference, str | os.PathLike) else "(frame)",
        "class_column": class_column,
        "reference_pixels": len(samples),
        "nodata_pixels_excluded": n_nodata,
        "reference_features": len(np.unique(samples.groups)),
    }
    fit_diagnostic = _training_overlap(
        map_path, map_scene, samples, reference, fit_diagnostic, notes, metadata
    )
    kind = "fit diagnostic" if fit_diagnostic else "validation"
    if design is None:
        return AccuracyReport(
            confusion=stats,
            kind=kind,  # type: ignore[arg-type]
            title=f"Accuracy of {os.path.basename(str(map_path))}",
            notes=notes,
            metadata=metadata,
        )
    return _design_based(
        map_path,
        map_scene,
        samples,
        gdf,
        map_codes,
        ref_codes,
        codes,
        names,
        stats,
        strata=strata,
        fpc=fpc,
        notes=notes,
        metadata=metadata,
        fit_diagnostic=fit_diagnostic,
    )


def _check_design(design: Design, strata: PathLike | None, fpc: bool) -> None:
    """Refuse an unknown ``design``, and ``strata`` or ``fpc`` without the stratified design
    they belong to (they would be ignored), before any work."""
    if design is not None and design != "stratified":
        raise AccuracyError(f"unknown design {design!r}; use 'stratified' (or none)")
    if design is None and strata is not None:
        raise OptionConflictError.without(param("strata"), param("design", "stratified"))
    if design is None and fpc:
        raise OptionConflictError.without(param("fpc", True), param("design", "stratified"))


def _training_overlap(
    map_path: PathLike,
    map_scene: xr.DataArray,
    samples: Samples,
    reference: Any,
    fit_diagnostic: bool | None,
    notes: list[str],
    metadata: dict[str, Any],
) -> bool:
    """Whether the report is a fit diagnostic: how many reference pixels were training pixels.

    A map written by rasterclass carries the positions of its model's training pixels
    (:mod:`rasterclass.training_pixels`): the share of reference pixels among them goes into
    the report's metadata; from :data:`FIT_DIAGNOSTIC_SHARE` on the report is labelled a fit
    diagnostic, below it (above 0) the assessment warns. Maps without the record fall back
    on the training file's SHA-256 (the reference file is the training file itself).
    ``fit_diagnostic`` given (True/False) overrides the detection.
    """
    record, problem = read_training_pixels(map_path)
    if problem:
        logger.warning("%s; cannot tell which reference pixels were training pixels", problem)
        notes.append(f"{problem}: training pixels in the reference cannot be counted")
    n_ref = len(samples)
    share = None
    if record is not None:
        inside = record.contains(samples.rows, samples.cols, scene_grid(map_scene))
        n_in = int(inside.sum())
        share = n_in / n_ref if n_ref else 0.0
        metadata["training_pixels_in_reference"] = n_in
        metadata["training_pixel_share"] = share
        if fit_diagnostic is None:
            fit_diagnostic = share >= FIT_DIAGNOSTIC_SHARE
        if n_in and not fit_diagnostic:
            msg = (
                f"{share:.1%} of the reference pixels ({n_in} of {n_ref}) were training pixels "
                "of this map's model, so the accuracy is optimistic; remove the training "
                "polygons from the reference or use independent reference data"
            )
            warnings.warn(msg, TrainingReferenceWarning, stacklevel=3)
            notes.append(msg)
    elif fit_diagnostic is None and isinstance(reference, str | os.PathLike):
        trained_on = read_map_tags(map_path).get(SHA256_TAG, "")
        fit_diagnostic = bool(trained_on) and trained_on == file_sha256(reference)
    if not fit_diagnostic:
        return False
    if share is None:
        notes.append(
            "the reference is the training data of this map: these figures describe how well "
            "the model fits its own training pixels, not the accuracy of the map"
        )
    else:
        notes.append(
            f"{share:.1%} of the reference pixels ({metadata['training_pixels_in_reference']} "
            f"of {n_ref}) were training pixels of this map's model: these figures describe "
            "how well the model fits its training data, not the accuracy of the map"
        )
    return True


def _design_based(
    map_path: PathLike,
    map_scene: xr.DataArray,
    samples: Samples,
    gdf: Any,
    map_codes: np.ndarray,
    ref_codes: np.ndarray,
    codes: list[int],
    names: list[str],
    stats: Any,
    *,
    strata: PathLike | None,
    fpc: bool,
    notes: list[str],
    metadata: dict[str, Any],
    fit_diagnostic: bool = False,
) -> AccuracyReport:
    kinds = set(gdf.geometry.geom_type.unique())
    if not kinds <= {"Point", "MultiPoint"}:
        raise AccuracyError(
            f"a stratified design needs a probability sample of points, got {sorted(kinds)}; "
            "draw one with `rasterclass sample` (polygons are not a probability sample)"
        )
    if len(samples) < len(gdf):
        notes.append(
            f"{len(gdf) - len(samples)} sample points fall outside the map or on nodata and "
            "are not part of the estimate"
        )
    grid = scene_grid(map_scene)
    if strata is None:
        strata_values = map_codes
        sizes = mapped_pixel_counts(map_scene)
        method_note = "strata = map classes (Olofsson et al. 2014)"
    else:
        strata_scene, _ = open_map(strata)
        if scene_grid(strata_scene) != grid:
            raise AccuracyError(
                f"the strata raster {strata} is not on the map's grid; resample it onto the map"
            )
        strata_values = strata_scene.values[0, samples.rows, samples.cols]
        if not np.isfinite(strata_values).all():
            raise AccuracyError("some sample points fall on nodata of the strata raster")
        strata_values = strata_values.astype(np.int64)
        sizes = mapped_pixel_counts(strata_scene)
        method_note = "strata from a separate raster (Stehman 2014)"
    notes.append(
        f"design-based estimates from a stratified random sample, {method_note}; "
        f"{'with' if fpc else 'without'} finite-population correction; 95% CIs = ±1.96 SE"
    )
    small = [
        int(h) for h, n in zip(*np.unique(strata_values, return_counts=True), strict=True) if n < 2
    ]
    if small:
        notes.append(
            f"strata {small} have fewer than 2 sample points: their variance contribution is "
            "undefined (reported as NaN); sample at least 2 points per stratum"
        )
    pixel_area_m2 = pixel_area_m2_of(grid)
    estimate = stehman_estimate(
        map_codes,
        ref_codes,
        strata_values,
        {int(k): float(v) for k, v in sizes.items()},
        fpc=fpc,
        classes=codes,
        class_names=names,
        pixel_area_m2=pixel_area_m2,
    )
    metadata["design"] = "stratified"
    metadata["stratum_sizes"] = {str(k): int(v) for k, v in sizes.items()}
    return AccuracyReport(
        confusion=stats,
        area=estimate,
        kind="fit diagnostic" if fit_diagnostic else "design-based",
        title=f"Area-adjusted accuracy of {os.path.basename(str(map_path))}",
        notes=notes,
        metadata=metadata,
    )
