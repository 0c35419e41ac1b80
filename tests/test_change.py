"""Change maps of a before/after pair and the damage per field (issue 14, "What it must
show" 4), on the shipped sample data: ``scene.tif`` (2024-06-12), ``scene_t2.tif``
(2024-07-03, a 400 x 400 window of it), ``fields.gpkg``, ``damage_truth.tif`` and
``field_damage.csv``.

Definitions used below, inside the fields (``damage_truth.tif`` > 0):

- damaged area found = truth-damaged pixels mapped ``damaged`` / truth-damaged pixels;
- false damage = pixels mapped ``damaged`` that the truth says are not damaged / pixels
  mapped ``damaged`` (the share of the mapped damaged area that is wrong).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

import rasterclass as rc
from conftest import read_band, run_cli
from rasterclass.change import crop_to_overlap, zones_mask
from rasterclass.errors import GridMismatchError, SceneError, ZoneError

DATA = Path(__file__).resolve().parents[1] / "sample_data"
DATES = ["2024-06-12", "2024-07-03"]


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return read_band(DATA / "damage_truth.tif")


@pytest.fixture(scope="module")
def fields():
    return rc.read_vector(DATA / "fields.gpkg")


def _change(chunks: int | None, fields, *, in_memory: bool = False):
    before = rc.open_scene(DATA / "scene.tif", chunks=chunks)
    after = rc.open_scene(DATA / "scene_t2.tif", chunks=chunks)
    if in_memory:
        before, after = before.compute(), after.compute()
    mask = zones_mask(list(fields.geometry), after)
    return rc.detect_change(before, after, DATES, mask=mask)


def test_damaged_fields_are_found_on_the_sample_data(fields, truth):
    classes = _change(256, fields)["classes"].values
    assert classes.shape == truth.shape == (400, 400)
    damaged, mapped = truth == 2, classes == 2
    found = (mapped & damaged).sum() / damaged.sum()
    false = (mapped & (truth == 1)).sum() / mapped.sum()
    print(f"damaged area found {found:.1%}, false damage {false:.1%} of the mapped damage")
    assert found >= 0.90
    assert false <= 0.10
    assert not (classes[truth == 0] > 0).any()  # only the fields are assessed


def test_damage_per_field_against_the_truth_table(fields, oracle):
    change = oracle
    table = rc.damage_summary(change, fields, "field_id")
    expected = pd.read_csv(DATA / "field_damage.csv", index_col="field_id")
    assert (table["valid_pixels"].loc[expected.index] == expected["valid_px"]).all()
    error = (table["damaged_share"].loc[expected.index] - expected["damaged_share"]).abs()
    hit = expected[expected["damaged_px"] > 0].index
    print(
        f"per-field damaged share, |error| over the {len(hit)} damaged fields: max "
        f"{error[hit].max():.3f} (field {error[hit].idxmax()}), median {error[hit].median():.3f};"
        f" harvested field 111 mapped {table.loc[111, 'damaged_share']:.2f} (truth 0)"
    )
    assert error[hit].median() < 0.03
    assert error[hit].max() < 0.2  # the maize fields flooded whole: 82 % and 93 % found
    assert (error[hit] < 0.05).sum() >= 18
    ha = table["damaged_ha"] / table["valid_ha"]
    np.testing.assert_allclose(ha[hit], table["damaged_share"][hit])
    assert table["mean_dndvi"].loc[130] < -0.15 < table["mean_dndvi"].loc[1]


@pytest.fixture(scope="module")
def oracle(fields):
    return _change(None, fields, in_memory=True).compute()


@pytest.mark.parametrize("chunks", [100, 137, 256])
def test_same_result_for_any_chunking_and_numpy(fields, oracle, chunks):
    got = _change(chunks, fields)
    np.testing.assert_array_equal(got["classes"].values, oracle["classes"].values)
    np.testing.assert_array_equal(got["difference"].values, oracle["difference"].values)


def test_lazy_until_written(fields, forbid_compute, tmp_path):
    with forbid_compute():
        change = _change(100, fields)
        assert change["classes"].chunks is not None
    rc.write_map(change, tmp_path / "change.tif")
    assert read_band(tmp_path / "change.tif").max() == 2


def test_crop_to_overlap_and_grid_mismatch():
    before = rc.open_scene(DATA / "scene.tif")
    after = rc.open_scene(DATA / "scene_t2.tif")
    a, b = crop_to_overlap(before, after)
    assert a.shape == b.shape == (6, 400, 400)
    np.testing.assert_array_equal(a.x.values, after.x.values)
    shifted = after.assign_coords(x=after.x + 10.0)  # a third of a pixel off
    with pytest.raises(GridMismatchError, match="reference="):
        crop_to_overlap(before, shifted.rio.write_transform(shifted.rio.transform(recalc=True)))


def test_bad_values_are_refused_before_any_work(tmp_path):
    before, after = DATA / "scene.tif", DATA / "scene_t2.tif"
    out = tmp_path / "c.tif"
    with pytest.raises(SceneError, match="negative"):
        rc.change_map(before, after, out, dates=DATES, threshold=0.2)
    with pytest.raises(SceneError, match="not later"):
        rc.change_map(before, after, out, dates=DATES[::-1])
    with pytest.raises(SceneError, match="map_path"):
        rc.change_map(before, after, out, dates=DATES, mask_classes=["cropland"])
    with pytest.raises(SceneError, match="zones"):
        rc.change_map(before, after, out, dates=DATES, per_zone=tmp_path / "d.csv")
    with pytest.raises(SceneError, match="dates"):
        rc.change_map(before, after, out)  # scene.tif holds no date
    fields = DATA / "fields.gpkg"
    with pytest.raises(ZoneError, match=r"no column 'nosuch'.*'field_id'"):
        rc.change_map(before, after, out, dates=DATES, zones=fields, zone_column="nosuch")
    with pytest.raises(ZoneError, match="no polygon"):
        rc.change_map(before, after, out, dates=DATES, zones=rc.read_vector(fields).iloc[:0])
    assert not out.exists()


def test_mask_by_land_cover_map(tmp_path):
    result = rc.change_map(
        DATA / "scene.tif",
        DATA / "scene_t2.tif",
        tmp_path / "change.tif",
        dates=DATES,
        map_path=DATA / "truth.tif",
        mask_classes=["3", "4"],  # truth.tif has no class names: codes (names in our maps)
    )
    classes = read_band(tmp_path / "change.tif")
    land = crop_to_overlap(rc.open_scene(DATA / "truth.tif"), result.change["classes"])[0]
    crop = np.isin(land.values[0], [3, 4])
    assert (classes[~crop] == 0).all()
    assert (classes[crop] > 0).mean() > 0.99
    with pytest.raises(rc.RasterclassError, match="no class 'rice'"):
        rc.change_map(
            DATA / "scene.tif",
            DATA / "scene_t2.tif",
            tmp_path / "other.tif",
            dates=DATES,
            map_path=DATA / "truth.tif",
            mask_classes=["rice"],
        )


def test_a_map_on_another_grid_is_named_as_the_map(tmp_path):
    with rasterio.open(DATA / "truth.tif") as src:
        coarse = src.read(out_shape=(1, src.height // 2, src.width // 2))
        profile = src.profile | {
            "width": src.width // 2,
            "height": src.height // 2,
            "transform": src.transform @ src.transform.scale(2, 2),
        }
    with rasterio.open(tmp_path / "map60.tif", "w", **profile) as dst:
        dst.write(coarse)
    out = tmp_path / "change.tif"
    with pytest.raises(GridMismatchError, match=r"land-cover map .*map60.tif.*map_path"):
        rc.change_map(
            DATA / "scene.tif", DATA / "scene_t2.tif", out, dates=DATES,
            map_path=tmp_path / "map60.tif", mask_classes=["3"],
        )  # fmt: skip
    assert not out.exists()


def test_cli_writes_map_difference_and_damage_per_field(tmp_path):
    out, diff, table = tmp_path / "change.tif", tmp_path / "dndvi.tif", tmp_path / "damage.csv"
    args = [DATA / "scene.tif", DATA / "scene_t2.tif", "-o", out, "-z", DATA / "fields.gpkg"]
    result = run_cli("change", *args, "--dates", ",".join(DATES), "-c", "field_id",
                     "--difference", diff, "--per-zone", table)  # fmt: skip
    assert "28 of 153 zones with damage" in result.output
    with rasterio.open(out) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 0
        assert src.colormap(1)[2][:3] == (215, 48, 31)
    with rasterio.open(diff) as src:
        assert src.dtypes[0] == "float32" and src.descriptions == ("dndvi",)
    per_field = pd.read_csv(table, index_col="field_id")
    assert per_field.loc[16, "damaged_share"] == 1.0
    assert Path(f"{out}.provenance.json").exists()
    missing = run_cli("change", *args[:2], "-o", tmp_path / "x.tif", ok=False)
    assert missing.exit_code != 0 and "--dates" in missing.output


@pytest.mark.parametrize("chunks", [None, 96])
def test_one_pass_and_the_same_damage_per_field_with_or_without_the_difference(
    tmp_path, monkeypatch, chunks
):
    """The map and the difference layer are written in one pass over the scenes, and the
    damage per field read back from them equals the one computed from the scenes."""
    import rasterclass.jobs.change as job

    passes: list[int] = []
    real = job.write_rasters
    monkeypatch.setattr(job, "write_rasters", lambda outs, **kw: passes.append(len(outs)) or
                        real(outs, **kw))  # fmt: skip
    kw = {"dates": DATES, "zones": DATA / "fields.gpkg", "zone_column": "field_id",
          "chunks": chunks}  # fmt: skip
    both = rc.change_map(DATA / "scene.tif", DATA / "scene_t2.tif", tmp_path / "a.tif",
                         difference=tmp_path / "d.tif", **kw)  # fmt: skip
    assert passes == [2]
    alone = rc.change_map(DATA / "scene.tif", DATA / "scene_t2.tif", tmp_path / "b.tif", **kw)
    pd.testing.assert_frame_equal(
        both.per_zone.drop(columns="geometry"), alone.per_zone.drop(columns="geometry")
    )
    assert read_band(tmp_path / "a.tif").tobytes() == read_band(tmp_path / "b.tif").tobytes()
