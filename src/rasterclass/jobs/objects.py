"""Object-based classification steps: train on segments, and classify another scene's.

Owns the object-based steps of :func:`rasterclass.classify`: its settings
(:class:`ObjectOptions`) and the training on segments (:func:`train_objects`: segment,
describe, label, fit, cross-validate); and what an object-based model needs to classify
another scene: the segmentation it records
(:class:`SegmentationRecord`), its checks (:func:`check_object_prediction`) and the steps
shared by :func:`rasterclass.classify` and :func:`rasterclass.predict`
(:func:`predict_objects`: segment, describe; :func:`paint_objects`: classify, paint).
"""

from __future__ import annotations

import ast
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import xarray as xr

from rasterclass._json import jsonable
from rasterclass.errors import (
    ModelFileError,
    OptionConflictError,
    SegmentationError,
    TrainingDataError,
    param,
)
from rasterclass.features import scene_features
from rasterclass.io import (
    PathLike,
    check_radiometry,
    read_legend,
)
from rasterclass.jobs.options import RunResult, TrainingOptions
from rasterclass.jobs.scene import align_dates
from rasterclass.jobs.segmentation import resolve_segments
from rasterclass.jobs.training import fit_and_validate
from rasterclass.model import RasterModel
from rasterclass.objects._blocks import dask_scene
from rasterclass.objects.features import segment_features
from rasterclass.objects.labels import (
    classify_segments,
    label_segments,
    paint_map,
)
from rasterclass.objects.segmentation import check_segment_params
from rasterclass.stack import match_bands

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectOptions:
    """Object-based classification: how the scene is cut into segments and how a training
    class labels a segment (for :func:`rasterclass.classify` ``objects=``).

    The scene is segmented (or ``segments`` is used), each segment is described by its
    features (band statistics, size, shape: :func:`rasterclass.segment_features`), the
    segments under the training data are labelled (:func:`rasterclass.label_segments`), one
    sample per segment, and the classifier predicts every segment (Blaschke 2010, "Object
    based image analysis for remote sensing", ISPRS J. Photogramm. 65(1): 2-16).

    Parameters
    ----------
    segments
        A segment raster (path, or a DataArray on the scene's grid; uint32 ids, 0 = nodata)
        to use instead of segmenting; masked by the scene's nodata.
    segment_method, segment_params
        Segmentation when ``segments`` is None: ``"shepherd"`` (default), ``"slic"`` or
        ``"felzenszwalb"`` and its parameters (see :func:`rasterclass.segment`). The run's
        ``TrainingOptions.seed`` seeds it unless ``segment_params`` sets ``seed`` (a run's
        seed of None: the method's default seed).
    min_overlap
        Share in (0, 1] of a segment's pixels that a training class must cover to label it.
    min_polygon_share
        A segment also takes a polygon's class when it holds at least this share in (0, 1]
        of the polygon's pixels (None: never; see :func:`rasterclass.label_segments`).

    Raises
    ------
    TrainingDataError
        From :meth:`check`: a share outside (0, 1].
    SegmentationError
        From :meth:`check`: an unknown method or an invalid segmentation parameter.
    OptionConflictError
        From :meth:`check`: ``segments`` with a ``segment_method`` or ``segment_params``
        (they would be ignored).

    Examples
    --------
    >>> import rasterclass as rc
    >>> rc.ObjectOptions(segment_params={"n_clusters": 4, "min_size": 10}).check(seed=0)
    {'seed': 0, 'n_clusters': 4, 'min_size': 10}
    """

    segments: xr.DataArray | PathLike | None = None
    segment_method: str = "shepherd"
    segment_params: Mapping[str, Any] | None = None
    min_overlap: float = 0.5
    min_polygon_share: float | None = 0.5

    def check(self, seed: int | None = None) -> dict[str, Any]:
        """Validate before any work; the segmentation parameters with ``seed`` as default."""
        for name in ("min_overlap", "min_polygon_share"):
            share = getattr(self, name)
            if share is not None and not 0 < share <= 1:
                raise TrainingDataError(f"{param(name)} is a share in (0, 1], got {share}")
        # an unseeded run (seed None) segments with the method's default seed
        params = {**({} if seed is None else {"seed": seed}), **dict(self.segment_params or {})}
        if self.segments is None:
            check_segment_params(self.segment_method, params)
            return params
        for name, unused in (
            ("segment_method", self.segment_method != "shepherd"),
            ("segment_params", bool(self.segment_params)),
        ):
            if unused:  # given segments are not segmented again: it would be ignored
                raise OptionConflictError.both(
                    param("segments"),
                    param(name),
                    f"given segments are used as they are; leave out {param(name)} or "
                    f"{param('segments')}",
                )
        return params


@dataclass
class ObjectTraining:
    """What :func:`train_objects` did: the training run (model, one sample per labelled
    segment, accuracy, files, timings), the scene's segments and their features."""

    result: RunResult
    segments: xr.DataArray
    features: pd.DataFrame


def train_objects(
    scene: xr.DataArray,
    training: Any,
    class_column: str,
    options: TrainingOptions,
    objects: ObjectOptions,
    *,
    estimator: Any = None,
    model_output: PathLike | None = None,
    report_output: PathLike | None = None,
    overwrite: bool = False,
) -> ObjectTraining:
    """Segment an opened scene, describe and label the segments, fit and cross-validate.

    The object-based training step of :func:`rasterclass.classify` (``objects=``): one
    sample per labelled segment, folds grouped by training polygon, at most
    ``options.max_per_class`` segments per class. The model is trained on segment
    *features* (its band names are feature columns), so it classifies segments, not pixels.
    Parameters are checked by the caller (:meth:`ObjectOptions.check`).
    """
    t0 = time.perf_counter()
    scene = dask_scene(scene)
    segs = resolve_segments(
        scene, objects.segments, objects.segment_method, objects.check(options.seed)
    )
    t1 = time.perf_counter()
    features = segment_features(scene, segs)
    t2 = time.perf_counter()
    samples = label_segments(
        scene,
        segs,
        training,
        class_column,
        features=features,
        min_overlap=objects.min_overlap,
        min_polygon_share=objects.min_polygon_share,
        all_touched=options.all_touched,
        legend=read_legend(options.legend) if options.legend else None,
        layer=options.layer,
    )
    if options.max_per_class is not None:
        samples = samples.cap_per_class(options.max_per_class, options.seed)
    result = fit_and_validate(
        samples,
        options,
        estimator=estimator,
        crs=scene.rio.crs.to_wkt() if scene.rio.crs else None,
        training=training,
        summary={
            "object_based": True,
            "segmentation": SegmentationRecord.of(
                scene, segs, given=objects.segments is not None
            ).to_summary(),
            "n_segments": len(features),
        },
        features=scene_features(scene),
        notes=[
            "object-based: one sample per training segment (not per pixel); a segment is "
            f"labelled where a class covers >= {objects.min_overlap:.0%} of its pixels or it "
            f"holds >= {objects.min_polygon_share or 1:.0%} of a training polygon."
        ],
        model_output=model_output,
        report_output=report_output,
        overwrite=overwrite,
    )
    result.timings.update(segmentation=t1 - t0, features=t2 - t1, training=time.perf_counter() - t2)
    return ObjectTraining(result, segs, features)


@dataclass(frozen=True)
class SegmentationRecord:
    """How an object-based model's segments were made, as its summary records it
    (``summary["segmentation"]``), so that :func:`rasterclass.predict` segments another
    scene the same way.

    ``method`` and ``params`` (all of them, the seed and defaults included, JSON values) are
    the segmentation; ``method`` None: the segments were given, and every scene to classify
    needs its own. ``bands`` are the scene bands segmented and described (None: not
    recorded, a model from rasterclass 0.2).

    Examples
    --------
    >>> record = SegmentationRecord("shepherd", {"n_clusters": 4, "seed": 0}, ["red", "nir"])
    >>> SegmentationRecord.from_summary({"segmentation": record.to_summary()}) == record
    True
    >>> SegmentationRecord.from_summary(  # a model file of rasterclass 0.2
    ...     {"segmentation": "slic", "segmentation_params": {"region_size": "10"}})
    SegmentationRecord(method='slic', params={'region_size': 10}, bands=None)
    """

    method: str | None
    params: dict[str, Any] = field(default_factory=dict)
    bands: list[str] | None = None

    @classmethod
    def of(cls, scene: xr.DataArray, segments: xr.DataArray, *, given: bool) -> SegmentationRecord:
        """The record of ``segments`` made from ``scene`` (``given``: not by a method)."""
        bands = [str(b) for b in scene["band"].values]
        if given:
            return cls(None, {}, bands)
        params = jsonable(dict(segments.attrs.get("params", {})))
        return cls(str(segments.attrs["segmentation"]), params, bands)

    def to_summary(self) -> dict[str, Any]:
        """JSON values for the model's summary (``given``: the segments were given)."""
        return {
            "method": self.method,
            "params": dict(self.params),
            "bands": self.bands,
            "given": self.method is None,
        }

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> SegmentationRecord:
        """Read a model's record; the 0.2 layout too (``segmentation``: the method's name
        or ``"given"``, ``segmentation_params``: each value's ``repr``).

        Raises
        ------
        ModelFileError
            No record, or a 0.2 parameter whose ``repr`` does not read back as a value.
        """
        found = summary.get("segmentation")
        if isinstance(found, Mapping):
            bands = found.get("bands")
            return cls(found.get("method"), dict(found.get("params") or {}), bands)
        if not isinstance(found, str):
            raise ModelFileError(
                "the object-based model does not record its segmentation; give the scene's "
                f"segments ({param('segments')}) or retrain the model"
            )
        if found == "given":
            return cls(None)
        params = {}
        for name, text in dict(summary.get("segmentation_params") or {}).items():
            try:
                params[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise ModelFileError(
                    f"the model records its segmentation parameter {name} as {text!r}, which "
                    f"does not read back as a value; give the scene's segments "
                    f"({param('segments')}) or retrain the model"
                ) from None
        return cls(found, params)


def check_object_prediction(
    model: RasterModel, segments: xr.DataArray | PathLike | None, aoa: PathLike | None
) -> SegmentationRecord | None:
    """What :func:`rasterclass.predict` may do with ``model``, before any work.

    Returns the model's segmentation record (None: a pixel model). Raises
    :class:`OptionConflictError` for ``aoa`` with an object-based model or ``segments`` with a
    pixel model, :class:`SegmentationError` when the model was trained on given segments and
    none are given, :class:`ModelFileError` for a record that cannot be read.
    """
    if not model.summary.get("object_based"):
        if segments is not None:
            raise OptionConflictError(
                f"{param('segments')} is for object-based models and this model classifies "
                f"pixels: leave out {param('segments')}"
            )
        return None
    if aoa is not None:
        raise OptionConflictError.both(
            param("aoa"),
            "an object-based model",
            "the area of applicability is computed per pixel; leave out "
            f"{param('aoa')} or use a pixel model",
        )
    try:
        record = SegmentationRecord.from_summary(model.summary)
    except ModelFileError:
        if segments is None:
            raise
        record = SegmentationRecord(None)  # given segments: the record is not needed
    if record.method is None and segments is None:
        raise SegmentationError(
            "the model was trained on given segments, not on a segmentation it can repeat: "
            f"give this scene's segments ({param('segments')})"
        )
    return record


@dataclass
class ObjectPrediction:
    """What :func:`predict_objects` did: the scene's segments, their features, their classes
    (:func:`rasterclass.classify_segments`) and the painted layers
    (:func:`rasterclass.paint_map`)."""

    segments: xr.DataArray
    features: pd.DataFrame
    table: pd.DataFrame
    prediction: xr.Dataset


def paint_objects(
    model: RasterModel,
    segments: xr.DataArray,
    features: pd.DataFrame,
    scene: xr.DataArray,
    *,
    probabilities: bool = False,
) -> tuple[pd.DataFrame, xr.Dataset]:
    """Classify described segments and paint them: the table of their classes (and
    probabilities) and the map layers :func:`rasterclass.jobs.write_prediction` writes.
    The last step of an object-based :func:`rasterclass.classify` and
    :func:`rasterclass.predict`."""
    table = classify_segments(model, features, probabilities=probabilities)
    painted = paint_map(segments, table, model.class_map, scene=scene, probabilities=probabilities)
    return table, painted


def predict_objects(
    scene: xr.DataArray,
    model: RasterModel,
    record: SegmentationRecord,
    segments: xr.DataArray | PathLike | None = None,
    *,
    probabilities: bool = False,
) -> ObjectPrediction:
    """Classify an opened scene with an object-based model: its bands matched to the
    recorded ones, segmented as ``record`` says (or ``segments``, masked by its nodata),
    described, classified and painted, lazily (the segmentation tables are computed here).

    Raises :class:`BandMismatchError` when the scene lacks a recorded band (or the features
    lack a model feature), :class:`SegmentationError` or :class:`GridMismatchError` for given
    segments that are not integers or not on the scene's grid.
    """
    scene = dask_scene(scene)
    if record.bands is not None:
        aligned = align_dates(scene, record.bands)
        scene = match_bands(aligned, record.bands)
        check_radiometry(model.radiometry, aligned, record.bands)
    segs = resolve_segments(scene, segments, str(record.method), record.params)
    features = segment_features(scene, segs)
    table, painted = paint_objects(model, segs, features, scene, probabilities=probabilities)
    return ObjectPrediction(segs, features, table, painted)
