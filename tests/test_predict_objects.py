"""``rasterclass.predict`` with an object-based model: the saved model segments a scene as it
was trained (method, parameters, seed), describes, classifies and paints the segments, so the
training scene gets the map ``classify`` wrote, byte for byte, and another scene a map.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

import rasterclass as rc
from rasterclass.errors import (
    BandMismatchError,
    ModelFileError,
    OptionConflictError,
    SegmentationError,
)
from rasterclass.jobs import ObjectOptions, TrainingOptions, classify, predict
from tests.conftest import read_band, run_cli, synthetic_arrays, write_raster

FAST = TrainingOptions(method="rf", params={"n_estimators": 20}, cv_folds=0, seed=3)
SEGMENTS = ObjectOptions(segment_params={"n_clusters": 4, "min_size": 6})
BANDS = ["blue", "green", "red"]


def read(path):
    with rasterio.open(path) as src:
        return src.read()


@pytest.fixture
def trained(tmp_path, scene_path, training_path):
    """An object-based run with its saved model (map, probabilities, uncertainty)."""
    classify(
        scene_path, training_path, "class", tmp_path / "obj.tif", FAST, objects=SEGMENTS,
        model_output=tmp_path / "obj.skops", probabilities=tmp_path / "obj_p.tif",
        uncertainty=tmp_path / "obj_u.tif",
    )  # fmt: skip
    return tmp_path / "obj.skops"


def test_predict_on_the_training_scene_writes_classifys_map(tmp_path, scene_path, trained):
    """The oracle: the same segmentation (recorded seed) gives the same files, bytes and all."""
    result = predict(
        scene_path, trained, tmp_path / "p.tif", probabilities=tmp_path / "p_p.tif",
        uncertainty=tmp_path / "p_u.tif",
    )  # fmt: skip
    assert [p.rsplit("/", 1)[-1] for p in result.outputs] == ["p.tif", "p_p.tif", "p_u.tif"]
    for ours, theirs in (("p", "obj"), ("p_p", "obj_p"), ("p_u", "obj_u")):
        assert (tmp_path / f"{ours}.tif").read_bytes() == (tmp_path / f"{theirs}.tif").read_bytes()
    model = rc.RasterModel.load(trained)
    record = model.summary["segmentation"]
    assert record["method"] == "shepherd" and record["bands"] == BANDS
    assert record["params"]["seed"] == 3 and record["params"]["n_clusters"] == 4
    assert "segmentation_params" not in model.summary


def test_predict_on_another_scene(tmp_path, scene_path, training_path):
    """Another date: other noise, a cloud (nodata), 3 % brighter, the fields 5 columns
    further east. (The model needs training segments of every class in numbers: with
    ``SEGMENTS`` one forest and one urban segment, its shape features weigh as much as the
    spectral ones and a 3 % brightening turns urban into forest.)"""
    objects = ObjectOptions(segment_params={"n_clusters": 12, "min_size": 6})
    model = tmp_path / "m.skops"
    result = classify(scene_path, training_path, "class", tmp_path / "obj.tif", FAST,
                      objects=objects, model_output=model)  # fmt: skip
    assert np.bincount(result.samples.y).min(initial=99, where=np.arange(4) > 0) > 20
    scene, truth = synthetic_arrays(seed=7)
    scene[:, 40:46, 50:58] = np.nan
    truth[40:46, 50:58] = 0
    scene, truth = np.roll(scene, 5, axis=2), np.roll(truth, 5, axis=1)
    scene = scene * np.float32(1.03) + np.float32(0.004)
    path = write_raster(tmp_path / "other.tif", scene, nodata=float("nan"), descriptions=BANDS)
    predict(path, model, tmp_path / "other_map.tif")
    classes = read_band(tmp_path / "other_map.tif")
    assert np.array_equal(classes == 0, truth == 0)
    codes = rc.read_class_map(tmp_path / "other_map.tif")
    names = np.array(["", "water", "forest", "urban"])[truth]
    mapped = np.array([codes.name_of(int(c)) if c else "" for c in classes.ravel()])
    valid = truth.ravel() > 0
    assert (mapped[valid] == names.ravel()[valid]).mean() > 0.9


def test_a_model_on_given_segments_needs_segments(tmp_path, scene_path, training_path):
    segs = tmp_path / "segs.tif"
    rc.run_segmentation(scene_path, segs, params={"n_clusters": 4, "min_size": 6})
    classify(
        scene_path, training_path, "class", tmp_path / "obj.tif", FAST,
        objects=ObjectOptions(segments=segs), model_output=tmp_path / "m.skops",
    )  # fmt: skip
    record = rc.RasterModel.load(tmp_path / "m.skops").summary["segmentation"]
    assert record["method"] is None and record["given"] is True
    with pytest.raises(SegmentationError, match=r"given segments.*segments="):
        predict(scene_path, tmp_path / "m.skops", tmp_path / "p.tif")
    assert not list(tmp_path.glob("p.tif*"))
    res = run_cli("predict", scene_path, "--model", tmp_path / "m.skops", "-o",
                  tmp_path / "p.tif", ok=False)  # fmt: skip
    assert res.exit_code == 1 and "--segments" in res.output and "segments=" not in res.output
    predict(scene_path, tmp_path / "m.skops", tmp_path / "p.tif", segments=segs)
    assert np.array_equal(read(tmp_path / "p.tif"), read(tmp_path / "obj.tif"))
    # given segments also work with a model that segments itself: they replace its own
    run_cli("predict", scene_path, "--model", tmp_path / "m.skops", "--segments", segs,
            "-o", tmp_path / "cli.tif")  # fmt: skip
    assert np.array_equal(read(tmp_path / "cli.tif"), read(tmp_path / "obj.tif"))


def test_aoa_and_segments_are_refused_where_they_do_not_apply(
    tmp_path, scene_path, training_path, trained
):
    with pytest.raises(OptionConflictError, match=r"aoa=.*object-based"):
        predict(scene_path, trained, tmp_path / "p.tif", aoa=tmp_path / "a.tif")
    pixel = rc.train(scene_path, training_path, "class", FAST).model
    with pytest.raises(OptionConflictError, match=r"segments=.*pixels"):
        predict(scene_path, pixel, tmp_path / "p.tif", segments=tmp_path / "obj.tif")
    assert not list(tmp_path.glob("p.tif*")) and not list(tmp_path.glob("a.tif*"))


def test_segments_are_an_input_of_the_run(tmp_path, scene_path, trained):
    """The output check sees the segments: writing over them is refused, before any work."""
    segs = tmp_path / "segs.tif"
    rc.run_segmentation(scene_path, segs, params={"n_clusters": 4, "min_size": 6})
    with pytest.raises(rc.errors.OutputCollisionError):
        predict(scene_path, trained, segs, segments=segs, overwrite=True)
    predict(scene_path, trained, tmp_path / "p.tif", segments=segs)
    sidecar = (tmp_path / "p.tif.provenance.json").read_text()
    assert "segs.tif" in sidecar


def test_a_scene_with_other_bands_is_refused_naming_them(tmp_path, trained):
    scene, _ = synthetic_arrays()
    path = write_raster(tmp_path / "other.tif", scene, nodata=float("nan"),
                        descriptions=["blue", "green", "nir"])  # fmt: skip
    with pytest.raises(BandMismatchError, match=r"missing \['red'\]"):
        predict(path, trained, tmp_path / "p.tif")
    assert not (tmp_path / "p.tif").exists()


def test_a_model_of_rasterclass_0_2_still_predicts(tmp_path, scene_path, trained):
    """0.2 recorded the method's name and each parameter's repr: read back where they can be."""
    model = rc.RasterModel.load(trained)
    params = model.summary["segmentation"]["params"]
    model.summary["segmentation"] = "shepherd"
    model.summary["segmentation_params"] = {k: repr(v) for k, v in params.items()}
    model.save(tmp_path / "old.skops")
    predict(scene_path, tmp_path / "old.skops", tmp_path / "p.tif")
    assert np.array_equal(read(tmp_path / "p.tif"), read(tmp_path / "obj.tif"))
    model.summary["segmentation_params"]["seed"] = "np.int64(3)"  # numpy 2's repr
    model.save(tmp_path / "old.skops", overwrite=True)
    with pytest.raises(ModelFileError, match=r"seed.*segments="):
        predict(scene_path, tmp_path / "old.skops", tmp_path / "q.tif")
    assert not (tmp_path / "q.tif").exists()
    predict(scene_path, tmp_path / "old.skops", tmp_path / "q.tif", segments=rc.segment(
        rc.open_scene(scene_path), **{**params, "seed": 3}))  # fmt: skip
    assert np.array_equal(read(tmp_path / "q.tif"), read(tmp_path / "obj.tif"))


def test_derived_features_are_derived_again(tmp_path, training_path):
    """A model trained with derived bands (``--indices``) records their recipe: predict
    derives them on the new scene before segmenting, as classify did."""
    scene, _ = synthetic_arrays()
    bands = ["green", "red", "nir"]
    path = write_raster(tmp_path / "s.tif", scene, nodata=float("nan"), descriptions=bands)
    opts = rc.SceneOptions(features=rc.FeatureRecipe(indices=("ndvi",)))
    result = classify(
        path, training_path, "class", tmp_path / "obj.tif", FAST, objects=SEGMENTS,
        model_output=tmp_path / "m.skops", scene_options=opts,
    )  # fmt: skip
    assert "ndvi_mean" in result.model.band_names
    assert rc.RasterModel.load(tmp_path / "m.skops").summary["segmentation"]["bands"] == [
        *bands,
        "ndvi",
    ]
    predict(path, tmp_path / "m.skops", tmp_path / "p.tif")
    assert (tmp_path / "p.tif").read_bytes() == (tmp_path / "obj.tif").read_bytes()
