"""ClassMap: the one mapping between class codes, names and colours.

Code 0 is reserved for nodata in every map rasterclass writes. Classes get codes 1..K.
A ClassMap is built from a training column (strings or integers), stored in every model
file and every map, and can be overridden from a legend file (CSV ``code,name,color``).

The order of a ClassMap is *the* class order of everything that lists classes: probability
bands, band descriptions, QGIS styles, statistics tables and accuracy reports. It is the
legend's row order when a legend is given, else code order. (Tables indexed by code, a
colour table, GDAL category names and the raster attribute table, are in code order.)
"""

from __future__ import annotations

import colorsys
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rasterclass.errors import ClassMapError

logger = logging.getLogger(__name__)

RGBA = tuple[int, int, int, int]

#: Largest code of a uint8 map (255 is kept free so that 0..254 + spare fits any viewer).
MAX_UINT8_CODE = 254
MAX_CODE = 65535

# Colours that land-cover users expect for common class names (first match wins).
_KEYWORD_COLOURS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("water", "river", "lake", "sea", "ocean"), "#2b6cd6"),
    (("stress", "damage", "dry", "fallen", "drought"), "#c77c2c"),
    (("forest", "tree", "wood"), "#1b6b2e"),
    (("urban_green", "urban green", "park", "grass", "meadow", "pasture"), "#8fd16a"),
    (("shrub", "schrub", "scrub"), "#7a9a3a"),
    (("crop", "cultiv", "agri", "field", "soy", "corn"), "#e8d34a"),
    (("residential", "urban", "built", "artificial", "settlement", "road", "building"), "#d63c3c"),
    (("bare", "soil", "sand", "rock", "cleared"), "#c9a77c"),
    (("cloud", "snow", "ice"), "#f0f0f0"),
    (("shadow",), "#3a3a3a"),
    (("wetland", "marsh"), "#4fb3a9"),
    (("cerrado", "savanna"), "#b5a642"),
)


def _hex_to_rgba(value: str) -> RGBA:
    text = value.strip().lstrip("#")
    if len(text) not in (6, 8) or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ClassMapError(f"colour {value!r} is not #RRGGBB or #RRGGBBAA; write e.g. '#1b6b2e'")
    parts = [int(text[i : i + 2], 16) for i in range(0, len(text), 2)]
    if len(parts) == 3:
        parts.append(255)
    return (parts[0], parts[1], parts[2], parts[3])


def parse_colour(value: Any) -> RGBA:
    """Parse ``#RRGGBB[AA]``, ``"r,g,b[,a]"`` or a sequence of 3-4 ints into RGBA."""
    if isinstance(value, str):
        if "," in value or " " in value.strip():
            items = [p for p in value.replace(",", " ").split() if p]
            return parse_colour([int(float(p)) for p in items])
        return _hex_to_rgba(value)
    seq = list(value)
    if len(seq) not in (3, 4) or not all(0 <= int(v) <= 255 for v in seq):
        raise ClassMapError(f"colour {value!r} must have 3 or 4 components in 0..255")
    if len(seq) == 3:
        seq.append(255)
    return (int(seq[0]), int(seq[1]), int(seq[2]), int(seq[3]))


def _palette_colour(index: int) -> RGBA:
    """A distinct colour for any index (golden-angle hue walk, deterministic)."""
    hue = (index * 0.618033988749895) % 1.0
    sat = 0.55 + 0.25 * ((index // 7) % 2)
    val = 0.85 - 0.15 * ((index // 14) % 2)
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return (round(r * 255), round(g * 255), round(b * 255), 255)


def default_colour(name: str, index: int) -> RGBA:
    """Colour a user would expect for ``name``; a palette colour when nothing matches."""
    lowered = name.lower()
    for keywords, colour in _KEYWORD_COLOURS:
        if any(k in lowered for k in keywords):
            return _hex_to_rgba(colour)
    return _palette_colour(index)


@dataclass(frozen=True)
class ClassMap:
    """Frozen mapping code (1..K; 0 = nodata) <-> name <-> RGBA colour.

    Parameters
    ----------
    codes
        Integer codes of the classes, each in 1..65535, unique.
    names
        Class names, unique, same length as ``codes``.
    colors
        RGBA tuples, same length as ``codes``.
    values
        The original values of the training column, one per class (strings or ints), used
        to translate labels back and forth.

    Raises
    ------
    ClassMapError
        Codes, names, colours and values of different lengths, no class, repeated codes or
        names, or a code outside 1..65535.

    Examples
    --------
    >>> cm = ClassMap.from_values(["water", "forest", "water"])
    >>> cm.codes, cm.names
    ((1, 2), ('forest', 'water'))
    >>> cm.encode(["water", "forest"]).tolist()
    [2, 1]
    """

    codes: tuple[int, ...]
    names: tuple[str, ...]
    colors: tuple[RGBA, ...]
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        n = len(self.codes)
        if not (len(self.names) == len(self.colors) == len(self.values) == n):
            raise ClassMapError("codes, names, colors and values must have the same length")
        if n == 0:
            raise ClassMapError("a class map needs at least one class")
        if len(set(self.codes)) != n:
            raise ClassMapError(f"class codes must be unique, got {list(self.codes)}")
        if len(set(self.names)) != n:
            raise ClassMapError(f"class names must be unique, got {list(self.names)}")
        bad = [c for c in self.codes if not 1 <= int(c) <= MAX_CODE]
        if bad:
            raise ClassMapError(
                f"class codes must be in 1..{MAX_CODE} (0 is nodata), got {bad}; "
                "renumber the classes or use a legend file"
            )

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_values(
        cls, values: Iterable[Any], legend: ClassMap | Mapping[Any, Any] | None = None
    ) -> ClassMap:
        """Build a ClassMap from the values of a class column.

        Strings get codes 1..K in sorted order. Positive integers keep their value as the code
        (so a map uses the same numbers as the user's class column); when any integer is 0 or
        negative, integers are renumbered 1..K in sorted order. A ``legend`` (ClassMap) sets
        names, colours and codes for the values it lists.
        """
        uniq = _unique_values(values)
        if not uniq:
            raise ClassMapError("the class column has no values")
        if all(isinstance(v, int | np.integer) for v in uniq):
            ints = sorted(int(v) for v in uniq)
            codes = ints if all(1 <= v <= MAX_CODE for v in ints) else list(range(1, len(ints) + 1))
            names = [str(v) for v in ints]
            vals: list[Any] = ints
        else:
            vals = sorted(str(v) for v in uniq)
            codes = list(range(1, len(vals) + 1))
            names = list(vals)
        colours = [default_colour(n, i) for i, n in enumerate(names)]
        cmap = cls(tuple(codes), tuple(names), tuple(colours), tuple(vals))
        if legend is not None:
            cmap = cmap.with_legend(legend)
        return cmap

    @classmethod
    def from_codes(cls, codes: Sequence[int], names: Sequence[str] | None = None) -> ClassMap:
        """ClassMap for integer codes (names default to ``"class <code>"``)."""
        codes_t = tuple(int(c) for c in codes)
        names_t = tuple(names) if names is not None else tuple(f"class {c}" for c in codes_t)
        colours = tuple(default_colour(n, i) for i, n in enumerate(names_t))
        return cls(codes_t, names_t, colours, codes_t)

    def with_legend(self, legend: ClassMap | Mapping[Any, Any]) -> ClassMap:
        """Override names/colours/codes from a legend, and take the legend's order.

        Legend entries are matched to classes by name (or original value), then by code.
        Classes the legend does not list keep their defaults and follow the listed ones in
        code order. The result is in the legend's row order (the class order of every band,
        table and report).
        """
        if not isinstance(legend, ClassMap):
            raise ClassMapError("legend must be a ClassMap (see rasterclass.io.read_legend)")
        by_name = {n.lower(): i for i, n in enumerate(legend.names)}
        codes, names, colours = list(self.codes), list(self.names), list(self.colors)
        rank: list[tuple[int, int]] = []
        for k, (value, name) in enumerate(zip(self.values, self.names, strict=True)):
            idx = by_name.get(str(name).lower(), by_name.get(str(value).lower()))
            if idx is None and isinstance(value, int) and value in legend.codes:
                idx = legend.codes.index(value)
            if idx is None:
                logger.info("legend has no entry for class %r: keeping default colour", name)
                rank.append((len(legend), codes[k]))
                continue
            codes[k] = legend.codes[idx]
            names[k] = legend.names[idx]
            colours[k] = legend.colors[idx]
            rank.append((idx, 0))
        order = sorted(range(len(codes)), key=lambda k: rank[k])
        return ClassMap(
            tuple(codes[k] for k in order),
            tuple(names[k] for k in order),
            tuple(colours[k] for k in order),
            tuple(self.values[k] for k in order),
        )

    # --- lookups -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.codes)

    @property
    def dtype(self) -> np.dtype:
        """uint8 when every code fits 1..254, else uint16."""
        return np.dtype(np.uint8 if max(self.codes) <= MAX_UINT8_CODE else np.uint16)

    def name_of(self, code: int) -> str:
        return self.names[self.codes.index(int(code))]

    def code_of(self, name: str) -> int:
        try:
            return self.codes[self.names.index(name)]
        except ValueError:
            raise ClassMapError(
                f"unknown class {name!r}; known classes: {', '.join(self.names)}"
            ) from None

    def encode(self, labels: Iterable[Any]) -> np.ndarray:
        """Translate original column values (or names) to codes."""
        lookup: dict[Any, int] = {}
        for value, name, code in zip(self.values, self.names, self.codes, strict=True):
            lookup[_key(value)] = code
            lookup.setdefault(_key(name), code)
        out = []
        for label in labels:
            try:
                out.append(lookup[_key(label)])
            except KeyError:
                raise ClassMapError(
                    f"label {label!r} is not in the class map ({', '.join(self.names)})"
                ) from None
        return np.asarray(out, dtype=np.int64)

    def lookup_table(self) -> np.ndarray:
        """RGBA table indexed by code (row 0 = nodata, transparent)."""
        table = np.zeros((max(self.codes) + 1, 4), dtype=np.uint8)
        for code, colour in zip(self.codes, self.colors, strict=True):
            table[code] = colour
        return table

    def colormap(self) -> dict[int, RGBA]:
        """Colour table for rasterio ``write_colormap`` (0 = transparent black)."""
        cmap: dict[int, RGBA] = {0: (0, 0, 0, 0)}
        cmap.update(dict(zip(self.codes, self.colors, strict=True)))
        return cmap

    def code_order(self) -> list[int]:
        """Positions of the classes sorted by code (for tables indexed by code)."""
        return sorted(range(len(self.codes)), key=lambda i: self.codes[i])

    def hex_colors(self) -> list[str]:
        return ["#{:02x}{:02x}{:02x}".format(*c[:3]) for c in self.colors]

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "codes": [int(c) for c in self.codes],
            "names": list(self.names),
            "colors": [list(c) for c in self.colors],
            "values": [v if isinstance(v, str) else int(v) for v in self.values],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassMap:
        try:
            return cls(
                tuple(int(c) for c in data["codes"]),
                tuple(str(n) for n in data["names"]),
                tuple(parse_colour(c) for c in data["colors"]),
                tuple(data.get("values", data["codes"])),
            )
        except KeyError as exc:
            raise ClassMapError(f"class map is missing the field {exc}") from None

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            {"code": list(self.codes), "name": list(self.names), "color": self.hex_colors()}
        )


def _key(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _unique_values(values: Iterable[Any]) -> list[Any]:
    seen: dict[Any, None] = {}
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, str) and not v.strip():
            continue
        seen[_key(v)] = None
    return list(seen)
