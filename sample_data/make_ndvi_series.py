"""A cloudy NDVI time series of part of the second date's window and its validity mask.

Called by ``make_sample_data.py`` last; it draws from its own random stream
(``default_rng([SEED, 3])``) so that the other files do not change.

Outputs
-------
ndvi_series.tif        int16 NDVI x 10000 (GDAL band scale and dataset tag ``SCALE_FACTOR``
                       0.0001), 200 x 200 pixels of the same grid (rows 710-909, columns
                       560-759 of ``scene.tif``), one band per date, described
                       ``ndvi_YYYY-MM-DD`` (band tag ``DATE``); nodata -32768 where
                       ``scene.tif`` has none. Cloudy pixels hold the (wrong, low) NDVI of the
                       cloud, as a sensor would record it.
ndvi_series_valid.tif  uint8, the same bands: 1 = valid, 0 = cloud, cloud shadow or nodata
                       (like eo-learn's ``IS_VALID``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from make_sample_data import (
    BARE_SOIL,
    CROPLAND,
    FOREST,
    RESIDENTIAL,
    SEED,
    STRESSED,
    URBAN_GREEN,
    WATER,
    raster_profile,
)
from make_second_date import SIZE, WIN, WIN_TRANSFORM, smooth
from rasterio.windows import Window, transform
from scipy import ndimage

DATES = np.array(
    [
        "2024-04-15",
        "2024-05-05",
        "2024-05-25",
        "2024-06-14",
        "2024-07-04",
        "2024-07-24",
        "2024-08-13",
        "2024-09-02",
    ],
    dtype="datetime64[D]",
)
# a 200 x 200 part of the second date's window (its rows 150-349, columns 100-299)
PART = Window(100, 150, 200, 200)
PART_SLICES = PART.toslices()
DOY = (DATES - np.datetime64("2024-01-01")).astype(int) + 1
CLOUD_COVER = (0.30, 0.45, 0.15, 0.55, 0.25, 0.20, 0.40, 0.30)  # share of the window per date

# NDVI curves (day of year -> NDVI) per crop, after central European crop calendars
CURVES = {
    "winter_wheat": ((90, 0.62), (130, 0.84), (160, 0.82), (185, 0.50), (205, 0.22), (250, 0.25)),
    "spring_barley": ((90, 0.18), (120, 0.45), (150, 0.80), (175, 0.70), (195, 0.25), (250, 0.28)),
    "rapeseed": ((90, 0.70), (125, 0.62), (150, 0.70), (175, 0.45), (190, 0.20), (250, 0.40)),
    "maize": ((90, 0.15), (140, 0.18), (165, 0.40), (200, 0.80), (230, 0.85), (250, 0.72)),
    "sugar_beet": ((90, 0.15), (130, 0.22), (160, 0.60), (190, 0.84), (230, 0.85), (250, 0.80)),
}
# the other land covers: (mean NDVI per date as a curve, between-segment sd)
OTHER = {
    WATER: (((90, -0.15), (250, -0.12)), 0.03),
    FOREST: (((90, 0.45), (130, 0.78), (200, 0.84), (250, 0.80)), 0.04),
    URBAN_GREEN: (((90, 0.45), (140, 0.70), (210, 0.60), (250, 0.62)), 0.05),
    RESIDENTIAL: (((90, 0.20), (250, 0.24)), 0.04),
    BARE_SOIL: (((90, 0.14), (180, 0.16), (230, 0.30), (250, 0.35)), 0.04),  # catch crops
}


def curve(points: tuple[tuple[int, float], ...], doy: np.ndarray) -> np.ndarray:
    days, values = zip(*points, strict=True)
    return np.interp(doy, days, values)


def write_ndvi_series(
    out_dir: Path,
    lc: np.ndarray,
    segment: np.ndarray,
    nodata: np.ndarray,
    fields: np.ndarray,
    crops: list[str],
) -> None:
    """Write ndvi_series.tif and ndvi_series_valid.tif on the second date's window."""
    rng = np.random.default_rng([SEED, 3])
    shape2, n_dates = (SIZE, SIZE), DATES.size
    lc_w = lc[WIN]
    seg = np.unique(segment[WIN], return_inverse=True)[1].reshape(shape2)
    n_seg = int(seg.max()) + 1
    seg_class = np.zeros(n_seg, int)
    seg_class[seg.ravel()] = lc_w.ravel()

    # per segment: a curve, shifted by a few days and scaled a little
    shift = rng.normal(0.0, 6.0, n_seg)
    scale = rng.normal(1.0, 0.04, n_seg)
    seg_ndvi = np.zeros((n_dates, n_seg))
    for s in range(n_seg):
        if seg_class[s] in OTHER:
            points, sd = OTHER[seg_class[s]]
            seg_ndvi[:, s] = curve(points, DOY - shift[s]) + rng.normal(0.0, sd)
    # fields follow their crop; stressed fields stay lower; crop pixels outside a field are
    # (like their neighbours) winter wheat
    field_seg = ndimage.maximum(fields, seg, np.arange(n_seg)).astype(int)
    for s in np.flatnonzero(np.isin(seg_class, (CROPLAND, STRESSED))):
        crop = crops[field_seg[s] - 1] if field_seg[s] > 0 else "winter_wheat"
        stress = 0.8 if seg_class[s] == STRESSED else 1.0
        seg_ndvi[:, s] = curve(CURVES[crop], DOY - shift[s]) * scale[s] * stress

    ndvi = seg_ndvi[:, seg]
    for t in range(n_dates):
        ndvi[t] += 0.03 * smooth(rng, 2.0, shape2) + rng.normal(0.0, 0.02, shape2)
    ndvi = ndimage.gaussian_filter(ndvi, (0, 0.55, 0.55), mode="reflect")  # point spread
    high = ndvi > 0.85  # NDVI saturates over dense canopies
    ndvi[high] = 0.85 + 0.1 * np.tanh((ndvi[high] - 0.85) / 0.1)

    # clouds (thresholded smooth noise) with their shadows; the cloud's NDVI is low
    valid = np.ones((n_dates, *shape2), bool)
    for t, cover in enumerate(CLOUD_COVER):
        field = smooth(rng, 9.0, shape2) + 0.5 * smooth(rng, 3.0, shape2)
        cloud = field > np.quantile(field, 1 - cover)
        shadow = np.zeros_like(cloud)
        shadow[10:, :-14] = cloud[:-10, 14:]
        opacity = np.clip((field - np.quantile(field, 1 - cover)) * 3, 0.3, 1.0)
        ndvi[t][cloud] = (1 - opacity[cloud]) * ndvi[t][cloud] + opacity[cloud] * 0.03
        ndvi[t][shadow & ~cloud] *= 0.85
        valid[t] = ~(cloud | shadow)
    rows, cols = PART_SLICES
    nod = nodata[WIN][rows, cols]
    valid = valid[:, rows, cols]
    valid[:, nod] = False
    data = np.clip(np.rint(ndvi[:, rows, cols] * 10_000), -10_000, 10_000).astype(np.int16)
    data[:, nod] = -32768

    part_transform = transform(PART, WIN_TRANSFORM)
    profile = {**raster_profile(PART.width, PART.height, part_transform), "nodata": -32768}
    names = [f"ndvi_{d}" for d in DATES.astype(str)]
    with rasterio.open(
        out_dir / "ndvi_series.tif", "w", count=n_dates, dtype="int16", **profile
    ) as dst:
        dst.write(data)
        dst.scales = (1e-4,) * n_dates  # GDAL's scale: readers get NDVI itself
        dst.update_tags(
            DESCRIPTION="Synthetic cloudy NDVI series of scene_t2.tif's window (rasterclass "
            "sample data, generated by sample_data/make_ndvi_series.py)",
            SCALE_FACTOR="0.0001",
        )
        for i, (name, date) in enumerate(zip(names, DATES.astype(str), strict=True), start=1):
            dst.set_band_description(i, name)
            dst.update_tags(i, DATE=date)
    mask_profile = {**profile, "nodata": None, "predictor": 1}
    with rasterio.open(
        out_dir / "ndvi_series_valid.tif", "w", count=n_dates, dtype="uint8", **mask_profile
    ) as dst:
        dst.write(valid.astype(np.uint8))
        dst.update_tags(DESCRIPTION="1 = valid, 0 = cloud, cloud shadow or nodata")
        for i, (name, date) in enumerate(zip(names, DATES.astype(str), strict=True), start=1):
            dst.set_band_description(i, f"valid_{name[5:]}")
            dst.update_tags(i, DATE=date)
    all_valid = valid.all(axis=0) & ~nod
    print(
        f"NDVI series: {n_dates} dates, valid {valid[:, ~nod].mean():.1%} of the observations, "
        f"{all_valid.sum()} pixels ({all_valid.mean():.1%}) valid on all dates"
    )
