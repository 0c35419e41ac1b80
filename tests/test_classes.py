"""ClassMap: codes, names and colours from a class column, a code list or a legend."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rasterclass import ClassMap
from rasterclass.classes import MAX_CODE, default_colour, parse_colour
from rasterclass.errors import ClassMapError

WATER = (0x2B, 0x6C, 0xD6, 255)
FOREST = (0x1B, 0x6B, 0x2E, 255)
URBAN = (0xD6, 0x3C, 0x3C, 255)
PARK = (0x8F, 0xD1, 0x6A, 255)


# --- construction --------------------------------------------------------------------------
def test_strings_get_codes_in_sorted_order_and_keyword_colours():
    cm = ClassMap.from_values(["water", "urban", "forest", "water", "urban"])
    assert cm.codes == (1, 2, 3)
    assert cm.names == ("forest", "urban", "water")
    assert cm.values == ("forest", "urban", "water")
    assert cm.colors == (FOREST, URBAN, WATER)
    assert len(cm) == 3


def test_missing_and_blank_values_are_not_classes():
    cm = ClassMap.from_values(["b", None, float("nan"), "  ", "", "a"])
    assert cm.names == ("a", "b")


def test_positive_integers_keep_their_value_as_code():
    cm = ClassMap.from_values([7, 3, np.int64(12), 3, 7.0])
    assert cm.codes == (3, 7, 12)
    assert cm.names == ("3", "7", "12")
    assert cm.values == (3, 7, 12)


@pytest.mark.parametrize("values", [[0, 1, 2], [-5, 4, 9], [1, MAX_CODE + 1]])
def test_integers_outside_1_to_max_are_renumbered(values):
    cm = ClassMap.from_values(values)
    assert cm.codes == (1, 2, 3)[: len(values)]
    assert cm.values == tuple(sorted(values))
    assert cm.names == tuple(str(v) for v in sorted(values))


def test_from_codes_names_default_to_class_code():
    cm = ClassMap.from_codes([4, 9])
    assert cm.names == ("class 4", "class 9")
    assert cm.values == (4, 9)
    named = ClassMap.from_codes(np.array([1, 2]), ["water", "forest"])
    assert named.codes == (1, 2)
    assert named.colors == (WATER, FOREST)


def test_keyword_colour_first_match_wins_and_palette_is_deterministic():
    assert default_colour("Urban_Green", 0) == PARK  # not the colour of "urban"
    assert default_colour("dense forest", 5) == FOREST
    assert default_colour("xyz", 0) == (217, 98, 98, 255)
    assert default_colour("xyz", 1) == (98, 132, 217, 255)
    assert default_colour("abc", 7) == (51, 217, 43, 255)
    colours = [default_colour("zzz", i) for i in range(12)]
    assert len(set(colours)) == 12


@pytest.mark.parametrize(
    ("text", "rgba"),
    [
        ("#1b6b2e", FOREST),
        ("1B6B2E80", (0x1B, 0x6B, 0x2E, 0x80)),
        ("10,20,30", (10, 20, 30, 255)),
        ("10 20 30 40", (10, 20, 30, 40)),
        ([1, 2, 3], (1, 2, 3, 255)),
        ((255, 0, 0, 0), (255, 0, 0, 0)),
    ],
)
def test_parse_colour_forms(text, rgba):
    assert parse_colour(text) == rgba


@pytest.mark.parametrize("bad", ["#12345", "#zzzzzz", [1, 2], [0, 0, 256], "1,2,3,4,5"])
def test_parse_colour_rejects(bad):
    with pytest.raises(ClassMapError, match="colour"):
        parse_colour(bad)


# --- invariants ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codes", "names", "match"),
    [
        ((1, 1), ("a", "b"), "codes must be unique"),
        ((1, 2), ("a", "a"), "names must be unique"),
        ((0, 1), ("a", "b"), r"in 1\.\.65535 \(0 is nodata\), got \[0\]"),
        ((1, MAX_CODE + 1), ("a", "b"), "got \\[65536\\]"),
        ((), (), "at least one class"),
    ],
)
def test_invalid_class_maps_are_refused(codes, names, match):
    colours = tuple((0, 0, 0, 255) for _ in codes)
    with pytest.raises(ClassMapError, match=match):
        ClassMap(codes, names, colours, codes)


def test_lengths_must_agree_and_no_values_is_an_error():
    with pytest.raises(ClassMapError, match="same length"):
        ClassMap((1, 2), ("a",), ((0, 0, 0, 255),) * 2, (1, 2))
    with pytest.raises(ClassMapError, match="no values"):
        ClassMap.from_values([None, "", float("nan")])


# --- lookups ---------------------------------------------------------------------------------
def test_encode_values_names_and_numeric_forms():
    cm = ClassMap.from_values(["water", "forest"])
    assert cm.encode(["water", "forest", "water"]).tolist() == [2, 1, 2]
    assert cm.encode([]).dtype == np.int64
    ints = ClassMap.from_codes([3, 5], ["dry", "wet"])
    assert ints.encode([3, np.int32(5), 5.0, "wet"]).tolist() == [3, 5, 5, 5]
    with pytest.raises(ClassMapError, match=r"label 'lake' is not in the class map \(dry, wet\)"):
        ints.encode(["lake"])


def test_encode_prefers_an_original_value_over_a_name():
    # "b" is the original value of class 1 and the name of class 2: the value wins
    cm = ClassMap((1, 2), ("a", "b"), ((0, 0, 0, 255),) * 2, ("b", "z"))
    assert cm.encode(["b", "a", "z"]).tolist() == [1, 1, 2]


def test_name_code_dtype_and_tables():
    cm = ClassMap.from_codes([2, 254], ["water", "forest"])
    assert cm.name_of(254) == "forest" and cm.code_of("water") == 2
    with pytest.raises(ClassMapError, match="unknown class 'lake'; known classes: water, forest"):
        cm.code_of("lake")
    assert cm.dtype == np.uint8
    assert ClassMap.from_codes([1, 255]).dtype == np.uint16
    table = cm.lookup_table()
    assert table.shape == (255, 4) and table.dtype == np.uint8
    assert tuple(table[2]) == WATER and tuple(table[254]) == FOREST
    assert not table[[0, 1, 3]].any()
    assert cm.colormap() == {0: (0, 0, 0, 0), 2: WATER, 254: FOREST}
    assert cm.hex_colors() == ["#2b6cd6", "#1b6b2e"]
    frame = cm.to_frame()
    assert frame.to_dict("list") == {
        "code": [2, 254],
        "name": ["water", "forest"],
        "color": ["#2b6cd6", "#1b6b2e"],
    }


def test_code_order_sorts_a_legend_ordered_map_by_code():
    legend = ClassMap((9, 1, 5), ("c", "a", "b"), ((0, 0, 0, 255),) * 3, (9, 1, 5))
    assert legend.code_order() == [1, 2, 0]


# --- legend ----------------------------------------------------------------------------------
def test_with_legend_takes_codes_names_colours_and_row_order():
    cm = ClassMap.from_values(["water", "forest", "urban", "bare"])
    legend = ClassMap((10, 20), ("Forest", "Water"), ((1, 1, 1, 255), (2, 2, 2, 255)), (10, 20))
    out = cm.with_legend(legend)
    # the legend's rows first (its order), then the unlisted classes in code order
    assert out.names == ("Forest", "Water", "bare", "urban")
    assert out.codes == (10, 20, 1, 3)
    assert out.colors[:2] == ((1, 1, 1, 255), (2, 2, 2, 255))
    assert out.values == ("forest", "water", "bare", "urban")
    # labels of the training column still encode to the legend's codes
    assert out.encode(["water", "forest", "urban"]).tolist() == [20, 10, 3]
    assert ClassMap.from_values(["water", "forest", "urban", "bare"], legend) == out


def test_legend_matched_by_code_for_integer_classes():
    cm = ClassMap.from_values([1, 2, 3])
    legend = ClassMap((3, 1), ("three", "one"), ((3, 3, 3, 255), (1, 1, 1, 255)), (3, 1))
    out = cm.with_legend(legend)
    assert out.codes == (3, 1, 2)
    assert out.names == ("three", "one", "2")


def test_legend_must_be_a_class_map():
    with pytest.raises(ClassMapError, match="legend must be a ClassMap"):
        ClassMap.from_values(["a", "b"]).with_legend({"a": 1})


# --- serialisation ---------------------------------------------------------------------------
def test_dict_is_json_and_missing_fields_are_named():
    cm = ClassMap.from_values([np.int64(4), np.int64(2)])
    data = cm.to_dict()
    assert data == {
        "codes": [2, 4],
        "names": ["2", "4"],
        "colors": [list(c) for c in cm.colors],
        "values": [2, 4],
    }
    assert ClassMap.from_dict(json.loads(json.dumps(data))) == cm
    with pytest.raises(ClassMapError, match="missing the field 'names'"):
        ClassMap.from_dict({"codes": [1]})
    # values default to the codes; colours may be written as hex
    old = ClassMap.from_dict({"codes": [1], "names": ["a"], "colors": ["#010203"]})
    assert old.values == (1,) and old.colors == ((1, 2, 3, 255),)


_names = st.text(min_size=1, max_size=12).filter(lambda s: s.strip())
_colour = st.tuples(*[st.integers(0, 255)] * 4)


@st.composite
def class_maps(draw):
    n = draw(st.integers(1, 8))
    codes = draw(st.lists(st.integers(1, MAX_CODE), min_size=n, max_size=n, unique=True))
    names = draw(st.lists(_names, min_size=n, max_size=n, unique=True))
    colours = draw(st.lists(_colour, min_size=n, max_size=n))
    values = draw(
        st.one_of(
            st.just(codes),
            st.just(names),
            st.lists(st.integers(-(2**31), 2**31), min_size=n, max_size=n),
        )
    )
    return ClassMap(tuple(codes), tuple(names), tuple(colours), tuple(values))


@settings(max_examples=60, deadline=None)
@given(cm=class_maps())
def test_dict_round_trip_property(cm):
    """from_dict(to_dict(cm)) == cm, also through JSON (as stored in models and maps)."""
    assert ClassMap.from_dict(cm.to_dict()) == cm
    assert ClassMap.from_dict(json.loads(json.dumps(cm.to_dict()))) == cm


@settings(max_examples=60, deadline=None)
@given(labels=st.lists(_names, min_size=1, max_size=30))
def test_string_labels_encode_to_codes_1_to_k_and_back(labels):
    cm = ClassMap.from_values(labels)
    uniq = sorted(set(labels))
    assert cm.codes == tuple(range(1, len(uniq) + 1))
    codes = cm.encode(labels)
    assert [cm.name_of(c) for c in codes] == labels
    assert cm.encode(cm.names).tolist() == list(cm.codes)


@settings(max_examples=60, deadline=None)
@given(labels=st.lists(st.integers(1, MAX_CODE), min_size=1, max_size=30))
def test_positive_integer_labels_are_their_own_codes(labels):
    cm = ClassMap.from_values(labels)
    assert cm.codes == tuple(sorted(set(labels)))
    assert cm.encode(labels).tolist() == labels
