"""Forests kept packed in model files: prediction loads neither skops nor scikit-learn, gives
the very same map, and a damaged or foreign file is refused or falls back safely."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import threading
import time
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
from rasterclass.estimators.forest_inference import ExactForest, numba_available
from rasterclass.estimators.forest_packing import pack_forest
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


DAMAGE = {
    "child out of range": ("child", lambda p: p["child"] + 10**6),
    "child backwards": ("child", lambda p: np.where(p["leaf"] < 0, 0, p["child"])),
    "leaf not absorbing": ("threshold", lambda p: np.zeros_like(p["threshold"])),
    "feature out of range": ("feature", lambda p: p["feature"] + 6),
    # shapes and dtypes the kernel cannot take, or that a cast would silently change
    "0-d roots": ("roots", lambda p: np.array(0)),
    "2-d roots": ("roots", lambda p: p["roots"][:, None]),
    "float roots": ("roots", lambda p: p["roots"] + 0.5),
    "0-d child": ("child", lambda p: np.array(1)),
    "float child": ("child", lambda p: p["child"] + 0.7),
    "string child": ("child", lambda p: p["child"].astype(str)),
    "structured child": ("child", lambda p: np.zeros(len(p["child"]), dtype="i4,f8")),
    "2-d feature": ("feature", lambda p: p["feature"][:, None]),
    "2-d threshold": ("threshold", lambda p: p["threshold"][:, None]),
    "string values": ("values", lambda p: p["values"].astype(str)),
    "0-d classes": ("classes", lambda p: np.array(1)),
    "no classes": ("classes", lambda p: p["classes"][:0]),
    "1-d n_features": ("n_features", lambda p: np.array([6, 6])),
    "float n_features": ("n_features", lambda p: np.array(6.9)),
    "n_features not the bands'": ("n_features", lambda p: np.array(2**40)),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_packed_forest_is_refused(tmp_path, damage):
    """The compiled walk checks no bounds: every index read from a file is checked first,
    and so are the arrays' shapes and dtypes (never cast, never a TypeError or a numba
    typing error at predict time)."""
    model = _model(RandomForestClassifier(3, random_state=0))
    path = model.save(tmp_path / "m.skops")
    packed = pack_forest(model.estimator)
    if damage == "no classes":
        packed["values"] = packed["values"][:, :0]
        _rewrite(path, "rasterclass/values.npy", _npy(packed["values"]))
    name, damaged = DAMAGE[damage]
    values = damaged(packed)
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


@pytest.mark.parametrize(
    ("member", "data"),
    [
        # a header claiming 400 GB: refused before anything is allocated
        (
            "rasterclass/child.npy",
            b"\x93NUMPY\x01\x00v\x00"
            + b"{'descr': '<i4', 'fortran_order': False, 'shape': (100000000000,), }".ljust(117)
            + b"\n",
        ),
        # nested too deep for json's recursion
        ("rasterclass/metadata.json", b"[" * 100_000 + b"]" * 100_000),
    ],
)
def test_unreadable_members_fall_back_to_the_audited_load(tmp_path, member, data):
    path = _model(RandomForestClassifier(3, random_state=0)).save(tmp_path / "m.skops")
    _rewrite(path, member, data)
    assert type(rc.RasterModel.load(path, fast_forest=True).estimator) is RandomForestClassifier


def test_a_forest_with_object_classes_is_saved_unpacked(tmp_path):
    """String labels as Python objects (pandas columns): no plain array to pack them in, so
    the file keeps the forest only, as before packing."""
    rng = np.random.default_rng(0)
    X = rng.random((60, 2), dtype=np.float32)
    y = np.where(X[:, 0] > 0.5, "crop", "soil").astype(object)
    forest = RandomForestClassifier(3, random_state=0).fit(X, y)
    cmap = rc.ClassMap.from_codes([1, 2], ["crop", "soil"])
    model = rc.RasterModel(forest, ["red", "nir"], cmap, labels_are_codes=False)
    path = model.save(tmp_path / "m.skops")
    loaded = rc.RasterModel.load(path, fast_forest=True)
    assert np.array_equal(loaded.estimator.predict(X), forest.predict(X))


@pytest.mark.parametrize("fast_forest", [True, False])
def test_metadata_of_the_wrong_types_is_refused(tmp_path, fast_forest):
    forest = _model(RandomForestClassifier(3, random_state=0)).estimator
    metadata = {"band_names": 5, "class_map": 3}
    save_model_file(forest, metadata, tmp_path / "m.skops", arrays=pack_forest(forest))
    with pytest.raises(ModelFileError, match="re-train"):
        rc.RasterModel.load(tmp_path / "m.skops", fast_forest=fast_forest)


def test_a_forest_loaded_later_must_be_the_packed_one(tmp_path):
    """The forest is loaded from the file only when an input needs it: if the file was
    replaced meanwhile (re-trained with --overwrite during a run), the rows with NaN are
    refused rather than predicted by another forest with other classes."""
    path = _model(RandomForestClassifier(4, random_state=0)).save(tmp_path / "m.skops")
    fast = rc.RasterModel.load(path, fast_forest=True).estimator
    X = np.random.default_rng(3).uniform(0, 3000, size=(20, 6)).astype(np.float32)
    other = RandomForestClassifier(4, random_state=1).fit(X, np.arange(20) % 3 + 1)
    cmap = rc.ClassMap.from_codes([1, 2, 3], ["water", "soil", "grass"])
    rc.RasterModel(other, BANDS, cmap).save(path, overwrite=True)
    X[0, 0] = np.nan
    with pytest.raises(ModelFileError, match="changed"):
        fast.predict_proba(X)


def test_a_member_named_twice_is_not_read(tmp_path):
    """Zip readers differ on which of two same-named members they read: such a file's
    packed members are not used (the audited load reads the forest)."""
    path = _model(RandomForestClassifier(3, random_state=0)).save(tmp_path / "m.skops")
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("rasterclass/roots.npy", _npy(np.array([0])))
    assert type(rc.RasterModel.load(path, fast_forest=True).estimator) is RandomForestClassifier


def test_an_in_memory_scene_imports_no_scikit_learn_either(tmp_path):
    path = _model(RandomForestClassifier(3, random_state=0)).save(tmp_path / "m.skops")
    code = (
        "import sys, numpy as np, xarray as xr, rasterclass as rc\n"
        f"m = rc.RasterModel.load({str(path)!r}, fast_forest=True)\n"
        "v = np.random.default_rng(0).uniform(0, 3000, (6, 5, 7)).astype('f4')\n"
        "s = xr.DataArray(v, dims=('band', 'y', 'x'), coords={'band': m.band_names})\n"
        "out = rc.predict_raster(s, m, probabilities=True)\n"
        "print('sklearn' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_a_packed_forest_finds_its_file_from_another_directory(tmp_path, monkeypatch):
    """A worker may run elsewhere than where the model was loaded from a relative path."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _model(RandomForestClassifier(3, random_state=0)).save(tmp_path / "a" / "m.skops")
    monkeypatch.chdir(tmp_path / "a")
    sent = pickle.dumps(rc.RasterModel.load("m.skops", fast_forest=True).estimator)
    monkeypatch.chdir(tmp_path / "b")
    proba = pickle.loads(sent).predict_proba(np.full((2, 6), np.nan, dtype=np.float32))
    assert proba.shape == (2, 4)


def test_the_forest_is_loaded_once_by_concurrent_blocks():
    """Blocks on several threads needing the forest at once load it once, not once each."""
    X = np.random.default_rng(0).random((50, 3), dtype=np.float32)
    rf = RandomForestClassifier(5, random_state=0).fit(X, X[:, 0] > 0.5)
    loads = []

    def load():
        loads.append(1)
        time.sleep(0.2)
        return rf

    fast = ExactForest.from_packed(pack_forest(rf), load)
    X[0, 0] = np.nan
    threads = [threading.Thread(target=fast.predict_proba, args=(X,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1


def test_a_model_loaded_packed_saves_its_forest(tmp_path):
    """`rc.predict(scene, path).model.save(...)`: the copy holds the scikit-learn forest (and
    its packed trees), not the packed forest pointing back at the first file."""
    model = _model(RandomForestClassifier(3, random_state=0))
    fast = rc.RasterModel.load(model.save(tmp_path / "m.skops"), fast_forest=True)
    copy = fast.save(tmp_path / "copy.skops")
    (tmp_path / "m.skops").unlink()
    assert type(rc.RasterModel.load(copy).estimator) is RandomForestClassifier
    again = rc.RasterModel.load(copy, fast_forest=True).estimator
    X = np.random.default_rng(0).uniform(0, 3000, size=(30, 6)).astype(np.float32)
    X[::3, 1] = np.nan
    assert np.array_equal(again.predict_proba(X), model.estimator.predict_proba(X))
