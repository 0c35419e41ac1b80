"""Forests kept packed in model files: prediction loads neither skops nor scikit-learn, gives
the very same map, and a damaged or foreign file is refused or falls back safely."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import rasterclass as rc
from rasterclass.errors import ModelFileError
from rasterclass.estimators.forest_inference import ExactForest, numba_available, pack_forest
from rasterclass.io import save_model_file

pytestmark = pytest.mark.skipif(not numba_available(), reason="numba is not installed")

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
BANDS = ["blue", "green", "red", "nir", "swir1", "swir2"]


def _model(estimator, n=400, seed=0) -> rc.RasterModel:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 3000, size=(n, 6)).astype(np.float32)
    y = np.digitize(X[:, 3] - X[:, 2], [-800, 0, 800]) + 1
    est = estimator.fit(X, y)
    cmap = rc.ClassMap.from_codes([1, 2, 3, 4], ["water", "soil", "grass", "forest"])
    return rc.RasterModel(est, BANDS, cmap)


@pytest.mark.parametrize(
    "estimator",
    [RandomForestClassifier(12, random_state=0), ExtraTreesClassifier(9, random_state=1)],
)
def test_packed_forest_predicts_as_the_forest_bit_for_bit(tmp_path, estimator):
    model = _model(estimator)
    path = model.save(tmp_path / "m.skops")
    fast = rc.RasterModel.load(path, fast_forest=True)
    assert isinstance(fast.estimator, ExactForest)
    assert fast.band_names == model.band_names and fast.class_map == model.class_map
    X = np.random.default_rng(5).uniform(0, 3000, size=(5000, 6)).astype(np.float32)
    forest = model.estimator.set_params(n_jobs=1)
    assert np.array_equal(fast.estimator.predict_proba(X), forest.predict_proba(X))
    assert np.array_equal(fast.estimator.predict(X), forest.predict(X))
    # rows the packed nodes do not handle load the forest from the file, once
    assert fast.estimator._forest is None
    X[::7, 2] = np.nan
    assert np.array_equal(fast.estimator.predict_proba(X), forest.predict_proba(X))
    assert type(fast.estimator._forest) is type(forest)
    # without fast_forest: the scikit-learn estimator, as before
    assert type(rc.RasterModel.load(path).estimator) is type(forest)


def test_a_packed_forest_travels_without_its_forest(tmp_path):
    """Sent to a cluster's workers, it is the packed arrays and the file's loader only."""
    path = _model(RandomForestClassifier(5, random_state=0)).save(tmp_path / "m.skops")
    fast = rc.RasterModel.load(path, fast_forest=True).estimator
    fast.predict_proba(np.full((1, 6), np.nan, dtype=np.float32))  # loads the forest here
    copy = pickle.loads(pickle.dumps(fast))
    assert copy._forest is None and fast._forest is not None
    X = np.random.default_rng(0).uniform(0, 3000, size=(50, 6)).astype(np.float32)
    assert np.array_equal(copy.predict_proba(X), fast.predict_proba(X))


def test_predicting_imports_neither_skops_nor_scikit_learn(tmp_path):
    """`rasterclass predict` with a forest: the same map bytes, about a second less start-up
    (scikit-learn and skops imports, the skops object tree of every tree)."""
    training = SAMPLE / "training.gpkg"
    options = rc.TrainingOptions(params={"n_estimators": 8}, cv_folds=0)
    result = rc.train(
        SAMPLE / "scene.tif", training, "class", options, model_output=tmp_path / "m.skops"
    )
    eager = rc.predict(
        SAMPLE / "scene.tif",
        result.model,
        tmp_path / "eager.tif",
        probabilities=tmp_path / "eager_p.tif",
    )
    assert eager.outputs
    code = (
        "import sys, rasterclass as rc\n"
        f"rc.predict({str(SAMPLE / 'scene.tif')!r}, {str(tmp_path / 'm.skops')!r}, "
        f"{str(tmp_path / 'fast.tif')!r}, probabilities={str(tmp_path / 'fast_p.tif')!r})\n"
        "print(sorted(m for m in ('sklearn', 'skops') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    for a, b in (("eager", "fast"), ("eager_p", "fast_p")):
        with rasterio.open(tmp_path / f"{a}.tif") as x, rasterio.open(tmp_path / f"{b}.tif") as y:
            assert np.array_equal(x.read(), y.read(), equal_nan=True)
    assert (tmp_path / "eager.tif").read_bytes() == (tmp_path / "fast.tif").read_bytes()


def _rewrite(path: Path, member: str, data: bytes | None) -> None:
    """Replace (or, with None, drop) one member of a model file."""
    with zipfile.ZipFile(path) as src:
        items = [(i, src.read(i.filename)) for i in src.infolist()]
    with zipfile.ZipFile(path, "w") as dst:
        for info, content in items:
            if info.filename == member:
                if data is None:
                    continue
                content = data
            dst.writestr(info, content)


def _npy(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "damage",
    ["child out of range", "child backwards", "leaf not absorbing", "feature out of range"],
)
def test_a_damaged_packed_forest_is_refused(tmp_path, damage):
    """The compiled walk checks no bounds: every index read from a file is checked first."""
    model = _model(RandomForestClassifier(3, random_state=0))
    path = model.save(tmp_path / "m.skops")
    packed = pack_forest(model.estimator)
    name, values = {
        "child out of range": ("child", packed["child"] + 10**6),
        "child backwards": ("child", np.where(packed["leaf"] < 0, 0, packed["child"])),
        "leaf not absorbing": ("threshold", np.zeros_like(packed["threshold"])),
        "feature out of range": ("feature", packed["feature"] + 6),
    }[damage]
    _rewrite(path, f"rasterclass/{name}.npy", _npy(values))
    with pytest.raises(ModelFileError, match=r"damaged forest.*re-train"):
        rc.RasterModel.load(path, fast_forest=True)


def test_object_arrays_are_never_unpickled(tmp_path):
    path = _model(RandomForestClassifier(3, random_state=0)).save(tmp_path / "m.skops")
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    _rewrite(path, "rasterclass/classes.npy", buffer.getvalue())
    # not read as arrays: the file loads the audited skops way instead
    model = rc.RasterModel.load(path, fast_forest=True)
    assert type(model.estimator) is RandomForestClassifier


def test_models_without_packed_trees_load_as_before(tmp_path):
    """A pipeline, another estimator, or a file from an older rasterclass (no members)."""
    pipe = _model(make_pipeline(StandardScaler(), RandomForestClassifier(3, random_state=0)))
    path = pipe.save(tmp_path / "pipe.skops")
    assert "rasterclass/child.npy" not in zipfile.ZipFile(path).namelist()
    assert type(rc.RasterModel.load(path, fast_forest=True).estimator).__name__ == "Pipeline"
    older = tmp_path / "older.skops"
    forest = _model(RandomForestClassifier(3, random_state=0))
    metadata = json.loads(
        zipfile.ZipFile(forest.save(tmp_path / "f.skops")).read("rasterclass/metadata.json")
    )
    del metadata["format"]
    save_model_file(forest.estimator, metadata, older)
    _rewrite(older, "rasterclass/metadata.json", None)
    loaded = rc.RasterModel.load(older, fast_forest=True)
    assert type(loaded.estimator) is RandomForestClassifier
    assert loaded.class_map == forest.class_map
