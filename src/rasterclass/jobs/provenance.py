"""Provenance: a JSON sidecar next to every file a job writes.

Owns :func:`recorded`, the decorator every writing job of :mod:`rasterclass.jobs` wears,
:func:`provenance_record` (what a sidecar holds), :func:`command_line` (the command line the
CLI runs under) and :data:`PROVENANCE_SUFFIX`. After a job returns, each file it wrote gets
``<output>.provenance.json`` (written atomically through :func:`rasterclass.io.write_text`)
naming its inputs (path, size, SHA-256), the job's parameters, the seed, the versions of
rasterclass and its libraries, the command line and the start and end time in UTC; a class
map also lists its classes as the STAC classification extension does
(``classification:classes``: ``value``, ``name``, ``color_hint``).

The sidecar follows its output: if the output may be written (it is new, or ``overwrite``
allows replacing it) so may its sidecar; :func:`rasterclass.io.output_files` names the
sidecar among the files an output writes, so no other output of the run, and no input, may
be named like it. The layout (key ``format_version`` 1) is a stable interface: the HTML
report reads it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import json
import logging
import os
import platform
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from rasterclass._json import jsonable
from rasterclass.io import (
    PROVENANCE_SUFFIX,
    file_sha256,
    input_files,
    read_class_map,
    write_text,
)
from rasterclass.model import library_versions

logger = logging.getLogger(__name__)

__all__ = [
    "PROVENANCE_FORMAT_VERSION",
    "PROVENANCE_SUFFIX",
    "command_line",
    "provenance_record",
    "recorded",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Version of the sidecar's layout.
PROVENANCE_FORMAT_VERSION = 1

#: The command line of the CLI run in progress (None when called from Python).
_COMMAND_LINE: ContextVar[list[str] | None] = ContextVar("rasterclass_command_line", default=None)
#: How deep in recorded jobs the current call is (a job calling a job records once).
_DEPTH: ContextVar[int] = ContextVar("rasterclass_recorded_depth", default=0)


@contextlib.contextmanager
def command_line(argv: Sequence[str] | None) -> Iterator[None]:
    """Record ``argv`` as the command line of the jobs run inside the block (the CLI)."""
    token = _COMMAND_LINE.set(None if argv is None else [str(a) for a in argv])
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _describe(value: Any) -> Any:
    """A parameter value as JSON: plain values as they are, option dataclasses field by
    field, in-memory data (scenes, frames, models) as their type and size."""
    if value is None or isinstance(value, str | bool | int | float | os.PathLike):
        return jsonable(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _describe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _describe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_describe(v) for v in value]
    if callable(value):
        return None
    shape = getattr(value, "shape", None)
    size = f" {tuple(shape)}" if shape is not None else ""
    return f"<in-memory {type(value).__name__}{size}>"


def _seed(parameters: Mapping[str, Any]) -> Any:
    """The seed among the parameters, their options or their ``**options``."""
    for value in [parameters, *parameters.values()]:
        if isinstance(value, Mapping) and value.get("seed") is not None:
            return value["seed"]
    return None


def _input_records(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for role, value in inputs.items():
        for main, part in input_files(value):
            if part != main:
                continue
            remote = "://" in main or main.startswith("/vsi")
            path = main if remote else os.path.abspath(main)
            if path in seen or not (remote or os.path.exists(path)):
                continue
            seen.add(path)
            if not os.path.isfile(path):  # a URL, a GDAL virtual path or a folder: said so
                what = "a folder" if os.path.isdir(path) else "not a local file"
                records.append(
                    {"role": role, "path": path, "size": None, "sha256": None,
                     "note": f"{what}: not hashed"}
                )  # fmt: skip
                continue
            records.append(
                {
                    "role": role,
                    "path": path,
                    "size": os.path.getsize(path),
                    "sha256": file_sha256(path),
                }
            )
    return records


def _classes(path: str) -> list[dict[str, Any]] | None:
    """``classification:classes`` of a class map output (None for anything else)."""
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        return None
    try:
        cmap = read_class_map(path)
    except Exception:  # not a class map (probabilities, segments): no classes
        return None
    if cmap is None:
        return None
    return [
        {
            "value": int(code),
            "name": str(name),
            "color_hint": "{:02X}{:02X}{:02X}".format(*rgba[:3]),
        }
        for code, name, rgba in zip(cmap.codes, cmap.names, cmap.colors, strict=True)
    ]


def provenance_record(
    job: str,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, Any],
    outputs: Sequence[str],
    *,
    started: str,
    ended: str | None = None,
) -> dict[str, Any]:
    """What a provenance sidecar holds (without the per-output keys).

    Parameters
    ----------
    job
        The job's name (``"classify"``, ``"areas_map"``...).
    parameters
        The job's parameter values by name (made JSON-ready; in-memory data becomes its
        type and shape).
    inputs
        The input parameters by name: paths, sequences of paths, scenes opened by
        rasterclass (their source files); in-memory data has no file and is not listed.
    outputs
        Every file the run wrote.
    started, ended
        UTC times (ISO 8601); ``ended`` defaults to now.

    Returns
    -------
    dict
        ``format_version`` (1), ``job``, ``outputs`` (absolute paths), ``inputs`` (a list
        of ``{"role", "path", "size", "sha256"}``; a URL, GDAL virtual path or folder is
        listed with ``size`` and ``sha256`` None and a ``note``), ``parameters``, ``seed``
        (None when the job has none), ``versions`` (rasterclass, its libraries, python),
        ``command_line`` (the CLI's argv, None from Python), ``started`` and ``ended``.

    Raises
    ------
    OSError
        An input file cannot be read while hashing it.

    Notes
    -----
    The SHA-256 is computed in 1 MiB blocks (constant memory); it reads every input
    once, a second or two per GB on a local disk, small beside the run that reads them.

    Examples
    --------
    >>> from rasterclass.datasets import example_map
    >>> record = provenance_record("areas_map", {"chunks": None}, {"map": example_map()}, [],
    ...                            started="2026-01-01T00:00:00Z")
    >>> record["inputs"][0]["role"], len(record["inputs"][0]["sha256"])
    ('map', 64)
    """
    params = {k: _describe(v) for k, v in parameters.items()}
    return {
        "format_version": PROVENANCE_FORMAT_VERSION,
        "job": job,
        "outputs": [os.path.abspath(p) for p in outputs],
        "inputs": _input_records(inputs),
        "parameters": params,
        "seed": _seed(params),
        "versions": {**library_versions(), "python": platform.python_version()},
        "command_line": _COMMAND_LINE.get(),
        "started": started,
        "ended": ended or _now(),
    }


def _outputs(result: Any, bound: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    found: list[str] = []
    listed = getattr(result, "outputs", None)
    if isinstance(listed, list):
        found += [str(p) for p in listed]
    if isinstance(result, str | os.PathLike):
        found.append(os.fspath(result))
    found += [os.fspath(bound[n]) for n in names if bound.get(n) is not None]
    unique = list(dict.fromkeys(os.path.abspath(p) for p in found))
    return [p for p in unique if os.path.isfile(p)]


def recorded(*inputs: str, outputs: Sequence[str] = ("output",)) -> Callable[[F], F]:
    """Decorate a job so that every file it writes gets a provenance sidecar.

    Parameters
    ----------
    *inputs
        Names of the job's parameters that are inputs (files or data); a name
        ``"options.legend"`` reads an attribute of a parameter, and entries of
        ``**options`` count by name too.
    outputs
        Names of the parameters that are output paths; files listed in the result's
        ``outputs`` attribute, or a path the job returns, count too.

    Returns
    -------
    callable
        The decorator. The job runs as before; after it returns, ``<output>.provenance.json``
        (see :func:`provenance_record`, plus ``output`` and ``classification:classes`` for
        class maps) is written beside each output that exists. A job called by a recorded
        job records nothing itself.

    Raises
    ------
    TypeError
        Only when the job is called with arguments it does not take (as without it).

    Examples
    --------
    >>> @recorded("source")
    ... def copy(source, output, overwrite=False):
    ...     return output
    >>> copy.__wrapped__.__name__
    'copy'
    """

    def decorate(job: F) -> F:
        signature = inspect.signature(job)

        @functools.wraps(job)
        def run(*args: Any, **kwargs: Any) -> Any:
            if _DEPTH.get():
                return job(*args, **kwargs)
            started = _now()
            token = _DEPTH.set(1)
            try:
                result = job(*args, **kwargs)
            finally:
                _DEPTH.reset(token)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            parameters = dict(bound.arguments)
            for p in signature.parameters.values():
                if p.kind is inspect.Parameter.VAR_KEYWORD:
                    parameters.update(parameters.pop(p.name))
            written = _outputs(result, parameters, outputs)
            if written:
                chosen = {name: _resolve(parameters, name) for name in inputs}
                record = provenance_record(
                    job.__name__, parameters, chosen, written, started=started
                )
                for path in written:
                    write_provenance(path, record)
            return result

        return run  # type: ignore[return-value]

    return decorate


def _resolve(parameters: Mapping[str, Any], name: str) -> Any:
    head, _, attr = name.partition(".")
    value = parameters.get(head)
    return getattr(value, attr, None) if attr and value is not None else value


def write_provenance(output: str, record: Mapping[str, Any]) -> str:
    """Write ``<output>.provenance.json`` (replacing an earlier one: it follows its output)."""
    entry = {**record, "output": os.path.abspath(output)}
    classes = _classes(output)
    if classes is not None:
        entry["classification:classes"] = classes
    path = output + PROVENANCE_SUFFIX
    write_text(path, json.dumps(jsonable(entry), indent=2) + "\n", overwrite=True)
    logger.info("wrote %s", path)
    return path
