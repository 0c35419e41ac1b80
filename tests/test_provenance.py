"""Provenance sidecars (``<output>.provenance.json``) beside every output a job writes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import rasterclass as rc
from rasterclass import jobs
from rasterclass.datasets import example_map
from rasterclass.errors import OutputCollisionError, RasterclassIOError
from rasterclass.io import PROVENANCE_SUFFIX, check_writable
from tests.conftest import run_cli as run


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sidecar(path: Path) -> dict:
    return json.loads(Path(f"{path}{PROVENANCE_SUFFIX}").read_text())


def test_classify_records_inputs_parameters_seed_versions_command_and_classes(
    tmp_path, scene_path, training_path
):
    out, probs, report = tmp_path / "map.tif", tmp_path / "p.tif", tmp_path / "r.json"
    args = ["classify", scene_path, "-t", training_path, "-c", "class", "-o", out]
    args += ["-p", "n_estimators=10", "--seed", "3", "--probabilities", probs, "--report", report]
    run(*args)
    record = sidecar(out)
    assert record["format_version"] == 1 and record["job"] == "classify"
    assert record["output"] == os.path.abspath(out)
    assert set(record["outputs"]) >= {os.path.abspath(p) for p in (out, probs, report)}
    by_role = {i["role"]: i for i in record["inputs"]}
    assert by_role["scene"]["sha256"] == sha(scene_path)
    assert by_role["scene"]["size"] == os.path.getsize(scene_path)
    assert by_role["training"]["sha256"] == sha(training_path)
    assert record["seed"] == 3
    assert record["parameters"]["class_column"] == "class"
    assert record["parameters"]["options"]["params"] == {"n_estimators": 10}
    assert record["command_line"] == ["rasterclass", *[str(a) for a in args]]
    assert {"rasterclass", "numpy", "scikit-learn", "python"} <= set(record["versions"])
    assert record["started"].endswith("Z") and record["started"] <= record["ended"]
    classes = record["classification:classes"]
    assert sorted(c["name"] for c in classes) == ["forest", "urban", "water"]
    assert all(set(c) == {"value", "name", "color_hint"} for c in classes)
    assert all(len(c["color_hint"]) == 6 for c in classes)
    # every output has its own sidecar; only the class map lists classes
    assert "classification:classes" not in sidecar(probs)
    assert sidecar(report)["output"] == os.path.abspath(report)


def test_python_call_has_no_command_line_and_overwrite_replaces_the_sidecar(tmp_path):
    map_path = example_map()
    out = tmp_path / "areas.json"
    jobs.areas_map(map_path, output=out)
    first = sidecar(out)
    assert first["command_line"] is None and first["job"] == "areas_map"
    assert [i["sha256"] for i in first["inputs"]] == [sha(map_path)]
    assert first["parameters"]["chunks"] is None
    res = run("areas", map_path, "-o", out, ok=False)  # exists: refused, sidecar kept
    assert res.exit_code != 0 and sidecar(out) == first
    run("areas", map_path, "-o", out, "--overwrite", "--chunks", "2")
    second = sidecar(out)
    assert second["parameters"]["chunks"] == 2 and second["command_line"][1] == "areas"


def test_an_output_named_as_another_outputs_or_an_inputs_sidecar_is_refused(tmp_path):
    with pytest.raises(OutputCollisionError, match="both write"):
        check_writable({"output": tmp_path / "m.tif", "report": tmp_path / "m.tif.provenance.json"})
    map_path = example_map()
    with pytest.raises(OutputCollisionError, match="would replace"):
        rc.areas_map(map_path, output=f"{map_path}{PROVENANCE_SUFFIX}")
    assert not os.path.exists(f"{map_path}{PROVENANCE_SUFFIX}")


def test_a_failed_run_writes_no_sidecar(tmp_path):
    out = tmp_path / "a.csv"
    with pytest.raises(RasterclassIOError, match=r"missing\.tif"):
        jobs.areas_map(tmp_path / "missing.tif", output=out)
    assert not list(tmp_path.iterdir())


def test_provenance_record_of_in_memory_data_names_its_type():
    import numpy as np

    record = jobs.provenance.provenance_record(
        "x", {"scene": np.zeros((2, 3)), "progress": print, "n": 1}, {}, [], started="t"
    )
    assert record["parameters"] == {"scene": "<in-memory ndarray (2, 3)>", "progress": None, "n": 1}
    assert record["inputs"] == [] and record["seed"] is None


def test_inputs_that_are_not_local_files_are_listed_not_hashed(tmp_path):
    """A URL, a GDAL virtual path or a folder used to be left out of the record without a
    word: now listed, with no size or hash and a note saying why."""
    folder = tmp_path / "SAFE"
    folder.mkdir()
    local = example_map()
    inputs = {
        "scene": ["https://example.org/scene.tif", "/vsis3/bucket/b04.tif", folder],
        "map": local,
    }
    record = jobs.provenance.provenance_record("x", {}, inputs, [], started="t")
    by_path = {r["path"]: r for r in record["inputs"]}
    for remote in ("https://example.org/scene.tif", "/vsis3/bucket/b04.tif"):
        assert by_path[remote] == {
            "role": "scene", "path": remote, "size": None, "sha256": None,
            "note": "not a local file: not hashed",
        }  # fmt: skip
    assert by_path[str(folder)]["note"] == "a folder: not hashed"
    assert by_path[str(folder)]["sha256"] is None
    assert len(by_path[os.path.abspath(local)]["sha256"]) == 64
    # a local path that does not exist is not an input of the record
    record = jobs.provenance.provenance_record(
        "x", {}, {"scene": tmp_path / "no.tif"}, [], started="t"
    )
    assert record["inputs"] == []
