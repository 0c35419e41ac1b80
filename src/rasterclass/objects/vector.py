"""Vector output: the segments as polygons, one feature per segment.

Owns :func:`segments_to_vector`, which polygonises the segment raster chunk by chunk in exact
integer pixel coordinates, dissolves the pieces of segments cut by chunk edges and joins a
table (features, classes) onto the polygons.
"""

from __future__ import annotations

import logging
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from rasterclass.errors import SegmentationError
from rasterclass.objects._blocks import block_layout, compute_batched

logger = logging.getLogger(__name__)


def _shapes_block(seg: np.ndarray, r0: int, c0: int) -> tuple[list[Any], list[int]]:
    """Polygons of one block in pixel coordinates of the scene (exact integers)."""
    from affine import Affine
    from rasterio.features import shapes
    from shapely.geometry import shape

    s = np.asarray(seg).astype(np.int32)
    geoms, ids = [], []
    for geom, value in shapes(s, mask=s > 0, connectivity=4, transform=Affine.translation(c0, r0)):
        geoms.append(shape(geom))
        ids.append(int(value))
    return geoms, ids


def segments_to_vector(
    segments: xr.DataArray,
    table: pd.DataFrame | None = None,
) -> Any:
    """Polygons of the segments, with the columns of ``table`` (features, class...).

    Polygonised per chunk (:func:`rasterio.features.shapes`, 4-connectivity) in pixel
    coordinates; the pieces of a segment cut by chunk edges share exact integer edges and are
    dissolved by id afterwards, so every segment is one feature (a MultiPolygon when its
    pixels touch only diagonally). All polygons are held in memory.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per segment, ``segment`` column, in the segments' CRS.
    """
    import geopandas as gpd
    import shapely

    data = segments.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=-1)
    layout = block_layout(data.chunks[0], data.chunks[1])
    blocks = data.to_delayed()
    parts = compute_batched(
        [dask.delayed(_shapes_block)(blocks[b.i, b.j], b.r0, b.c0) for b in layout]
    )
    geoms = [g for gs, _ in parts for g in gs]
    ids = np.array([i for _, is_ in parts for i in is_], dtype=np.int64)
    if ids.size and ids.max() >= 2**31:
        raise SegmentationError("segment ids must be < 2**31 to polygonise")
    frame = gpd.GeoDataFrame({"segment": ids}, geometry=geoms)
    counts = frame["segment"].value_counts()
    cut = counts.index[counts > 1]
    single = frame[~frame["segment"].isin(cut)]
    merged = [
        (sid, shapely.union_all(list(group.geometry)))
        for sid, group in frame[frame["segment"].isin(cut)].groupby("segment")
    ]
    logger.info("polygonised %d segments (%d cut by chunk edges, dissolved)", len(counts), len(cut))
    frame = pd.concat(
        [
            single,
            gpd.GeoDataFrame({"segment": [m[0] for m in merged]}, geometry=[m[1] for m in merged]),
        ],
        ignore_index=True,
    ).sort_values("segment")
    t = segments.rio.transform(recalc=True)
    frame = gpd.GeoDataFrame(
        frame[["segment"]].reset_index(drop=True),
        geometry=gpd.GeoSeries(frame.geometry.to_numpy()).affine_transform(
            [t.a, t.b, t.d, t.e, t.c, t.f]
        ),
        crs=segments.rio.crs,
    )
    if table is not None:
        frame = frame.join(table, on="segment")
    return frame
