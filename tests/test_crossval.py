"""Cross-validation folds: polygons on one side, stratified, seeded; pixel vs polygon split."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from rasterclass import ClassMap, Samples, cross_validate, folds
from rasterclass.accuracy.crossval import PIXEL_SPLIT_NOTE, holdout_split, plan_folds
from rasterclass.errors import CrossValidationDesignError, TrainingDataError, ValidationWarning


def make_samples(polygons: list[int], pixels: int | list[int] = 6, seed: int = 0) -> Samples:
    """``polygons[k]`` polygons of class k + 1, ``pixels`` pixels each (per polygon when a
    list); the classes are well separated in two bands."""
    rng = np.random.default_rng(seed)
    y, groups = [], []
    gid = 0
    for k, n in enumerate(polygons):
        for _ in range(n):
            size = pixels[gid] if isinstance(pixels, list) else pixels
            y += [k + 1] * size
            groups += [gid] * size
            gid += 1
    y_arr = np.array(y, dtype=np.int64)
    X = (y_arr[:, None] * 10.0 + rng.normal(0, 1, (len(y), 2))).astype(np.float32)
    n = len(y)
    return Samples(
        X=X,
        y=y_arr,
        groups=np.array(groups, dtype=np.int64),
        rows=np.arange(n, dtype=np.int64),
        cols=np.zeros(n, dtype=np.int64),
        band_names=["b1", "b2"],
        class_map=ClassMap.from_codes(range(1, len(polygons) + 1)),
    )


def check_partition(samples: Samples, splits) -> None:
    """Each fold's train and test sides split all samples; the test sides partition them."""
    n = len(samples)
    tests = np.concatenate([test for _, test in splits])
    np.testing.assert_array_equal(np.sort(tests), np.arange(n))
    for train, test in splits:
        assert len(np.intersect1d(train, test)) == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))


# --- polygon grouping ------------------------------------------------------------------------
def test_polygons_never_on_both_sides_and_folds_partition_the_samples():
    samples = make_samples([6, 5, 7], pixels=[3 + (i % 4) for i in range(18)])
    splits = list(folds(samples, 5, seed=1))
    assert len(splits) == 5
    check_partition(samples, splits)
    for train, test in splits:
        assert not set(samples.groups[train]) & set(samples.groups[test])
        # every polygon is whole on the test side
        for g in np.unique(samples.groups[test]):
            assert (samples.groups[test] == g).sum() == (samples.groups == g).sum()


def test_stratified_every_class_in_every_fold_when_it_has_enough_polygons():
    samples = make_samples([5, 5, 10])
    plan = plan_folds(samples, 5, seed=0)
    assert plan.n_splits == 5 and plan.notes == []
    for train, test in plan.splits:
        assert set(samples.y[test].tolist()) == {1, 2, 3}
        assert set(samples.y[train].tolist()) == {1, 2, 3}
        # 5 polygons of classes 1 and 2: one each per fold; 10 of class 3: two
        polygons = [len(np.unique(samples.groups[test][samples.y[test] == c])) for c in (1, 2, 3)]
        assert polygons == [1, 1, 2]


def test_same_seed_same_folds_other_seed_other_folds():
    samples = make_samples([8, 8, 8])

    def tests(seed):
        return [test.tolist() for _, test in folds(samples, 4, seed=seed)]

    assert tests(3) == tests(3)
    assert tests(3) != tests(4)


def test_fewer_polygons_than_folds_uses_fewer_folds_and_says_so():
    samples = make_samples([2, 3])
    plan = plan_folds(samples, 6)
    assert plan.n_splits == 5
    assert plan.notes[0] == "only 5 polygons: using 5 folds instead of 6"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = list(folds(samples, 6))
    assert [str(w.message) for w in caught] == plan.notes
    assert all(w.category is ValidationWarning for w in caught)
    assert len(splits) == 5
    check_partition(samples, splits)


def test_class_with_few_polygons_is_warned():
    samples = make_samples([2, 6, 6])
    plan = plan_folds(samples, 5)
    assert any("fewer polygons than the" in n and "'class 1': 2" in n for n in plan.notes)


def test_class_in_one_polygon_cannot_be_grouped():
    samples = make_samples([1, 4, 4])
    with pytest.raises(CrossValidationDesignError, match=r"class\(es\) \['class 1'\]"):
        plan_folds(samples, 3)


def test_design_errors():
    samples = make_samples([3, 3])
    with pytest.raises(TrainingDataError, match="grouping must be 'polygon' or 'pixel'"):
        plan_folds(samples, 3, grouping="polygons")
    with pytest.raises(TrainingDataError, match="one class only"):
        plan_folds(samples.subset(np.flatnonzero(samples.y == 1)), 3)


@st.composite
def designs(draw):
    n_classes = draw(st.integers(2, 4))
    k = draw(st.integers(2, 5))
    polygons = draw(st.lists(st.integers(k, k + 4), min_size=n_classes, max_size=n_classes))
    pixels = draw(st.lists(st.integers(1, 6), min_size=sum(polygons), max_size=sum(polygons)))
    return polygons, pixels, k, draw(st.integers(0, 2**16))


@settings(max_examples=40, deadline=None)
@given(design=designs())
def test_grouped_folds_laws(design):
    """Whatever the design: the test sides partition the samples, no polygon is on both sides
    of a fold, every class tested is also trained on, and at most n_splits folds."""
    polygons, pixels, k, seed = design
    samples = make_samples(polygons, pixels)
    try:
        plan = plan_folds(samples, k, seed=seed)
    except CrossValidationDesignError:
        reject()
    assert 2 <= plan.n_splits == len(plan.splits) <= k
    check_partition(samples, plan.splits)
    for train, test in plan.splits:
        assert not set(samples.groups[train]) & set(samples.groups[test])
        assert set(samples.y[test]) <= set(samples.y[train])
    again = plan_folds(samples, k, seed=seed)
    assert [t.tolist() for _, t in again.splits] == [t.tolist() for _, t in plan.splits]


# --- pixel grouping --------------------------------------------------------------------------
def test_pixel_split_is_stratified_and_crosses_polygons():
    samples = make_samples([2, 3], pixels=10)
    plan = plan_folds(samples, 5, seed=0, grouping="pixel")
    assert plan.grouping == "pixel" and plan.n_splits == 5
    check_partition(samples, plan.splits)
    for _, test in plan.splits:
        # 20 and 30 pixels in 5 stratified folds: 4 and 6 per fold
        assert np.bincount(samples.y[test], minlength=3)[1:].tolist() == [4, 6]
    leaks = [set(samples.groups[train]) & set(samples.groups[test]) for train, test in plan.splits]
    assert all(leaks)  # a pixel-level split puts polygons on both sides


def test_pixel_split_folds_limited_by_the_smallest_class():
    samples = make_samples([1, 3], pixels=3)  # class 1: 3 pixels
    assert plan_folds(samples, 5, grouping="pixel").n_splits == 3
    with pytest.raises(TrainingDataError, match="single pixel"):
        plan_folds(make_samples([1, 3], pixels=[1, 3, 3, 3]), 5, grouping="pixel")


# --- cross_validate and holdout ------------------------------------------------------------
def test_cross_validate_reports_folds_and_notes():
    samples = make_samples([5, 5, 5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = cross_validate(samples, LinearDiscriminantAnalysis(), n_splits=5, seed=2)
    assert report.kind == "cross-validation"
    assert report.title == "Cross-validated accuracy (polygon-level split, 5 folds)"
    assert report.metadata["folds"] == 5
    assert report.metadata["n_samples"] == 90 and report.metadata["n_polygons"] == 15
    assert len(report.metadata["fold_overall_accuracy"]) == 5
    assert report.confusion.overall_accuracy == 1.0  # the classes are 10 sigma apart
    assert any("no polygon contributes pixels to both" in n for n in report.notes)
    pixel = cross_validate(samples, LinearDiscriminantAnalysis(), grouping="pixel")
    assert pixel.notes == [PIXEL_SPLIT_NOTE]
    assert pixel.metadata["grouping"] == "pixel"


def test_holdout_split_by_polygon():
    samples = make_samples([5, 5, 5])
    train, test = holdout_split(samples, 0.2, seed=0)
    assert len(train) + len(test) == len(samples)
    assert not set(train.groups) & set(test.groups)
    assert set(test.y.tolist()) == {1, 2, 3}
    assert len(np.unique(test.groups)) == 3  # one polygon in five per class
    with pytest.raises(TrainingDataError, match="between 0 and 1"):
        holdout_split(samples, 1.0)
