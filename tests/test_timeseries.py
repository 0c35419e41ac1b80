"""Multi-date stacks, temporal gap fill and temporal features (rasterclass.temporal)."""

from __future__ import annotations

import dataclasses
import json
import warnings

import dask.array as da
import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.features import rasterize
from sklearn.model_selection import LeaveOneOut, cross_val_predict

import rasterclass as rc
from rasterclass.errors import BandMismatchError, SceneError, TrainingDataError
from rasterclass.sampling.checks import gaps_hint
from rasterclass.temporal import find_date, series_layout
from tests.conftest import SHARED, SLOVENIA, needs_shared, run_cli, synthetic_arrays, write_raster

SINOP = SHARED / "sits_sinop_modis_ndvi"
CHUNKINGS = [(13, 17), (5, 5), (4, 7)]  # one chunk, square, not dividing the scene


def random_series(seed: int = 0, n_dates: int = 9, h: int = 13, w: int = 17, variables=("ndvi",)):
    """A series with irregular dates, NaN values, a 0/1 mask and pixels with no valid date."""
    rng = np.random.default_rng(seed)
    days = np.sort(rng.choice(np.arange(0, 400), n_dates, replace=False))
    dates = np.datetime64("2020-01-01") + days.astype("timedelta64[D]")
    values = rng.random((len(variables) * n_dates, h, w)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    valid = (rng.random((n_dates, h, w)) < 0.6).astype(np.uint8)
    valid[:, 0, :4] = 0  # no valid date at all
    valid[:, 1, 0] = 0
    valid[n_dates // 2, 1, 0] = 1  # one valid date only
    names = [f"{v}@{d}" for v in variables for d in dates]
    coords = {"y": np.arange(h)[::-1] + 0.5, "x": np.arange(w) + 0.5}
    series = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": names, **coords})
    mask = xr.DataArray(valid, dims=("band", "y", "x"), coords=coords)
    return series, mask, days.astype(np.float64)


def interp_reference(values: np.ndarray, ok: np.ndarray, t: np.ndarray) -> np.ndarray:
    """np.interp per pixel over its valid dates; NaN with no valid date."""
    out = np.full(values.shape, np.nan, dtype=np.float64)
    for i in range(values.shape[1]):
        for j in range(values.shape[2]):
            keep = ok[:, i, j]
            if keep.any():
                out[:, i, j] = np.interp(t, t[keep], values[keep, i, j].astype(np.float64))
    return out


def test_gap_fill_equals_numpy_interp_for_every_chunking():
    series, mask, t = random_series()
    ok = (mask.values != 0) & np.isfinite(series.values)
    want = interp_reference(series.values, ok, t)
    eager = rc.gap_fill(series, mask)
    assert isinstance(eager.data, np.ndarray)
    np.testing.assert_allclose(eager.values, want, rtol=1e-6, atol=1e-7)
    assert np.isnan(eager.values[:, 0, :4]).all()  # no valid date: stays NaN
    assert np.allclose(eager.values[:, 1, 0], series.values[len(t) // 2, 1, 0])  # ends: nearest
    for chunks in CHUNKINGS:
        lazy = rc.gap_fill(series.chunk({"band": 3, "y": chunks[0], "x": chunks[1]}), mask)
        assert isinstance(lazy.data, da.Array)
        assert lazy.data.chunks[0] == (len(t),)  # time in one chunk
        np.testing.assert_array_equal(lazy.values, eager.values)
    assert json.loads(eager.attrs["gap_fill"])["mask"] is True


def test_gap_fill_without_mask_fills_nan_and_matches_dates_of_several_variables():
    series, mask, t = random_series(seed=1, variables=("red", "nir"))
    n = len(t)
    # a per-date mask (one band per date, named with its dates) serves both variables
    days = [str(d) for d in series_layout(series)["red"][1].astype("datetime64[D]")]
    dated = mask.assign_coords(band=[f"IS_VALID_{d}" for d in days])
    filled = rc.gap_fill(series.chunk({"y": 4, "x": 7}), dated).values
    for k in range(2):
        part = series.values[k * n : (k + 1) * n]
        ok = (mask.values != 0) & np.isfinite(part)
        np.testing.assert_allclose(filled[k * n : (k + 1) * n], interp_reference(part, ok, t))
    only_nan = rc.gap_fill(series).values[:n]
    want = interp_reference(series.values[:n], np.isfinite(series.values[:n]), t)
    np.testing.assert_allclose(only_nan, want, rtol=1e-6, atol=1e-7)


def test_gap_fill_and_features_are_lazy(forbid_compute):
    series, mask, _ = random_series()
    lazy_series = series.chunk({"y": 5, "x": 5})
    with forbid_compute():
        filled = rc.gap_fill(lazy_series, mask.chunk({"y": 4}))
        features = rc.temporal_features(filled)
        first, last = (str(filled.band.values[i]).split("@")[1] for i in (0, -1))
        change = rc.difference(filled, first, last)
    assert isinstance(features.data, da.Array) and isinstance(change.data, da.Array)


def test_gap_fill_rejects_a_mask_that_does_not_fit():
    series, mask, _ = random_series()
    with pytest.raises(SceneError, match="valid_mask"):
        rc.gap_fill(series, mask.isel(band=slice(0, 3)))
    with pytest.raises(SceneError, match="grid"):
        rc.gap_fill(series, mask.isel(x=slice(0, 5)))
    with pytest.raises(BandMismatchError, match="no date"):
        rc.gap_fill(series.assign_coords(band=[f"b{i}" for i in range(9)]))


@pytest.mark.parametrize("date_of_max", ["index", "doy"])
def test_temporal_features_equal_numpy(date_of_max):
    series, _, t = random_series(seed=2)
    values = series.values.astype(np.float64)
    values[:, 0, 0] = np.nan  # a pixel without any value
    series = series.copy(data=values.astype(np.float32))
    values = series.values.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(values, 0), np.nanmax(values, 0)
        mean, std = np.nanmean(values, 0), np.nanstd(values, 0)
    at = np.nanargmax(np.nan_to_num(values, nan=-np.inf), 0).astype(float)
    if date_of_max == "doy":
        dates = np.datetime64("2020-01-01") + t.astype("timedelta64[D]")
        doy = (dates - dates.astype("datetime64[Y]")).astype(int) + 1
        at = doy[at.astype(int)].astype(float)
    at[0, 0] = np.nan
    want = np.stack([lo, hi, mean, std, hi - lo, at])
    eager = rc.temporal_features(series, date_of_max=date_of_max)
    assert [str(b) for b in eager.band.values] == [f"ndvi_{s}" for s in rc.temporal.TEMPORAL_STATS]
    np.testing.assert_allclose(eager.values, want, rtol=1e-5, atol=1e-6)
    for chunks in CHUNKINGS:
        lazy = rc.temporal_features(
            series.chunk({"y": chunks[0], "x": chunks[1]}), date_of_max=date_of_max
        )
        np.testing.assert_array_equal(lazy.values, eager.values)
    with pytest.raises(SceneError, match="median"):
        rc.temporal_features(series, ["median"])


def test_dates_from_names_tags_and_user(tmp_path):
    assert str(find_date("T33TWM_20200601T101031_B04.jp2")) == "2020-06-01T10:10:31"
    assert str(find_date("NDVI_2015-12-08T10:11:25")) == "2015-12-08T10:11:25"
    assert find_date("B4_1234.tif") is None
    scene, _ = synthetic_arrays(height=8, width=9)
    a = write_raster(tmp_path / "a.tif", scene, descriptions=["blue", "green", "red"])
    b = write_raster(
        tmp_path / "field_2021-03-04.tif", scene + 1, descriptions=["blue", "green", "red"]
    )
    with rasterio.open(a, "r+") as dst:
        dst.update_tags(TIFFTAG_DATETIME="2021:07:01 10:00:00")
    stack = rc.open_dates([a, b], chunks=4)
    assert [str(x) for x in stack.band.values][:3] == [
        "blue@2021-03-04",
        "green@2021-03-04",
        "red@2021-03-04",
    ]
    assert str(stack.band.values[3]) == "blue@2021-07-01"
    np.testing.assert_array_equal(stack.values[:3], (scene + 1))
    given = rc.open_dates([a, b], ["2020-01-01", "2020-02-01"])
    assert str(given.band.values[0]) == "blue@2020-01-01"
    with pytest.raises(SceneError, match="dates"):
        rc.open_dates([tmp_path / "a.tif", write_raster(tmp_path / "c.tif", scene)])
    with pytest.raises(SceneError, match="twice"):
        rc.stack_dates([stack, stack], ["2020-01-01", "2020-01-01"])


def test_difference_and_per_date_selection():
    rng = np.random.default_rng(3)
    before, after = (
        rng.random((2, 6, 5)).astype(np.float32),
        rng.random((2, 6, 5)).astype(np.float32),
    )
    bands = {"band": ["red", "nir"]}
    stack = rc.stack_dates(
        [
            xr.DataArray(after, dims=("band", "y", "x"), coords=bands),
            xr.DataArray(before, dims=("band", "y", "x"), coords=bands),
        ],
        ["2020-08-01", "2020-06-01"],
    )
    ndvi = {d: rc.select_date(stack, d) for d in ("2020-06-01", "2020-08-01")}
    ndvi = {
        d: (
            (s.sel(band="nir") - s.sel(band="red")) / (s.sel(band="nir") + s.sel(band="red"))
        ).expand_dims(band=["NDVI"])
        for d, s in ndvi.items()
    }
    ndvi_stack = rc.stack_dates(list(ndvi.values()), list(ndvi))
    d = rc.difference(ndvi_stack, "2020-06-01", "2020-08-01")
    ndvi_b = (before[1] - before[0]) / (before[1] + before[0])
    ndvi_a = (after[1] - after[0]) / (after[1] + after[0])
    assert [str(b) for b in d.band.values] == ["dNDVI"]
    np.testing.assert_allclose(d.values[0], ndvi_a - ndvi_b, rtol=1e-6)
    dall = rc.difference(stack.chunk({"y": 4}), "2020-06-01", "2020-08-01")
    np.testing.assert_allclose(dall.values, after - before)
    with pytest.raises(BandMismatchError, match="2021-01-01"):
        rc.select_date(stack, "2021-01-01")


# ------------------------------------------------------------------------------------------
# jobs and command line: the refusal names gap filling; --gap-fill is recorded in the model
# ------------------------------------------------------------------------------------------
def cloudy_series(tmp_path):
    """A 6-date, 3-band-per-date synthetic series with a cloud (NaN) on some date of every
    pixel, and its validity mask (0 where the cloud is)."""
    scene, _ = synthetic_arrays()
    dates = ["2020-04-01", "2020-05-01", "2020-06-01", "2020-07-01", "2020-08-01", "2020-09-01"]
    stack = np.concatenate([scene * (1 + 0.1 * k) for k in range(len(dates))])
    names = [f"{b}@{d}" for d in dates for b in ("blue", "green", "red")]
    h, w = scene.shape[1:]
    cloudy_date = (np.arange(h)[:, None] + np.arange(w)[None]) % len(dates)
    valid = np.ones((len(dates), h, w), np.uint8)
    for k in range(len(dates)):
        valid[k][cloudy_date == k] = 0
    valid_bands = np.repeat(valid, 3, axis=0)
    masked = np.where(valid_bands == 1, stack, np.nan).astype(np.float32)
    cloudy = np.where(valid_bands == 1, stack, 5.0).astype(np.float32)  # clouds: bright
    nan_path = write_raster(
        tmp_path / "series_nan.tif", masked, nodata=float("nan"), descriptions=names
    )
    raw_path = write_raster(tmp_path / "series.tif", cloudy, descriptions=names)
    mask_path = write_raster(
        tmp_path / "is_valid.tif", valid, descriptions=[f"IS_VALID_{d}" for d in dates]
    )
    return nan_path, raw_path, mask_path


def test_no_pixel_valid_on_every_band_names_gap_fill(tmp_path, training_path):
    nan_path, _, _ = cloudy_series(tmp_path)
    with pytest.raises(TrainingDataError, match="valid on every band") as info:
        rc.train(nan_path, training_path, "class")
    assert "gap_fill=True" in str(info.value)
    res = run_cli(
        "train", nan_path, "-t", training_path, "-c", "class", "-o", tmp_path / "m.skops", ok=False
    )
    assert res.exit_code != 0 and "--gap-fill" in res.output and "--valid-mask" in res.output


def test_gap_fill_of_a_scene_without_dates_names_band_names_not_one_date_per_band(
    tmp_path, training_path
):
    scene, _ = synthetic_arrays()
    path = write_raster(tmp_path / "scene.tif", scene, descriptions=["blue", "green", "red"])
    res = run_cli(
        "train", path, "-t", training_path, "-c", "class", "-o", tmp_path / "m.skops",
        "--gap-fill", ok=False,
    )  # fmt: skip
    assert res.exit_code != 0 and "--band-names" in res.output
    assert "one date per band (--date)" not in res.output  # --date is one per file


@pytest.mark.parametrize("kept", [0, 5])
def test_the_gap_hint_reads_as_one_balanced_sentence(kept):
    samples = type("Samples", (list,), {})(range(kept))
    samples.info = {"partly_valid_pixels": 12}
    text = gaps_hint(samples)
    assert "12 px" in text and "gap_fill=True" in text
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth >= 0, text
    assert depth == 0, text


def test_gap_fill_option_is_recorded_and_predict_fills_too(tmp_path, training_path):
    nan_path, raw_path, mask_path = cloudy_series(tmp_path)
    model = tmp_path / "model.skops"
    common = ["-t", training_path, "-c", "class", "-p", "n_estimators=20", "--cv", "0"]
    run_cli(
        "classify",
        nan_path,
        *common,
        "--gap-fill",
        "-o",
        tmp_path / "nan.tif",
        "--save-model",
        model,
    )
    saved = rc.RasterModel.load(model)
    assert saved.summary["gap_fill"]["mask"] is False
    run_cli(
        "predict", nan_path, "--model", model, "-o", tmp_path / "again.tif"
    )  # fills without being told
    first, again = (rasterio.open(tmp_path / p).read(1) for p in ("nan.tif", "again.tif"))
    np.testing.assert_array_equal(first, again)
    # every pixel has a class despite its cloudy date, except where no date has a value
    assert np.array_equal(first > 0, ~np.isnan(synthetic_arrays()[0][0]))
    # the same series with clouds as values, masked by the IS_VALID-like file
    run_cli(
        "train",
        raw_path,
        *common,
        "--gap-fill",
        "--valid-mask",
        mask_path,
        "-o",
        tmp_path / "m2.skops",
    )
    assert rc.RasterModel.load(tmp_path / "m2.skops").summary["gap_fill"]["mask"] is True
    assert "is_valid.tif" in (tmp_path / "m2.skops.provenance.json").read_text()
    refused = run_cli(
        "predict", raw_path, "--model", tmp_path / "m2.skops", "-o", tmp_path / "x.tif", ok=False
    )
    assert "--valid-mask" in refused.output
    run_cli(
        "predict",
        raw_path,
        "--model",
        tmp_path / "m2.skops",
        "--valid-mask",
        mask_path,
        "-o",
        tmp_path / "masked.tif",
    )
    masked = rasterio.open(tmp_path / "masked.tif").read(1)
    assert (masked == first).mean() > 0.99


# ------------------------------------------------------------------------------------------
# real series (../shared/data)
# ------------------------------------------------------------------------------------------
def _split_polygons(
    polys: gpd.GeoDataFrame, column: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Every other polygon of each class for training, the rest held out."""
    polys = polys[polys[column] != ""].reset_index(drop=True)
    rank = polys.groupby(column).cumcount()
    return polys[rank % 2 == 0], polys[rank % 2 == 1]


@needs_shared(SLOVENIA)
def test_slovenia_gap_filled_series_next_to_composite(tmp_path):
    polys = gpd.read_file(SLOVENIA / "lulc_reference_polygons.gpkg")
    names = dict(zip(polys["LULC_ID"], polys["LULC_NAME"], strict=True))
    polys = polys[polys["LULC_NAME"] != ""]  # 4 polygons without a class
    train_polys, held_out = _split_polygons(polys, "LULC_NAME")
    with rasterio.open(SLOVENIA / "lulc_reference.tif") as src:
        reference, transform, shape = src.read(1), src.transform, (src.height, src.width)
    held = rasterize(held_out.geometry, out_shape=shape, transform=transform) == 1
    # cultivated land has 4 polygons: 4 folds
    opts = rc.TrainingOptions(params={"n_estimators": 50}, max_per_class=1000, cv_folds=4, seed=0)
    fit_only = dataclasses.replace(opts, cv_folds=0)
    series = SLOVENIA / "s2_ndvi_timeseries.tif"
    filled = rc.SceneOptions(gap_fill=True, valid_mask=SLOVENIA / "s2_is_valid_timeseries.tif")
    runs = {
        "68-date NDVI, gap-filled": (series, filled),
        "cloud-free composite": (SLOVENIA / "s2_l1c_maxndvi_composite_13band.tif", None),
    }
    figures = {}
    for label, (scene, options) in runs.items():
        cv = rc.train(scene, polys, "LULC_NAME", opts, scene_options=options).accuracy
        model = rc.train(scene, train_polys, "LULC_NAME", fit_only, scene_options=options).model
        out = tmp_path / "map.tif"
        rc.predict(scene, model, out, scene_options=options, overwrite=True)
        mapped = rasterio.open(out).read(1)
        want = np.zeros_like(mapped)
        for rid, name in names.items():
            if rid and name:
                want[reference == rid] = model.class_map.encode([name])[0]
        judged = held & (want > 0) & (mapped > 0)
        figures[label] = (
            cv.confusion.overall_accuracy,
            float((mapped[judged] == want[judged]).mean()),
        )
        print(
            f"slovenia {label}: CV grouped by polygon OA {figures[label][0]:.3f}; against "
            f"lulc_reference.tif on held-out polygons ({judged.sum()} px) OA "
            f"{figures[label][1]:.3f}"
        )
    gap_cv, gap_ref = figures["68-date NDVI, gap-filled"]
    assert gap_cv > 0.6 and gap_ref > 0.6


@needs_shared(SINOP)
def test_sinop_modis_series_classifies_with_the_labelled_points(tmp_path):
    scene = SINOP / "sinop_mod13q1_ndvi_2013-09-14_2014-08-29.tif"
    points = SINOP / "samples_sinop_crop.gpkg"
    series = rc.as_series(rc.open_scene(scene))
    assert len(series_layout(series)["NDVI"][0]) == 12
    opts = rc.TrainingOptions(params={"n_estimators": 100}, cv_folds=0, seed=0)
    out = tmp_path / "sinop.tif"
    result = rc.classify(
        scene, points, "label", out, opts, scene_options=rc.SceneOptions(gap_fill=True)
    )
    pts = gpd.read_file(points).to_crs(rasterio.open(out).crs)
    with rasterio.open(out) as src:
        codes = np.array([v[0] for v in src.sample([(p.x, p.y) for p in pts.geometry])])
    predicted = [result.model.class_map.name_of(int(c)) for c in codes]
    agree = {
        c: float(np.mean([p == c for p, t in zip(predicted, pts["label"], strict=True) if t == c]))
        for c in sorted(set(pts["label"]))
    }
    print("sinop MODIS NDVI, agreement at the 18 labelled points per class (fit):", agree)
    # leave one point out: each point predicted by a forest fitted on the 17 others
    samples = rc.extract_samples(rc.as_series(rc.open_scene(scene)), points, "label")
    held = cross_val_predict(
        rc.make_estimator("rf", {"n_estimators": 50, "random_state": 0}),
        samples.X,
        samples.y,
        cv=LeaveOneOut(),
    )
    loo = {
        samples.class_map.name_of(int(c)): float((held[samples.y == c] == c).mean())
        for c in np.unique(samples.y)
    }
    print("sinop MODIS NDVI, leave-one-point-out agreement per class:", loo)
    assert all(v == 1.0 for v in agree.values())  # a fit check: the points are the training data
