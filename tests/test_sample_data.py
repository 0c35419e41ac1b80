"""sample_data/: the generator reproduces the shipped files, and the crop damage truth is what
sample_data/README.md says (issue 14)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio import features
from rasterio.windows import from_bounds
from shapely.geometry import box

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
GENERATORS = {"README.md", *(p.name for p in SAMPLE.glob("make_*.py"))}
THRESHOLD = -0.15


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample_data")
    subprocess.run(
        [sys.executable, str(SAMPLE / "make_sample_data.py"), "--out-dir", str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def damage() -> dict[str, np.ndarray]:
    """The window of both dates, dNDVI, the truth and the rasterized field ids."""
    with rasterio.open(SAMPLE / "scene_t2.tif") as t2:
        after = t2.read().astype(np.float64)
        bounds, transform = t2.bounds, t2.transform
    with rasterio.open(SAMPLE / "scene.tif") as t1:
        before = t1.read(window=from_bounds(*bounds, t1.transform)).astype(np.float64)
    with rasterio.open(SAMPLE / "damage_truth.tif") as src:
        truth = src.read(1)
    fields = gpd.read_file(SAMPLE / "fields.gpkg", layer="fields")
    ids = features.rasterize(
        zip(fields.geometry, fields.field_id, strict=True),
        out_shape=truth.shape,
        transform=transform,
        dtype="int32",
    )

    def ndvi(a: np.ndarray) -> np.ndarray:
        return (a[3] - a[2]) / np.maximum(a[3] + a[2], 1)

    valid = (before > 0).all(axis=0) & (after > 0).all(axis=0)
    return {"dndvi": ndvi(after) - ndvi(before), "valid": valid, "truth": truth, "ids": ids}


def readme_damage_table() -> pd.DataFrame:
    lines = (SAMPLE / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("| field_id | crop | event | valid_px | damaged_px | damaged_share |")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        rows.append(cells)
    table = pd.DataFrame(rows, columns=lines[start].strip("| ").split(" | "))
    for col in ("field_id", "valid_px", "damaged_px"):
        table[col] = table[col].astype(int)
    table["damaged_share"] = table["damaged_share"].astype(float)
    return table


def test_regenerated_files_are_byte_identical(regenerated):
    shipped = {p.name for p in SAMPLE.iterdir() if p.is_file()} - GENERATORS
    made = {p.name for p in regenerated.iterdir() if p.is_file()}
    assert made == shipped
    differ = [name for name in sorted(made) if sha256(regenerated / name) != sha256(SAMPLE / name)]
    assert not differ, f"{differ} differ: run `make sample-data` and commit, if that was meant"


def test_sample_data_stays_small():
    total = sum(p.stat().st_size for p in SAMPLE.iterdir() if p.is_file())
    assert total < 10 * 2**20


def test_second_date_is_on_the_first_dates_grid():
    with rasterio.open(SAMPLE / "scene.tif") as t1, rasterio.open(SAMPLE / "scene_t2.tif") as t2:
        assert t2.crs == t1.crs and t2.res == t1.res and t2.nodata == t1.nodata == 0
        assert t2.descriptions == t1.descriptions and t2.dtypes == t1.dtypes
        assert t2.tags()["SCALE_FACTOR"] == t1.tags()["SCALE_FACTOR"]
        assert t2.tags()["ACQUISITION_DATE"] == "2024-07-03"
        offset = ~t1.transform @ (t2.transform.c, t2.transform.f)
        assert offset == (460.0, 560.0)  # whole pixels: the same grid
        assert t2.shape == (400, 400)
        with rasterio.open(SAMPLE / "damage_truth.tif") as truth:
            assert truth.transform == t2.transform and truth.shape == t2.shape


def test_truth_per_field_matches_csv_and_readme(damage):
    truth, ids, valid = damage["truth"], damage["ids"], damage["valid"]
    table = pd.read_csv(SAMPLE / "field_damage.csv")
    fields = gpd.read_file(SAMPLE / "fields.gpkg", layer="fields")
    assert fields.crs.to_epsg() == 32633
    assert list(fields.field_id) == list(table.field_id) == list(range(1, len(table) + 1))
    assert list(fields.crop) == list(table.crop)
    # the truth is 0 outside the fields and at nodata of either date, 1/2 in the fields
    assert ((truth > 0) == ((ids > 0) & valid)).all()
    n = len(table) + 1
    valid_px = np.bincount(ids[truth > 0], minlength=n)[1:]
    damaged_px = np.bincount(ids[truth == 2], minlength=n)[1:]
    assert (valid_px == table.valid_px).all() and (damaged_px == table.damaged_px).all()
    np.testing.assert_allclose(table.damaged_share, damaged_px / valid_px, atol=5e-5)
    np.testing.assert_allclose(table.damaged_ha, damaged_px * 0.09, atol=5e-3)

    readme = readme_damage_table()
    events = table[table.event != "none"].reset_index(drop=True)
    pd.testing.assert_frame_equal(readme, events[readme.columns].astype(readme.dtypes))
    assert (events.event == "harvested").sum() == 1
    damaged = events[events.event != "harvested"]
    assert len(damaged) == 20 and (damaged.damaged_share == 1).sum() == 7
    text = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert f"{int(damaged.damaged_px.sum()):,} pixels ({damaged.damaged_ha.sum():.2f} ha)" in text
    assert f"of {int(table.valid_px.sum()):,} valid field pixels" in text


def test_districts_cover_the_scene_once():
    districts = gpd.read_file(SAMPLE / "districts.gpkg", layer="districts")
    assert districts.crs.to_epsg() == 4326 and len(districts) == 8
    assert districts.district.is_unique and list(districts.district_id) == list(range(1, 9))
    with rasterio.open(SAMPLE / "scene.tif") as src:
        scene = box(*src.bounds)
        utm = districts.to_crs(src.crs)
    assert utm.union_all().contains(scene)
    assert sum(g.intersection(scene).area for g in utm.geometry) == pytest.approx(scene.area)


def test_dndvi_threshold_baseline_finds_the_damage(damage):
    """The baseline of the README: dNDVI < -0.15 maps >= 90 % of the damaged area with at most
    10 % false damage; the per-field shares are close to the truth."""
    d, truth, valid, ids = damage["dndvi"], damage["truth"], damage["valid"], damage["ids"]
    found = (d < THRESHOLD) & valid
    dam = truth == 2
    tp = int((found & dam).sum())
    false_fields = int((found & (truth == 1)).sum())
    false_window = int((found & ~dam).sum())
    recall = tp / dam.sum()
    print(
        f"dNDVI < {THRESHOLD}: found {recall:.1%} of the damaged area; false damage "
        f"{false_fields / (tp + false_fields):.1%} in fields, "
        f"{false_window / (tp + false_window):.1%} over the window"
    )
    assert recall == pytest.approx(0.967, abs=5e-4) and recall >= 0.9
    assert false_fields / (tp + false_fields) == pytest.approx(0.083, abs=5e-4)
    assert false_window / (tp + false_window) == pytest.approx(0.087, abs=5e-4)

    table = pd.read_csv(SAMPLE / "field_damage.csv")
    hit = table[table.event.isin(["hail", "flood", "drought"])]
    share = np.array([found[ids == i].mean() for i in hit.field_id])
    off = np.abs(share - hit.damaged_share.to_numpy())
    assert (off <= 0.05).sum() == 18
    assert set(hit.field_id[off > 0.05]) == {65, 130}
    harvested = int(table.field_id[table.event == "harvested"].iloc[0])
    assert found[ids == harvested].mean() > 0.95  # the trap: stubble looks like damage


@pytest.mark.parametrize(
    ("threshold", "recall", "false"),
    [(-0.10, 0.999, 0.438), (-0.12, 0.994, 0.252), (-0.18, 0.902, 0.063), (-0.25, 0.644, 0.084)],
)
def test_readme_threshold_table(damage, threshold, recall, false):
    d, truth, valid = damage["dndvi"], damage["truth"], damage["valid"]
    found = (d < threshold) & valid
    tp = (found & (truth == 2)).sum()
    fp = (found & (truth == 1)).sum()
    assert tp / (truth == 2).sum() == pytest.approx(recall, abs=5e-4)
    assert fp / (tp + fp) == pytest.approx(false, abs=5e-4)


def test_ndvi_series_is_a_cloudy_part_of_the_same_grid():
    with rasterio.open(SAMPLE / "ndvi_series.tif") as src:
        ndvi = src.read(masked=True).astype(np.float64) * src.scales[0]
        assert src.count == 8 and src.dtypes[0] == "int16" and src.nodata == -32768
        assert src.scales == (1e-4,) * 8 and src.tags()["SCALE_FACTOR"] == "0.0001"
        dates = [src.tags(i)["DATE"] for i in range(1, 9)]
        assert list(src.descriptions) == [f"ndvi_{d}" for d in dates]
        assert dates[0] == "2024-04-15" and dates[-1] == "2024-09-02"
        transform, shape, bounds = src.transform, src.shape, src.bounds
    with rasterio.open(SAMPLE / "ndvi_series_valid.tif") as src:
        valid = src.read().astype(bool)
        assert src.transform == transform and src.shape == shape
    with rasterio.open(SAMPLE / "scene.tif") as src:
        assert ~src.transform @ (transform.c, transform.f) == (560.0, 710.0)
        scene_nodata = src.read(1, window=from_bounds(*bounds, src.transform)) == 0
    assert shape == (200, 200)
    assert (ndvi.mask == scene_nodata[None]).all()  # nodata only where scene.tif has none
    assert not valid[:, scene_nodata].any()
    assert valid[:, ~scene_nodata].mean() == pytest.approx(0.529, abs=5e-4)
    assert int((valid.all(axis=0)).sum()) == 60
    # under clouds the NDVI is pulled down; where valid it looks like vegetation and soil
    assert ndvi[~valid & ~ndvi.mask].mean() < ndvi[valid].mean() - 0.2
    assert ndvi[valid].min() > -0.3 and ndvi[valid].max() < 0.95
    fields = gpd.read_file(SAMPLE / "fields.gpkg", layer="fields")
    assert int(fields.intersects(box(*bounds)).sum()) == 56
