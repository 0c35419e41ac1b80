"""Second date, crop damage truth, field and district polygons of the sample data (issue 14).

Called by ``make_sample_data.py`` after the first-date files are written; it draws from its own
random stream (``default_rng([SEED, 2])``) so that those files do not change.

Outputs
-------
scene_t2.tif      6-band uint16 scene of 2024-07-03, a 400 x 400 window of the same 30 m grid as
                  ``scene.tif`` (taken 2024-06-12): crop phenology, a few damaged fields, a
                  harvested field, another cloud, other illumination, haze and noise.
damage_truth.tif  uint8 on the same window: 0 = nodata (either date) or not in a field,
                  1 = field, not damaged, 2 = field, damaged.
fields.gpkg       layer ``fields``: the crop fields inside the window (EPSG:32633, pixel edges),
                  columns ``field_id``, ``crop``.
field_damage.csv  the truth per field: ``field_id, crop, event, valid_px, damaged_px,
                  damaged_share, area_ha, damaged_ha``.
districts.gpkg    layer ``districts``: 8 districts covering the whole scene (EPSG:4326),
                  columns ``district_id``, ``district``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
from make_sample_data import (
    BANDS,
    BARE_SOIL,
    CROPLAND,
    CRS,
    GV,
    HEIGHT,
    NPV,
    PIXEL,
    SEED,
    SENSOR_NOISE,
    SOIL,
    STRESSED,
    WAT,
    WAVELENGTHS_UM,
    WIDTH,
    X0,
    Y0,
    blob,
    raster_profile,
    to_dn,
)
from rasterio import features
from rasterio.transform import from_origin
from scipy import ndimage
from shapely import voronoi_polygons
from shapely.geometry import MultiPoint, box, shape

ROW0, COL0, SIZE = 560, 460, 400  # the second date's window of the scene grid
WIN = (slice(ROW0, ROW0 + SIZE), slice(COL0, COL0 + SIZE))
WIN_TRANSFORM = from_origin(X0 + COL0 * PIXEL, Y0 - ROW0 * PIXEL, PIXEL, PIXEL)
DATE_T1, DATE_T2 = "2024-06-12", "2024-07-03"
THRESHOLD = -0.15  # the baseline dNDVI threshold reported in the README

# crop: (probability, gv -> npv senescence range, soil -> gv green-up range) between the dates
CROPS = {
    "winter_wheat": (0.30, (0.04, 0.10), (0.0, 0.0)),
    "spring_barley": (0.15, (0.03, 0.08), (0.0, 0.0)),
    "rapeseed": (0.15, (0.06, 0.12), (0.0, 0.0)),
    "maize": (0.25, (0.0, 0.0), (0.03, 0.08)),
    "sugar_beet": (0.15, (0.0, 0.0), (0.02, 0.06)),
}
# damaged canopy fractions (gv, npv, soil, water) and soil brightness per event
EVENTS = {
    "hail": ((0.10, 0.45, 0.30, 0.00), 1.00),
    "flood": ((0.05, 0.15, 0.45, 0.20), 0.65),
    "drought": ((0.15, 0.45, 0.30, 0.00), 1.05),
    "harvested": ((0.08, 0.55, 0.30, 0.00), 1.00),  # stubble: not damage, but looks like it
}
N_FULL, N_PARTIAL = 7, 13
DISTRICTS = (
    ("Stare Mesto", (400, 480)),  # three town quarters (the town centre is set from the river)
    ("Nove Mesto", (400, 480)),
    ("Podoli", (400, 480)),
    ("Horni Les", (130, 180)),
    ("Lesni Vrch", (170, 800)),
    ("Rybniky", (780, 220)),
    ("Polabi", (820, 560)),
    ("Vychodni Pole", (600, 860)),
)


def smooth(rng: np.random.Generator, sigma: float, shape: tuple[int, int]) -> np.ndarray:
    """Zero-mean unit-variance smooth Gaussian noise of the given shape."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (field - field.mean()) / field.std()


def spectrum(fractions: tuple[float, ...], soil_bright: float = 1.0) -> np.ndarray:
    """Reflectance (bands) of endmember fractions (gv, npv, soil, water)."""
    gv, npv, soil, water = fractions
    return gv * GV + npv * NPV + soil * SOIL * soil_bright + water * WAT


def make_fields(lc: np.ndarray, segment: np.ndarray) -> tuple[np.ndarray, list]:
    """Field id raster of the window (0 = none) and the field polygons (map coordinates).

    A field is a connected piece of one crop parcel (cropland or stressed cropland) that lies
    wholly inside the window and has at least 20 pixels.
    """
    seg, crop = segment[WIN], np.isin(lc[WIN], (CROPLAND, STRESSED))
    polygons = []
    for geom, _ in features.shapes(seg, mask=crop, connectivity=4, transform=WIN_TRANSFORM):
        poly = shape(geom)
        x0, y0, x1, y1 = poly.bounds
        inside = x0 > WIN_TRANSFORM.c and x1 < WIN_TRANSFORM.c + SIZE * PIXEL
        inside &= y1 < WIN_TRANSFORM.f and y0 > WIN_TRANSFORM.f - SIZE * PIXEL
        if inside and poly.area >= 20 * PIXEL**2:
            polygons.append(poly)
    ids = features.rasterize(
        ((p, i) for i, p in enumerate(polygons, start=1)),
        out_shape=(SIZE, SIZE),
        transform=WIN_TRANSFORM,
        dtype="int32",
    )
    return ids, polygons


def damage_mask(
    rng: np.random.Generator, field: np.ndarray, pattern: str, share: float
) -> np.ndarray:
    """Damaged part of a field (bool, same shape): a hail swath, a flooded low spot or patches."""
    rr, cc = np.nonzero(field)
    if pattern == "full":
        return field.copy()
    if pattern == "hail":  # a straight swath across the field
        angle = rng.uniform(0, np.pi)
        score = rr * np.cos(angle) + cc * np.sin(angle)
        lo = rng.uniform(0, 1 - share)
        ranks = np.argsort(np.argsort(score, kind="stable"), kind="stable") / score.size
        hit = (ranks >= lo) & (ranks < lo + share)
    else:
        if pattern == "flood":  # the lowest part around a random point, slightly ragged
            k = rng.integers(rr.size)
            noise = smooth(rng, 2.0, field.shape)[rr, cc]
            score = np.hypot(rr - rr[k], cc - cc[k]) + 1.5 * noise
        else:  # drought: patches where the soil holds less water
            score = -smooth(rng, 2.5, field.shape)[rr, cc]
        hit = np.zeros(rr.size, bool)
        hit[np.argsort(score, kind="stable")[: round(share * rr.size)]] = True
    out = np.zeros_like(field)
    out[rr[hit], cc[hit]] = True
    return out


def second_date(
    rng: np.random.Generator,
    lc: np.ndarray,
    segment: np.ndarray,
    nodata: np.ndarray,
    refl: np.ndarray,
    fields: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    """Reflectance of the second date, its nodata, the damage mask and the per-field truth."""
    shape2 = (SIZE, SIZE)
    n_fields = int(fields.max())
    names = list(CROPS)
    crops = rng.choice(len(names), n_fields, p=[c[0] for c in CROPS.values()])
    field_class = ndimage.maximum(lc[WIN], fields, np.arange(1, n_fields + 1)).astype(int)

    # phenology: senescence (gv -> npv) of cereals and rapeseed, green-up (soil -> gv) of
    # maize and beet; stressed fields dry further; some bare parcels green up (catch crop)
    dg, gu = np.zeros(n_fields + 1), np.zeros(n_fields + 1)
    for i, k in enumerate(crops, start=1):
        _, sen, grow = CROPS[names[k]]
        dg[i] = rng.uniform(*sen) + (
            rng.uniform(0.02, 0.08) if field_class[i - 1] == STRESSED else 0
        )
        gu[i] = rng.uniform(*grow)
    seg = segment[WIN]
    bare = lc[WIN] == BARE_SOIL
    bare_ids = np.unique(seg[bare])
    sown = bare_ids[rng.random(bare_ids.size) < 0.25]
    gu_bare = np.zeros(shape2)
    hit = bare & np.isin(seg, sown)
    gu_bare[hit] = rng.uniform(0.05, 0.15, sown.size)[np.searchsorted(sown, seg[hit])]
    ripening = np.clip(1.0 + 0.2 * smooth(rng, 3.0, shape2), 0.0, None)  # uneven within fields
    sen_px, grow_px = dg[fields] * ripening, gu[fields] + gu_bare
    out = refl[:, WIN[0], WIN[1]].copy()
    for b in range(len(BANDS)):
        delta = sen_px * (NPV[b] - GV[b]) + grow_px * (GV[b] - SOIL[b])
        out[b] += ndimage.gaussian_filter(delta, 0.55, mode="reflect")

    # another cloud with its shadow, and dropped pixels
    nodata2 = nodata[WIN].copy()
    (cr, cc), cloud = blob(rng, (90.0, 300.0), (10.0, 7.0), wobble=0.3)
    nodata2[cr, cc] |= cloud
    nodata2[cr.start + 12 : cr.stop + 12, cc.start - 16 : cc.stop - 16] |= cloud  # shadow
    drop = rng.integers(0, SIZE, size=(12, 2))
    nodata2[drop[:, 0], drop[:, 1]] = True

    # events: damage on healthy cropland fields wholly valid on both dates, one harvest
    either = nodata2 | nodata[WIN]
    blocked = ndimage.maximum(either, fields, np.arange(1, n_fields + 1)).astype(bool)
    sizes = np.bincount(fields.ravel(), minlength=n_fields + 1)[1:]
    rape = np.array([names[k] == "rapeseed" for k in crops])
    ok = ~blocked & (sizes >= 250) & (field_class == CROPLAND)
    harvested = rng.choice(np.flatnonzero(ok & rape & (sizes < 500))) + 1
    candidates = np.flatnonzero(ok & (np.arange(n_fields) + 1 != harvested)) + 1
    chosen = rng.choice(candidates, N_FULL + N_PARTIAL, replace=False)
    event = {int(harvested): ("harvested", "full", 1.0)}
    for j, fid in enumerate(chosen):
        if j < N_FULL:
            event[int(fid)] = (str(rng.choice(["hail", "flood"])), "full", 1.0)
        else:
            cause = str(rng.choice(["hail", "flood", "drought"]))
            event[int(fid)] = (cause, cause, round(float(rng.uniform(0.2, 0.7)), 2))

    damaged = np.zeros(shape2, bool)
    weight = np.zeros(shape2)
    kind = np.zeros(shape2, np.int8)  # index into EVENTS (+1)
    wobble = 0.08 * smooth(rng, 2.0, shape2)
    for fid, (cause, pattern, share) in sorted(event.items()):
        mask = damage_mask(rng, fields == fid, pattern, share)
        severity = 0.9 if cause == "harvested" else rng.uniform(0.6, 0.95)
        weight[mask] = np.clip(severity + wobble[mask], 0.4, 1.0)
        kind[mask] = list(EVENTS).index(cause) + 1
        if cause != "harvested":
            damaged |= mask
    # damaged spectra, mixed in through the point-spread function (so edges are mixed pixels)
    near = ndimage.distance_transform_edt(kind == 0, return_distances=False, return_indices=True)
    kind = kind[near[0], near[1]]
    w = ndimage.gaussian_filter(weight, 0.55, mode="constant")
    for e, (fractions, soil_bright) in enumerate(EVENTS.values(), start=1):
        sel = (kind == e) & (w > 1e-3)
        jitter = 1 + 0.08 * rng.standard_normal((len(BANDS), int(sel.sum())))
        target = spectrum(fractions, soil_bright)[:, None] * jitter
        out[:, sel] = (1 - w[sel]) * out[:, sel] + w[sel] * target

    # radiometry of the other date: illumination, band gains, haze and sensor noise
    illumination = 1.0 + 0.02 * smooth(rng, 60, shape2)
    gains = 1.0 + rng.normal(0.0, 0.01, len(BANDS))
    haze = 0.003 * (1.0 + smooth(rng, 100, shape2))
    for b, haze_weight in enumerate((1.0, 0.6, 0.35, 0.1, 0.0, 0.0)):
        out[b] = out[b] * illumination * gains[b] + haze_weight * haze
        out[b] += rng.normal(0.0, 0.7 * SENSOR_NOISE[b], shape2)

    valid = ~either
    rows = []
    for fid in range(1, n_fields + 1):
        in_field = (fields == fid) & valid
        n_dam = int((in_field & damaged).sum())
        n_px = int(in_field.sum())
        cause = event.get(fid, ("none",))[0]
        rows.append(
            {
                "field_id": fid,
                "crop": names[crops[fid - 1]],
                "event": cause,
                "valid_px": n_px,
                "damaged_px": n_dam,
                "damaged_share": round(n_dam / n_px, 4) if n_px else 0.0,
                "area_ha": round(n_px * PIXEL**2 / 1e4, 2),
                "damaged_ha": round(n_dam * PIXEL**2 / 1e4, 2),
            }
        )
    return out, nodata2, damaged, rows


def make_districts(centre_col: np.ndarray) -> gpd.GeoDataFrame:
    """Eight district polygons (Voronoi cells) covering the scene, three of them town quarters."""
    town = np.array([430.0, float(centre_col[430]) + 35.0])
    seeds = []
    for i, (_, rc) in enumerate(DISTRICTS):
        if i < 3:  # the town quarters meet near the town centre
            a = 2 * np.pi * i / 3 + 0.4
            rc = town + 60 * np.array([np.sin(a), np.cos(a)])
        seeds.append((X0 + rc[1] * PIXEL, Y0 - rc[0] * PIXEL))
    margin = 600.0
    extent = box(
        X0 - margin, Y0 - HEIGHT * PIXEL - margin, X0 + WIDTH * PIXEL + margin, Y0 + margin
    )
    cells = voronoi_polygons(MultiPoint(seeds), extend_to=extent).geoms
    geoms = []
    for x, y in seeds:
        cell = next(c for c in cells if c.contains(shape({"type": "Point", "coordinates": (x, y)})))
        geoms.append(cell.intersection(extent).segmentize(500.0))
    gdf = gpd.GeoDataFrame(
        {
            "district_id": np.arange(1, len(DISTRICTS) + 1, dtype=np.int32),
            "district": [name for name, _ in DISTRICTS],
        },
        geometry=geoms,
        crs=CRS,
    ).to_crs("EPSG:4326")
    gdf["geometry"] = gdf.geometry.set_precision(1e-8)
    return gdf


def write_second_date(
    out_dir: Path,
    lc: np.ndarray,
    segment: np.ndarray,
    nodata: np.ndarray,
    refl: np.ndarray,
    centre_col: np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """Write scene_t2.tif, damage_truth.tif, fields.gpkg, field_damage.csv and districts.gpkg.

    Returns the field ids of the window (0 = no field) and the crop of each field.
    """
    rng = np.random.default_rng([SEED, 2])
    fields, polygons = make_fields(lc, segment)
    refl2, nodata2, damaged, rows = second_date(rng, lc, segment, nodata, refl, fields)

    profile = raster_profile(SIZE, SIZE, WIN_TRANSFORM)
    with rasterio.open(
        out_dir / "scene_t2.tif",
        "w",
        count=len(BANDS),
        dtype="uint16",
        interleave="band",
        **profile,
    ) as dst:
        dst.write(to_dn(refl2, nodata2))
        dst.update_tags(
            DESCRIPTION="Synthetic second date (a window of scene.tif's grid) with damaged crop "
            "fields (rasterclass sample data, generated by sample_data/make_second_date.py)",
            SCALE_FACTOR="0.0001",
            UNITS="surface reflectance x 10000",
            ACQUISITION_DATE=DATE_T2,
        )
        for i, (name, wl) in enumerate(zip(BANDS, WAVELENGTHS_UM, strict=True), start=1):
            dst.set_band_description(i, name)
            dst.update_tags(i, name=name, center_wavelength_um=f"{wl:.3f}")

    truth = np.where(fields > 0, 1, 0).astype(np.uint8)
    truth[damaged] = 2
    truth[nodata2 | nodata[WIN]] = 0
    with rasterio.open(
        out_dir / "damage_truth.tif", "w", count=1, dtype="uint8", **{**profile, "predictor": 1}
    ) as dst:
        dst.write(truth, 1)
        dst.set_band_description(1, "damage")
        dst.update_tags(class_1="not_damaged", class_2="damaged")
        dst.write_colormap(1, {0: (0, 0, 0, 0), 1: (240, 216, 74, 255), 2: (200, 40, 30, 255)})

    with open(out_dir / "field_damage.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00.000Z"})
    layers = {
        "fields": gpd.GeoDataFrame(
            {
                "field_id": np.arange(1, len(polygons) + 1, dtype=np.int32),
                "crop": [r["crop"] for r in rows],
            },
            geometry=polygons,
            crs=CRS,
        ),
        "districts": make_districts(centre_col),
    }
    for name, gdf in layers.items():
        path = out_dir / f"{name}.gpkg"
        path.unlink(missing_ok=True)
        gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    report(refl, refl2, nodata, nodata2, truth, rows)
    return fields, [r["crop"] for r in rows]


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    return (nir - red) / np.maximum(nir + red, 1e-6)


def report(
    refl: np.ndarray,
    refl2: np.ndarray,
    nodata: np.ndarray,
    nodata2: np.ndarray,
    truth: np.ndarray,
    rows: list[dict],
) -> None:
    """Print the truth and how a plain dNDVI threshold does (the figures of the README)."""
    red, nir = BANDS.index("red"), BANDS.index("nir")
    t1 = np.rint(refl[:, WIN[0], WIN[1]] * 1e4)
    t2 = np.rint(refl2 * 1e4)
    d = ndvi(t2[red], t2[nir]) - ndvi(t1[red], t1[nir])
    found = d < THRESHOLD
    dam = truth == 2
    n_full = sum(r["damaged_share"] == 1.0 for r in rows)
    n_part = sum(0 < r["damaged_share"] < 1.0 for r in rows)
    print(f"fields: {len(rows)}, damaged fully: {n_full}, partly: {n_part}")
    print(f"damaged: {int(dam.sum())} px ({dam.sum() * PIXEL**2 / 1e4:.2f} ha)")
    in_fields = truth > 0
    tp = int((found & dam).sum())
    fp = int((found & in_fields & ~dam).sum())
    valid = ~nodata[WIN] & ~nodata2
    fp_all = int((found & valid & ~dam).sum())
    print(
        f"dNDVI < {THRESHOLD}: finds {tp / dam.sum():.1%} of the damaged area; false damage "
        f"{fp / (tp + fp):.1%} in fields, {fp_all / (tp + fp_all):.1%} over the whole window"
    )
