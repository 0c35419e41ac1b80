"""Zonal summaries: chunk-invariant, equal to a numpy computation at pixel centres."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import shapely
import xarray as xr
from shapely.geometry import Polygon

import rasterclass as rc
from conftest import CRS, TRANSFORM, pixel_box, run_cli, write_raster
from rasterclass.errors import ZoneError

H, W = 61, 75
NAMES = ["water", "forest", "urban"]


def _codes() -> np.ndarray:
    rng = np.random.default_rng(3)
    codes = rng.integers(1, 4, (H, W)).astype(np.uint8)
    codes[rng.random((H, W)) < 0.1] = 0  # scattered nodata
    codes[:, :4] = 0  # a nodata margin
    return codes


def _layer() -> np.ndarray:
    rng = np.random.default_rng(4)
    values = rng.random((2, H, W)).astype(np.float32)
    values[0, rng.random((H, W)) < 0.2] = np.nan
    return values


@pytest.fixture
def map_path(tmp_path: Path) -> Path:
    arr = xr.DataArray(_codes(), dims=("y", "x"))
    arr = arr.rio.write_crs(CRS).rio.write_transform(TRANSFORM)
    return Path(rc.write_map(arr, tmp_path / "map.tif", rc.ClassMap.from_codes([1, 2, 3], NAMES)))


@pytest.fixture
def layer_path(tmp_path: Path) -> Path:
    return write_raster(
        tmp_path / "probs.tif", _layer(), nodata=float("nan"), descriptions=["p1", "p2"]
    )


def _zones() -> gpd.GeoDataFrame:
    x0, y0 = TRANSFORM @ (10.3, 33.7)
    triangle = Polygon([(x0, y0), (x0 + 700.3, y0 + 190.1), (x0 + 260.7, y0 - 540.9)])
    tiny_x, tiny_y = TRANSFORM @ (20.1, 20.1)
    tiny = shapely.box(tiny_x, tiny_y - 5, tiny_x + 5, tiny_y)  # misses every centre
    return gpd.GeoDataFrame(
        {
            "zone_id": ["A", "B", "C", "D", "E", "C", "G"],
            "kind": ["district"] * 7,
        },
        geometry=[
            pixel_box(0, 0, 30, 40),
            pixel_box(20, 30, 61, 75),  # overlaps A
            triangle,
            pixel_box(50, 60, 70, 90),  # partly off the map
            pixel_box(100, 100, 110, 110),  # off the map
            pixel_box(40, 2, 58, 12),  # a second part of C
            tiny,
        ],
        crs=CRS,
    )


def _oracle(zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """Pixels per class and layer means per zone, in memory, by shapely's point-in-polygon
    test at every pixel centre."""
    codes, layer = _codes(), _layer()
    cols, rows = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    xs, ys = TRANSFORM @ (cols, rows)
    out = {}
    for zone, geom in zones.dissolve(by="zone_id").geometry.items():
        inside = shapely.contains_xy(geom, xs, ys)
        entry = {"pixels": int(inside.sum()), "valid_pixels": int((codes[inside] > 0).sum())}
        entry |= {f"pixels_{n}": int((codes[inside] == c).sum()) for c, n in enumerate(NAMES, 1)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the mean of no pixel: NaN
            entry |= {
                f"mean_probs_p{b + 1}": float(np.nanmean(layer[b][inside].astype(np.float64)))
                for b in (0, 1)
            }
        out[zone] = entry
    return pd.DataFrame(out).T


COUNTS = ["pixels", "valid_pixels", *(f"pixels_{n}" for n in NAMES)]


def test_equal_to_numpy_and_the_same_for_any_chunking(map_path, layer_path):
    zones = _zones()
    oracle = _oracle(zones)
    tables = [
        rc.zonal_summary(map_path, zones, "zone_id", layers=[layer_path], chunks=chunks)
        for chunks in (16, 25, None)  # 25 divides neither side
    ]
    with dask.config.set(scheduler="sync"):
        tables.append(rc.zonal_summary(map_path, zones, "zone_id", layers=[layer_path], chunks=7))
    for table in tables:
        table = table.loc[oracle.index]
        pd.testing.assert_frame_equal(table[COUNTS], tables[0].loc[oracle.index][COUNTS])
        assert (table[COUNTS].to_numpy() == oracle[COUNTS].to_numpy()).all()
        means = ["mean_probs_p1", "mean_probs_p2"]
        # exact sums: the same bits for every chunking, and numpy's mean to rounding
        np.testing.assert_array_equal(
            table[means].to_numpy(float), tables[0].loc[oracle.index][means].to_numpy(float)
        )
        np.testing.assert_allclose(
            table[means].to_numpy(float), oracle[means].to_numpy(float), rtol=1e-12
        )
    table = tables[0]
    assert table.loc["A", "pixels"] == 30 * 40 and table.loc["E", "pixels"] == 0
    assert dict(table["status"]) == {
        "A": "on the map",
        "B": "on the map",
        "C": "on the map",
        "D": "partly off the map",
        "E": "off the map",
        "G": "no pixel centre",
    }
    notes = " ".join(table.attrs["notes"])
    assert "wholly off the map (area 0): E" in notes and "overlap" in notes


def test_class_areas_sum_to_the_valid_area_and_nodata_is_left_out(map_path):
    table = rc.zonal_summary(map_path, _zones(), "zone_id")
    ha = 30 * 30 / 10_000
    areas = table[[f"area_ha_{n}" for n in NAMES]].sum(axis=1)
    np.testing.assert_allclose(areas, table["valid_ha"])
    np.testing.assert_allclose(table["valid_ha"], table["valid_pixels"] * ha)
    shares = table[[f"share_{n}" for n in NAMES]].sum(axis=1, min_count=1)
    on = table["valid_pixels"] > 0
    np.testing.assert_allclose(shares[on], 1.0)
    assert shares[~on].isna().all()
    a = table.loc["A"]
    codes = _codes()[:30, :40]
    assert a["valid_pixels"] == (codes > 0).sum() < a["pixels"]
    assert a["pixels_water"] == (codes == 1).sum()


def test_zones_in_another_crs_give_the_same(map_path):
    zones = _zones()
    here = rc.zonal_summary(map_path, zones, "zone_id")
    there = rc.zonal_summary(map_path, zones.to_crs("EPSG:4326"), "zone_id")
    pd.testing.assert_frame_equal(here[COUNTS], there[COUNTS])
    assert there.crs.to_epsg() == 4326  # the zones come back in their own CRS


def test_layer_band_chosen_and_in_memory_map(map_path, layer_path):
    zones = _zones()
    chosen = rc.zonal_summary(map_path, zones, "zone_id", layers=[f"{layer_path}:p2"])
    assert [c for c in chosen.columns if c.startswith("mean_")] == ["mean_probs"]
    full = rc.zonal_summary(map_path, zones, "zone_id", layers=[layer_path])
    np.testing.assert_array_equal(chosen["mean_probs"], full["mean_probs_p2"])
    lazy = rc.open_scene(map_path, chunks=20, unscale=False).isel(band=0)
    lazy.attrs["class_map"] = rc.read_class_map(map_path).to_dict()
    again = rc.zonal_summary(lazy, zones, "zone_id")
    pd.testing.assert_frame_equal(again[COUNTS], full[COUNTS])


def test_errors_name_the_fix(map_path, layer_path, tmp_path):
    zones = _zones()
    with pytest.raises(ZoneError, match=r"no column 'district'.*'zone_id', 'kind'"):
        rc.zonal_summary(map_path, zones, "district")
    with pytest.raises(ZoneError, match="no band 'p9'"):
        rc.zonal_summary(map_path, zones, layers=[(layer_path, "p9")])
    other = write_raster(tmp_path / "other.tif", _layer()[:, :50], nodata=float("nan"))
    with pytest.raises(ZoneError, match="not on the map's grid"):
        rc.zonal_summary(map_path, zones, layers=[other])
    points = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs=CRS)
    with pytest.raises(ZoneError, match="must be polygons"):
        rc.zonal_summary(map_path, points)
    with pytest.raises(rc.RasterclassError, match="zonal summary is written as"):
        rc.zonal_map(map_path, zones, output=tmp_path / "out.parquet")
    with pytest.raises(ZoneError, match=r"no polygon.*zones_layer"):
        rc.zonal_summary(map_path, zones.iloc[:0])
    unnamed = zones.assign(zone_id=zones["zone_id"].where(zones.index != 2))
    with pytest.raises(ZoneError, match=r"1 of 7 zones have no id.*zone_column"):
        rc.zonal_summary(map_path, unnamed, "zone_id")


def test_cli_writes_tables_and_zones(map_path, layer_path, tmp_path):
    zones_path = tmp_path / "zones.gpkg"
    _zones().to_crs("EPSG:4326").to_file(zones_path)
    expected = rc.zonal_summary(map_path, _zones(), "zone_id", layers=[layer_path])
    out = tmp_path / "summary.csv"
    result = run_cli(
        "zonal",
        map_path,
        "-z",
        zones_path,
        "-c",
        "zone_id",
        "-l",
        layer_path,
        "-o",
        out,
        "--chunks",
        17,
    )
    assert "6 zones" in result.output and "note:" in result.output
    table = pd.read_csv(out, index_col="zone_id")
    assert (table.loc[expected.index, COUNTS].to_numpy() == expected[COUNTS].to_numpy()).all()
    assert Path(f"{out}.provenance.json").exists()
    gpkg = tmp_path / "summary.gpkg"
    run_cli("zonal", map_path, "-z", zones_path, "-c", "zone_id", "-o", gpkg)
    written = gpd.read_file(gpkg)
    assert {"share_forest", "area_ha_forest", "zone_id", "kind"} <= set(written.columns)
    js = tmp_path / "summary.json"
    run_cli("zonal", map_path, "-z", zones_path, "-o", js)
    doc = json.loads(js.read_text())
    assert doc["kind"] == "zonal summary" and len(doc["zones"]) == 7
    shown = run_cli("zonal", map_path, "-z", zones_path, "-c", "zone_id").output
    assert "| zone_id | status |" in shown
    bad = run_cli("zonal", map_path, "-z", zones_path, "-c", "nope", ok=False)
    assert bad.exit_code != 0 and "--zone-column" in bad.output and "'zone_id'" in bad.output


def test_means_have_the_same_bits_for_any_chunking(map_path, tmp_path):
    """float64 layers (whose running sums round) give the same mean bits for every chunking:
    the sums are exact (integer significands per exponent), then divided once."""
    rng = np.random.default_rng(11)
    values = rng.random((1, H, W)) * 10.0 ** rng.integers(-3, 4, (1, H, W))
    layer = write_raster(tmp_path / "doubles.tif", values.astype(np.float64), nodata=float("nan"))
    tables = [
        rc.zonal_summary(map_path, _zones(), "zone_id", layers=[layer], chunks=chunks)
        for chunks in (7, 16, 25, None)
    ]
    means = [c for c in tables[0].columns if c.startswith("mean_")]
    for table in tables[1:]:
        np.testing.assert_array_equal(
            table[means].to_numpy(float), tables[0][means].to_numpy(float)
        )
