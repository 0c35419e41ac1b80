"""Spectral indices over band roles, lazily, as float32 layers.

Which catalogue, and why: the formulas are a small table here, written in the notation of
the Awesome Spectral Indices catalogue (Montero et al. 2023, Scientific Data 10, 197; the
``spyndex`` package), each with its original citation. ``spyndex`` (0.12) installs with
light dependencies (``python-box``, ``requests``) and its formulas are plain arithmetic that
would evaluate on dask arrays, but it evaluates them as Python source text with ``eval()``
(code taken from a data file that changes with each catalogue release, against our rule that
loading data runs no code), it would be a new run-time dependency of every install for ten
formulas, and its band symbols (``N``, ``R``, ``S1``, ``RE1``) would still need our role
mapping. Should the list grow past a few dozen indices, ``spyndex.indices[NAME].formula`` is
the place to take them from (the names here are its names, lower-cased).

Scale: indices are defined on reflectance (0..1). :func:`rasterclass.open_scene` applies
the files' GDAL scale and offset, so a scene with that metadata is reflectance; the
normalised differences (NDVI, NDWI, MNDWI, NDBI, NBR, NDRE, NDMI, GNDVI) do not depend on
a common scale, but SAVI and EVI do (their constants ``L``, ``C1``, ``C2`` assume
reflectance): a scene stored as reflectance x 10000 without scale metadata (the sample
scene: its ``SCALE_FACTOR`` tag is not GDAL's scale) needs
``FeatureRecipe(reflectance_scale=1e-4)`` (``--reflectance-scale 1e-4``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.errors import BandMismatchError, RadiometryWarning, param
from rasterclass.features.roles import PRESETS, parse_bands


@dataclass(frozen=True)
class SpectralIndex:
    """One index: the roles it needs, its formula over them, its source.

    Attributes
    ----------
    name : str
        The index's name in the Awesome Spectral Indices catalogue, lower case (``"ndvi"``).
    roles : tuple of str
        The band roles it needs; for a normalised difference ``(a - b) / (a + b)``, ``a``
        then ``b``.
    formula : str
        The formula over the roles, as documentation (the code computes it in ``_terms``).
    source : str
        The paper that defines the index.
    """

    name: str
    roles: tuple[str, ...]
    formula: str
    source: str


#: The indices (ASI name, lower case) -> definition.
INDICES: dict[str, SpectralIndex] = {
    s.name: s
    for s in (
        SpectralIndex("ndvi", ("nir", "red"), "(nir - red) / (nir + red)", "Rouse et al. 1974"),
        SpectralIndex("ndwi", ("green", "nir"), "(green - nir) / (green + nir)", "McFeeters 1996"),
        SpectralIndex("mndwi", ("green", "swir1"), "(green - swir1) / (green + swir1)", "Xu 2006"),
        SpectralIndex("ndbi", ("swir1", "nir"), "(swir1 - nir) / (swir1 + nir)", "Zha et al. 2003"),
        SpectralIndex(
            "savi",
            ("nir", "red"),
            "(1 + L) * (nir - red) / (nir + red + L), L = 0.5",
            "Huete 1988",
        ),
        SpectralIndex(
            "evi",
            ("nir", "red", "blue"),
            "G * (nir - red) / (nir + C1 * red - C2 * blue + L), G = 2.5, C1 = 6, C2 = 7.5, L = 1",
            "Huete et al. 2002",
        ),
        SpectralIndex(
            "nbr", ("nir", "swir2"), "(nir - swir2) / (nir + swir2)", "Key & Benson 2006"
        ),
        SpectralIndex(
            "ndre",
            ("nir", "rededge1"),
            "(nir - rededge1) / (nir + rededge1)",
            "Gitelson & Merzlyak 1994 (ASI: NDREI)",
        ),
        SpectralIndex("ndmi", ("nir", "swir1"), "(nir - swir1) / (nir + swir1)", "Gao 1996"),
        SpectralIndex(
            "gndvi", ("nir", "green"), "(nir - green) / (nir + green)", "Gitelson et al. 1996"
        ),
    )
}

_SAVI_L = 0.5
_EVI = {"G": 2.5, "C1": 6.0, "C2": 7.5, "L": 1.0}
#: The indices whose constants assume reflectance (0..1): they depend on the scale.
SCALED = ("savi", "evi")


def _stored_as_integers(layer: xr.DataArray) -> bool:
    """Whether the layer's scene record (``attrs["radiometry"]`` of
    :func:`rasterclass.open_scene`) says integers stored without a scale: digital numbers,
    never reflectance."""
    value = layer.attrs.get("radiometry")
    try:
        records: Any = json.loads(value) if isinstance(value, str) else value
        return any(
            np.issubdtype(np.dtype(r["dtype"]), np.integer) and float(r.get("scale") or 1.0) == 1.0
            for r in records or []
        )
    except (TypeError, ValueError, KeyError):
        return False


def _same_data(a: xr.DataArray, b: xr.DataArray) -> bool:
    """Whether two layers are the same band (one dask graph key, or shared memory)."""
    if isinstance(a.data, da.Array) and isinstance(b.data, da.Array):
        return bool(a.data.name == b.data.name)
    if isinstance(a.data, np.ndarray) and isinstance(b.data, np.ndarray):
        return bool(np.shares_memory(a.data, b.data))
    return False


def _check_distinct(key: str, roles: Mapping[str, xr.DataArray]) -> None:
    """Refuse one band given for two roles of an index (NDVI of nir against itself is 0)."""
    needed = INDICES[key].roles
    for i, first in enumerate(needed):
        for second in needed[i + 1 :]:
            if _same_data(roles[first], roles[second]):
                raise BandMismatchError(
                    f"{key} would take {first} and {second} from the same band; give each "
                    f"role its own band ({param('bands', 'red=B4,nir=B8')})"
                )


def _warn_unscaled(key: str, roles: Mapping[str, xr.DataArray], scale: float) -> None:
    """Warn when SAVI or EVI is computed on integers stored without scale and no
    ``scale`` is given: the values would be wrong (e.g. SAVI about 1.5 x NDVI)."""
    if key in SCALED and scale == 1.0 and any(_stored_as_integers(r) for r in roles.values()):
        warnings.warn(
            RadiometryWarning(
                f"{key} assumes reflectance (0..1), but the scene holds integers with no "
                "scale metadata (e.g. reflectance x 10000): its values will be wrong; "
                f"give the multiplier to reflectance ({param('reflectance_scale', '1e-4')})",
            ),
            stacklevel=3,
        )


def _terms(name: str, r: Mapping[str, xr.DataArray]) -> tuple[xr.DataArray, xr.DataArray]:
    """(numerator, denominator) of an index over role layers."""
    if name == "savi":
        return (1 + _SAVI_L) * (r["nir"] - r["red"]), r["nir"] + r["red"] + _SAVI_L
    if name == "evi":
        g, c1, c2, el = _EVI["G"], _EVI["C1"], _EVI["C2"], _EVI["L"]
        return g * (r["nir"] - r["red"]), r["nir"] + c1 * r["red"] - c2 * r["blue"] + el
    a, b = INDICES[name].roles  # a normalised difference (a - b) / (a + b)
    return r[a] - r[b], r[a] + r[b]


def check_indices(
    names: Sequence[str],
    bands: str | Mapping[str, str] | None = None,
    *,
    option: str = "indices",
) -> list[str]:
    """Lower-cased index names, each known, and each computable on the sensor ``bands`` names.

    ``bands`` as :func:`rasterclass.features.band_roles` takes it: with a sensor preset, an
    index needing a band the sensor does not have (NDRE on Landsat: no red-edge band) is
    refused before any work, unless ``bands`` gives that role a band itself; the message
    lists the indices the sensor can compute. ``option`` is the parameter the messages name
    for the indices (``index`` for a change map). Raises :class:`BandMismatchError`.
    """
    out = [str(n).strip().lower() for n in names]
    unknown = [n for n in out if n not in INDICES]
    if unknown:
        raise BandMismatchError(
            f"unknown spectral index {unknown} in {param(option)}; known: {sorted(INDICES)}"
        )
    sensor, given = parse_bands(bands)
    if sensor is None:
        return out
    have = set(PRESETS[sensor][0]) | set(given)
    for key in out:
        lacking = [r for r in INDICES[key].roles if r not in have]
        if lacking:
            edge = all(r.startswith("rededge") for r in lacking)
            kind = "red-edge" if edge else "/".join(lacking)
            possible = [k for k, index in INDICES.items() if set(index.roles) <= have]
            raise BandMismatchError(
                f"the {sensor} sensor named in {param('bands')} has no {kind} band, which "
                f"{key} needs ({', '.join(lacking)}); leave {key} out of {param(option)}: the "
                f"indices {sensor} can give are {', '.join(possible)}"
            )
    return out


def spectral_index(
    name: str, roles: Mapping[str, xr.DataArray], *, scale: float = 1.0
) -> xr.DataArray:
    """One spectral index from role layers, lazily (dask in, dask out), float32.

    Parameters
    ----------
    name
        An index of :data:`INDICES` (``ndvi``, ``ndwi``, ``mndwi``, ``ndbi``, ``savi``,
        ``evi``, ``nbr``, ``ndre``, ``ndmi``, ``gndvi``; case-insensitive).
    roles
        Role (``red``, ``nir``...) -> ``(y, x)`` layer of reflectance, every role the index
        needs (see ``INDICES[name].roles``).
    scale
        Multiplier bringing the layers to reflectance (``1e-4`` for reflectance x 10000);
        only SAVI and EVI depend on it. They warn (:class:`RadiometryWarning`) when it is
        1 and the layers' ``attrs["radiometry"]`` (see :func:`rasterclass.open_scene`)
        says integers stored without a scale.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` float32 (unitless; computed in float64), named ``name``; NaN where an
        input is NaN or the denominator is 0.

    Raises
    ------
    BandMismatchError
        An unknown index, a role it needs is not in ``roles``, or two of its roles given
        the same band.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> layer = lambda v: xr.DataArray(np.array([v]), dims=("y", "x"))
    >>> ndvi = spectral_index("NDVI", {"red": layer([0.1, 0.0, np.nan]),
    ...                                "nir": layer([0.3, 0.0, 0.2])})
    >>> ndvi.values.round(4).tolist(), str(ndvi.dtype)
    ([[0.5, nan, nan]], 'float32')
    """
    (key,) = check_indices([name])
    missing = [r for r in INDICES[key].roles if r not in roles]
    if missing:
        raise BandMismatchError(
            f"{key} needs the {missing} band(s); give them ({param('bands', 'red=B4,...')})"
        )
    _check_distinct(key, roles)
    _warn_unscaled(key, roles, scale)
    layers = {r: roles[r].astype(np.float64) * scale for r in INDICES[key].roles}
    num, den = _terms(key, layers)
    out = (num / den.where(den != 0)).astype(np.float32)
    return out.rename(key)
