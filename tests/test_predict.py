"""Chunked prediction and map writing: invariance, laziness, nodata, colour table, names."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET

import dask
import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rasterclass import (
    extract_samples,
    fit_model,
    open_scene,
    predict_raster,
    read_class_map,
    write_map,
    write_probabilities,
)
from rasterclass.apply import stack_probabilities
from rasterclass.errors import EstimatorError, OutputExistsError
from rasterclass.estimators.presets import make_estimator
from rasterclass.io import write_chunks
from rasterclass.model import class_map_for
from tests.conftest import synthetic_arrays, write_raster


@pytest.fixture
def model(scene_path, training_path):
    scene = open_scene(scene_path)
    samples = extract_samples(scene, training_path, "class")
    return fit_model(samples, make_estimator("rf", {"n_estimators": 20}, seed=0))


@pytest.mark.parametrize("method", ["rf", "svm", "maxlike", "mindist"])
def test_every_preset_maps_the_stripes(scene_path, training_path, truth, method):
    scene = open_scene(scene_path, chunks=32)
    samples = extract_samples(scene, training_path, "class")
    model = fit_model(samples, make_estimator(method, seed=0))
    classes = predict_raster(scene, model)["classes"].values
    # class codes: forest=1, urban=2, water=3 (sorted names); truth: 1 water, 2 forest, 3 urban
    lut = np.array(
        [
            0,
            model.class_map.code_of("water"),
            model.class_map.code_of("forest"),
            model.class_map.code_of("urban"),
        ]
    )
    expected = lut[truth]
    assert (classes == expected).mean() > 0.99
    assert np.array_equal(classes == 0, truth == 0)


def test_map_identical_across_chunk_sizes_and_numpy(scene_path, model):
    maps = []
    for chunks in (16, 23, 64, 1000):  # 23 divides neither 61 nor 75
        scene = open_scene(scene_path, chunks=chunks)
        maps.append(predict_raster(scene, model, probabilities=True))
    in_memory = predict_raster(open_scene(scene_path).compute(), model, probabilities=True)
    assert isinstance(in_memory["classes"].data, np.ndarray)
    for pred in maps:
        np.testing.assert_array_equal(pred["classes"].values, in_memory["classes"].values)
        np.testing.assert_array_equal(
            pred["probabilities"].values, in_memory["probabilities"].values
        )


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cy=st.integers(5, 70), cx=st.integers(5, 80))
def test_chunk_invariance_property(scene_path, model, cy, cx):
    """Law: the map does not depend on the chunking (any rectangular chunks)."""
    scene = open_scene(scene_path).chunk({"y": cy, "x": cx})
    oracle = predict_raster(open_scene(scene_path).compute(), model)["classes"].values
    np.testing.assert_array_equal(predict_raster(scene, model)["classes"].values, oracle)


def test_predict_raster_is_lazy(scene_path, model, forbid_compute):
    scene = open_scene(scene_path, chunks=20)
    with forbid_compute():
        pred = predict_raster(scene, model, probabilities=True)
        stacked = stack_probabilities(pred)
    assert isinstance(pred["classes"].data, dask.array.Array)
    assert isinstance(stacked.data, dask.array.Array)
    # and the guard really does fail on a compute
    with forbid_compute(), pytest.raises(AssertionError, match="computed"):
        pred["classes"].values  # noqa: B018


def test_nodata_is_zero_and_only_nodata(scene_path, model, truth):
    classes = predict_raster(open_scene(scene_path, chunks=20), model)["classes"].values
    assert np.array_equal(classes == 0, truth == 0)


def test_any_sklearn_estimator_and_pipeline(scene_path, training_path, truth):
    scene = open_scene(scene_path, chunks=30)
    samples = extract_samples(scene, training_path, "class")
    names = np.array(samples.class_map.names)[samples.y - 1]  # string labels
    knn = make_pipeline(StandardScaler(), KNeighborsClassifier(3)).fit(samples.X, names)
    pred = predict_raster(scene, knn)
    classes = pred["classes"].values
    cmap = {n: c for c, n in enumerate(sorted(set(names)), start=1)}
    assert classes[20, 10] == cmap["water"]
    assert classes[20, 70] == cmap["urban"]
    assert np.array_equal(classes == 0, truth == 0)


def test_probabilities_and_confidence(scene_path, model, truth):
    pred = predict_raster(open_scene(scene_path, chunks=25), model, probabilities=True)
    proba = pred["probabilities"].values
    valid = truth > 0
    np.testing.assert_allclose(proba[:, valid].sum(axis=0), 1.0, atol=1e-5)
    assert np.isnan(proba[:, ~valid]).all()
    np.testing.assert_array_equal(pred["confidence"].values[valid], proba[:, valid].max(axis=0))
    assert list(pred["probabilities"].band.values) == list(model.class_map.names)
    # argmax of probabilities is the class map for a random forest
    codes = np.array(model.class_map.codes)[proba[:, valid].argmax(axis=0)]
    np.testing.assert_array_equal(codes, pred["classes"].values[valid])


def test_probabilities_need_predict_proba(scene_path, model):
    est = make_estimator("mindist").fit(np.random.default_rng(0).random((10, 3)), [1, 2] * 5)
    with pytest.raises(EstimatorError, match="predict_proba"):
        predict_raster(open_scene(scene_path), est, probabilities=True)


def test_write_map_colour_table_names_and_grid(tmp_path, scene_path, model, truth):
    scene = open_scene(scene_path, chunks=20)
    out = tmp_path / "map.tif"
    write_map(predict_raster(scene, model)["classes"], out, model.class_map)
    with rasterio.open(out) as src, rasterio.open(scene_path) as ref:
        assert src.dtypes[0] == "uint8"
        assert src.nodata == 0
        assert src.crs == ref.crs and src.transform == ref.transform
        assert src.profile["tiled"] and src.compression.name.lower() == "deflate"
        cmap = src.colormap(1)
        for code, colour in zip(model.class_map.codes, model.class_map.colors, strict=True):
            assert cmap[code] == colour
        names = json.loads(src.tags()["CLASS_NAMES"])
        assert names == {
            str(c): n for c, n in zip(model.class_map.codes, model.class_map.names, strict=True)
        }
        data = src.read(1)
    assert np.array_equal(data == 0, truth == 0)
    assert read_class_map(out) == model.class_map
    # GDAL PAM sidecar: category names and a thematic raster attribute table
    root = ET.parse(f"{out}.aux.xml").getroot()
    cats = [c.text or "" for c in root.iter("Category")]
    assert cats[model.class_map.code_of("water")] == "water"
    rat = root.find(".//GDALRasterAttributeTable")
    assert rat.get("tableType") == "thematic"
    rows = [[f.text for f in row.findall("F")] for row in rat.findall("Row")]
    assert [r[1] for r in rows] == list(model.class_map.names)
    # QGIS default style with labels
    qml = ET.parse(tmp_path / "map.qml").getroot()
    labels = [e.get("label") for e in qml.iter("paletteEntry")]
    assert labels == list(model.class_map.names)


def test_uint16_map_for_many_classes(tmp_path, scene_path):
    from rasterclass import ClassMap

    cmap = ClassMap.from_codes(range(1, 301))
    assert cmap.dtype == np.uint16
    scene = open_scene(scene_path, chunks=30)
    classes = (scene.isel(band=0) * 0 + 300).fillna(0).astype("uint16")
    write_map(classes, tmp_path / "m.tif", cmap)
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.dtypes[0] == "uint16"
        assert src.read(1).max() == 300


def test_no_overwrite_without_flag_and_failure_leaves_nothing(tmp_path, scene_path, model):
    scene = open_scene(scene_path, chunks=20)
    out = tmp_path / "map.tif"
    out.write_text("precious")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write_map(predict_raster(scene, model)["classes"], out, model.class_map)
    assert out.read_text() == "precious"

    class Boom(RandomForestClassifier):
        def predict(self, X):
            raise RuntimeError("boom")

    bad = Boom(n_estimators=2).fit(np.random.default_rng(0).random((20, 3)), [1, 2] * 10)
    target = tmp_path / "new.tif"
    with pytest.raises(RuntimeError, match="boom"):
        write_map(predict_raster(scene, bad)["classes"], target, model.class_map)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("chunks", [13, 100, 300])
def test_writer_predicts_every_pixel_once_whatever_the_chunks(tmp_path, chunks):
    """Write windows are runs of whole chunks: a chunk side that does not divide the 256 px
    tile (300), or tiny chunks (13), must not make the writer compute a chunk twice."""
    scene_arr, _ = synthetic_arrays()
    path = write_raster(tmp_path / "big.tif", np.tile(scene_arr, (1, 6, 5)), nodata=float("nan"))
    lock, predicted = threading.Lock(), [0]

    class Counting(RandomForestClassifier):
        def predict(self, X):
            with lock:
                predicted[0] += len(X)
            return super().predict(X)

    rng = np.random.default_rng(0)
    est = Counting(n_estimators=3, random_state=0).fit(rng.random((40, 3)), [1, 2] * 20)
    scene = open_scene(path, chunks=chunks)
    valid = int(np.isfinite(scene.values).all(axis=0).sum())
    out = write_map(predict_raster(scene, est)["classes"], tmp_path / "m.tif", class_map_for(est))
    assert predicted[0] == valid
    with rasterio.open(out) as src:
        data = src.read(1)
    expected = predict_raster(scene.compute(), est)["classes"].values
    np.testing.assert_array_equal(data, expected)


def test_write_chunks_are_runs_of_whole_chunks():
    assert write_chunks((512, 512, 100)) == (512, 512, 100)
    assert write_chunks((300, 300, 40)) == (300, 300, 40)
    assert write_chunks((100,) * 7 + (30,)) == (300, 300, 130)
    assert sum(write_chunks((13,) * 77)) == 13 * 77


def test_write_probabilities(tmp_path, scene_path, model):
    pred = predict_raster(open_scene(scene_path, chunks=20), model, probabilities=True)
    write_probabilities(stack_probabilities(pred), tmp_path / "p.tif")
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.count == len(model.class_map) + 1
        assert list(src.descriptions) == [*model.class_map.names, "confidence"]
        np.testing.assert_array_equal(src.read(src.count), pred["confidence"].values)


def test_model_file_round_trip_and_band_order(tmp_path, scene_path, model):
    from rasterclass import RasterModel
    from rasterclass.errors import BandMismatchError

    model.save(tmp_path / "m.skops")
    loaded = RasterModel.load(tmp_path / "m.skops")
    assert loaded.band_names == model.band_names and loaded.class_map == model.class_map
    assert loaded.summary["n_samples"] == model.summary["n_samples"]
    assert "scikit-learn" in loaded.versions
    scene = open_scene(scene_path, chunks=20)
    ref = predict_raster(scene, model)["classes"].values
    shuffled = scene.isel(band=[2, 0, 1])
    np.testing.assert_array_equal(predict_raster(shuffled, loaded)["classes"].values, ref)
    with pytest.raises(BandMismatchError, match="missing"):
        predict_raster(scene.isel(band=[0, 1]), loaded)
    renamed = scene.assign_coords(band=["b1", "b2", "b3"])
    with pytest.raises(BandMismatchError, match="band_names="):
        predict_raster(renamed, loaded)
