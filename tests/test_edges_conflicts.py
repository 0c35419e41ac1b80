"""Session 4 edges: options that contradict each other (or do nothing without another) are
refused before any work, a band role given twice names both bands, an index the named sensor
cannot give says so, and CSV area tables carry no float noise."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

import rasterclass as rc
from rasterclass.cli.main import cli
from rasterclass.datasets import example_array
from rasterclass.errors import BandMismatchError, OptionConflictError
from rasterclass.features import FeatureRecipe, add_features, band_roles
from rasterclass.parallel import compute_on
from tests.conftest import CRS, TRANSFORM, pixel_box

SAMPLE = Path(rc.__file__).parents[2] / "sample_data"
#: A float printed with every digit of its binary value (0.30000000000000004, 0.6299999999).
NOISE = re.compile(r"\d\.\d*(?:0{8,}|9{8,})\d")


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_line(result) -> str:
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


# ------------------------------------------------------------------------------------------
# Item 1: a local cluster and a remote scheduler; -q with -v
# ------------------------------------------------------------------------------------------
def test_compute_on_refuses_a_scheduler_and_local_workers():
    refused = pytest.raises(OptionConflictError, match=r"workers=2 and scheduler=tcp://\S+ contr")
    with refused, compute_on("tcp://127.0.0.1:1", 2):
        pass  # pragma: no cover


@pytest.mark.parametrize(
    "args",
    [
        ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1", "predict"],
        ["--workers", "2", "predict", "--scheduler", "tcp://127.0.0.1:1"],
    ],
)
def test_cli_refuses_workers_with_scheduler(tmp_path, args):
    out = tmp_path / "map.tif"
    line = error_line(invoke(*args, tmp_path / "s.tif", "--model", tmp_path / "m", "-o", out))
    assert "--workers 2 and --scheduler tcp://127.0.0.1:1 contradict" in line, line
    assert "leave one out" in line and "workers=" not in line
    assert not out.exists()


def test_cli_refuses_quiet_with_verbose(scene_path):
    result = invoke("-q", "plan", scene_path, "-v")
    assert result.exit_code == 2, result.output
    assert "-q/--quiet" in result.output and "contradict" in result.output


# ------------------------------------------------------------------------------------------
# Item 2: --date with --multi-date
# ------------------------------------------------------------------------------------------
def test_scene_options_refuse_dates_with_multi_date():
    with pytest.raises(OptionConflictError, match=r"dates= and multi_date=True contradict"):
        rc.SceneOptions(dates=["2024-06-12", "2024-07-03"], multi_date=True)
    assert rc.SceneOptions(dates=["2024-06-12"]).dates == ["2024-06-12"]


@pytest.mark.parametrize(
    "command",
    [
        ["classify", "-t", "t.gpkg", "-c", "class"],
        ["train", "-t", "t.gpkg", "-c", "class"],
        ["predict", "--model", "m.skops"],
        ["cluster"],
    ],
)
def test_cli_refuses_date_with_multi_date(tmp_path, command):
    out = tmp_path / "out.tif"
    dates = ["--date", "2024-06-12", "--date", "2024-07-03", "--multi-date"]
    line = error_line(invoke(*command, tmp_path / "a.tif", tmp_path / "b.tif", *dates, "-o", out))
    assert "--date and --multi-date contradict each other" in line, line
    assert "not both" in line and "dates=" not in line
    assert not out.exists()


# ------------------------------------------------------------------------------------------
# Item 1: options that do nothing without another (assess, sample)
# ------------------------------------------------------------------------------------------
def test_assess_refuses_fpc_and_strata_without_the_stratified_design(tmp_path):
    missing = tmp_path / "no_map.tif"  # refused before the map is opened
    with pytest.raises(OptionConflictError, match=r"fpc=True has no effect without design="):
        rc.assess(missing, tmp_path / "ref.gpkg", "class", fpc=True)
    with pytest.raises(OptionConflictError, match=r"strata= has no effect without design="):
        rc.assess(missing, tmp_path / "ref.gpkg", "class", strata=tmp_path / "s.tif")
    out = tmp_path / "report.json"
    line = error_line(invoke("assess", missing, "-r", "r.gpkg", "-c", "c", "-o", out, "--fpc"))
    assert "--fpc has no effect without --design stratified" in line, line
    assert not out.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 10, "target_se": 0.01}, r"n=10 and target_se=0.01 contradict"),
        ({"n": 10, "expected_ua": {"a": 0.8}}, r"expected_ua= has no effect without target_se"),
        ({"n": 10, "training": "t.gpkg"}, r"training= has no effect without min_distance"),
        ({"n": 10, "min_distance": 50.0}, r"min_distance=50.0 has no effect without training"),
    ],
)
def test_draw_sample_refuses_options_it_would_ignore(tmp_path, kwargs, message):
    with pytest.raises(OptionConflictError, match=message):
        rc.draw_sample(tmp_path / "no_map.tif", **kwargs)  # before the map is read


def test_cli_sample_names_the_options(tmp_path):
    out = tmp_path / "points.gpkg"
    line = error_line(invoke("sample", "m.tif", "-n", 10, "--target-se", 0.01, "-o", out))
    assert "-n 10 and --target-se 0.01 contradict" in line, line
    line = error_line(invoke("sample", "m.tif", "-n", 10, "-t", "t.gpkg", "-o", out))
    assert "--training has no effect without --min-distance" in line, line


def test_cv_pixels_without_cross_validation(tmp_path, scene_path):
    with pytest.raises(OptionConflictError, match="cv_grouping=pixel has no effect without cv_"):
        rc.jobs.check_training(rc.TrainingOptions(cv_folds=0, cv_grouping="pixel"))
    line = train_error(tmp_path, scene_path, "--cv", 0, "--cv-pixels")
    assert "--cv-pixels has no effect without --cv 5" in line, line


# ------------------------------------------------------------------------------------------
# Item 3: a band role given twice
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bands", ["red=B4,nir=B8,red=B3", {"red": "B4", "nir": "B8", "RED": "B3"}, "Red=B4,red=B3"]
)
def test_a_role_given_to_two_bands_names_both(bands):
    with pytest.raises(BandMismatchError, match=r"red role twice.*'B4'.*'B3'"):
        band_roles(["B3", "B4", "B8"], bands)
    with pytest.raises(BandMismatchError, match=r"red role twice"):
        FeatureRecipe(indices=("ndvi",), bands=bands).check()


def test_a_role_repeated_with_its_band_and_two_sensors():
    assert band_roles(["B4", "B8"], "red=B4,nir=B8,red=B4") == {"red": "B4", "nir": "B8"}
    with pytest.raises(BandMismatchError, match="two sensors, landsat-oli and sentinel-2"):
        band_roles(["B4", "B8"], "landsat-8,sentinel-2")


def train_error(folder: Path, scene: Path, *options: object) -> str:
    """The error line of ``train`` with these options (nothing written)."""
    out = folder / "model.skops"
    line = error_line(invoke("train", scene, "-t", "t.gpkg", "-c", "class", "-o", out, *options))
    assert not out.exists()
    return line


def test_cli_role_twice(tmp_path, scene_path):
    line = train_error(tmp_path, scene_path, "--indices", "ndvi", "--bands", "red=red,red=green")
    assert "--bands gives the red role twice" in line and "'green'" in line, line


# ------------------------------------------------------------------------------------------
# Item 4: NDRE on a Landsat scene
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("preset", "sensor"), [("landsat-8", "landsat-oli"), ("tm", "landsat-tm")])
def test_ndre_on_landsat_says_there_is_no_red_edge_band(preset, sensor):
    with pytest.raises(BandMismatchError) as info:
        FeatureRecipe(indices=("ndvi", "ndre"), bands=preset).check()
    text = str(info.value)
    assert f"the {sensor} sensor named in bands= has no red-edge band, which ndre" in text, text
    assert "leave ndre out of indices=" in text and "can give are ndvi, ndwi, mndwi" in text
    assert "ndre" not in text.split("can give")[-1] and "name the sensor" not in text
    # a red-edge band given by role is used
    FeatureRecipe(indices=("ndre",), bands=f"{preset},rededge1=RE").check()


def test_ndre_on_landsat_from_the_cli_and_the_change_map(tmp_path, scene_path):
    line = train_error(tmp_path, scene_path, "--indices", "ndre", "--bands", "landsat-8")
    assert "red-edge band" in line and "--indices" in line and "--bands" in line, line
    with pytest.raises(BandMismatchError, match=r"red-edge band.*leave ndre out of index="):
        rc.change_map(tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "c.tif",
                      index="ndre", bands="landsat-tm")  # fmt: skip
    line = error_line(
        invoke("change", "a.tif", "b.tif", "--index", "ndre", "--bands", "tm", "-o", "c.tif")
    )
    assert "leave ndre out of --index" in line, line


def test_a_named_sensor_without_the_band_is_not_told_to_name_the_sensor():
    scene = example_array(np.ones((3, 2, 2), "f4"), band_names=["blue", "green", "red"])
    with pytest.raises(BandMismatchError) as info:
        add_features(scene, FeatureRecipe(indices=("ndvi",), bands="landsat-oli"))
    text = str(info.value)
    assert "landsat-oli sensor's (nir = B5)" in text and "name the sensor" not in text, text


# ------------------------------------------------------------------------------------------
# Item 5: CSV area tables without float noise
# ------------------------------------------------------------------------------------------
@pytest.fixture
def noisy_map(tmp_path):
    """A 40 x 50 map of 30 m pixels (0.09 ha: sums of them rarely print short)."""
    codes = np.random.default_rng(5).integers(0, 4, (40, 50)).astype(np.uint8)
    arr = xr.DataArray(codes, dims=("y", "x")).rio.write_crs(CRS).rio.write_transform(TRANSFORM)
    cmap = rc.ClassMap.from_codes([1, 2, 3], ["water", "forest", "urban"])
    path = rc.write_map(arr, tmp_path / "map.tif", cmap)
    boxes = [
        pixel_box(r, c, r + 7 + r % 5, c + 9 + c % 4) for r in range(0, 33, 4) for c in (0, 20)
    ]
    zones = gpd.GeoDataFrame({"zone_id": range(1, len(boxes) + 1)}, geometry=boxes, crs=CRS)
    layer = tmp_path / "layer.tif"
    values = np.random.default_rng(6).random((1, 40, 50)).astype("f4")
    xr.DataArray(values, dims=("band", "y", "x")).rio.write_crs(CRS).rio.write_transform(
        TRANSFORM
    ).rio.to_raster(layer)
    return Path(path), zones, layer


def test_zonal_csv_rounds_areas_shares_and_means(tmp_path, noisy_map):
    map_path, zones, layer = noisy_map
    table = rc.zonal_summary(map_path, zones, "zone_id", layers=[layer])
    csv, js = tmp_path / "zones.csv", tmp_path / "zones.json"
    for out in (csv, js):
        rc.zonal_map(map_path, zones, "zone_id", output=out, layers=[layer])
    text = csv.read_text()
    assert not NOISE.search(text), NOISE.search(text)
    back = pd.read_csv(csv, index_col="zone_id")
    areas = [c for c in back.columns if c.startswith("area_ha_")]
    shares = [c for c in back.columns if c.startswith("share_")]
    np.testing.assert_allclose(back[areas], table[areas], atol=5e-7, rtol=0)
    np.testing.assert_allclose(back[shares], table[shares], atol=5e-10, rtol=0)
    means = [c for c in back.columns if c.startswith("mean_")]
    assert means
    np.testing.assert_allclose(back[means], table[means], rtol=1e-9)
    # the exact sums still hold on the written table, to its rounding
    np.testing.assert_allclose(back[areas].sum(axis=1), back["valid_ha"], atol=5e-6)
    on = back["valid_pixels"] > 0
    np.testing.assert_allclose(back.loc[on, shares].sum(axis=1), 1.0, atol=5e-9)
    counts = [c for c in back.columns if c.startswith("pixels")]
    assert (back[counts] == table[counts]).all().all()
    # JSON keeps full precision
    records = json.loads(js.read_text())["zones"]
    assert [r["valid_ha"] for r in records] == table["valid_ha"].tolist()
    assert NOISE.search(str(table["valid_ha"].tolist()))  # the noise this test is about


def test_class_areas_csv_is_rounded(noisy_map):
    map_path, _, _ = noisy_map
    areas = rc.class_areas(map_path)
    text = areas.render("csv")
    assert not NOISE.search(text), text
    raw = pd.read_csv(io.StringIO(text), index_col="class", dtype=str)
    assert raw["mapped_share"].str.split(".").str[1].str.len().max() <= 9, text
    back = pd.read_csv(io.StringIO(text), index_col="class")
    np.testing.assert_allclose(back["mapped_ha"], areas.to_frame()["mapped_ha"], atol=5e-7)
    np.testing.assert_allclose(back["mapped_share"].sum(), 1.0, atol=5e-9)


def test_damage_per_zone_csv_is_rounded_and_parquet_is_not(tmp_path):
    common = {
        "dates": ["2024-06-12", "2024-07-03"],
        "zones": SAMPLE / "fields.gpkg",
        "zone_column": "field_id",
    }
    csv = tmp_path / "damage.csv"
    result = rc.change_map(
        SAMPLE / "scene.tif", SAMPLE / "scene_t2.tif", tmp_path / "c.tif", per_zone=csv, **common
    )
    assert not NOISE.search(csv.read_text())
    back = pd.read_csv(csv, index_col="field_id")
    np.testing.assert_allclose(back["damaged_ha"], result.per_zone["damaged_ha"], atol=5e-7)
    pytest.importorskip("pyarrow")
    pq = tmp_path / "damage.parquet"
    rc.change_map(
        SAMPLE / "scene.tif", SAMPLE / "scene_t2.tif", tmp_path / "d.tif", per_zone=pq, **common
    )
    full = pd.read_parquet(pq)
    assert full["damaged_share"].tolist() == result.per_zone["damaged_share"].tolist()
