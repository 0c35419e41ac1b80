"""Derived features on multi-date stacks: indices per date (``ndvi@<date>``) and differences
between dates (``dndvi``), from the library and the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import rasterclass as rc
from rasterclass.errors import BandMismatchError
from rasterclass.features import FeatureRecipe, add_features
from tests.conftest import read_band, run_cli, synthetic_arrays, write_raster

BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
DATES = ("2024-06-12", "2024-07-03")
COMMON = ("-c", "class", "-p", "n_estimators=10", "--cv", "0")


def six_bands(seed: int, shape: tuple[int, int] = (9, 11)) -> np.ndarray:
    """A (6, y, x) float32 reflectance scene, one NaN pixel."""
    data = np.random.default_rng(seed).uniform(0.01, 0.6, (6, *shape)).astype("f4")
    data[:, 0, 0] = np.nan
    return data


def stack(arrays: list[np.ndarray], chunks: int | None = None) -> xr.DataArray:
    names = [f"{b}@{d}" for d in DATES for b in BANDS]
    scene = xr.DataArray(np.concatenate(arrays), dims=("band", "y", "x"), coords={"band": names})
    return scene.chunk({"band": -1, "y": chunks, "x": chunks}) if chunks else scene


def ndvi(data: np.ndarray) -> np.ndarray:
    red, nir = data[2].astype("f4"), data[3].astype("f4")
    return (nir - red) / (nir + red)


def test_indices_per_date_and_difference_match_the_formula():
    first, second = six_bands(1), six_bands(2)
    recipe = FeatureRecipe(indices=("ndvi", "ndwi"), differences=("NDVI",))
    out = add_features(stack([first, second]), recipe)
    names = [str(b) for b in out.band.values]
    assert names[12:] == [f"{i}@{d}" for d in DATES for i in ("ndvi", "ndwi")] + ["dndvi"]
    for date, data in zip(DATES, (first, second), strict=True):
        np.testing.assert_allclose(out.sel(band=f"ndvi@{date}"), ndvi(data), rtol=1e-6)
        green, nir = data[1], data[3]
        np.testing.assert_allclose(
            out.sel(band=f"ndwi@{date}"), (green - nir) / (green + nir), rtol=1e-6
        )
    dndvi = out.sel(band="dndvi").values
    np.testing.assert_array_equal(
        dndvi, out.sel(band=f"ndvi@{DATES[1]}").values - out.sel(band=f"ndvi@{DATES[0]}").values
    )
    assert np.isnan(dndvi[0, 0])
    recorded = rc.features.scene_features(out)
    assert recorded is not None and recorded["differences"] == ["ndvi"]
    assert recorded["roles"]["nir"] == "nir"


def test_roles_given_apply_within_each_date():
    arrays = [six_bands(3), six_bands(4)]
    renamed = [f"{b}@{d}" for d in DATES for b in ("B2", "B3", "x4", "x8", "B11", "B12")]
    scene = stack(arrays).assign_coords(band=renamed)
    out = add_features(scene, FeatureRecipe(indices=("ndvi",), bands="red=x4,nir=x8"))
    np.testing.assert_allclose(out.sel(band=f"ndvi@{DATES[1]}"), ndvi(arrays[1]), rtol=1e-6)


def test_chunk_invariance_and_lazy():
    arrays = [six_bands(5, (13, 17)), six_bands(6, (13, 17))]
    recipe = FeatureRecipe(
        indices=("ndvi",), texture=("mean",), texture_window=3, differences=("ndvi", "nir")
    )
    ref = add_features(stack(arrays), recipe).values
    for chunks in (4, 5):
        lazy = add_features(stack(arrays, chunks), recipe)
        assert lazy.chunks is not None
        np.testing.assert_array_equal(lazy.values, ref)


def test_differences_need_two_dates():
    plain = xr.DataArray(six_bands(7), dims=("band", "y", "x"), coords={"band": list(BANDS)})
    with pytest.raises(BandMismatchError, match="dates"):
        add_features(plain, FeatureRecipe(indices=("ndvi",), differences=("ndvi",)))
    with pytest.raises(BandMismatchError, match="ndbi"):
        add_features(stack([six_bands(1), six_bands(2)]), FeatureRecipe(differences=("ndbi",)))


def test_single_date_unchanged():
    data = six_bands(8)
    plain = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": list(BANDS)})
    out = add_features(plain, FeatureRecipe(indices=("ndvi",)))
    assert [str(b) for b in out.band.values] == [*BANDS, "ndvi"]
    np.testing.assert_allclose(out.sel(band="ndvi"), ndvi(data), rtol=1e-6)


def two_date_files(tmp_path: Path) -> list[Path]:
    """Two 6-band scenes of the synthetic classes; the second greener on the left third."""
    three, _ = synthetic_arrays()
    nir = three[1] * 2 + 0.1
    first = np.concatenate([three, nir[None], three[2:] * 0.8, three[2:] * 0.5]).astype("f4")
    second = first.copy()
    second[3, :, : first.shape[2] // 3] += 0.1
    paths = []
    for i, data in enumerate((first, second)):
        path = tmp_path / f"scene_{i}.tif"
        write_raster(path, data, nodata=float("nan"), descriptions=list(BANDS))
        paths.append(path)
    return paths


def test_classify_with_difference_then_predict_same_map(tmp_path, training_path):
    scenes = two_date_files(tmp_path)
    model = tmp_path / "model.skops"
    dates = ["--date", DATES[0], "--date", DATES[1]]
    run_cli(
        "classify", *scenes, *dates, "-t", training_path, *COMMON, "--indices", "ndvi",
        "--difference", "ndvi", "-o", tmp_path / "map.tif", "--save-model", model,
    )  # fmt: skip
    loaded = rc.RasterModel.load(model)
    assert loaded.band_names[-3:] == [f"ndvi@{DATES[0]}", f"ndvi@{DATES[1]}", "dndvi"]
    assert loaded.features is not None and loaded.features["differences"] == ["ndvi"]
    first = read_band(tmp_path / "map.tif")
    run_cli("predict", *scenes, *dates, "--model", model, "-o", tmp_path / "again.tif")
    np.testing.assert_array_equal(read_band(tmp_path / "again.tif"), first)
    # other dates: the derived bands are matched by position in time too
    run_cli(
        "predict", *scenes, "--date", "2025-06-01,2025-07-01",
        "--model", model, "-o", tmp_path / "later.tif",
    )  # fmt: skip
    np.testing.assert_array_equal(read_band(tmp_path / "later.tif"), first)
