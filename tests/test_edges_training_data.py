"""Issue 11, items 2-4: classes never lost silently, each pixel sampled once, grouped CV
with multipolygons.

2. Codes 0..K-1 keep every class (shifted to 1..K, warned); any class left without a
   sample is named, with the reason, in one error (training) or one warning (reference,
   suggest-labels); code 0 among other codes is named as unlabelled.
3. Overlapping / duplicated training polygons: a pixel is sampled at most once; pixels
   under polygons of different classes are dropped, counted and named; exact duplicates
   are removed; same-class overlaps are kept once, in the first polygon. Chunk-invariant.
4. Training dissolved into one multipolygon per class: every part is a group, so grouped
   CV gives a real accuracy; a design that cannot be grouped is refused before any number.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import MultiPoint, box

from rasterclass import open_scene
from rasterclass.accuracy.assess import assess
from rasterclass.accuracy.crossval import cross_validate, plan_folds
from rasterclass.errors import (
    CrossValidationDesignError,
    TrainingClassesError,
    TrainingDataWarning,
    ValidationWarning,
)
from rasterclass.estimators.presets import make_estimator
from rasterclass.io import read_class_map
from rasterclass.jobs import TrainingOptions, train
from rasterclass.objects import label_segments
from rasterclass.sampling import extract_samples
from tests.conftest import CRS, TRAIN_BOXES, TRANSFORM, pixel_box
from tests.conftest import read_band as read
from tests.conftest import run_cli as run

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
CHUNKS = [16, 64]
CODES = {"water": 0, "forest": 1, "urban": 2}  # what scikit-learn's LabelEncoder writes


def frame(rows: list[tuple[object, tuple[int, int, int, int]]], column: str = "class"):
    return gpd.GeoDataFrame(
        {column: [c for c, _ in rows]}, geometry=[pixel_box(*b) for _, b in rows], crs=CRS
    )


def coded_training(tmp_path: Path) -> Path:
    gdf = frame([(CODES[c], b) for c, b in TRAIN_BOXES], "code")
    path = tmp_path / "coded.gpkg"
    gdf.to_file(path)
    return path


def training_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, TrainingDataWarning)]


# --- 2. codes 0..K-1: no class lost -----------------------------------------------------
@pytest.mark.parametrize("chunks", CHUNKS)
def test_codes_from_zero_keep_every_class_cli(tmp_path, scene_path, truth, chunks):
    out = tmp_path / "map.tif"
    res = run(
        "classify", scene_path, "-t", coded_training(tmp_path), "-c", "code", "-o", out,
        "-p", "n_estimators=20", "--chunks", chunks, "--cv", "0",
    )  # fmt: skip
    assert "0 is the map's nodata" in res.output and "0 -> 1, 1 -> 2, 2 -> 3" in res.output
    assert "3 classes" in res.output
    cmap = read_class_map(out)
    assert cmap is not None
    assert cmap.codes == (1, 2, 3) and cmap.names == ("0", "1", "2")
    mapped = read(out)
    valid = truth > 0
    # class "0" (water, code 1 in the map) is mapped where water is
    assert (mapped[valid] == truth[valid]).mean() > 0.99
    assert (mapped == 0).sum() == (truth == 0).sum()


@pytest.mark.parametrize("chunks", CHUNKS)
def test_codes_from_zero_keep_every_class_python(tmp_path, scene_path, chunks):
    scene = open_scene(scene_path, chunks=chunks)
    with pytest.warns(TrainingDataWarning, match=r"codes 0\.\.2, and 0 is the map's nodata"):
        samples = extract_samples(scene, coded_training(tmp_path), "code")
    assert samples.class_map.codes == (1, 2, 3)
    assert samples.class_map.names == ("0", "1", "2")
    counts = samples.counts()
    assert counts.loc[1, "name"] == "0" and counts.loc[1, "pixels"] == 5 * 7 * 15


def test_assess_matches_shifted_codes(tmp_path, scene_path):
    """A map trained on codes 0..K-1, assessed with a reference coded the same way."""
    coded = coded_training(tmp_path)
    out = tmp_path / "map.tif"
    run("classify", scene_path, "-t", coded, "-c", "code", "-o", out, "--cv", "0")
    report = assess(out, coded, "code", fit_diagnostic=True)
    names = report.confusion.class_names
    assert list(names) == ["0", "1", "2"]
    assert report.confusion.overall_accuracy > 0.99
    assert report.confusion.reference_counts["0"] == 5 * 7 * 15


def test_code_zero_among_other_codes_is_named(tmp_path, scene_path):
    """eo-learn style: 0 = no data among codes 1, 2, 5: left out, with the rows named."""
    rows = [({"water": 1, "forest": 2, "urban": 5}[c], b) for c, b in TRAIN_BOXES]
    rows += [(0, (2, 21, 9, 24)), (0, (13, 21, 20, 24))]
    gdf = frame(rows, "code")
    with pytest.warns(TrainingDataWarning) as record:
        samples = extract_samples(open_scene(scene_path), gdf, "code")
    msgs = training_warnings(record)
    assert len(msgs) == 1
    assert "rows 15, 16 (class code 0, the map's nodata)" in msgs[0]
    assert "number the classes from 1 if 0 is a class" in msgs[0]
    assert samples.class_map.codes == (1, 2, 5)


# --- 2. every lost class named, with why, in one message ----------------------------------
def lossy_training() -> gpd.GeoDataFrame:
    far = box(0, 0, 30, 30)  # far outside the scene
    x, y = TRANSFORM @ (40.1, 30.1)  # inside one pixel, away from its centre
    tiny = box(x, y - 6, x + 6, y)
    rows = [(c, pixel_box(*b)) for c, b in TRAIN_BOXES]
    rows += [
        ("lake", far),
        ("tiny", tiny),
        ("void", pixel_box(20, 0, 30, 3)),  # the nodata margin only
        ("", pixel_box(2, 21, 9, 24)),  # empty class name
        (None, pixel_box(13, 21, 20, 24)),  # no class value
    ]
    return gpd.GeoDataFrame({"class": [c for c, _ in rows]}, geometry=[g for _, g in rows], crs=CRS)


@pytest.mark.parametrize("chunks", CHUNKS)
def test_lost_classes_in_one_error_python(scene_path, chunks):
    with pytest.raises(TrainingClassesError) as info:
        extract_samples(open_scene(scene_path, chunks=chunks), lossy_training(), "class")
    msg = str(info.value)
    assert "'lake' (its 1 geometry lies outside the scene)" in msg
    assert "'tiny' (1 geometry holds no pixel centre: smaller than a pixel)" in msg
    assert "'void' (every pixel unusable: 30 px on nodata)" in msg
    assert "rows 19 (no class value)" in msg and "rows 18 (empty class name)" in msg
    assert "all_touched=True" in msg and "--all-touched" not in msg


def test_lost_classes_in_one_error_cli(tmp_path, scene_path):
    path = tmp_path / "lossy.gpkg"
    lossy_training().to_file(path)
    res = run("classify", scene_path, "-t", path, "-c", "class", "-o", tmp_path / "m.tif", ok=False)
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    for name in ("'lake'", "'tiny'", "'void'"):
        assert name in errors[0]
    assert "--all-touched" in errors[0] and "all_touched=True" not in errors[0]
    assert not (tmp_path / "m.tif").exists()


def test_lost_classes_in_one_warning_when_not_required(scene_path):
    with pytest.warns(TrainingDataWarning) as record:
        samples = extract_samples(
            open_scene(scene_path), lossy_training(), "class", require_all_classes=False
        )
    msgs = training_warnings(record)
    assert len(msgs) == 1
    assert all(n in msgs[0] for n in ("'lake'", "'tiny'", "'void'", "rows 19", "rows 18"))
    assert sorted(samples.counts().query("pixels > 0")["name"]) == ["forest", "urban", "water"]


def test_lost_class_named_by_suggest_labels(tmp_path, scene_path):
    from rasterclass.jobs import suggest_labels

    stats = pd.DataFrame(
        {
            "code": [1, 2, 3],
            "name": ["c1", "c2", "c3"],
            "pixels": [10, 10, 10],
            "mean_blue": [0.05, 0.04, 0.20],
            "mean_green": [0.03, 0.30, 0.25],
            "mean_red": [0.01, 0.15, 0.30],
        }
    )
    with pytest.warns(TrainingDataWarning, match="'lake'"):
        table = suggest_labels(scene_path, stats, lossy_training(), "class")
    assert table["class"].tolist() == ["water", "forest", "urban"]


# --- 3. overlapping and duplicated polygons ------------------------------------------------
def overlapping_training() -> gpd.GeoDataFrame:
    rows = list(TRAIN_BOXES)
    rows += [
        ("forest", (2, 15, 9, 25)),  # row 15: overlaps water row 0 on cols 15-19 (35 px)
        ("water", TRAIN_BOXES[1][1]),  # row 16: exact duplicate of row 1
        ("water", (24, 10, 31, 22)),  # row 17: overlaps water row 2 on cols 10-19
    ]
    return frame(rows)


@pytest.mark.parametrize("chunks", CHUNKS)
def test_each_pixel_sampled_once(scene_path, chunks):
    scene = open_scene(scene_path, chunks=chunks)
    with pytest.warns(TrainingDataWarning) as record:
        samples = extract_samples(scene, overlapping_training(), "class")
    msgs = training_warnings(record)
    assert any("1 feature(s) of training repeat" in m and "rows 16" in m for m in msgs)
    assert any("35 pixel(s) lie under polygons of different classes" in m for m in msgs)
    assert any("0 (water) & 15 (forest): 35 px" in m for m in msgs)
    key = samples.rows * 1000 + samples.cols
    assert len(np.unique(key)) == len(samples)  # every pixel once
    contested = (samples.rows >= 2) & (samples.rows < 9) & (samples.cols >= 15)
    contested &= samples.cols < 20
    assert not contested.any()
    assert samples.info["contested_pixels"] == 35
    assert samples.info["duplicate_features_removed"] == 1
    assert 16 not in samples.groups  # the duplicate is gone
    # same-class overlap: kept once, in the first polygon (row 2); row 17 adds cols 20-21
    band = (samples.rows >= 24) & (samples.rows < 31)
    assert set(samples.groups[band & (samples.cols >= 10) & (samples.cols < 20)]) == {2}
    assert set(samples.groups[band & (samples.cols >= 20) & (samples.cols < 22)]) == {17}
    assert samples.info["overlap_pixels_merged"] == 7 * 10
    water = samples.counts().loc[samples.class_map.code_of("water"), "pixels"]
    assert water == 5 * 7 * 15 - 35 + 7 * 2


@pytest.mark.parametrize("chunks", CHUNKS)
def test_pixel_sampling_does_not_depend_on_chunks(scene_path, chunks):
    def take(c: int):
        with pytest.warns(TrainingDataWarning):
            return extract_samples(
                open_scene(scene_path, chunks=c), overlapping_training(), "class"
            )

    a, b = take(chunks), take(7)
    for name in ("X", "y", "groups", "rows", "cols"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_overlaps_in_cli_summary(tmp_path, scene_path):
    path = tmp_path / "overlap.gpkg"
    overlapping_training().to_file(path)
    res = run("classify", scene_path, "-t", path, "-c", "class", "-o", tmp_path / "m.tif",
              "--cv", "0")  # fmt: skip
    assert "35 pixels under polygons of different classes, dropped" in res.output
    assert "1 duplicated features removed" in res.output
    assert "0 (water) & 15 (forest): 35 px" in res.output


def test_object_based_ignores_contested_pixels(scene_path):
    """A segment covered only by polygons of two classes gets no label; duplicates once."""
    scene = open_scene(scene_path)
    h, w = scene.shape[1:]
    ids = (np.arange(h)[:, None] // 11) * 100 + (np.arange(w)[None, :] // 5) + 1
    segs = scene.isel(band=0, drop=True).copy(data=ids.astype(np.int64))
    rows = [*TRAIN_BOXES, ("forest", TRAIN_BOXES[0][1]), ("forest", TRAIN_BOXES[10][1])]
    with pytest.warns(TrainingDataWarning, match="different classes"):
        samples = label_segments(scene, segs, frame(rows), "class", min_polygon_share=None)
    # the first water box (rows 2-8, cols 5-19) lies in segments of row band 0, cols 1-3:
    # all its pixels are contested, so no training segment comes from it
    assert not np.isin(samples.groups, [0, 15]).any()
    assert samples.info["contested_pixels"] == 2 * 7 * 15
    # urban row 10 and the same geometry as forest (row 16): the same
    assert not np.isin(samples.groups, [10, 16]).any()


def test_reference_overlaps_are_not_counted_twice(tmp_path, scene_path):
    out = tmp_path / "map.tif"
    training = tmp_path / "t.gpkg"
    frame(list(TRAIN_BOXES)).to_file(training)
    run("classify", scene_path, "-t", training, "-c", "class", "-o", out, "--cv", "0")
    ref = frame([("water", (2, 5, 9, 20)), ("water", (2, 5, 9, 20)), ("forest", (2, 15, 9, 25))])
    with pytest.warns(TrainingDataWarning):
        report = assess(out, ref, "class")
    counts = report.confusion.reference_counts
    assert counts["water"] == 7 * 10 and counts["forest"] == 7 * 5


# --- 4. grouped CV with dissolved multipolygons ------------------------------------------
@pytest.fixture(scope="module")
def dissolved(tmp_path_factory) -> Path:
    gdf = gpd.read_file(SAMPLE / "training.gpkg").dissolve("class").reset_index()
    assert (gdf.geom_type == "MultiPolygon").all()
    path = tmp_path_factory.mktemp("dissolved") / "dissolved.gpkg"
    gdf.to_file(path)
    return path


@pytest.fixture(scope="module")
def lone(tmp_path_factory) -> Path:
    gdf = gpd.read_file(SAMPLE / "training.gpkg").dissolve("class").reset_index()
    i = gdf.index[gdf["class"] == "water"][0]
    gdf.loc[i, "geometry"] = max(gdf.loc[i, "geometry"].geoms, key=lambda p: p.area)
    path = tmp_path_factory.mktemp("lone") / "lone.gpkg"
    gdf.to_file(path)
    return path


@pytest.mark.parametrize("chunks", [64, 256])
def test_dissolved_training_cv_python(dissolved, chunks):
    scene = open_scene(SAMPLE / "scene.tif", chunks=chunks)
    plain = extract_samples(scene, SAMPLE / "training.gpkg", "class")
    merged = extract_samples(scene, dissolved, "class")
    # same pixels; every part of a multipolygon is a group of its own
    np.testing.assert_array_equal(plain.y, merged.y)
    np.testing.assert_array_equal(plain.rows, merged.rows)
    assert len(np.unique(merged.groups)) == len(np.unique(plain.groups))
    est = make_estimator("rf", {"n_estimators": 20}, seed=0)
    oa_plain = cross_validate(plain, est, seed=0).confusion.overall_accuracy
    oa_merged = cross_validate(merged, est, seed=0).confusion.overall_accuracy
    assert oa_merged > 0.8
    assert abs(oa_merged - oa_plain) < 0.02


def test_dissolved_training_cv_cli(tmp_path, dissolved):
    report = tmp_path / "cv.json"
    res = run(
        "classify", SAMPLE / "scene.tif", "-t", dissolved, "-c", "class",
        "-o", tmp_path / "m.tif", "-p", "n_estimators=20", "--report", report,
    )  # fmt: skip
    oa = float(re.search(r"overall accuracy (\d\.\d+)", res.output).group(1))
    assert oa > 0.8
    data = json.loads(report.read_text())
    assert data["confusion"]["overall_accuracy"] > 0.8
    assert data["metadata"]["n_polygons"] == 83


def test_design_that_cannot_be_grouped_cli(tmp_path, lone):
    res = run(
        "classify", SAMPLE / "scene.tif", "-t", lone, "-c", "class", "-o", tmp_path / "m.tif",
        "-p", "n_estimators=20", "--report", tmp_path / "cv.json", ok=False,
    )  # fmt: skip
    assert res.exit_code == 1
    assert "cannot measure class(es) ['water']" in res.output
    assert "--cv-pixels" in res.output and "--cv 0" in res.output
    assert "overall accuracy" not in res.output and "kappa" not in res.output
    assert not (tmp_path / "cv.json").exists() and not (tmp_path / "m.tif").exists()


def test_design_that_cannot_be_grouped_python(lone):
    scene = open_scene(SAMPLE / "scene.tif")
    with pytest.raises(CrossValidationDesignError, match="cv_grouping='pixel'") as info:
        train(scene, lone, "class", TrainingOptions(params={"n_estimators": 5}))
    assert "['water']" in str(info.value) and "--cv" not in str(info.value)
    samples = extract_samples(scene, lone, "class")
    with pytest.raises(CrossValidationDesignError, match="grouping='pixel'"):
        cross_validate(samples, make_estimator("rf", {"n_estimators": 5}))
    # the same run without cross-validation trains
    result = train(scene, lone, "class", TrainingOptions(params={"n_estimators": 5}, cv_folds=0))
    assert len(result.model.class_map) == 7


def test_object_based_groups_are_multipolygon_parts(scene_path):
    scene = open_scene(scene_path)
    h, w = scene.shape[1:]
    ids = (np.arange(h)[:, None] // 11) * 100 + (np.arange(w)[None, :] // 5) + 1
    segs = scene.isel(band=0, drop=True).copy(data=ids.astype(np.int64))
    merged = frame(list(TRAIN_BOXES)).dissolve("class").reset_index()
    samples = label_segments(scene, segs, merged, "class", min_polygon_share=None)
    polygons = samples.counts()["polygons"]
    assert (polygons == 5).all()  # five boxes per class, one multipolygon each
    report = cross_validate(samples, make_estimator("rf", {"n_estimators": 10}), seed=0)
    assert report.confusion.overall_accuracy > 0.9


def test_points_in_a_multipoint_are_groups_of_their_own(scene_path):
    rows, geoms = [], []
    for name, (c0, c1) in {"water": (5, 20), "forest": (34, 46), "urban": (55, 70)}.items():
        pts = [TRANSFORM @ (c + 0.5, r + 0.5) for r in (5, 15, 25, 35, 45) for c in (c0, c1)]
        rows.append(name)
        geoms.append(MultiPoint(pts))
    gdf = gpd.GeoDataFrame({"class": rows}, geometry=geoms, crs=CRS)
    samples = extract_samples(open_scene(scene_path), gdf, "class")
    assert len(samples) == 30 and len(np.unique(samples.groups)) == 30
    report = cross_validate(samples, make_estimator("rf", {"n_estimators": 10}), seed=0)
    assert report.confusion.overall_accuracy > 0.9


@pytest.mark.parametrize("seed", range(6))
def test_every_fold_trains_on_the_classes_it_tests(scene_path, training_path, seed):
    samples = extract_samples(open_scene(scene_path), training_path, "class")
    keep = np.isin(samples.groups, [0, 1, 5, 6, 10, 11])  # two polygons per class
    sub = samples.subset(np.flatnonzero(keep))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidationWarning)
        plan = plan_folds(sub, 5, seed=seed)
    for train_idx, test_idx in plan.splits:
        assert set(np.unique(sub.y[test_idx])) <= set(np.unique(sub.y[train_idx]))
    report = cross_validate(sub, make_estimator("rf", {"n_estimators": 10}), plan=plan)
    assert report.confusion.overall_accuracy > 0.9


def test_folds_are_reduced_when_a_fold_would_test_an_unseen_class(
    scene_path, training_path, monkeypatch
):
    """StratifiedGroupKFold rarely does it, but a fold testing both water polygons would
    train without water: fewer folds are used, and the report says so."""
    import sklearn.model_selection as validation  # imported by plan_folds when it runs

    real = validation.StratifiedGroupKFold

    class Splitter:
        def __init__(self, n_splits: int, shuffle: bool, random_state: int) -> None:
            self.n_splits = n_splits
            self.real = real(n_splits=n_splits, shuffle=shuffle, random_state=random_state)

        def split(self, X, y, groups):
            if self.n_splits == 5:  # both polygons of water (0 and 1) tested together
                test = np.isin(groups, [0, 1])
                yield np.flatnonzero(~test), np.flatnonzero(test)
            yield from self.real.split(X, y, groups)

    monkeypatch.setattr(validation, "StratifiedGroupKFold", Splitter)
    samples = extract_samples(open_scene(scene_path), training_path, "class")
    sub = samples.subset(np.flatnonzero(np.isin(samples.groups, [0, 1, 5, 6, 10, 11])))
    with pytest.warns(ValidationWarning) as record:
        report = cross_validate(sub, make_estimator("rf", {"n_estimators": 10}), n_splits=5)
    assert any("using 4 folds instead of 5" in str(w.message) for w in record)
    assert report.metadata["folds"] == 4
    assert any("using 4 folds instead of 5" in n for n in report.notes)
    assert report.confusion.overall_accuracy > 0.9
