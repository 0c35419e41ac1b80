"""Edge cases of the deliverables (issue 13) that once gave a wrong result or a traceback.

Maps of other tools (nodata declared as 255, or an undeclared -9999), maps thinner than a
filter's halo, maps in a geographic or a feet CRS, and accuracy reports without their matrix.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

import rasterclass as rc
from rasterclass.errors import ClassMapError, RasterclassIOError

CHUNKINGS = [1, 2, (7, 4)]


def grid_map(a: np.ndarray, crs: str | None = "EPSG:32633", res: float = 10.0) -> xr.DataArray:
    h, w = a.shape
    m = xr.DataArray(
        a,
        dims=("y", "x"),
        coords={"y": 100 - res * (np.arange(h) + 0.5), "x": res * (np.arange(w) + 0.5)},
    )
    if crs is not None:
        m = m.rio.write_crs(crs)
    return m.rio.write_transform(rasterio.Affine(res, 0, 0, 0, -res, 100))


def write_foreign_map(path, a: np.ndarray, nodata: float | None) -> str:
    """A map as another tool writes it: no class names, nodata declared as ``nodata``
    (None: no nodata declared)."""
    profile = {
        "driver": "GTiff",
        "height": a.shape[0],
        "width": a.shape[1],
        "count": 1,
        "dtype": a.dtype,
        "crs": "EPSG:32633",
        "transform": rasterio.Affine(10, 0, 500000, 0, -10, 5000000),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(a[None])
    return str(path)


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_areas_leave_out_the_nodata_value_a_map_declares(tmp_path, dtype):
    nodata = 255 if dtype == "uint8" else 65535
    a = np.repeat([[1, 1, 2, 2, 3, 0]], 6, axis=0).astype(dtype)
    a[:2] = nodata  # 12 px nodata, declared by the file
    path = write_foreign_map(tmp_path / "map.tif", a, nodata)
    areas = rc.class_areas(path)
    assert dict(zip(areas.codes, areas.pixels.tolist(), strict=True)) == {1: 8, 2: 8, 3: 4}
    assert areas.total_pixels == 20
    assert areas.mapped_share.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(1, 1), (3, 40), (40, 2)])
@pytest.mark.parametrize("size", [5, 9])
def test_majority_on_a_map_thinner_than_the_window(shape, size):
    a = np.random.default_rng(3).integers(0, 4, shape).astype("u1")
    m = grid_map(a)
    expected = rc.majority_filter(m, size).values
    for chunks in CHUNKINGS:
        spec = {"y": chunks[0], "x": chunks[1]} if isinstance(chunks, tuple) else chunks
        out = rc.majority_filter(m.chunk(spec), size)
        np.testing.assert_array_equal(out.values, expected)
    assert (expected[a == 0] == 0).all()


def test_polygon_areas_are_nan_in_a_geographic_crs_and_in_metres_in_feet():
    from rasterclass.postprocess.sieving import pixel_area_m2

    a = np.array([[1, 1, 2], [2, 2, 2]], dtype="u1")
    geographic = rc.polygonize(grid_map(a, "EPSG:4326", res=0.001))
    assert geographic["area_ha"].isna().all() and geographic["pixels"].tolist() == [2, 4]
    feet = rc.polygonize(grid_map(a, "EPSG:2229"))  # NAD83 / California zone 5 (US feet)
    ft2 = pixel_area_m2(grid_map(a, "EPSG:2229"))
    assert ft2 == pytest.approx(100 * 0.3048006096**2)
    np.testing.assert_allclose(feet["area_ha"], np.array([2, 4]) * ft2 / 1e4)
    np.testing.assert_allclose(feet.geometry.area * 0.3048006096**2 / 1e4, feet["area_ha"])


def test_polygonize_cli_prints_pixels_without_a_projected_crs(tmp_path):
    from click.testing import CliRunner

    from rasterclass.cli.main import cli

    path = tmp_path / "geo.tif"
    m = grid_map(np.array([[1, 1], [2, 0]], "u1"), "EPSG:4326", 0.001)
    rc.write_map(m, path, rc.ClassMap.from_codes([1, 2]))
    out = CliRunner().invoke(cli, ["polygonize", str(path), "-o", str(tmp_path / "p.gpkg")])
    assert out.exit_code == 0, out.output
    assert "2 px" in out.output and "nan" not in out.output


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"overall_accuracy": 0.9},
        {"confusion": {"class_names": ["a", "b"]}},
        {"confusion": {"class_names": ["a"], "matrix": {"values": [[1, 2], [3, 4]]}}},
        [1, 2],
    ],
)
def test_report_refuses_an_accuracy_report_without_its_matrix(tmp_path, broken):
    import json

    from rasterclass.datasets import example_map

    map_path = example_map(tmp_path)
    accuracy = tmp_path / "accuracy.json"
    accuracy.write_text(json.dumps(broken))
    with pytest.raises(RasterclassIOError, match="no confusion matrix"):
        rc.build_report(map_path, accuracy=accuracy)
    if isinstance(broken, dict):
        with pytest.raises(RasterclassIOError, match="accuracy"):
            rc.build_report(map_path, accuracy=broken)


@pytest.mark.parametrize(("dtype", "bad"), [("int16", -9999), ("float32", 1.5)])
def test_values_that_are_no_class_code_are_refused_by_every_map_reader(tmp_path, dtype, bad):
    a = np.repeat([[1, 1, 2, 2, 3, 3]], 6, axis=0).astype(dtype)
    a[:2, :2] = bad  # an undeclared nodata, or a value no class code can be
    path = write_foreign_map(tmp_path / "map.tif", a, nodata=None)
    out = tmp_path / "out"
    runs = {
        "sieve": lambda: rc.jobs.sieve_map(path, f"{out}.tif", "2px"),
        "majority": lambda: rc.jobs.majority_map(path, f"{out}.tif"),
        "polygonize": lambda: rc.jobs.polygonize_map(path, f"{out}.gpkg"),
        "areas": lambda: rc.class_areas(path),
        "report": lambda: rc.build_report(path),
    }
    for name, run in runs.items():
        with pytest.raises(ClassMapError, match=f"no class code \\({bad:g}\\).*-a_nodata"):
            run()
        assert not list(tmp_path.glob("out*")), name


def test_classify_names_the_html_option_of_a_badly_named_report(tmp_path):
    from click.testing import CliRunner

    from rasterclass.cli.main import cli
    from rasterclass.datasets import example_scene, example_training

    scene = example_scene(tmp_path)
    with pytest.raises(RasterclassIOError, match=r"^html_output=r\.txt: a html file"):
        rc.classify(scene, example_training(), "class", tmp_path / "m.tif", html_output="r.txt")
    training = tmp_path / "training.gpkg"
    example_training().to_file(training)
    args = ["classify", scene, "-t", str(training), "-c", "class", "-o", str(tmp_path / "m.tif")]
    out = CliRunner().invoke(cli, [*args, "--html", str(tmp_path / "m.tif.txt")])
    assert out.exit_code != 0 and "--html " in out.output and "--output" not in out.output
    assert not (tmp_path / "m.tif").exists()


def test_report_says_when_the_area_table_given_has_no_adjusted_areas(tmp_path):
    from rasterclass.datasets import example_map

    map_path = example_map(tmp_path)
    table = tmp_path / "areas.json"
    table.write_text(rc.class_areas(map_path).to_json())  # mapped areas only: no sample
    missing = rc.build_report(map_path, areas=table).sections["missing"]["adjusted_areas"]
    assert f"the area table {table} holds no error-adjusted areas" in missing
    assert "give an area table" in rc.build_report(map_path).sections["missing"]["adjusted_areas"]
