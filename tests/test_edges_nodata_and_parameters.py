"""Issue 11, items 7, 8, 12 and 13: nodata stays nodata through every painter; maximum
likelihood with singular class covariances; invalid parameter values refused before any work;
SVM with tiny classes (final fit and cross-validation folds)."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from click.testing import CliRunner

from rasterclass import open_scene, read_class_map
from rasterclass.accuracy.crossval import cross_validate
from rasterclass.apply import paint_segments, recode, valid_pixels
from rasterclass.classes import ClassMap
from rasterclass.cli.main import cli
from rasterclass.clustering import make_clusterer
from rasterclass.errors import (
    CalibrationWarning,
    EstimatorError,
    RasterclassError,
    RasterclassIOError,
    SegmentationError,
    SingularCovarianceWarning,
    TrainingDataError,
)
from rasterclass.estimators.parametric import MaximumLikelihoodClassifier
from rasterclass.estimators.presets import make_estimator
from rasterclass.jobs import ObjectOptions, TrainingOptions, classify, fit_model
from rasterclass.objects import mask_segments, paint_map, segment
from rasterclass.sampling import Samples
from tests.conftest import CRS, pixel_box, synthetic_arrays, write_raster

CHUNKS = [16, 1000]


def run(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)


def read(path: Path, band: int = 1) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(band)


# ------------------------------------------------------------------------------------------
# Item 7: nodata in, 0 out, whatever covers it
# ------------------------------------------------------------------------------------------
MARGIN_SEGMENT = 9999


def block_segments(height: int, width: int) -> np.ndarray:
    """8 x 8 pixel segments over the whole grid, nodata included; the nodata margin
    (columns 0-2 of synthetic_arrays) is a segment of its own, with no valid pixel."""
    seg = (np.arange(height)[:, None] // 8) * 100 + (np.arange(width)[None, :] // 8) + 1
    seg[:, :3] = MARGIN_SEGMENT
    return seg.astype("uint32")


@pytest.fixture
def segments_path(tmp_path: Path) -> Path:
    _, truth = synthetic_arrays()
    return write_raster(tmp_path / "seg.tif", block_segments(*truth.shape), nodata=0)


@pytest.mark.parametrize("chunks", CHUNKS)
def test_object_based_cli_with_user_segments_keeps_nodata(
    tmp_path, scene_path, training_path, segments_path, truth, chunks
):
    out, proba = tmp_path / "map.tif", tmp_path / "p.tif"
    res = run(
        "classify", scene_path, "-t", training_path, "-c", "class", "--object-based",
        "--segments", segments_path, "--chunks", chunks, "--cv", "0", "-o", out,
        "--probabilities", proba,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = read(out)
    nodata = truth == 0
    assert int((data[nodata] != 0).sum()) == 0  # old code: 192 of 192
    assert (data[~nodata] != 0).all()  # every valid pixel still classified
    for band in range(1, 5):
        layer = read(proba, band)
        assert np.isnan(layer[nodata]).all()
        assert np.isfinite(layer[~nodata]).all()


@pytest.mark.parametrize("chunks", CHUNKS)
def test_object_based_python_with_user_segments_keeps_nodata(
    tmp_path, scene_path, training_path, truth, chunks
):
    scene = open_scene(scene_path, chunks=chunks)
    segs = xr.DataArray(block_segments(*truth.shape), dims=("y", "x"))
    segs = segs.assign_coords(y=scene.y, x=scene.x).rio.write_crs(CRS)
    segs = segs.rio.write_transform(scene.rio.transform())
    feats = tmp_path / "features.csv"
    classify(
        scene, training_path, "class", tmp_path / "map.tif",
        TrainingOptions(cv_folds=0), objects=ObjectOptions(segs), probabilities=tmp_path / "p.tif",
        features_output=feats, segments_output=tmp_path / "segs.tif",
    )  # fmt: skip
    data = read(tmp_path / "map.tif")
    nodata = truth == 0
    assert int((data[nodata] != 0).sum()) == 0
    assert (data[~nodata] != 0).all()
    assert np.isnan(read(tmp_path / "p.tif", 1)[nodata]).all()
    # the segment raster written back is 0 on nodata too; the all-nodata segment is gone
    written = read(tmp_path / "segs.tif")
    assert (written[nodata] == 0).all()
    assert (written[~nodata] == segs.values[~nodata]).all()
    table = pd.read_csv(feats)
    assert MARGIN_SEGMENT not in table["segment"].tolist()


@pytest.mark.parametrize("chunks", CHUNKS)
def test_painters_honour_the_scene_validity(chunks):
    scene_np, truth = synthetic_arrays()
    scene = xr.DataArray(scene_np, dims=("band", "y", "x")).chunk({"y": chunks, "x": chunks})
    segs = xr.DataArray(block_segments(*truth.shape), dims=("y", "x"))
    ids = np.unique(segs.values)
    classes = pd.DataFrame({"code": np.ones(len(ids), "u1")}, index=ids)
    cmap = ClassMap.from_codes([1], ["a"])
    nodata = truth == 0
    painted = paint_map(segs, classes, cmap, scene=scene)["classes"].values
    assert int((painted[nodata] != 0).sum()) == 0
    assert (painted[~nodata] == 1).all()
    painted = paint_segments(segs, np.ones(len(ids), "u1"), keys=ids, valid=valid_pixels(scene))
    assert int((painted.values[nodata] != 0).sum()) == 0
    masked = mask_segments(segs, scene).values
    assert (masked[nodata] == 0).all()
    assert (masked[~nodata] == segs.values[~nodata]).all()


def test_recode_keeps_nodata_whatever_the_table_says():
    classes = xr.DataArray(np.array([[0, 1, 2], [2, 0, 1]], dtype="u1"), dims=("y", "x"))
    for arr in (classes, classes.chunk({"x": 2})):
        out = recode(arr, np.array([5, 3, 4], dtype="u1")).values
        assert out.tolist() == [[0, 3, 4], [4, 0, 3]]


# ------------------------------------------------------------------------------------------
# Item 8: maximum likelihood with a band constant within a class
# ------------------------------------------------------------------------------------------
CONSTANT = 50
ML_MEANS = {1: (30, 40, CONSTANT), 2: (40, 50, CONSTANT), 3: (60, 35, 70)}
ML_NAMES = {1: "water", 2: "forest", 3: "urban"}


def singular_scene(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """DN-like scene, three stripes; 'water' has red == 50 everywhere (constant band),
    'forest' has red around 50 too (2.5 sd away from water in blue and green)."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.repeat([[1, 2, 3]], 60, 0), 30, 1)
    scene = np.zeros((3, *truth.shape), "f4")
    for code, means in ML_MEANS.items():
        for b, mean in enumerate(means):
            scene[b][truth == code] = np.rint(rng.normal(mean, 4, int((truth == code).sum())))
    scene[2][truth == 1] = CONSTANT
    return scene, truth


def test_ml_singular_class_does_not_take_pixels_at_its_constant_value():
    scene, truth = singular_scene()
    X = scene.reshape(3, -1).T.astype(float)
    y = truth.ravel()
    train = np.random.default_rng(0).random(len(y)) < 0.3
    model = MaximumLikelihoodClassifier().fit(X[train], y[train])
    assert model.singular_classes_ == {1: ("constant", [2])}
    pred = model.predict(X)
    others_at_constant = (X[:, 2] == CONSTANT) & (y != 1)
    assert others_at_constant.sum() > 100
    wrong = (pred == 1) & others_at_constant
    assert wrong.sum() / others_at_constant.sum() < 0.15  # old code: about half
    assert (pred[y == 1] == 1).mean() > 0.95


def test_ml_singular_class_warns_naming_class_and_band():
    scene, truth = singular_scene()
    X = scene.reshape(3, -1).T.astype(float)
    y = truth.ravel()
    samples = Samples(
        X, y, np.arange(len(y)) // 100, np.zeros(len(y), int), np.zeros(len(y), int),
        ["blue", "green", "red"], ClassMap.from_codes([1, 2, 3], list(ML_NAMES.values())),
    )  # fmt: skip
    with pytest.warns(SingularCovarianceWarning, match=r"class 'water': 'red' is constant"):
        fit_model(samples, make_estimator("maxlike"))


@pytest.mark.parametrize("chunks", CHUNKS)
def test_ml_singular_class_cli(tmp_path, chunks):
    scene, truth = singular_scene()
    path = write_raster(tmp_path / "s.tif", scene, nodata=float("nan"),
                        descriptions=["blue", "green", "red"])  # fmt: skip
    boxes = [
        (ML_NAMES[c], (r, 30 * (c - 1) + 5, r + 8, 30 * (c - 1) + 25))
        for c in (1, 2, 3)
        for r in (2, 14, 26, 38, 50)
    ]
    gpd.GeoDataFrame(
        {"class": [n for n, _ in boxes]}, geometry=[pixel_box(*b) for _, b in boxes], crs=CRS
    ).to_file(tmp_path / "t.gpkg")
    out = tmp_path / "m.tif"
    res = run(
        "classify", path, "-t", tmp_path / "t.gpkg", "-c", "class", "-m", "maxlike",
        "--chunks", chunks, "--cv", "0", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "class 'water': 'red' is constant" in res.output
    data = read(out)
    water = read_class_map(out).code_of("water")
    forest_at_constant = (scene[2] == CONSTANT) & (truth == 2)
    wrong = (data[forest_at_constant] == water).mean()
    assert wrong < 0.15, wrong  # old code: 0.51


# ------------------------------------------------------------------------------------------
# Item 12: invalid values refused before any work
# ------------------------------------------------------------------------------------------
BAD_PARAMS = [
    ("rf", "n_estimators=0", "n_estimators=0"),
    ("rf", "n_estimators=abc", "n_estimators='abc'"),
    ("rf", "n_estimators=1.5", "n_estimators=1.5"),
    ("rf", "max_depth=-3", "max_depth=-3"),
    ("svm", "C=-1", "C=-1"),
    ("svm", "kernel=nosuch", "kernel='nosuch'"),
    ("maxlike", "reg_covar=-1", "reg_covar=-1"),
    ("maxlike", "shrinkage=0", "shrinkage=0"),
    ("mindist", "metric=cityblock", "metric='cityblock'"),
]


@pytest.fixture
def no_reading(monkeypatch):
    """Reading the scene fails the test: validation must come first."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the scene was opened before the parameters were validated")

    monkeypatch.setattr("rasterclass.jobs.scene.open_scene", refuse)
    monkeypatch.setattr("rasterclass.jobs.objects.segment_features", refuse)


@pytest.mark.parametrize(("method", "param", "shown"), BAD_PARAMS)
def test_bad_estimator_parameter_cli(tmp_path, scene_path, training_path, no_reading,
                                     method, param, shown):  # fmt: skip
    started = time.perf_counter()
    res = run(
        "classify", scene_path, "-t", training_path, "-c", "class", "-m", method, "-p", param,
        "-o", tmp_path / "o.tif",
    )  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    line = res.output.strip().splitlines()[-1]
    assert line.startswith("Error:") and shown in line and "must be" in line, line
    assert "_fit" not in line and "validate" not in line  # no internal function named
    assert not (tmp_path / "o.tif").exists()
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(("method", "param", "shown"), BAD_PARAMS)
def test_bad_estimator_parameter_library(tmp_path, scene_path, training_path, no_reading,
                                         method, param, shown):  # fmt: skip
    name, value = param.split("=")
    with pytest.raises(EstimatorError, match=f"parameter {shown.replace('.', '[.]')}"):
        make_estimator(method, {name: value})
    with pytest.raises(EstimatorError, match="must be"):
        classify(
            scene_path, training_path, "class", tmp_path / "o.tif",
            TrainingOptions(method=method, params={name: value}),
        )  # fmt: skip
    with pytest.raises(EstimatorError, match="must be"):
        classify(
            scene_path, training_path, "class", tmp_path / "o.tif",
            TrainingOptions(method=method, params={name: value}), objects=ObjectOptions(),
        )  # fmt: skip
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize(
    ("args", "option", "value"),
    [
        (["--chunks", "-5"], "--chunks", "-5"),
        (["--chunks", "0"], "--chunks", "0"),
        (["--cv", "1"], "--cv", "1"),
        (["--cv", "-1"], "--cv", "-1"),
        (["--seed", "-1"], "--seed", "-1"),
        (["--max-samples-per-class", "0"], "--max-samples-per-class", "0"),
        (["--memory-budget", "-2GB"], "--memory-budget", "-2GB"),
        (["--object-based", "--min-overlap", "0"], "--min-overlap", "0"),
    ],
)
def test_bad_options_cli(tmp_path, scene_path, training_path, args, option, value):
    res = run("classify", scene_path, "-t", training_path, "-c", "class", *args,
              "-o", tmp_path / "o.tif")  # fmt: skip
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output
    assert option in res.output and value in res.output, res.output
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--workers", "0", "classify"],
        ["cluster", "--chunks", "0"],
        ["cluster", "--sample-size", "0"],
        ["segment", "--seed", "-2"],
        ["segment", "--chunks", "-5"],
        ["train", "--cv", "1"],
        ["predict", "--chunks", "0"],
    ],
)
def test_bad_options_every_command(tmp_path, scene_path, args):
    res = run(*args, scene_path, "-o", tmp_path / "o.tif")
    assert res.exit_code == 2, res.output  # a usage error, before the command runs
    assert "Invalid value for" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o.tif").exists()


def test_bad_parameters_library(scene_path):
    with pytest.raises(RasterclassIOError, match="chunks"):
        open_scene(scene_path, chunks=-5)
    with pytest.raises(RasterclassIOError, match="chunks"):
        open_scene(scene_path, chunks=0)
    with pytest.raises(TrainingDataError, match="cv_folds"):
        classify(scene_path, "t.gpkg", "class", "o.tif", TrainingOptions(cv_folds=1))
    with pytest.raises(TrainingDataError, match="cv_folds"):
        classify(scene_path, "t.gpkg", "class", "o.tif", TrainingOptions(cv_folds=-1))
    with pytest.raises(TrainingDataError, match="seed"):
        classify(scene_path, "t.gpkg", "class", "o.tif", TrainingOptions(seed=-1))
    with pytest.raises(EstimatorError, match="max_iter=0"):
        make_clusterer("kmeans", 4, {"max_iter": "0"})
    with pytest.raises(EstimatorError, match="max_iter"):
        make_clusterer("isodata", 4, {"max_iter": "abc"})
    with pytest.raises(EstimatorError, match="tol='abc'"):
        make_clusterer("kmeans", 4, {"tol": "abc"})
    scene = open_scene(scene_path)
    for params, name in (
        ({"min_size": 1.5}, "min_size"),
        ({"min_size": "abc"}, "min_size"),
        ({"seed": -1}, "seed"),
    ):
        with pytest.raises(SegmentationError, match=name):
            segment(scene, **params)
    with pytest.raises(SegmentationError, match="compactness"):
        segment(scene, "slic", compactness=-1.0)
    with pytest.raises(SegmentationError, match="scale"):
        segment(scene, "felzenszwalb", scale=float("nan"))


# ------------------------------------------------------------------------------------------
# Item 13: SVM with tiny classes
# ------------------------------------------------------------------------------------------
def _training_with_tiny_class(tmp_path: Path, n_pixels: int) -> Path:
    """Five polygons per class (conftest stripes) plus 'reed': n_pixels single-pixel polygons."""
    boxes = [(c, (r0, c0, r0 + 7, c0 + 10)) for c, c0 in (("water", 5), ("forest", 34),
             ("urban", 55)) for r0 in (2, 13, 24, 35, 46)]  # fmt: skip
    boxes += [("reed", (50 + 2 * i, 22, 51 + 2 * i, 23)) for i in range(n_pixels)]
    path = tmp_path / f"train{n_pixels}.gpkg"
    gpd.GeoDataFrame(
        {"class": [c for c, _ in boxes]}, geometry=[pixel_box(*b) for _, b in boxes], crs=CRS
    ).to_file(path)
    return path


def test_svm_class_of_one_pixel_is_one_clear_line(tmp_path, scene_path):
    training = _training_with_tiny_class(tmp_path, 1)
    res = run("classify", scene_path, "-t", training, "-c", "class", "-m", "svm", "--cv", "0",
              "-o", tmp_path / "o.tif")  # fmt: skip
    assert res.exit_code == 1, res.output
    line = res.output.strip().splitlines()[-1]
    assert line.startswith("Error:") and "'reed'" in line and "at least 2" in line, line
    assert not (tmp_path / "o.tif").exists()
    with pytest.raises(TrainingDataError, match="'reed' has 1 training sample"):
        classify(scene_path, training, "class", tmp_path / "o.tif",
                 TrainingOptions(method="svm", cv_folds=0))  # fmt: skip


@pytest.mark.parametrize("chunks", CHUNKS)
def test_svm_class_of_two_pixels_uses_fewer_calibration_folds(tmp_path, scene_path, chunks):
    training = _training_with_tiny_class(tmp_path, 2)
    res = run("classify", scene_path, "-t", training, "-c", "class", "-m", "svm", "--cv", "0",
              "--chunks", chunks, "-o", tmp_path / "o.tif")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "'reed' has only 2 training samples" in res.output
    assert "calibration uses 2 folds instead of 3" in res.output
    with rasterio.open(tmp_path / "o.tif") as src:
        assert src.read(1).max() == 4  # four classes in the model
    with pytest.warns(CalibrationWarning, match="'reed' has only 2"):
        classify(scene_path, training, "class", tmp_path / "p.tif",
                 TrainingOptions(method="svm", cv_folds=0), scene_options=None)  # fmt: skip


def _tiny_samples(n_tiny: int) -> Samples:
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(m, 1.0, (40, 3)) for m in (0.0, 5.0, 10.0)])
    X = np.vstack([X, rng.normal(15.0, 1.0, (n_tiny, 3))])
    y = np.r_[np.repeat([1, 2, 3], 40), np.full(n_tiny, 4)]
    groups = np.r_[np.repeat(np.arange(12), 10), 100 + np.arange(n_tiny)]
    cmap = ClassMap.from_codes([1, 2, 3, 4], ["water", "forest", "urban", "reed"])
    zeros = np.zeros(len(y), int)
    return Samples(X, y, groups, zeros, zeros, ["b1", "b2", "b3"], cmap)


def test_svm_cross_validation_fold_with_a_lonely_pixel(tmp_path):
    samples = _tiny_samples(2)  # two polygons of one pixel: one per training side at most
    with pytest.warns(CalibrationWarning, match=r"'reed' has 1 training sample .* fold"):
        report = cross_validate(samples, make_estimator("svm"), n_splits=2)
    assert report.confusion.n == len(samples)
    assert report.confusion.overall_accuracy > 0.9
    samples = _tiny_samples(4)  # two pixels per training side: 2 calibration folds there
    with pytest.warns(CalibrationWarning, match=r"calibration uses 2 folds instead of 3"):
        cross_validate(samples, make_estimator("svm"), n_splits=2)


def test_errors_are_rasterclass_errors():
    assert issubclass(CalibrationWarning, Warning)
    assert issubclass(EstimatorError, RasterclassError)
