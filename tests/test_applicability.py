"""Uncertainty layers and the area of applicability (Meyer & Pebesma 2021, as CAST defines it):
numpy oracles, known answers, chunk invariance, nodata, laziness, the jobs and the CLI."""

from __future__ import annotations

import json

import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
from sklearn.ensemble import RandomForestClassifier

import rasterclass as rc
from rasterclass.applicability import (
    AOA_BANDS,
    ApplicabilityReference,
    boxplot_upper_whisker,
    importance_weights,
)
from rasterclass.errors import EstimatorError, ModelFileError, TrainingDataError
from rasterclass.uncertainty_layers import UNCERTAINTY_BANDS
from tests.conftest import run_cli

CHUNKINGS = (7, 16, (13, 9))  # 7 and 13 x 9 do not divide the 40 x 45 scene


def _scene(data: np.ndarray, chunks=None) -> xr.DataArray:
    names = [f"b{i}" for i in range(data.shape[0])]
    arr = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": names})
    return arr if chunks is None else arr.chunk({"band": -1, "y": chunks, "x": chunks})


def _chunked(arr: xr.DataArray, chunks) -> xr.DataArray:
    cy, cx = chunks if isinstance(chunks, tuple) else (chunks, chunks)
    return arr.chunk({"band": -1, "y": cy, "x": cx})


# ---------------------------------------------------------------------------------------------
# CAST's rules, step by step
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "whisker"),
    [
        ([*range(1, 11), 50], 10.0),  # R: boxplot.stats(c(1:10, 50))$stats[5]
        ([1, 2, 3, 4, 100], 4.0),  # R: boxplot.stats(c(1, 2, 3, 4, 100))$stats = 1 2 3 4 4
        ([1, 2, 3, 4], 4.0),  # nothing out: the maximum
        ([0.3], 0.3),
    ],
)
def test_upper_whisker_is_rs_boxplot_stats(values, whisker):
    assert boxplot_upper_whisker(np.array(values, dtype=float)) == whisker


def _cast_train_di(X, weights, folds):
    """CAST R/trainDI.R transcribed literally: loops and full distance matrices."""
    z = (X - X.mean(0)) / X.std(0, ddof=1) * weights
    n = len(z)
    avrg, mins = [], []
    for i in range(n):
        d = np.sqrt(((z - z[i]) ** 2).sum(1))
        avrg.append(np.sort(d)[1:].mean())  # knnx.dist(train, t(train[i,]), k=n)[-1]
        d[i] = np.nan
        if folds is not None:
            d[folds == folds[i]] = np.nan
        mins.append(np.nanmin(d))
    mean = np.mean(avrg)
    return np.array(mins) / mean, mean


@pytest.mark.parametrize("with_folds", [True, False])
def test_training_di_equals_cast_transcription(with_folds):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3)) * [1, 10, 0.1]
    weights = np.array([0.5, 0.2, 0.3])
    folds = rng.integers(0, 5, 60) if with_folds else None
    ref = rc.train_applicability(X, weights=weights, folds=folds)
    di, mean = _cast_train_di(X, weights, folds)
    np.testing.assert_allclose(ref.mean_distance, mean, rtol=1e-12)
    np.testing.assert_allclose(ref.train_di, di, rtol=1e-12)
    assert ref.threshold == pytest.approx(boxplot_upper_whisker(di), rel=1e-12)


def test_weights_from_importances_else_equal():
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int) + 1
    rf = RandomForestClassifier(5, random_state=0).fit(X, y)
    w, how = importance_weights(rf, 3)
    assert how == "feature_importances_" and np.allclose(w, rf.feature_importances_)
    assert importance_weights(rc.MinimumDistanceClassifier().fit(X, y), 3)[1] == "equal"


def test_bad_training_data_is_refused():
    with pytest.raises(TrainingDataError, match="two training samples"):
        rc.train_applicability(np.zeros((1, 2)))
    with pytest.raises(TrainingDataError, match="same point"):
        rc.train_applicability(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
    ref = rc.train_applicability(np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 3.0]]))
    assert ref.weights[0] == 0 and "constant" in ref.notes[0]


def test_reference_round_trips_through_json():
    rng = np.random.default_rng(1)
    ref = rc.train_applicability(rng.normal(size=(20, 2)), folds=np.r_[[-1], np.arange(19) % 3])
    back = ApplicabilityReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert np.isnan(back.train_di[0])
    for key in ("center", "scale", "weights", "train"):
        assert np.array_equal(getattr(back, key), getattr(ref, key))
    assert (back.threshold, back.mean_distance) == (ref.threshold, ref.mean_distance)


# ---------------------------------------------------------------------------------------------
# The known answer: training data from one part of feature space
# ---------------------------------------------------------------------------------------------
def test_far_pixels_outside_like_pixels_inside():
    """Six bands (a Landsat-like scene). CAST's whisker flags as outside the training
    samples' upper tail: pixels drawn like the training data are flagged at about the rate
    of the training DIs beyond the whisker, ~2 % in six dimensions, but ~5-6 % in two or
    three (nearest-neighbour distances are more skewed there; measured over 10 seeds)."""
    rng = np.random.default_rng(42)
    n, p = 600, 6
    X = rng.normal(size=(n, p))
    y = np.where(X.sum(axis=1) > 0, 1, 2)
    folds = np.repeat(np.arange(60), 10) % 5  # 60 "polygons" of 10 pixels, 5 folds
    rf = RandomForestClassifier(20, random_state=0).fit(X, y)
    w, how = importance_weights(rf, p)
    ref = rc.train_applicability(X, weights=w, folds=folds, band_names=[f"b{i}" for i in range(p)])
    assert how == "feature_importances_"
    like = rng.normal(size=(p, 40, 45))  # held out, drawn like the training data
    far = rng.normal(size=(p, 40, 45)) + 8.0  # far from it in every band
    inside = rc.area_of_applicability(_scene(like), ref).sel(band="aoa").values
    outside = rc.area_of_applicability(_scene(far), ref).sel(band="aoa").values
    assert (inside == 0).mean() <= 0.05, (inside == 0).mean()
    assert (outside == 0).mean() >= 0.95, (outside == 0).mean()


# ---------------------------------------------------------------------------------------------
# Chunks, nodata, laziness
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def scene_and_reference():
    rng = np.random.default_rng(7)
    ref = rc.train_applicability(
        rng.normal(size=(80, 3)), folds=np.arange(80) % 4, band_names=["b0", "b1", "b2"]
    )
    data = rng.normal(size=(3, 40, 45)) * 2
    data[:, :4, :] = np.nan  # a nodata margin
    data[1, 20, 20] = np.nan  # one band missing
    return data, ref


def test_aoa_identical_for_any_chunking_and_nodata(scene_and_reference):
    data, ref = scene_and_reference
    oracle = rc.area_of_applicability(_scene(data), ref).values
    assert oracle.dtype == np.float32 and oracle.shape == (2, 40, 45)
    nodata = ~np.isfinite(data).all(0)
    assert np.isnan(oracle[:, nodata]).all() and np.isfinite(oracle[:, ~nodata]).all()
    assert set(np.unique(oracle[1, ~nodata])) <= {0.0, 1.0}
    for chunks in CHUNKINGS:
        out = rc.area_of_applicability(_chunked(_scene(data), chunks), ref)
        assert isinstance(out.data, da.Array)
        np.testing.assert_array_equal(out.values, oracle)
    assert out.attrs["AOA_THRESHOLD"] == repr(ref.threshold)


def _probabilities(shape=(3, 40, 45), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(shape[0]) * 0.7, size=shape[1:]).transpose(2, 0, 1)
    p[:, :4] = np.nan
    return p.astype(np.float32)


def test_uncertainty_equals_numpy_and_any_chunking():
    p = _probabilities()
    oracle = rc.uncertainty(_scene(p)).values
    valid = np.isfinite(p).all(0)
    srt = np.sort(p[:, valid].astype(float), axis=0)
    np.testing.assert_allclose(oracle[0, valid], srt[-1] - srt[-2], rtol=1e-6)
    pv = p[:, valid].astype(float)
    entropy = -(np.where(pv > 0, pv * np.log(np.where(pv > 0, pv, 1)), 0)).sum(0) / np.log(3)
    np.testing.assert_allclose(oracle[1, valid], entropy, rtol=1e-5, atol=1e-6)
    assert np.isnan(oracle[:, ~valid]).all() and oracle.dtype == np.float32
    assert ((oracle[:, valid] >= 0) & (oracle[:, valid] <= 1)).all()
    for chunks in CHUNKINGS:
        out = rc.uncertainty(_chunked(_scene(p), chunks))
        np.testing.assert_array_equal(out.values, oracle)
    assert [str(b) for b in out["band"].values] == list(UNCERTAINTY_BANDS)


def test_uncertainty_refuses_other_shapes():
    with pytest.raises(EstimatorError, match="probabilities"):
        rc.uncertainty(xr.DataArray(np.zeros((2, 2)), dims=("y", "x")))


def test_nothing_computes_before_writing(scene_and_reference, forbid_compute):
    data, ref = scene_and_reference
    with forbid_compute():
        aoa = rc.area_of_applicability(_chunked(_scene(data), 16), ref)
        unc = rc.uncertainty(_chunked(_scene(_probabilities()), 16))
    assert isinstance(aoa.data, da.Array) and isinstance(unc.data, da.Array)
    with forbid_compute(), pytest.raises(AssertionError, match="computed"):
        aoa.values  # noqa: B018


# ---------------------------------------------------------------------------------------------
# Jobs and command line
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def trained(tmp_path, scene_path, training_path):
    model = tmp_path / "model.skops"
    run_cli(
        "train",
        scene_path,
        "-t",
        training_path,
        "-c",
        "class",
        "--param",
        "n_estimators=10",
        "-o",
        model,
    )
    return model


def test_predict_writes_uncertainty_and_aoa(tmp_path, scene_path, trained, truth):
    out = tmp_path / "map.tif"
    run_cli(
        "predict",
        scene_path,
        "--model",
        trained,
        "-o",
        out,
        "--uncertainty",
        tmp_path / "u.tif",
        "--aoa",
        tmp_path / "aoa.tif",
    )
    for name, bands in (("u.tif", UNCERTAINTY_BANDS), ("aoa.tif", AOA_BANDS)):
        with rasterio.open(tmp_path / name) as src:
            assert src.count == 2 and src.dtypes == ("float32", "float32")
            assert src.descriptions == bands and np.isnan(src.nodata)
            values, tags = src.read(), src.tags()
        assert np.isnan(values[:, truth == 0]).all()
        assert np.isfinite(values[:, truth > 0]).all()
    assert float(tags["AOA_THRESHOLD"]) > 0 and tags["AOA_WEIGHTING"] == "feature_importances_"
    assert tags["AOA_FOLDS"] == "cross-validation folds"
    # the scene the model was trained on is (nearly) all inside its area of applicability
    assert (values[1][truth > 0] == 1).mean() > 0.9


def test_aoa_needs_a_model_with_a_reference(tmp_path, scene_path, trained):
    model = rc.RasterModel.load(trained)
    assert model.applicability is not None
    model.applicability = None  # as an older rasterclass saved it
    old = model.save(tmp_path / "old.skops")
    with pytest.raises(ModelFileError, match="retrain"):
        rc.predict(scene_path, old, tmp_path / "m.tif", aoa=tmp_path / "a.tif")
    assert not (tmp_path / "m.tif").exists()
    result = run_cli(
        "predict",
        scene_path,
        "--model",
        old,
        "-o",
        tmp_path / "m.tif",
        "--aoa",
        tmp_path / "a.tif",
        ok=False,
    )
    assert result.exit_code != 0 and "retrain" in result.output


def test_uncertainty_needs_probabilities(tmp_path, scene_path, training_path):
    options = rc.TrainingOptions(method="mindist", cv_folds=0)
    with pytest.raises(EstimatorError, match="uncertainty"):
        rc.classify(
            scene_path,
            training_path,
            "class",
            tmp_path / "m.tif",
            options,
            uncertainty=tmp_path / "u.tif",
        )
    assert not (tmp_path / "m.tif").exists()


def test_classify_writes_both_in_one_run(tmp_path, scene_path, training_path):
    options = rc.TrainingOptions(params={"n_estimators": 10}, cv_folds=0)
    result = rc.classify(
        scene_path,
        training_path,
        "class",
        tmp_path / "m.tif",
        options,
        uncertainty=tmp_path / "u.tif",
        aoa=tmp_path / "a.tif",
    )
    assert [p.rsplit("/", 1)[-1] for p in result.outputs] == ["m.tif", "u.tif", "a.tif"]
    with rasterio.open(tmp_path / "a.tif") as src:
        assert src.tags()["AOA_FOLDS"] == "training polygons"
