"""Where to label next, from files to files: :func:`suggest_samples_map` reads a map, its
uncertainty layers (and AOA layers) chunk by chunk and writes the suggested points."""

from __future__ import annotations

from typing import Any

from rasterclass.accuracy.assess import open_map
from rasterclass.errors import GridMismatchError, param
from rasterclass.io import (
    PathLike,
    check_output_format,
    check_writable,
    open_scene,
    write_vector,
)
from rasterclass.jobs.provenance import recorded
from rasterclass.suggestions import suggest_samples


@recorded("map_path", "uncertainty", "aoa")
def suggest_samples_map(
    map_path: PathLike,
    uncertainty: PathLike,
    *,
    aoa: PathLike | None = None,
    n: int = 50,
    min_distance: float | str = 0.0,
    min_per_class: int = 5,
    seed: int = 0,
    output: PathLike | None = None,
    overwrite: bool = False,
) -> Any:
    """Suggest points to label next (:func:`rasterclass.suggestions.suggest_samples`) from a
    map file and its uncertainty (and AOA) GeoTIFFs, and write them.

    Parameters
    ----------
    map_path
        The class map (0 = nodata) written by ``predict``/``classify``.
    uncertainty
        Its uncertainty layers (``--uncertainty``: bands ``margin``, ``entropy``).
    aoa
        Its AOA layers (``--aoa``: bands ``dissimilarity_index``, ``aoa``); optional.
    n, min_per_class, seed
        Number of points, least points per class, seed of the tie-break.
    min_distance
        Least distance between points: map units, or a string with a unit (``300m``,
        ``0.3km``, ``10px``; see :func:`rasterclass.accuracy.draw.parse_distance`).
    output
        Write the points here (GeoPackage, shapefile, GeoJSON), in the map's CRS.
    overwrite
        Replace an existing output.

    Returns
    -------
    geopandas.GeoDataFrame
        The points (see :func:`rasterclass.suggestions.suggest_samples`).

    Raises
    ------
    AccuracyError
        A bad ``n`` or ``min_distance``, or a map without mapped pixels.
    GridMismatchError
        The layers are not on the map's grid.
    OutputExistsError
        The output exists and ``overwrite`` is False (checked before any work).
    OutputCollisionError
        The output is one of the inputs.
    RasterclassIOError
        An input does not exist or cannot be read, or ``output`` is not named as a vector
        file (``.gpkg``, ``.shp``, ``.geojson``, ``.json``, ``.fgb``; checked before any work).

    Examples
    --------
    >>> import pathlib, rasterclass as rc
    >>> from rasterclass.datasets import example_scene, example_training
    >>> folder = pathlib.Path(example_scene()).parent
    >>> _ = rc.classify(folder / "scene.tif", example_training(), "class", folder / "map.tif",
    ...                 rc.TrainingOptions(params={"n_estimators": 10}, cv_folds=0),
    ...                 uncertainty=folder / "u.tif", overwrite=True)
    >>> points = suggest_samples_map(folder / "map.tif", folder / "u.tif", n=4,
    ...                              min_distance="20m", output=folder / "next.gpkg")
    >>> len(points), sorted(set(points["class_name"]))
    (4, ['forest', 'water'])
    """
    inputs = {"map": map_path, "uncertainty file": uncertainty, "aoa file": aoa}
    check_writable({"output": output}, overwrite, inputs=inputs)
    if output is not None:
        check_output_format(output, "vector")
    classes, class_map = open_map(map_path)
    layers = open_scene(uncertainty, unscale=False)
    applicability = open_scene(aoa, unscale=False) if aoa is not None else None
    for path, other in ((uncertainty, layers), (aoa, applicability)):
        if other is not None and (
            other.shape[1:] != classes.shape[1:] or other.rio.transform() != classes.rio.transform()
        ):
            raise GridMismatchError(
                f"{path} is not on the grid of {map_path}: give the layers written with the map "
                f"by predict or classify ({param('uncertainty')}, {param('aoa')})"
            )
    points = suggest_samples(
        classes,
        layers,
        aoa=applicability,
        class_map=class_map,
        n=n,
        min_distance=min_distance,
        min_per_class=min_per_class,
        seed=seed,
    )
    if output is not None:
        write_vector(points, output, overwrite=overwrite)
    return points
