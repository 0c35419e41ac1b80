"""Issue 11, items 5, 6 and 10: what a scene's values and band names are, however it comes.

5. GDAL scale/offset are applied on read; the model records the training scene's radiometry
   and warns when a scene to classify is stored differently.
6. Bands without descriptions are named by position (``band_1``...), not after the file, so
   a model trained on ``scene_2023.tif`` classifies ``scene_2024.tif``; mismatches say why.
10. A scene from ``rioxarray.open_rasterio`` (masked or not, chunked or not) is classified
    through its nodata, its band numbers are positions, and the outputs carry nodata and the
    class map (``rio.to_raster``, ``write_map(dataset)``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr

from rasterclass import (
    ClassMap,
    RasterModel,
    extract_samples,
    open_scene,
    predict_raster,
    read_class_map,
    write_map,
    write_probabilities,
)
from rasterclass.clustering import fit_clusterer
from rasterclass.errors import BandMismatchError, RadiometryWarning
from rasterclass.io import as_scene, load_model_file, save_model_file, scene_radiometry
from rasterclass.objects import segment, segment_features
from rasterclass.stack import band_names_from_files
from tests.conftest import read_band as read
from tests.conftest import run_cli as run
from tests.conftest import synthetic_arrays, write_raster

CHUNKS = [16, 40]
RF = ["-m", "rf", "-p", "n_estimators=25", "--seed", "3", "--cv", "0"]


def reflectance_and_dn() -> tuple[np.ndarray, np.ndarray]:
    """The same reflectance as float32 (NaN nodata) and as Sentinel-2 PB 04.00 digital
    numbers: DN = reflectance * 10000 + 1000, uint16, 0 = nodata."""
    scene, _ = synthetic_arrays()
    dn = np.where(np.isnan(scene), 0, np.round(scene * 10000) + 1000).astype(np.uint16)
    refl = np.where(dn == 0, np.nan, (dn.astype(np.float64) - 1000) / 10000).astype(np.float32)
    return refl, dn


def write_dn(path: Path, dn: np.ndarray, *, scaled: bool, descriptions=None) -> Path:
    write_raster(path, dn, nodata=0, descriptions=descriptions)
    if scaled:
        with rasterio.open(path, "r+") as dst:
            dst.scales = (1e-4,) * dn.shape[0]
            dst.offsets = (-0.1,) * dn.shape[0]
    return path


# ------------------------------------------------------------------------------------------
# 5. scale/offset and radiometry
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunks", CHUNKS)
def test_scale_and_offset_are_applied_on_read_and_recorded(tmp_path, chunks):
    refl, dn = reflectance_and_dn()
    path = write_dn(tmp_path / "dn.tif", dn, scaled=True)
    scene = open_scene(path, chunks=chunks)
    values = scene.values
    assert scene.dtype == np.float32
    assert np.array_equal(np.isnan(values), np.isnan(refl))  # nodata stays nodata
    np.testing.assert_allclose(values, refl, atol=1e-7, equal_nan=True)
    assert scene_radiometry(scene) == [
        {"band": f"band_{i}", "dtype": "uint16", "scale": 1e-4, "offset": -0.1, "nodata": 0.0}
        for i in (1, 2, 3)
    ]


@pytest.mark.parametrize("chunks", CHUNKS)
def test_model_on_float_scene_maps_the_scaled_dn_scene_alike_and_warns(
    tmp_path, training_path, chunks
):
    refl, dn = reflectance_and_dn()
    float_path = write_raster(tmp_path / "refl.tif", refl, nodata=float("nan"))
    dn_path = write_dn(tmp_path / "dn.tif", dn, scaled=True)
    model = tmp_path / "m.skops"
    run("train", float_path, "-t", training_path, "-c", "class", *RF, "-o", model)
    run("predict", float_path, "--model", model, "-o", tmp_path / "a.tif", "--chunks", chunks)
    res = run("predict", dn_path, "--model", model, "-o", tmp_path / "b.tif", "--chunks", chunks)
    a, b = read(tmp_path / "a.tif"), read(tmp_path / "b.tif")
    assert np.array_equal(a == 0, b == 0) and (a == 0).sum() == np.isnan(refl[0]).sum()
    assert (a == b).mean() > 0.999
    assert "Warning:" in res.output and "scale 0.0001 (training: 1)" in res.output
    assert "band_1" in res.output and "dtype uint16 (training: float32)" in res.output
    meta = load_model_file(model)[1]
    assert meta["radiometry"][0] == {
        "band": "band_1",
        "dtype": "float32",
        "scale": 1.0,
        "offset": 0.0,
        "nodata": None,
    }


def test_scene_without_scale_metadata_warns_naming_band_and_difference(tmp_path, training_path):
    _, dn = reflectance_and_dn()
    desc = ["blue", "green", "red"]
    scaled = write_dn(tmp_path / "scaled.tif", dn, scaled=True, descriptions=desc)
    bare = write_dn(tmp_path / "bare.tif", dn, scaled=False, descriptions=desc)
    from rasterclass import TrainingOptions, train

    model = train(scaled, training_path, "class", TrainingOptions(cv_folds=0)).model
    assert [r["scale"] for r in model.radiometry] == [1e-4] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", RadiometryWarning)
        predict_raster(open_scene(scaled, chunks=32), model)  # same storage: no warning
    with pytest.warns(RadiometryWarning, match=r"blue: scale 1 \(training: 0.0001\), offset 0"):
        predict_raster(open_scene(bare, chunks=32), model)
    # the warning survives a save/load round trip
    model.save(tmp_path / "m.skops")
    with pytest.warns(RadiometryWarning, match="red: scale 1"):
        predict_raster(open_scene(bare), RasterModel.load(tmp_path / "m.skops"))


def test_old_model_file_without_radiometry_still_loads_and_predicts(tmp_path, scene_path):
    from sklearn.neighbors import KNeighborsClassifier

    scene = open_scene(scene_path)
    est = KNeighborsClassifier(1).fit([[0.05, 0.03, 0.01], [0.2, 0.25, 0.3]], [1, 2])
    meta = {
        "band_names": ["blue", "green", "red"],
        "class_map": ClassMap.from_codes([1, 2]).to_dict(),
        "crs": None,
        "summary": {},
        "versions": {},
        "labels_are_codes": True,
    }
    save_model_file(est, meta, tmp_path / "old.skops")
    model = RasterModel.load(tmp_path / "old.skops")
    assert model.radiometry is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", RadiometryWarning)
        classes = predict_raster(scene, model)["classes"].values
    assert set(np.unique(classes).tolist()) == {0, 1, 2}


@pytest.mark.parametrize("chunks", CHUNKS)
def test_every_reader_sees_unscaled_values(tmp_path, chunks):
    """Clustering, segmentation and segment features read the scaled file as its floats."""
    refl, dn = reflectance_and_dn()
    f = open_scene(write_raster(tmp_path / "r.tif", refl, nodata=float("nan")), chunks=chunks)
    d = open_scene(write_dn(tmp_path / "d.tif", dn, scaled=True), chunks=chunks)
    mf, md = fit_clusterer(f, "kmeans", 3, seed=1), fit_clusterer(d, "kmeans", 3, seed=1)
    np.testing.assert_allclose(
        mf.estimator.cluster_centers_, md.estimator.cluster_centers_, atol=1e-6
    )
    segs = segment(f, n_clusters=4, min_size=10, seed=0)
    np.testing.assert_array_equal(segs.values, segment(d, n_clusters=4, min_size=10).values)
    ff, fd = segment_features(f, segs), segment_features(d, segs)
    np.testing.assert_allclose(ff["band_2_mean"], fd["band_2_mean"], atol=1e-6)


# ------------------------------------------------------------------------------------------
# 6. band names by position
# ------------------------------------------------------------------------------------------
def test_band_names_by_position_for_multiband_files_by_name_for_single_band_files():
    assert band_names_from_files(["/d/RGB.byte.tif"], [3]) == ["band_1", "band_2", "band_3"]
    paths = [f"/d/LT05_X_B{i}.TIF" for i in (4, 3)]
    assert band_names_from_files(paths, [1, 1]) == ["B4", "B3"]
    assert band_names_from_files(["/d/s_rgb.tif", "/d/s_nir.tif"], [3, 1]) == [
        "band_1",
        "band_2",
        "band_3",
        "nir",
    ]


@pytest.mark.parametrize("chunks", CHUNKS)
def test_model_trained_on_scene_2023_classifies_scene_2024(tmp_path, training_path, chunks):
    refl, _ = reflectance_and_dn()
    a = write_raster(tmp_path / "scene_2023.tif", refl, nodata=float("nan"))
    b = write_raster(tmp_path / "scene_2024.tif", refl, nodata=float("nan"))
    model = tmp_path / "m.skops"
    run("train", a, "-t", training_path, "-c", "class", *RF, "-o", model)
    assert RasterModel.load(model).band_names == ["band_1", "band_2", "band_3"]
    run("predict", a, "--model", model, "-o", tmp_path / "a.tif", "--chunks", chunks)
    run("predict", b, "--model", model, "-o", tmp_path / "b.tif", "--chunks", chunks)
    assert np.array_equal(read(tmp_path / "a.tif"), read(tmp_path / "b.tif"))


def test_band_mismatch_errors_say_which_case_and_the_fix(tmp_path, training_path):
    refl, _ = reflectance_and_dn()
    a = write_raster(tmp_path / "scene_2023.tif", refl, nodata=float("nan"))
    four = write_raster(
        tmp_path / "four.tif", np.concatenate([refl, refl[:1]]), nodata=float("nan")
    )
    named = write_raster(
        tmp_path / "named.tif", refl, nodata=float("nan"), descriptions=["blue", "green", "red"]
    )
    model = tmp_path / "m.skops"
    run("train", a, "-t", training_path, "-c", "class", *RF, "-o", model)
    res = run("predict", four, "--model", model, "-o", tmp_path / "x.tif", ok=False)
    assert res.exit_code == 1
    assert "the scene has 4 bands, the model was trained on 3" in res.output
    assert "matched by position" in res.output
    res = run("predict", named, "--model", model, "-o", tmp_path / "x.tif", ok=False)
    assert "trained on 3 bands without names" in res.output
    assert "--band-names" in res.output and "band_1,band_2,band_3" in res.output
    assert not (tmp_path / "x.tif").exists()
    # the fix the message names works
    run("predict", named, "--model", model, "-o", tmp_path / "x.tif", "--band-names",
        "band_1,band_2,band_3")  # fmt: skip
    # the other way round: a model with named bands, a scene without names
    model2 = tmp_path / "m2.skops"
    run("train", named, "-t", training_path, "-c", "class", *RF, "-o", model2)
    res = run("predict", a, "--model", model2, "-o", tmp_path / "y.tif", ok=False)
    assert "have no names" in res.output and "blue,green,red" in res.output
    with pytest.raises(BandMismatchError, match=r"name the scene's bands with band_names="):
        predict_raster(open_scene(a), RasterModel.load(model2))


def test_model_file_of_older_rasterclass_with_file_derived_names_still_applies(
    tmp_path, training_path
):
    refl, _ = reflectance_and_dn()
    a = write_raster(tmp_path / "scene_2023.tif", refl, nodata=float("nan"))
    model = tmp_path / "m.skops"
    run("train", a, "-t", training_path, "-c", "class", *RF, "-o", model)
    est, meta = load_model_file(model)
    meta["band_names"] = ["scene_2023_1", "scene_2023_2", "scene_2023_3"]  # the old naming
    for key in ("band_naming", "band_aliases", "radiometry"):
        meta.pop(key)
    save_model_file(est, meta, tmp_path / "old.skops")
    old = RasterModel.load(tmp_path / "old.skops")
    assert old.band_aliases == ["band_1", "band_2", "band_3"]
    new = predict_raster(open_scene(a), RasterModel.load(model))["classes"].values
    np.testing.assert_array_equal(predict_raster(open_scene(a), old)["classes"].values, new)


# ------------------------------------------------------------------------------------------
# 10. rioxarray inputs and outputs
# ------------------------------------------------------------------------------------------
@pytest.fixture
def dn_model(tmp_path, training_path):
    """A uint16 DN scene with nodata 0 (no descriptions), a model trained on it by the CLI,
    and the CLI's map."""
    _, dn = reflectance_and_dn()
    path = write_dn(tmp_path / "dn.tif", dn, scaled=False)
    model = tmp_path / "m.skops"
    run("train", path, "-t", training_path, "-c", "class", *RF, "-o", model)
    run("predict", path, "--model", model, "-o", tmp_path / "cli.tif")
    return path, model, read(tmp_path / "cli.tif"), dn[0] == 0


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("chunks", [None, *CHUNKS])
def test_rioxarray_scene_gives_the_cli_map(tmp_path, dn_model, masked, chunks):
    path, model_path, cli_map, nodata = dn_model
    raw = rioxarray.open_rasterio(path, masked=masked, chunks=chunks)
    ds = predict_raster(raw, RasterModel.load(model_path), probabilities=True)
    classes = ds["classes"].values
    assert np.array_equal(classes, cli_map)
    assert (classes[nodata] == 0).all() and (classes[~nodata] > 0).all()
    # outputs carry nodata and the class map
    assert ds["classes"].rio.nodata == 0
    assert np.isnan(ds["probabilities"].rio.nodata) and np.isnan(ds["confidence"].rio.nodata)
    ds["classes"].rio.to_raster(tmp_path / "rio.tif")
    with rasterio.open(tmp_path / "rio.tif") as src:
        assert src.nodata == 0
        assert np.array_equal(src.read(1), cli_map)
    assert read_class_map(tmp_path / "rio.tif") == RasterModel.load(model_path).class_map
    # write_map takes the Dataset (class map from it), and a class array with its attrs
    write_map(ds, tmp_path / "wm.tif")
    write_map(ds["classes"], tmp_path / "wm2.tif")
    for name in ("wm.tif", "wm2.tif"):
        with rasterio.open(tmp_path / name) as src:
            assert src.nodata == 0 and np.array_equal(src.read(1), cli_map)
            assert json.loads(src.tags()["CLASS_NAMES"]) == {"1": "forest", "2": "urban",
                                                              "3": "water"}  # fmt: skip
    write_probabilities(ds, tmp_path / "p.tif")
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.count == 4 and np.isnan(src.read(1)[nodata]).all()


def test_rioxarray_long_names_and_band_numbers(tmp_path, training_path):
    _, dn = reflectance_and_dn()
    path = write_dn(tmp_path / "d.tif", dn, scaled=False, descriptions=["blue", "green", "red"])
    raw = rioxarray.open_rasterio(path)
    assert [str(b) for b in as_scene(raw)["band"].values] == ["blue", "green", "red"]
    # selected bands keep their numbers as positions (scale per band follows them)
    picked = rioxarray.open_rasterio(write_dn(tmp_path / "s.tif", dn, scaled=True)).isel(
        band=[2, 0]
    )
    scene = as_scene(picked)
    assert [str(b) for b in scene["band"].values] == ["band_3", "band_1"]
    np.testing.assert_allclose(scene.values[0, 30, 40], dn[2, 30, 40] * 1e-4 - 0.1, rtol=1e-6)
    # a masked and scaled read (already decoded) is not scaled again
    decoded = as_scene(rioxarray.open_rasterio(tmp_path / "s.tif", mask_and_scale=True))
    np.testing.assert_allclose(
        decoded.values, open_scene(tmp_path / "s.tif").values, atol=1e-6, equal_nan=True
    )


@pytest.mark.parametrize("chunks", CHUNKS)
def test_other_entry_points_honour_rioxarray_nodata(tmp_path, training_path, chunks):
    _, dn = reflectance_and_dn()
    path = write_dn(tmp_path / "dn.tif", dn, scaled=False)
    raw = rioxarray.open_rasterio(path, chunks=chunks)
    ref = open_scene(path, chunks=chunks)
    s_raw = extract_samples(raw, training_path, "class")
    s_ref = extract_samples(ref, training_path, "class")
    np.testing.assert_array_equal(s_raw.X, s_ref.X)
    assert s_raw.band_names == ["band_1", "band_2", "band_3"]
    m = fit_clusterer(raw, "kmeans", 3, seed=2)
    m_ref = fit_clusterer(ref, "kmeans", 3, seed=2)
    np.testing.assert_array_equal(m.estimator.cluster_centers_, m_ref.estimator.cluster_centers_)
    clusters = predict_raster(raw, m)["classes"].values
    assert (clusters[dn[0] == 0] == 0).all()
    segs = segment(raw, n_clusters=4, min_size=10, seed=0)
    np.testing.assert_array_equal(segs.values, segment(ref, n_clusters=4, min_size=10).values)
    assert (segs.values[dn[0] == 0] == 0).all()
    np.testing.assert_array_equal(
        segment_features(raw, segs).to_numpy(), segment_features(ref, segs).to_numpy()
    )


def test_scene_with_nodata_outside_a_masked_float_array(tmp_path):
    """A float array with a declared fill value (not NaN) is masked too; xarray input that
    is already a scene is left alone."""
    data = np.array([[[1.0, -9999.0], [2.0, 3.0]]], dtype="f4")
    arr = xr.DataArray(data, dims=("band", "y", "x")).rio.write_nodata(-9999.0)
    scene = as_scene(arr)
    assert np.isnan(scene.values[0, 0, 1]) and scene.values[0, 1, 1] == 3.0
    assert as_scene(scene) is scene


def test_object_based_predict_warns_of_other_radiometry(tmp_path, training_path):
    """An object-based model checks the scene's storage too: its features are the bands'
    statistics, as wrong on a DN scene without scale metadata as a pixel model's input."""
    from rasterclass.jobs import ObjectOptions, TrainingOptions, classify, predict

    _, dn = reflectance_and_dn()
    desc = ["blue", "green", "red"]
    scaled = write_dn(tmp_path / "scaled.tif", dn, scaled=True, descriptions=desc)
    bare = write_dn(tmp_path / "bare.tif", dn, scaled=False, descriptions=desc)
    options = TrainingOptions(params={"n_estimators": 10}, cv_folds=0, seed=0)
    objects = ObjectOptions(segment_params={"n_clusters": 4, "min_size": 6})
    classify(
        scaled, training_path, "class", tmp_path / "obj.tif", options, objects=objects,
        model_output=tmp_path / "obj.skops",
    )  # fmt: skip
    model = RasterModel.load(tmp_path / "obj.skops")
    assert [r["band"] for r in model.radiometry] == desc
    with warnings.catch_warnings():
        warnings.simplefilter("error", RadiometryWarning)
        predict(scaled, tmp_path / "obj.skops", tmp_path / "same.tif")  # same storage
    with pytest.warns(RadiometryWarning, match=r"blue: scale 1 \(training: 0.0001\), offset 0"):
        predict(bare, tmp_path / "obj.skops", tmp_path / "other.tif")
    res = run("predict", bare, "--model", tmp_path / "obj.skops", "-o", tmp_path / "c.tif")
    assert "Warning:" in res.output and "red: scale 1 (training: 0.0001)" in res.output


def test_radiometry_is_checked_on_scenes_of_other_dates_and_date_stacks(tmp_path, training_path):
    """Renamed bands keep their records: a scene of other dates (its dates renamed to the
    model's) and a stack of one file per date (--date) are checked like any scene."""
    from rasterclass.jobs import SceneOptions, TrainingOptions, predict, train

    _, dn = reflectance_and_dn()
    scaled = write_dn(tmp_path / "scaled.tif", dn, scaled=True)
    bare = write_dn(tmp_path / "bare.tif", dn, scaled=False)
    options = TrainingOptions(method="mindist", cv_folds=0)

    def named(year: int) -> SceneOptions:
        return SceneOptions(
            band_names=[f"{b}@{year}-{m}" for m in ("06-01", "07-01") for b in ("b", "g", "r")]
        )

    two = np.concatenate([dn, dn])
    for name in ("scaled2", "bare2"):
        write_dn(tmp_path / f"{name}.tif", two, scaled=name == "scaled2")
    model = train(
        tmp_path / "scaled2.tif", training_path, "class", options, scene_options=named(2020)
    ).model
    assert model.band_names[0] == "b@2020-06-01"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RadiometryWarning)  # other dates, same storage
        predict(tmp_path / "scaled2.tif", model, tmp_path / "a.tif", scene_options=named(2021))
    with pytest.warns(RadiometryWarning, match=r"b@2020-06-01: scale 1 \(training: 0.0001\)"):
        predict(tmp_path / "bare2.tif", model, tmp_path / "b.tif", scene_options=named(2021))

    dates = SceneOptions(dates=["2020-06-01", "2020-07-01"])
    model = train([scaled, scaled], training_path, "class", options, scene_options=dates).model
    assert [r["scale"] for r in model.radiometry] == [1e-4] * 6  # the files', not float32's
    with pytest.warns(RadiometryWarning, match=r"@2020-07-01: scale 1 \(training: 0.0001\)"):
        predict([scaled, bare], model, tmp_path / "c.tif", scene_options=dates)
