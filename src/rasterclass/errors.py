"""Exception and warning classes of rasterclass.

Every user mistake raises a :class:`RasterclassError` subclass whose message names the fix.
Where a builtin fits, the error also subclasses it (``RasterclassIOError`` is an ``OSError``),
so callers can catch either.
"""

from __future__ import annotations


class RasterclassError(Exception):
    """Root of every rasterclass error."""


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


class RasterclassWarning(UserWarning):
    """Root of every rasterclass warning."""


class ValidationWarning(RasterclassWarning):
    """A validation design is weaker than asked (e.g. a class has too few polygons)."""


class ClusteringError(RasterclassError, ValueError):
    """Clustering cannot give a map (no valid pixel, fewer pixels than clusters, one cluster)."""


class TrainingReferenceWarning(ValidationWarning):
    """Reference pixels of an assessment were training pixels of the map's model."""


class TrainingClassesError(TrainingDataError):
    """A class of the training data ends with no sample; the message lists each and why.

    ``cli_message`` words the fix with the command line's option names.
    """

    def __init__(self, message: str, cli_message: str | None = None) -> None:
        super().__init__(message)
        self.cli_message = cli_message or message


class TrainingDataWarning(RasterclassWarning):
    """Training or reference data were corrected, or some of them give no sample.

    Duplicated polygons removed, pixels claimed by polygons of different classes dropped,
    class codes 0..K-1 shifted to 1..K, features or classes without a sample named.
    ``cli_message`` words the fix with the command line's option names.
    """

    def __init__(self, message: str, cli_message: str | None = None) -> None:
        super().__init__(message)
        self.cli_message = cli_message or message


class CrossValidationDesignError(TrainingDataError):
    """Cross-validation grouped by polygon cannot measure the accuracy of every class.

    ``problem`` says what cannot be done; the message adds the fix in Python parameter
    names, ``cli_message`` in the command line's option names.
    """

    def __init__(self, problem: str, fix: str = "", cli_fix: str = "") -> None:
        super().__init__(f"{problem}; {fix}" if fix else problem)
        self.problem = problem
        self.cli_fix = cli_fix
        self.cli_message = f"{problem}; {cli_fix}" if cli_fix else problem
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
