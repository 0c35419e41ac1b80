"""The CLI end to end, and every bad input: one clear line, no output file."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import box

from rasterclass import ClassMap, RasterModel
from rasterclass.cli.main import cli
from tests.conftest import CRS, TRANSFORM, synthetic_arrays, write_raster
from tests.conftest import read_band as read
from tests.conftest import run_cli as run


def test_classify_writes_map_and_prints_summary(tmp_path, scene_path, training_path, truth):
    out = tmp_path / "map.tif"
    res = run(
        "classify",
        scene_path,
        "-t",
        training_path,
        "-c",
        "class",
        "-o",
        out,
        "-p",
        "n_estimators=30",
        "--probabilities",
        tmp_path / "p.tif",
    )
    assert "3 classes" in res.output and "water" in res.output and "done in" in res.output
    data = read(out)
    assert np.array_equal(data == 0, truth == 0)
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.count == 4


def test_train_then_predict_equals_classify(tmp_path, scene_path, training_path):
    common = ["-t", training_path, "-c", "class", "-m", "rf", "--seed", "7"]
    run("classify", scene_path, *common, "-o", tmp_path / "a.tif")
    run("train", scene_path, *common, "-o", tmp_path / "m.skops")
    run(
        "predict",
        scene_path,
        "--model",
        tmp_path / "m.skops",
        "-o",
        tmp_path / "b.tif",
        "--chunks",
        "17",
    )
    np.testing.assert_array_equal(read(tmp_path / "a.tif"), read(tmp_path / "b.tif"))


def test_seed_changes_and_reproduces(tmp_path, scene_path, training_path):
    args = [
        "-t",
        training_path,
        "-c",
        "class",
        "-p",
        "n_estimators=5",
        "--max-samples-per-class",
        "20",
    ]
    run("classify", scene_path, *args, "--seed", "1", "-o", tmp_path / "a.tif")
    run("classify", scene_path, *args, "--seed", "1", "-o", tmp_path / "b.tif")
    np.testing.assert_array_equal(read(tmp_path / "a.tif"), read(tmp_path / "b.tif"))


def test_bands_given_in_another_order_are_matched_by_name(tmp_path, training_path):
    scene, _ = synthetic_arrays()
    files = [
        write_raster(tmp_path / f"S_{n}.tif", scene[i], nodata=float("nan"))
        for i, n in enumerate(["B1", "B2", "B3"])
    ]
    run("train", *files, "-t", training_path, "-c", "class", "-o", tmp_path / "m.skops")
    run("predict", *files, "--model", tmp_path / "m.skops", "-o", tmp_path / "a.tif")
    run(
        "predict",
        files[2],
        files[0],
        files[1],
        "--model",
        tmp_path / "m.skops",
        "-o",
        tmp_path / "b.tif",
    )
    np.testing.assert_array_equal(read(tmp_path / "a.tif"), read(tmp_path / "b.tif"))


# --- bad input: one line naming the fix, exit code 1, no output ----------------------------
def assert_clean_failure(tmp_path: Path, args: list, match: str) -> None:
    before = {p.name for p in tmp_path.iterdir()}
    res = run(*args, ok=False)
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.startswith("Error")]
    assert len(lines) == 1, res.output
    assert "Traceback" not in res.output
    assert match in lines[0], lines[0]
    after = {p.name for p in tmp_path.iterdir()}
    assert after == before, after - before


def test_scene_without_crs(tmp_path, training_path):
    scene, _ = synthetic_arrays()
    path = write_raster(tmp_path / "nocrs.tif", scene, crs=None)
    assert_clean_failure(
        tmp_path,
        ["classify", path, "-t", training_path, "-c", "class", "-o", tmp_path / "o.tif"],
        "no coordinate reference system",
    )


def test_training_without_crs(tmp_path, scene_path):
    gdf = gpd.GeoDataFrame({"class": ["a", "b"]}, geometry=[box(0, 0, 1, 1), box(1, 1, 2, 2)])
    gdf.to_file(tmp_path / "nocrs.shp")  # a shapefile without .prj
    assert not (tmp_path / "nocrs.prj").exists()
    assert_clean_failure(
        tmp_path,
        [
            "classify",
            scene_path,
            "-t",
            tmp_path / "nocrs.shp",
            "-c",
            "class",
            "-o",
            tmp_path / "o.tif",
        ],
        "has no CRS",
    )


def test_polygons_that_miss_the_scene(tmp_path, scene_path):
    gdf = gpd.GeoDataFrame(
        {"class": ["a", "b"]}, geometry=[box(0, 0, 100, 100), box(200, 200, 300, 300)], crs=CRS
    )
    gdf.to_file(tmp_path / "far.gpkg")
    assert_clean_failure(
        tmp_path,
        [
            "classify",
            scene_path,
            "-t",
            tmp_path / "far.gpkg",
            "-c",
            "class",
            "-o",
            tmp_path / "o.tif",
        ],
        "overlaps the scene",
    )


def test_unknown_class_column(tmp_path, scene_path, training_path):
    assert_clean_failure(
        tmp_path,
        ["classify", scene_path, "-t", training_path, "-c", "landcover", "-o", tmp_path / "o.tif"],
        "no column 'landcover'",
    )


def test_one_class_only(tmp_path, scene_path, training_path):
    gdf = gpd.read_file(training_path)
    gdf["one"] = "water"
    gdf.to_file(tmp_path / "one.gpkg")
    assert_clean_failure(
        tmp_path,
        [
            "classify",
            scene_path,
            "-t",
            tmp_path / "one.gpkg",
            "-c",
            "one",
            "-o",
            tmp_path / "o.tif",
        ],
        "one class only",
    )


def test_incompatible_grids_without_reference(tmp_path, training_path):
    scene, _ = synthetic_arrays()
    a = write_raster(tmp_path / "a.tif", scene[0])
    moved = Affine(30.0, 0, TRANSFORM.c + 1000, 0, -30.0, TRANSFORM.f)
    b = write_raster(tmp_path / "b.tif", scene[1], transform=moved)
    assert_clean_failure(
        tmp_path,
        ["classify", a, b, "-t", training_path, "-c", "class", "-o", tmp_path / "o.tif"],
        "--grid-like",
    )


def test_grid_like_and_its_hidden_alias_reference_give_the_same_map(tmp_path, training_path):
    """Scene files on other grids go onto --grid-like's grid; the old spelling --reference
    still parses (hidden from help) and gives the same map; assess keeps -r/--reference."""
    scene, _ = synthetic_arrays()
    a = write_raster(tmp_path / "a.tif", scene[0], nodata=float("nan"))
    moved = Affine(30.0, 0, TRANSFORM.c + 90, 0, -30.0, TRANSFORM.f)
    b = write_raster(tmp_path / "b.tif", scene[1], nodata=float("nan"), transform=moved)
    common = ["-t", training_path, "-c", "class", "-p", "n_estimators=5", "--cv", "0"]
    run("classify", a, b, *common, "--grid-like", a, "-o", tmp_path / "new.tif")
    run("classify", a, b, *common, "--reference", a, "-o", tmp_path / "old.tif")
    new, old = read(tmp_path / "new.tif"), read(tmp_path / "old.tif")
    assert (new > 0).any()
    np.testing.assert_array_equal(new, old)
    for command in ("classify", "predict", "train", "cluster", "segment", "plan"):
        shown = run(command, "--help").output
        assert "--grid-like" in shown and "--reference" not in shown, command
    assert "-r, --reference" in run("assess", "--help").output


def test_model_on_scene_with_other_bands(tmp_path, scene_path, training_path):
    run("train", scene_path, "-t", training_path, "-c", "class", "-o", tmp_path / "m.skops")
    scene, _ = synthetic_arrays()
    other = write_raster(
        tmp_path / "two.tif", scene[:2], nodata=float("nan"), descriptions=["blue", "green"]
    )
    assert_clean_failure(
        tmp_path,
        ["predict", other, "--model", tmp_path / "m.skops", "-o", tmp_path / "o.tif"],
        "missing ['red']",
    )


def test_existing_output_without_overwrite(tmp_path, scene_path, training_path):
    out = tmp_path / "o.tif"
    out.write_bytes(b"keep me")
    assert_clean_failure(
        tmp_path,
        ["classify", scene_path, "-t", training_path, "-c", "class", "-o", out],
        "--overwrite",
    )
    assert out.read_bytes() == b"keep me"
    run("classify", scene_path, "-t", training_path, "-c", "class", "-o", out, "--overwrite")
    assert read(out).max() > 0


def test_corrupt_raster(tmp_path, training_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00garbage" * 10)
    assert_clean_failure(
        tmp_path,
        ["classify", bad, "-t", training_path, "-c", "class", "-o", tmp_path / "o.tif"],
        "corrupt",
    )


def test_untrusted_model_file_is_refused(tmp_path, scene_path):
    import skops.io as sio

    sio.dump({"format": "rasterclass-model", "estimator": Path("x")}, tmp_path / "evil.skops")
    assert_clean_failure(
        tmp_path,
        ["predict", scene_path, "--model", tmp_path / "evil.skops", "-o", tmp_path / "o.tif"],
        "does not trust",
    )


def test_unknown_parameter(tmp_path, scene_path, training_path):
    assert_clean_failure(
        tmp_path,
        [
            "classify",
            scene_path,
            "-t",
            training_path,
            "-c",
            "class",
            "-p",
            "trees=5",
            "-o",
            tmp_path / "o.tif",
        ],
        "unknown parameter",
    )


def test_verbose_shows_traceback(tmp_path, training_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"garbage")
    from rasterclass.errors import RasterclassIOError

    with pytest.raises(RasterclassIOError):
        CliRunner().invoke(
            cli,
            [
                "-v",
                "classify",
                str(bad),
                "-t",
                str(training_path),
                "-c",
                "class",
                "-o",
                str(tmp_path / "o.tif"),
            ],
            catch_exceptions=False,
        )


def test_quicklook_renders_a_png_with_legend(tmp_path, scene_path, training_path):
    run(
        "classify",
        scene_path,
        "-t",
        training_path,
        "-c",
        "class",
        "-o",
        tmp_path / "m.tif",
        "--cv",
        "0",
    )
    run("quicklook", tmp_path / "m.tif", "-o", tmp_path / "m.png")
    data = (tmp_path / "m.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert_clean_failure(
        tmp_path, ["quicklook", tmp_path / "m.tif", "-o", tmp_path / "m.png"], "--overwrite"
    )


def test_classify_object_based_from_the_cli(tmp_path, scene_path, training_path, truth):
    out = tmp_path / "obj.tif"
    res = run(
        "classify",
        scene_path,
        "-t",
        training_path,
        "-c",
        "class",
        "--object-based",
        "--segment-param",
        "min_size=10",
        "--cv",
        "0",
        "-o",
        out,
    )
    assert "training segments" in res.output
    data = read(out)
    assert np.array_equal(data == 0, truth == 0)
    with rasterio.open(out) as src:
        assert src.tags()["RASTERCLASS_OBJECT_BASED"] == "true"
    # the stripes are found: each stripe's majority class covers almost all its pixels
    for stripe in (1, 2, 3):
        codes = data[truth == stripe]
        assert np.bincount(codes).max() / codes.size > 0.95
    res = run(
        "classify",
        scene_path,
        "-t",
        training_path,
        "-c",
        "class",
        "--segments",
        out,
        "-o",
        tmp_path / "x.tif",
        ok=False,
    )
    assert res.exit_code == 2
    assert "--object-based" in res.output
    assert not (tmp_path / "x.tif").exists()


def test_an_object_based_model_is_saved_and_applied_by_predict(tmp_path, scene_path, training_path):
    """`classify --object-based --save-model` stopped with a TypeError traceback (the
    training segment ids, a numpy array, in the model's JSON metadata); predict then got a
    list of 29 "missing bands" instead of the reason. Now predict segments the scene as the
    model records and paints the map classify wrote."""
    model = tmp_path / "obj.skops"
    args = [scene_path, "-t", training_path, "-c", "class", "--object-based"]
    run("classify", *args, "--segment-param", "min_size=10", "--cv", "0",
        "-o", tmp_path / "obj.tif", "--save-model", model)  # fmt: skip
    loaded = RasterModel.load(model)
    assert loaded.summary["object_based"] is True and "segments" not in loaded.summary
    assert loaded.summary["segmentation"]["params"]["min_size"] == 10
    run("predict", scene_path, "--model", model, "-o", tmp_path / "p.tif")
    assert np.array_equal(read(tmp_path / "p.tif"), read(tmp_path / "obj.tif"))


def test_numpy_values_in_model_metadata_are_saved(tmp_path):
    """Any numpy value a summary picks up is written as JSON (NaN kept), never a crash."""
    from sklearn.neighbors import KNeighborsClassifier

    est = KNeighborsClassifier(1).fit([[0.0], [1.0]], [1, 2])
    summary = {"ids": np.arange(3), "n": np.int64(4), "nodata": np.float32("nan")}
    model = RasterModel(est, ["b"], ClassMap.from_codes([1, 2]), summary=summary)
    back = RasterModel.load(model.save(tmp_path / "m.skops"))
    assert back.summary["ids"] == [0, 1, 2] and back.summary["n"] == 4
    assert np.isnan(back.summary["nodata"])
