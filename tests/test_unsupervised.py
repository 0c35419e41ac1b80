"""Unsupervised classification: sampling, clustering, statistics, labelling, CLI, real data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.features import rasterize
from sklearn.metrics import adjusted_rand_score

from rasterclass import ClassMap, RasterModel, open_scene, predict_raster, read_class_map, write_map
from rasterclass.apply import recode
from rasterclass.clustering import (
    cluster_statistics,
    fit_clusterer,
    make_clusterer,
    read_table,
    relabel,
    write_statistics,
)
from rasterclass.errors import ClassMapError, ClusteringError, EstimatorError
from rasterclass.jobs import cluster, relabel_map, suggest_labels
from rasterclass.sampling import sample_pixels
from tests.conftest import LSAT, RGB, needs_shared, synthetic_arrays, write_raster
from tests.conftest import read_band as read
from tests.conftest import run_cli as run

CHUNKS = (16, 23, 64, 1000)  # 23 divides neither 61 nor 75; 1000 is one chunk


def stripes(classes: np.ndarray, truth: np.ndarray) -> float:
    valid = truth > 0
    return adjusted_rand_score(truth[valid], classes[valid])


# --- sampling -----------------------------------------------------------------------------
def test_sample_is_chunk_invariant_seeded_and_never_nan(scene_path):
    ref = sample_pixels(open_scene(scene_path).compute(), 700, seed=3)
    assert len(ref) == 700 and ref.X.shape == (700, 3)
    assert not np.isnan(ref.X).any()
    for chunks in CHUNKS:
        s = sample_pixels(open_scene(scene_path, chunks=chunks), 700, seed=3)
        np.testing.assert_array_equal(s.X, ref.X)
        np.testing.assert_array_equal(s.rows, ref.rows)
        np.testing.assert_array_equal(s.cols, ref.cols)
        assert s.n_valid == ref.n_valid
    scene, truth = synthetic_arrays()
    assert ref.n_valid == int((truth > 0).sum())
    # values are the scene's at the reported positions, positions are distinct and valid
    np.testing.assert_array_equal(ref.X, scene[:, ref.rows, ref.cols].T)
    assert len(set(zip(ref.rows.tolist(), ref.cols.tolist(), strict=True))) == 700
    assert (truth[ref.rows, ref.cols] > 0).all()
    # same seed same sample, another seed another sample
    again = sample_pixels(open_scene(scene_path, chunks=20), 700, seed=3)
    np.testing.assert_array_equal(again.X, ref.X)
    other = sample_pixels(open_scene(scene_path, chunks=20), 700, seed=4)
    assert not np.array_equal(
        np.sort(other.rows * 75 + other.cols), np.sort(ref.rows * 75 + ref.cols)
    )


def test_sample_is_uniform_over_valid_pixels(scene_path, truth):
    s = sample_pixels(open_scene(scene_path, chunks=16), 2000, seed=0)
    # share of sampled pixels per stripe equals the stripe's share of valid pixels
    for code in (1, 2, 3):
        expected = (truth == code).sum() / (truth > 0).sum()
        got = (truth[s.rows, s.cols] == code).mean()
        assert abs(got - expected) < 0.04, (code, got, expected)
    # and top and bottom halves too (no bias towards the first chunks)
    assert abs((s.rows < 30).mean() - 30 / 61) < 0.04


def test_sample_larger_than_valid_pixels_takes_all(scene_path, truth):
    s = sample_pixels(open_scene(scene_path, chunks=23), 10**6, seed=0)
    assert len(s) == s.n_valid == int((truth > 0).sum())
    assert np.isfinite(s.X).all()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cy=st.integers(3, 70), cx=st.integers(3, 80), n=st.integers(1, 5000))
def test_sample_chunk_invariance_property(scene_path, cy, cx, n):
    scene = open_scene(scene_path)
    ref = sample_pixels(scene.compute(), n, seed=11)
    got = sample_pixels(scene.chunk({"y": cy, "x": cx}), n, seed=11)
    np.testing.assert_array_equal(got.X, ref.X)
    np.testing.assert_array_equal(got.rows, ref.rows)


# --- clustering ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "standardize"), [("kmeans", False), ("isodata", False), ("isodata", True)]
)
def test_cluster_map_identical_across_chunks_and_in_memory(scene_path, truth, method, standardize):
    mem = open_scene(scene_path).compute()
    assert isinstance(mem.data, np.ndarray)
    model = fit_clusterer(mem, method, 3, sample_size=1500, seed=0, standardize=standardize)
    oracle = predict_raster(mem, model)["classes"].values
    assert isinstance(predict_raster(mem, model)["classes"].data, np.ndarray)
    for chunks in CHUNKS:
        scene = open_scene(scene_path, chunks=chunks)
        m = fit_clusterer(scene, method, 3, sample_size=1500, seed=0, standardize=standardize)
        np.testing.assert_array_equal(predict_raster(scene, m)["classes"].values, oracle)
    assert np.array_equal(oracle == 0, truth == 0)
    assert stripes(oracle, truth) > 0.99
    assert model.class_map.names == ("cluster 1", "cluster 2", "cluster 3")
    assert model.summary["n_samples"] == 1500 and model.summary["method"] == method


def test_isodata_summary_has_history_and_thresholds(scene_path):
    model = fit_clusterer(open_scene(scene_path, chunks=30), "isodata", 3, sample_size=2000)
    summary = model.summary
    assert summary["n_iter"] == len(summary["history"]) >= 1
    assert {"n_clusters", "n_splits", "n_merges", "n_discarded", "share_changed"} <= set(
        summary["history"][0]
    )
    assert summary["thresholds"]["min_samples"] >= 1
    assert summary["thresholds"]["min_clusters"] == 1  # defaults: 1 and 2K
    assert summary["thresholds"]["max_clusters"] == 6
    json.dumps(summary)  # storable in a model file


def test_isodata_cluster_bounds_pass_through_params(scene_path, truth):
    scene = open_scene(scene_path, chunks=30)
    # θ_S = θ_C = 0: every cluster is wide enough to split and none is lumped, so the
    # number of clusters grows until the bound (2K = 4 by default) stops it.
    grow = {"max_std": "0", "min_distance": "0"}
    free = fit_clusterer(scene, "isodata", 2, grow, sample_size=3000, seed=5)
    assert free.summary["n_clusters"] == 4 == free.summary["thresholds"]["max_clusters"]
    capped = fit_clusterer(
        scene, "isodata", 2, {**grow, "max_clusters": "3"}, sample_size=3000, seed=5
    )
    assert capped.summary["thresholds"]["max_clusters"] == 3
    assert all(h["n_clusters"] <= 3 for h in capped.summary["history"])
    assert capped.summary["n_clusters"] == 3
    classes = predict_raster(scene, capped)["classes"].values
    assert stripes(classes, truth) > 0.99
    assert make_clusterer("isodata", 6, {"min_clusters": "2"}).min_clusters == 2


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"min_clusters": 4}, "min_clusters=4 is more than n_clusters=3"),
        ({"max_clusters": 2}, "max_clusters=2 is less than n_clusters=3"),
        ({"max_clusters": "many"}, "max_clusters must be an integer"),
    ],
)
def test_invalid_cluster_bounds_fail_before_reading(params, match):
    # make_clusterer checks the combination itself (cluster() calls it before any reading).
    with pytest.raises(EstimatorError, match=match):
        make_clusterer("isodata", 3, params)


def test_minibatch_kmeans_and_model_file_round_trip(tmp_path, scene_path, truth):
    scene = open_scene(scene_path, chunks=25)
    model = fit_clusterer(scene, "kmeans", 3, {"minibatch": "true"}, seed=2)
    assert type(model.estimator).__name__ == "MiniBatchKMeans"
    classes = predict_raster(scene, model)["classes"].values
    assert stripes(classes, truth) > 0.99
    model.save(tmp_path / "c.skops")
    loaded = RasterModel.load(tmp_path / "c.skops")
    assert loaded.class_map == model.class_map and not loaded.labels_are_codes
    np.testing.assert_array_equal(predict_raster(scene, loaded)["classes"].values, classes)


def test_sample_size_larger_than_valid_pixels_uses_all(scene_path, truth, caplog):
    with caplog.at_level(logging.INFO, logger="rasterclass"):
        model = fit_clusterer(open_scene(scene_path, chunks=20), "kmeans", 3, sample_size=10**7)
    assert model.summary["n_samples"] == int((truth > 0).sum())
    assert "clustering all of them" in caplog.text


@pytest.mark.parametrize("k", [1, 0, -3])
def test_fewer_than_two_clusters_is_refused(scene_path, k):
    with pytest.raises(EstimatorError, match="at least 2"):
        fit_clusterer(open_scene(scene_path), "kmeans", k)


def test_bad_parameters_name_the_valid_ones(scene_path):
    scene = open_scene(scene_path)
    with pytest.raises(EstimatorError, match=r"max_stdev.*valid ones:.*max_std"):
        fit_clusterer(scene, "isodata", 3, {"max_stdev": 5})
    with pytest.raises(EstimatorError, match="minibatch"):
        fit_clusterer(scene, "kmeans", 3, {"n_neighbours": 5})
    with pytest.raises(EstimatorError, match="with seed="):
        fit_clusterer(scene, "kmeans", 3, {"random_state": 5})
    with pytest.raises(EstimatorError, match="unknown clustering method"):
        fit_clusterer(scene, "dbscan", 3)
    with pytest.raises(EstimatorError, match="split_fraction"):
        fit_clusterer(scene, "isodata", 3, {"split_fraction": 5})


def test_all_nodata_scene_is_a_clear_error(tmp_path):
    data = np.full((2, 20, 30), np.nan, dtype=np.float32)
    path = write_raster(tmp_path / "empty.tif", data, nodata=float("nan"))
    with pytest.raises(ClusteringError, match="every pixel of the scene is nodata"):
        fit_clusterer(open_scene(path, chunks=8), "isodata", 3)


def test_parameters_that_leave_one_cluster_are_a_clear_error(scene_path):
    with pytest.raises(ClusteringError, match="ended with 1 cluster"):
        fit_clusterer(open_scene(scene_path), "isodata", 3, {"min_distance": 1e9, "max_std": 1e9})


def test_fewer_valid_pixels_than_clusters(tmp_path):
    data = np.full((2, 10, 10), np.nan, dtype=np.float32)
    data[:, 0, :3] = 1.0
    path = write_raster(tmp_path / "few.tif", data, nodata=float("nan"))
    with pytest.raises(ClusteringError, match="only 3 valid pixels for 5 clusters"):
        fit_clusterer(open_scene(path), "kmeans", 5)


# --- statistics ---------------------------------------------------------------------------
def test_statistics_chunked_equal_numpy(tmp_path, scene_path):
    scene = open_scene(scene_path, chunks=23)
    model = fit_clusterer(scene, "isodata", 3, sample_size=2000)
    classes = predict_raster(scene, model)["classes"]
    stats = cluster_statistics(scene, classes, model.class_map)
    data, labels = scene.values, classes.values
    for row in stats.itertuples():
        member = labels == row.code
        values = data[:, member].astype(np.float64)
        assert row.pixels == member.sum()
        assert row.area == pytest.approx(member.sum() * 900.0)
        assert row.area_ha == pytest.approx(member.sum() * 0.09)
        for i, band in enumerate(["blue", "green", "red"]):
            assert getattr(row, f"mean_{band}") == pytest.approx(values[i].mean(), rel=1e-9)
            assert getattr(row, f"std_{band}") == pytest.approx(values[i].std(), rel=1e-7)
    assert stats["share"].sum() == pytest.approx(1.0)
    in_memory = cluster_statistics(scene.compute(), classes.compute(), model.class_map)
    pd.testing.assert_frame_equal(stats, in_memory, rtol=1e-9)
    # CSV and JSON by extension, read back equal
    write_statistics(stats, tmp_path / "s.csv")
    write_statistics(stats, tmp_path / "s.json")
    for name in ("s.csv", "s.json"):
        back = read_table(tmp_path / name)
        np.testing.assert_allclose(back["mean_red"], stats["mean_red"], rtol=1e-9)
        assert back["name"].tolist() == list(model.class_map.names)
    payload = json.loads((tmp_path / "s.json").read_text())
    assert payload["area_unit"] == "metre^2" and payload["bands"] == ["blue", "green", "red"]


def test_statistics_identical_for_any_chunking(tmp_path):
    """The per-class means and standard deviations are the same to the last bit for any
    chunking of the scene and of the map, and in memory: they are summed in fixed 1024 px
    blocks (here three of them), not in the chunks."""
    scene_arr, _ = synthetic_arrays()
    tall = np.tile(scene_arr, (1, 36, 1))  # 2196 rows: blocks of 1024, 1024 and 148 rows
    tall[:, 900:1100] *= 1.3  # other values near the first block face
    path = write_raster(
        tmp_path / "tall.tif", tall, nodata=float("nan"), descriptions=["blue", "green", "red"]
    )
    rows, cols = np.indices(tall.shape[1:])
    codes = (1 + (rows // 5 + cols // 7) % 3).astype(np.uint8)
    codes[~np.isfinite(tall).all(axis=0)] = 0
    cmap = ClassMap.from_codes([1, 2, 3])
    oracle = cluster_statistics(
        open_scene(path).compute(), xr.DataArray(codes, dims=("y", "x")), cmap
    )
    for scene_chunks, map_chunks in ((100, 100), (333, 77), (1024, 512), (2000, 2196)):
        scene = open_scene(path, chunks=scene_chunks)
        classes = xr.DataArray(da.from_array(codes, chunks=map_chunks), dims=("y", "x"))
        pd.testing.assert_frame_equal(
            cluster_statistics(scene, classes, cmap), oracle, check_exact=True
        )
    member = codes == 2
    assert oracle["mean_blue"].iloc[1] == pytest.approx(tall[0][member].mean(dtype="f8"), rel=1e-12)


def test_statistics_of_an_empty_scene():
    """A scene of 0 rows has classes without pixels, not an error."""
    scene = xr.DataArray(np.zeros((3, 0, 5), "f4"), dims=("band", "y", "x"))
    scene = scene.assign_coords(band=["blue", "green", "red"])
    classes = xr.DataArray(np.zeros((0, 5), "u1"), dims=("y", "x"))
    stats = cluster_statistics(scene, classes, ClassMap.from_codes([1, 2]))
    assert stats["pixels"].tolist() == [0, 0] and stats["mean_red"].isna().all()


def test_statistics_of_a_numpy_map_equal_those_of_its_dataarray(scene_path):
    scene = open_scene(scene_path, chunks=20)
    codes = (1 + np.indices(scene.shape[1:]).sum(axis=0) % 2).astype(np.uint8)
    cmap = ClassMap.from_codes([1, 2])
    expected = cluster_statistics(scene, xr.DataArray(codes, dims=("y", "x")), cmap)
    pd.testing.assert_frame_equal(cluster_statistics(scene, codes, cmap), expected)
    with pytest.raises(ClassMapError, match="got 1 dimensions"):
        cluster_statistics(scene, codes.ravel(), cmap)


def test_statistics_of_an_empty_class_are_nan(scene_path):
    scene = open_scene(scene_path, chunks=30)
    classes = xr.zeros_like(scene.isel(band=0), dtype=np.uint8)
    classes[:, 10:20] = 1
    stats = cluster_statistics(scene, classes, ClassMap.from_codes([1, 2]))
    assert stats["pixels"].tolist()[1] == 0 and np.isnan(stats["mean_red"].iloc[1])
    # nodata pixels (NaN margin, cols 0-2) inside class 1 are not counted
    assert stats["pixels"].iloc[0] == 61 * 10


# --- labelling ----------------------------------------------------------------------------
@pytest.fixture
def cluster_map(tmp_path, scene_path):
    scene = open_scene(scene_path, chunks=20)
    model = fit_clusterer(scene, "kmeans", 3, seed=0)
    path = tmp_path / "clusters.tif"
    write_map(predict_raster(scene, model)["classes"], path, model.class_map)
    return path, model


def test_relabel_merges_keeps_nodata_and_writes_names_and_colours(tmp_path, cluster_map):
    path, _ = cluster_map
    before = read(path)
    table = tmp_path / "labels.csv"
    table.write_text("cluster,class\n1,water\ncluster 2,water\n3,forest\n")
    out = tmp_path / "classes.tif"
    result = relabel_map(path, table, out)
    after = read(out)
    cmap = read_class_map(out)
    assert cmap == result.class_map
    assert cmap.names == ("forest", "water") and cmap.codes == (1, 2)
    np.testing.assert_array_equal(after == 0, before == 0)
    np.testing.assert_array_equal(after[np.isin(before, [1, 2])], 2)
    np.testing.assert_array_equal(after[before == 3], 1)
    with rasterio.open(out) as src:
        assert src.nodata == 0 and src.dtypes[0] == "uint8"
        assert json.loads(src.tags()["CLASS_NAMES"]) == {"1": "forest", "2": "water"}
        assert src.colormap(1)[2][:3] == (0x2B, 0x6C, 0xD6)  # water is blue
        assert src.colormap(1)[1][:3] == (0x1B, 0x6B, 0x2E)  # forest is green


def test_relabel_is_lazy_and_accepts_codes_colours_and_a_mapping(cluster_map, forbid_compute):
    path, model = cluster_map
    classes = predict_raster(open_scene(Path(path).with_name("scene.tif"), chunks=20), model)[
        "classes"
    ]
    table = pd.DataFrame(
        {
            "cluster": [1, 2, 3],
            "class": ["a", "b", "a"],
            "code": [7, 9, 7],
            "color": ["#010203"] * 3,
        }
    )
    with forbid_compute():
        new, cmap = relabel(classes, model.class_map, table)
    assert isinstance(new.data, dask.array.Array)
    assert cmap.codes == (7, 9) and cmap.colors[0] == (1, 2, 3, 255)
    expected = np.array([0, 7, 9, 7])[classes.values]
    np.testing.assert_array_equal(new.values, expected)
    same, _ = relabel(classes, model.class_map, {"cluster 1": "a", "cluster 2": "b", 3: "a"})
    np.testing.assert_array_equal(same.values > 0, classes.values > 0)


def test_relabel_errors_list_the_clusters(cluster_map):
    _, model = cluster_map
    classes = xr.DataArray(np.array([[0, 1, 2, 3]], dtype="u1"), dims=("y", "x"))
    with pytest.raises(ClassMapError, match=r"does not list \['cluster 3'\].*keep_unlisted=True"):
        relabel(classes, model.class_map, {1: "water", 2: "forest"})
    new, cmap = relabel(classes, model.class_map, {1: "water", 2: "water"}, keep_unlisted=True)
    assert cmap.names == ("cluster 3", "water")
    assert new.values.tolist() == [[0, 2, 2, 1]]
    with pytest.raises(ClassMapError, match=r"cluster\(s\) \[7\]"):
        relabel(classes, model.class_map, {1: "a", 2: "a", 3: "b", 7: "c"})
    with pytest.raises(ClassMapError, match="two classes"):
        relabel(classes, model.class_map, pd.DataFrame({"cluster": [1, 1], "class": ["a", "b"]}))
    with pytest.raises(ClassMapError, match="'cluster' and 'class'"):
        relabel(classes, model.class_map, pd.DataFrame({"id": [1], "label": ["a"]}))


def test_recode_keeps_coords_and_zeroes_unknown_codes():
    classes = xr.DataArray(
        np.array([[0, 1, 2, 5]], dtype="u1"), dims=("y", "x"), coords={"x": [1, 2, 3, 4]}
    )
    out = recode(classes.chunk({"x": 2}), np.array([0, 3, 4], dtype="u1"))
    assert out.values.tolist() == [[0, 3, 4, 0]]
    assert out["x"].values.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("source", ["model", "stats"])
def test_suggest_labels_finds_the_stripes(tmp_path, scene_path, training_path, truth, source):
    scene = open_scene(scene_path, chunks=20)
    model = fit_clusterer(scene, "kmeans", 3, seed=0)
    classes = predict_raster(scene, model)["classes"]
    clusters = model if source == "model" else cluster_statistics(scene, classes, model.class_map)
    out = tmp_path / "labels.csv"
    table = suggest_labels(scene, clusters, training_path, "class", output=out)
    assert sorted(table["class"]) == ["forest", "urban", "water"]
    assert (table["distance"] < table["runner_up_distance"]).all()
    new, cmap = relabel(classes, model.class_map, read_table(out))
    lut = np.array([0, cmap.code_of("water"), cmap.code_of("forest"), cmap.code_of("urban")])
    assert (new.values == lut[truth]).mean() > 0.99


# --- the job and the CLI ------------------------------------------------------------------
def test_cluster_job_writes_map_stats_and_model(tmp_path, scene_path, truth):
    result = cluster(
        scene_path,
        tmp_path / "c.tif",
        "isodata",
        3,
        {"max_iter": 15},
        sample_size=2000,
        statistics=tmp_path / "c.json",
        model_output=tmp_path / "c.skops",
    )
    assert [Path(p).name for p in result.outputs] == ["c.skops", "c.tif", "c.json"]
    data = read(tmp_path / "c.tif")
    assert np.array_equal(data == 0, truth == 0)
    assert result.statistics["pixels"].sum() == (truth > 0).sum()
    counts = np.bincount(data.ravel(), minlength=4)[1:]
    assert result.statistics["pixels"].tolist() == counts.tolist()


@pytest.mark.slow
def test_cluster_identical_on_threads_and_local_cluster(tmp_path, scene_path, cluster_address):
    from rasterclass.jobs import SceneOptions
    from rasterclass.parallel import compute_on

    def job(name: str):
        return cluster(
            scene_path,
            tmp_path / f"{name}.tif",
            "isodata",
            3,
            sample_size=2000,
            statistics=tmp_path / f"{name}.csv",
            scene_options=SceneOptions(chunks=23),
        )

    threads = job("threads")
    with compute_on(scheduler=cluster_address):
        dist = job("dist")
    np.testing.assert_array_equal(read(tmp_path / "dist.tif"), read(tmp_path / "threads.tif"))
    pd.testing.assert_frame_equal(dist.statistics, threads.statistics, rtol=1e-9)


def test_cli_cluster_relabel_suggest_end_to_end(tmp_path, scene_path, training_path, truth):
    common = ["-m", "isodata", "-k", "3", "--sample-size", "3000", "--seed", "5"]
    res = run(
        "cluster",
        scene_path,
        *common,
        "-p",
        "max_iter=12",
        "-o",
        tmp_path / "a.tif",
        "--stats",
        tmp_path / "a.csv",
        "--save-model",
        tmp_path / "a.skops",
        "--chunks",
        "17",
    )
    assert "isodata: 3 clusters" in res.output and "cluster 1" in res.output
    assert "done in" in res.output
    run("cluster", scene_path, *common, "-p", "max_iter=12", "-o", tmp_path / "b.tif")
    np.testing.assert_array_equal(read(tmp_path / "a.tif"), read(tmp_path / "b.tif"))
    model = RasterModel.load(tmp_path / "a.skops")
    direct = predict_raster(open_scene(scene_path), model)["classes"].values
    np.testing.assert_array_equal(read(tmp_path / "a.tif"), direct)

    for source in ("a.skops", "a.csv"):
        res = run(
            "suggest-labels",
            scene_path,
            "--model",
            tmp_path / source,
            "-t",
            training_path,
            "-c",
            "class",
            "-o",
            tmp_path / "labels.csv",
            "--overwrite",
        )
        assert "-> water" in res.output
    res = run(
        "relabel", tmp_path / "a.tif", "--table", tmp_path / "labels.csv", "-o", tmp_path / "l.tif"
    )
    assert "3 classes" in res.output
    labelled = read(tmp_path / "l.tif")
    cmap = read_class_map(tmp_path / "l.tif")
    lut = np.array([0, cmap.code_of("water"), cmap.code_of("forest"), cmap.code_of("urban")])
    assert (labelled == lut[truth]).mean() > 0.99


def test_cli_cluster_min_max_clusters(tmp_path, scene_path, truth):
    # θ_S = θ_C = 0: clusters keep splitting and are never lumped, until the bound stops them.
    grow = ["-m", "isodata", "-k", "2", "--sample-size", "3000", "--seed", "5"]
    grow += ["-p", "max_std=0", "-p", "min_distance=0"]
    res = run("cluster", scene_path, *grow, "-o", tmp_path / "free.tif")
    assert "isodata: 4 clusters (asked 2)" in res.output  # default max_clusters = 2K
    res = run("cluster", scene_path, *grow, "-p", "max_clusters=3", "-o", tmp_path / "cap.tif")
    assert "isodata: 3 clusters (asked 2)" in res.output
    assert stripes(read(tmp_path / "cap.tif"), truth) > 0.99
    res = run("cluster", "--help")
    assert "max_clusters=N" in res.output and "min_clusters=N" in res.output


def assert_clean_failure(tmp_path: Path, args: list, match: str) -> None:
    before = {p.name for p in tmp_path.iterdir()}
    res = run(*args, ok=False)
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.startswith("Error")]
    assert len(lines) == 1 and match in lines[0], res.output
    assert {p.name for p in tmp_path.iterdir()} == before


def test_cli_bad_inputs(tmp_path, scene_path):
    out = tmp_path / "o.tif"
    lump_all = ["-p", "min_distance=1e9", "-p", "max_std=1e9"]
    assert_clean_failure(tmp_path, ["cluster", scene_path, "-k", "1", "-o", out], "at least 2")
    assert_clean_failure(
        tmp_path,
        ["cluster", scene_path, "-m", "isodata", "-p", "theta_s=3", "-o", out],
        "valid ones",
    )
    assert_clean_failure(
        tmp_path,
        ["cluster", scene_path, "-m", "isodata", "-k", "3", "-o", out, *lump_all],
        "ended with 1 cluster",
    )
    assert_clean_failure(
        tmp_path, ["cluster", scene_path, "-o", out, "--stats", tmp_path / "s.txt"], ".csv or .json"
    )
    assert_clean_failure(
        tmp_path,
        ["cluster", scene_path, "-m", "isodata", "-k", "3", "-p", "min_clusters=4", "-o", out],
        "min_clusters=4 is more than n_clusters=3",
    )
    empty = write_raster(tmp_path / "empty.tif", np.full((2, 9, 9), np.nan, "f4"), nodata=np.nan)
    assert_clean_failure(tmp_path, ["cluster", empty, "-o", out], "nodata")


def test_cli_relabel_unlisted_cluster_fails_cleanly(tmp_path, cluster_map):
    path, _ = cluster_map
    table = tmp_path / "t.csv"
    table.write_text("cluster,class\n1,water\n2,forest\n")
    assert_clean_failure(
        tmp_path,
        ["relabel", path, "--table", table, "-o", tmp_path / "o.tif"],
        "does not list ['cluster 3']",
    )
    run("relabel", path, "--table", table, "-o", tmp_path / "o.tif", "--keep-unlisted")
    assert read_class_map(tmp_path / "o.tif").names == ("cluster 3", "forest", "water")


# --- real data ----------------------------------------------------------------------------
def nodata_mask(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        data = src.read()
        return (data == src.nodata).any(axis=0)


@needs_shared(RGB)
def test_rgb_isodata_nodata_is_zero_and_only_nodata(tmp_path):
    scene = RGB / "RGB.byte.tif"
    out = tmp_path / "rgb.tif"
    run("cluster", scene, "-m", "isodata", "-k", "6", "-o", out, "--chunks", "200")
    data = read(out)
    nodata = nodata_mask(scene)
    assert nodata.any() and (~nodata).any()
    np.testing.assert_array_equal(data == 0, nodata)


@needs_shared(LSAT)
def test_landsat_isodata_separates_water_from_forest(tmp_path):
    scene = LSAT / "lsat_stack_B1-B7.tif"
    out = tmp_path / "lsat.tif"
    res = run("cluster", scene, "-m", "isodata", "-k", "6", "-o", out, "--chunks", "100")
    data = read(out)
    np.testing.assert_array_equal(data == 0, nodata_mask(scene))
    polys = gpd.read_file(LSAT / "trainingPolygons_lsat.gpkg")
    with rasterio.open(out) as src:
        shape, transform = src.shape, src.transform

    def inside(name: str) -> np.ndarray:
        geoms = polys[polys["class"] == name].geometry
        return rasterize(geoms, out_shape=shape, transform=transform) == 1

    # max_clusters defaults to 2K = 12 (one split step once took this scene from 10 to 15).
    n_clusters = int(res.output.split("isodata: ", 1)[1].split(" clusters", 1)[0])
    assert len(np.unique(data[data > 0])) <= n_clusters <= 12
    water, forest = data[inside("water")], data[inside("forest")]
    codes, counts = np.unique(water, return_counts=True)
    best = codes[counts.argmax()]
    water_share = counts.max() / water.size
    forest_share = float((forest == best).mean())
    print(f"landsat isodata: water {water_share:.3f} in cluster {best}, forest {forest_share:.3f}")
    assert best != 0
    assert water_share >= 0.90
    assert forest_share <= 0.10
