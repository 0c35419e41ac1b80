"""Class areas (rasterclass.class_areas / areas_map / ``rasterclass areas``).

The golden case is the worked example of Olofsson et al. (2014, section 5), laid out as a
raster and as points: 10 000 pixels of 900 m x 1000 m (90 ha each, 900 000 ha in all, as the
paper's 10 000 000 pixels of 0.09 ha), mapped 200 / 150 / 3 200 / 6 450 pixels (W = 0.020,
0.015, 0.320, 0.645), and 640 sample points labelled as the paper's error matrix (Table 8).
Golden numbers: /work/shared/reference/ACCURACY.md §1.3 (full precision) and the paper's
printed areas and CIs (to the nearest ha, z = 1.96).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from click.testing import CliRunner
from shapely.geometry import Point

import rasterclass as rc
from rasterclass.cli.main import cli
from rasterclass.errors import (
    AccuracyError,
    OutputCollisionError,
    OutputExistsError,
    RasterclassIOError,
    ValidationWarning,
)

NAMES = ["deforestation", "forest_gain", "stable_forest", "stable_nonforest"]
MAPPED = [200, 150, 3200, 6450]
#: Olofsson et al. (2014) Table 8: sample counts, rows = map, columns = reference.
MATRIX = [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]
#: ACCURACY.md §1.3: adjusted area (ha), its SE (ha), CI half-width (z = 1.96).
AREA_HA = [21157.76, 11686.15, 285769.93, 581386.15]
SE_HA = [3141.65, 1916.24, 7913.18, 8306.97]
CI_HA = [6157.63, 3755.83, 15509.84, 16281.66]
#: as printed in the paper (ha): 21,158 ± 6,158; 11,686 ± 3,756; 285,770 ± 15,510;
#: 581,386 ± 16,282.
PRINTED = [(21158, 6158), (11686, 3756), (285770, 15510), (581386, 16282)]
P_HAT = [0.0235086, 0.0129846, 0.3175221, 0.6459846]
SE_P = [0.0034907, 0.0021292, 0.0087924, 0.0092300]

SIDE = 100
TRANSFORM = rasterio.Affine(900.0, 0, 500_000, 0, -1000.0, 5_000_000)  # 900 m x 1000 m


def _write(path, codes, names=NAMES, transform=TRANSFORM):
    arr = xr.DataArray(np.asarray(codes, dtype="uint8"), dims=("y", "x"))
    arr = arr.rio.write_crs("EPSG:32633").rio.write_transform(transform)
    cmap = rc.ClassMap.from_codes(list(range(1, len(names) + 1)), names)
    return rc.write_map(arr, path, cmap)


def _olofsson_codes():
    flat = np.repeat(np.arange(1, 5), MAPPED)
    return flat.reshape(SIDE, SIDE)


def _centre(row, col, transform=TRANSFORM):
    x, y = rasterio.transform.xy(transform, row, col)  # the pixel's centre
    return Point(x, y)


def _olofsson_points(codes):
    """640 points, each on its own pixel of its stratum, labelled as Table 8."""
    rng = np.random.default_rng(0)
    records = []
    for i, row in enumerate(MATRIX):
        rows, cols = np.nonzero(codes == i + 1)
        pick = rng.choice(len(rows), size=sum(row), replace=False)
        labels = np.repeat(NAMES, row)
        for k, label in zip(pick, labels, strict=True):
            records.append((label, _centre(rows[k], cols[k])))
    labels, geoms = zip(*records, strict=True)
    return gpd.GeoDataFrame({"reference": list(labels)}, geometry=list(geoms), crs="EPSG:32633")


@pytest.fixture(scope="module")
def olofsson(tmp_path_factory):
    folder = tmp_path_factory.mktemp("olofsson")
    codes = _olofsson_codes()
    map_path = _write(folder / "map.tif", codes)
    points = _olofsson_points(codes)
    # any CRS: the points travel in geographic coordinates
    points_path = folder / "points.gpkg"
    points.to_crs("EPSG:4326").to_file(points_path)
    return map_path, points_path, codes


def test_olofsson_worked_example_as_raster_and_points(olofsson):
    map_path, points_path, _ = olofsson
    areas = rc.class_areas(map_path, points_path, "reference")
    frame = areas.to_frame()
    assert list(frame.index) == NAMES
    assert frame["pixels"].tolist() == MAPPED
    np.testing.assert_allclose(frame["mapped_ha"], [18000, 13500, 288000, 580500])
    np.testing.assert_allclose(frame["mapped_share"], [0.020, 0.015, 0.320, 0.645])
    assert frame["n_samples"].tolist() == [75, 75, 165, 325]
    np.testing.assert_allclose(frame["adjusted_share"], P_HAT, atol=5e-8)
    np.testing.assert_allclose(frame["adjusted_share_se"], SE_P, atol=5e-8)
    np.testing.assert_allclose(frame["adjusted_ha"], AREA_HA, atol=0.006)
    np.testing.assert_allclose(frame["adjusted_ha_se"], SE_HA, atol=0.006)
    half = frame["adjusted_ha_ci_high"] - frame["adjusted_ha"]
    np.testing.assert_allclose(half, CI_HA, atol=0.006)
    np.testing.assert_allclose(frame["adjusted_ha"] - frame["adjusted_ha_ci_low"], half)
    for k, (value, ci) in enumerate(PRINTED):
        assert round(frame["adjusted_ha"].iloc[k]) == value
        assert round(half.iloc[k]) == ci
    # deforestation: 95 % CI 15,000.1 to 27,315.4 ha (ACCURACY.md §1.3)
    assert frame["adjusted_ha_ci_low"].iloc[0] == pytest.approx(15000.1, abs=0.06)
    assert frame["adjusted_ha_ci_high"].iloc[0] == pytest.approx(27315.4, abs=0.06)
    assert areas.estimate is not None
    assert areas.estimate.overall_accuracy == pytest.approx(0.9465119, abs=5e-8)


def test_to_dict_keys_are_stable_and_json_ready(olofsson):
    map_path, points_path, _ = olofsson
    d = rc.class_areas(map_path, points_path).to_dict()
    json.dumps(d, allow_nan=False)
    assert d["format_version"] == 1 and d["kind"] == "class areas"
    assert d["method"] == "olofsson2014" and d["z"] == 1.96 and d["n_samples"] == 640
    assert d["pixel_area_m2"] == 900_000.0 and d["total_pixels"] == 10_000
    assert d["total_ha"] == pytest.approx(900_000)
    first = d["classes"][0]
    assert set(first) == {
        "code",
        "name",
        "pixels",
        "mapped_ha",
        "mapped_share",
        "n_samples",
        "adjusted_share",
        "adjusted_pixels",
        "adjusted_ha",
    }
    assert first["code"] == 1 and first["name"] == "deforestation" and first["n_samples"] == 75
    assert set(first["adjusted_ha"]) == {"value", "se", "ci_low", "ci_high"}
    assert first["adjusted_ha"]["value"] == pytest.approx(AREA_HA[0], abs=0.006)
    assert d["estimate"]["method"] == "stehman2014"  # strata = map classes: Olofsson's


@pytest.mark.parametrize("chunks", [7, 32, 64, 100])
def test_counts_are_the_same_for_any_chunking_and_equal_numpy(olofsson, chunks):
    map_path, points_path, codes = olofsson
    _, counts = np.unique(codes[codes > 0], return_counts=True)
    plain = rc.class_areas(map_path, chunks=chunks)
    assert plain.pixels.tolist() == counts.tolist()
    assert plain.estimate is None and plain.to_dict()["classes"][0]["adjusted_ha"] is None
    adjusted = rc.class_areas(map_path, points_path, chunks=chunks).to_frame()
    reference = rc.class_areas(map_path, points_path, chunks=SIDE).to_frame()
    assert adjusted.equals(reference)


def test_nodata_is_excluded_and_points_off_the_map_or_on_nodata_are_named(tmp_path):
    codes = np.repeat([[1, 1, 2, 2, 0, 0]], 6, axis=0)  # 12 px of each class, 12 nodata
    t = rasterio.Affine(10.0, 0, 0, 0, -20.0, 120)  # 10 m x 20 m = 0.02 ha
    map_path = _write(tmp_path / "map.tif", codes, ["a", "b"], t)
    plain = rc.class_areas(map_path).to_frame()
    assert plain["pixels"].tolist() == [12, 12]
    np.testing.assert_allclose(plain["mapped_ha"], [0.24, 0.24])
    np.testing.assert_allclose(plain["mapped_share"], [0.5, 0.5])
    points = [(r, c, "a" if c < 2 else "b") for r in range(3) for c in range(4)]
    geoms = [_centre(r, c, t) for r, c, _ in points] + [_centre(0, 5, t), Point(1e6, 1e6)]
    labels = [lab for *_, lab in points] + ["a", "b"]
    sample = gpd.GeoDataFrame({"ref": labels}, geometry=geoms, crs="EPSG:32633")
    with pytest.warns(ValidationWarning, match=r"2 of 14 sample points are left out: 1 outside"):
        areas = rc.class_areas(map_path, sample, "ref")
    assert "1 on nodata" in areas.notes[0]
    assert areas.to_frame()["n_samples"].tolist() == [6, 6]
    np.testing.assert_allclose(areas.to_frame()["adjusted_ha"], [0.24, 0.24])


def test_unlabelled_points_are_refused(olofsson):
    map_path, points_path, _ = olofsson
    points = gpd.read_file(points_path)
    points.loc[[3, 7], "reference"] = ""
    with pytest.raises(AccuracyError, match=r"2 of 640 sample points have no reference class"):
        rc.class_areas(map_path, points)


def test_cli_writes_csv_md_json_and_prints_without_output(olofsson, tmp_path):
    map_path, points_path, _ = olofsson
    runner = CliRunner()
    res = runner.invoke(cli, ["areas", str(map_path)])
    assert res.exit_code == 0, res.output
    assert "| stable_forest | 3 | 3,200 | 288,000.0 | 32.00 % |" in res.output
    for ext in ("csv", "md", "json"):
        out = tmp_path / f"areas.{ext}"
        args = ["areas", str(map_path), "-r", str(points_path), "-c", "reference", "-o", str(out)]
        res = runner.invoke(cli, args)
        assert res.exit_code == 0, res.output
        assert f"wrote {out}" in res.output
    text = (tmp_path / "areas.md").read_text()
    assert "| deforestation | 1 | 200 | 18,000.0 | 2.00 % | 75 | 21,157.8 | 6,157.6 |" in text
    assert json.loads((tmp_path / "areas.json").read_text())["classes"][3]["n_samples"] == 325
    assert "adjusted_ha_ci_high" in (tmp_path / "areas.csv").read_text().splitlines()[0]
    res = runner.invoke(cli, ["areas", str(map_path), "-o", str(tmp_path / "areas.csv")])
    assert res.exit_code != 0 and "--overwrite" in res.output


def test_outputs_are_checked_before_any_work(olofsson, tmp_path):
    map_path, points_path, _ = olofsson
    with pytest.raises(RasterclassIOError, match=r"\.json, \.md or \.csv"):
        rc.areas_map(map_path, output=tmp_path / "areas.txt")
    with pytest.raises(OutputCollisionError):
        rc.areas_map(map_path, points_path, output=points_path)
    (tmp_path / "a.csv").write_text("x")
    with pytest.raises(OutputExistsError):
        rc.areas_map(map_path, output=tmp_path / "a.csv")
