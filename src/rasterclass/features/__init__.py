"""Derived features of a scene: band roles, spectral indices and texture, lazily.

Modules: :mod:`.roles` (which band is red, nir...: sensor presets, names, given roles),
:mod:`.indices` (the index formulas, with their sources, and why a table and not
``spyndex``), :mod:`.texture` (moving-window mean, variance and GLCM measures, chunk
invariant) and :mod:`.recipe` (:class:`FeatureRecipe` and :func:`add_features`: what a model
was trained with, derived again on the scenes it is applied to).

Works on scene DataArrays only (nothing opened or written here): it sits beside
:mod:`rasterclass.io` in the layers, below the model, the apply and the jobs that use it.
"""

from rasterclass.features.indices import INDICES, spectral_index
from rasterclass.features.recipe import (
    FEATURES_ATTR,
    FeatureRecipe,
    add_features,
    scene_features,
)
from rasterclass.features.roles import PRESETS, ROLES, band_roles
from rasterclass.features.texture import MEASURES, texture

__all__ = [
    "FEATURES_ATTR",
    "INDICES",
    "MEASURES",
    "PRESETS",
    "ROLES",
    "FeatureRecipe",
    "add_features",
    "band_roles",
    "scene_features",
    "spectral_index",
    "texture",
]
