"""Real scenes from ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.features import rasterize

from rasterclass import open_scene
from rasterclass.cli.main import cli
from tests.conftest import LSAT, SLOVENIA, needs_shared

LSAT_STACK = LSAT / "lsat_stack_B1-B7.tif"
LSAT_BANDS = [LSAT / f"LT52240631988227CUB02_B{i}.TIF" for i in range(1, 8)]
LSAT_TRAIN = LSAT / "trainingPolygons_lsat.gpkg"


def run(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def share_in_own_class(map_path, polygons, column, name):
    with rasterio.open(map_path) as src:
        data = src.read(1)
        names = {int(k): v for k, v in __import__("json").loads(src.tags()["CLASS_NAMES"]).items()}
        inside = (
            rasterize(
                polygons[polygons[column] == name].geometry,
                out_shape=data.shape,
                transform=src.transform,
            )
            == 1
        )
    code = next(c for c, n in names.items() if n == name)
    return float((data[inside] == code).mean())


@needs_shared(LSAT)
@pytest.mark.parametrize("form", ["stack", "single_files"])
def test_landsat_water_and_forest(tmp_path, form):
    scenes = [LSAT_STACK] if form == "stack" else LSAT_BANDS
    out = tmp_path / "lsat.tif"
    run("classify", *scenes, "-t", LSAT_TRAIN, "-c", "class", "-o", out, "--chunks", "100")
    polys = gpd.read_file(LSAT_TRAIN)
    water = share_in_own_class(out, polys, "class", "water")
    forest = share_in_own_class(out, polys, "class", "forest")
    print(f"landsat {form}: water {water:.3f}, forest {forest:.3f}")
    assert water >= 0.95
    assert forest >= 0.90


@needs_shared(LSAT)
def test_landsat_single_files_are_named_and_equal_to_stack():
    files = open_scene(LSAT_BANDS)
    assert list(files.band.values) == [f"B{i}" for i in range(1, 8)]
    stack = open_scene(LSAT_STACK)
    np.testing.assert_array_equal(files.values, stack.values)
    # nodata 255 became NaN
    with rasterio.open(LSAT_STACK) as src:
        raw = src.read()
    assert np.array_equal(np.isnan(stack.values), raw == 255)


@needs_shared(SLOVENIA)
def test_slovenia_nan_pixels_are_zero_and_no_other(tmp_path):
    scene_path = SLOVENIA / "s2_l1c_maxndvi_composite_13band.tif"
    out = tmp_path / "slo.tif"
    run(
        "classify",
        scene_path,
        "-t",
        SLOVENIA / "lulc_reference_polygons.gpkg",
        "-c",
        "LULC_NAME",
        "-o",
        out,
        "--chunks",
        "32",
    )
    with rasterio.open(scene_path) as src:
        nodata = np.isnan(src.read()).any(axis=0)
    with rasterio.open(out) as src:
        data = src.read(1)
        assert src.colormap(1)[int(data.max())][3] == 255
    assert nodata.any()
    assert np.array_equal(data == 0, nodata)
