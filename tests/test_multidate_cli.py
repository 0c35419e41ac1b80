"""Multi-date stacks from the command line: ``--date`` per scene file, ``--multi-date``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

import rasterclass as rc
from tests.conftest import read_band, run_cli, synthetic_arrays, write_raster

DATES = ("2024-06-12", "2024-07-03")
COMMON = ("-c", "class", "-p", "n_estimators=10", "--cv", "0")


def two_dates(tmp_path: Path, stem: str = "scene", tags: tuple[str, ...] = ()) -> list[Path]:
    """Two 3-band scenes of one grid; the second has the urban stripe brighter."""
    first, _ = synthetic_arrays()
    second = first.copy()
    second[:, :, 2 * first.shape[2] // 3 :] += 0.2
    paths = []
    for i, data in enumerate((first, second)):
        path = tmp_path / f"{stem}_{i}.tif"
        write_raster(path, data, nodata=float("nan"), descriptions=["blue", "green", "red"])
        if tags:
            with rasterio.open(path, "r+") as dst:
                dst.update_tags(TIFFTAG_DATETIME=tags[i])
        paths.append(path)
    return paths


def test_classify_with_dates_names_bands_and_predict_matches(tmp_path, training_path):
    scenes = two_dates(tmp_path)
    model = tmp_path / "model.skops"
    dates = ["--date", DATES[0], "--date", DATES[1]]
    run_cli(
        "classify", *scenes, *dates, "-t", training_path, *COMMON,
        "-o", tmp_path / "map.tif", "--save-model", model,
    )  # fmt: skip
    names = rc.RasterModel.load(model).band_names
    assert names == [f"{b}@{d}" for d in DATES for b in ("blue", "green", "red")]
    first = read_band(tmp_path / "map.tif")
    assert set(np.unique(first)) == {0, 1, 2, 3}
    run_cli("predict", *scenes, *dates, "--model", model, "-o", tmp_path / "again.tif")
    np.testing.assert_array_equal(read_band(tmp_path / "again.tif"), first)
    # another pair of dates: matched by position in time (earliest with earliest), given in
    # any order of files, with the dates as one comma list
    run_cli(
        "predict", scenes[1], scenes[0], "--date", "2025-07-01,2025-06-01",
        "--model", model, "-o", tmp_path / "later.tif",
    )  # fmt: skip
    np.testing.assert_array_equal(read_band(tmp_path / "later.tif"), first)


def test_wrong_number_of_dates_names_the_option(tmp_path, training_path):
    scenes = two_dates(tmp_path)
    refused = run_cli(
        "train", *scenes, "--date", DATES[0], "-t", training_path, *COMMON,
        "-o", tmp_path / "m.skops", ok=False,
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "2 scene(s) and 1 date(s)" in refused.output and "--date" in refused.output
    assert not (tmp_path / "m.skops").exists()
    model = tmp_path / "model.skops"
    run_cli(
        "train", *scenes, "--date", DATES[0], "--date", DATES[1], "-t", training_path,
        *COMMON, "-o", model,
    )  # fmt: skip
    # a model of two dates, a scene of one date, or of no dates at all
    one = run_cli(
        "predict", scenes[0], "--date", DATES[0], "--model", model, "-o", tmp_path / "x.tif",
        ok=False,
    )  # fmt: skip
    assert "trained on 2 date(s)" in one.output and "--date" in one.output
    plain = run_cli("predict", *scenes, "--model", model, "-o", tmp_path / "y.tif", ok=False)
    assert "--date" in plain.output and "--multi-date" in plain.output
    assert not (tmp_path / "x.tif").exists() and not (tmp_path / "y.tif").exists()


def test_multi_date_reads_dates_from_tags_and_file_names(tmp_path, training_path):
    # the first file is tagged July, the second June
    tagged = two_dates(tmp_path, tags=("2024:07:03 10:00:00", "2024:06:12 10:00:00"))
    model = tmp_path / "model.skops"
    run_cli(
        "classify", *tagged, "--multi-date", "-t", training_path, *COMMON,
        "-o", tmp_path / "map.tif", "--save-model", model,
    )  # fmt: skip
    names = rc.RasterModel.load(model).band_names
    assert names[:3] == ["blue@2024-06-12", "green@2024-06-12", "red@2024-06-12"]
    assert names[3:] == ["blue@2024-07-03", "green@2024-07-03", "red@2024-07-03"]
    # the same data without tags, its dates in the file names (June: the second data)
    june, july = two_dates(tmp_path, stem="other")[::-1]
    named = [june.rename(tmp_path / "S2_20250601.tif"), july.rename(tmp_path / "S2_20250701.tif")]
    run_cli("predict", *named[::-1], "--multi-date", "--model", model, "-o", tmp_path / "p.tif")
    np.testing.assert_array_equal(read_band(tmp_path / "p.tif"), read_band(tmp_path / "map.tif"))
