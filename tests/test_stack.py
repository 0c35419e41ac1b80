"""Grids, the choice of one grid for all inputs, band names, band matching, valid mask."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from affine import Affine
from rasterio.crs import CRS as RioCRS
from shapely.geometry import box

from rasterclass.errors import BandMismatchError, CRSError, GridMismatchError
from rasterclass.io import scene_grid
from rasterclass.stack import (
    Grid,
    band_names_from_files,
    check_crs,
    choose_grid,
    is_positional,
    legacy_positional_names,
    match_bands,
    positional_name,
    rasterize_shapes,
    resolve_band_names,
    valid_mask,
)
from tests.conftest import CRS, TRANSFORM

UTM = RioCRS.from_string(CRS)


def grid(res: float = 30.0, width: int = 10, height: int = 8, x0=500000.0, y0=5000000.0, crs=UTM):
    return Grid(crs, Affine(res, 0.0, x0, 0.0, -res, y0), width, height)


# --- Grid ------------------------------------------------------------------------------------
def test_grid_properties():
    g = grid(width=10, height=8)
    assert g.res == (30.0, 30.0)
    assert g.bounds == (500000.0, 5000000.0 - 240.0, 500300.0, 5000000.0)
    assert g.pixel_area == 900.0
    y, x = g.coords()
    np.testing.assert_array_equal(x, 500015.0 + 30.0 * np.arange(10))
    np.testing.assert_array_equal(y, 4999985.0 - 30.0 * np.arange(8))
    assert g.describe() == (
        "10x8 px, pixel 30x30, EPSG:32633, bounds 500000.0, 4999760.0, 500300.0, 5000000.0"
    )


def test_grid_bounds_of_a_south_up_grid_and_rectangular_pixels():
    g = Grid(UTM, Affine(10.0, 0.0, 0.0, 0.0, 20.0, 100.0), 3, 2)
    assert g.bounds == (0.0, 100.0, 30.0, 140.0)
    assert g.res == (10.0, 20.0)
    assert g.pixel_area == 200.0


def test_same_as_tolerates_rounding_only():
    g = grid()
    assert g.same_as(grid(x0=500000.0 + 1e-7))
    assert not g.same_as(grid(x0=500000.0 + 1.0))
    assert not g.same_as(grid(width=11))
    assert not g.same_as(grid(crs=RioCRS.from_epsg(32634)))
    assert not g.same_as(grid(res=10.0))


def test_scene_grid_reads_crs_transform_and_size(scene_path):
    from rasterclass import open_scene

    g = scene_grid(open_scene(scene_path))
    assert g == Grid(UTM, TRANSFORM, 75, 61)


# --- choose_grid -----------------------------------------------------------------------------
def test_identical_grids_need_nothing():
    a, b = grid(), grid()
    assert choose_grid([a, b], ["a", "b"], None) is a


def test_same_extent_different_resolutions_go_to_the_finest():
    coarse = grid(res=60.0, width=5, height=4)
    fine = grid(res=10.0, width=30, height=24)
    mid = grid(res=20.0, width=15, height=12)
    assert choose_grid([coarse, fine, mid], ["c", "f", "m"], None) is fine


def test_reference_index_wins():
    a, b = grid(), grid(x0=0.0)
    assert choose_grid([a, b], ["a", "b"], 1) is b


def test_other_extent_or_crs_needs_a_reference():
    a = grid()
    with pytest.raises(GridMismatchError, match="different grids") as err:
        choose_grid([a, grid(x0=600000.0)], ["one.tif", "two.tif"], None)
    assert "one.tif: 10x8 px" in str(err.value) and "two.tif: 10x8 px" in str(err.value)
    with pytest.raises(GridMismatchError, match="reference"):
        choose_grid([a, grid(crs=RioCRS.from_epsg(32634))], ["a", "b"], None)


def test_check_crs():
    assert check_crs(UTM, "x") is UTM
    with pytest.raises(CRSError, match="the scene has no coordinate reference system"):
        check_crs(None, "the scene")


# --- band names ------------------------------------------------------------------------------
def test_positional_names():
    assert positional_name(3) == "band_3"
    assert is_positional(["band_1", "band_12"])
    assert not is_positional(["band_1", "B2"])
    assert not is_positional([])


def test_band_names_from_files():
    landsat = [f"/d/LT05_L1TP_224063_B{i}.TIF" for i in (1, 2, 3)]
    assert band_names_from_files(landsat, [1, 1, 1]) == ["B1", "B2", "B3"]
    # a multiband file's bands are named by their position in the stacked scene
    assert band_names_from_files(["/d/s2_2023.tif", "/d/dem.tif"], [3, 1]) == [
        "band_1",
        "band_2",
        "band_3",
        "dem",
    ]
    assert band_names_from_files(["/d/one.tif"], [1]) == ["one"]


def test_resolve_band_names_priority_and_checks():
    files = ["band_1", "band_2"]
    assert resolve_band_names(["red", "nir"], files, ["r", "n"]) == ["r", "n"]
    assert resolve_band_names(["red", "nir"], files, None) == ["red", "nir"]
    # descriptions only when every band has one and they are unique
    assert resolve_band_names(["red", None], files, None) == files
    assert resolve_band_names(["red", "red"], files, None) == files
    with pytest.raises(BandMismatchError, match="3 band names given for a scene of 2 bands"):
        resolve_band_names([None, None], files, ["a", "b", "c"])
    with pytest.raises(BandMismatchError, match=r"duplicates \['a'\]"):
        resolve_band_names([None, None], files, ["a", "a"])


def test_legacy_positional_names():
    names = ["scene_2023_1", "scene_2023_2", "scene_2023_3", "dem"]
    assert legacy_positional_names(names) == ["band_1", "band_2", "band_3", "dem"]
    assert legacy_positional_names(["dem", "x_1", "x_2"]) == ["dem", "band_2", "band_3"]
    assert legacy_positional_names(["x_1", "y_2"]) is None  # a run needs one prefix
    assert legacy_positional_names(["B1", "B2"]) is None


# --- match_bands -----------------------------------------------------------------------------
def scene_of(names, lazy=False):
    data = np.arange(len(names) * 6, dtype=np.float32).reshape(len(names), 2, 3)
    if lazy:
        data = da.from_array(data, chunks=(len(names), 1, 3))
    return xr.DataArray(data, dims=("band", "y", "x"), coords={"band": list(names)})


def test_match_bands_same_order_is_the_scene_itself():
    scene = scene_of(["B1", "B2"])
    assert match_bands(scene, ["B1", "B2"]) is scene


def test_match_bands_reorders_by_name_and_by_alias():
    scene = scene_of(["B2", "B3", "B1"])
    out = match_bands(scene, ["B1", "B2", "B3"])
    assert list(out.band.values) == ["B1", "B2", "B3"]
    np.testing.assert_array_equal(out.values[0], scene.values[2])
    old = match_bands(scene, ["x_1", "x_2", "x_3"], aliases=["B3", "B1", "B2"])
    assert list(old.band.values) == ["B3", "B1", "B2"]


@pytest.mark.parametrize(
    ("have", "want", "match"),
    [
        (["band_1", "band_2"], ["band_1", "band_2", "band_3"], "both are bands without names"),
        (["red", "nir"], ["band_1", "band_2"], "bands without names .* band_1,band_2"),
        (["band_1", "band_2"], ["red", "nir"], "scene's 2 bands have no names .* red,nir"),
        (["B1", "B9"], ["B1", "B2"], r"missing \['B2'\], unexpected \['B9'\]"),
    ],
)
def test_match_bands_errors_say_which_case(have, want, match):
    with pytest.raises(BandMismatchError, match=match):
        match_bands(scene_of(have), want)


def test_long_band_lists_are_shortened_in_messages():
    want = [f"B{i}" for i in range(1, 13)]
    with pytest.raises(BandMismatchError, match=r"\[B1, B2, B3, \.\.\. 8 more \.\.\., B12\]"):
        match_bands(scene_of(["x", "y"]), want)


# --- valid_mask and rasterize ----------------------------------------------------------------
def test_valid_mask_needs_every_band_and_stays_lazy():
    scene = scene_of(["a", "b", "c"], lazy=True)
    data = scene.data.copy()
    data[0, 0, 0] = np.nan
    data[2, 1, 2] = np.nan
    mask = valid_mask(scene.copy(data=data))
    assert isinstance(mask.data, da.Array)
    np.testing.assert_array_equal(mask.values, [[False, True, True], [True, True, False]])


def test_rasterize_shapes_centres_and_all_touched():
    t = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 4.0)
    shape = box(0.6, 1.6, 2.4, 3.4)  # covers the centre of pixel (row 1, col 1) only
    centres = rasterize_shapes([(shape, 7)], (4, 4), t)
    assert centres.dtype == np.uint8
    assert np.argwhere(centres).tolist() == [[1, 1]] and centres[1, 1] == 7
    touched = rasterize_shapes([(shape, 7)], (4, 4), t, all_touched=True, dtype="uint16")
    assert touched.dtype == np.uint16
    assert np.argwhere(touched).tolist() == [[r, c] for r in range(3) for c in range(3)]
