"""Object-based classification: segmentation, features, labelling, painting, bad input."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage
from sklearn.metrics import adjusted_rand_score

from rasterclass import extract_samples, open_scene
from rasterclass.apply import paint_segments
from rasterclass.errors import (
    GridMismatchError,
    RasterclassError,
    SegmentationError,
    TrainingDataError,
)
from rasterclass.io import open_segments, read_class_map, write_segments
from rasterclass.jobs import ObjectOptions, TrainingOptions, classify
from rasterclass.objects import (
    label_segments,
    seam_statistics,
    segment,
    segment_features,
)
from tests.conftest import LSAT, TRANSFORM, needs_shared, pixel_box, synthetic_arrays, write_raster

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
FAST = TrainingOptions(method="rf", params={"n_estimators": 30}, cv_folds=0)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two label rasters split the pixels identically (ids may differ)."""
    if not np.array_equal(a == 0, b == 0):
        return False
    a, b = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
    pairs = np.unique(a * (int(b.max()) + 1) + b)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def isolated_pixels(classes: np.ndarray) -> int:
    """Pixels in patches of 1-4 pixels of one class (8-connectivity), nodata excluded."""
    total = 0
    for code in np.unique(classes[classes > 0]):
        labels, _ = ndimage.label(classes == code, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel())[1:]
        total += int(sizes[sizes <= 4].sum())
    return total


def overall_accuracy(map_path: Path, scene: xr.DataArray, reference: Path) -> float:
    """Share of the pixels inside the reference polygons whose mapped class name is right."""
    ref = extract_samples(scene, reference, "class")
    ref_names = np.array(ref.class_map.names)[np.searchsorted(ref.class_map.codes, ref.y)]
    cmap = read_class_map(map_path)
    with rasterio.open(map_path) as src:
        mapped = src.read(1)[ref.rows, ref.cols]
    lut = dict(zip(cmap.codes, cmap.names, strict=True))
    names = np.array([lut.get(int(c), "") for c in mapped])
    return float((names == ref_names).mean())


@pytest.fixture(scope="module")
def sample_segments() -> Callable[[int], tuple[xr.DataArray, np.ndarray]]:
    """Shepherd segmentation (default parameters) of the sample scene at a chunking: the
    lazy result and its values, computed once per module and chunking (tests run apart by
    pytest-xdist compute only the chunkings they use)."""
    done: dict[int, tuple[xr.DataArray, np.ndarray]] = {}

    def at(chunks: int) -> tuple[xr.DataArray, np.ndarray]:
        if chunks not in done:
            segs = segment(open_scene(SAMPLE / "scene.tif", chunks=chunks))
            assert isinstance(segs.data, da.Array)
            done[chunks] = (segs, segs.values)
        return done[chunks]

    return at


# --- 1. chunk invariance ------------------------------------------------------------------
def test_shepherd_sample_scene_identical_for_three_chunk_sizes(sample_segments):
    ref = sample_segments(1000)[1]
    n = int(ref.max())
    sizes = np.bincount(ref.ravel())[1:]
    print(f"sample scene: {n} segments, {sizes.min()}-{sizes.max()} px")
    assert n > 1000
    assert sizes.min() >= 50  # every segment reached min_size (no segment is cut off by nodata)
    for chunks in (256, 300, 1000):  # 300 does not divide 1000; 1000 = one chunk
        segs = sample_segments(chunks)[1]
        assert same_partition(segs, ref), chunks
        np.testing.assert_array_equal(segs, ref)  # and even the ids: numbered by first pixel


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("chunks", [(7, 11), (16, 75), (61, 9), (23, 23)])
def test_shepherd_chunk_invariance_synthetic(scene_path, chunks, connectivity):
    params = {"n_clusters": 6, "min_size": 6, "connectivity": connectivity, "seed": 3}
    oracle = segment(open_scene(scene_path).compute(), **params).values
    scene = open_scene(scene_path).chunk({"y": chunks[0], "x": chunks[1]})
    segs = segment(scene, **params).values
    assert same_partition(segs, oracle)
    np.testing.assert_array_equal(segs, oracle)
    # 0 exactly at nodata, consecutive ids, every segment connected and >= min_size
    _, truth = synthetic_arrays()
    np.testing.assert_array_equal(segs == 0, truth == 0)
    assert np.array_equal(np.unique(segs[segs > 0]), np.arange(1, segs.max() + 1))
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    for sid in range(1, int(segs.max()) + 1):
        mask = segs == sid
        assert ndimage.label(mask, structure=structure)[1] == 1
        assert mask.sum() >= 6


def check_segments(segs: np.ndarray, valid: np.ndarray, connectivity: int, min_size: int) -> None:
    """0 exactly at nodata, ids 1..n, every segment connected, and every segment smaller than
    ``min_size`` has no neighbouring segment (only nodata around it)."""
    np.testing.assert_array_equal(segs > 0, valid)
    assert np.array_equal(np.unique(segs[segs > 0]), np.arange(1, segs.max() + 1))
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    sizes = np.bincount(segs.ravel())
    for sid, sl in enumerate(ndimage.find_objects(segs), start=1):
        mask = segs[sl] == sid
        assert ndimage.label(mask, structure=structure)[1] == 1, sid
        if sizes[sid] < min_size:
            ring = ndimage.binary_dilation(segs == sid, structure=structure)
            assert set(np.unique(segs[ring]).tolist()) <= {0, sid}, sid


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("tile", [16, 23, 40])
def test_shepherd_tiles_do_not_depend_on_the_chunks(scene_path, tile, connectivity, caplog):
    """Segments cross the fixed tiles (joined across tile edges); any chunking gives the same
    ids, and only the segments touching tile edges are joined globally."""
    params = {"n_clusters": 6, "min_size": 6, "connectivity": connectivity, "seed": 3}
    with caplog.at_level("INFO", logger="rasterclass.objects"):
        oracle = segment(open_scene(scene_path).compute(), tile=tile, **params).values
    joined = [r for r in caplog.records if r.msg.startswith("join across")]
    assert len(joined) == 1 and joined[0].args[0] == math.ceil(61 / tile) * math.ceil(75 / tile)
    for chunks in [(7, 11), (61, 9), (23, 23), (61, 75)]:
        scene = open_scene(scene_path).chunk({"y": chunks[0], "x": chunks[1]})
        np.testing.assert_array_equal(segment(scene, tile=tile, **params).values, oracle)
    _, truth = synthetic_arrays()
    check_segments(oracle, truth > 0, connectivity, 6)
    # close to the one-tile segmentation (the tiles change only decisions near their edges),
    # and segments cross tile lines as often: the tiles are not seams
    whole = segment(open_scene(scene_path).compute(), **params).values
    valid = whole > 0
    assert adjusted_rand_score(whole[valid], oracle[valid]) > 0.8
    rows = np.arange(tile, 61, tile)

    def crossing(segs: np.ndarray) -> float:
        return float((segs[rows - 1] == segs[rows])[segs[rows] > 0].mean())

    assert crossing(oracle) > 0.3
    assert abs(crossing(oracle) - crossing(whole)) < 0.1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tile=st.integers(3, 50),
    cy=st.integers(4, 40),
    cx=st.integers(4, 40),
    min_size=st.integers(1, 20),
    connectivity=st.sampled_from([4, 8]),
    seed=st.integers(0, 3),
)
def test_shepherd_laws_hypothesis(tile, cy, cx, min_size, connectivity, seed):
    """For any tile, chunking, min_size and seed: the chunked result equals the in-memory one,
    nodata stays nodata, segments are connected and reach min_size unless isolated."""
    data, truth = synthetic_arrays(37, 45, seed=seed)
    data[:, 20:24, 5:40] = np.nan  # a nodata band across tiles
    truth[20:24, 5:40] = 0
    scene = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": ["a", "b", "c"]})
    params = {"n_clusters": 8, "min_size": min_size, "connectivity": connectivity, "seed": 0}
    oracle = segment(scene, tile=tile, **params).values
    chunked = segment(scene.chunk({"y": cy, "x": cx}), tile=tile, **params).values
    np.testing.assert_array_equal(chunked, oracle)
    check_segments(oracle, truth > 0, connectivity, min_size)


def test_shepherd_tiles_same_map_on_every_local_scheduler(scene_path):
    """Tables on one scheduler, tiles painted on another (processes: pickled, other
    interpreters): the same ids."""
    params = {"n_clusters": 6, "min_size": 6, "seed": 3, "tile": 20}
    segs = segment(open_scene(scene_path, chunks=16), **params)
    threads = segs.data.compute(scheduler="threads")
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(segment(open_scene(scene_path), **params).values, threads)
    np.testing.assert_array_equal(segs.data.compute(scheduler="processes", num_workers=2), threads)


# --- 2. features chunked == numpy -----------------------------------------------------------
def numpy_features(scene: np.ndarray, segs: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Per-segment features computed directly on the in-memory arrays (the oracle)."""
    valid = np.isfinite(scene).all(axis=0)
    s = np.where(valid, segs, 0)
    padded = np.pad(s, 1)
    rows = []
    for sid in np.unique(s[s > 0]):
        mask = s == sid
        pm = padded == sid
        perimeter = sum(
            int((pm & (np.roll(padded, shift, axis) != sid)).sum())
            for shift, axis in ((1, 0), (-1, 0), (1, 1), (-1, 1))
        )
        rr, cc = np.nonzero(mask)
        h, w = np.ptp(rr) + 1, np.ptp(cc) + 1
        row = {
            "segment": sid,
            "pixels": mask.sum(),
            "perimeter": perimeter,
            "compactness": 4 * np.pi * mask.sum() / perimeter**2,
            "elongation": max(h, w) / min(h, w),
            "centroid_row": rr.mean(),
            "centroid_col": cc.mean(),
        }
        for b, name in enumerate(names):
            v = scene[b][mask].astype(np.float64)
            row |= {
                f"{name}_mean": v.mean(),
                f"{name}_std": v.std(),
                f"{name}_min": v.min(),
                f"{name}_max": v.max(),
            }
        red = scene[names.index("red")][mask].astype(np.float64)
        nir = scene[names.index("nir")][mask].astype(np.float64)
        row["ndvi_mean"] = np.mean((nir - red) / (nir + red))
        rows.append(row)
    return pd.DataFrame(rows).set_index("segment")


def test_features_chunked_equal_numpy(tmp_path):
    scene_arr, _ = synthetic_arrays()
    names = ["blue", "red", "nir"]
    path = write_raster(tmp_path / "s.tif", scene_arr, nodata=float("nan"), descriptions=names)
    # segments: ragged blocks that cross any chunking, one split in two parts, nodata holes
    rr, cc = np.mgrid[: scene_arr.shape[1], : scene_arr.shape[2]]
    segs = ((rr // 9) * 10 + (cc + rr // 3) // 11 + 1).astype(np.uint32)
    segs[segs == 5] = 7  # segment 7 now has two separate parts
    segs[20:25, 40:50] = 0
    expected = numpy_features(scene_arr, segs, names)
    for tile in (8, 13, 100):  # blocks of 8 and 13 px: every segment crosses block faces
        first = None
        for chunks in ((8, 8), (13, 5), (100, 100), (7, 64)):
            scene = open_scene(path, chunks=chunks[0])
            seg_da = xr.DataArray(da.from_array(segs, chunks=chunks[1]), dims=("y", "x"))
            got = segment_features(scene, seg_da, tile=tile)
            assert list(got.index) == list(expected.index)
            for col in expected.columns:
                np.testing.assert_allclose(
                    got[col], expected[col], rtol=1e-9, atol=1e-12, err_msg=col
                )
            np.testing.assert_allclose(got["area"], got["pixels"] * 900.0)
            # the same blocks whatever the chunks of the scene and of the segments: the same
            # features to the last bit (numpy and the in-memory segments included)
            first = got if first is None else first
            pd.testing.assert_frame_equal(got, first, check_exact=True)
        in_memory = xr.DataArray(segs, dims=("y", "x"))
        got = segment_features(open_scene(path).compute(), in_memory, tile=tile)
        pd.testing.assert_frame_equal(got, first, check_exact=True)


def test_features_default_blocks_follow_the_segmentation_tile(tmp_path):
    """Shepherd segments keep their tiles as feature blocks (no rechunk); other segments get
    1024 px blocks; a bad ``tile`` is a SegmentationError."""
    from rasterclass.methods import SEGMENT_DEFAULTS
    from rasterclass.objects.features import FEATURE_TILE, _aligned

    scene_arr, _ = synthetic_arrays()
    path = write_raster(tmp_path / "s.tif", scene_arr, nodata=float("nan"))
    scene = open_scene(path, chunks=16)
    segs = segment(scene, n_clusters=6, min_size=6, seed=3, tile=20)
    data, seg = _aligned(segs, scene)
    assert seg.chunks == segs.data.chunks == data.chunks[1:]
    assert seg.chunks[0][0] == 20
    plain = xr.DataArray(segs.values, dims=("y", "x"))
    assert _aligned(plain, scene)[1].chunks == ((scene_arr.shape[1],), (scene_arr.shape[2],))
    assert FEATURE_TILE == SEGMENT_DEFAULTS["shepherd"]["tile"] == 1024  # tiles never split
    for odd in ({"tile": True}, {"tile": "16"}, {"tile": -5}, "not a dict"):
        plain.attrs["params"] = odd  # not a tile: the 1024 px blocks, not 1 px ones
        assert _aligned(plain, scene)[1].chunks == ((scene_arr.shape[1],), (scene_arr.shape[2],))
    # lazy slic segments keep their chunks (their tiles): splitting one would segment it again
    slic = segment(scene, "slic", region_size=5, seed=0)
    assert slic.data.chunks == scene.data.chunks[1:]
    assert _aligned(slic, scene)[1].chunks == slic.data.chunks
    for bad in (0, -3, 2.5, True):
        with pytest.raises(SegmentationError, match="positive integer"):
            segment_features(scene, segs, tile=bad)
    # ids that int64 cannot hold, or negative ones, are refused, not taken for nodata
    for ids, dtype in (([1, 2**63 + 5], np.uint64), ([1, -4], np.int64)):
        bad_ids = np.where(segs.values > 3, ids[1], ids[0]).astype(dtype)
        lazy = xr.DataArray(da.from_array(bad_ids, chunks=16), dims=("y", "x"))
        with pytest.raises(SegmentationError, match="below 2\\*\\*63; renumber"):
            segment_features(scene, lazy)
    # where the scene is nodata an id is nodata, whatever it is (-1 of an undeclared nodata)
    nodata = ~np.isfinite(scene.values).all(axis=0)
    assert nodata.any()
    minus = xr.DataArray(np.where(nodata, -1, segs.values.astype(np.int64)), dims=("y", "x"))
    assert minus.values.min() == -1
    pd.testing.assert_frame_equal(
        segment_features(scene, minus, tile=20), segment_features(scene, segs), check_exact=True
    )


# --- 3. sample data: fewer isolated pixels, accuracy next to the pixel map -----------------
def test_sample_data_object_map_has_far_fewer_isolated_pixels(tmp_path, sample_segments):
    scene_file = SAMPLE / "scene.tif"
    training, validation = SAMPLE / "training.gpkg", SAMPLE / "validation.gpkg"
    segs_path = tmp_path / "segments.tif"
    write_segments(sample_segments(256)[0], segs_path)  # the segments of test 1
    with rasterio.open(segs_path) as src:
        np.testing.assert_array_equal(src.read(1), sample_segments(1000)[1])
    pixel_map, object_map = tmp_path / "pixel.tif", tmp_path / "object.tif"
    classify(scene_file, training, "class", pixel_map, FAST)
    objects = ObjectOptions(segments=segs_path)
    result = classify(scene_file, training, "class", object_map, FAST, objects=objects)
    with rasterio.open(pixel_map) as a, rasterio.open(object_map) as b:
        pixel, obj = a.read(1), b.read(1)
        assert b.colormap(1)[1] == a.colormap(1)[1] and b.nodata == 0
    np.testing.assert_array_equal(pixel == 0, obj == 0)
    scene = open_scene(scene_file)
    oa_pixel = overall_accuracy(pixel_map, scene, validation)
    oa_object = overall_accuracy(object_map, scene, validation)
    iso_pixel, iso_object = isolated_pixels(pixel), isolated_pixels(obj)
    print(
        f"\nsample data, {len(result.samples)} training segments: isolated pixels (patches of "
        f"1-4 px) pixel-based {iso_pixel}, object-based {iso_object}; overall accuracy on "
        f"validation polygons: pixel-based {oa_pixel:.4f}, object-based {oa_object:.4f}"
    )
    assert iso_pixel > 5 * max(iso_object, 1)
    assert iso_pixel > 1000
    assert oa_object > 0.85
    assert result.model.summary["object_based"]


# --- 4. Landsat end to end ---------------------------------------------------------------
@needs_shared(LSAT)
def test_landsat_object_based_water_and_forest(tmp_path):
    train = LSAT / "trainingPolygons_lsat.gpkg"
    out = tmp_path / "lsat_objects.tif"
    result = classify(
        [LSAT / "lsat_stack_B1-B7.tif"],
        train,
        "class",
        out,
        FAST,
        objects=ObjectOptions(),
        vector_output=tmp_path / "segments.gpkg",
    )
    scene = open_scene(LSAT / "lsat_stack_B1-B7.tif")
    ref = extract_samples(scene, train, "class")
    with rasterio.open(out) as src:
        mapped = src.read(1)[ref.rows, ref.cols]
    cmap = result.model.class_map
    shares = {}
    for name in ("water", "forest", "cleared", "fallen_dry"):
        inside = ref.y == ref.class_map.code_of(name)
        shares[name] = float((mapped[inside] == cmap.code_of(name)).mean())
    print(f"\nlandsat object-based ({len(result.samples)} training segments): {shares}")
    assert shares["water"] >= 0.9
    assert shares["forest"] >= 0.9
    vec = gpd.read_file(tmp_path / "segments.gpkg")
    assert {"segment", "class", "pixels", "B1_dn_mean"} <= set(vec.columns)
    assert vec["segment"].is_unique


# --- 5. bad input ------------------------------------------------------------------------
def test_segments_on_another_grid_are_refused(tmp_path, scene_path, training_path):
    scene_arr, _ = synthetic_arrays()
    ids = np.arange(scene_arr.shape[1] * scene_arr.shape[2], dtype=np.uint32)
    shifted = TRANSFORM * TRANSFORM.translation(3, 0)
    write_raster(tmp_path / "shifted.tif", ids.reshape(scene_arr.shape[1:]), transform=shifted)
    write_raster(tmp_path / "small.tif", ids.reshape(scene_arr.shape[1:])[:40])
    for bad, match in (("shifted.tif", "transform"), ("small.tif", "pixels")):
        with pytest.raises(GridMismatchError, match=match) as err:
            classify(
                scene_path,
                training_path,
                "class",
                tmp_path / "m.tif",
                FAST,
                objects=ObjectOptions(segments=tmp_path / bad),
            )
        assert isinstance(err.value, RasterclassError)
    assert not (tmp_path / "m.tif").exists()


def test_min_size_larger_than_the_scene(scene_path):
    scene = open_scene(scene_path, chunks=20)
    with pytest.raises(SegmentationError, match="larger than the scene"):
        segment(scene, min_size=61 * 75 + 1)  # more pixels than the grid: refused up front
    with pytest.raises(SegmentationError, match="valid pixels"):
        segment(scene, min_size=61 * 75 - 100)  # fewer pixels than the grid, more than valid
    with pytest.raises(SegmentationError, match="unknown parameter"):
        segment(scene, n_segments=5)
    with pytest.raises(SegmentationError, match="unknown segmentation method"):
        segment(scene, "watershed")


def test_training_covering_no_segment_sufficiently(tmp_path, scene_path):
    tiny = gpd.GeoDataFrame(
        {"class": ["water", "urban"]},
        geometry=[pixel_box(30, 10, 32, 12), pixel_box(30, 60, 32, 62)],
        crs="EPSG:32633",
    )
    scene = open_scene(scene_path, chunks=30)
    segs = segment(scene, n_clusters=3, min_size=500)
    with pytest.raises(TrainingDataError, match="no segment is covered"):
        label_segments(scene, segs, tiny, "class", min_polygon_share=None)
    # a small polygon lying inside one segment labels it through min_polygon_share
    samples = label_segments(scene, segs, tiny, "class")
    assert len(samples) == 2 and set(samples.groups) == {0, 1}


# --- more: painting, laziness, tiled methods, outputs, CLI ----------------------------------
def test_paint_segments_dense_sparse_and_lazy(forbid_compute):
    ids = np.array([[0, 3, 3, 7], [7, 7, 0, 9]], dtype=np.uint32)
    segs = xr.DataArray(da.from_array(ids, chunks=(1, 2)), dims=("y", "x"))
    with forbid_compute():
        sparse = paint_segments(segs, np.array([5, 6], dtype="u1"), keys=np.array([7, 3]))
        dense = paint_segments(segs, np.arange(10, dtype="u2") * 10)
        proba = paint_segments(
            segs,
            np.array([[0.1, 0.9], [0.7, 0.3]], dtype="f4"),
            keys=np.array([3, 7]),
            fill=np.float32(np.nan),
            band_names=["a", "b"],
        )
    np.testing.assert_array_equal(sparse.values, [[0, 6, 6, 5], [5, 5, 0, 0]])
    np.testing.assert_array_equal(dense.values, [[0, 30, 30, 70], [70, 70, 0, 90]])
    assert proba.dims == ("band", "y", "x") and list(proba.band.values) == ["a", "b"]
    np.testing.assert_array_equal(
        proba.values[1], np.array([[np.nan, 0.9, 0.9, 0.3], [0.3, 0.3, np.nan, np.nan]], "f4")
    )
    np.testing.assert_array_equal(paint_segments(xr.DataArray(ids), np.arange(10)).values, ids)


def test_segment_output_is_lazy(scene_path, forbid_compute):
    segs = segment(open_scene(scene_path, chunks=20), n_clusters=4, min_size=8)
    assert isinstance(segs.data, da.Array) and segs.dtype == np.uint32
    with forbid_compute():
        again = paint_segments(segs, np.arange(segs.attrs["n_segments"] + 1, dtype=np.uint32))
    np.testing.assert_array_equal(again.values, segs.values)


@pytest.mark.parametrize(
    ("method", "params"),
    [("slic", {"region_size": 12}), ("felzenszwalb", {"scale": 20.0, "min_size": 30})],
)
def test_tiled_methods_seams_measured(method, params):
    scene = open_scene(SAMPLE / "scene.tif").isel(y=slice(0, 300), x=slice(200, 500))
    whole = segment(scene.chunk({"y": -1, "x": -1}), method, **params).values
    tiled = segment(scene.chunk({"y": 100, "x": 100}), method, **params).values
    for segs in (whole, tiled):
        np.testing.assert_array_equal(segs == 0, ~np.isfinite(scene.values).all(axis=0))
    seams_whole, seams_tiled = seam_statistics(whole, 100), seam_statistics(tiled, 100)
    print(f"\n{method}: in memory {seams_whole}; 100-px chunks {seams_tiled}")
    assert seams_tiled["face_boundary_share"] == 1.0  # every chunk line is a segment edge
    assert seams_tiled["cut_segments"] == 0
    assert seams_whole["face_boundary_share"] < 0.6 and seams_whole["cut_segments"] > 10
    # ids are unique across chunks: no id in two chunks
    blocks = [tiled[r : r + 100, c : c + 100] for r in (0, 100, 200) for c in (0, 100, 200)]
    seen = [set(np.unique(b[b > 0]).tolist()) for b in blocks]
    assert sum(len(s) for s in seen) == len(set().union(*seen))


def test_classify_objects_outputs(tmp_path, scene_path, training_path, truth):
    out = tmp_path / "map.tif"
    opts = TrainingOptions(method="rf", params={"n_estimators": 20}, cv_folds=2)
    result = classify(
        scene_path,
        training_path,
        "class",
        out,
        opts,
        objects=ObjectOptions(segment_method="slic", segment_params={"region_size": 6}),
        probabilities=tmp_path / "p.tif",
        segments_output=tmp_path / "segs.tif",
        features_output=tmp_path / "f.parquet",
        vector_output=tmp_path / "segs.gpkg",
        report_output=tmp_path / "cv.json",
    )
    cmap = result.model.class_map
    with rasterio.open(out) as src:
        classes = src.read(1)
        assert (
            src.nodata == 0
            and src.colormap(1)[cmap.code_of("water")] == cmap.colors[cmap.names.index("water")]
        )
        assert src.tags()["RASTERCLASS_OBJECT_BASED"] == "true"
    np.testing.assert_array_equal(classes == 0, truth == 0)
    lut = np.array([0, cmap.code_of("water"), cmap.code_of("forest"), cmap.code_of("urban")])
    assert (classes == lut[truth]).mean() > 0.97
    with rasterio.open(tmp_path / "p.tif") as src:
        assert list(src.descriptions) == [*cmap.names, "confidence"]
        proba = src.read()
    np.testing.assert_allclose(proba[:-1, truth > 0].sum(axis=0), 1, atol=1e-5)
    segs = open_segments(tmp_path / "segs.tif").values
    table = pd.read_parquet(tmp_path / "f.parquet")
    assert set(np.unique(segs[segs > 0])) == set(table.index)
    # every pixel carries its segment's class
    codes = table["code"].to_numpy()
    painted = np.zeros(int(segs.max()) + 1, dtype=int)
    painted[table.index.to_numpy()] = codes
    np.testing.assert_array_equal(painted[segs], classes)
    vec = gpd.read_file(tmp_path / "segs.gpkg")
    assert len(vec) == len(table) and vec["segment"].is_unique
    np.testing.assert_allclose(
        vec.set_index("segment").geometry.area.loc[table.index], table["area"]
    )
    assert result.accuracy is not None and (tmp_path / "cv.json").exists()
    assert set(result.samples.band_names) <= set(table.columns)
    assert "centroid_row" not in result.samples.band_names


def test_cli_segment(tmp_path, scene_path):
    from rasterclass.cli.main import cli

    out = tmp_path / "segs.tif"
    args = [
        "segment", str(scene_path), "-p", "min_size=10", "-p", "n_clusters=5", "-p", "tile=20",
        "--chunks", "25", "-o", str(out), "--features", str(tmp_path / "f.csv"),
        "--vector", str(tmp_path / "v.gpkg"),
    ]  # fmt: skip
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "segments (shepherd)" in res.output
    with rasterio.open(out) as src:
        assert src.dtypes[0] == "uint32" and src.nodata == 0
        with pytest.raises(ValueError):  # no colour table
            src.colormap(1)
        data = src.read(1)
    # 20-px tiles (several per scene) with 25-px chunks: the in-memory result, ids included
    oracle = segment(open_scene(scene_path).compute(), min_size=10, n_clusters=5, tile=20).values
    np.testing.assert_array_equal(data, oracle)
    table = pd.read_csv(tmp_path / "f.csv", index_col="segment")
    assert len(table) == data.max()
    np.testing.assert_array_equal(table["pixels"], np.bincount(data.ravel())[1:])
    assert len(gpd.read_file(tmp_path / "v.gpkg")) == data.max()
    # bad input: one clear line, exit code 1, no new file
    before = set(tmp_path.iterdir())
    for bad, match in (
        (["-p", "min_size=999999"], "larger than the scene"),
        (["-m", "slic", "-p", "n_clusters=3"], "unknown parameter"),
        (["-p", "min_size"], "name=value"),
        (["-p", "tile=0"], "-p tile=0 must be >= 1"),
    ):
        res = CliRunner().invoke(
            cli, ["segment", str(scene_path), *bad, "-o", str(tmp_path / "x.tif")]
        )
        assert res.exit_code == 1, res.output
        lines = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
        assert len(lines) == 1 and match in lines[0], res.output
    assert set(tmp_path.iterdir()) == before
