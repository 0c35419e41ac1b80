"""Radiometry records (:mod:`rasterclass.radiometry`): how each band is stored, renamed with
its band, and the warning when a scene is stored differently from the training scene."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from rasterclass.errors import RadiometryWarning
from rasterclass.radiometry import (
    RADIOMETRY_ATTR,
    band_records,
    check_radiometry,
    radiometry_differences,
    radiometry_records,
    rename_bands,
    scene_radiometry,
)

NAMES = ["red", "nir"]


def scene_with(scales: list[float], names: list[str] = NAMES) -> xr.DataArray:
    records = radiometry_records(names, ["uint16"] * 2, scales, [0.0, 0.0], [0, None])
    return xr.DataArray(
        np.zeros((2, 1, 1), "f4"),
        dims=("band", "y", "x"),
        coords={"band": names},
        attrs={RADIOMETRY_ATTR: json.dumps(records)},
    )


def test_records_say_how_each_band_is_stored():
    scene = scene_with([1e-4, 1.0])
    assert scene_radiometry(scene) == [
        {"band": "red", "dtype": "uint16", "scale": 1e-4, "offset": 0.0, "nodata": 0.0},
        {"band": "nir", "dtype": "uint16", "scale": 1.0, "offset": 0.0, "nodata": None},
    ]
    assert scene_radiometry(scene.drop_attrs()) is None
    assert scene_radiometry(scene.assign_attrs({RADIOMETRY_ATTR: "not json"})) is None


def test_renamed_bands_keep_their_records():
    scene = rename_bands(scene_with([1e-4, 1.0]), ["red@2021", "nir@2021"])
    assert list(scene.band.values) == ["red@2021", "nir@2021"]
    assert [r["band"] for r in scene_radiometry(scene)] == ["red@2021", "nir@2021"]
    assert band_records(scene)["red@2021"]["scale"] == 1e-4


def test_records_follow_bands_by_position_when_renamed_without_them():
    scene = scene_with([1e-4, 1.0]).assign_coords(band=["B4", "B8"])  # records still red, nir
    assert band_records(scene)["B8"]["scale"] == 1.0
    reordered = scene_with([1e-4, 1.0]).sel(band=["nir", "red"])  # names found: by name
    assert band_records(reordered)["red"]["scale"] == 1e-4


def test_differences_name_band_and_both_values():
    trained = scene_radiometry(scene_with([1e-4, 1.0]))
    now = scene_radiometry(scene_with([1.0, 1.0]))
    assert radiometry_differences(trained, now, NAMES) == ["red: scale 1 (training: 0.0001)"]
    assert radiometry_differences(trained, trained, NAMES) == []
    assert radiometry_differences(None, now, NAMES) == []  # an old model: nothing to compare


def test_check_warns_only_when_storage_differs():
    trained = scene_radiometry(scene_with([1e-4, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RadiometryWarning)
        check_radiometry(trained, scene_with([1e-4, 1.0]), NAMES)
        check_radiometry(trained, scene_with([1.0, 1.0]).drop_attrs(), NAMES)  # no records
    with pytest.warns(RadiometryWarning, match=r"band R: scale 1 \(training: 0.0001\)"):
        check_radiometry(trained, scene_with([1.0, 1.0]), NAMES, names=["R", "N"])
