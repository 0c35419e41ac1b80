"""Generate the synthetic Landsat-like demo data set shipped in ``sample_data/``.

Run from anywhere (outputs are written next to this script)::

    python sample_data/make_sample_data.py

Outputs
-------
scene.tif       6-band (blue, green, red, nir, swir1, swir2) uint16 surface reflectance x 10000,
                EPSG:32633, 30 m, 1000 x 1000 pixels, nodata = 0 (slanted scene edges, a masked
                cloud and a few dropped pixels).
truth.tif       uint8 true land cover (codes 1..7, 0 = nodata).
training.gpkg   layer ``training``: training polygons (EPSG:4326), columns ``id``, ``class``.
validation.gpkg layer ``validation``: disjoint validation polygons (EPSG:32633).
legend.csv      ``code,name,color``.

It then calls ``make_second_date.py`` (scene_t2.tif, damage_truth.tif, fields.gpkg,
field_damage.csv, districts.gpkg) and ``make_ndvi_series.py`` (ndvi_series.tif,
ndvi_series_valid.tif); see their docstrings and README.md. ``--out-dir DIR`` writes everything
to DIR instead (the tests regenerate to a temporary folder and compare the bytes).

Everything random is drawn from ``numpy.random.default_rng(SEED)``; with the same numpy, scipy and
GDAL versions the rasters are byte-identical between runs (the GeoPackages use a fixed
``OGR_CURRENT_DATE`` so that they are stable too).

Spectra are built by linear mixing of endmembers (green vegetation, dry vegetation, soil,
impervious surface, water and an implicit zero-reflectance shade), with per-segment (field,
forest stand, neighbourhood, pond, park) variation of the fractions, smooth within-segment
variation, a slight point-spread blur, a residual illumination/haze field and sensor noise.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage
from scipy.spatial import cKDTree
from shapely.geometry import Polygon

OUT_DIR = Path(__file__).resolve().parent
SEED = 20240917

HEIGHT = WIDTH = 1000
PIXEL = 30.0
X0, Y0 = 441_000.0, 5_563_020.0  # upper-left corner (UTM 33N, central Bohemia-like)
CRS = "EPSG:32633"
TRANSFORM = from_origin(X0, Y0, PIXEL, PIXEL)

BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
WAVELENGTHS_UM = (0.482, 0.561, 0.655, 0.865, 1.609, 2.201)  # Landsat 8/9 OLI bands 2-7

CLASSES = (
    "water",
    "forest",
    "cropland",
    "stressed_cropland",
    "urban_green",
    "residential",
    "bare_soil",
)
COLORS = ("#1f78b4", "#1b5e20", "#f0d84a", "#c8782f", "#98df6a", "#d7301f", "#d2b48c")
WATER, FOREST, CROPLAND, STRESSED, URBAN_GREEN, RESIDENTIAL, BARE_SOIL = range(1, 8)
FIELD_CLASSES = (CROPLAND, STRESSED, BARE_SOIL)

# Endmember spectra (surface reflectance, bands blue..swir2); shade is an implicit zero spectrum.
GV = np.array([0.028, 0.068, 0.034, 0.460, 0.220, 0.095])  # green vegetation
NPV = np.array([0.075, 0.105, 0.145, 0.250, 0.370, 0.260])  # dry / senescent vegetation
SOIL = np.array([0.065, 0.095, 0.135, 0.195, 0.295, 0.240])  # agricultural soil
IMP = np.array([0.105, 0.115, 0.125, 0.150, 0.185, 0.165])  # roofs, asphalt, concrete
WAT = np.array([0.050, 0.045, 0.030, 0.012, 0.006, 0.004])  # clear water
ENDMEMBERS = np.stack([GV, NPV, SOIL, IMP, WAT])  # order of the fraction arrays below

# Per class: mean fractions (gv, npv, soil, imp, water), between-segment sd of the fractions,
# within-segment (pixel) sd of the fractions.  The remainder up to 1 is shade.
CLASS_MIX = {
    WATER: ((0.01, 0.00, 0.03, 0.00, 0.94), (0.010, 0.000, 0.020, 0.000, 0.030), 0.012),
    FOREST: ((0.58, 0.04, 0.02, 0.00, 0.00), (0.060, 0.020, 0.010, 0.000, 0.000), 0.045),
    CROPLAND: ((0.78, 0.04, 0.16, 0.00, 0.00), (0.070, 0.020, 0.060, 0.000, 0.000), 0.035),
    STRESSED: ((0.50, 0.20, 0.28, 0.00, 0.00), (0.080, 0.060, 0.070, 0.000, 0.000), 0.045),
    URBAN_GREEN: ((0.62, 0.07, 0.05, 0.12, 0.00), (0.060, 0.030, 0.020, 0.040, 0.000), 0.050),
    RESIDENTIAL: ((0.22, 0.03, 0.05, 0.56, 0.00), (0.070, 0.015, 0.020, 0.070, 0.000), 0.070),
    BARE_SOIL: ((0.05, 0.06, 0.87, 0.00, 0.00), (0.030, 0.040, 0.060, 0.000, 0.000), 0.035),
}
SENSOR_NOISE = np.array([0.0025, 0.0025, 0.0025, 0.0040, 0.0035, 0.0030])

N_TRAIN, N_VALID = 12, 8  # polygons per class


def smooth_noise(rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Spatially autocorrelated Gaussian noise field with zero mean and unit variance."""
    field = ndimage.gaussian_filter(rng.standard_normal((HEIGHT, WIDTH)), sigma, mode="reflect")
    return (field - field.mean()) / field.std()


def blob(
    rng: np.random.Generator,
    centre: tuple[float, float],
    radii: tuple[float, float],
    wobble: float = 0.15,
) -> tuple[tuple[slice, slice], np.ndarray]:
    """Irregular ellipse-like blob: returns the window slices and the mask inside the window."""
    r0, c0 = centre
    angle = rng.uniform(0, np.pi)
    harmonics = np.arange(2, 6)
    amps = wobble * rng.uniform(0.3, 1.0, harmonics.size) / (harmonics - 1)
    phases = rng.uniform(0, 2 * np.pi, harmonics.size)
    extent = int(np.ceil(max(radii) * (1 + 2.1 * wobble))) + 2
    rows = slice(max(int(r0) - extent, 0), min(int(r0) + extent + 1, HEIGHT))
    cols = slice(max(int(c0) - extent, 0), min(int(c0) + extent + 1, WIDTH))
    rr, cc = np.mgrid[rows, cols]
    dr, dc = rr - r0, cc - c0
    u = (dc * np.cos(angle) + dr * np.sin(angle)) / radii[0]
    v = (-dc * np.sin(angle) + dr * np.cos(angle)) / radii[1]
    phi = np.arctan2(v, u)
    edge = 1 + sum(a * np.sin(k * phi + p) for a, k, p in zip(amps, harmonics, phases, strict=True))
    return (rows, cols), np.hypot(u, v) <= edge


def voronoi_cells(rng: np.random.Generator, n_seeds: int) -> np.ndarray:
    """Voronoi partition of the scene (used as forest stands / town neighbourhoods)."""
    seeds = rng.uniform(0, [HEIGHT, WIDTH], size=(n_seeds, 2))
    rr, cc = np.mgrid[0:HEIGHT, 0:WIDTH]
    _, cell = cKDTree(seeds).query(np.column_stack([rr.ravel(), cc.ravel()]))
    return cell.reshape(HEIGHT, WIDTH).astype(np.int32)


def make_fields(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Parcel id map of slightly rotated strips of fields, and a class code per parcel."""
    theta = np.deg2rad(8.0)
    rr, cc = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    u = cc * np.cos(theta) + rr * np.sin(theta)
    v = -cc * np.sin(theta) + rr * np.cos(theta)
    u_edges = np.cumsum(np.r_[u.min() - rng.integers(0, 30), rng.integers(14, 34, 200)])
    strip = np.searchsorted(u_edges, u, side="right") - 1
    parcel = np.zeros((HEIGHT, WIDTH), np.int32)
    next_id = 0
    for s in range(int(strip.max()) + 1):
        in_strip = strip == s
        if not in_strip.any():
            continue
        v_edges = np.cumsum(np.r_[v.min() - rng.integers(0, 40), rng.integers(12, 48, 200)])
        seg = np.searchsorted(v_edges, v[in_strip], side="right") - 1
        parcel[in_strip] = next_id + seg
        next_id += int(seg.max()) + 1
    # compact ids and assign a class per parcel; more stress (drought) towards the east
    _, parcel = np.unique(parcel, return_inverse=True)
    parcel = parcel.reshape(HEIGHT, WIDTH).astype(np.int32)
    n_parcels = int(parcel.max()) + 1
    centre_col = ndimage.mean(cc, parcel, np.arange(n_parcels))
    p_stress = 0.08 + 0.27 * np.asarray(centre_col) / WIDTH
    p_bare = np.full(n_parcels, 0.26)
    draw = rng.random(n_parcels)
    parcel_class = np.where(
        draw < p_stress, STRESSED, np.where(draw < p_stress + p_bare, BARE_SOIL, CROPLAND)
    )
    return parcel, parcel_class.astype(np.uint8)


def river_mask(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Meandering river (north -> south) with an eastern tributary.

    Returns the water mask, the distance to the river bank (inside negative) and the river
    centre column per row (used to place the town).
    """
    centre = np.zeros((HEIGHT, WIDTH), bool)
    halfwidth = np.zeros((HEIGHT, WIDTH))
    p1, p2, p3 = rng.uniform(0, 2 * np.pi, 3)
    wiggle = ndimage.gaussian_filter1d(rng.standard_normal(HEIGHT + 200), 25, mode="reflect")
    wiggle = 18 * wiggle / wiggle.std()
    t = np.arange(-40, HEIGHT + 40, 0.25)
    col = (
        440
        + 115 * np.sin(2 * np.pi * t / 820 + p1)
        + 38 * np.sin(2 * np.pi * t / 240 + p2)
        + np.interp(t, np.arange(-100, HEIGHT + 100), wiggle)
    )
    hw = 2.9 + 0.8 * np.sin(2 * np.pi * t / 310 + p3)
    centre_col = np.interp(np.arange(HEIGHT), t, col)
    # tributary from the east, joining the river around row 700
    join_row = 700
    s = np.linspace(0, 1, 4000)
    trib_col = WIDTH + 20 + (centre_col[join_row] - WIDTH - 20) * s
    trib_row = 590 + (join_row - 590) * s + 30 * np.sin(3 * np.pi * s)
    for rows, cols, width in ((t, col, hw), (trib_row, trib_col, np.full(s.size, 1.3))):
        ri, ci = np.rint(rows).astype(int), np.rint(cols).astype(int)
        ok = (ri >= 0) & (ri < HEIGHT) & (ci >= 0) & (ci < WIDTH)
        centre[ri[ok], ci[ok]] = True
        halfwidth[ri[ok], ci[ok]] = np.maximum(halfwidth[ri[ok], ci[ok]], width[ok])
    dist, (ir, ic) = ndimage.distance_transform_edt(~centre, return_indices=True)
    bank = dist - halfwidth[ir, ic]
    return bank <= 0, bank, centre_col


def make_land_cover(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (land cover codes, segment ids, river centre column per row)."""
    rr, cc = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)

    # 1. agricultural landscape
    parcel, parcel_class = make_fields(rng)
    lc = parcel_class[parcel]

    # 2. forest: large hills in the north-west / north-east plus small woodlots
    hills = (
        1.3 * np.exp(-((rr - 120) ** 2 + (cc - 170) ** 2) / (2 * 230.0**2))
        + 1.1 * np.exp(-((rr - 200) ** 2 + (cc - 820) ** 2) / (2 * 170.0**2))
        + 0.8 * np.exp(-((rr - 930) ** 2 + (cc - 900) ** 2) / (2 * 140.0**2))
    )
    forest_score = smooth_noise(rng, 28) + 2.2 * hills
    woodlots = smooth_noise(rng, 5) > 2.4
    forest = (forest_score > np.quantile(forest_score, 0.80)) | woodlots
    lc[forest] = FOREST

    # 3. river, with riparian forest along its rural stretches
    river, bank, centre_col = river_mask(rng)
    riparian = (bank > 0) & (bank <= 5) & (smooth_noise(rng, 20) > -0.3)
    lc[riparian] = FOREST

    # 4. villages and the town (residential) with parks (urban green)
    town_centre = (430.0, float(centre_col[430]) + 35.0)
    (tr, tc), town_win = blob(rng, town_centre, (125.0, 105.0), wobble=0.18)
    town = np.zeros((HEIGHT, WIDTH), bool)
    town[tr, tc] = town_win
    for centre in ((170, 420), (640, 170), (820, 560), (560, 800), (900, 300), (300, 620)):
        jitter = rng.uniform(-20, 20, 2)
        radius = rng.uniform(11, 19)
        (vr, vc), win = blob(rng, (centre[0] + jitter[0], centre[1] + jitter[1]), (radius, radius))
        town[vr, vc] |= win
    lc[town] = RESIDENTIAL

    parks = np.zeros((HEIGHT, WIDTH), bool)
    # distance to the edge of the main town (parks are placed well inside it)
    town_core = ndimage.distance_transform_edt(np.pad(town_win, 1))[1:-1, 1:-1]
    core_idx = np.flatnonzero(town_core > 18)
    placed: list[tuple[float, float]] = []
    n_parks = 0
    for idx in rng.permutation(core_idx):
        if n_parks == 18:
            break
        pr, pc = divmod(int(idx), town_win.shape[1])
        pr, pc = pr + tr.start, pc + tc.start
        if any(np.hypot(pr - a, pc - b) < 34 for a, b in placed):
            continue
        size = 24.0 if n_parks == 0 else rng.uniform(8, 15)  # one central park
        aspect = rng.uniform(0.6, 1.0)
        (pr_s, pc_s), win = blob(rng, (pr, pc), (size, size * aspect), wobble=0.12)
        parks[pr_s, pc_s] |= win
        placed.append((pr, pc))
        n_parks += 1
    riverside = town & (bank > 0) & (bank <= 5)  # green belt along the river in town
    lc[(parks & town) | riverside] = URBAN_GREEN

    # 5. standing water: a reservoir in the north-eastern hills and fish ponds in the fields
    (wr, wc), win = blob(rng, (175.0, 760.0), (52.0, 25.0), wobble=0.2)
    lake = np.zeros((HEIGHT, WIDTH), bool)
    lake[wr, wc] = win
    n_ponds = 0
    for _ in range(200):
        if n_ponds == 13:
            break
        pr, pc = rng.uniform(560, 960), rng.uniform(90, 420)
        if lc[int(pr), int(pc)] not in FIELD_CLASSES or bank[int(pr), int(pc)] < 30:
            continue
        radius = rng.uniform(7, 14)
        (pr_s, pc_s), win = blob(rng, (pr, pc), (radius, radius * rng.uniform(0.6, 1.0)))
        lake[pr_s, pc_s] |= win
        n_ponds += 1
    lc[river | lake] = WATER

    # segment ids: parcels for fields, Voronoi stands / neighbourhoods, parks and water bodies
    stands = voronoi_cells(rng, 350)
    blocks = voronoi_cells(rng, 1500)
    green_lbl, _ = ndimage.label(lc == URBAN_GREEN)
    water_lbl, _ = ndimage.label(lc == WATER)
    base = np.select(
        [
            np.isin(lc, FIELD_CLASSES),
            lc == FOREST,
            lc == RESIDENTIAL,
            lc == URBAN_GREEN,
        ],
        [parcel, stands, blocks, green_lbl],
        default=water_lbl,
    )
    key = lc.astype(np.int64) * 1_000_000 + base
    _, segment = np.unique(key, return_inverse=True)
    return lc.astype(np.uint8), segment.reshape(HEIGHT, WIDTH).astype(np.int32), centre_col


def make_nodata(rng: np.random.Generator) -> np.ndarray:
    """Slanted scene-footprint margins, a masked cloud and a few dropped pixels."""
    rr, cc = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    ragged = np.round(ndimage.gaussian_filter1d(rng.standard_normal(HEIGHT), 3) * 3)[:, None]
    nodata = (cc < 3 + 0.085 * (HEIGHT - rr) + ragged) | (cc > WIDTH - 4 - 0.075 * rr - ragged)
    (cr, ccs), cloud = blob(rng, (770.0, 655.0), (11.0, 7.0), wobble=0.3)
    nodata[cr, ccs] |= cloud
    drop = rng.integers(0, [HEIGHT, WIDTH], size=(30, 2))
    nodata[drop[:, 0], drop[:, 1]] = True
    return nodata


def make_reflectance(rng: np.random.Generator, lc: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Synthesize surface reflectance (float, bands first) from land cover and segments."""
    n_seg = int(segment.max()) + 1
    seg_class = np.zeros(n_seg, np.uint8)
    seg_class[segment.ravel()] = lc.ravel()

    # per-segment fraction means and modifiers
    frac_mean = np.zeros((5, n_seg))
    within_sd = np.zeros(n_seg)
    leaf = np.ones(n_seg)  # NIR/SWIR scaling of the vegetation endmember (species, crop type)
    soil_bright = rng.normal(1.0, 0.06, n_seg)  # soil moisture / type
    imp_bright = np.ones(n_seg)
    for code, (mean, between, within) in CLASS_MIX.items():
        sel = np.flatnonzero(seg_class == code)
        draws = rng.normal(np.array(mean)[:, None], np.array(between)[:, None], (5, sel.size))
        frac_mean[:, sel] = draws
        within_sd[sel] = within
    for code, lo, hi in ((CROPLAND, 0.92, 1.08), (STRESSED, 0.88, 1.02), (URBAN_GREEN, 0.94, 1.04)):
        sel = seg_class == code
        leaf[sel] = rng.uniform(lo, hi, int(sel.sum()))
    sel = seg_class == FOREST
    conifer = rng.random(int(sel.sum())) < 0.55
    leaf[sel] = np.where(conifer, 0.80, 1.02) + rng.normal(0, 0.035, int(sel.sum()))
    sel = seg_class == BARE_SOIL
    soil_bright[sel] = rng.uniform(0.75, 1.30, int(sel.sum()))  # wet/dark to dry/bright soils
    sel = seg_class == RESIDENTIAL
    imp_bright[sel] = rng.normal(1.0, 0.09, int(sel.sum()))

    # per-pixel fractions: segment mean + smooth and white within-segment variation
    sd = within_sd[segment]
    fractions = np.empty((5, HEIGHT, WIDTH))
    for k in range(5):
        wobble = 0.8 * smooth_noise(rng, 2.0) + 0.6 * rng.standard_normal((HEIGHT, WIDTH))
        fractions[k] = frac_mean[k][segment] + sd * wobble * (frac_mean[k][segment] > 0.005)
    np.clip(fractions, 0.0, 1.0, out=fractions)
    total = fractions.sum(axis=0)
    fractions /= np.maximum(total, 1.0)

    leaf_px = leaf[segment]
    refl = np.empty((len(BANDS), HEIGHT, WIDTH))
    leaf_scale = (0.0, 0.0, 0.0, 1.0, 0.6, 0.4)  # how strongly each band follows `leaf`
    soil_px, imp_px = soil_bright[segment], imp_bright[segment]
    for b in range(len(BANDS)):
        gv = GV[b] * (1.0 + leaf_scale[b] * (leaf_px - 1.0))
        refl[b] = (
            fractions[0] * gv
            + fractions[1] * NPV[b]
            + fractions[2] * SOIL[b] * soil_px
            + fractions[3] * IMP[b] * imp_px
            + fractions[4] * WAT[b]
        )
    del fractions

    # sensor point-spread (mixed pixels at edges), residual illumination and haze, noise
    illumination = 1.0 + 0.025 * smooth_noise(rng, 80)
    haze = 0.004 * (1.0 + smooth_noise(rng, 120)) * (1.0 - (np.arange(WIDTH) / WIDTH))[None, :]
    haze_weight = (1.0, 0.6, 0.35, 0.1, 0.0, 0.0)
    for b in range(len(BANDS)):
        band = ndimage.gaussian_filter(refl[b], 0.55, mode="reflect") * illumination
        band += haze_weight[b] * haze
        band += rng.normal(0.0, SENSOR_NOISE[b], (HEIGHT, WIDTH))
        refl[b] = band
    return refl


def raster_profile(width: int = WIDTH, height: int = HEIGHT, transform=TRANSFORM) -> dict:
    """GeoTIFF creation options shared by every raster of the sample data."""
    return {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "crs": CRS,
        "transform": transform,
        "nodata": 0,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 2,
        "zlevel": 9,
    }


def to_dn(refl: np.ndarray, nodata: np.ndarray) -> np.ndarray:
    """Reflectance -> uint16 x 10000 (valid pixels >= 1), 0 where ``nodata``."""
    dn = np.clip(np.rint(refl * 10_000), 1, 10_000).astype(np.uint16)
    dn[:, nodata] = 0
    return dn


def write_rasters(out_dir: Path, refl: np.ndarray, truth: np.ndarray, nodata: np.ndarray) -> None:
    dn = to_dn(refl, nodata)
    profile = raster_profile()
    with rasterio.open(
        out_dir / "scene.tif", "w", count=len(BANDS), dtype="uint16", interleave="band", **profile
    ) as dst:
        dst.write(dn)
        dst.update_tags(
            DESCRIPTION="Synthetic Landsat 8/9 OLI-like surface reflectance scene (rasterclass "
            "sample data, generated by sample_data/make_sample_data.py)",
            SCALE_FACTOR="0.0001",
            UNITS="surface reflectance x 10000",
        )
        for i, (name, wl) in enumerate(zip(BANDS, WAVELENGTHS_UM, strict=True), start=1):
            dst.set_band_description(i, name)
            dst.update_tags(i, name=name, center_wavelength_um=f"{wl:.3f}")

    truth = truth.copy()
    truth[nodata] = 0
    with rasterio.open(
        out_dir / "truth.tif", "w", count=1, dtype="uint8", **{**profile, "predictor": 1}
    ) as dst:
        dst.write(truth, 1)
        dst.set_band_description(1, "land_cover")
        dst.update_tags(**{f"class_{i}": name for i, name in enumerate(CLASSES, start=1)})
        colormap = {0: (0, 0, 0, 0)}
        for i, color in enumerate(COLORS, start=1):
            colormap[i] = (*(int(color[j : j + 2], 16) for j in (1, 3, 5)), 255)
        dst.write_colormap(1, colormap)


def sample_polygons(
    rng: np.random.Generator, truth: np.ndarray, segment: np.ndarray, nodata: np.ndarray
) -> list[tuple[int, Polygon]]:
    """Polygons (pixel geometry -> map coordinates) inside homogeneous areas of each class.

    Each polygon lies at least 2 pixels inside a pure area of its class, at least 8 pixels from
    the nodata area and at least 8 pixels (6 for the scarce urban green) from every other
    polygon.  For classes with many
    segments (fields, forest stands, neighbourhoods) at most one polygon is drawn per segment so
    that training and validation polygons do not share the same field.
    """
    margin, n_wanted = 2, N_TRAIN + N_VALID
    far_from_nodata = ndimage.distance_transform_edt(~nodata) > 8
    blocked = np.zeros_like(nodata)
    out: list[tuple[int, Polygon]] = []
    for code in range(1, len(CLASSES) + 1):
        pure = ndimage.binary_erosion(truth == code, np.ones((5, 5), bool)) & far_from_nodata
        one_per_segment = code not in (WATER, URBAN_GREEN)
        spacing = 6 if code == URBAN_GREEN else 8
        used_segments: set[int] = set()
        n_found = 0
        for idx in rng.permutation(np.flatnonzero(pure)):
            if n_found == n_wanted:
                break
            r, c = divmod(int(idx), WIDTH)
            if blocked[r, c] or (one_per_segment and int(segment[r, c]) in used_segments):
                continue
            for shrink in (1.0, 0.7, 0.5):
                h = max(3, int(rng.integers(5, 18) * shrink))
                w = max(3, int(min(rng.integers(5, 18), 200 // h) * shrink))
                if h * w < 16:
                    continue
                r0, c0 = r - h // 2, c - w // 2
                win = (
                    slice(max(r0 - margin, 0), r0 + h + margin),
                    slice(max(c0 - margin, 0), c0 + w + margin),
                )
                if (
                    r0 - margin >= 0
                    and c0 - margin >= 0
                    and (truth[win] == code).all()
                    and far_from_nodata[win].all()
                    and not blocked[win].any()
                ):
                    break
            else:
                continue
            if rng.random() < 0.5 or h * w < 40:  # axis-aligned rectangle
                px = [(c0, r0), (c0 + w, r0), (c0 + w, r0 + h), (c0, r0 + h)]
            else:  # irregular star-shaped polygon inscribed in the rectangle
                k = int(rng.integers(5, 9))
                ang = 2 * np.pi * (np.arange(k) + rng.uniform(-0.3, 0.3, k)) / k
                rad = rng.uniform(0.7, 1.0, k)
                px = [
                    (c0 + w / 2 * (1 + f * np.cos(a)), r0 + h / 2 * (1 + f * np.sin(a)))
                    for a, f in zip(ang, rad, strict=True)
                ]
            xy = [(round(X0 + pc * PIXEL, 2), round(Y0 - pr * PIXEL, 2)) for pc, pr in px]
            out.append((code, Polygon(xy)))
            blocked[
                max(r0 - spacing, 0) : r0 + h + spacing, max(c0 - spacing, 0) : c0 + w + spacing
            ] = True
            used_segments.add(int(segment[r, c]))
            n_found += 1
    return out


def write_vectors(
    out_dir: Path, rng: np.random.Generator, polygons: list[tuple[int, Polygon]]
) -> None:
    train: list[tuple[int, Polygon]] = []
    valid: list[tuple[int, Polygon]] = []
    for code in range(1, len(CLASSES) + 1):
        mine = [p for p in polygons if p[0] == code]
        order = rng.permutation(len(mine))
        n_train = min(N_TRAIN, round(len(mine) * N_TRAIN / (N_TRAIN + N_VALID)))
        train += [mine[i] for i in order[:n_train]]
        valid += [mine[i] for i in order[n_train:]]

    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00.000Z"})
    for name, items, crs in (("training", train, "EPSG:4326"), ("validation", valid, CRS)):
        gdf = gpd.GeoDataFrame(
            {
                "id": np.arange(1, len(items) + 1, dtype=np.int32),
                "class": [CLASSES[code - 1] for code, _ in items],
            },
            geometry=[geom for _, geom in items],
            crs=CRS,
        )
        if crs != CRS:
            gdf = gdf.to_crs(crs)
            gdf["geometry"] = gdf.geometry.set_precision(1e-8)
        path = out_dir / f"{name}.gpkg"
        path.unlink(missing_ok=True)
        gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    print(f"training polygons: {len(train)}, validation polygons: {len(valid)}")


def write_legend(out_dir: Path) -> None:
    with open(out_dir / "legend.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["code", "name", "color"])
        for i, (name, color) in enumerate(zip(CLASSES, COLORS, strict=True), start=1):
            writer.writerow([i, name, color])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="default: next to this file")
    out_dir: Path = parser.parse_args(argv).out_dir
    out_dir.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(SEED)
    lc, segment, centre_col = make_land_cover(rng)
    nodata = make_nodata(rng)
    refl = make_reflectance(rng, lc, segment)
    write_rasters(out_dir, refl, lc, nodata)
    truth = np.where(nodata, 0, lc).astype(np.uint8)
    write_vectors(out_dir, rng, sample_polygons(rng, truth, segment, nodata))
    write_legend(out_dir)

    # second date, fields and districts (issue 14): a separate random stream, so that the files
    # above do not change
    from make_ndvi_series import write_ndvi_series
    from make_second_date import write_second_date

    fields, crops = write_second_date(out_dir, lc, segment, nodata, refl, centre_col)
    write_ndvi_series(out_dir, lc, segment, nodata, fields, crops)

    counts = np.bincount(truth.ravel(), minlength=len(CLASSES) + 1)
    print(f"nodata: {counts[0]} px ({counts[0] / truth.size:.1%})")
    for i, name in enumerate(CLASSES, start=1):
        print(f"{i} {name:<18} {counts[i]:>7} px ({counts[i] / truth.size:.1%})")


if __name__ == "__main__":
    main()
