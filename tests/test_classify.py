"""``rasterclass.classify``: one job for pixel- and object-based classification.

The object-based run (``objects=ObjectOptions(...)``) writes through the same writer as the
pixel-based one: the same layers (classes, probabilities, uncertainty), the same attributes
and checks. The deprecated spellings (``classify_objects``, ``paint_classes``,
``paint_probabilities``) warn and give the same bytes.
"""

from __future__ import annotations

import inspect
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from click.testing import CliRunner

import rasterclass as rc
from rasterclass.cli.main import cli
from rasterclass.errors import (
    CrossValidationDesignError,
    OptionConflictError,
    SegmentationError,
    TrainingClassesError,
    TrainingDataError,
)
from rasterclass.jobs import ObjectOptions, TrainingOptions, classify
from rasterclass.objects import paint_classes, paint_map, paint_probabilities
from tests.conftest import write_raster

FAST = TrainingOptions(method="rf", params={"n_estimators": 20}, cv_folds=0, seed=3)
SEGMENTS = ObjectOptions(segment_params={"n_clusters": 4, "min_size": 6})


def read(path, band=None):
    with rasterio.open(path) as src:
        return src.read() if band is None else src.read(band)


def test_classify_objects_is_classify_with_objects(tmp_path, scene_path, training_path):
    new = classify(
        scene_path, training_path, "class", tmp_path / "new.tif", FAST,
        objects=SEGMENTS, probabilities=tmp_path / "new_p.tif",
    )  # fmt: skip
    with pytest.warns(FutureWarning, match="objects=rasterclass.ObjectOptions"):
        old = rc.classify_objects(
            scene_path, training_path, "class", tmp_path / "old.tif", FAST,
            segment_params=SEGMENTS.segment_params, probabilities=tmp_path / "old_p.tif",
        )  # fmt: skip
    assert "classify_objects" not in rc.__all__
    np.testing.assert_array_equal(read(tmp_path / "new.tif"), read(tmp_path / "old.tif"))
    np.testing.assert_array_equal(read(tmp_path / "new_p.tif"), read(tmp_path / "old_p.tif"))
    assert new.model.summary["object_based"] and old.model.summary["object_based"]
    assert set(new.timings) >= {"segmentation", "features", "training", "prediction"}


def test_object_map_has_the_pixel_maps_layers_and_tags(tmp_path, scene_path, training_path):
    """Same writer: the object map and the pixel map carry the same tags and styles."""
    pixel = tmp_path / "pixel.tif"
    objects = tmp_path / "objects.tif"
    classify(scene_path, training_path, "class", pixel, FAST, probabilities=tmp_path / "pp.tif")
    classify(
        scene_path, training_path, "class", objects, FAST, objects=SEGMENTS,
        probabilities=tmp_path / "op.tif",
    )  # fmt: skip
    with rasterio.open(pixel) as a, rasterio.open(objects) as b:
        assert set(b.tags()) - set(a.tags()) == {"RASTERCLASS_OBJECT_BASED"}
        assert a.colormap(1) == b.colormap(1) and a.nodata == b.nodata == 0
        assert a.descriptions == b.descriptions
    with rasterio.open(tmp_path / "pp.tif") as a, rasterio.open(tmp_path / "op.tif") as b:
        assert a.descriptions == b.descriptions
        assert [a.tags(i) for i in a.indexes] == [b.tags(i) for i in b.indexes]


def test_object_uncertainty_is_each_segments_margin_and_entropy(
    tmp_path, scene_path, training_path
):
    result = classify(
        scene_path, training_path, "class", tmp_path / "m.tif", FAST, objects=SEGMENTS,
        probabilities=tmp_path / "p.tif", uncertainty=tmp_path / "u.tif",
        segments_output=tmp_path / "s.tif", features_output=tmp_path / "f.csv",
    )  # fmt: skip
    proba, layers = read(tmp_path / "p.tif")[:-1], read(tmp_path / "u.tif")
    segs = read(tmp_path / "s.tif", 1)
    valid = segs > 0
    top = np.sort(proba[:, valid], axis=0)
    np.testing.assert_allclose(layers[0][valid], top[-1] - top[-2], atol=1e-6)
    p = np.clip(proba[:, valid], 1e-12, 1)
    entropy = -(proba[:, valid] * np.log(p)).sum(axis=0) / np.log(proba.shape[0])
    np.testing.assert_allclose(layers[1][valid], entropy, atol=1e-5)
    assert np.isnan(layers[:, ~valid]).all()
    # one value per segment: every pixel of a segment has the segment's margin
    table = pd.read_csv(tmp_path / "f.csv", index_col=0)
    names = list(result.model.class_map.names)
    margin = np.sort(table[names].to_numpy(), axis=1)
    lut = pd.Series(margin[:, -1] - margin[:, -2], index=table.index)
    np.testing.assert_allclose(layers[0][valid], lut.loc[segs[valid]].to_numpy(), atol=1e-6)


@pytest.mark.parametrize(
    ("objects", "extra", "names"),
    [
        (SEGMENTS, {"aoa": "a.tif"}, ("aoa=", "objects=")),
        (None, {"segments_output": "s.tif"}, ("segments_output=", "objects=")),
        (None, {"features_output": "f.csv"}, ("features_output=", "objects=")),
        (None, {"vector_output": "v.gpkg"}, ("vector_output=", "objects=")),
    ],
)
def test_object_only_and_pixel_only_outputs_are_refused(
    tmp_path, scene_path, training_path, objects, extra, names
):
    kw = {k: tmp_path / v for k, v in extra.items()}
    before = set(tmp_path.iterdir())
    with pytest.raises(OptionConflictError) as err:
        classify(
            scene_path, training_path, "class", tmp_path / "m.tif", FAST, objects=objects, **kw
        )
    assert all(n in str(err.value) for n in names), str(err.value)
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    ("objects", "match"),
    [
        (ObjectOptions(min_overlap=0), "min_overlap"),
        (ObjectOptions(min_polygon_share=1.5), "min_polygon_share"),
        (ObjectOptions(segment_method="watershed"), "unknown segmentation method"),
        (ObjectOptions(segment_params={"n_clusters": "4"}), "integer"),
    ],
)
def test_object_options_are_checked_before_any_work(
    tmp_path, scene_path, training_path, objects, match
):
    before = set(tmp_path.iterdir())
    with pytest.raises(rc.RasterclassError, match=match):
        classify(scene_path, training_path, "class", tmp_path / "m.tif", FAST, objects=objects)
    assert set(tmp_path.iterdir()) == before


def test_object_options_check_gives_the_seeded_parameters():
    assert SEGMENTS.check(seed=7) == {"seed": 7, "n_clusters": 4, "min_size": 6}
    assert ObjectOptions(segment_params={"seed": 1}).check(seed=7) == {"seed": 1}
    with pytest.raises(TrainingDataError, match=r"min_overlap=.*\(0, 1\]"):
        ObjectOptions(min_overlap=-0.1).check()


def test_cli_object_based_with_uncertainty_and_html(tmp_path, scene_path, training_path):
    runner = CliRunner()
    args = [
        "classify", str(scene_path), "-t", str(training_path), "-c", "class", "--cv", "0",
        "-o", str(tmp_path / "m.tif"), "--object-based", "--segment-param", "n_clusters=4",
        "--uncertainty", str(tmp_path / "u.tif"), "--html", str(tmp_path / "r.html"),
    ]  # fmt: skip
    done = runner.invoke(cli, args)
    assert done.exit_code == 0, done.output
    html = (tmp_path / "r.html").read_text()
    assert "Segment feature signatures" in html and "training segments of each class" in html
    with rasterio.open(tmp_path / "u.tif") as src:
        assert src.descriptions == ("margin", "entropy")
    done = runner.invoke(cli, [*args[:10], "--object-based", "--aoa", str(tmp_path / "a.tif")])
    assert done.exit_code != 0
    assert "--aoa and --object-based contradict each other" in done.output
    assert not (tmp_path / "a.tif").exists()


def _table():
    return pd.DataFrame(
        {"code": [2, 1], "crop": [0.3, 0.8], "soil": [0.7, 0.2], "confidence": [0.7, 0.8]},
        index=[4, 9],
    )


def test_paint_map_has_predict_rasters_layout():
    segs = xr.DataArray(np.array([[4, 4, 7], [9, 9, 0]], dtype="u4"), dims=("y", "x"))
    cmap = rc.ClassMap.from_codes([1, 2], ["crop", "soil"])
    painted = paint_map(segs, _table(), cmap, probabilities=True)
    scene = xr.DataArray(np.ones((1, 2, 3), "f4"), dims=("band", "y", "x"))
    predicted = rc.predict_raster(
        scene, _Fixed(cmap), class_map=cmap, probabilities=True
    )  # the pixel path's layout
    assert set(painted.data_vars) == set(predicted.data_vars)
    for name in painted.data_vars:
        assert painted[name].dims == predicted[name].dims
        assert painted[name].dtype == predicted[name].dtype
        assert painted[name].rio.nodata == predicted[name].rio.nodata or (
            np.isnan(painted[name].rio.nodata) and np.isnan(predicted[name].rio.nodata)
        )
        assert set(painted[name].attrs) == set(predicted[name].attrs), name
    assert painted["class_code"].values.tolist() == [1, 2]
    assert json.loads(painted["classes"].attrs["CLASS_NAMES"]) == {"1": "crop", "2": "soil"}
    assert painted["classes"].values.tolist() == [[2, 2, 0], [1, 1, 0]]
    np.testing.assert_allclose(
        painted["probabilities"].values[1],
        [[0.7, 0.7, np.nan]] * 0 + [[0.7, 0.7, np.nan], [0.2, 0.2, np.nan]],
    )


def test_deprecated_painters_warn_and_agree():
    segs = xr.DataArray(np.array([[4, 4, 9]], dtype="u4"), dims=("y", "x"))
    cmap = rc.ClassMap.from_codes([1, 2], ["crop", "soil"])
    with pytest.warns(FutureWarning, match="paint_map"):
        classes = paint_classes(segs, _table(), cmap)
    with pytest.warns(FutureWarning, match="probabilities=True"):
        stack = paint_probabilities(segs, _table(), cmap)
    painted = paint_map(segs, _table(), cmap, probabilities=True)
    np.testing.assert_array_equal(classes.values, painted["classes"].values)
    assert stack["band"].values.tolist() == ["crop", "soil", "confidence"]
    np.testing.assert_array_equal(stack.values[-1], painted["confidence"].values)


class _Fixed:
    """A fitted two-class estimator that predicts class 2 everywhere (probabilities 0.4/0.6)."""

    def __init__(self, cmap):
        self.classes_ = np.array(cmap.codes)

    def predict(self, X):
        return np.full(len(X), self.classes_[1])

    def predict_proba(self, X):
        return np.tile([0.4, 0.6], (len(X), 1))


@pytest.mark.parametrize(
    "extra",
    [["--segment-method", "slic"], ["--min-overlap", "0.8"], ["--segment-param", "n_clusters=4"]],
)
def test_cli_segment_options_need_object_based(tmp_path, scene_path, training_path, extra):
    args = ["classify", str(scene_path), "-t", str(training_path), "-c", "class", "--cv", "0"]
    done = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "m.tif"), *extra])
    assert done.exit_code == 2
    assert f"{extra[0]} need --object-based" in done.output
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        ({"segment_method": "slic"}, "segment_method="),
        ({"segment_params": {"seed": 1}}, "segment_params="),
    ],
)
def test_given_segments_refuse_a_segmentation_that_would_be_ignored(
    tmp_path, scene_path, training_path, extra, name
):
    """Given segments are not segmented again: a method or parameters for it were ignored."""
    segs = rc.segment(rc.open_scene(scene_path), n_clusters=4, min_size=6).compute()
    before = set(tmp_path.iterdir())
    with pytest.raises(OptionConflictError, match=f"segments= and {name} contradict"):
        classify(
            scene_path, training_path, "class", tmp_path / "m.tif", FAST,
            objects=ObjectOptions(segments=segs, **extra), model_output=tmp_path / "m.joblib",
        )  # fmt: skip
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "extra", [["--segment-method", "slic"], ["--segment-method", "shepherd"],
              ["--segment-param", "min_size=3"]],
)  # fmt: skip
def test_cli_segments_file_refuses_segmentation_options(tmp_path, scene_path, training_path, extra):
    segs = tmp_path / "segs.tif"
    CliRunner().invoke(cli, ["segment", str(scene_path), "-o", str(segs)], catch_exceptions=False)
    args = ["classify", str(scene_path), "-t", str(training_path), "-c", "class", "--cv", "0"]
    done = CliRunner().invoke(
        cli,
        [*args, "-o", str(tmp_path / "m.tif"), "--object-based", "--segments", str(segs), *extra],
    )
    assert done.exit_code != 0
    assert f"--segments and {extra[0]} contradict each other" in done.output, done.output
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize(("value", "shown"), [(-1, "from -1 to"), (2**32, "to 4294967296")])
def test_segment_ids_outside_uint32_are_refused(tmp_path, scene_path, training_path, value, shown):
    """A negative id was painted as nodata but written as id 4294967295 to segments_output,
    and an id >= 2**32 was written as another segment's id: refused before any output."""
    segs = rc.segment(rc.open_scene(scene_path), n_clusters=4, min_size=6).compute()
    ids = segs.values.astype(np.int64)
    ids[20:25, 40:45] = value  # valid pixels
    before = set(tmp_path.iterdir())
    with pytest.raises(SegmentationError, match=rf"ids must be in \[0, 4294967295\].*{shown}"):
        classify(
            scene_path, training_path, "class", tmp_path / "m.tif", FAST,
            objects=ObjectOptions(segments=segs.copy(data=ids)),
            segments_output=tmp_path / "s.tif", model_output=tmp_path / "m.joblib",
        )  # fmt: skip
    assert set(tmp_path.iterdir()) == before
    # -1 only where the scene is nodata is nodata already: accepted, written as 0
    ids = segs.values.astype(np.int64)
    ids[ids == 0] = -1
    classify(
        scene_path, training_path, "class", tmp_path / "m.tif", FAST,
        objects=ObjectOptions(segments=segs.copy(data=ids)), segments_output=tmp_path / "s.tif",
    )  # fmt: skip
    np.testing.assert_array_equal(read(tmp_path / "s.tif", 1), segs.values)


def test_pixel_split_of_a_single_training_segment_names_the_classes_and_the_fix(
    tmp_path, scene_path, training_path
):
    """Object-based, a class may hold one training segment: the pixel-level split said "a
    class has a single pixel" without naming the class or a fix."""
    options = TrainingOptions(params={"n_estimators": 5}, cv_folds=2, cv_grouping="pixel")
    with pytest.raises(CrossValidationDesignError) as err:
        classify(
            scene_path, training_path, "class", tmp_path / "m.tif", options,
            objects=ObjectOptions(segment_params={"n_clusters": 3, "min_size": 6}),
        )  # fmt: skip
    message = str(err.value)
    assert "['forest', 'urban', 'water'] have a single pixel (or training segment)" in message
    assert message.endswith(
        "draw more training data for them or do not cross-validate (cv_folds=0)"
    )
    assert "cv_grouping='pixel'" not in message  # already by pixel
    assert not (tmp_path / "m.tif").exists()


def test_unseeded_object_run_segments_with_the_default_seed(tmp_path, scene_path, training_path):
    """TrainingOptions(seed=None) is an unseeded run (pixel runs accept it); object-based it
    failed with "shepherd parameter seed must be an integer: None", a parameter never given."""
    options = TrainingOptions(params={"n_estimators": 5}, cv_folds=0, seed=None)
    assert ObjectOptions().check() == {}  # the method's default seed
    classify(
        scene_path, training_path, "class", tmp_path / "m.tif", options, objects=SEGMENTS,
        segments_output=tmp_path / "s.tif",
    )  # fmt: skip
    default = rc.segment(rc.open_scene(scene_path), **SEGMENTS.segment_params)
    np.testing.assert_array_equal(read(tmp_path / "s.tif", 1), default.values)


def test_segment_file_with_negative_ids_is_refused_not_wrapped(tmp_path, scene_path, training_path):
    """A signed segment file was read as uint32: an undeclared -1 became segment 4294967295,
    classified and painted as a class."""
    segs = rc.segment(rc.open_scene(scene_path), n_clusters=4, min_size=6).compute()
    ids = segs.values.astype(np.int32)
    ids[20:25, 40:45] = -1  # valid pixels
    write_raster(tmp_path / "neg.tif", ids)
    with pytest.raises(SegmentationError, match=r"got ids from -1 to .*declare the value"):
        classify(
            scene_path, training_path, "class", tmp_path / "m.tif", FAST,
            objects=ObjectOptions(segments=tmp_path / "neg.tif"),
        )  # fmt: skip
    assert not (tmp_path / "m.tif").exists()
    ids = segs.values.astype(np.int32)
    ids[ids == 0] = -1  # only where the scene is nodata: nodata already
    write_raster(tmp_path / "nodata.tif", ids)
    write_raster(tmp_path / "plain.tif", segs.values)
    for name in ("nodata", "plain"):
        classify(
            scene_path, training_path, "class", tmp_path / f"{name}_m.tif", FAST,
            objects=ObjectOptions(segments=tmp_path / f"{name}.tif"),
            probabilities=tmp_path / f"{name}_p.tif",
        )  # fmt: skip
    for layer in ("m", "p"):
        np.testing.assert_array_equal(
            read(tmp_path / f"nodata_{layer}.tif"), read(tmp_path / f"plain_{layer}.tif")
        )


@pytest.mark.parametrize("given", ["file", "array"])
def test_given_segments_give_the_same_features_at_any_scene_chunk_size(
    tmp_path, scene_path, training_path, given
):
    """Given segments took the scene's chunks, and the features are summed along the
    segments' chunks: the feature table changed in its last digits with the chunk size."""
    segs = rc.segment(rc.open_scene(scene_path), n_clusters=4, min_size=6).compute()
    segments = write_raster(tmp_path / "segs.tif", segs.values) if given == "file" else segs
    for chunks in (16, 1000):
        classify(
            scene_path, training_path, "class", tmp_path / f"m{chunks}.tif", FAST,
            objects=ObjectOptions(segments=segments), probabilities=tmp_path / f"p{chunks}.tif",
            features_output=tmp_path / f"f{chunks}.csv",
            scene_options=rc.SceneOptions(chunks=chunks),
        )  # fmt: skip
    assert (tmp_path / "f16.csv").read_text() == (tmp_path / "f1000.csv").read_text()
    np.testing.assert_array_equal(read(tmp_path / "p16.tif"), read(tmp_path / "p1000.tif"))
    np.testing.assert_array_equal(read(tmp_path / "m16.tif"), read(tmp_path / "m1000.tif"))


def test_html_report_does_not_show_an_earlier_runs_provenance(tmp_path, scene_path, training_path):
    """With overwrite, the map's sidecar of the earlier run was still there when the report
    was built (this run's is written when the job returns): the report showed that run, its
    parameters and seed, as the one that wrote the new map."""
    first = TrainingOptions(params={"n_estimators": 5}, cv_folds=0, seed=1)
    classify(scene_path, training_path, "class", tmp_path / "m.tif", first)
    classify(
        scene_path, training_path, "class", tmp_path / "m.tif", FAST, objects=SEGMENTS,
        html_output=tmp_path / "r.html", overwrite=True,
    )  # fmt: skip
    html = (tmp_path / "r.html").read_text()
    assert "Run that wrote the map" not in html and "no provenance sidecar" in html
    sidecar = json.loads((tmp_path / "m.tif.provenance.json").read_text())
    assert sidecar["seed"] == FAST.seed and sidecar["parameters"]["objects"] is not None


@pytest.mark.parametrize(
    ("objects", "fix"),
    [
        (("slic", {"region_size": 40}), "region_size="),
        (("felzenszwalb", {"scale": 1e4}), "scale="),
        (("shepherd", SEGMENTS.segment_params), "min_size="),
    ],
)
def test_too_large_segments_name_the_methods_size_parameter(
    tmp_path, scene_path, training_path, objects, fix
):
    """The advice was min_size=... for every method, a parameter slic does not take (and
    felzenszwalb's does not set the size of most segments)."""
    options = TrainingOptions(params={"n_estimators": 5}, cv_folds=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            classify(
                scene_path, training_path, "class", tmp_path / "m.tif", options,
                objects=ObjectOptions(None, *objects, min_polygon_share=None),
            )  # fmt: skip
        except TrainingDataError as exc:  # no class left, or a single one: same advice
            caught.append(warnings.WarningMessage(exc, UserWarning, "", 0))
    advice = [str(w.message) for w in caught if "smaller segments" in str(w.message)]
    assert advice and all(f"smaller segments ({fix}...)" in a for a in advice), advice


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("n_clusters=abc", "shepherd: --segment-param n_clusters=abc must be an integer"),
        ("connectivity=5", "shepherd: --segment-param connectivity=5 must be 4 or 8"),
        ("n_clusters=999", "shepherd: --segment-param n_clusters=999 must be <= 254"),
    ],
)
def test_cli_invalid_segment_param_is_named_as_typed(
    tmp_path, scene_path, training_path, given, message
):
    """The messages said "shepherd parameter n_clusters must be an integer" and "connectivity
    is 4 or 8", not the option the value came through."""
    args = ["classify", str(scene_path), "-t", str(training_path), "-c", "class", "--cv", "0"]
    done = CliRunner().invoke(
        cli, [*args, "-o", str(tmp_path / "m.tif"), "--object-based", "--segment-param", given]
    )
    assert done.exit_code == 1 and f"Error: {message}" in done.output, done.output
    assert not (tmp_path / "m.tif").exists()


def test_object_based_html_report_does_not_ask_for_an_aoa_layer(
    tmp_path, scene_path, training_path
):
    """The report said "no area-of-applicability layer given (--aoa)", an option refused with
    --object-based."""
    classify(
        scene_path, training_path, "class", tmp_path / "m.tif", FAST, objects=SEGMENTS,
        html_output=tmp_path / "r.html",
    )  # fmt: skip
    html = (tmp_path / "r.html").read_text()
    assert "(--aoa)" not in html
    assert "an object-based map has no area of applicability" in html


def test_deprecated_classify_objects_keeps_its_signature(tmp_path, scene_path, training_path):
    """With ``*args`` a wrong call was reported against classify(), a function the caller
    did not call; the old signature (four or five positional arguments) is kept."""
    with pytest.raises(TypeError, match=r"classify_objects\(\)"):
        rc.classify_objects(
            scene_path, training_path, "class", tmp_path / "m.tif", FAST, tmp_path / "s.tif"
        )
    assert list(inspect.signature(rc.classify_objects).parameters)[:5] == [
        "scene", "training", "class_column", "output", "options",
    ]  # fmt: skip
    assert not (tmp_path / "m.tif").exists()


def test_one_labelled_class_names_the_segments_not_the_training_data(
    tmp_path, scene_path, training_path
):
    """With one class left on the segments, the error said "the training data hold one class
    only ... add polygons of the other classes" (they hold three), and under -q the warning
    that explained it was not shown."""
    objects = ObjectOptions(segment_params=SEGMENTS.segment_params, min_polygon_share=None)
    with pytest.raises(TrainingClassesError) as err:
        classify(
            scene_path, training_path, "class", tmp_path / "m.tif", FAST, objects=objects,
            model_output=tmp_path / "m.joblib",
        )  # fmt: skip
    message = str(err.value)
    assert "labels a training segment" in message and "['forest', 'urban']" in message
    assert "smaller segments (min_size=...)" in message and "min_overlap=" in message
    assert "hold one class only" not in message
    assert not list(tmp_path.glob("m.*"))


def test_a_segmentation_parameter_given_to_the_classifier_points_to_segment_params(
    tmp_path, scene_path, training_path
):
    args = ["classify", str(scene_path), "-t", str(training_path), "-c", "class", "--cv", "0"]
    args += ["-o", str(tmp_path / "m.tif"), "--object-based", "-p", "n_clusters=4"]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code != 0
    assert "n_clusters: a segmentation parameter of object-based runs goes in --segment-param" in (
        done.output
    )
    with pytest.raises(rc.RasterclassError, match=r"goes in segment_params=\)"):
        rc.make_estimator("rf", {"min_size": 3})
