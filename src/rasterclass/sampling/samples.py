"""The :class:`Samples` container: training pixels with their class, polygon and position.

:class:`Samples` holds what :func:`rasterclass.sampling.extract_samples` returns: pixel
values, class codes, the polygon (group) of every pixel for validation by polygon, pixel
positions, the class map, the training footprint and the scene's radiometry, with counts per
class, subsets, a seeded cap per class and a summary for the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rasterclass.classes import ClassMap
from rasterclass.training_pixels import TrainingPixels


@dataclass
class Samples:
    """Training pixels.

    Parameters
    ----------
    X : ndarray (n, bands)
        Pixel values in the scene's band order.
    y : ndarray (n,)
        Class codes (see ``class_map``).
    groups : ndarray (n,)
        Id of the polygon each pixel comes from: the row number in the vector file (from
        0), or, when the file holds multi-part features, the number of the part (every
        part of a multipolygon is a polygon of its own for validation). Each pixel appears
        once: pixels under polygons of different classes are dropped (counted in
        ``info["contested_pixels"]``), a pixel under several polygons of one class belongs
        to the first of them.
    rows, cols : ndarray (n,)
        Pixel position in the scene.
    band_names : list of str
    class_map : ClassMap
    footprint : TrainingPixels, optional
        Every valid pixel under the geometries (before any cap per class), on the scene's
        grid: what a model keeps to recognise its training data later (see
        :mod:`rasterclass.training_pixels`).
    info : dict
        What the extraction did (recorded in the model summary).
    radiometry : list of dict or None
        How each band of the scene was stored (see :func:`rasterclass.open_scene`); the
        model keeps it to warn when a scene to classify is stored differently.

    Examples
    --------
    >>> import numpy as np
    >>> import rasterclass as rc
    >>> samples = rc.Samples(X=np.array([[0.1, 0.4], [0.3, 0.2]]), y=np.array([1, 2]),
    ...                      groups=np.array([0, 1]), rows=np.array([0, 0]),
    ...                      cols=np.array([0, 1]), band_names=["red", "nir"],
    ...                      class_map=rc.ClassMap.from_codes([1, 2], ["soil", "crop"]))
    >>> len(samples), samples.counts()["name"].tolist()
    (2, ['soil', 'crop'])
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    band_names: list[str]
    class_map: ClassMap
    info: dict[str, Any] = field(default_factory=dict)
    footprint: TrainingPixels | None = None
    radiometry: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.y)

    def counts(self) -> pd.DataFrame:
        """Pixels and polygons per class."""
        frame = pd.DataFrame({"code": self.y, "polygon": self.groups})
        agg = frame.groupby("code").agg(pixels=("code", "size"), polygons=("polygon", "nunique"))
        agg = agg.reindex(list(self.class_map.codes), fill_value=0)
        agg.insert(0, "name", [self.class_map.name_of(c) for c in agg.index])
        return agg

    def subset(self, index: np.ndarray) -> Samples:
        return Samples(
            self.X[index],
            self.y[index],
            self.groups[index],
            self.rows[index],
            self.cols[index],
            list(self.band_names),
            self.class_map,
            dict(self.info),
            self.footprint,
            self.radiometry,
        )

    def cap_per_class(self, max_per_class: int, seed: int = 0) -> Samples:
        """At most ``max_per_class`` pixels per class, drawn at random (seeded)."""
        rng = np.random.default_rng(seed)
        keep = []
        for code in np.unique(self.y):
            idx = np.flatnonzero(self.y == code)
            if len(idx) > max_per_class:
                idx = np.sort(rng.choice(idx, size=max_per_class, replace=False))
            keep.append(idx)
        return self.subset(np.sort(np.concatenate(keep)))

    def summary(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "n_samples": len(self),
            "n_polygons": len(np.unique(self.groups)),
            "per_class": {
                str(r.name): {"pixels": int(r.pixels), "polygons": int(r.polygons)}
                for r in counts.itertuples()
            },
            # what the extraction reported (counts, merged or contested pixels), without the
            # per-sample arrays some extractions keep there (segment ids): a JSON-ready summary
            **{k: v for k, v in self.info.items() if not isinstance(v, np.ndarray)},
        }
