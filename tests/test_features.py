"""Derived features: band roles, spectral indices, texture, and the recipe a model keeps."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
from scipy import ndimage
from skimage.feature import graycomatrix, graycoprops

import rasterclass as rc
from conftest import read_band, run_cli, synthetic_arrays, write_raster
from rasterclass.errors import BandMismatchError, RadiometryWarning
from rasterclass.features import (
    FEATURES_ATTR,
    INDICES,
    FeatureRecipe,
    add_features,
    band_roles,
    spectral_index,
    texture,
)

ROLES6 = ("blue", "green", "red", "nir", "swir1", "swir2")
DATA = Path(__file__).resolve().parents[1] / "sample_data"

#: Preset band names of each sensor, role -> name, as a product names them.
PRESET_SCENES = {
    "landsat-tm": {
        "blue": "SR_B1",
        "green": "SR_B2",
        "red": "SR_B3",
        "nir": "SR_B4",
        "swir1": "SR_B5",
        "swir2": "SR_B7",
    },
    "landsat-etm": {
        "blue": "B1",
        "green": "B2",
        "red": "B3",
        "nir": "B4",
        "swir1": "B5",
        "swir2": "B7",
    },
    "landsat-oli": {
        "blue": "SR_B2",
        "green": "SR_B3",
        "red": "SR_B4",
        "nir": "SR_B5",
        "swir1": "SR_B6",
        "swir2": "SR_B7",
    },
    "sentinel-2": {
        "blue": "B02",
        "green": "B03",
        "red": "B04",
        "rededge1": "B05",
        "nir": "B08",
        "swir1": "B11",
        "swir2": "B12",
    },
}


def hand(name: str, r: dict[str, np.ndarray]) -> np.ndarray:
    """The index formulas, written out again (float64), NaN where the denominator is 0."""
    b, g, red, nir = r.get("blue"), r.get("green"), r.get("red"), r.get("nir")
    s1, s2, re1 = r.get("swir1"), r.get("swir2"), r.get("rededge1")
    terms = {
        "ndvi": lambda: (nir - red, nir + red),
        "ndwi": lambda: (g - nir, g + nir),
        "mndwi": lambda: (g - s1, g + s1),
        "ndbi": lambda: (s1 - nir, s1 + nir),
        "savi": lambda: (1.5 * (nir - red), nir + red + 0.5),
        "evi": lambda: (2.5 * (nir - red), nir + 6 * red - 7.5 * b + 1),
        "nbr": lambda: (nir - s2, nir + s2),
        "ndre": lambda: (nir - re1, nir + re1),
        "ndmi": lambda: (nir - s1, nir + s1),
        "gndvi": lambda: (nir - g, nir + g),
    }
    num, den = terms[name]()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / den, np.nan).astype(np.float32)


def preset_scene(names: dict[str, str], seed: int = 0) -> tuple[xr.DataArray, dict]:
    rng = np.random.default_rng(seed)
    values = {role: rng.uniform(0.01, 0.6, (4, 5)) for role in names}
    values["nir"][0, 0] = np.nan  # nodata in an input
    values["red"][0, 1] = values["nir"][0, 1] = 0.0  # a zero denominator
    order = sorted(names, key=lambda r: names[r])[::-1]  # not in wavelength order
    data = np.stack([values[r] for r in order]).astype(np.float32)
    scene = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": [names[r] for r in order]})
    return scene, {r: v.astype(np.float32).astype(np.float64) for r, v in values.items()}


@pytest.mark.parametrize("sensor", sorted(PRESET_SCENES))
def test_indices_equal_the_formulas_for_each_sensor_preset(sensor):
    names = PRESET_SCENES[sensor]
    scene, values = preset_scene(names)
    indices = [i for i, s in INDICES.items() if set(s.roles) <= set(names)]
    assert ("ndre" in indices) == (sensor == "sentinel-2")
    out = add_features(scene, FeatureRecipe(indices=indices, bands=sensor))
    assert [str(b) for b in out["band"].values[-len(indices) :]] == indices
    for name in indices:
        got = out.sel(band=name).values
        np.testing.assert_allclose(got, hand(name, values), rtol=1e-6, atol=1e-7)
        assert np.isnan(got[0, 0]) == ("nir" in INDICES[name].roles)  # nir is nodata there
    assert np.isnan(out.sel(band="ndvi").values[0, 1])  # 0 / 0
    recorded = json.loads(out.attrs[FEATURES_ATTR])["roles"]
    assert {r: recorded[r] for r in names} == names


def test_roles_from_names_given_and_positions():
    assert band_roles(list(ROLES6)) == {r: r for r in ROLES6}
    assert band_roles(["B02", "B03", "B04", "B08", "B8A", "B11"])["nir08"] == "B8A"
    positions = [f"band_{i}" for i in range(1, 8)]
    assert band_roles(positions, "landsat-oli")["red"] == "band_4"
    assert band_roles(positions, "landsat-tm")["swir2"] == "band_6"  # TM stack: 1-5, 7
    assert band_roles(["B4", "B5"], "landsat-8,nir=B4") == {"red": "B4", "nir": "B4"}
    with pytest.raises(BandMismatchError, match="unknown sensor preset"):
        band_roles(["B4"], "landsat-12")
    with pytest.raises(BandMismatchError, match="no such band"):
        band_roles(["B4"], "red=B3")


def test_missing_role_names_the_role_the_bands_and_the_option():
    scene, _ = preset_scene({"red": "a", "nir": "b"})
    with pytest.raises(BandMismatchError) as info:
        add_features(scene, FeatureRecipe(indices=("ndvi",)))
    message = str(info.value)
    assert "nir, red" in message and "['b', 'a']" in message and "bands=" in message
    out = add_features(scene, FeatureRecipe(indices=("ndvi",), bands="red=a,nir=b"))
    assert out.sizes["band"] == 3
    with pytest.raises(BandMismatchError, match="unknown spectral index"):
        add_features(scene, FeatureRecipe(indices=("ndxx",)))


def test_savi_and_evi_follow_the_reflectance_scale():
    scene, values = preset_scene({r: r for r in ROLES6})
    scaled = scene * 10000
    scaled.attrs = scene.attrs
    out = add_features(scaled, FeatureRecipe(indices=("evi", "savi"), reflectance_scale=1e-4))
    for name in ("evi", "savi"):
        np.testing.assert_allclose(out.sel(band=name).values, hand(name, values), rtol=1e-5)


def test_one_band_for_two_roles_of_an_index_is_refused(tmp_path):
    scene, _ = preset_scene({r: r for r in ROLES6})
    for layers in (scene, scene.chunk({"x": 2})):
        with pytest.raises(BandMismatchError, match=r"nir and red from the same band.*bands"):
            add_features(layers, FeatureRecipe(indices=("ndvi",), bands="red=nir"))
        with pytest.raises(BandMismatchError, match="same band"):
            spectral_index("nbr", {"nir": layers[3], "swir2": layers[3]})
    res = run_cli(
        "change", DATA / "scene.tif", DATA / "scene_t2.tif", "-o", tmp_path / "c.tif",
        "--dates", "2024-06-12,2024-07-03", "--bands", "red=nir", ok=False,
    )  # fmt: skip
    assert res.exit_code != 0 and "--bands" in res.output
    assert not (tmp_path / "c.tif").exists()


@pytest.mark.parametrize("index", ["savi", "evi"])
def test_savi_and_evi_on_unscaled_integers_warn_and_name_the_scale(tmp_path, index):
    digital = (np.arange(6 * 4 * 5).reshape(6, 4, 5) * 37 % 3000 + 500).astype("uint16")
    path = write_raster(tmp_path / "dn.tif", digital, nodata=0, descriptions=list(ROLES6))
    scene = rc.open_scene(path)
    with pytest.warns(RadiometryWarning, match="reflectance_scale=1e-4"):
        add_features(scene, FeatureRecipe(indices=(index,)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RadiometryWarning)
        add_features(scene, FeatureRecipe(indices=(index, "ndvi"), reflectance_scale=1e-4))
        add_features(scene, FeatureRecipe(indices=("ndvi", "nbr")))  # scale-free
        plain = scene / 10000
        plain.attrs = {}  # reflectance with no record of how it was stored
        add_features(plain, FeatureRecipe(indices=(index,)))


# ------------------------------------------------------------------------------------------
# Texture
# ------------------------------------------------------------------------------------------
ALL_MEASURES = ["mean", "variance", "glcm_contrast", "glcm_homogeneity", "glcm_dissimilarity"]


@pytest.fixture
def layer() -> xr.DataArray:
    values = np.random.default_rng(1).random((23, 31))
    values[3, 4] = np.nan
    values[10:12, :3] = np.nan
    return xr.DataArray(values, dims=("y", "x"))


def test_texture_is_identical_for_any_chunking(layer):
    ref = texture(layer, ALL_MEASURES, 5, levels=8).values
    for chunks in ({"y": 5, "x": 7}, {"y": 10, "x": 31}, {"y": 23, "x": 4}):
        out = texture(layer.chunk(chunks), ALL_MEASURES, 5, levels=8)
        assert isinstance(out.data, da.Array)
        np.testing.assert_array_equal(out.values, ref)


@pytest.mark.parametrize("window", [23, 47, 65])
def test_texture_window_wider_than_the_scene_is_the_same_chunked(layer, window):
    small = layer.isel(y=slice(0, 9), x=slice(0, 12))  # window // 2 >= the 9 rows
    ref = texture(small, ALL_MEASURES, window, levels=8).values
    for chunks in ({"y": 4, "x": 5}, {"y": 9, "x": 12}, {"y": 2, "x": 7}):
        out = texture(small.chunk(chunks), ALL_MEASURES, window, levels=8)
        assert isinstance(out.data, da.Array)
        np.testing.assert_array_equal(out.values, ref)


def test_texture_equals_scipy_and_scikit_image(layer):
    a = layer.values
    out = texture(layer, ALL_MEASURES, 5, levels=8)
    for measure, func in (("mean", np.nanmean), ("variance", np.nanvar)):
        want = ndimage.generic_filter(a, func, size=5, mode="constant", cval=np.nan)
        want[np.isnan(a)] = np.nan
        np.testing.assert_allclose(out.sel(band=measure).values, want, rtol=1e-5, atol=1e-7)
    q = np.minimum(np.floor(a * 8), 7)
    angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    for i, j in [(15, 15), (5, 20), (20, 29), (0, 30)]:  # the last two at the scene's edge
        window = q[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3].astype(np.uint8)
        glcm = graycomatrix(window, [1], angles, levels=8, symmetric=True, normed=True)
        for prop in ("contrast", "homogeneity", "dissimilarity"):
            want = graycoprops(glcm, prop).mean()
            assert out.sel(band=f"glcm_{prop}").values[i, j] == pytest.approx(want, rel=1e-6)


def test_texture_checks_its_settings(layer):
    with pytest.raises(BandMismatchError, match="odd"):
        texture(layer, ["mean"], 4)
    with pytest.raises(BandMismatchError, match="unknown texture measure"):
        texture(layer, ["entropy"], 3)


def test_features_are_lazy(forbid_compute):
    scene, _ = preset_scene({r: r for r in ROLES6})
    lazy = scene.chunk({"y": 2, "x": 3})
    recipe = FeatureRecipe(indices=("ndvi", "nbr"), texture=("variance", "glcm_contrast"))
    with forbid_compute():
        out = add_features(lazy, recipe)
    assert isinstance(out.data, da.Array) and len(out.chunks[0]) == 1
    np.testing.assert_array_equal(out.values, add_features(scene, recipe).values)


# ------------------------------------------------------------------------------------------
# The recipe in a model
# ------------------------------------------------------------------------------------------
SPECTRA = np.array(  # blue, green, red, nir, swir1, swir2 per class (water, forest, urban)
    [
        [0.06, 0.08, 0.05, 0.02, 0.01, 0.01],
        [0.03, 0.06, 0.03, 0.40, 0.18, 0.08],
        [0.12, 0.14, 0.16, 0.22, 0.28, 0.24],
    ]
)


def six_band_scene() -> np.ndarray:
    _, truth = synthetic_arrays()
    rng = np.random.default_rng(3)
    data = SPECTRA[np.maximum(truth, 1) - 1].transpose(2, 0, 1)
    data = data + rng.normal(0, 0.02, data.shape)
    data[:, truth == 0] = np.nan
    return data.astype(np.float32)


def test_a_model_recomputes_its_features_on_another_scene(tmp_path, training_path):
    data = six_band_scene()
    scene_a = write_raster(tmp_path / "a.tif", data, nodata=np.nan, descriptions=list(ROLES6))
    oli = ["SR_B7", "SR_B6", "SR_B5", "SR_B4", "SR_B3", "SR_B2"]  # swir2..blue, OLI names
    scene_b = write_raster(tmp_path / "b.tif", data[::-1].copy(), nodata=np.nan, descriptions=oli)
    recipe = FeatureRecipe(indices=("ndvi", "ndbi", "mndwi"), texture=("mean",), texture_window=3)
    opts = rc.TrainingOptions(params={"n_estimators": 5}, cv_folds=0)
    model_path = tmp_path / "model.skops"
    rc.train(
        scene_a,
        training_path,
        "code",
        opts,
        scene_options=rc.SceneOptions(features=recipe),
        model_output=model_path,
    )
    model = rc.RasterModel.load(model_path)
    assert model.features["indices"] == ["ndvi", "ndbi", "mndwi"]
    assert model.band_names[-4:] == ["ndvi", "ndbi", "mndwi", "nir_mean_3x3"]
    rc.predict(scene_a, model_path, tmp_path / "map_a.tif")
    rc.predict(
        scene_b,
        model_path,
        tmp_path / "map_b.tif",
        scene_options=rc.SceneOptions(features=FeatureRecipe(bands="landsat-oli")),
    )
    map_a, map_b = read_band(tmp_path / "map_a.tif"), read_band(tmp_path / "map_b.tif")
    np.testing.assert_array_equal(map_a, map_b)
    # by hand: the raw bands, the formulas and the window mean, through the estimator
    r = {role: data[i].astype(np.float64) for i, role in enumerate(ROLES6)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of an all-nodata window
        mean = ndimage.generic_filter(r["nir"], np.nanmean, size=3, mode="constant", cval=np.nan)
    columns = [*data, hand("ndvi", r), hand("ndbi", r), hand("mndwi", r), mean]
    X = np.stack(columns).reshape(len(columns), -1).T
    valid = np.isfinite(X).all(axis=1)
    want = np.zeros(X.shape[0], dtype=map_a.dtype)
    want[valid] = model.estimator.predict(X[valid].astype(np.float32))
    assert (want.reshape(map_a.shape) == map_a).mean() > 0.999  # float32 window sums aside
    assert map_a[0, 0] == 0 and (map_a > 0).mean() > 0.9


def test_models_without_features_load_as_before(tmp_path):
    X, y = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([1, 2])
    model = rc.RasterModel(
        rc.MinimumDistanceClassifier().fit(X, y),
        ["red", "nir"],
        rc.ClassMap.from_codes([1, 2], ["a", "b"]),
    )
    loaded = rc.RasterModel.load(model.save(tmp_path / "m.skops"))
    assert loaded.features is None
    scene = xr.DataArray(
        np.zeros((2, 1, 2), "f4"), dims=("band", "y", "x"), coords={"band": ["red", "nir"]}
    )
    assert rc.predict_raster(scene, loaded)["classes"].values.tolist() == [[1, 1]]


def test_cli_train_and_predict_with_indices(tmp_path):
    model, out = tmp_path / "model.skops", tmp_path / "map.tif"
    run_cli(
        "train", "sample_data/scene.tif", "-t", "sample_data/training.gpkg", "-c", "class",
        "-o", model, "--indices", "ndvi,ndbi,savi", "--reflectance-scale", "1e-4",
        "--cv", "0", "-p", "n_estimators=3", "--max-samples-per-class", "50",
    )  # fmt: skip
    assert rc.RasterModel.load(model).band_names[-3:] == ["ndvi", "ndbi", "savi"]
    run_cli("predict", "sample_data/scene.tif", "--model", model, "-o", out)
    with rasterio.open(out) as src:
        classes = src.read(1)
    assert set(np.unique(classes)) <= {0, *range(1, 8)} and (classes > 0).mean() > 0.9
    bad = run_cli(
        "train", "sample_data/scene.tif", "-t", "sample_data/training.gpkg", "-c", "class",
        "-o", tmp_path / "m2.skops", "--indices", "ndre", ok=False,
    )  # fmt: skip
    assert bad.exit_code != 0 and "--bands rededge1=BAND" in bad.output


def test_segment_features_take_the_texture_and_index_bands():
    scene, _ = preset_scene({r: r for r in ROLES6})
    derived = add_features(
        scene, FeatureRecipe(indices=("ndvi",), texture=("variance",), texture_window=3)
    )
    segments = xr.DataArray(np.array([[1, 1, 2, 2, 2]] * 4), dims=("y", "x"))
    table = rc.segment_features(derived, segments)
    assert not table.columns.duplicated().any()
    valid = np.isfinite(derived.values).all(axis=0)  # pixels with nodata in a band: no segment
    variance = derived.sel(band="nir_variance_3x3").values
    want = [variance[(segments.values == k) & valid].mean() for k in (1, 2)]
    np.testing.assert_allclose(table["nir_variance_3x3_mean"].to_numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(
        table["ndvi_mean"].to_numpy(),
        [derived.sel(band="ndvi").values[(segments.values == k) & valid].mean() for k in (1, 2)],
        rtol=1e-5,
    )
