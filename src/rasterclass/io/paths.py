"""Output and input paths: what a run writes and reads, and the one atomic write.

Owns :data:`PathLike`, the files an output creates or replaces (:func:`output_files`: a
raster's ``.aux.xml`` and ``.qml``, a shapefile's parts), the files an input consists of
(:func:`input_files`), the check every run makes before it reads or writes anything
(:func:`check_writable`: no output replaces an input, no two outputs share a file, nothing is
overwritten unless asked) and :func:`atomic_write`, the write-to-temporary-then-rename that
every single-file output goes through, so a failure never leaves a half file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rasterclass.errors import (
    OutputCollisionError,
    OutputExistsError,
    RasterclassIOError,
    param,
)

logger = logging.getLogger(__name__)


PathLike = str | os.PathLike[str]


def _raster_sidecars(path: str) -> list[str]:
    """Files written beside a raster output: GDAL PAM metadata and the QGIS default style."""
    return [f"{path}.aux.xml", str(Path(path).with_suffix(".qml"))]


#: The provenance sidecar every output of a job gets (``PATH.provenance.json``, written by
#: :mod:`rasterclass.jobs.provenance`).
PROVENANCE_SUFFIX = ".provenance.json"

#: The parts of an ESRI shapefile besides ``.shp``.
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")

#: Files that belong to an input file when they exist beside it: GDAL PAM metadata, external
#: overviews and masks, and a QGIS style.
_INPUT_SIDECARS = (".aux.xml", ".ovr", ".msk", PROVENANCE_SUFFIX)


def output_files(path: PathLike, *, raster: bool = False) -> list[str]:
    """Every file writing ``path`` creates or replaces.

    Every output gets its provenance sidecar ``PATH.provenance.json`` (written by the
    jobs); a raster output (written by :func:`write_rasters`) also writes or removes
    ``PATH.aux.xml`` and ``STEM.qml``; a shapefile writes its ``.shx``, ``.dbf``, ``.prj``
    and ``.cpg``.
    """
    p = str(path)
    files = [p, p + PROVENANCE_SUFFIX]
    if raster:
        files += _raster_sidecars(p)
    if Path(p).suffix.lower() == ".shp":
        files += [str(Path(p).with_suffix(ext)) for ext in SHAPEFILE_PARTS[:4]]
    return files


def input_files(value: Any) -> list[tuple[str, str]]:
    """The files an input of a job consists of, as (input file, file) pairs.

    A path gives itself and the files GDAL/OGR and QGIS read beside it, whether they exist
    yet or not (``.aux.xml``, ``.ovr``, ``.msk``, ``.qml``, the parts of a shapefile: an
    output of that name would become part of the input); a scene or segment
    raster opened by rasterclass gives its source files; sequences give the files of their
    items; in-memory data (GeoDataFrame, model object) gives none.
    """
    if value is None:
        return []
    if isinstance(value, str | os.PathLike):
        p = str(value)
        stem = Path(p)
        beside = [*(p + ext for ext in _INPUT_SIDECARS), str(stem.with_suffix(".qml"))]
        if stem.suffix.lower() == ".shp":
            beside += [str(stem.with_suffix(ext)) for ext in SHAPEFILE_PARTS]
        return [(p, p)] + [(p, f) for f in beside if f != p]
    if isinstance(value, list | tuple):
        return [pair for item in value for pair in input_files(item)]
    attrs = getattr(value, "attrs", None)
    if isinstance(attrs, dict):
        sources = attrs.get("source_files", attrs.get("source"))
        if isinstance(sources, str | os.PathLike | list | tuple):
            return input_files(sources)
    return []


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: resolved paths (links followed), or the same inode
    (hard links, case-insensitive file systems) when both exist."""
    if os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b)):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


#: The file name endings each kind of output is written with.
OUTPUT_FORMATS: dict[str, tuple[str, ...]] = {
    # every raster rasterclass writes is a GeoTIFF (io.writer)
    "raster": (".tif", ".tiff"),
    "table": (".parquet", ".csv"),
    "vector": (".gpkg", ".shp", ".geojson", ".json", ".fgb"),
    "figure": (".png", ".pdf", ".svg", ".jpg", ".jpeg"),
    "report": (".json", ".md", ".csv"),
    "html": (".html", ".htm"),
}


def check_output_format(path: PathLike | None, kind: str, name: str = "output") -> None:
    """Refuse, before any work, an output whose file name does not say a format of its kind.

    Parameters
    ----------
    path
        The output path (None: nothing to check).
    kind
        ``"raster"``, ``"table"``, ``"vector"``, ``"figure"``, ``"report"`` or ``"html"``
        (see :data:`OUTPUT_FORMATS`).
    name
        The parameter that gave the path, for the message.

    Raises
    ------
    RasterclassIOError
        The file name ends otherwise.

    Examples
    --------
    >>> check_output_format("points.gpkg", "vector")
    >>> try:
    ...     check_output_format("points.csv", "vector")
    ... except RasterclassIOError as exc:
    ...     print(str(exc).split(";")[0])
    output=points.csv: a vector file is written as .gpkg, .shp, .geojson, .json or .fgb
    """
    if path is None:
        return
    allowed = OUTPUT_FORMATS[kind]
    if Path(path).suffix.lower() not in allowed:
        raise RasterclassIOError(
            f"{param(name, path)}: a {kind} file is written as {', '.join(allowed[:-1])} or "
            f"{allowed[-1]}; name it with one of these endings"
        )


def check_writable(
    outputs: Mapping[str, PathLike | None] | Sequence[PathLike | None],
    overwrite: bool = False,
    *,
    inputs: Mapping[str, Any] | None = None,
    rasters: Collection[str] = (),
) -> None:
    """Check a run's outputs before anything is read or written; create missing folders.

    Parameters
    ----------
    outputs
        Output paths by the name of the parameter that gave them (``{"output": ...,
        "probabilities": ...}``), or a plain sequence; ``None`` entries are skipped.
    overwrite
        Whether existing outputs may be replaced.
    inputs
        The run's inputs by what they are (``{"scene file": paths, "model file": path}``):
        paths, sequences of paths, scenes or segment rasters opened by rasterclass (their
        source files), or in-memory data (ignored).
    rasters
        Names in ``outputs`` written as GeoTIFFs: named ``.tif`` or ``.tiff`` (see
        :func:`check_output_format`), with ``.aux.xml`` and ``.qml`` sidecars written too
        (see :func:`output_files`).

    Raises
    ------
    OutputCollisionError
        An output (or a file written beside it) is an input or its sidecar, or two outputs
        write the same file. ``overwrite`` never allows this: it only replaces files of
        earlier runs.
    OutputExistsError
        An output exists and ``overwrite`` is false, or the QGIS style (``STEM.qml``) a
        raster output would replace or remove.
    RasterclassIOError
        A raster output is not named ``.tif`` or ``.tiff``.
    """
    named: list[tuple[str, str]] = (
        [(k, str(v)) for k, v in outputs.items() if v is not None]
        if isinstance(outputs, Mapping)
        else [("output", str(v)) for v in outputs if v is not None]
    )
    parts = [(role, pair) for role, value in (inputs or {}).items() for pair in input_files(value)]
    # (entry index, output name, output path, file written)
    written = [
        (i, name, path, f)
        for i, (name, path) in enumerate(named)
        for f in output_files(path, raster=name in rasters)
    ]
    for _, name, path, f in written:
        for role, (main, part) in parts:
            if not _same_file(f, part):
                continue
            what = f"the {role} {main}" if part == main else f"{part} of the {role} {main}"
            beside = "" if f == path else f" (it writes {f} beside it)"
            raise OutputCollisionError(
                f"{param(name)} {path} would replace {what}{beside}; an output never replaces "
                f"an input, not even with {param('overwrite', True)}: choose another path"
            )
    for k, (i, name, _, f) in enumerate(written):
        for j, other, _, g in written[k + 1 :]:
            if i == j or not _same_file(f, g):
                continue
            both = f"{param(name)} and {param(other)}" if name != other else "two outputs"
            raise OutputCollisionError(f"{both} both write {f}; give each output its own path")
    for name, path in named:  # after the collisions: the graver mistake is named first
        if name in rasters:
            check_output_format(path, "raster", name)
    for name, path in named:
        if os.path.exists(path) and not overwrite:
            raise OutputExistsError(
                f"{path} already exists; pass {param('overwrite', True)} or choose another path"
            )
        style = str(Path(path).with_suffix(".qml"))
        if name in rasters and os.path.exists(style) and not overwrite:
            # a QGIS style is the user's work too: the writer replaces or removes it
            raise OutputExistsError(
                f"{style} already exists (a QGIS style beside {param(name)} {path}, which "
                f"QGIS would apply to the new raster); pass {param('overwrite', True)} to "
                "replace it, or choose another path"
            )
    for _name, path in named:
        parent = Path(path).resolve().parent
        if not parent.is_dir():
            logger.info("creating folder %s", parent)
            parent.mkdir(parents=True, exist_ok=True)


def temporary_path(path: PathLike, suffix: str = "") -> str:
    p = Path(path)
    return str(p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}.tmp{suffix}"))


@contextlib.contextmanager
def atomic_write(
    path: PathLike, suffix: str = "", cleanup: Callable[[str], None] | None = None
) -> Iterator[str]:
    """Write one output under a temporary name beside ``path``, renamed when complete.

    Yields the temporary path to write (``suffix`` appended, so writers that go by the
    extension see it). When the block ends, the temporary file replaces ``path``; on any
    error (``KeyboardInterrupt`` included) the temporary file is removed, or ``cleanup(tmp)``
    is called when given, and the error is raised again, so a failure never leaves a half
    file.
    """
    tmp = temporary_path(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if cleanup is None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
        else:
            cleanup(tmp)
        raise
