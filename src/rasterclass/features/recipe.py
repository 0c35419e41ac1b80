"""The feature recipe: which derived features (indices, texture) a scene gets, and how.

:class:`FeatureRecipe` says what to derive; :func:`add_features` appends the derived layers
to a scene, lazily, and records the recipe as it resolved on that scene (the band of each
role, the texture band and range) in ``scene.attrs["RASTERCLASS_FEATURES"]``. A model
trained on such a scene keeps that record (``RasterModel.features``), so that applying it to
another scene derives the same features there, finding each role again on that scene (by its
names, its sensor preset or the ``bands`` given then) and renaming the role bands to the
training scene's names, so that the model's own bands match too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import dask.array as da
import xarray as xr

from rasterclass.errors import BandMismatchError, param
from rasterclass.features.indices import INDICES, check_indices, spectral_index
from rasterclass.features.roles import ROLES, band_roles, parse_bands, require_roles
from rasterclass.features.texture import check_texture, texture
from rasterclass.io import (
    RADIOMETRY_ATTR,
    as_scene,
    radiometry_records,
    rename_bands,
    scene_radiometry,
)
from rasterclass.temporal import DATE_SEP, difference, split_name

logger = logging.getLogger(__name__)

#: Scene attribute holding the recipe as it resolved on the scene (JSON).
FEATURES_ATTR = "RASTERCLASS_FEATURES"


@dataclass(frozen=True)
class FeatureRecipe:
    """Derived features to add to a scene: spectral indices and texture.

    Parameters
    ----------
    indices
        Spectral indices (see :data:`rasterclass.features.INDICES`: ``ndvi``, ``ndwi``,
        ``mndwi``, ``ndbi``, ``savi``, ``evi``, ``nbr``, ``ndre``, ``ndmi``, ``gndvi``), each
        a band named after it.
    bands
        Band roles and/or a sensor preset (see :func:`rasterclass.features.band_roles`):
        ``"red=B4,nir=B8"``, ``{"red": "B4"}``, ``"landsat-oli"``. Default: from the names.
    texture
        Texture measures (``mean``, ``variance``, ``glcm_contrast``, ``glcm_homogeneity``,
        ``glcm_dissimilarity``) of ``texture_band``, each a band named
        ``<texture_band>_<measure>_<w>x<w>``.
    texture_window
        Window side in pixels (odd, >= 3).
    texture_band
        The layer texture is measured on: a role (``nir``), an index of ``indices`` or a band
        name. Default: the ``nir`` role, else the first band.
    texture_levels
        GLCM grey levels.
    texture_range
        ``(low, high)`` of the GLCM quantisation in the texture layer's units. Default:
        ``(-1, 1)`` for an index, ``(0, 1 / reflectance_scale)`` for a band.
    reflectance_scale
        Multiplier bringing the scene to reflectance for SAVI and EVI (``1e-4`` for
        reflectance x 10000 without scale metadata; see :mod:`rasterclass.features.indices`).
    differences
        On a multi-date stack (bands ``<band>@<date>``): layers (an index of ``indices``, a
        texture band or a band name without its date) differenced between the last and the
        first date, each a band ``d<layer>`` (``dndvi`` = ``ndvi@<last> - ndvi@<first>``,
        see :func:`rasterclass.temporal.difference`). With more than two dates still last
        minus first (the change over the whole stack; no consecutive differences), so that
        the bands of a model do not depend on how many dates lie between.
    roles
        Role -> band name on the scene the recipe was resolved on (filled by
        :func:`add_features`; a model keeps it). On a multi-date stack: the band names
        without their dates.

    Raises
    ------
    BandMismatchError
        From :meth:`check` and :func:`add_features`: an unknown index, measure, role or
        preset, an invalid window, levels or range.

    Examples
    --------
    >>> recipe = FeatureRecipe(indices=("NDVI",), texture=("variance",), texture_window=3)
    >>> FeatureRecipe.from_dict(recipe.to_dict()) == recipe
    True
    """

    indices: Sequence[str] = ()
    bands: str | Mapping[str, str] | None = None
    texture: Sequence[str] = ()
    texture_window: int = 5
    texture_band: str | None = None
    texture_levels: int = 32
    texture_range: tuple[float, float] | None = None
    reflectance_scale: float = 1.0
    differences: Sequence[str] = ()
    roles: Mapping[str, str] | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return bool(self.indices) or bool(self.texture) or bool(self.differences)

    def check(self) -> FeatureRecipe:
        """The recipe with names normalised; raises before any work when a value is bad
        (an index the sensor named in ``bands`` cannot give, see
        :func:`rasterclass.features.indices.check_indices`)."""
        measures = check_texture(self.texture, self.texture_window, self.texture_levels)
        scale = self.reflectance_scale
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
            raise BandMismatchError(
                f"the reflectance scale must be a number > 0, got {scale!r}; set "
                f"{param('reflectance_scale', '1e-4')}"
            )
        return replace(
            self,
            indices=tuple(check_indices(list(self.indices), self.bands)),
            differences=tuple(
                d.strip().lower() if d.strip().lower() in INDICES else d.strip()
                for d in self.differences
            ),
            texture=tuple(measures),
            bands=dict(self.bands) if isinstance(self.bands, Mapping) else self.bands,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what a model file keeps)."""
        out = asdict(self)
        out["indices"], out["texture"] = list(self.indices), list(self.texture)
        out["differences"] = list(self.differences)
        if self.texture_range is not None:
            out["texture_range"] = [float(v) for v in self.texture_range]
        if isinstance(self.bands, Mapping):
            out["bands"] = dict(self.bands)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureRecipe:
        """The recipe of :meth:`to_dict` (unknown keys ignored: a newer file)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("indices", "texture", "differences"):
            known[key] = tuple(known.get(key) or ())
        if known.get("texture_range") is not None:
            known["texture_range"] = tuple(known["texture_range"])
        return cls(**known)

    def names(self) -> list[str]:
        """The names of the derived bands, in the order they are added."""
        w = self.texture_window
        src = self.texture_band or "nir"
        return [*self.indices, *(f"{src}_{m}_{w}x{w}" for m in self.texture)]


def scene_features(scene: xr.DataArray) -> dict[str, Any] | None:
    """The recipe :func:`add_features` recorded on a scene (JSON-ready), or None."""
    value = scene.attrs.get(FEATURES_ATTR)
    return json.loads(value) if isinstance(value, str) else None


def _locate_roles(names: list[str], recipe: FeatureRecipe) -> dict[str, str]:
    """Role -> band of this scene: found here (given bands, preset, names), else the
    band the recipe recorded for it when this scene has a band of that name."""
    try:
        found = band_roles(names, recipe.bands)
    except BandMismatchError:
        if recipe.roles is None:
            raise
        sensor, _ = parse_bands(recipe.bands)  # given bands of the training scene: not here
        found = band_roles(names, sensor)
    for role, band in (recipe.roles or {}).items():
        if role not in found and band in names:
            found[role] = band
    return found


def _renamed(scene: xr.DataArray, rename: Mapping[str, str]) -> Any:
    """The scene with its bands renamed (``rename``: old -> new name), radiometry too."""
    if not rename:
        return scene
    names = [str(n) for n in scene["band"].values]
    new = [rename.get(n, n) for n in names]
    if len(set(new)) != len(new):
        raise BandMismatchError(
            f"naming the scene's bands {names} by role as on the training scene ({rename}) "
            f"gives duplicate names; leave out the bands the model was not trained on, or "
            f"name the bands ({param('band_names')})"
        )
    logger.info("scene bands renamed by role to the model's names: %s", dict(rename))
    return rename_bands(scene, new)


def _resolve(
    scene: xr.DataArray, recipe: FeatureRecipe
) -> tuple[FeatureRecipe, dict[str, str], list[xr.DataArray], list[str]]:
    """On a scene of one date: the recipe as resolved there, the renaming of its role
    bands to the recorded names, and the derived layers with their names."""
    names = [str(n) for n in scene["band"].values]
    found = _locate_roles(names, recipe)
    needed = sorted({r for i in recipe.indices for r in INDICES[i].roles})
    sensor, _ = parse_bands(recipe.bands)
    require_roles(found, needed, names, "the indices " + ", ".join(recipe.indices), sensor=sensor)
    source = _texture_source(recipe, found, names)
    recorded = dict(recipe.roles) if recipe.roles is not None else dict(found)
    rename = {found[r]: b for r, b in recorded.items() if r in found and found[r] != b}
    scene = _renamed(scene, rename)
    found = {r: recorded.get(r, b) for r, b in found.items()}
    names = [str(n) for n in scene["band"].values]
    resolved = replace(recipe, roles=recorded, texture_band=source)
    resolved = replace(resolved, texture_range=_texture_range(resolved))
    layers, new_names = _derive(scene, resolved, found, names)
    return resolved, rename, layers, new_names


def _dated(scene: xr.DataArray, recipe: FeatureRecipe) -> Any:
    """``_resolve`` on each date of a multi-date stack: derived bands ``<name>@<date>``,
    then the differences ``d<name>`` (last date minus first)."""
    names = [str(n) for n in scene["band"].values]
    per_date: dict[Any, tuple[str, list[int], list[str]]] = {}
    for i, name in enumerate(names):
        band, date = split_name(name)
        if date is not None:
            label = name.rpartition(DATE_SEP)[2]
            per_date.setdefault(date, (label, [], []))[1].append(i)
            per_date[date][2].append(band)
    rename: dict[str, str] = {}
    layers: list[xr.DataArray] = []
    new_names: list[str] = []
    for date in sorted(per_date):
        label, idx, bands = per_date[date]
        one = scene.isel(band=idx).assign_coords(band=bands)
        recipe, renamed, derived, new = _resolve(one, recipe)
        rename.update(
            {f"{b}{DATE_SEP}{label}": f"{n}{DATE_SEP}{label}" for b, n in renamed.items()}
        )
        layers += derived
        new_names += [f"{n}{DATE_SEP}{label}" for n in new]
    scene = _renamed(scene, rename)
    todo = [d for d in recipe.differences if f"d{d}" not in names]
    if todo:
        first, last = (per_date[d][0] for d in (min(per_date), max(per_date)))
        have = [str(n) for n in scene["band"].values] + new_names
        missing = [
            d for d in todo if not {f"{d}{DATE_SEP}{first}", f"{d}{DATE_SEP}{last}"} <= set(have)
        ]
        if len(per_date) < 2 or missing:
            raise BandMismatchError(
                f"the difference features {missing or todo} need the layer at the first and "
                f"the last of two or more dates (the stack's dates: "
                f"{[v[0] for v in per_date.values()]}); difference an index of "
                f"{param('indices')} or a band, in {param('differences', 'ndvi')}"
            )
        diff = difference(_with_layers(scene, layers, new_names), first, last, bands=todo)
        layers += [diff.isel(band=i, drop=True) for i in range(len(todo))]
        new_names += [f"d{d}" for d in todo]
    return scene, recipe, layers, new_names


def _with_layers(scene: xr.DataArray, layers: list[xr.DataArray], names: list[str]) -> Any:
    """The scene with the derived layers as extra bands (band dimension in one chunk)."""
    if not layers:
        return scene
    derived = xr.concat(layers, dim="band").assign_coords(band=names)
    out = xr.concat([scene, derived.astype(scene.dtype)], dim="band", combine_attrs="override")
    return out.chunk({"band": -1}) if isinstance(out.data, da.Array) else out


def add_features(
    scene: xr.DataArray, recipe: FeatureRecipe | Mapping[str, Any] | None
) -> xr.DataArray:
    """The scene with its derived features (spectral indices, texture) as extra bands.

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene (see :func:`rasterclass.as_scene`), lazy or in memory.
    recipe
        What to derive (a :class:`FeatureRecipe`, or its ``to_dict()`` as a model keeps
        it); None or an empty recipe returns the scene as it is. Derived bands the scene
        already has (by name) are not derived again.

    Returns
    -------
    xarray.DataArray
        The scene's bands, then one band per index (float32 values, NaN where an input is
        nodata or the denominator 0) and per texture measure; lazy when the scene is, the
        band dimension in one chunk. On a multi-date stack (bands ``<band>@<date>``, see
        :func:`rasterclass.io.open_dates`) the roles are found on the band names without
        their dates and each derived band is computed per date (``ndvi@2024-06-12``,
        earliest date first), then the ``differences`` (``dndvi``: last date minus first).
        ``attrs["RASTERCLASS_FEATURES"]`` records the recipe as resolved (JSON, with
        ``roles``).

    Raises
    ------
    BandMismatchError
        A role an index or the texture needs is not found (the message names the role, the
        scene's bands and the ``bands`` option), an invalid recipe value, or
        ``differences`` on a scene without two dates or of a layer not at both.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scene = xr.DataArray(np.array([[[0.1, 0.2]], [[0.3, 0.2]]], dtype="f4"),
    ...                      dims=("band", "y", "x"), coords={"band": ["red", "nir"]})
    >>> out = add_features(scene, FeatureRecipe(indices=("ndvi",)))
    >>> [str(b) for b in out["band"].values], out.sel(band="ndvi").values.round(3).tolist()
    (['red', 'nir', 'ndvi'], [[0.5, 0.0]])
    """
    if recipe is None:
        return scene
    if isinstance(recipe, Mapping):
        recipe = FeatureRecipe.from_dict(recipe)
    recipe = recipe.check()
    scene = as_scene(scene)
    if not recipe:
        return scene
    dated = any(split_name(str(n))[1] is not None for n in scene["band"].values)
    if dated:
        scene, resolved, layers, new_names = _dated(scene, recipe)
    else:
        if recipe.differences:
            raise BandMismatchError(
                f"difference features ({param('differences', ','.join(recipe.differences))}) "
                f"need a multi-date stack: give one scene file per date with "
                f"{param('dates')} per file, or {param('multi_date', True)}"
            )
        resolved, rename, layers, new_names = _resolve(scene, recipe)
        scene = _renamed(scene, rename)
    out = _with_layers(scene, layers, new_names)
    records = scene_radiometry(scene)
    if layers and records is not None:
        k = len(new_names)
        records += radiometry_records(new_names, ["float32"] * k, [1.0] * k, [0.0] * k, [None] * k)
        out.attrs[RADIOMETRY_ATTR] = json.dumps(records)
    out.attrs[FEATURES_ATTR] = json.dumps(resolved.to_dict())
    return out


def _texture_source(recipe: FeatureRecipe, found: Mapping[str, str], names: list[str]) -> str:
    """The texture layer's name: a role, an index or a band (default: nir, else band 1)."""
    spec = recipe.texture_band
    if not recipe.texture:
        return spec or "nir"
    if spec is None:
        spec = "nir" if "nir" in found else names[0]
    if spec in found or spec in recipe.indices or spec in names:
        return spec
    if spec in INDICES:
        raise BandMismatchError(
            f"the texture layer {spec!r} is an index the recipe does not compute; add it to "
            f"{param('indices', spec)}"
        )
    if spec in ROLES:
        require_roles(found, [spec], names, "the texture")
    raise BandMismatchError(
        f"the texture layer {spec!r} is neither a band role, an index of the recipe nor a "
        f"band of the scene ({names}); set {param('texture_band', 'nir')}"
    )


def _texture_range(recipe: FeatureRecipe) -> tuple[float, float]:
    if recipe.texture_range is not None:
        return (float(recipe.texture_range[0]), float(recipe.texture_range[1]))
    if recipe.texture_band in INDICES:
        return (-1.0, 1.0)
    return (0.0, 1.0 / float(recipe.reflectance_scale))


def _derive(
    scene: xr.DataArray, recipe: FeatureRecipe, found: Mapping[str, str], names: list[str]
) -> tuple[list[xr.DataArray], list[str]]:
    """The derived layers the scene does not have yet, and their names."""
    layers: list[xr.DataArray] = []
    new: list[str] = []
    role_layers = {r: scene.sel(band=b, drop=True) for r, b in found.items() if b in names}
    indices: dict[str, xr.DataArray] = {}
    for name in recipe.indices:
        if name in names:
            logger.info("the scene has a band %r already: not derived again", name)
            continue
        indices[name] = spectral_index(name, role_layers, scale=recipe.reflectance_scale)
        layers.append(indices[name].drop_vars("band", errors="ignore"))
        new.append(name)
    todo = [
        (m, n)
        for m, n in zip(recipe.texture, recipe.names()[len(recipe.indices) :], strict=True)
        if n not in names
    ]
    if todo:
        src = str(recipe.texture_band)
        if src in indices:
            layer = indices[src]
        else:
            layer = role_layers[src] if src in role_layers else scene.sel(band=src, drop=True)
        lo, hi = recipe.texture_range or (0.0, 1.0)
        tex = texture(
            layer,
            [m for m, _ in todo],
            recipe.texture_window,
            levels=recipe.texture_levels,
            value_range=(lo, hi),
        )
        for i, (_, n) in enumerate(todo):
            layers.append(tex.isel(band=i, drop=True))
            new.append(n)
    return layers, new
