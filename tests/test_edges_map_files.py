"""Issue 11, items 1, 16, 17, 18: one class order, class maps that stand alone, probability
files that open usefully, overviews and Cloud Optimized GeoTIFFs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
from click.testing import CliRunner
from rasterio.enums import ColorInterp
from rio_cogeo.cogeo import cog_validate

from rasterclass import open_scene, predict_raster, read_class_map, write_map
from rasterclass.apply import stack_probabilities
from rasterclass.classes import ClassMap
from rasterclass.cli.main import cli
from rasterclass.errors import ClassMapError
from rasterclass.io import read_legend, write_probabilities
from rasterclass.jobs import TrainingOptions, train
from tests.conftest import CRS, TRANSFORM

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

# code order water, urban, forest; name order forest, urban, water
LEGEND_CODE_ORDER = "code,name,color\n1,water,#2b6cd6\n2,urban,#d63c3c\n3,forest,#1b6b2e\n"
# the same classes, rows not in code order: the legend's order is the class order
LEGEND_SHUFFLED = "code,name,color\n2,urban,#d63c3c\n3,forest,#1b6b2e\n1,water,#2b6cd6\n"


def _invoke(*groups: list) -> str:
    args = [str(a) for group in groups for a in group]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _legend(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "legend.csv"
    path.write_text(text)
    return path


def _legend_rows(text: str) -> list[tuple[int, str]]:
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    return [(int(r[0]), r[1]) for r in rows]


def _assert_bands_peak_on_their_class(proba_path: Path, map_path: Path) -> None:
    """Band i (described X, coded c) has its highest mean on the pixels mapped as c."""
    with rasterio.open(map_path) as src:
        classes = src.read(1)
    with rasterio.open(proba_path) as src:
        proba = src.read()
        described = list(src.descriptions)
        tags = [src.tags(i) for i in range(1, src.count + 1)]
    cmap = read_class_map(map_path)
    assert described[-1] == "confidence"
    for i, name in enumerate(described[:-1]):
        code = int(tags[i]["class_code"])
        assert tags[i]["class_name"] == name
        assert cmap.name_of(code) == name
        means = {c: float(np.nanmean(proba[i][classes == c])) for c in cmap.codes}
        assert max(means, key=means.get) == code, (name, means)


# ------------------------------------------------------------------------------------------
# Item 1: one class order; every probability band named and coded right
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("legend_text", [LEGEND_CODE_ORDER, LEGEND_SHUFFLED])
@pytest.mark.parametrize("chunks", [16, 40])
def test_cli_probability_bands_follow_the_legend(
    tmp_path, scene_path, training_path, legend_text, chunks
):
    legend = _legend(tmp_path, legend_text)
    out, proba = tmp_path / "map.tif", tmp_path / "proba.tif"
    _invoke(
        ["classify", scene_path, "-t", training_path, "-c", "class", "--legend", legend],
        ["-m", "rf", "-p", "n_estimators=20", "--cv", "0", "--chunks", chunks],
        ["-o", out, "--probabilities", proba],
    )
    rows = _legend_rows(legend_text)
    with rasterio.open(proba) as src:
        assert list(src.descriptions) == [n for _, n in rows] + ["confidence"]
        assert [src.tags(i).get("class_code") for i in range(1, 4)] == [str(c) for c, _ in rows]
        bands = json.loads(src.tags()["RASTERCLASS_PROBABILITY_BANDS"])
        assert [(b["class_code"], b["class_name"]) for b in bands] == rows
    _assert_bands_peak_on_their_class(proba, out)
    # the map's style lists the classes in the same order
    qml = ET.parse(out.with_suffix(".qml")).getroot()
    labels = [e.get("label") for e in qml.iter("paletteEntry")]
    assert labels == [n for _, n in rows]


@pytest.mark.parametrize("chunks", [16, 40])
def test_python_predict_raster_probabilities_follow_the_legend(
    tmp_path, scene_path, training_path, chunks
):
    legend = _legend(tmp_path, LEGEND_SHUFFLED)
    scene = open_scene(scene_path, chunks=chunks)
    model = train(
        scene,
        training_path,
        "class",
        TrainingOptions(params={"n_estimators": 20}, legend=legend, cv_folds=0),
    ).model
    assert model.class_map.names == ("urban", "forest", "water")
    pred = predict_raster(scene, model, probabilities=True).compute()
    proba = pred["probabilities"]
    assert list(proba["band"].values) == ["urban", "forest", "water"]
    assert proba["class_code"].values.tolist() == [2, 3, 1]
    classes = pred["classes"].values
    for name, code in zip(proba["band"].values, proba["class_code"].values, strict=True):
        means = {c: float(np.nanmean(proba.sel(band=name).values[classes == c])) for c in (1, 2, 3)}
        assert max(means, key=means.get) == code
    # the in-memory (numpy) path gives the very same stack
    eager = predict_raster(scene.compute(), model, probabilities=True)
    np.testing.assert_array_equal(eager["probabilities"].values, proba.values)
    stacked = stack_probabilities(pred)
    assert stacked["class_code"].values.tolist() == [2, 3, 1, 0]
    # written from Python, the file says the same
    path = write_probabilities(stacked, tmp_path / "p.tif")
    with rasterio.open(path) as src:
        assert list(src.descriptions) == ["urban", "forest", "water", "confidence"]
        assert [src.tags(i).get("class_code") for i in (1, 2, 3)] == ["2", "3", "1"]


def test_cross_validation_report_in_legend_order(tmp_path, scene_path, training_path):
    legend = _legend(tmp_path, LEGEND_SHUFFLED)
    result = train(
        scene_path,
        training_path,
        "class",
        TrainingOptions(params={"n_estimators": 10}, legend=legend, cv_folds=2),
    )
    assert result.accuracy.confusion.class_names == ("urban", "forest", "water")
    assert list(result.samples.counts()["name"]) == ["urban", "forest", "water"]


@pytest.mark.parametrize("chunks", [20, 40])
def test_object_based_probability_bands_follow_the_legend(
    tmp_path, scene_path, training_path, chunks
):
    legend = _legend(tmp_path, LEGEND_SHUFFLED)
    out, proba = tmp_path / "map.tif", tmp_path / "proba.tif"
    _invoke(
        ["classify", scene_path, "-t", training_path, "-c", "class", "--legend", legend],
        ["--object-based", "--segment-method", "slic", "--chunks", chunks],
        ["-m", "rf", "-p", "n_estimators=20", "--cv", "0", "-o", out, "--probabilities", proba],
    )
    with rasterio.open(proba) as src:
        assert list(src.descriptions) == ["urban", "forest", "water", "confidence"]
        assert [src.tags(i).get("class_code") for i in (1, 2, 3)] == ["2", "3", "1"]
    _assert_bands_peak_on_their_class(proba, out)


@pytest.mark.parametrize("chunks", [256, 512])
def test_demo_probability_band_descriptions(tmp_path, chunks):
    """`make demo`'s run (fewer trees): band i is named after the class it peaks on."""
    out, proba = tmp_path / "landcover.tif", tmp_path / "probabilities.tif"
    _invoke(
        ["classify", SAMPLE / "scene.tif", "-t", SAMPLE / "training.gpkg", "-c", "class"],
        ["--legend", SAMPLE / "legend.csv", "-m", "rf", "-p", "n_estimators=20"],
        ["--seed", "0", "--cv", "0", "--chunks", chunks, "-o", out, "--probabilities", proba],
    )
    with rasterio.open(out) as src:
        classes = src.read(1)
    legend = read_legend(SAMPLE / "legend.csv")
    with rasterio.open(proba) as src:
        described = list(src.descriptions)
        assert described == [*legend.names, "confidence"]
        for i in range(1, src.count):
            band = src.read(i)
            means = {c: float(np.nanmean(band[classes == c])) for c in legend.codes}
            assert legend.name_of(max(means, key=means.get)) == described[i - 1]
            assert src.tags(i)["class_code"] == str(legend.code_of(described[i - 1]))


def test_with_legend_takes_the_legend_order():
    legend = ClassMap((5, 1, 3), ("c", "a", "b"), ((1, 1, 1, 255),) * 3, ("c", "a", "b"))
    cm = ClassMap.from_values(["a", "b", "c", "d"], legend)
    # listed classes in legend order, the unlisted one after them
    assert cm.names == ("c", "a", "b", "d")
    assert cm.codes[:3] == (5, 1, 3)
    # without a legend: code order
    assert ClassMap.from_values([3, 1, 2]).codes == (1, 2, 3)


# ------------------------------------------------------------------------------------------
# Item 16: colour table of the codes in use, attribute table in code order, names in the tif
# ------------------------------------------------------------------------------------------
def _classes_array(codes: np.ndarray, chunks: int) -> xr.DataArray:
    h, w = codes.shape
    arr = xr.DataArray(
        da.from_array(codes, chunks=chunks),
        dims=("y", "x"),
        coords={
            "y": TRANSFORM.f + TRANSFORM.e * (np.arange(h) + 0.5),
            "x": TRANSFORM.c + TRANSFORM.a * (np.arange(w) + 0.5),
        },
    )
    return arr.rio.write_crs(CRS).rio.write_transform(TRANSFORM)


def _legend_map() -> ClassMap:
    legend = ClassMap(
        (3, 1, 2),
        ("forest", "water", "urban"),
        ((27, 107, 46, 255), (43, 108, 214, 255), (214, 60, 60, 255)),
        ("forest", "water", "urban"),
    )
    return legend


@pytest.mark.parametrize("chunks", [16, 33])
def test_lone_tif_colour_table_and_names(tmp_path, chunks):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (50, 70)).astype(np.uint8)
    cm = _legend_map()
    path = tmp_path / "map.tif"
    write_map(_classes_array(codes, chunks), path, cm)
    # the .aux.xml: attribute table rows in code order, category i names code i
    aux = ET.parse(f"{path}.aux.xml").getroot()
    rows = [[f.text for f in row.iter("F")] for row in aux.iter("Row")]
    assert [(int(r[0]), r[1]) for r in rows] == [(1, "water"), (2, "urban"), (3, "forest")]
    assert [c.text for c in aux.iter("Category")] == [None, "water", "urban", "forest"]
    # the .qml: the legend's order
    qml = ET.parse(path.with_suffix(".qml")).getroot()
    assert [e.get("value") for e in qml.iter("paletteEntry")] == ["3", "1", "2"]
    # a lone .tif (sidecars removed) still carries colours and names
    Path(f"{path}.aux.xml").unlink()
    path.with_suffix(".qml").unlink()
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(1), codes)
        colours = src.colormap(1)
        assert colours == {
            0: (0, 0, 0, 0),
            1: (43, 108, 214, 255),
            2: (214, 60, 60, 255),
            3: (27, 107, 46, 255),
        }  # nodata + the three classes: no junk rows
        assert json.loads(src.tags(1)["CLASS_NAMES"]) == {"1": "water", "2": "urban", "3": "forest"}
        assert src.descriptions == ("class",)
    assert read_class_map(path) == cm


def test_demo_like_map_has_eight_colour_entries(tmp_path):
    codes = np.arange(64, dtype=np.uint8).reshape(8, 8) % 8
    legend = read_legend(SAMPLE / "legend.csv")
    path = write_map(_classes_array(codes, 8), tmp_path / "m.tif", legend)
    with rasterio.open(path) as src:
        colours = src.colormap(1)
        np.testing.assert_array_equal(src.read(1), codes)
    assert len(colours) == 8
    assert colours[0][3] == 0
    assert [colours[c] for c in legend.codes] == list(legend.colors)


def test_codes_outside_the_class_map_are_refused(tmp_path):
    codes = np.full((10, 10), 5, dtype=np.uint8)
    with pytest.raises(ClassMapError, match="class map does not list"):
        write_map(_classes_array(codes, 5), tmp_path / "m.tif", _legend_map())
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------
# Item 17: probabilities.tif layout and style
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunks", [16, 40])
def test_cli_probabilities_layout_and_style(tmp_path, scene_path, training_path, chunks):
    model = tmp_path / "model.skops"
    _invoke(
        ["train", scene_path, "-t", training_path, "-c", "class", "-p", "n_estimators=10"],
        ["--cv", "0", "-o", model],
    )
    out, proba = tmp_path / "map.tif", tmp_path / "proba.tif"
    _invoke(
        ["predict", scene_path, "--model", model, "-o", out, "--probabilities", proba],
        ["--chunks", chunks],
    )
    with rasterio.open(proba) as src:
        assert src.count == 4
        assert src.profile["interleave"] == "band"
        assert src.tags(ns="IMAGE_STRUCTURE")["INTERLEAVE"] == "BAND"
        rgb = {ColorInterp.red, ColorInterp.green, ColorInterp.blue}
        assert not rgb & set(src.colorinterp)
        assert list(src.descriptions) == ["forest", "urban", "water", "confidence"]
        tags = [src.tags(i) for i in range(1, 5)]
    assert [t["class_code"] for t in tags[:3]] == ["1", "2", "3"]
    assert [t["layer"] for t in tags] == ["probability"] * 3 + ["confidence"]
    style = ET.parse(proba.with_suffix(".qml")).getroot()
    renderer = style.find("./pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor"
    assert renderer.get("band") == "4"  # the confidence band
    shader = renderer.find(".//colorrampshader")
    assert (shader.get("minimumValue"), shader.get("maximumValue")) == ("0", "1")


# ------------------------------------------------------------------------------------------
# Item 18: overviews and Cloud Optimized GeoTIFFs
# ------------------------------------------------------------------------------------------
def _big_codes() -> np.ndarray:
    rng = np.random.default_rng(1)
    codes = np.repeat(np.repeat(rng.integers(1, 4, (65, 55)), 20, axis=0), 20, axis=1)
    codes = codes.astype(np.uint8)
    codes[:400, :400] = 0  # a nodata corner
    return codes


@pytest.mark.parametrize("chunks", [256, 512])
@pytest.mark.parametrize("cog", [False, True])
def test_large_map_overviews_keep_nodata(tmp_path, chunks, cog, caplog, capfd):
    codes = _big_codes()  # 1300 x 1100: above the overview size
    path = tmp_path / "map.tif"
    with caplog.at_level("WARNING", logger="rasterio"):
        write_map(_classes_array(codes, chunks), path, _legend_map(), cog=cog)
    # GDAL warns (on stderr or through rasterio's logger) when it builds the overviews of a
    # palette band before the palette exists
    assert "palette" not in capfd.readouterr().err
    assert not [r for r in caplog.records if "palette" in r.getMessage()]
    with rasterio.open(path) as src:
        assert src.overviews(1) == [2, 4, 8]
        np.testing.assert_array_equal(src.read(1), codes)
        ov = src.read(1, out_shape=(1300 // 4, 1100 // 4))
        assert set(np.unique(ov)) <= {0, 1, 2, 3}
        assert (ov[: 400 // 4, : 400 // 4] == 0).all()
        assert (ov[400 // 4 + 1 :, :] > 0).all()
        assert src.nodata == 0
        assert len(src.colormap(1)) == 4
    valid, errors, _ = cog_validate(str(path))
    assert valid is cog, errors


def test_small_map_has_no_overviews(tmp_path):
    codes = _big_codes()[:300, :300]
    path = write_map(_classes_array(codes, 100), tmp_path / "m.tif", _legend_map())
    with rasterio.open(path) as src:
        assert src.overviews(1) == []


@pytest.mark.parametrize("chunks", [256, 512])
def test_probability_overviews_average_and_cog(tmp_path, chunks):
    rng = np.random.default_rng(2)
    values = rng.random((2, 1040, 1100)).astype(np.float32)
    values[:, :64, :64] = np.nan
    arr = xr.DataArray(
        da.from_array(values, chunks=(2, chunks, chunks)),
        dims=("band", "y", "x"),
        coords={"band": ["a", "confidence"], "class_code": ("band", [4, 0])},
    )
    arr = arr.rio.write_crs(CRS).rio.write_transform(TRANSFORM)
    path = tmp_path / "p.tif"
    write_probabilities(arr, path, cog=True)
    valid, errors, _ = cog_validate(str(path))
    assert valid, errors
    with rasterio.open(path) as src:
        assert src.profile["interleave"] == "band"
        assert src.overviews(1) == [2, 4, 8]
        assert src.tags(1)["class_code"] == "4"
        np.testing.assert_array_equal(src.read(), values)
        half = src.read(1, out_shape=(520, 550))
    expected = values[0].reshape(520, 2, 550, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(half[40:, 40:], expected[40:, 40:], rtol=1e-5)
    assert np.isnan(half[:32, :32]).all()


@pytest.mark.parametrize("chunks", [16, 40])
def test_cli_cog_for_every_map_writer(tmp_path, scene_path, training_path, chunks):
    common = ["--chunks", chunks, "--cog"]
    out, proba = tmp_path / "map.tif", tmp_path / "proba.tif"
    _invoke(
        ["classify", scene_path, "-t", training_path, "-c", "class", "-p", "n_estimators=10"],
        ["--cv", "0", "-o", out, "--probabilities", proba, *common],
    )
    plain = tmp_path / "plain.tif"
    _invoke(
        ["classify", scene_path, "-t", training_path, "-c", "class", "-p", "n_estimators=10"],
        ["--cv", "0", "-o", plain, "--chunks", chunks],
    )
    clusters = tmp_path / "clusters.tif"
    _invoke(["cluster", scene_path, "-k", "3", "-o", clusters, *common])
    table = tmp_path / "labels.csv"
    table.write_text("cluster,class\n1,a\n2,b\n3,c\n")
    relabelled = tmp_path / "relabelled.tif"
    _invoke(["relabel", clusters, "--table", table, "-o", relabelled, "--cog"])
    segments = tmp_path / "segments.tif"
    _invoke(["segment", scene_path, "-m", "slic", "-o", segments, *common])
    for path in (out, proba, clusters, relabelled, segments):
        valid, errors, _ = cog_validate(str(path))
        assert valid, (path, errors)
    with rasterio.open(out) as a, rasterio.open(plain) as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
