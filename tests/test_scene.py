"""open_scene: stacking, band names, nodata, grid alignment, laziness."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import rasterio
from affine import Affine

from rasterclass import open_scene
from rasterclass.errors import (
    BandMismatchError,
    CRSError,
    GridMismatchError,
    RasterclassIOError,
)
from rasterclass.stack import band_names_from_files
from tests.conftest import TRANSFORM, synthetic_arrays, write_raster


def test_multiband_scene_is_lazy_float_with_nan_nodata(scene_path, forbid_compute):
    with forbid_compute():
        scene = open_scene(scene_path, chunks=16)
    assert isinstance(scene.data, da.Array)
    assert scene.dims == ("band", "y", "x")
    assert list(scene.band.values) == ["blue", "green", "red"]
    assert scene.chunks[0] == (3,)
    assert scene.chunks[1][0] == 16
    assert scene.rio.crs.to_epsg() == 32633
    assert scene.rio.transform() == TRANSFORM
    expected, _ = synthetic_arrays()
    np.testing.assert_array_equal(scene.values, expected)


def test_declared_integer_nodata_becomes_nan(tmp_path):
    data = np.arange(2 * 5 * 6, dtype=np.uint16).reshape(2, 5, 6) + 1
    data[0, 1, 1] = 9999
    data[1, 2, 3] = 9999
    write_raster(tmp_path / "u16.tif", data, nodata=9999)
    scene = open_scene(tmp_path / "u16.tif").compute()
    assert scene.dtype == np.float32
    assert np.isnan(scene.values[0, 1, 1]) and np.isnan(scene.values[1, 2, 3])
    assert np.isfinite(scene.values).sum() == data.size - 2
    assert scene.values[0, 0, 0] == 1


def test_single_band_files_stack_in_given_order_with_names(tmp_path):
    scene, _ = synthetic_arrays()
    paths = []
    for i, name in enumerate(["B4", "B2", "B3"]):
        paths.append(write_raster(tmp_path / f"LC08_X_{name}.tif", scene[i], nodata=float("nan")))
    stacked = open_scene(paths, chunks=20)
    assert list(stacked.band.values) == ["B4", "B2", "B3"]
    np.testing.assert_array_equal(stacked.values, scene)
    renamed = open_scene(paths, band_names=["red", "blue", "green"])
    assert list(renamed.band.values) == ["red", "blue", "green"]


def test_band_names_from_landsat_file_names():
    paths = [f"/d/LT52240631988227CUB02_B{i}.TIF" for i in range(1, 4)]
    assert band_names_from_files(paths, [1, 1, 1]) == ["B1", "B2", "B3"]


def test_wrong_number_of_band_names(scene_path):
    with pytest.raises(BandMismatchError, match="3 bands"):
        open_scene(scene_path, band_names=["a", "b"])


def test_same_extent_different_resolution_goes_to_finest_grid(tmp_path):
    fine = np.arange(40 * 40, dtype=np.float32).reshape(40, 40)
    coarse = np.arange(20 * 20, dtype=np.float32).reshape(20, 20)
    write_raster(tmp_path / "fine.tif", fine)
    t2 = Affine(60.0, 0, TRANSFORM.c, 0, -60.0, TRANSFORM.f)
    write_raster(tmp_path / "coarse.tif", coarse, transform=t2)
    scene = open_scene([tmp_path / "fine.tif", tmp_path / "coarse.tif"])
    assert scene.shape == (2, 40, 40)
    values = scene.values
    np.testing.assert_array_equal(values[0], fine)
    # nearest resampling: every coarse pixel covers 2x2 fine pixels
    np.testing.assert_array_equal(values[1], np.kron(coarse, np.ones((2, 2), np.float32)))


def test_incompatible_grids_need_a_reference(tmp_path):
    a = write_raster(tmp_path / "a.tif", np.ones((10, 10), np.float32))
    shifted = Affine(30.0, 0, TRANSFORM.c + 45, 0, -30.0, TRANSFORM.f - 100)
    b = write_raster(tmp_path / "b.tif", np.full((12, 9), 2, np.float32), transform=shifted)
    with pytest.raises(GridMismatchError, match="reference=FILE"):
        open_scene([a, b])
    scene = open_scene([a, b], reference=a, resampling="nearest")
    assert scene.shape == (2, 10, 10)
    values = scene.values
    # where b has no coverage its band is nodata
    assert np.isnan(values[1, 0, 0])
    assert np.nanmax(values[1]) == 2


def test_scene_without_crs_is_refused_with_the_fix(tmp_path):
    path = write_raster(tmp_path / "nocrs.tif", np.ones((4, 4), np.float32), crs=None)
    with pytest.raises(CRSError, match=r"no coordinate reference system.*a_srs"):
        open_scene(path)
    assert open_scene(path, crs="EPSG:32633").rio.crs.to_epsg() == 32633


def test_corrupt_raster_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00 this is not a tiff")
    with pytest.raises(RasterclassIOError, match="corrupt"):
        open_scene(bad)
    with pytest.raises(RasterclassIOError, match="does not exist"):
        open_scene(tmp_path / "missing.tif")


def test_truncated_raster_fails_when_pixels_are_read(tmp_path):
    data = np.random.default_rng(0).random((3, 300, 300)).astype(np.float32)
    path = tmp_path / "trunc.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        count=3,
        height=300,
        width=300,
        dtype="float32",
        crs="EPSG:32633",
        transform=TRANSFORM,
        tiled=True,
        blockxsize=64,
        blockysize=64,
    ) as dst:
        dst.write(data)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    scene = open_scene(path)
    with pytest.raises(RasterclassIOError, match="corrupt or truncated"):
        scene.compute()


def test_a_scene_without_bands_is_a_clear_error():
    import xarray as xr

    from rasterclass import as_scene
    from rasterclass.errors import SceneError

    empty = xr.DataArray(np.zeros((0, 3, 3), "f4"), dims=("band", "y", "x"))
    with pytest.raises(SceneError, match="no bands; select at least one"):
        as_scene(empty)
