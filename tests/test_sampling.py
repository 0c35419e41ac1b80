"""extract_samples on small rasters: which pixels, their values, groups, nodata, CRS, caps;
sample_pixels with replacement (without: tests/test_unsupervised.py)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import MultiPolygon, Point

from rasterclass import extract_samples, open_scene
from rasterclass.errors import (
    CRSError,
    EstimatorError,
    TrainingClassesError,
    TrainingDataError,
    TrainingDataWarning,
)
from rasterclass.sampling import sample_pixels
from tests.conftest import CRS, TRANSFORM, pixel_box, write_raster

H, W = 8, 10


def values_at(row: int, col: int) -> list[float]:
    """The value of every band at a pixel of the small scene: 1000 * band + 10 * row + col."""
    return [1000.0 * b + 10 * row + col for b in (1, 2, 3)]


@pytest.fixture
def small_scene(tmp_path):
    data = np.array([[values_at(r, c) for c in range(W)] for r in range(H)], dtype=np.float32)
    data = data.transpose(2, 0, 1).copy()
    data[1, 5, 7] = np.nan  # one band missing is nodata
    data[:, 6, 8] = np.nan
    data[:, 0:2, 0:2] = np.nan
    return write_raster(tmp_path / "small.tif", data, nodata=float("nan"))


def vector(classes, geoms, crs=CRS):
    return gpd.GeoDataFrame({"class": classes}, geometry=geoms, crs=crs)


# a: its box holds one pixel centre, (2, 3), and touches rows 1-3 x cols 2-4
A = pixel_box(1.6, 2.6, 3.4, 4.4)
# b: rows 5-6 x cols 6-8 either way; (5, 7) and (6, 8) are nodata
B = pixel_box(5.2, 6.2, 6.8, 8.8)
# a second polygon of a: row 4 x cols 0-1
A2 = pixel_box(4.2, 0.2, 4.8, 1.8)


def pixels(samples):
    return list(zip(samples.rows.tolist(), samples.cols.tolist(), strict=True))


def test_pixel_centres_inside_by_default(small_scene):
    s = extract_samples(open_scene(small_scene), vector(["a", "b"], [A, B]), "class")
    assert pixels(s) == [(2, 3), (5, 6), (5, 8), (6, 6), (6, 7)]
    assert s.y.tolist() == [1, 2, 2, 2, 2]
    assert s.groups.tolist() == [0, 1, 1, 1, 1]
    np.testing.assert_array_equal(s.X, [values_at(r, c) for r, c in pixels(s)])
    assert s.X.dtype == np.float32
    assert s.band_names == ["band_1", "band_2", "band_3"]
    assert s.info["all_touched"] is False
    assert s.class_map.names == ("a", "b")


def test_all_touched_takes_every_pixel_a_polygon_touches(small_scene):
    s = extract_samples(
        open_scene(small_scene), vector(["a", "b"], [A, B]), "class", all_touched=True
    )
    a = [(r, c) for r in (1, 2, 3) for c in (2, 3, 4)]
    assert pixels(s) == [*a, (5, 6), (5, 8), (6, 6), (6, 7)]
    assert s.info["all_touched"] is True
    np.testing.assert_array_equal(s.X, [values_at(r, c) for r, c in pixels(s)])


def test_nodata_pixels_are_never_samples_and_are_counted(small_scene):
    corner = pixel_box(0, 0, 2, 2)  # all nodata
    s = extract_samples(
        open_scene(small_scene),
        vector(["a", "b", "b"], [A, B, corner]),
        "class",
        all_touched=False,
    )
    assert not np.isnan(s.X).any()
    assert (5, 7) not in pixels(s) and (6, 8) not in pixels(s)
    assert s.info["nodata_pixels"] == {"b": 6}
    assert len(s.footprint) == len(s)  # the footprint: every valid pixel sampled


def test_class_with_only_nodata_pixels_is_named(small_scene):
    gdf = vector(["a", "b", "c"], [A, B, pixel_box(0, 0, 2, 2)])
    with pytest.raises(TrainingClassesError, match=r"'c' \(every pixel unusable: 4 px on nodata"):
        extract_samples(open_scene(small_scene), gdf, "class")
    with pytest.warns(TrainingDataWarning, match="'c'"):
        s = extract_samples(open_scene(small_scene), gdf, "class", require_all_classes=False)
    assert set(s.y.tolist()) == {1, 2}
    assert s.class_map.names == ("a", "b", "c")


def test_groups_are_the_polygons_rows_in_the_vector(small_scene):
    s = extract_samples(open_scene(small_scene), vector(["a", "b", "a"], [A, B, A2]), "class")
    by_group = {
        g: sorted({(r, c) for r, c, gg in zip(s.rows, s.cols, s.groups, strict=True) if gg == g})
        for g in set(s.groups.tolist())
    }
    assert by_group == {
        0: [(2, 3)],
        1: [(5, 6), (5, 8), (6, 6), (6, 7)],
        2: [(4, 0), (4, 1)],
    }
    counts = s.counts()
    assert counts["pixels"].tolist() == [3, 4]
    assert counts["polygons"].tolist() == [2, 1]


def test_every_part_of_a_multipolygon_is_a_group(small_scene):
    parts = MultiPolygon([A, A2])
    s = extract_samples(open_scene(small_scene), vector(["a", "b"], [parts, B]), "class")
    assert dict(zip(pixels(s), s.groups.tolist(), strict=True)) == {
        (2, 3): 0,
        (4, 0): 1,
        (4, 1): 1,
        (5, 6): 2,
        (5, 8): 2,
        (6, 6): 2,
        (6, 7): 2,
    }


def test_a_pixel_under_two_polygons_counts_once(small_scene):
    scene = open_scene(small_scene)
    wide = pixel_box(1.6, 2.6, 3.4, 5.4)  # (2, 3) and (2, 4)
    s = extract_samples(scene, vector(["a", "a", "b"], [A, wide, B]), "class")
    row2 = [(p, g) for p, g in zip(pixels(s), s.groups.tolist(), strict=True) if p[0] == 2]
    assert row2 == [((2, 3), 0), ((2, 4), 1)]  # (2, 3) in the first polygon only
    assert s.info["overlap_pixels_merged"] == 1
    two = pixel_box(1.6, 1.6, 3.4, 4.4)  # (2, 2) and (2, 3)
    with pytest.warns(TrainingDataWarning, match=r"1 pixel\(s\) lie under polygons of different"):
        s = extract_samples(scene, vector(["a", "b", "b"], [two, wide, B]), "class")
    assert [p for p in pixels(s) if p[0] == 2] == [(2, 2), (2, 4)]
    assert s.info["contested_pixels"] == 1


def test_points_sample_the_pixel_they_fall_in(small_scene):
    centre = TRANSFORM @ (4.5, 3.5)  # col 4, row 3
    corner = TRANSFORM @ (7.1, 2.9)  # col 7, row 2
    s = extract_samples(
        open_scene(small_scene), vector(["a", "b"], [Point(*centre), Point(*corner)]), "class"
    )
    assert pixels(s) == [(2, 7), (3, 4)]
    assert s.y.tolist() == [2, 1]


@pytest.mark.parametrize("as_file", [True, False])
def test_vectors_in_another_crs_are_reprojected(tmp_path, small_scene, as_file):
    here = extract_samples(open_scene(small_scene), vector(["a", "b"], [A, B]), "class")
    there = vector(["a", "b"], [A, B]).to_crs("EPSG:4326")
    if as_file:
        there.to_file(tmp_path / "v.gpkg")
        there = tmp_path / "v.gpkg"
    s = extract_samples(open_scene(small_scene), there, "class", all_touched=False)
    assert pixels(s) == pixels(here)
    np.testing.assert_array_equal(s.groups, here.groups)
    np.testing.assert_array_equal(s.X, here.X)


def test_vector_without_crs_or_overlap_or_column(small_scene):
    scene = open_scene(small_scene)
    with pytest.raises(CRSError, match="the training GeoDataFrame has no CRS"):
        extract_samples(scene, gpd.GeoDataFrame({"class": ["a"]}, geometry=[A]), "class")
    far = vector(["a"], [pixel_box(100, 100, 103, 103)])
    with pytest.raises(TrainingDataError, match="no geometry of training overlaps the scene"):
        extract_samples(scene, far, "class")
    with pytest.raises(TrainingDataError, match=r"has no column 'klass'.*\['class'\]"):
        extract_samples(scene, vector(["a"], [A]), "klass")


@pytest.mark.parametrize("chunks", [3, 4, 7])
def test_samples_do_not_depend_on_the_chunks(small_scene, chunks):
    gdf = vector(["a", "b", "a"], [A, B, A2])
    whole = extract_samples(open_scene(small_scene).compute(), gdf, "class", all_touched=True)
    chunked = extract_samples(
        open_scene(small_scene, chunks=chunks), gdf, "class", all_touched=True
    )
    for name in ("X", "y", "groups", "rows", "cols"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))


def test_cap_per_class_is_seeded_and_a_subset(scene_path, training_path):
    full = extract_samples(open_scene(scene_path), training_path, "class")
    per_class = full.counts()["pixels"].tolist()
    assert min(per_class) > 20
    capped = extract_samples(
        open_scene(scene_path), training_path, "class", max_per_class=20, seed=3
    )
    again = extract_samples(
        open_scene(scene_path), training_path, "class", max_per_class=20, seed=3
    )
    assert capped.counts()["pixels"].tolist() == [20, 20, 20]
    np.testing.assert_array_equal(capped.rows, again.rows)
    np.testing.assert_array_equal(capped.cols, again.cols)
    same = full.cap_per_class(20, seed=3)
    np.testing.assert_array_equal(same.X, capped.X)
    # a subset of the full samples, with the same values and groups
    index = {(r, c): i for i, (r, c) in enumerate(pixels(full))}
    pick = np.array([index[p] for p in pixels(capped)])
    np.testing.assert_array_equal(full.X[pick], capped.X)
    np.testing.assert_array_equal(full.groups[pick], capped.groups)
    other = full.cap_per_class(20, seed=4)
    assert pixels(other) != pixels(capped)
    # a cap above every class keeps everything
    assert pixels(full.cap_per_class(max(per_class), seed=0)) == pixels(full)


@pytest.mark.parametrize("chunks", [None, 3, 7, 100])  # 3 and 7 divide neither 8 nor 10
def test_sample_with_replacement_is_chunk_invariant_and_drops_repeats_and_nodata(
    small_scene, chunks
):
    scene = open_scene(small_scene, chunks=chunks)
    if chunks is None:
        scene = scene.compute()
    got = sample_pixels(scene, 40, seed=5, replace=True)
    rng = np.random.default_rng(5)  # the design: 40 positions with replacement over the grid
    drawn = np.unique(rng.integers(0, H * W, size=40))
    rows, cols = np.divmod(drawn, W)
    nodata = {(5, 7), (6, 8), (0, 0), (0, 1), (1, 0), (1, 1)}
    valid = [(r, c) not in nodata for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
    assert not all(valid) and len(drawn) < 40  # the draw repeats and hits nodata
    np.testing.assert_array_equal(got.rows, rows[valid])
    np.testing.assert_array_equal(got.cols, cols[valid])
    expected = [values_at(r, c) for r, c in zip(got.rows, got.cols, strict=True)]
    np.testing.assert_array_equal(got.X, expected)
    assert got.n_valid is None and got.band_names == ["band_1", "band_2", "band_3"]
    everything = sample_pixels(scene, H * W, seed=5, replace=True)  # n covers the grid
    assert len(everything) == H * W - len(nodata)


def test_sample_size_and_seed_are_checked():
    import xarray as xr

    scene = xr.DataArray(np.ones((1, 2, 2), "f4"), dims=("band", "y", "x"))
    for n, seed in ((0, 0), (2.5, 0), (True, 0), (5, -1)):
        with pytest.raises(EstimatorError):
            sample_pixels(scene, n, seed, replace=True)
