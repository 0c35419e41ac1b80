"""The run keywords declared once (RunOptions, WriteOptions): every job still takes them by
name, checks them at run time as a plain signature would, and documents them."""

from __future__ import annotations

import dataclasses
import inspect
import pathlib
import typing

import pytest

import rasterclass as rc
from rasterclass.datasets import example_scene, example_training
from rasterclass.io import WriteOptions, write_rasters
from rasterclass.jobs.clustering import ClusterOptions
from rasterclass.jobs.options import RunOptions, RunSettings

JOBS = ("predict", "classify", "cluster", "run_segmentation")
WRITERS = ("write_map", "write_probabilities", "write_segments")


def test_run_options_and_settings_and_writer_keywords_agree():
    settings = {f.name for f in dataclasses.fields(RunSettings)}
    assert set(typing.get_type_hints(RunOptions)) == settings
    writer = {
        name
        for name, p in inspect.signature(write_rasters).parameters.items()
        if p.kind is p.KEYWORD_ONLY
    }
    assert set(typing.get_type_hints(WriteOptions)) == writer
    assert set(RunSettings().writing()) <= writer
    assert RunSettings().writing() == {"overwrite": False, "progress": None, "cog": False}


@pytest.mark.parametrize("name", JOBS + WRITERS)
def test_each_job_takes_the_shared_keywords_and_documents_them(name):
    func = getattr(rc, name) if hasattr(rc, name) else getattr(rc.io, name)
    params = inspect.signature(func).parameters
    (kwargs,) = [p for p in params.values() if p.kind is p.VAR_KEYWORD]
    shared = {"cluster": ClusterOptions}.get(name, RunOptions if name in JOBS else WriteOptions)
    assert kwargs.annotation == f"Unpack[{shared.__name__}]"
    keys = typing.get_type_hints(shared)
    assert set(keys) >= set(typing.get_type_hints(RunOptions if name in JOBS else WriteOptions))
    doc = inspect.getdoc(func) or ""
    for key in keys:
        assert f"``{key}``" in doc, (name, key)


def test_predict_takes_the_keywords_by_name_and_refuses_a_misspelt_one(tmp_path):
    folder = pathlib.Path(example_scene()).parent
    options = rc.TrainingOptions(params={"n_estimators": 5}, cv_folds=0)
    model = rc.train(folder / "scene.tif", example_training(), "class", options).model
    out = tmp_path / "map.tif"
    calls = []
    rc.predict(folder / "scene.tif", model, out, progress=lambda done, total: calls.append(done))
    first = out.read_bytes()
    assert calls
    with pytest.raises(rc.errors.OutputExistsError):
        rc.predict(folder / "scene.tif", model, out)
    result = rc.predict(folder / "scene.tif", model, out, overwrite=True)  # the README's call
    assert result.outputs == [str(out)] and out.read_bytes() == first
    with pytest.raises(TypeError, match="overwirte"):
        rc.predict(folder / "scene.tif", model, tmp_path / "other.tif", overwirte=True)
    assert not (tmp_path / "other.tif").exists()


def test_cluster_splits_fit_and_run_keywords_and_refuses_a_misspelt_one(tmp_path):
    scene = pathlib.Path(example_scene()).parent / "scene.tif"
    out = tmp_path / "clusters.tif"
    result = rc.cluster(scene, out, "kmeans", 2, seed=1, sample_size=40, cog=True)
    assert result.model.summary["seed"] == 1 and result.model.summary["sample_size"] == 40
    again = rc.cluster(scene, out, "kmeans", 2, seed=1, sample_size=40, overwrite=True)
    assert again.outputs == [str(out)]
    with pytest.raises(TypeError, match="sampel_size"):
        rc.cluster(scene, tmp_path / "other.tif", "kmeans", 2, sampel_size=40)
    assert not (tmp_path / "other.tif").exists()
