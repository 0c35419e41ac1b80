"""Classifier presets: ``rf``, ``svm``, ``maxlike``, ``mindist``, configured by name=value.

Each preset is a plain scikit-learn estimator (or Pipeline). Parameters given as strings
(``-p n_estimators=300``) are parsed as Python literals where they are literals.
"""

from __future__ import annotations

import ast
import logging
import numbers
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rasterclass.errors import EstimatorError, TrainingDataError, param
from rasterclass.methods import SEGMENT_DEFAULTS

if TYPE_CHECKING:
    import numpy as np
    from sklearn.base import BaseEstimator

# scikit-learn is imported by the factories, not here: the command line lists the presets
# (``-m``, ``--help``) without loading it.

logger = logging.getLogger(__name__)


def _rf(seed: int) -> BaseEstimator:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=seed)


def _svm(seed: int) -> BaseEstimator:
    # Probabilities from a calibration of the SVM's decision function (Platt sigmoid, as
    # libsvm's probability=True did); with ensemble=False, predict is their argmax.
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    svc = SVC(kernel="rbf", C=10.0, gamma="scale", random_state=seed)
    return make_pipeline(
        StandardScaler(), CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False)
    )


def _maxlike(seed: int) -> BaseEstimator:
    from rasterclass.estimators.parametric import MaximumLikelihoodClassifier

    return MaximumLikelihoodClassifier()


def _mindist(seed: int) -> BaseEstimator:
    from rasterclass.estimators.parametric import MinimumDistanceClassifier

    return MinimumDistanceClassifier()


PRESETS: dict[str, tuple[Callable[[int], BaseEstimator], str]] = {
    "rf": (_rf, "random forest (100 trees)"),
    "svm": (_svm, "RBF support vector machine on standardised bands"),
    "maxlike": (_maxlike, "Gaussian maximum likelihood"),
    "mindist": (_mindist, "minimum distance to class means"),
}


def parse_value(text: Any) -> Any:
    """``"300"`` -> 300, ``"0.5"`` -> 0.5, ``"None"`` -> None, ``"sqrt"`` -> ``"sqrt"``."""
    if not isinstance(text, str):
        return text
    lowered = text.strip()
    if lowered.lower() in ("true", "false"):
        return lowered.lower() == "true"
    if lowered.lower() in ("none", "null"):
        return None
    try:
        return ast.literal_eval(lowered)
    except (ValueError, SyntaxError):
        return lowered


def parse_params(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Parse ``["name=value", ...]`` into a dict of Python values."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise EstimatorError(
                f"parameter {item!r} is not name=value; write e.g. {param('C', 10)}"
            )
        name, value = item.split("=", 1)
        out[name.strip()] = parse_value(value)
    return out


def _components(estimator: Any) -> list[Any]:
    """The estimator and every estimator nested in it (Pipeline steps, wrapped estimators)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline

    out = [estimator]
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            if step is not None and step != "passthrough":
                out.extend(_components(step))
    inner = getattr(estimator, "estimator", None)
    if isinstance(estimator, CalibratedClassifierCV) and inner is not None:
        out.extend(_components(inner))
    return out


_SKLEARN_MESSAGE = re.compile(
    r"The '(?P<name>[^']+)' parameter of (?P<owner>\w+) must be (?P<allowed>.*)\. "
    r"Got (?P<value>.*) instead\.?$",
    re.DOTALL,
)


def _translate(exc: Exception, what: str) -> str:
    """scikit-learn's InvalidParameterError as 'rf parameter n_estimators=0 ...: it must be'."""
    text = str(exc).strip()
    m = _SKLEARN_MESSAGE.match(text)
    if m is None:
        return f"invalid parameter of {what}: {text}"
    return f"{what} parameter {m['name']}={m['value']} is invalid: it must be {m['allowed']}"


def check_params(estimator: Any, what: str | None = None) -> None:
    """Validate every parameter value of an unfitted estimator, before any data is read.

    Runs scikit-learn's own parameter validation (``_validate_params`` and each estimator's
    ``_parameter_constraints``) on the estimator and everything nested in it (Pipeline
    steps, the estimator a calibration wraps); rasterclass's estimators declare their
    constraints the same way. Strings are not numbers here: ``"abc"`` or ``1.5`` for an
    integer parameter are refused.

    Parameters
    ----------
    estimator
        A scikit-learn estimator or Pipeline (not fitted).
    what
        Name used in the message (e.g. the preset ``"rf"``); default: the class name.

    Raises
    ------
    EstimatorError
        Naming the parameter, the value given and what is allowed.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> try:
    ...     check_params(RandomForestClassifier(n_estimators=0), "rf")
    ... except EstimatorError as exc:
    ...     print(exc)
    rf parameter n_estimators=0 is invalid: it must be an int in the range [1, inf)
    """
    for part in _components(estimator):
        name = what or type(part).__name__
        validate = getattr(part, "_validate_params", None)
        if validate is not None and hasattr(part, "_parameter_constraints"):
            try:
                validate()
            except (ValueError, TypeError) as exc:
                raise EstimatorError(_translate(exc, name)) from None
        own = getattr(part, "_check_params", None)
        if callable(own) and type(part).__module__.startswith("rasterclass."):
            own()


def make_estimator(
    method: str, params: Mapping[str, Any] | None = None, seed: int = 0
) -> BaseEstimator:
    """Build a preset classifier, with parameters applied to its final estimator.

    Every parameter value is validated here (:func:`check_params`), so a wrong value fails
    before any data is read.

    Parameters
    ----------
    method
        ``"rf"``: scikit-learn's random forest (Breiman 2001), 100 trees, all cores.
        ``"svm"``: RBF support vector machine on standardised bands (``C=10``), with
        probabilities from a sigmoid calibration (Platt 1999) on 3 folds.
        ``"maxlike"``: Gaussian maximum likelihood
        (:class:`~rasterclass.MaximumLikelihoodClassifier`). ``"mindist"``: minimum distance
        to class means (:class:`~rasterclass.MinimumDistanceClassifier`).
    params
        Parameters of the final estimator by name (``{"n_estimators": 300}``, ``{"C": 100}``);
        strings are parsed as Python literals (``"300"`` -> 300), as the command line's
        ``-p K=V`` gives them.
    seed
        ``random_state`` of the estimator (the same seed gives the same model).

    Returns
    -------
    sklearn.base.BaseEstimator
        An unfitted classifier (``svm``: a Pipeline), ready for
        :func:`rasterclass.fit_model` or :func:`rasterclass.cross_validate`.

    Raises
    ------
    EstimatorError
        Unknown method, unknown parameter name (the message lists the valid ones) or an
        invalid value (``n_estimators=0``: "it must be an int in the range [1, inf)").

    Examples
    --------
    >>> import rasterclass as rc
    >>> rc.make_estimator("rf", {"n_estimators": "50"}, seed=1).n_estimators
    50
    >>> rc.make_estimator("svm", {"C": 100}).steps[-1][1].estimator.C
    100
    >>> try:
    ...     rc.make_estimator("rf", {"n_estimators": 0})
    ... except rc.RasterclassError as exc:
    ...     print(exc)
    rf parameter n_estimators=0 is invalid: it must be an int in the range [1, inf)...
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline

    try:
        factory = PRESETS[method][0]
    except KeyError:
        raise EstimatorError(
            f"unknown method {method!r}; choose one of {', '.join(PRESETS)}"
        ) from None
    est = factory(seed)
    if params:
        params = {k: parse_value(v) for k, v in params.items()}
        target = est.steps[-1][1] if isinstance(est, Pipeline) else est
        if isinstance(target, CalibratedClassifierCV):
            target = target.estimator
        set_known_params(target, params, method)
    check_params(est, method)
    return est


def set_known_params(
    estimator: Any,
    params: Mapping[str, Any],
    what: str,
    hidden: Collection[str] = (),
    extra: Iterable[str] = (),
) -> None:
    """Set ``params`` on ``estimator``, naming the valid ones when a name is unknown.

    Parameters
    ----------
    estimator
        A scikit-learn estimator; its own parameters (``get_params(deep=False)``) are valid.
    params
        ``{name: value}``, values already parsed.
    what
        The method's name, for the messages.
    hidden
        Valid parameters not to list in the message (set by other options).
    extra
        Names to list as valid besides the estimator's own (options the caller consumes).

    Raises
    ------
    EstimatorError
        An unknown parameter name, or a value that ``set_params`` refuses.

    Examples
    --------
    >>> from sklearn.cluster import KMeans
    >>> try:
    ...     set_known_params(KMeans(), {"trees": 3}, "kmeans", extra=["minibatch"])
    ... except EstimatorError as exc:
    ...     print(str(exc)[:58])
    unknown parameter(s) ['trees'] for kmeans; valid ones: alg
    """
    valid = estimator.get_params(deep=False)
    unknown = [k for k in params if k not in valid]
    if unknown:
        names = sorted([*(set(valid) - set(hidden)), *extra])
        segmenting = sorted({k for k in unknown for d in SEGMENT_DEFAULTS.values() if k in d})
        hint = (
            f" ({', '.join(segmenting)}: a segmentation parameter of object-based runs goes "
            f"in {param('segment_params')})"
            if segmenting
            else ""
        )
        raise EstimatorError(
            f"unknown parameter(s) {unknown} for {what}; valid ones: {', '.join(names)}{hint}"
        )
    try:
        estimator.set_params(**params)
    except (ValueError, TypeError) as exc:
        raise EstimatorError(f"invalid parameter for {what}: {exc}") from None


def _class_name(code: Any, class_map: Any) -> str:
    if class_map is not None:
        try:
            return repr(class_map.name_of(code))
        except (KeyError, ValueError, IndexError, AttributeError):
            pass
    return repr(code.item() if hasattr(code, "item") else code)


def calibration_folds(estimator: Any) -> list[tuple[Any, int]]:
    """The probability calibrations inside ``estimator`` that split the training data into
    a number of folds, with that number (``CalibratedClassifierCV(cv=k)``; ``cv=None`` is
    scikit-learn's 5)."""
    from sklearn.calibration import CalibratedClassifierCV

    out = []
    for part in _components(estimator):
        if isinstance(part, CalibratedClassifierCV):
            cv = part.cv
            if cv is None:
                out.append((part, 5))
            elif isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
                out.append((part, int(cv)))
    return out


def fit_ready(
    estimator: Any,
    y: np.ndarray,
    *,
    class_map: Any = None,
    where: str = "the training data",
) -> tuple[Any, list[str]]:
    """An estimator that can be fitted on labels ``y``: calibration folds fit the classes.

    A probability calibration by ``k`` folds (the ``svm`` preset: ``cv=3``) needs every
    class ``k`` times in ``y``. When the smallest class has ``2 <= n < k`` samples the
    estimator is cloned with ``cv=n`` (returned notes say so); with a single sample no
    split is possible and :class:`TrainingDataError` names the class and the minimum.

    Parameters
    ----------
    estimator
        Unfitted estimator or Pipeline.
    y
        Training labels.
    class_map
        To name classes in messages.
    where
        What ``y`` is, for the messages (e.g. ``"cross-validation fold 2"``).

    Returns
    -------
    (estimator, notes)
        The estimator to fit (the same object when nothing changes) and the changes made.
    """
    import numpy as np
    from sklearn.base import clone

    found = calibration_folds(estimator)
    if not found:
        return estimator, []
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    if labels.size == 0:
        return estimator, []
    smallest = int(counts.min())
    small = labels[counts == smallest]
    need = max(k for _, k in found)
    if smallest >= need:
        return estimator, []
    names = ", ".join(_class_name(c, class_map) for c in small)
    if smallest < 2:
        raise TrainingDataError(
            f"class {names} has {smallest} training sample in {where}; the probability "
            f"calibration ({need} folds, as in the svm preset) needs at least 2 per class: "
            "add training pixels of it or leave it out"
        )
    est = clone(estimator)
    for part in calibration_folds(est):
        if part[1] > smallest:
            part[0].set_params(cv=smallest)
    note = (
        f"class {names} has only {smallest} training samples in {where}: the probability "
        f"calibration uses {smallest} folds instead of {need} (give it at least {need})"
    )
    return est, [note]
