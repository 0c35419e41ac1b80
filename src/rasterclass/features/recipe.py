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
from rasterclass.io import RADIOMETRY_ATTR, as_scene, radiometry_records, scene_radiometry

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
    roles
        Role -> band name on the scene the recipe was resolved on (filled by
        :func:`add_features`; a model keeps it).

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
    roles: Mapping[str, str] | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return bool(self.indices) or bool(self.texture)

    def check(self) -> FeatureRecipe:
        """The recipe with names normalised; raises before any work when a value is bad."""
        parse_bands(self.bands)
        measures = check_texture(self.texture, self.texture_window, self.texture_levels)
        scale = self.reflectance_scale
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
            raise BandMismatchError(
                f"the reflectance scale must be a number > 0, got {scale!r}; set "
                f"{param('reflectance_scale', '1e-4')}"
            )
        return replace(
            self,
            indices=tuple(check_indices(list(self.indices))),
            texture=tuple(measures),
            bands=dict(self.bands) if isinstance(self.bands, Mapping) else self.bands,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what a model file keeps)."""
        out = asdict(self)
        out["indices"], out["texture"] = list(self.indices), list(self.texture)
        if self.texture_range is not None:
            out["texture_range"] = [float(v) for v in self.texture_range]
        if isinstance(self.bands, Mapping):
            out["bands"] = dict(self.bands)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureRecipe:
        """The recipe of :meth:`to_dict` (unknown keys ignored: a newer file)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("indices", "texture"):
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


def _renamed(scene: xr.DataArray, found: dict[str, str], recorded: Mapping[str, str]) -> Any:
    """The scene with each role band named as on the recipe's scene."""
    rename = {found[r]: b for r, b in recorded.items() if r in found and found[r] != b}
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
    logger.info("scene bands renamed by role to the model's names: %s", rename)
    out = scene.assign_coords(band=new)
    records = scene_radiometry(scene)
    if records is not None:
        for rec in records:
            rec["band"] = rename.get(str(rec.get("band")), rec.get("band"))
        out.attrs[RADIOMETRY_ATTR] = json.dumps(records)
    return out


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
        band dimension in one chunk. ``attrs["RASTERCLASS_FEATURES"]`` records the recipe as
        resolved (JSON, with ``roles``).

    Raises
    ------
    BandMismatchError
        A role an index or the texture needs is not found (the message names the role, the
        scene's bands and the ``bands`` option), or an invalid recipe value.

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
    names = [str(n) for n in scene["band"].values]
    found = _locate_roles(names, recipe)
    needed = sorted({r for i in recipe.indices for r in INDICES[i].roles})
    require_roles(found, needed, names, "the indices " + ", ".join(recipe.indices))
    source = _texture_source(recipe, found, names)
    recorded = dict(recipe.roles) if recipe.roles is not None else dict(found)
    scene = _renamed(scene, found, recorded)
    found = {r: recorded.get(r, b) for r, b in found.items()}
    names = [str(n) for n in scene["band"].values]
    resolved = replace(recipe, roles=recorded, texture_band=source)
    resolved = replace(resolved, texture_range=_texture_range(resolved))
    layers, new_names = _derive(scene, resolved, found, names)
    out = scene
    if layers:
        derived = xr.concat(layers, dim="band").assign_coords(band=new_names)
        out = xr.concat([scene, derived.astype(scene.dtype)], dim="band", combine_attrs="override")
        if isinstance(out.data, da.Array):
            out = out.chunk({"band": -1})
        records = scene_radiometry(scene)
        if records is not None:
            k = len(new_names)
            records += radiometry_records(
                new_names, ["float32"] * k, [1.0] * k, [0.0] * k, [None] * k
            )
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
