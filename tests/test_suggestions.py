"""Where to label next: ranking, stratification, spacing, determinism, the job and the CLI."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from rasterclass.accuracy.draw import parse_distance
from rasterclass.classes import ClassMap
from rasterclass.errors import AccuracyError, OutputExistsError
from rasterclass.jobs.suggestions import suggest_samples_map
from rasterclass.suggestions import COLUMNS, suggest_samples
from tests.conftest import run_cli

TRANSFORM = Affine(10.0, 0.0, 1000.0, 0.0, -10.0, 2000.0)


def _layers(seed: int = 0, shape=(30, 40)):
    rng = np.random.default_rng(seed)
    classes = np.ones(shape, dtype=np.uint8)
    classes[:, 10:] = 2  # class 2 covers three quarters
    classes[:3] = 0  # nodata rows
    margin = rng.random(shape).astype(np.float32)
    margin[classes == 0] = np.nan
    di = rng.random(shape).astype(np.float32) * 2
    inside = (di <= 1.5).astype(np.float32)
    di[classes == 0] = np.nan
    inside[classes == 0] = np.nan

    def grid(arr, bands=None):
        out = xr.DataArray(arr, dims=("band", "y", "x") if bands else ("y", "x"))
        if bands:
            out = out.assign_coords(band=bands)
        return out.rio.write_transform(TRANSFORM).rio.write_crs("EPSG:32633")

    return (
        grid(classes),
        grid(np.stack([margin, 1 - margin]), ["margin", "entropy"]),
        grid(np.stack([di, inside]), ["dissimilarity_index", "aoa"]),
    )


def test_least_sure_first_and_outside_aoa_first():
    classes, u, aoa = _layers()
    margin = u.sel(band="margin").values
    points = suggest_samples(classes, u, n=10, min_per_class=5)
    assert list(points.columns) == [*COLUMNS, "geometry"]
    for code in (1, 2):
        got = np.sort(points.loc[points["class_code"] == code, "margin"].to_numpy())
        want = np.sort(margin[classes.values == code])[:5]
        np.testing.assert_array_equal(got, want)  # the 5 smallest margins of the class
    with_aoa = suggest_samples(classes, u, aoa=aoa, n=10, min_per_class=5)
    assert with_aoa["outside_aoa"].all()  # 500+ pixels outside: they come first
    assert (with_aoa["di"] > 1.5).all()
    assert (with_aoa["reference"] == "").all() and with_aoa.crs.to_epsg() == 32633


def test_stratified_spread_and_deterministic():
    classes, u, aoa = _layers(1)
    points = suggest_samples(classes, u, aoa=aoa, n=20, min_distance=45.0, seed=3)
    assert points.attrs["allocation"] == {"class 1": 5, "class 2": 15}  # min:5, proportional
    assert points["class_code"].value_counts().to_dict() == {2: 15, 1: 5}
    xy = np.c_[points.geometry.x, points.geometry.y]
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) + np.eye(len(xy)) * 1e9
    assert d.min() >= 45.0
    # pixel centres
    assert ((xy[:, 0] - 1005) % 10 == 0).all() and ((2000 - xy[:, 1] - 5) % 10 == 0).all()
    again = suggest_samples(classes, u, aoa=aoa, n=20, min_distance=45.0, seed=3)
    assert again.equals(points)
    for chunks in (7, 16, (13, 9)):  # on these data every chunking gives the same points
        cy, cx = chunks if isinstance(chunks, tuple) else (chunks, chunks)
        chunked = suggest_samples(
            classes.chunk({"y": cy, "x": cx}),
            u.chunk({"y": cy + 1, "x": cx}),  # layers chunked otherwise: aligned inside
            aoa=aoa.chunk({"y": cy, "x": cx}),
            n=20,
            min_distance=45.0,
            seed=3,
        )
        assert chunked.equals(points)


def test_ties_broken_by_seed():
    classes, u, _ = _layers()
    flat = u.copy(data=np.where(np.isnan(u.values), np.nan, 0.5).astype("f4"))
    a = suggest_samples(classes, flat, n=6, seed=0)
    b = suggest_samples(classes, flat, n=6, seed=1)
    assert a.equals(suggest_samples(classes, flat, n=6, seed=0))
    assert not a.geometry.equals(b.geometry)


def test_bad_values():
    classes, u, _ = _layers()
    with pytest.raises(AccuracyError, match="n"):
        suggest_samples(classes, u, n=0)
    with pytest.raises(AccuracyError, match="min_distance"):
        suggest_samples(classes, u, min_distance=-1)
    with pytest.raises(AccuracyError, match="margin"):
        suggest_samples(classes, u.sel(band=["entropy"]))
    utm, geo = CRS.from_epsg(32633), CRS.from_epsg(4326)
    assert parse_distance("300m", utm, TRANSFORM) == 300.0
    assert parse_distance(25, geo, TRANSFORM) == 25.0
    with pytest.raises(AccuracyError, match="not in metres"):
        parse_distance("300m", geo, TRANSFORM)
    with pytest.raises(AccuracyError, match="not a distance"):
        parse_distance("far", utm, TRANSFORM)


def test_cli_end_to_end(tmp_path, scene_path, training_path):
    out, u, aoa = tmp_path / "map.tif", tmp_path / "u.tif", tmp_path / "aoa.tif"
    run_cli(
        "classify",
        scene_path,
        "-t",
        training_path,
        "-c",
        "class",
        "-o",
        out,
        "--param",
        "n_estimators=10",
        "--uncertainty",
        u,
        "--aoa",
        aoa,
    )
    pts = tmp_path / "next.gpkg"
    result = run_cli(
        "suggest-samples",
        out,
        "--uncertainty",
        u,
        "--aoa",
        aoa,
        "-n",
        "12",
        "--min-distance",
        "3px",
        "--seed",
        "0",
        "-o",
        pts,
    )
    assert "wrote" in result.output
    gdf = gpd.read_file(pts)
    assert len(gdf) == 12 and set(gdf["class_name"]) == {"water", "forest", "urban"}
    assert set(COLUMNS) <= set(gdf.columns)
    with rasterio.open(out) as src:
        assert gdf.crs == src.crs
    names = ClassMap.from_values(["water", "forest", "urban"])
    assert {names.name_of(int(c)) for c in gdf["class_code"]} == set(gdf["class_name"])
    with pytest.raises(OutputExistsError):
        suggest_samples_map(out, u, output=pts)


def test_min_distance_takes_the_same_units_in_both_sampling_commands(tmp_path):
    """`sample --min-distance` (away from the training polygons) and `suggest-samples
    --min-distance` (between points) are one option: a number in map units, or 300m, 0.3km,
    10px. `sample` took map units only."""
    import rasterclass as rc

    sample_data = Path(__file__).resolve().parents[1] / "sample_data"
    truth, training = sample_data / "truth.tif", sample_data / "training.gpkg"
    kw = {"n": 120, "seed": 2, "training": str(training)}
    by_units = rc.draw_sample(truth, min_distance=90.0, **kw)  # 30 m pixels
    for spelt in ("3px", "90m", "0.09km", "90"):
        again = rc.draw_sample(truth, min_distance=spelt, **kw)
        assert again[["row", "col"]].equals(by_units[["row", "col"]]), spelt
    near = gpd.read_file(training).to_crs(by_units.crs).union_all()
    assert by_units.distance(near).min() >= 90.0
    anywhere = rc.draw_sample(truth, n=120, seed=2)  # without the training polygons
    assert not anywhere[["row", "col"]].equals(by_units[["row", "col"]])
    for bad in ("-5", "ninety", -5.0, float("nan")):
        with pytest.raises(AccuracyError, match="min_distance"):
            rc.draw_sample(truth, min_distance=bad, **kw)
    out = tmp_path / "pts.gpkg"
    run_cli(
        "sample",
        truth,
        "-n",
        "120",
        "--seed",
        "2",
        "-t",
        training,
        "--min-distance",
        "3px",
        "-o",
        out,
    )
    assert gpd.read_file(out)[["row", "col"]].equals(by_units[["row", "col"]].astype("int64"))
    bad = run_cli(
        "sample",
        truth,
        "-n",
        "5",
        "-t",
        training,
        "--min-distance",
        "ninety",
        "-o",
        tmp_path / "b.gpkg",
        ok=False,
    )
    assert "--min-distance 'ninety' is not a distance" in bad.output
