"""Issue 11, item 9: `assess` recognises training data by pixel positions, not by file hash.

A map (and the model behind it) keeps the positions of its training pixels; assessing it
against a reference reports the share of reference pixels that were training pixels, labels
the report a fit diagnostic from 50 % on and warns below. The oracle for every share is the
intersection of the reference pixels with the training pixels, computed here with sets.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from rasterio.warp import calculate_default_transform, reproject
from rasterio.windows import Window

from rasterclass import (
    RasterModel,
    SceneOptions,
    TrainingOptions,
    classify,
    extract_samples,
    open_scene,
    train,
)
from rasterclass import training_pixels as tp
from rasterclass.accuracy.assess import assess
from rasterclass.cli.main import cli
from rasterclass.errors import TrainingReferenceWarning
from rasterclass.jobs import ObjectOptions, predict
from rasterclass.stack import Grid
from rasterclass.training_pixels import TrainingPixels
from tests.conftest import CRS, pixel_box, write_raster

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
SCENE = SAMPLE / "scene.tif"
TRAINING = SAMPLE / "training.gpkg"
VALIDATION = SAMPLE / "validation.gpkg"
CHUNKS = [256, 384]
SMALL_RF = ["-p", "n_estimators=10", "--cv", "0"]


def run(*args: object) -> str:
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def positions(scene_path: Path, vector: Path | gpd.GeoDataFrame) -> list[tuple[int, int]]:
    scene = open_scene(scene_path)
    s = extract_samples(scene, vector, "class", require_all_classes=False, role="reference")
    return list(zip(s.rows.tolist(), s.cols.tolist(), strict=True))


def oracle_share(scene_path: Path, reference: Path, training: Path = TRAINING) -> float:
    """Share of the reference pixels (one per pixel) that lie under the training polygons."""
    train = set(positions(scene_path, training))
    ref = set(positions(scene_path, reference))
    return sum(p in train for p in ref) / len(ref)


def assess_cli(map_path: Path, reference: Path, out: Path) -> dict:
    run("assess", map_path, "-r", reference, "-c", "class", "-o", out)
    return json.loads(out.read_text())


@pytest.fixture(scope="module", params=CHUNKS, ids=[f"chunks{c}" for c in CHUNKS])
def sample_maps(request, tmp_path_factory):
    """The sample scene classified in one go (classify) and via a saved model (predict)."""
    chunks = request.param
    d = tmp_path_factory.mktemp(f"maps{chunks}")
    run(
        "classify", SCENE, "-t", TRAINING, "-c", "class", *SMALL_RF,
        "--chunks", chunks, "-o", d / "map.tif",
    )  # fmt: skip
    run("train", SCENE, "-t", TRAINING, "-c", "class", *SMALL_RF, "-o", d / "model.skops")
    run("predict", SCENE, "--model", d / "model.skops", "--chunks", chunks, "-o", d / "pred.tif")
    return {"dir": d, "chunks": chunks, "map": d / "map.tif", "pred": d / "pred.tif"}


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    d = tmp_path_factory.mktemp("refs")
    train = gpd.read_file(TRAINING)
    utm = train.to_crs(CRS)
    out = {}
    # (a) the training polygons reprojected to another CRS (the file is in EPSG:4326)
    out["reprojected"] = d / "reprojected.gpkg"
    train.to_crs("EPSG:3035").to_file(out["reprojected"])
    # (b) a subset of the training polygons
    out["subset"] = d / "subset.gpkg"
    utm.iloc[::3].to_file(out["subset"])
    # (c) every training polygon shifted by one pixel (30 m east)
    shifted = utm.copy()
    shifted["geometry"] = shifted.translate(30.0, 0.0)
    out["shifted"] = d / "shifted.gpkg"
    shifted.to_file(out["shifted"])
    # mostly independent validation polygons plus three training polygons
    val = gpd.read_file(VALIDATION)
    mixed = gpd.GeoDataFrame(
        {"class": [*val["class"], *utm["class"].iloc[:3]]},
        geometry=[*val.geometry, *utm.geometry.iloc[:3]],
        crs=CRS,
    )
    out["mixed"] = d / "mixed.gpkg"
    mixed.to_file(out["mixed"])
    return out


# --- (a)-(c): training data in disguise is a fit diagnostic -------------------------------
@pytest.mark.parametrize("which", ["reprojected", "subset", "shifted"])
def test_training_data_in_disguise_is_a_fit_diagnostic(sample_maps, references, which):
    ref = references[which]
    expected = oracle_share(SCENE, ref)
    assert expected == 1.0 if which != "shifted" else 0.8 < expected < 0.9
    out = sample_maps["dir"] / f"{which}.json"
    report = assess_cli(sample_maps["map"], ref, out)
    assert report["kind"] == "fit diagnostic"
    assert report["metadata"]["training_pixel_share"] == pytest.approx(expected, abs=1e-12)
    n_ref = report["metadata"]["reference_pixels"]
    assert report["metadata"]["training_pixels_in_reference"] == round(expected * n_ref)
    assert any(f"{expected:.1%} of the reference pixels" in n for n in report["notes"])
    # the Python API says the same
    api = assess(sample_maps["map"], ref, "class", chunks=sample_maps["chunks"])
    assert api.kind == "fit diagnostic"
    assert api.metadata["training_pixel_share"] == pytest.approx(expected, abs=1e-12)


def test_shifted_share_value(sample_maps, references):
    """The one-pixel shift: 84.07 % of the shifted polygons' pixels were training pixels."""
    report = assess(sample_maps["map"], references["shifted"], "class")
    assert report.metadata["training_pixel_share"] == pytest.approx(3120 / 3711, abs=1e-12)
    assert report.metadata["training_pixels_in_reference"] == 3120


# --- (d): independent validation ----------------------------------------------------------
def test_independent_validation_is_not_labelled(sample_maps, tmp_path):
    # no warning: pytest turns RasterclassWarnings into errors
    report = assess_cli(sample_maps["map"], VALIDATION, tmp_path / "v.json")
    assert report["kind"] == "validation"
    assert report["metadata"]["training_pixel_share"] == 0.0
    assert report["metadata"]["training_pixels_in_reference"] == 0
    assert not any("training pixels" in n for n in report["notes"])
    run("assess", sample_maps["map"], "-r", VALIDATION, "-c", "class", "-o", tmp_path / "v.md")
    md = (tmp_path / "v.md").read_text()
    assert "**Kind:** validation" in md
    assert "training_pixel_share: 0.0" in md


# --- a small overlap warns with the share -------------------------------------------------
def test_partial_overlap_warns_with_the_share(sample_maps, references, tmp_path):
    ref = references["mixed"]
    expected = oracle_share(SCENE, ref)
    assert 0 < expected < tp.FIT_DIAGNOSTIC_SHARE
    with pytest.warns(TrainingReferenceWarning, match=rf"{expected:.1%} of the reference pixels"):
        report = assess(sample_maps["map"], ref, "class", chunks=sample_maps["chunks"])
    assert report.kind == "validation"
    assert report.metadata["training_pixel_share"] == pytest.approx(expected, abs=1e-12)
    assert any("optimistic" in n for n in report.notes)
    # the CLI shows the warning as a line of its own, and the note
    out = run("assess", sample_maps["map"], "-r", ref, "-c", "class", "-o", tmp_path / "m.md")
    assert f"Warning: {expected:.1%} of the reference pixels" in out
    assert f"note: {expected:.1%} of the reference pixels" in out
    md = (tmp_path / "m.md").read_text()
    assert "**Kind:** validation" in md
    assert f"training_pixel_share: {expected}" in md


# --- (e): the predict path carries the record from the model file -------------------------
def test_model_file_keeps_the_training_pixels(sample_maps):
    model = RasterModel.load(sample_maps["dir"] / "model.skops")
    assert model.training_pixels is not None
    train = positions(SCENE, TRAINING)
    assert len(model.training_pixels) == len(set(train)) == 3711
    rows, cols = np.divmod(model.training_pixels.indices.astype(np.int64), 1000)
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == set(train)


@pytest.mark.parametrize("which", ["subset", "shifted"])
def test_predicted_map_recognises_training_data(sample_maps, references, which, tmp_path):
    expected = oracle_share(SCENE, references[which])
    report = assess_cli(sample_maps["pred"], references[which], tmp_path / "p.json")
    assert report["kind"] == "fit diagnostic"
    assert report["metadata"]["training_pixel_share"] == pytest.approx(expected, abs=1e-12)
    report = assess_cli(sample_maps["pred"], VALIDATION, tmp_path / "v.json")
    assert report["kind"] == "validation"
    assert report["metadata"]["training_pixel_share"] == 0.0


@pytest.mark.parametrize("writer", ["write_map", "rio.to_raster"])
def test_python_predict_raster_map_recognises_training_data(
    sample_maps, references, writer, tmp_path
):
    """From Python: predict_raster + write_map (or rioxarray's to_raster) keep the record."""
    from rasterclass import predict_raster, write_map

    model = RasterModel.load(sample_maps["dir"] / "model.skops")
    pred = predict_raster(open_scene(SCENE, chunks=sample_maps["chunks"]), model)
    path = tmp_path / "py.tif"
    if writer == "write_map":
        write_map(pred, path)
    else:
        pred["classes"].rio.to_raster(path)
    expected = oracle_share(SCENE, references["subset"])
    report = assess(path, references["subset"], "class")
    assert report.kind == "fit diagnostic"
    assert report.metadata["training_pixel_share"] == pytest.approx(expected, abs=1e-12)
    report = assess(path, VALIDATION, "class")
    assert report.kind == "validation"
    assert report.metadata["training_pixel_share"] == 0.0


def test_predict_on_another_grid_maps_the_training_pixels(sample_maps, references, tmp_path):
    """A model applied to a window of its scene (another grid): positions are mapped."""
    with rasterio.open(SCENE) as src:
        window = Window(col_off=150, row_off=200, width=700, height=600)
        profile = src.profile | {
            "width": 700,
            "height": 600,
            "transform": src.window_transform(window),
        }
        data = src.read(window=window)
        descriptions = src.descriptions
    crop = tmp_path / "crop.tif"
    with rasterio.open(crop, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = descriptions
    out = tmp_path / "crop_map.tif"
    predict(
        crop,
        sample_maps["dir"] / "model.skops",
        out,
        scene_options=SceneOptions(chunks=sample_maps["chunks"]),
    )
    expected = oracle_share(crop, references["shifted"])
    report = assess(out, references["shifted"], "class")
    assert report.kind == "fit diagnostic"
    assert report.metadata["training_pixel_share"] == pytest.approx(expected, abs=1e-12)
    report = assess(out, VALIDATION, "class")
    assert report.metadata["training_pixel_share"] == 0.0


# --- object-based maps --------------------------------------------------------------------
@pytest.mark.parametrize("chunks", [16, 40])
def test_object_based_map_recognises_training_data(tmp_path, scene_path, training_path, chunks):
    out = tmp_path / "obj.tif"
    run(
        "classify", scene_path, "-t", training_path, "-c", "class", "--object-based",
        "--segment-param", "min_size=10", "--cv", "0", "--chunks", chunks, "-o", out,
    )  # fmt: skip
    utm = gpd.read_file(training_path).to_crs(CRS)
    subset = tmp_path / "subset.gpkg"
    utm.iloc[::2].to_file(subset)
    report = assess_cli(out, subset, tmp_path / "o.json")
    assert report["kind"] == "fit diagnostic"
    assert report["metadata"]["training_pixel_share"] == 1.0
    # polygons between the training boxes share no pixel with them
    other = gpd.GeoDataFrame(
        {"class": ["water", "forest", "urban"]},
        geometry=[pixel_box(9, 5, 13, 20), pixel_box(20, 34, 24, 46), pixel_box(31, 55, 35, 70)],
        crs=CRS,
    )
    indep = tmp_path / "indep.gpkg"
    other.to_file(indep)
    assert oracle_share(scene_path, indep, training_path) == 0.0
    report = assess_cli(out, indep, tmp_path / "i.json")
    assert report["kind"] == "validation"
    assert report["metadata"]["training_pixel_share"] == 0.0
    # the Python API keeps the record too
    res = classify(
        scene_path,
        training_path,
        "class",
        tmp_path / "obj2.tif",
        TrainingOptions(cv_folds=0),
        objects=ObjectOptions(segment_params={"min_size": 10}),
        scene_options=SceneOptions(chunks=chunks),
    )
    assert len(res.model.training_pixels) == len(set(positions(scene_path, training_path)))
    assert assess(tmp_path / "obj2.tif", subset, "class").kind == "fit diagnostic"


# --- large records: a sidecar written with the map ----------------------------------------
def test_large_record_goes_to_a_sidecar(tmp_path, scene_path, training_path, monkeypatch):
    subset = tmp_path / "subset.gpkg"
    gpd.read_file(training_path).iloc[::4].to_file(subset)
    out = tmp_path / "m.tif"
    monkeypatch.setattr(tp, "MAX_TAG_CHARS", 10)
    classify(scene_path, training_path, "class", out, TrainingOptions(cv_folds=0))
    sidecar = Path(f"{out}{tp.SIDECAR_SUFFIX}")
    assert sidecar.exists()
    with rasterio.open(out) as src:
        header = json.loads(src.tags()[tp.RECORD_TAG])
    assert header["sidecar"] == tp.SIDECAR_SUFFIX
    assert "deltas_zlib_base64" not in header
    report = assess(out, subset, "class")
    assert report.kind == "fit diagnostic"
    assert report.metadata["training_pixel_share"] == 1.0
    # the sidecar lost: said so, and the file hash still recognises the training file
    sidecar.unlink()
    report = assess(out, training_path, "class")
    assert report.kind == "fit diagnostic"
    assert "training_pixel_share" not in report.metadata
    assert any("training-pixel record" in n and "missing" in n for n in report.notes)
    # rewritten with the record in the tag: a stale sidecar is removed
    sidecar.write_bytes(b"stale")
    monkeypatch.setattr(tp, "MAX_TAG_CHARS", 65_536)
    classify(scene_path, training_path, "class", out, TrainingOptions(cv_folds=0), overwrite=True)
    assert not sidecar.exists()
    assert assess(out, subset, "class").metadata["training_pixel_share"] == 1.0


def test_map_without_record_falls_back_to_the_file_hash(tmp_path, scene_path, training_path):
    out = tmp_path / "m.tif"
    classify(scene_path, training_path, "class", out, TrainingOptions(cv_folds=0))
    with rasterio.open(out, "r+") as dst:  # as written by an older rasterclass
        dst.update_tags(**{tp.RECORD_TAG: ""})
    report = assess(out, training_path, "class")
    assert report.kind == "fit diagnostic"
    assert "training_pixel_share" not in report.metadata


# --- design-based assessment --------------------------------------------------------------
def test_stratified_sample_of_training_pixels_is_a_fit_diagnostic(
    tmp_path, scene_path, training_path
):
    out = tmp_path / "m.tif"
    classify(scene_path, training_path, "class", out, TrainingOptions(cv_folds=0))
    utm = gpd.read_file(training_path).to_crs(CRS)
    points = gpd.GeoDataFrame(
        {"class": utm["class"]}, geometry=utm.geometry.representative_point(), crs=CRS
    )
    ref = tmp_path / "points.gpkg"
    points.to_file(ref)
    report = assess(out, ref, "class", design="stratified")
    assert report.kind == "fit diagnostic"
    assert report.area is not None
    assert report.metadata["training_pixel_share"] == 1.0


# --- the record itself --------------------------------------------------------------------
def test_record_round_trip_and_other_grids():
    grid = Grid(rasterio.crs.CRS.from_string(CRS), Affine(30, 0, 500000, 0, -30, 5000000), 7, 5)
    rows = np.array([0, 0, 1, 4, 4, 0])
    cols = np.array([0, 1, 1, 6, 5, 1])
    rec = TrainingPixels.from_positions(rows, cols, grid)
    assert rec.indices.tolist() == [0, 1, 8, 33, 34]
    back = TrainingPixels.decode(json.loads(json.dumps(rec.encode())))
    assert back.indices.tolist() == rec.indices.tolist()
    assert back.grid.same_as(grid)
    assert rec.contains(np.array([0, 1, 2]), np.array([1, 1, 1]), grid).tolist() == [
        True,
        True,
        False,
    ]
    # a grid of 10 m pixels over the same area: each training pixel is 3 x 3 map pixels
    fine = Grid(grid.crs, Affine(10, 0, 500000, 0, -10, 5000000), 21, 15)
    on_fine = rec.on_grid(fine)
    assert len(on_fine) == 5 * 9
    assert set(np.divmod(on_fine, 21)[0].tolist()) == {0, 1, 2, 3, 4, 5, 12, 13, 14}
    # a grid shifted by one pixel: indices move by one column
    shifted = Grid(grid.crs, Affine(30, 0, 500030, 0, -30, 5000000), 7, 5)
    assert rec.on_grid(shifted).tolist() == [0, 7, 32, 33]
    # indices more than 2**32 apart: uint64 deltas
    huge = Grid(grid.crs, grid.transform, 100_000, 100_000)
    big = TrainingPixels.from_positions(np.array([0, 99_999]), np.array([0, 99_999]), huge)
    enc = big.encode()
    assert np.dtype(enc["dtype"]) == np.dtype("<u8")
    assert TrainingPixels.decode(enc).indices.tolist() == [0, 100_000**2 - 1]


def test_reprojected_map_grid(tmp_path, scene_path, training_path):
    """A map on a grid in another CRS (the scene warped to EPSG:3035): the training pixels
    are found on it, and the training polygons are a fit diagnostic there."""
    warped = tmp_path / "warped.tif"
    with rasterio.open(scene_path) as src:
        transform, width, height = calculate_default_transform(
            src.crs, "EPSG:3035", src.width, src.height, *src.bounds, resolution=30
        )
        data = np.full((src.count, height, width), np.nan, dtype=np.float32)
        reproject(
            src.read(),
            data,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=transform,
            dst_crs="EPSG:3035",
            src_nodata=np.nan,
            dst_nodata=np.nan,
        )
        descriptions = list(src.descriptions)
    write_raster(
        warped,
        data,
        nodata=float("nan"),
        crs="EPSG:3035",
        transform=transform,
        descriptions=descriptions,
    )
    model = tmp_path / "model.skops"
    train(scene_path, training_path, "class", TrainingOptions(cv_folds=0), model_output=model)
    out = tmp_path / "m.tif"
    predict(warped, model, out)
    report = assess(out, training_path, "class")
    assert report.kind == "fit diagnostic"
    assert report.metadata["training_pixel_share"] >= 0.9
