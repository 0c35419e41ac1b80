"""Map assessment, leakage-free validation and the stratified sample design."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner

from rasterclass import ClassMap, extract_samples, open_scene, read_legend, write_map
from rasterclass.accuracy import confusion_matrix_from_labels
from rasterclass.accuracy.assess import assess, mapped_pixel_counts, open_map
from rasterclass.accuracy.crossval import cross_validate, folds
from rasterclass.accuracy.draw import draw_sample
from rasterclass.accuracy.stehman import stehman_estimate
from rasterclass.cli.main import cli
from rasterclass.errors import AccuracyError, TrainingDataError, ValidationWarning
from rasterclass.estimators.presets import make_estimator
from tests.conftest import CRS, LSAT, SLOVENIA, needs_shared, pixel_box

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def run(*args, ok=True):
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def noisy_map(tmp_path_factory):
    """The sample scene's true land cover with 12% of pixels relabelled: a map with errors
    whose true class areas are known (truth.tif)."""
    with rasterio.open(SAMPLE / "truth.tif") as src:
        truth = src.read(1)
    rng = np.random.default_rng(42)
    noisy = truth.copy()
    flip = (rng.random(truth.shape) < 0.12) & (truth > 0)
    noisy[flip] = rng.integers(1, 8, flip.sum())
    legend = read_legend(SAMPLE / "legend.csv")
    scene = open_scene(SAMPLE / "scene.tif", chunks=256)
    path = tmp_path_factory.mktemp("map") / "noisy.tif"
    classes = scene.isel(band=0).copy(data=noisy).astype("uint8")
    write_map(classes, path, legend)
    return path, truth, legend


# --- 3. leakage-free validation ------------------------------------------------------------
@needs_shared(LSAT)
def test_landsat_grouped_cv_reported_and_pixel_cv_is_optimistic(tmp_path):
    scene = open_scene(LSAT / "lsat_stack_B1-B7.tif")
    samples = extract_samples(scene, LSAT / "trainingPolygons_lsat.gpkg", "class")
    for train, test in folds(samples, 5, seed=0):
        assert not set(samples.groups[train]) & set(samples.groups[test])
        assert set(samples.y[test]) <= set(samples.y[train])
    est = make_estimator("maxlike")
    grouped = cross_validate(samples, est, seed=0)
    pixel = cross_validate(samples, est, seed=0, grouping="pixel")
    print(
        f"landsat CV OA: grouped {grouped.confusion.overall_accuracy:.4f}, "
        f"pixel {pixel.confusion.overall_accuracy:.4f}"
    )
    assert pixel.confusion.overall_accuracy > grouped.confusion.overall_accuracy
    assert any("optimistic" in n for n in pixel.notes)
    assert not any("optimistic" in n for n in grouped.notes)
    res = run(
        "classify",
        LSAT / "lsat_stack_B1-B7.tif",
        "-t",
        LSAT / "trainingPolygons_lsat.gpkg",
        "-c",
        "class",
        "-o",
        tmp_path / "m.tif",
        "--report",
        tmp_path / "cv.json",
    )
    assert "Cross-validated accuracy (polygon-level split, 5 folds)" in res.output
    report = json.loads((tmp_path / "cv.json").read_text())
    assert report["kind"] == "cross-validation"


def test_sample_data_leakage_is_visible():
    scene = open_scene(SAMPLE / "scene.tif")
    samples = extract_samples(scene, SAMPLE / "training.gpkg", "class")
    est = make_estimator("rf", {"n_estimators": 30}, seed=0)
    grouped = cross_validate(samples, est, seed=0).confusion.overall_accuracy
    pixel = cross_validate(samples, est, seed=0, grouping="pixel").confusion.overall_accuracy
    print(f"sample data CV OA: grouped {grouped:.4f}, pixel {pixel:.4f}")
    assert pixel > grouped + 0.01


def test_few_polygons_warn(scene_path, training_path):
    samples = extract_samples(open_scene(scene_path), training_path, "class")
    keep = np.isin(samples.groups, [0, 1, 5, 6, 10, 11])  # two polygons per class
    with pytest.warns(ValidationWarning, match="fewer polygons than the 5 folds"):
        list(folds(samples.subset(np.flatnonzero(keep)), 5))


# --- 4. assess agrees with a direct confusion matrix ---------------------------------------
@needs_shared(SLOVENIA)
def test_slovenia_assess_equals_direct_confusion_matrix(tmp_path):
    scene = SLOVENIA / "s2_l1c_maxndvi_composite_13band.tif"
    polys = SLOVENIA / "lulc_reference_polygons.gpkg"
    out = tmp_path / "slo.tif"
    run("classify", scene, "-t", polys, "-c", "LULC_ID", "-o", out, "--cv", "0")
    run("assess", out, "-r", polys, "-c", "LULC_ID", "-o", tmp_path / "a.json", "--fit-diagnostic")
    report = json.loads((tmp_path / "a.json").read_text())
    with rasterio.open(out) as m, rasterio.open(SLOVENIA / "lulc_reference.tif") as r:
        mapped, ref = m.read(1), r.read(1)
    valid = (mapped > 0) & (ref > 0)
    codes = sorted(set(np.unique(mapped[mapped > 0])) | set(np.unique(ref[ref > 0])))
    direct = confusion_matrix_from_labels(mapped[valid], ref[valid], codes)
    assert report["confusion"]["class_names"] == [str(c) for c in codes]
    ours = np.array(report["confusion"]["matrix"]["values"])
    np.testing.assert_array_equal(ours, direct)
    assert report["kind"] == "fit diagnostic"
    # nodata of the map under reference polygons is excluded and counted
    assert report["metadata"]["nodata_pixels_excluded"] == int(((mapped == 0) & (ref > 0)).sum())


def test_fit_diagnostic_detected_for_training_data(tmp_path, scene_path, training_path):
    run("classify", scene_path, "-t", training_path, "-c", "class", "-o", tmp_path / "m.tif")
    res = run(
        "assess", tmp_path / "m.tif", "-r", training_path, "-c", "class", "-o", tmp_path / "a.md"
    )
    assert "fit diagnostic" in res.output
    assert "fit diagnostic" in (tmp_path / "a.md").read_text()


# --- 5. sample -> label -> assess, and coverage of the intervals ---------------------------
def label_points(points: gpd.GeoDataFrame, truth: np.ndarray, legend: ClassMap) -> gpd.GeoDataFrame:
    names = dict(zip(legend.codes, legend.names, strict=True))
    points = points.copy()
    points["reference"] = [
        names[int(truth[r, c])] for r, c in zip(points.row, points.col, strict=True)
    ]
    return points


def test_sample_label_assess_round_trip_cli(tmp_path, noisy_map):
    path, truth, legend = noisy_map
    run(
        "sample",
        path,
        "--target-se",
        "0.015",
        "--expected-ua",
        "urban_green=0.7",
        "--allocation",
        "min:20",
        "--seed",
        "5",
        "-o",
        tmp_path / "pts.gpkg",
    )
    pts = gpd.read_file(tmp_path / "pts.gpkg")
    assert (pts["reference"] == "").all()
    assert pts.groupby("map_class").size().min() >= 20
    label_points(pts, truth, legend).to_file(tmp_path / "labelled.gpkg")
    res = run(
        "assess",
        path,
        "-r",
        tmp_path / "labelled.gpkg",
        "-c",
        "reference",
        "--design",
        "stratified",
        "-o",
        tmp_path / "design.json",
    )
    assert "sample points" in res.output
    report = json.loads((tmp_path / "design.json").read_text())
    assert report["kind"] == "design-based"
    assert report["area_estimate"]["n_samples"] == len(pts)


def test_same_seed_same_points_whatever_the_chunks(noisy_map):
    path, _, _ = noisy_map
    a = draw_sample(path, 150, seed=9)
    b = draw_sample(path, 150, seed=9)
    assert a.geometry.equals(b.geometry)
    counts_256 = mapped_pixel_counts(open_map(path, chunks=256)[0])
    counts_333 = mapped_pixel_counts(open_map(path, chunks=333)[0])
    assert counts_256.equals(counts_333)
    assert not draw_sample(path, 150, seed=10).geometry.equals(a.geometry)


def test_interval_coverage_of_true_areas(noisy_map):
    """Around 95% of the 95% intervals of class area that ``assess`` reports contain the true
    area: 25 stratified samples of 400 points, 7 classes, 175 intervals.

    ``assess`` rasterises every sample point of the reference; this test runs it on 3 of
    the samples and checks that its estimates equal those of the design-based estimator on
    the points' map classes and true classes, which it then uses for all 25 (the same
    intervals, at a fraction of the time)."""
    path, truth, legend = noisy_map
    true_px = {n: int((truth == c).sum()) for c, n in zip(legend.codes, legend.names, strict=True)}
    sizes = mapped_pixel_counts(open_map(path)[0])
    hits = total = 0
    for seed in range(25):
        pts = label_points(draw_sample(path, 400, allocation="min:25", seed=seed), truth, legend)
        map_codes = np.array([legend.code_of(n) for n in pts.map_class])
        est = stehman_estimate(
            map_codes,
            truth[pts.row, pts.col],
            map_codes,
            sizes,
            classes=list(legend.codes),
            class_names=list(legend.names),
        )
        if seed < 3:
            reported = assess(path, pts, "reference", design="stratified").area
            for field in ("area_pixels", "area_pixels_se"):
                pd.testing.assert_series_equal(
                    getattr(reported, field)[list(legend.names)],
                    getattr(est, field)[list(legend.names)],
                    rtol=1e-12,
                )
        for name in legend.names:
            lo = est.area_pixels[name] - 1.96 * est.area_pixels_se[name]
            hi = est.area_pixels[name] + 1.96 * est.area_pixels_se[name]
            hits += lo <= true_px[name] <= hi
            total += 1
    coverage = hits / total
    print(f"coverage of 95% area intervals: {coverage:.3f} ({hits}/{total})")
    assert total == 175
    assert 0.88 <= coverage <= 0.995


# --- 6. bad input ----------------------------------------------------------------------------
def test_reference_without_overlap(tmp_path, noisy_map):
    path, _, _ = noisy_map
    far = gpd.GeoDataFrame({"class": ["water"]}, geometry=[pixel_box(0, 0, 3, 3)], crs=CRS)
    with pytest.raises(TrainingDataError, match="no geometry of reference"):
        assess(path, far, "class")


def test_unknown_reference_class_is_reported_not_dropped(noisy_map):
    path, _, _ = noisy_map
    ref = gpd.read_file(SAMPLE / "validation.gpkg")
    ref.loc[ref["class"] == "water", "class"] = "lake"
    with pytest.warns(ValidationWarning, match="lake"):
        report = assess(path, ref, "class")
    assert "lake" in report.confusion.class_names
    assert any("lake" in n for n in report.notes)
    assert report.confusion.reference_counts["lake"] > 0


def test_stratified_design_refuses_polygons(noisy_map):
    path, _, _ = noisy_map
    with pytest.raises(AccuracyError, match="probability sample of points"):
        assess(path, SAMPLE / "validation.gpkg", "class", design="stratified")


def test_stratum_with_one_point_is_documented(noisy_map):
    path, truth, legend = noisy_map
    pts = label_points(draw_sample(path, 200, allocation="min:3", seed=1), truth, legend)
    lone = pts[pts.map_class == "water"].index[1:]
    pts = pts.drop(lone)
    report = assess(path, pts, "reference", design="stratified")
    assert any("fewer than 2 sample points" in n for n in report.notes)
    empty = pts[pts.map_class != "urban_green"]
    with pytest.raises(AccuracyError, match="no samples"):
        assess(path, empty, "reference", design="stratified")
