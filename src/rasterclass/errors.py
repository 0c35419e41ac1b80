"""Exception and warning classes of rasterclass.

Every user mistake raises a :class:`RasterclassError` subclass whose message names the fix.
Where a builtin fits, the error also subclasses it (``RasterclassIOError`` is an ``OSError``),
so callers can catch either.

Messages name the parameters a user can change through :func:`param` placeholders
(``"set " + param("cv_folds") + " to 2 or more"``). ``str(error)`` renders them as Python
keyword arguments (``cv_folds=``); the command line renders the same error with its option
names (``--cv``) through :meth:`RasterclassError.render`, so the library never speaks CLI and
the CLI never speaks Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: ``{name=}`` or ``{name=value}``: a parameter placeholder in a message (see :func:`param`).
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)=([^{}]*)\}")

#: Renders one placeholder: (parameter name, value or None) -> text, or None to keep the
#: Python form.
ParamRenderer = Callable[[str, "str | None"], "str | None"]


def param(name: str, value: object = None) -> str:
    """A placeholder for a parameter in an error or warning message.

    ``param("cv_folds")`` reads ``cv_folds=`` from Python and ``--cv`` on the command line;
    ``param("overwrite", True)`` reads ``overwrite=True`` and ``--overwrite``;
    ``param("min_size", "...")`` reads ``min_size=...`` and ``-p min_size=...``.
    """
    return "{" + name + "=" + ("" if value is None else str(value)) + "}"


def render_message(template: str, renderer: ParamRenderer | None = None) -> str:
    """Fill the :func:`param` placeholders of a message, by default as Python keywords."""

    def fill(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2) or None
        text = renderer(name, value) if renderer is not None else None
        return text if text is not None else f"{name}={value or ''}"

    return _PARAM.sub(fill, template)


def message_params(template: str) -> list[str]:
    """The parameter names a message template refers to, in order."""
    return [m.group(1) for m in _PARAM.finditer(template)]


class _Templated:
    """Keeps a message template; ``str()`` gives it with Python parameter names."""

    template: str

    def __init__(self, message: object = "", *args: object) -> None:
        self.template = str(message)
        super().__init__(render_message(self.template), *args)  # type: ignore[call-arg]

    @property
    def params(self) -> list[str]:
        """The parameters the message names (Python names)."""
        return message_params(self.template)

    def render(self, renderer: ParamRenderer | None = None) -> str:
        """The message with each parameter written by ``renderer`` (e.g. as CLI options)."""
        return render_message(self.template, renderer)


class RasterclassError(_Templated, Exception):
    """Root of every rasterclass error.

    Each error also subclasses the builtin it refines (``ValueError``, ``OSError``,
    ``FileExistsError``...), as rasterio's errors do, so either can be caught. Messages are
    one line that names the fix, with Python parameter names (the command line prints the
    same message with its option names).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import rasterclass as rc
    >>> missing = pathlib.Path(tempfile.mkdtemp()) / "legend.csv"
    >>> try:
    ...     rc.read_legend(missing)
    ... except rc.RasterclassError as exc:
    ...     print(type(exc).__name__, isinstance(exc, OSError))
    RasterclassIOError True
    """


class CRSError(RasterclassError, ValueError):
    """A raster or vector has no CRS, or CRSs cannot be reconciled."""


class GridMismatchError(RasterclassError, ValueError):
    """Rasters are on different grids and cannot be aligned as asked."""


class BandMismatchError(RasterclassError, ValueError):
    """The bands of a scene do not match what a model was trained on."""


class TrainingDataError(RasterclassError, ValueError):
    """Training or reference data are unusable (no overlap, unknown column, one class...)."""


class ClassMapError(RasterclassError, ValueError):
    """A class map or legend is invalid."""


class OutputExistsError(RasterclassError, FileExistsError):
    """An output file exists and overwriting was not asked for."""


class RasterclassIOError(RasterclassError, OSError):
    """A file cannot be read or written (missing, corrupt, unsupported)."""


class ModelFileError(RasterclassError, ValueError):
    """A model file is invalid, untrusted or incompatible."""


class EstimatorError(RasterclassError, ValueError):
    """An estimator preset or parameter is invalid, or a model cannot do what is asked."""


class AccuracyError(RasterclassError, ValueError):
    """Accuracy or area estimation inputs are inconsistent."""


class SegmentationError(RasterclassError, ValueError):
    """Segmentation inputs are invalid."""


class ComputeError(RasterclassError, RuntimeError):
    """The computation failed on the cluster (e.g. workers kept dying); nothing was written."""


class SchedulerError(RasterclassError, ConnectionError):
    """The dask scheduler cannot be reached or started."""


class RasterclassWarning(_Templated, UserWarning):
    """Root of every rasterclass warning."""


class ValidationWarning(RasterclassWarning):
    """A validation design is weaker than asked (e.g. a class has too few polygons)."""


class ClusteringError(RasterclassError, ValueError):
    """Clustering cannot give a map (no valid pixel, fewer pixels than clusters, one cluster)."""


class TrainingReferenceWarning(ValidationWarning):
    """Reference pixels of an assessment were training pixels of the map's model."""


class TrainingClassesError(TrainingDataError):
    """A class of the training data ends with no sample; the message lists each and why."""


class TrainingDataWarning(RasterclassWarning):
    """Training or reference data were corrected, or some of them give no sample.

    Duplicated polygons removed, pixels claimed by polygons of different classes dropped,
    class codes 0..K-1 shifted to 1..K, features or classes without a sample named.
    """


class CrossValidationDesignError(TrainingDataError):
    """Cross-validation cannot measure the accuracy of every class: grouped by polygon, a
    class in a single polygon; split by pixel, a class with a single pixel (or segment).

    ``problem`` says what cannot be done; the message adds the fix.
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}; {fix}" if fix else problem)
        self.problem = problem


class SceneError(RasterclassError, ValueError):
    """A scene array cannot be used as a scene (dims, band coordinate, scale/offset)."""


class RadiometryWarning(RasterclassWarning):
    """A scene to classify is stored differently (dtype, scale, offset, nodata) from the
    scene the model was trained on."""


class SingularCovarianceWarning(RasterclassWarning):
    """A class covariance is singular (a band constant within the class, collinear bands or
    too few samples) and was regularised."""


class CalibrationWarning(RasterclassWarning):
    """A probability calibration used fewer folds than asked, because a class is small."""


class OutputCollisionError(RasterclassError, ValueError):
    """An output path is also an input of the run, or another output of it.

    Raised before anything is read or written; ``overwrite`` never lets an output replace
    an input.
    """


class PostprocessError(RasterclassError, ValueError):
    """A post-processing parameter of a class map is invalid (minimum mapping unit, window
    size, connectivity, protected classes)."""


class ZoneError(RasterclassError, ValueError):
    """Zones for zonal summaries cannot be used as given (no zone id column of that name,
    geometries that are not polygons, an extra layer off the map's grid)."""


class OptionConflictError(RasterclassError, ValueError):
    """Parameters given together that contradict each other (a local cluster and a remote
    scheduler, dates given and dates read from the files), or one given without the
    parameter it needs, which would otherwise be ignored without a word. Raised before any
    work; the message names both and what to keep."""

    @classmethod
    def both(cls, first: str, second: str, fix: str) -> OptionConflictError:
        """``first`` and ``second`` (:func:`param` placeholders) were given together."""
        return cls(f"{first} and {second} contradict each other: {fix}")

    @classmethod
    def without(cls, given: str, needed: str) -> OptionConflictError:
        """``given`` does nothing without ``needed`` (:func:`param` placeholders)."""
        return cls(f"{given} has no effect without {needed}: add {needed}, or leave out {given}")
