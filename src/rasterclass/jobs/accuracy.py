"""Jobs on a finished map: assess its accuracy, its class areas, draw a sample design, render
a quicklook.

This module owns :func:`assess_map` (assess a map against reference data and write the
report), :func:`areas_map` (class areas, error-adjusted with a labelled sample, written as a
table), :func:`sample_map` (draw stratified sample points and write them) and
:func:`quicklook_map` (render a map with its legend to a figure file).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Unpack

from rasterclass.accuracy.areas import class_areas
from rasterclass.accuracy.assess import AssessOptions, assess
from rasterclass.accuracy.draw import SampleOptions, draw_sample
from rasterclass.accuracy.report import AccuracyReport
from rasterclass.io import (
    PathLike,
    check_output_format,
    check_writable,
    write_figure,
    write_vector,
)
from rasterclass.jobs.provenance import recorded
from rasterclass.jobs.training import write_report
from rasterclass.plot import quicklook

if TYPE_CHECKING:  # annotations only
    import geopandas as gpd


@recorded("map_path", "reference", "strata")
def assess_map(
    map_path: PathLike,
    reference: Any,
    class_column: str,
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    **options: Unpack[AssessOptions],
) -> AccuracyReport:
    """Assess a map (see :func:`rasterclass.assess`) and write the report.

    Parameters
    ----------
    map_path
        A class map (0 = nodata), e.g. from :func:`rasterclass.predict`.
    reference
        Reference polygons or sample points (path or GeoDataFrame), in any CRS.
    class_column
        The reference class column: names (matched to the map's class names) or codes.
    output
        Also write the report here, in the format its extension names (``.json``,
        ``.md`` or ``.csv``).
    overwrite
        Replace an existing output.
    **options
        Passed to :func:`rasterclass.assess` (:class:`~rasterclass.accuracy.assess.
        AssessOptions`): ``design``, ``strata``, ``fpc``, ``fit_diagnostic``, ``layer``,
        ``chunks``.

    Returns
    -------
    rasterclass.AccuracyReport
        The confusion matrix (pixel or sample counts), overall, user's and producer's
        accuracies with standard errors and, for a probability sample, area estimates
        (in the map's CRS units squared).

    Raises
    ------
    AccuracyError
        Reference names cannot be matched (a map without class names), an unknown
        ``design``, a stratified design given polygons (not a probability sample), a
        ``strata`` raster off the map's grid or with nodata under sample points, or an
        ``output`` extension other than ``.json``, ``.md``, ``.csv``.
    OptionConflictError
        ``strata`` or ``fpc`` without ``design="stratified"`` (checked before any work).
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    TrainingDataError
        The class column is missing, or no reference pixel falls on the map.
    CRSError
        The reference has no CRS.
    RasterclassIOError
        The map or the reference file does not exist or cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, rasterio, xarray as xr, rioxarray
    >>> import rasterclass as rc
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> classes = xr.DataArray(np.repeat([[2, 2, 2, 2, 1, 1, 1, 1]], 8, axis=0).astype("uint8"),
    ...                        dims=("y", "x"))  # 8 x 8 px of 10 m: water left, forest right
    >>> classes = classes.rio.write_crs("EPSG:32633").rio.write_transform(
    ...     rasterio.Affine(10, 0, 0, 0, -10, 80))
    >>> map_path = rc.write_map(classes, folder / "map.tif",
    ...                         rc.ClassMap.from_codes([1, 2], ["forest", "water"]))
    >>> from rasterclass.datasets import example_training
    >>> reference = example_training()  # water (x 0-30 m) and forest (x 50-80 m) boxes
    >>> report = rc.assess_map(map_path, reference, "class", output=folder / "report.json")
    >>> report.confusion.overall_accuracy, int(report.confusion.n)
    (1.0, 48)
    """
    inputs = {"reference data": reference, "strata raster": options.get("strata")}
    return _map_job(
        lambda: assess(map_path, reference, class_column, **options),
        write_report,
        map_path,
        output,
        overwrite,
        inputs,
        kind="report",
    )


@recorded("map_path", "sample")
def areas_map(
    map_path: PathLike,
    sample: Any = None,
    reference_column: str = "reference",
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    layer: str | None = None,
    chunks: int | None = None,
) -> Any:
    """Class areas of a map (see :func:`rasterclass.class_areas`), written as a table.

    Parameters
    ----------
    map_path
        A class map (0 = nodata).
    sample, reference_column, layer, chunks
        See :func:`rasterclass.class_areas` for the optional labelled stratified random
        sample of points (strata = the map classes) that gives error-adjusted areas
        (Olofsson et al. 2014), its reference class column, the layer of a multi-layer
        sample file and the chunk side for reading the map.
    output
        Also write the table here, in the format its extension names (``.csv``, ``.md``
        or ``.json``; the JSON keys are those of :meth:`ClassAreas.to_dict`).
    overwrite
        Replace an existing output.

    Returns
    -------
    rasterclass.accuracy.areas.ClassAreas
        Pixels (int64), hectares and share per class; with a sample the adjusted areas,
        standard errors and 95 % intervals, and the sample count per stratum.

    Raises
    ------
    RasterclassIOError
        ``output`` not named ``.csv``, ``.md`` or ``.json``; the map or sample unreadable.
    OutputExistsError
        ``output`` exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        ``output`` is the map or the sample file.
    TrainingDataError
        The reference column is missing, or no sample point falls on the map.
    AccuracyError
        Unlabelled sample points, non-point geometries, or a mapped class without samples.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_map
    >>> map_path = example_map()  # 4 x 4 px of 10 m: forest (left), water (right)
    >>> areas = rc.areas_map(map_path, output=pathlib.Path(map_path).parent / "areas.csv",
    ...                      overwrite=True)
    >>> areas.to_dict()["total_ha"]
    0.16
    """
    return _map_job(
        lambda: class_areas(map_path, sample, reference_column, layer=layer, chunks=chunks),
        write_report,
        map_path,
        output,
        overwrite,
        {"sample": sample},
        kind="report",
    )


@recorded("map_path", "training")
def sample_map(
    map_path: PathLike,
    *,
    output: PathLike | None = None,
    overwrite: bool = False,
    **options: Unpack[SampleOptions],
) -> gpd.GeoDataFrame:
    """Draw sample points (see :func:`rasterclass.draw_sample`) and write them.

    Parameters
    ----------
    map_path
        A class map (0 = nodata): its classes are the strata.
    output
        Also write the points here (GeoPackage, shapefile, GeoJSON...), with an empty
        reference column to fill in.
    overwrite
        Replace an existing output.
    **options
        Passed to :func:`rasterclass.draw_sample` (:class:`~rasterclass.accuracy.draw.
        SampleOptions`): ``n`` (total sample size) or
        ``target_se``, ``expected_ua``, ``default_ua``, ``allocation``, ``seed``,
        ``training`` (pixels to avoid), ``min_distance`` (map units),
        ``reference_column``.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per sample at its pixel's centre, in the map's CRS: ``id``,
        ``map_code``, ``map_class``, ``stratum``, ``row``, ``col`` and the empty reference
        column.

    Raises
    ------
    AccuracyError
        A map without mapped pixels, or an invalid sample size, allocation, target
        standard error or expected accuracy.
    OptionConflictError
        Both ``n`` and ``target_se``, ``expected_ua`` without ``target_se``, ``training``
        without ``min_distance`` or the other way round (checked before any work).
    OutputExistsError
        An output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        An output is also an input of the run, or another output.
    RasterclassIOError
        ``map_path`` does not exist or cannot be read.

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_map
    >>> map_path = example_map()  # 4 x 4 px of 10 m: forest (left), water (right)
    >>> folder = pathlib.Path(map_path).parent
    >>> points = rc.sample_map(map_path, n=6, seed=0, output=folder / "points.gpkg")
    >>> points["map_class"].value_counts().sort_index().to_dict()
    {'forest': 3, 'water': 3}
    >>> sorted(p.name for p in folder.iterdir() if p.suffix == ".gpkg")
    ['points.gpkg']
    """
    inputs = {"training file": options.get("training")}
    return _map_job(
        lambda: draw_sample(map_path, **options),
        write_vector,
        map_path,
        output,
        overwrite,
        inputs,
        kind="vector",
    )


@recorded("map_path")
def quicklook_map(map_path: PathLike, output: PathLike, *, overwrite: bool = False) -> str:
    """Render a map file (legend, class colours) to a PNG/PDF/SVG."""
    check_writable({"output": output}, overwrite, inputs={"map": map_path})
    check_output_format(output, "figure")
    figure = quicklook(map_path)
    return write_figure(figure, output, overwrite=overwrite)


def _map_job(
    run: Callable[[], Any],
    write: Callable[..., Any],
    map_path: PathLike,
    output: PathLike | None,
    overwrite: bool,
    inputs: Mapping[str, Any],
    kind: str | None = None,
) -> Any:
    """Check ``output`` against the map and the other inputs (and its name against the
    formats of ``kind``), ``run()``, and write the result to ``output``
    (``write(result, output, overwrite=...)``) when given."""
    check_writable({"output": output}, overwrite, inputs={"map": map_path, **inputs})
    if kind is not None:
        check_output_format(output, kind)
    result = run()
    if output is not None:
        write(result, output, overwrite=overwrite)
    return result
