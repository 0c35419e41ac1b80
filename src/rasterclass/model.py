"""RasterModel: a fitted estimator plus everything needed to apply it to a scene safely."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from rasterclass.classes import ClassMap
from rasterclass.errors import ModelFileError
from rasterclass.estimators.forest_inference import ExactForest, numba_available
from rasterclass.estimators.forest_packing import PACKED_ARRAYS, pack_forest, packable_forest
from rasterclass.io import (
    PathLike,
    check_writable,
    load_model_file,
    read_model_members,
    save_model_file,
)
from rasterclass.stack import legacy_positional_names
from rasterclass.training_pixels import TrainingPixels

logger = logging.getLogger(__name__)

#: How scene bands without descriptions are named when models are trained (recorded in model
#: files: files without it come from a rasterclass that named multiband files' bands after
#: the file).
BAND_NAMING = "position"

_VERSIONED = ("rasterclass", "scikit-learn", "numpy", "rasterio", "skops")


def library_versions() -> dict[str, str]:
    out = {}
    for pkg in _VERSIONED:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover - only in odd installs
            out[pkg] = "unknown"
    return out


#: The statistics of :func:`class_signatures`, per class and band.
SIGNATURE_STATISTICS = ("mean", "std", "min", "q05", "q25", "median", "q75", "q95", "max")


def class_signatures(
    X: np.ndarray, y: np.ndarray, band_names: list[str], class_map: ClassMap
) -> dict[str, Any]:
    """Spectral signatures of the training pixels: per class, per band statistics.

    Kept in the model's training summary (``summary["signatures"]``) so that a report can
    draw each class's mean and spread per band without the training data.

    Parameters
    ----------
    X
        ``(n, bands)`` training values (NaN-free), in ``band_names`` order.
    y
        ``(n,)`` class codes of ``class_map``.
    band_names
        Names of the columns of ``X``.
    class_map
        Codes and names; classes without a pixel are left out.

    Returns
    -------
    dict
        ``{"bands": [...], "statistics": [...], "classes": [{"code", "name", "n", "mean",
        "std", "min", "q05", "q25", "median", "q75", "q95", "max"}, ...]}``: one list of
        floats (one per band, in the values' units) per statistic; ``std`` is the sample
        standard deviation (``ddof=1``; 0 for one pixel); ``qNN`` the NN % quantiles
        (numpy's linear interpolation).

    Examples
    --------
    >>> import numpy as np
    >>> import rasterclass as rc
    >>> sig = class_signatures(np.array([[0.1, 0.5], [0.3, 0.7], [0.8, 0.2]]),
    ...                        np.array([1, 1, 2]), ["red", "nir"],
    ...                        rc.ClassMap.from_codes([1, 2], ["crop", "soil"]))
    >>> sig["classes"][0]["name"], sig["classes"][0]["mean"]
    ('crop', [0.2, 0.6])
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    classes = []
    for code, name in zip(class_map.codes, class_map.names, strict=True):
        values = X[y == code]
        if not len(values):
            continue
        q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(X.shape[1])
        stats = {
            "mean": values.mean(axis=0),
            "std": std,
            "min": values.min(axis=0),
            "q05": q[0],
            "q25": q[1],
            "median": q[2],
            "q75": q[3],
            "q95": q[4],
            "max": values.max(axis=0),
        }
        entry: dict[str, Any] = {"code": int(code), "name": str(name), "n": len(values)}
        entry.update({k: [round(float(v), 10) for v in stats[k]] for k in SIGNATURE_STATISTICS})
        classes.append(entry)
    return {
        "bands": [str(b) for b in band_names],
        "statistics": list(SIGNATURE_STATISTICS),
        "classes": classes,
    }


@dataclass
class RasterModel:
    """A fitted scikit-learn estimator with the band schema and classes it was trained on.

    What :func:`rasterclass.fit_model` returns and :func:`rasterclass.predict_raster`
    applies: the scene's bands are matched to ``band_names`` by name (by position where both
    are unnamed), predictions are translated into ``class_map`` codes, and the file written
    by :meth:`save` (skops format: loading runs no arbitrary code) keeps all of it.

    Parameters
    ----------
    estimator
        Any fitted estimator with ``predict`` (classifier, Pipeline, or clusterer).
    band_names
        Band names in the order the estimator expects its features.
    class_map
        Codes, names and colours of the classes the map will carry.
    crs
        WKT of the training scene's CRS (informative; the model works on any CRS).
    summary
        Training summary: samples and polygons per class, method, parameters, seed.
    versions
        Library versions at training time (default: the running ones).
    labels_are_codes
        The estimator's ``classes_`` are the map codes (default); False for clusterers and
        estimators fitted on other labels (see :meth:`label_codes`).
    training_pixels
        Positions of the training pixels on the training scene's grid; maps written with
        the model carry them so that assessing against training data is recognised.
    radiometry
        How each band of the training scene was stored: records of ``band``, ``dtype``,
        ``scale``, ``offset``, ``nodata`` (see :func:`rasterclass.open_scene`); None for
        models trained on plain arrays or saved by an older rasterclass.
    band_aliases
        Other names of the same bands, matched too (a model file from a rasterclass that
        named the bands of a multiband file after the file: ``scene_2023_1`` is ``band_1``).
    applicability
        The area-of-applicability reference of the training data (JSON-ready, see
        :class:`rasterclass.applicability.ApplicabilityReference`); None for models saved
        by an older rasterclass or fitted outside the training job.
    features
        The derived features the model was trained with (a
        :class:`rasterclass.features.FeatureRecipe` as ``to_dict()``, JSON-ready: indices,
        band roles, texture settings); :func:`rasterclass.predict_raster` derives them on
        the scene it is given. None: the scene's bands only (and models saved by an older
        rasterclass).

    Raises
    ------
    ModelFileError
        From :meth:`load`: not a rasterclass model file, an untrusted type, or missing
        metadata.
    OutputExistsError
        From :meth:`save`: the file exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, xarray as xr
    >>> import rasterclass as rc
    >>> X, y = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 6.0], [6.0, 5.0]]), np.array([1, 1, 2, 2])
    >>> model = rc.RasterModel(rc.MinimumDistanceClassifier().fit(X, y), ["red", "nir"],
    ...                        rc.ClassMap.from_codes([1, 2], ["soil", "crop"]))
    >>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "model.skops")
    >>> model = rc.RasterModel.load(path)
    >>> scene = xr.DataArray(np.array([[[0.0, 6.0]], [[0.0, 6.0]]], dtype="f4"),
    ...                      dims=("band", "y", "x"), coords={"band": ["red", "nir"]})
    >>> rc.predict_raster(scene, model)["classes"].values.tolist()
    [[1, 2]]
    """

    estimator: Any
    band_names: list[str]
    class_map: ClassMap
    crs: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=library_versions)
    labels_are_codes: bool = True
    training_pixels: TrainingPixels | None = None
    radiometry: list[dict[str, Any]] | None = None
    band_aliases: list[str] | None = None
    applicability: dict[str, Any] | None = None
    features: dict[str, Any] | None = None

    def label_codes(self) -> tuple[np.ndarray | None, np.ndarray]:
        """(estimator labels, map codes): how predictions translate into map codes.

        Classifiers: labels are ``classes_`` (sorted), codes from the ClassMap. Clusterers
        (no ``classes_``): labels ``0..k-1`` become codes ``1..k`` (labels is None).
        """
        return label_codes(self)

    def save(self, path: PathLike, *, overwrite: bool = False) -> str:
        """Write the model to a skops file (no arbitrary code runs when it is loaded).

        Parameters
        ----------
        path
            Output file (``.skops``).
        overwrite
            Replace an existing file.

        Returns
        -------
        str
            The path written.

        Raises
        ------
        OutputExistsError
            ``path`` exists and ``overwrite`` is False.
        OutputCollisionError
            ``path`` is an input of the run.
        ModelFileError, RasterclassIOError
            A model loaded with ``fast_forest``: its file changed or is gone (the forest
            it saves is read from there).
        """
        check_writable([path], overwrite)  # before reading a packed forest's file
        metadata = {
            "band_names": list(self.band_names),
            "class_map": self.class_map.to_dict(),
            "crs": self.crs,
            "summary": self.summary,
            "versions": self.versions,
            "labels_are_codes": self.labels_are_codes,
            "radiometry": self.radiometry,
            "band_aliases": self.band_aliases,
            "band_naming": BAND_NAMING,
        }
        if self.applicability is not None:
            metadata["applicability"] = self.applicability
        if self.features:
            metadata["features"] = self.features
        if self.training_pixels is not None:
            metadata["training_pixels"] = self.training_pixels.encode()
        # a bare forest is also kept packed, so that predicting loads neither skops nor
        # scikit-learn (see load's fast_forest); not with classes that are Python objects
        # (strings from pandas: no plain array holds them)
        estimator = self.estimator
        if isinstance(estimator, ExactForest) and estimator.prefix is None:
            estimator = estimator.forest  # loaded packed (fast_forest): the forest of its file
        found = packable_forest(estimator)
        arrays = pack_forest(found[1]) if found is not None and found[0] is None else None
        if arrays is not None and arrays["classes"].dtype.kind == "O":
            arrays = None
        return save_model_file(estimator, metadata, path, overwrite=overwrite, arrays=arrays)

    @classmethod
    def load(cls, path: PathLike, *, fast_forest: bool = False) -> RasterModel:
        """Read a model written by :meth:`save`.

        Only types of trusted packages (scikit-learn, numpy, scipy, rasterclass) are
        loaded.

        Parameters
        ----------
        path
            A ``.skops`` model file.
        fast_forest
            For prediction: when the file holds a random forest or extra trees packed by
            :meth:`save` and numba is installed, ``estimator`` is the
            :class:`~rasterclass.estimators.forest_inference.ExactForest` built from the
            packed trees (the same labels and probabilities, bit for bit), and neither
            skops nor scikit-learn is imported or the forest object loaded until an input
            needs it (NaN or infinite values): about a second less per run. The metadata
            is then read from the file's JSON member, not from the skops payload's copy
            (:meth:`save` writes both from one record, in one atomic write). Otherwise
            (other models, files from an older rasterclass) the same as False.

        Returns
        -------
        RasterModel

        Raises
        ------
        RasterclassIOError
            The file does not exist or cannot be read.
        ModelFileError
            Not a rasterclass model file, an untrusted type, missing metadata, or (with
            ``fast_forest``) packed trees that do not describe one forest.
        """
        packed = _packed_forest(path) if fast_forest else None
        if packed is not None:
            estimator, meta = packed
        else:
            estimator, meta = load_model_file(path)
        try:
            model = cls(
                estimator=estimator,
                band_names=list(meta["band_names"]),
                class_map=ClassMap.from_dict(meta["class_map"]),
                crs=meta.get("crs"),
                summary=meta.get("summary", {}),
                versions=meta.get("versions", {}),
                labels_are_codes=bool(meta.get("labels_are_codes", True)),
                training_pixels=(
                    TrainingPixels.decode(meta["training_pixels"])
                    if meta.get("training_pixels")
                    else None
                ),
                radiometry=meta.get("radiometry"),
                band_aliases=meta.get("band_aliases"),
                applicability=meta.get("applicability"),
                features=meta.get("features"),
            )
        except KeyError as exc:
            raise ModelFileError(f"model file {path} lacks {exc}; re-train the model") from None
        except (TypeError, AttributeError) as exc:  # a field of the wrong type
            raise ModelFileError(
                f"model file {path} has damaged metadata ({exc}); re-train the model"
            ) from None
        if "band_naming" not in meta and model.band_aliases is None:
            model.band_aliases = legacy_positional_names(model.band_names)
            if model.band_aliases is not None:
                logger.info(
                    "model %s names bands after its training file (older rasterclass); its "
                    "bands also match by position as %s",
                    path,
                    model.band_aliases,
                )
        now = library_versions()
        for pkg in ("scikit-learn", "numpy"):
            then = model.versions.get(pkg)
            if then and then != now[pkg]:
                logger.warning(
                    "model %s was trained with %s %s, this is %s %s: predictions may differ",
                    path,
                    pkg,
                    then,
                    pkg,
                    now[pkg],
                )
        return model


class _ForestOfFile:
    """Loads the scikit-learn forest of a model file when a packed forest needs it
    (picklable: sent with the packed forest to a cluster's workers, so by absolute path)."""

    def __init__(self, path: str):
        self.path = path

    def __call__(self) -> Any:
        logger.info("loading the forest of %s for inputs with NaN or infinite values", self.path)
        estimator, _ = load_model_file(self.path)
        return estimator


def _packed_forest(path: PathLike) -> tuple[ExactForest, dict[str, Any]] | None:
    """The packed forest of a model file and its metadata, or None (see
    :meth:`RasterModel.load`'s ``fast_forest``)."""
    found = read_model_members(path, PACKED_ARRAYS)
    if found is None or set(found[1]) != set(PACKED_ARRAYS) or not numba_available():
        return None
    metadata, arrays = found
    try:
        forest = ExactForest.from_packed(arrays, _ForestOfFile(os.path.abspath(path)))
    except ValueError as exc:
        raise ModelFileError(
            f"model file {path} holds a damaged forest ({exc}); re-train"
        ) from None
    names = metadata.get("band_names")
    if isinstance(names, list) and len(names) != forest.n_features_in_:
        raise ModelFileError(
            f"model file {path} holds a damaged forest (it takes {forest.n_features_in_} "
            f"features, the file names {len(names)} bands); re-train"
        )
    return forest, metadata


def label_codes(
    model: RasterModel | Any, class_map: ClassMap | None = None
) -> tuple[np.ndarray | None, np.ndarray]:
    """(estimator labels, map codes) of a :class:`RasterModel` or of a plain estimator.

    A RasterModel trained on codes (``labels_are_codes``) predicts its codes; otherwise a
    classifier's ``classes_`` are encoded through the class map (the model's, else
    ``class_map``, else :func:`class_map_for`), and a clusterer (no ``classes_``) has labels
    None: label ``i`` is the ``i``-th code of the class map. :func:`codes_of` applies the
    result to predictions.
    """
    cmap: ClassMap | None
    if isinstance(model, RasterModel):
        estimator, cmap = model.estimator, model.class_map
        if model.labels_are_codes and hasattr(estimator, "classes_"):
            labels = np.asarray(estimator.classes_)
            return labels, labels.astype(np.int64)
    else:
        estimator, cmap = model, class_map
    if cmap is None:
        cmap = class_map_for(estimator)
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return None, np.asarray(cmap.codes, dtype=np.int64)
    return np.asarray(classes), cmap.encode(list(classes))


def codes_of(predicted: np.ndarray, labels: np.ndarray | None, codes: np.ndarray) -> np.ndarray:
    """Map codes of an estimator's predictions, through :func:`label_codes`'s ``(labels,
    codes)``: the code of the predicted label (sorted ``labels``), or of the predicted
    cluster index when ``labels`` is None. Pixels and segments are translated here alike."""
    if labels is None:
        idx = predicted.astype(np.int64)
    else:
        idx = np.clip(np.searchsorted(labels, predicted), 0, len(labels) - 1)
    return codes[idx]


def probability_order(codes: np.ndarray, class_map: ClassMap) -> np.ndarray:
    """Columns of ``predict_proba`` in the class map's order (the order of the bands).

    ``codes[j]`` is the map code of the estimator's ``j``-th class (its ``classes_`` order);
    the result lists, for every class of ``class_map`` the estimator knows, in class-map
    order (legend order, else code order), the column holding its probability.
    """
    column = {int(c): j for j, c in enumerate(np.asarray(codes).tolist())}
    return np.array([column[c] for c in class_map.codes if c in column], dtype=np.int64)


def class_map_for(estimator: Any) -> ClassMap:
    """A default ClassMap for a fitted estimator (classifier labels, or clusters 1..k)."""
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        return ClassMap.from_values(list(classes))
    n = getattr(estimator, "n_clusters_", None) or getattr(estimator, "n_clusters", None)
    centres = getattr(estimator, "cluster_centers_", None)
    if centres is not None:
        n = len(centres)
    if not n:
        from rasterclass.errors import EstimatorError

        raise EstimatorError(
            "cannot tell the classes of this estimator (no classes_ nor cluster_centers_); "
            "pass class_map="
        )
    return ClassMap.from_codes(range(1, int(n) + 1), [f"cluster {i}" for i in range(1, n + 1)])
