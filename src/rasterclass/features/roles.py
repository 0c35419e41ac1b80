"""Band roles: which band of a scene is the red, the near infrared, the shortwave infrared...

Spectral indices are written over roles (``(nir - red) / (nir + red)``), scenes name their
bands in many ways (``red``, ``B4``, ``B04``, ``SR_B4``, ``band_4``). A role is found, in
this order, from what the user gives (``bands={"red": "B4"}``, ``--bands red=B4`` on the
command line), from a sensor preset (``bands="landsat-oli"``: the sensor's band numbers, as
``B4``, ``B04``, ``SR_B4``, or by position ``band_4`` in a stack of the preset's reflective
bands), or from the band names themselves (``red``, ``nir``, ``swir1`` and the STAC
``eo:common_name`` spellings ``swir16``, ``swir22``, ``rededge``...). Sentinel-2 is recognised
from its names alone (``B8A`` or zero-padded ``B02``); Landsat band numbers mean different
bands on TM/ETM+ and OLI (``B4`` is near infrared on TM, red on OLI), so Landsat needs its
preset named.

Band numbers of the presets: USGS Landsat Collection 2 product guides (Landsat 4-5 TM,
Landsat 7 ETM+, Landsat 8-9 OLI) and ESA's Sentinel-2 MSI user guide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rasterclass.errors import BandMismatchError, param

#: The roles indices are written over, shortest wavelength first.
ROLES = (
    "coastal",
    "blue",
    "green",
    "red",
    "rededge1",
    "rededge2",
    "rededge3",
    "nir",
    "nir08",
    "swir1",
    "swir2",
)

#: Other spellings of each role in band names (lower case; STAC ``eo:common_name`` too).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "coastal": ("coastal", "aerosol", "coastal_aerosol"),
    "blue": ("blue",),
    "green": ("green",),
    "red": ("red",),
    "rededge1": ("rededge1", "rededge_1", "re1", "rededge071"),
    "rededge2": ("rededge2", "rededge_2", "re2", "rededge075"),
    "rededge3": ("rededge3", "rededge_3", "re3", "rededge078"),
    "nir": ("nir", "nir1", "near_infrared"),
    "nir08": ("nir08", "nir_narrow", "narrow_nir", "nir2"),
    "swir1": ("swir1", "swir_1", "swir16"),
    "swir2": ("swir2", "swir_2", "swir22"),
}

#: Sensor presets: role -> band number (as in the product's file names), and the preset's
#: reflective bands in stacking order (what ``band_<k>`` means for that sensor).
PRESETS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "landsat-tm": (
        {"blue": "1", "green": "2", "red": "3", "nir": "4", "swir1": "5", "swir2": "7"},
        ("1", "2", "3", "4", "5", "7"),
    ),
    "landsat-etm": (
        {"blue": "1", "green": "2", "red": "3", "nir": "4", "swir1": "5", "swir2": "7"},
        ("1", "2", "3", "4", "5", "7"),
    ),
    "landsat-oli": (
        {
            "coastal": "1",
            "blue": "2",
            "green": "3",
            "red": "4",
            "nir": "5",
            "swir1": "6",
            "swir2": "7",
        },
        ("1", "2", "3", "4", "5", "6", "7"),
    ),
    "sentinel-2": (
        {
            "coastal": "1",
            "blue": "2",
            "green": "3",
            "red": "4",
            "rededge1": "5",
            "rededge2": "6",
            "rededge3": "7",
            "nir": "8",
            "nir08": "8A",
            "swir1": "11",
            "swir2": "12",
        },
        ("1", "2", "3", "4", "5", "6", "7", "8", "8A", "9", "11", "12"),
    ),
}

#: Other names of the presets (``landsat-8``, ``s2``...).
PRESET_ALIASES = {
    "landsat-4": "landsat-tm",
    "landsat-5": "landsat-tm",
    "tm": "landsat-tm",
    "landsat-7": "landsat-etm",
    "etm": "landsat-etm",
    "landsat-8": "landsat-oli",
    "landsat-9": "landsat-oli",
    "oli": "landsat-oli",
    "s2": "sentinel-2",
    "sentinel2": "sentinel-2",
    "msi": "sentinel-2",
}

_NUMBERED = re.compile(r"^(?:.*_)?(?:SR_)?B(?:AND)?_?0*(\d+A?)$", re.IGNORECASE)
_POSITION = re.compile(r"^band_(\d+)$")


def preset_name(name: str) -> str:
    """The canonical name of a sensor preset (``landsat-8`` -> ``landsat-oli``)."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    key = PRESET_ALIASES.get(key, key)
    if key not in PRESETS:
        known = sorted([*PRESETS, *PRESET_ALIASES])
        raise BandMismatchError(
            f"unknown sensor preset {name!r} in {param('bands')}; use one of {known} or give "
            "the roles (red=B4,nir=B8)"
        )
    return key


def parse_bands(text: str | Mapping[str, str] | None) -> tuple[str | None, dict[str, str]]:
    """(sensor preset or None, role -> band name) from ``"landsat-oli"``,
    ``"red=B4,nir=B8"`` (both may be combined: ``"sentinel-2,nir=B8A"``) or a mapping.

    Roles are case-insensitive. A role given to two different bands (``"red=B4,red=B3"``,
    or ``{"red": "B4", "RED": "B3"}``), or two different sensors, raise
    :class:`BandMismatchError` naming both: neither silently wins."""
    if text is None:
        return None, {}
    if isinstance(text, Mapping):
        items = [f"{k}={v}" for k, v in text.items()]
    else:
        items = [t.strip() for t in str(text).split(",") if t.strip()]
    sensor: str | None = None
    roles: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            named = preset_name(item)
            if sensor is not None and named != sensor:
                raise BandMismatchError(
                    f"{param('bands')} names two sensors, {sensor} and {named}; name the "
                    "sensor of the scene once"
                )
            sensor = named
            continue
        role, _, band = (s.strip() for s in item.partition("="))
        key = role.lower()
        if key not in ROLES:
            raise BandMismatchError(
                f"unknown band role {role!r} in {param('bands')}; roles are {list(ROLES)}"
            )
        if key in roles and roles[key] != band:
            raise BandMismatchError(
                f"{param('bands')} gives the {key} role twice, to band {roles[key]!r} and to "
                f"band {band!r}; give each role once ({key}={roles[key]} or {key}={band})"
            )
        roles[key] = band
    return sensor, roles


def _by_preset(names: Sequence[str], sensor: str) -> dict[str, str]:
    numbers, stack = PRESETS[sensor]
    number_of: dict[str, str] = {}
    for name in names:
        m = _NUMBERED.match(name)
        if m and not _POSITION.match(name):
            number_of.setdefault(m.group(1).upper(), name)
    if not number_of and all(_POSITION.match(n) for n in names):
        for name in names:
            k = int(_POSITION.match(name).group(1))  # type: ignore[union-attr]
            if k <= len(stack):
                number_of[stack[k - 1]] = name
    return {role: number_of[n] for role, n in numbers.items() if n in number_of}


def _by_name(names: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in names:
        key = name.strip().lower().replace("-", "_").replace(" ", "_")
        for role, spellings in SYNONYMS.items():
            if key in spellings and role not in found:
                found[role] = name
    return found


def _looks_sentinel2(names: Sequence[str]) -> bool:
    return any(re.match(r"^(?:.*_)?B(0\d|8A)$", n, re.IGNORECASE) for n in names)


def band_roles(
    band_names: Sequence[str], bands: str | Mapping[str, str] | None = None
) -> dict[str, str]:
    """The role of each band a scene's band names reveal: role -> band name.

    Parameters
    ----------
    band_names
        The scene's band names (``scene["band"].values``).
    bands
        Roles given by the user and/or a sensor preset: ``{"red": "B4", "nir": "B8"}``,
        ``"red=B4,nir=B8"``, ``"landsat-oli"`` (``landsat-tm``, ``landsat-etm``,
        ``landsat-oli``, ``sentinel-2`` or an alias such as ``landsat-8``, ``s2``), or both
        (``"sentinel-2,nir=B8A"``). Given roles win over the preset, the preset over names.

    Returns
    -------
    dict
        Role (see :data:`ROLES`) -> band name, for every role found.

    Raises
    ------
    BandMismatchError
        An unknown preset or role, a role given to two bands, two sensors, or a given band
        the scene does not have.

    Examples
    --------
    >>> band_roles(["blue", "green", "red", "nir", "swir1", "swir2"])["swir1"]
    'swir1'
    >>> band_roles(["SR_B2", "SR_B3", "SR_B4", "SR_B5"], "landsat-oli")["nir"]
    'SR_B5'
    >>> band_roles(["B02", "B03", "B04", "B08", "B8A"])["nir08"]
    'B8A'
    >>> band_roles(["x1", "x2"], "red=x1,nir=x2")
    {'red': 'x1', 'nir': 'x2'}
    """
    names = [str(n) for n in band_names]
    sensor, given = parse_bands(bands)
    for role, band in given.items():
        if band not in names:
            raise BandMismatchError(
                f"{param('bands')} names band {band!r} as {role}, the scene has no such band "
                f"(its bands: {names})"
            )
    if sensor is None and _looks_sentinel2(names):
        sensor = "sentinel-2"
    found = _by_name(names)
    if sensor is not None:
        found.update(_by_preset(names, sensor))
    found.update(given)
    return found


def require_roles(
    roles: Mapping[str, str],
    needed: Sequence[str],
    band_names: Sequence[str],
    what: str,
    *,
    sensor: str | None = None,
) -> None:
    """Raise :class:`BandMismatchError` naming each role ``what`` needs that is missing.

    ``sensor``: the preset the user named (then the message says which band numbers of that
    sensor the scene lacks, instead of suggesting a preset).
    """
    missing = [r for r in needed if r not in roles]
    if not missing:
        return
    roles_text = ",".join(f"{r}=BAND" for r in missing)
    if sensor is not None:
        numbers = PRESETS[sensor][0]
        absent = [r for r in missing if r not in numbers]
        if absent:
            raise BandMismatchError(
                f"{what} needs the {', '.join(absent)} band(s) and the {sensor} sensor named "
                f"in {param('bands')} has none; leave out what needs them, or give a band for "
                f"each ({param('bands', f'{sensor},{roles_text}')})"
            )
        bands = ", ".join(f"{r} = B{numbers[r]}" for r in missing)
        raise BandMismatchError(
            f"{what} needs the {', '.join(missing)} band(s); the scene's bands "
            f"{[str(b) for b in band_names]} have none of the {sensor} sensor's ({bands}): "
            f"name the bands by the sensor's numbers (B5, B05, SR_B5) or give them, e.g. "
            f"{param('bands', f'{sensor},{roles_text}')}"
        )
    raise BandMismatchError(
        f"{what} needs the {', '.join(missing)} band(s); the scene's bands "
        f"{[str(b) for b in band_names]} do not tell which they are: give them, e.g. "
        f"{param('bands', roles_text)}, or name the sensor "
        f"({param('bands', 'landsat-oli')}; presets: {sorted(PRESETS)})"
    )
