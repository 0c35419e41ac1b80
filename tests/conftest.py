"""Shared fixtures: small synthetic scenes and training vectors in tmp_path."""

from __future__ import annotations

import os

# scikit-learn's estimator checks include check_array_api_input, which skips itself unless
# SCIPY_ARRAY_API=1 was set before SciPy was imported; with it our estimators run that check
# on the numpy namespace too (make test sets it as well, for workers started elsewhere).
os.environ.setdefault("SCIPY_ARRAY_API", "1")

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely.geometry import box

#: The real data sets (../shared/data next to the repository); RASTERCLASS_SHARED_DATA points
#: elsewhere (a folder that does not exist shows that every test using them skips cleanly).
SHARED = Path(
    os.environ.get("RASTERCLASS_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
LSAT = SHARED / "rstoolbox_landsat5_lsat"
SLOVENIA = SHARED / "eolearn_slovenia_lulc"
RGB = SHARED / "rasterio_rgb_byte"

CRS = "EPSG:32633"
TRANSFORM = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 5000000.0)
# class means per band (3 bands): stripes of columns
MEANS = np.array([[0.05, 0.03, 0.01], [0.04, 0.30, 0.15], [0.20, 0.25, 0.30]], dtype=np.float32)


def needs_shared(path: Path) -> Callable[[Any], Any]:
    """Mark a test ``shared`` (``-m "not shared"`` deselects it) and skip it when ``path``,
    a folder of ../shared/data, is absent."""
    skip = pytest.mark.skipif(not path.exists(), reason=f"{path} not available (shared data)")

    def mark(test: Any) -> Any:
        return pytest.mark.shared(skip(test))

    return mark


def synthetic_arrays(height: int = 61, width: int = 75, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(scene float32 (3,h,w) with NaN margin, truth uint8 (h,w) with 0 at nodata)."""
    rng = np.random.default_rng(seed)
    truth = np.ones((height, width), dtype=np.uint8)
    truth[:, width // 3 :] = 2
    truth[:, 2 * width // 3 :] = 3
    scene = MEANS[truth - 1].transpose(2, 0, 1).copy()
    scene += rng.normal(0, 0.01, scene.shape).astype(np.float32)
    scene[:, :, :3] = np.nan  # nodata margin
    scene[:, 10:13, 30:33] = np.nan  # a nodata hole
    truth[:, :3] = 0
    truth[10:13, 30:33] = 0
    return scene.astype(np.float32), truth


@pytest.fixture
def scene_path(tmp_path: Path) -> Path:
    scene, _ = synthetic_arrays()
    path = tmp_path / "scene.tif"
    write_raster(path, scene, nodata=float("nan"), descriptions=["blue", "green", "red"])
    return path


@pytest.fixture
def truth() -> np.ndarray:
    return synthetic_arrays()[1]


def write_raster(
    path: Path,
    data: np.ndarray,
    *,
    nodata: float | None = None,
    crs: str | None = CRS,
    transform: Affine = TRANSFORM,
    descriptions: list[str] | None = None,
) -> Path:
    data = data if data.ndim == 3 else data[None]
    profile = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype.name,
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if descriptions:
            for i, d in enumerate(descriptions, start=1):
                dst.set_band_description(i, d)
    return path


def pixel_box(row0: int, col0: int, row1: int, col1: int) -> box:
    """Polygon covering pixels [row0, row1) x [col0, col1) of TRANSFORM."""
    x0, y0 = TRANSFORM @ (col0, row0)
    x1, y1 = TRANSFORM @ (col1, row1)
    return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


# five polygons per class (rows), inside the three stripes (columns), clear of the nodata hole
_ROWS = [(2, 9), (13, 20), (24, 31), (35, 42), (46, 53)]
_COLS = {"water": (5, 20), "forest": (34, 46), "urban": (55, 70)}
TRAIN_BOXES = [(c, (r0, c0, r1, c1)) for c, (c0, c1) in _COLS.items() for r0, r1 in _ROWS]


@pytest.fixture
def training_path(tmp_path: Path) -> Path:
    gdf = gpd.GeoDataFrame(
        {
            "class": [c for c, _ in TRAIN_BOXES],
            "code": [{"water": 1, "forest": 2, "urban": 3}[c] for c, _ in TRAIN_BOXES],
        },
        geometry=[pixel_box(*b) for _, b in TRAIN_BOXES],
        crs=CRS,
    )
    path = tmp_path / "training.gpkg"
    gdf.to_crs("EPSG:4326").to_file(path)  # another CRS on purpose
    return path


@pytest.fixture
def forbid_compute() -> Callable[[], object]:
    """Context manager factory: any dask compute inside raises."""

    def _scheduler(*args: object, **kwargs: object) -> None:
        raise AssertionError("dask computed before writing")

    def factory() -> object:
        return dask.config.set(scheduler=_scheduler)

    return factory


@pytest.fixture(scope="session")
def cluster_address() -> Iterator[str]:
    """Address of one two-worker LocalCluster shared by the tests that only need a cluster
    (``compute_on(scheduler=cluster_address)``): starting one per test costs seconds. A test
    that harms its workers (kills one) starts its own with ``compute_on(workers=2)``.

    Started as ``compute_on(workers=2)`` starts its cluster, without distributed's
    ``MALLOC_TRIM_THRESHOLD_``: a nanny copies the variables it gives its workers into this
    process's environment for good, where every later cluster's workers would inherit it
    (tests/test_parallel.py checks that compute_on's workers do not have it)."""
    distributed = pytest.importorskip("distributed")
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", None) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    with cluster:
        yield cluster.scheduler_address


def run_cli(*args: object, ok: bool = True) -> Any:
    """Run the ``rasterclass`` command line in-process; with ``ok``, assert exit code 0."""
    from click.testing import CliRunner

    from rasterclass.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def read_band(path: Path) -> np.ndarray:
    """Band 1 of a raster file."""
    with rasterio.open(path) as src:
        return src.read(1)
