"""The exact compiled forest (rasterclass.estimators.forest_inference): bit for bit the labels
and probabilities of scikit-learn's RandomForestClassifier / ExtraTreesClassifier (n_jobs=1),
used transparently by predict_raster, and scikit-learn when numba is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.features import rasterize
from sklearn.base import clone
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rasterclass import predict_raster
from rasterclass.estimators.forest_inference import (
    ExactForest,
    exact_forest,
    float32_floor,
    numba_available,
)
from tests.conftest import LSAT, needs_shared

#: The compiled path needs numba (an optional dependency); the fallback tests run without it.
needs_numba = pytest.mark.skipif(not numba_available(), reason="numba is not installed")

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def same(fast, forest, X):
    """Identical probabilities and labels, bit for bit (scikit-learn with n_jobs=1)."""
    ref = clone(forest).set_params(n_jobs=1)
    ref.__dict__.update({k: v for k, v in vars(forest).items() if k.endswith("_")})
    p_fast, p_ref = fast.predict_proba(X), ref.predict_proba(X)
    assert p_fast.dtype == p_ref.dtype == np.float64
    assert np.array_equal(p_fast, p_ref)
    assert np.array_equal(fast.predict(X), ref.predict(X))


def synthetic(n=600, n_features=4, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    score = X[:, 0] + 0.5 * X[:, 1] + 0.7 * rng.normal(size=n)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return X, y


@pytest.fixture(scope="module")
def sample_pixels():
    """A 200 x 200 window of the sample scene and labelled pixels from its truth."""
    with rasterio.open(SAMPLE / "scene.tif") as src:
        data = src.read(window=((300, 500), (300, 500))).astype(np.float32)
    with rasterio.open(SAMPLE / "truth.tif") as src:
        truth = src.read(1, window=((300, 500), (300, 500)))
    pixels = data.reshape(data.shape[0], -1).T
    labelled = np.flatnonzero(truth.ravel() > 0)
    pick = np.random.default_rng(0).choice(labelled, 1500, replace=False)
    return pixels, pixels[pick], truth.ravel()[pick]


@needs_numba
@pytest.mark.parametrize("kind", [RandomForestClassifier, ExtraTreesClassifier])
def test_sample_scene_identical(sample_pixels, kind):
    pixels, X, y = sample_pixels
    forest = kind(n_estimators=25, random_state=0).fit(X, y)
    fast = exact_forest(forest)
    assert isinstance(fast, ExactForest)
    same(fast, forest, pixels)


@needs_numba
@needs_shared(LSAT)
def test_landsat_scene_identical():
    with rasterio.open(LSAT / "lsat_stack_B1-B7.tif") as src:
        data = src.read().astype(np.float32)
        shape, transform = data.shape[1:], src.transform
    polygons = gpd.read_file(LSAT / "trainingPolygons_lsat.gpkg").to_crs(src.crs)
    names = sorted(polygons["class"].unique())
    shapes = [
        (g, names.index(c) + 1) for g, c in zip(polygons.geometry, polygons["class"], strict=True)
    ]
    labels = rasterize(shapes, out_shape=shape, transform=transform).ravel()
    pixels = data.reshape(data.shape[0], -1).T
    train = np.flatnonzero(labels > 0)
    forest = RandomForestClassifier(n_estimators=30, random_state=0)
    forest.fit(pixels[train], labels[train])
    same(exact_forest(forest), forest, pixels)


@needs_numba
def test_values_exactly_at_and_around_thresholds():
    X, y = synthetic(n=800, n_classes=4)
    forest = RandomForestClassifier(n_estimators=20, random_state=1).fit(X, y)
    nodes = [(t.tree_.feature, t.tree_.threshold) for t in forest.estimators_]
    feature = np.concatenate([f for f, _ in nodes])
    threshold = np.concatenate([t for _, t in nodes])
    inner = feature >= 0
    feature, threshold = feature[inner], threshold[inner]
    at = float32_floor(threshold)  # the largest float32 <= t: goes left
    candidates = np.concatenate(
        [at, np.nextafter(at, np.float32(np.inf)), threshold.astype(np.float32)]
    )
    columns = np.concatenate([feature] * 3)
    rng = np.random.default_rng(2)
    rows = X[rng.integers(0, len(X), len(candidates))]
    rows[np.arange(len(rows)), columns] = candidates
    same(exact_forest(forest), forest, rows)
    # float64 input is cast to float32 as scikit-learn casts it
    same(exact_forest(forest), forest, rows.astype(np.float64) + threshold.mean() * 1e-9)


def test_float32_floor_decides_as_float64():
    rng = np.random.default_rng(3)
    t = np.concatenate([rng.normal(size=2000), rng.integers(0, 10000, 500) + 0.5, [0.0, -0.0]])
    t32 = float32_floor(t)
    assert t32.dtype == np.float32 and np.all(t32.astype(np.float64) <= t)
    for x in (t32, np.nextafter(t32, np.float32(np.inf)), t.astype(np.float32)):
        assert np.array_equal(x.astype(np.float64) <= t, x <= t32)


@needs_numba
@pytest.mark.parametrize(
    ("kind", "params", "n_classes"),
    [
        (RandomForestClassifier, {}, 2),
        (RandomForestClassifier, {}, 12),
        (RandomForestClassifier, {"class_weight": "balanced"}, 5),
        (RandomForestClassifier, {"max_depth": 3}, 4),
        (RandomForestClassifier, {"max_leaf_nodes": 20, "bootstrap": False}, 3),
        (ExtraTreesClassifier, {"class_weight": "balanced_subsample"}, 6),
        (ExtraTreesClassifier, {"max_depth": 5}, 2),
    ],
)
def test_forests_of_every_kind(kind, params, n_classes):
    X, y = synthetic(n_classes=n_classes, seed=n_classes)
    forest = kind(n_estimators=15, random_state=0, **params).fit(X, y)
    X_new = np.random.default_rng(9).normal(size=(3000, X.shape[1])).astype(np.float32)
    same(exact_forest(forest), forest, X_new)


@needs_numba
def test_string_labels_pipeline_and_one_class():
    X, y = synthetic(n_classes=3)
    names = np.array(["water", "forest", "urban"])[y]
    pipe = make_pipeline(StandardScaler(), RandomForestClassifier(10, random_state=0))
    pipe.fit(X * 100 + 7, names)
    fast = exact_forest(pipe)
    assert fast is not None
    assert np.array_equal(fast.predict_proba(X * 50), pipe.predict_proba(X * 50))
    assert np.array_equal(fast.predict(X * 50), pipe.predict(X * 50))
    single = RandomForestClassifier(5, random_state=0).fit(X, np.zeros(len(X), int))
    same(exact_forest(single), single, X)


@needs_numba
def test_rows_split_over_the_forests_threads(monkeypatch):
    import rasterclass.estimators.forest_inference as module

    X, y = synthetic(n_classes=5)
    forest = RandomForestClassifier(10, random_state=0, n_jobs=3).fit(X, y)
    monkeypatch.setattr(module, "BLOCK", 64)  # 10 blocks over 3 threads
    same(exact_forest(forest), forest, X)


@needs_numba
def test_nan_and_inf_rows_go_to_scikit_learn():
    X, y = synthetic()
    forest = RandomForestClassifier(10, random_state=0).fit(X, y)
    fast = exact_forest(forest)
    X_nan = X.copy()
    X_nan[::7, 1] = np.nan
    same(fast, forest, X_nan)
    X_inf = X.copy()
    X_inf[3, 0] = np.inf
    with pytest.raises(ValueError):
        forest.predict_proba(X_inf)
    with pytest.raises(ValueError):
        fast.predict_proba(X_inf)


def test_what_gets_no_stand_in(monkeypatch):
    X, y = synthetic()

    class Custom(RandomForestClassifier):
        def predict_proba(self, X):
            return super().predict_proba(X) * 0

    assert exact_forest(Custom(3).fit(X, y)) is None  # a subclass may predict differently
    assert exact_forest(RandomForestClassifier(3)) is None  # not fitted
    two_outputs = RandomForestClassifier(3).fit(X, np.stack([y, y], axis=1))
    assert exact_forest(two_outputs) is None
    monkeypatch.setitem(sys.modules, "numba", None)  # numba not installed
    assert exact_forest(RandomForestClassifier(3).fit(X, y)) is None


def scene_with_nodata(seed=0):
    X, y = synthetic(n=500, n_features=3, n_classes=4, seed=seed)
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(3, 37, 41)).astype(np.float32)
    data[0, 5:9, 3:30] = np.nan
    data[2, 20, :] = np.nan
    scene = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": ["a", "b", "c"]})
    forest = RandomForestClassifier(12, random_state=0, n_jobs=-1).fit(X, y + 1)
    return scene, forest


def test_predict_raster_equal_with_and_without_numba_for_any_chunking(monkeypatch):
    scene, forest = scene_with_nodata()
    pixels = scene.values.reshape(3, -1).T
    valid = np.isfinite(pixels).all(axis=1)
    proba = forest.set_params(n_jobs=1).predict_proba(pixels[valid])
    forest.set_params(n_jobs=-1)
    results = [predict_raster(scene, forest, probabilities=True)]
    for chunks in ({"y": 16}, {"y": 9, "x": 13, "band": 1}, {"y": 20, "x": 41}):
        lazy = scene.chunk(chunks)  # 9 x 13 divides neither side
        results.append(predict_raster(lazy, forest, probabilities=True).compute())
    monkeypatch.setitem(sys.modules, "numba", None)  # scikit-learn's own predict
    results.append(predict_raster(scene.chunk({"y": 10}), forest, probabilities=True).compute())
    first = results[0]
    probs = first["probabilities"].values.reshape(len(proba[0]), -1)
    assert np.array_equal(probs[:, valid], proba.T.astype(np.float32))
    assert np.isnan(probs[:, ~valid]).all()
    assert (first["classes"].values.ravel()[~valid] == 0).all()
    for other in results[1:]:
        for name in ("classes", "probabilities", "confidence"):
            assert np.array_equal(other[name].values, first[name].values, equal_nan=True)
