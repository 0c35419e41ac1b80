"""Classifier presets: ``rf``, ``svm``, ``maxlike``, ``mindist``, configured by name=value.

Each preset is a plain scikit-learn estimator (or Pipeline). Parameters given as strings
(``-p n_estimators=300``) are parsed as Python literals where they are literals.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rasterclass.errors import EstimatorError, param

if TYPE_CHECKING:
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


def make_estimator(
    method: str, params: Mapping[str, Any] | None = None, seed: int = 0
) -> BaseEstimator:
    """Build a preset classifier, with parameters applied to its final estimator.

    Examples
    --------
    >>> make_estimator("rf", {"n_estimators": 50}).n_estimators
    50
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
        valid = target.get_params(deep=False)
        unknown = [k for k in params if k not in valid]
        if unknown:
            raise EstimatorError(
                f"unknown parameter(s) {unknown} for {method}; valid ones: "
                f"{', '.join(sorted(valid))}"
            )
        try:
            target.set_params(**params)
        except (ValueError, TypeError) as exc:
            raise EstimatorError(f"invalid parameter for {method}: {exc}") from None
    return est
