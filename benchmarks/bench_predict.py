"""Benchmark: rasterclass ``predict`` against the naive baseline and the compute / I/O floors.

One command::

    .venv/bin/python benchmarks/bench_predict.py [--size 2800] [--scales 1,4,16] [--trees 100]
        [--workdir DIR] [--skip-naive-above 4] [--chunks N] [--repeat N] [--no-workers]

(about 5 minutes on 2 quiet cores with the defaults; see benchmarks/README.md.)

1. Generates deterministic synthetic scenes (uint16, 6 bands, tiled 256, deflate, nodata 0,
   EPSG:32633) of ``size`` x ``size`` pixels for the 1x scale and ``sqrt(k) * size`` (rounded
   to 8 px) for the kx scales, with spatially structured classes (wavy patches of 8 classes x 3
   spectral sub-types, pixel noise, a slanted nodata edge), and a random forest (the ``rf`` preset:
   ``--trees`` trees, ``random_state=0``) trained on 6000 labelled pixels of the 1x scene,
   saved as a rasterclass model file. Everything is cached in ``--workdir``
   (default ``benchmarks/_data``, gitignored).
2. For every scale, each in its own subprocess (peak RSS = the whole process tree, polled
   every 0.1 s, and each process's high-water mark ``VmHWM``):
   - the I/O floor: reading the scene alone (rasterio, 1024 x 1024 windows);
   - the compute floor: scikit-learn ``predict`` alone on the in-memory float32 feature matrix,
     one call with ``n_jobs=-1`` and equal row blocks (at most ``--floor-block`` rows) from one
     thread per core with ``n_jobs=1`` (the faster is the floor). Above the 1x size it is
     measured on the first ``--floor-max-pixels`` pixels (rows) of the scene and scaled to the
     whole scene;
   - ``rasterclass predict`` (the CLI): wall time, peak RSS, pixels/s;
   - the naive baseline: rasterio read of the whole scene, reshape, ``predict`` with
     ``n_jobs=-1`` on every valid pixel, write a GeoTIFF (only up to ``--skip-naive-above``);
   - Orfeo ToolBox ``otbcli_ImageClassifier`` with an equivalent random forest, if on PATH;
   - ``rasterclass.jobs.plan_run`` estimate of the peak memory against the measured peak.
   and, at 1x, ``rasterclass --workers 2 predict`` (a local dask.distributed cluster).
   Maps of the naive and distributed runs are checked to equal rasterclass's.
3. Prints a table and the ratios: rasterclass / naive (wall), rasterclass / compute floor
   (wall, inner, and CPU with the fixed cost of imports + model load deducted), peak memory at
   every scale and peak(kx) / peak(1x), plan estimate / measured.

Every figure that matters is a ratio between runs of the same invocation, because the
machine may be shared. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _measure  # benchmarks/_measure.py (the script's folder is on sys.path)
import numpy as np

HERE = Path(__file__).resolve().parent
GEN_VERSION = "2"
N_BANDS = 6
CLASS_NAMES = (
    "water",
    "urban",
    "bare soil",
    "cropland",
    "grassland",
    "shrubland",
    "forest",
    "wetland",
)
N_SUB = 3  # spectral sub-types per class (e.g. crop types, forest types)
CELL = 40  # patch size in pixels
NOISE = 750.0  # pixel noise (digital numbers): overlapping classes, deep trees
N_TRAIN = 6000
MB = 1e6


# ------------------------------------------------------------------------------------------
# Synthetic data
# ------------------------------------------------------------------------------------------
def side_for(size: int, scale: int) -> int:
    """Side of the kx scene: sqrt(k) * size, rounded to a multiple of 8 pixels."""
    return int(round(size * math.sqrt(scale) / 8) * 8)


def class_spectra(seed: int = 0) -> np.ndarray:
    """(classes, sub-types, bands) mean spectra, the same for every scale."""
    rng = np.random.default_rng(seed)
    return rng.uniform(300.0, 4000.0, (len(CLASS_NAMES), N_SUB, N_BANDS)).astype(np.float32)


def layouts(side: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class and sub-type of every patch of a scene of this side."""
    rng = np.random.default_rng([seed, side])
    n = side // CELL + 4
    return rng.integers(0, len(CLASS_NAMES), (n, n)), rng.integers(0, N_SUB, (n, n))


def label_rows(r0: int, r1: int, side: int, layout: tuple[np.ndarray, np.ndarray]) -> tuple:
    """(class index, sub-type, valid) of rows r0..r1: wavy patches, a slanted nodata edge."""
    rows = np.arange(r0, r1, dtype=np.float32)[:, None]
    cols = np.arange(side, dtype=np.float32)[None, :]
    rr = rows + 14.0 * np.sin(cols / 23.0)
    cc = cols + 14.0 * np.cos(rows / 31.0)
    i = (rr // CELL).astype(np.int64) + 1
    j = (cc // CELL).astype(np.int64) + 1
    classes, subs = layout
    valid = (cols + 0.1 * rows) < side  # about 5 % nodata on the right edge
    return classes[i, j], subs[i, j], np.broadcast_to(valid, i.shape)


def make_scene(path: Path, side: int, seed: int = 0) -> None:
    import rasterio
    from affine import Affine

    spectra = class_spectra(seed)
    layout = layouts(side, seed)
    profile = {
        "driver": "GTiff",
        "count": N_BANDS,
        "height": side,
        "width": side,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0),
        "nodata": 0,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "num_threads": "all_cpus",
        "BIGTIFF": "IF_SAFER",
    }
    tmp = path.with_name(path.name + ".part")
    strip = 256
    with rasterio.open(tmp, "w", **profile) as dst:
        for b in range(N_BANDS):
            dst.set_band_description(b + 1, f"B{b + 1}")
        dst.update_tags(BENCH_GEN=GEN_VERSION)
        for r0 in range(0, side, strip):
            r1 = min(side, r0 + strip)
            rng = np.random.default_rng([seed, side, r0])
            cls, sub, valid = label_rows(r0, r1, side, layout)
            data = spectra[cls, sub].transpose(2, 0, 1)  # (band, h, w)
            # a smooth within-patch gradient (illumination) and pixel noise
            shade = 1.0 + 0.08 * np.sin(np.arange(side, dtype=np.float32) / 97.0)[None, None, :]
            noise = rng.standard_normal(data.shape, dtype=np.float32) * NOISE
            data = np.clip(np.rint(data * shade + noise), 1, 10000).astype(np.uint16)
            data[:, ~valid] = 0
            dst.write(data, window=((r0, r1), (0, side)))
    os.replace(tmp, path)


def scene_ok(path: Path) -> bool:
    if not path.exists():
        return False
    import rasterio

    with rasterio.open(path) as src:
        return src.tags().get("BENCH_GEN") == GEN_VERSION


def make_model(scene: Path, path: Path, side: int, trees: int, seed: int = 0) -> None:
    """Train the ``rf`` preset (random_state=0) on N_TRAIN labelled pixels of the 1x scene."""
    import rasterio

    from rasterclass import ClassMap, Samples, fit_model
    from rasterclass.estimators.presets import make_estimator

    with rasterio.open(scene) as src:
        data = src.read()
    cls, _, valid = label_rows(0, side, side, layouts(side, seed))
    rng = np.random.default_rng([seed, 99])
    rows_v, cols_v = np.nonzero(valid)
    pick = rng.choice(len(rows_v), N_TRAIN, replace=False)
    rows, cols = rows_v[pick], cols_v[pick]
    codes = list(range(1, len(CLASS_NAMES) + 1))
    samples = Samples(
        X=data[:, rows, cols].T.astype(np.float32),
        y=(cls[rows, cols] + 1).astype(np.int64),
        groups=np.arange(N_TRAIN),
        rows=rows,
        cols=cols,
        band_names=[f"B{b + 1}" for b in range(N_BANDS)],
        class_map=ClassMap.from_codes(codes, CLASS_NAMES),
    )
    est = make_estimator("rf", {"n_estimators": trees}, seed)
    model = fit_model(samples, est, crs="EPSG:32633", summary={"method": "rf", "seed": seed})
    model.save(path, overwrite=True)


def ensure_data(
    work: Path, size: int, scales: list[int], trees: int
) -> tuple[dict[int, tuple[Path, int]], Path]:
    """The scene of every scale (path, side) and the model file, generated once in ``work``."""
    scenes = {}
    for k in sorted({1, *scales}):
        side = side_for(size, k)
        path = work / f"scene_{side}.tif"
        if not scene_ok(path):
            print(f"generating {path.name} ({side} x {side})...", flush=True)
            make_scene(path, side)
        scenes[k] = (path, side)
    model = work / f"model_rf{trees}_{scenes[1][1]}_v{GEN_VERSION}.skops"
    if not model.exists():
        print("training the model...", flush=True)
        make_model(scenes[1][0], model, scenes[1][1], trees)
    elif "rasterclass/child.npy" not in zipfile.ZipFile(model).namelist():
        # cached by an older rasterclass: saved again, with the forest packed as predict uses it
        from rasterclass import RasterModel

        RasterModel.load(model).save(model, overwrite=True)
    return scenes, model


def forest_depth(model_path: Path) -> tuple[float, float]:
    from rasterclass import RasterModel

    est = RasterModel.load(model_path).estimator
    depths = [t.get_depth() for t in est.estimators_]
    leaves = [t.get_n_leaves() for t in est.estimators_]
    return float(np.mean(depths)), float(np.mean(leaves))


# ------------------------------------------------------------------------------------------
# Children: one measured job per process
# ------------------------------------------------------------------------------------------
def _load_estimator(model_path: str, n_jobs: int) -> Any:
    from rasterclass import RasterModel

    est = copy.deepcopy(RasterModel.load(model_path).estimator)
    est.set_params(n_jobs=n_jobs)
    return est


def child_naive(a: argparse.Namespace) -> dict[str, Any]:
    """What a user would write: read everything, predict with n_jobs=-1, write."""
    import rasterio

    t0 = time.perf_counter()
    est = _load_estimator(a.model, -1)
    t1 = time.perf_counter()
    with rasterio.open(a.scene) as src:
        data = src.read()
        profile = src.profile
        nodata = src.nodata
    t2 = time.perf_counter()
    bands, h, w = data.shape
    pixels = data.reshape(bands, -1).T
    valid = (pixels != nodata).all(axis=1)
    pred = est.predict(pixels[valid].astype(np.float32))
    out = np.zeros(h * w, dtype=np.uint8)
    out[valid] = pred
    t3 = time.perf_counter()
    profile.update(count=1, dtype="uint8", nodata=0, compress="deflate", num_threads=1)
    with rasterio.open(a.out, "w", **profile) as dst:
        dst.write(out.reshape(1, h, w))
    t4 = time.perf_counter()
    return {
        "load_model": t1 - t0,
        "read": t2 - t1,
        "predict": t3 - t2,
        "write": t4 - t3,
        "n_valid": int(valid.sum()),
    }


def _on_blocks(
    predict: Any, X: np.ndarray, bounds: np.ndarray, workers: int
) -> tuple[np.ndarray, float, float]:
    """``predict`` on the row blocks ``bounds`` on ``workers`` threads: labels, wall, CPU."""
    t0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        parts = list(
            pool.map(lambda i: predict(X[bounds[i] : bounds[i + 1]]), range(len(bounds) - 1))
        )
    return np.concatenate(parts), time.perf_counter() - t0, time.process_time() - c0


def child_floor(a: argparse.Namespace) -> dict[str, Any]:
    """scikit-learn predict alone on the in-memory feature matrix (first max_pixels pixels)."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(a.scene) as src:
        rows = min(src.height, max(1, math.ceil(a.max_pixels / src.width)))
        data = src.read(window=Window(0, 0, src.width, rows))
        nodata = src.nodata
    pixels = data.reshape(data.shape[0], -1).T
    X = np.ascontiguousarray(pixels[(pixels != nodata).all(axis=1)], dtype=np.float32)
    del data, pixels
    est_all = _load_estimator(a.model, -1)
    t0, c0 = time.perf_counter(), time.process_time()
    ref = est_all.predict(X)
    one_call, one_call_cpu = time.perf_counter() - t0, time.process_time() - c0
    est_one = _load_estimator(a.model, 1)
    # equal blocks of at most a.block rows, a multiple of the thread count (no idle tail)
    workers = os.cpu_count() or 1
    n_blocks = workers * max(1, math.ceil(len(X) / (workers * a.block)))
    bounds = np.linspace(0, len(X), n_blocks + 1).astype(int)
    labels, blocks, blocks_cpu = _on_blocks(est_one.predict, X, bounds, workers)
    assert np.array_equal(labels, ref), "block predictions differ"
    # the same blocks through the engine rasterclass predicts with (the exact compiled forest
    # where numba is installed): its floor, free of everything but the model's arithmetic
    from rasterclass.estimators.forest_inference import exact_forest

    fast = exact_forest(est_one)
    exact = exact_cpu = None
    if fast is not None:
        fast.predict(X[:1000])  # compiled (or loaded from numba's cache) before the clock
        labels, exact, exact_cpu = _on_blocks(fast.predict, X, bounds, workers)
        assert np.array_equal(labels, ref), "exact forest labels differ"
    return {
        "exact": exact,
        "exact_cpu": exact_cpu,
        "rows": rows,
        "n_valid": len(X),
        "one_call": one_call,
        "one_call_cpu": one_call_cpu,
        "blocks": blocks,
        "blocks_cpu": blocks_cpu,
        "block": int(bounds[1]),
        "n_blocks": n_blocks,
        "threads": workers,
    }


def child_io(a: argparse.Namespace) -> dict[str, Any]:
    """Reading the scene alone, 1024 x 1024 windows."""
    import rasterio
    from rasterio.windows import Window

    t0 = time.perf_counter()
    total = 0
    with rasterio.open(a.scene) as src:
        for r0 in range(0, src.height, 1024):
            for c0 in range(0, src.width, 1024):
                win = Window(c0, r0, min(1024, src.width - c0), min(1024, src.height - r0))
                total += int(src.read(window=win).shape[1] * win.width)
    return {"read": time.perf_counter() - t0, "pixels": total}


def child_startup(a: argparse.Namespace) -> dict[str, Any]:
    """The fixed cost of any run: importing the rasterclass CLI and loading the model file."""
    t0 = time.perf_counter()
    import rasterclass.cli.predict  # noqa: F401
    from rasterclass import RasterModel

    t1 = time.perf_counter()
    RasterModel.load(a.model, fast_forest=True)  # as predict loads it
    return {"imports": t1 - t0, "load_model": time.perf_counter() - t1}


CHILDREN = {
    "naive": child_naive,
    "floor": child_floor,
    "io": child_io,
    "startup": child_startup,
}


# ------------------------------------------------------------------------------------------
# Measuring a subprocess: wall time, peak RSS of the whole tree
# ------------------------------------------------------------------------------------------
def run_child(mode: str, log: Path, **kw: Any) -> dict[str, Any]:
    return _measure.run_child(__file__, mode, log, **kw)


def rasterclass_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "rasterclass"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("rasterclass")
    if found is None:
        sys.exit("the rasterclass command is not installed (pip install -e .)")
    return [found]


def predict_args(scene: Path, model: Path, out: Path, chunks: int | None) -> list[str]:
    args = ["predict", str(scene), "--model", str(model), "-o", str(out), "--overwrite"]
    return [*args, "--chunks", str(chunks)] if chunks else args


def done_in(output: str) -> float | None:
    for line in output.splitlines():
        if line.startswith("done in "):
            return float(line.split()[2])
    return None


def same_map(a: Path, b: Path) -> bool:
    import rasterio

    with rasterio.open(a) as fa, rasterio.open(b) as fb:
        return bool(np.array_equal(fa.read(1), fb.read(1)))


# ------------------------------------------------------------------------------------------
# Orfeo ToolBox (only when installed)
# ------------------------------------------------------------------------------------------
def run_otb(scene: Path, size: int, workdir: Path, trees: int, depth: int) -> dict | None:
    """Train an equivalent OTB random forest on the same pixels, time ImageClassifier."""
    if shutil.which("otbcli_ImageClassifier") is None:
        return None
    import geopandas as gpd
    import rasterio
    from shapely.geometry import Point

    model = workdir / f"otb_rf_{size}.txt"
    if not model.exists():
        with rasterio.open(workdir / f"scene_{size}.tif") as src:
            data, transform = src.read(), src.transform
        cls, _, valid = label_rows(0, size, size, layouts(size))
        rng = np.random.default_rng([0, 99])
        rows_v, cols_v = np.nonzero(valid)
        pick = rng.choice(len(rows_v), N_TRAIN, replace=False)
        rows, cols = rows_v[pick], cols_v[pick]
        attrs = {f"b{b + 1}": data[b, rows, cols].astype(float) for b in range(N_BANDS)}
        pts = [Point(*(transform * (c + 0.5, r + 0.5))) for r, c in zip(rows, cols, strict=True)]
        gdf = gpd.GeoDataFrame({**attrs, "cls": cls[rows, cols] + 1}, geometry=pts, crs=32633)
        vec = workdir / f"otb_train_{size}.gpkg"
        gdf.to_file(vec)
        cmd = ["otbcli_TrainVectorClassifier", "-io.vd", str(vec), "-cfield", "cls"]
        cmd += ["-feat", *attrs, "-classifier", "rf", "-classifier.rf.nbtrees", str(trees)]
        cmd += ["-classifier.rf.max", str(max(depth, 25)), "-classifier.rf.min", "1"]
        cmd += ["-io.out", str(model)]
        subprocess.run(cmd, check=True, capture_output=True)
    out = workdir / "otb_map.tif"
    cmd = ["otbcli_ImageClassifier", "-in", str(scene), "-model", str(model)]
    cmd += ["-out", str(out), "uint8", "-nodatalabel", "0", "-ram", "1024"]
    return _measure.run_measured(cmd, workdir / "otb.log")


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------
def fmt_mb(b: float) -> str:
    return f"{b / MB:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--size", type=int, default=2800, help="side of the 1x scene in pixels (default 2800)"
    )
    ap.add_argument("--scales", default="1,4,16", help="scene sizes as multiples of the 1x area")
    ap.add_argument("--trees", type=int, default=100, help="trees of the random forest")
    ap.add_argument(
        "--workdir", type=Path, default=HERE / "_data", help="scenes, model and maps (cached)"
    )
    ap.add_argument(
        "--skip-naive-above", type=int, default=4, help="largest scale of the naive baseline"
    )
    ap.add_argument("--chunks", type=int, help="passed to rasterclass predict and plan")
    ap.add_argument(
        "--floor-max-pixels", type=int, help="pixels the floor is measured on (default 1x area)"
    )
    ap.add_argument(
        "--floor-block",
        type=int,
        default=262144,
        help="largest predict block (rows) of the compute floor (default 262144 = 512 x 512)",
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="run rasterclass and naive N times, keep the fastest"
    )
    ap.add_argument("--no-workers", action="store_true", help="skip the --workers 2 run")
    # internal: run one measured job in this process
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--scene", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--max-pixels", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--block", type=int, default=262144, help=argparse.SUPPRESS)
    _measure.child_or_bench(ap, CHILDREN, bench)


def bench(a: argparse.Namespace) -> None:
    started = time.perf_counter()
    scales = sorted({int(s) for s in a.scales.split(",")})
    work = a.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="logs_", dir=work))
    floor_max = a.floor_max_pixels or a.size * a.size
    import psutil
    import rasterio
    import sklearn

    import rasterclass
    from rasterclass.jobs import plan_run

    print(f"command: python benchmarks/bench_predict.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}; "
        f"nproc {os.cpu_count()}, {psutil.virtual_memory().total / 2**30:.1f} GiB RAM; "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    print(
        f"python {platform.python_version()}, rasterclass {rasterclass.__version__}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__})"
    )
    # ---- data
    t0 = time.perf_counter()
    scenes, model = ensure_data(work, a.size, scales, a.trees)
    base_side = scenes[1][1]
    depth, leaves = forest_depth(model)
    print(
        f"data ready in {time.perf_counter() - t0:.0f} s: {len(CLASS_NAMES)} classes x {N_SUB} "
        f"spectral sub-types, about 5 % nodata; random forest of {a.trees} trees "
        f"(rf preset, random_state=0) on {N_TRAIN} labelled pixels: mean depth {depth:.1f}, "
        f"mean leaves {leaves:.0f}, model file {model.stat().st_size / MB:.1f} MB"
    )
    # twice, the faster counts (the first may pay for a cold file cache)
    startup = min(
        (run_child("startup", logs / f"startup{i}.log", model=model) for i in range(2)),
        key=lambda r: r["cpu"],
    )
    print(
        f"fixed cost of a run: import the rasterclass CLI {startup['imports']:.1f} s, load the "
        f"model file {startup['load_model']:.1f} s; process wall {startup['wall']:.1f} s, "
        f"CPU {startup['cpu']:.1f} s"
    )
    rc = rasterclass_cmd()
    rows: list[dict[str, Any]] = []
    results: dict[int, dict[str, Any]] = {}
    for k in scales:
        scene, side = scenes[k]
        px = side * side
        print(f"\n== scale {k}x: {side} x {side} = {px / 1e6:.1f} Mpixels", flush=True)
        r: dict[str, Any] = {"px": px}
        results[k] = r
        io = r["io"] = run_child("io", logs / f"io_{k}.log", scene=scene)
        rows.append(
            row(
                "I/O floor: read (1024 px windows)", k, io, inner=io["read"], px=px, rate_inner=True
            )
        )
        fl = r["floor"] = run_child(
            "floor",
            logs / f"floor_{k}.log",
            scene=scene,
            model=model,
            max_pixels=floor_max,
            block=a.floor_block,
        )
        variant = "one_call" if fl["one_call"] <= fl["blocks"] else "blocks"
        out = work / f"map_rc_{side}.tif"
        nout = work / f"map_naive_{side}.tif"
        naive_too = k <= a.skip_naive_above
        rc_runs, naive_runs = [], []
        for i in range(a.repeat):  # alternate, so that both see the same machine load
            rc_runs.append(
                _measure.run_measured(
                    [*rc, *predict_args(scene, model, out, a.chunks)], logs / f"rc_{k}_{i}.log"
                )
            )
            if naive_too:
                naive_runs.append(
                    run_child(
                        "naive", logs / f"naive_{k}_{i}.log", scene=scene, model=model, out=nout
                    )
                )
        rc_run = r["rc"] = fastest(rc_runs)
        with rasterio.open(out) as src:
            n_valid = int(np.count_nonzero(src.read(1)))
        # the floor for the whole scene: its valid-pixel rate times this scene's valid pixels
        scale_up = n_valid / fl["n_valid"]
        r["floor_time"] = fl[variant] * scale_up
        r["floor_cpu"] = fl[f"{variant}_cpu"] * scale_up
        note = (
            f"one call (n_jobs=-1) {fl['n_valid'] / fl['one_call'] / 1e6:.3f}, "
            f"{fl['threads']} threads on {fl['n_blocks']} blocks of {fl['block']:,} rows "
            f"(n_jobs=1) "
            f"{fl['n_valid'] / fl['blocks'] / 1e6:.3f} Mpx/s of valid pixels"
        )
        if fl["rows"] < side:
            note += f"; measured on the first {fl['rows']} rows, scaled to the scene"
        rows.append(
            row(
                "compute floor: sklearn predict alone",
                k,
                {**fl, "wall": None, "cpu": r["floor_cpu"]},
                inner=r["floor_time"],
                px=px,
                note=note,
            )
        )
        if fl.get("exact") is not None:
            r["exact_time"] = fl["exact"] * scale_up
            r["exact_cpu"] = fl["exact_cpu"] * scale_up
            rows.append(
                row(
                    "compute floor: exact forest alone (rasterclass's engine)",
                    k,
                    {**fl, "wall": None, "cpu": r["exact_cpu"]},
                    inner=r["exact_time"],
                    px=px,
                    note=f"the same blocks on {fl['threads']} threads; labels identical to "
                    f"scikit-learn's; {fl['blocks'] / fl['exact']:.2f}x "
                    "faster than its blocks",
                )
            )
        plan = r["plan"] = plan_run(str(scene), model=str(model), chunks=a.chunks)
        rows.append(
            row(
                "rasterclass predict",
                k,
                rc_run,
                inner=done_in(rc_run["output"]),
                px=px,
                note=f"{plan.chunk_shape[0]} px chunks, {plan.n_chunks} chunks" + walls(rc_run),
            )
        )
        msg = (
            f"  I/O floor {io['read']:.1f} s, compute floor {r['floor_time']:.1f} s, "
            f"rasterclass {rc_run['wall']:.1f} s"
        )
        if naive_too:
            nv = r["naive"] = fastest(naive_runs)
            r["identical"] = same_map(out, nout)
            note = (
                f"read {nv['read']:.1f} + predict {nv['predict']:.1f} + write {nv['write']:.1f} s;"
                f" map identical to rasterclass's: {r['identical']}" + walls(nv)
            )
            rows.append(row("naive: read all, predict n_jobs=-1", k, nv, px=px, note=note))
            msg += f", naive {nv['wall']:.1f} s"
        else:
            rows.append(
                {"name": "naive: read all, predict n_jobs=-1", "k": k, "note": "not run (too big)"}
            )
        print(msg, flush=True)
        otb = run_otb(scene, base_side, work, a.trees, round(depth))
        if otb is None:
            if k == scales[0]:
                print("  otbcli_ImageClassifier is not on PATH: Orfeo ToolBox skipped")
        else:
            r["otb"] = otb
            rows.append(row("Orfeo ToolBox ImageClassifier", k, otb, px=px))
        if k == scales[0] and not a.no_workers:
            wout = work / f"map_rc_w2_{side}.tif"
            w2 = r["w2"] = _measure.run_measured(
                [*rc, "--workers", "2", *predict_args(scene, model, wout, a.chunks)],
                logs / f"rc_w2_{k}.log",
            )
            r["w2_plan"] = plan_run(str(scene), model=str(model), chunks=a.chunks, workers=2)
            r["w2_identical"] = same_map(out, wout)
            note = (
                f"{w2['n_processes']} processes, largest {fmt_mb(w2['peak_process'])} MB; "
                f"map identical to the threaded run's: {r['w2_identical']}"
            )
            rows.append(
                row(
                    "rasterclass --workers 2 predict",
                    k,
                    w2,
                    inner=done_in(w2["output"]),
                    px=px,
                    note=note,
                )
            )
            print(f"  rasterclass --workers 2 {w2['wall']:.1f} s", flush=True)
    shutil.rmtree(logs, ignore_errors=True)
    report(rows, results, scales, startup)
    print(
        f"\nbenchmark wall time {time.perf_counter() - started:.0f} s; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated runs, with the largest peak memory of them all."""
    best = dict(min(runs, key=lambda r: r["wall"]))
    best["peak_tree"] = max(r["peak_tree"] for r in runs)
    best["peak_process"] = max(r["peak_process"] for r in runs)
    best["walls"] = [r["wall"] for r in runs]
    return best


def walls(run: dict[str, Any]) -> str:
    if len(run.get("walls", [])) < 2:
        return ""
    return "; fastest of " + ", ".join(f"{w:.1f}" for w in run["walls"]) + " s"


def row(
    name: str,
    k: int,
    res: dict[str, Any],
    *,
    px: int,
    inner: float | None = None,
    note: str = "",
    rate_inner: bool = False,
) -> dict[str, Any]:
    wall = res.get("wall")
    return {
        "name": name,
        "k": k,
        "wall": wall,
        "inner": inner,
        "cpu": res.get("cpu"),
        "rate": px / (inner if rate_inner or wall is None else wall),
        "peak": res.get("peak_tree"),
        "note": note,
    }


def _cell(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def report(
    rows: list[dict[str, Any]],
    results: dict[int, dict[str, Any]],
    scales: list[int],
    startup: dict[str, Any],
) -> None:
    print("\n## Results\n")
    print("| run | scale | wall s | inner s | CPU s | Mpx/s | peak RSS MB | notes |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        peak = None if r.get("peak") is None else r["peak"] / MB
        cells = [
            r["name"],
            f"{r['k']}x",
            _cell(r.get("wall"), ".1f"),
            _cell(r.get("inner"), ".1f"),
            _cell(r.get("cpu"), ".1f"),
            _cell(None if r.get("rate") is None else r["rate"] / 1e6, ".3f"),
            _cell(peak, ",.0f"),
            r["note"],
        ]
        print("| " + " | ".join(cells) + " |")
    print(
        "\n- wall: subprocess start to exit (interpreter start, imports, model load included); "
        "CPU: user + system seconds of the whole process tree.\n"
        "- inner: rasterclass: its own 'done in' (model load included, imports not); I/O "
        "floor: the reads; compute floor: predict alone (the faster variant), scaled to the "
        "scene's valid pixels.\n"
        "- Mpx/s: scene pixels (nodata included) per wall second (floors: per inner second).\n"
        "- peak RSS: sum over the process tree, polled every 0.1 s, or the high-water mark "
        "(VmHWM) of its largest process if larger."
    )
    print("\n## Ratios\n")
    fixed_cpu = startup["cpu"]
    for k in scales:
        r = results[k]
        rc = r["rc"]
        inner = done_in(rc["output"])
        parts = [f"rasterclass / compute floor = {rc['wall'] / r['floor_time']:.2f} (wall)"]
        if inner:
            parts[0] += f", {inner / r['floor_time']:.2f} (inner)"
        parts[0] += (
            f", {(rc['cpu'] - fixed_cpu) / r['floor_cpu']:.2f} (CPU, fixed cost of "
            f"{fixed_cpu:.1f} s deducted)"
        )
        if "exact_time" in r:
            part = f"rasterclass / exact-forest floor = {rc['wall'] / r['exact_time']:.2f} (wall)"
            if inner:
                part += f", {inner / r['exact_time']:.2f} (inner)"
            part += f", {(rc['cpu'] - fixed_cpu) / r['exact_cpu']:.2f} (CPU, fixed cost deducted)"
            parts.append(part)
        if "naive" in r:
            parts.append(f"rasterclass / naive = {rc['wall'] / r['naive']['wall']:.2f} (wall)")
        if "otb" in r:
            parts.append(f"rasterclass / Orfeo ToolBox = {rc['wall'] / r['otb']['wall']:.2f}")
        parts.append(f"rasterclass / I/O floor = {rc['wall'] / r['io']['read']:.0f}")
        print(f"- {k}x: " + "; ".join(parts))
    print("\n## Peak memory (RSS of the whole process tree)\n")
    base = results[scales[0]]["rc"]["peak_tree"]
    for k in scales:
        r = results[k]
        line = f"- {k}x: rasterclass {fmt_mb(r['rc']['peak_tree'])} MB"
        if "naive" in r:
            line += f", naive {fmt_mb(r['naive']['peak_tree'])} MB"
        if "w2" in r:
            line += f", rasterclass --workers 2 {fmt_mb(r['w2']['peak_tree'])} MB (all processes)"
        print(line)
    for k in scales[1:]:
        ratio = results[k]["rc"]["peak_tree"] / base
        verdict = "OK" if ratio <= 1.3 else "ABOVE THE TARGET"
        print(
            f"- rasterclass peak({k}x) / peak({scales[0]}x) = {ratio:.2f} "
            f"(target <= 1.3: {verdict})"
        )
    print("\n## Plan estimate (rasterclass plan) vs measured peak\n")
    for k in scales:
        r = results[k]
        est, meas = r["plan"].peak_memory_per_worker, r["rc"]["peak_tree"]
        print(
            f"- {k}x: estimate {fmt_mb(est)} MB, measured {fmt_mb(meas)} MB, "
            f"estimate / measured = {est / meas:.2f} ({_within_2x(est / meas)})"
        )
        if "w2" in r:
            est2, meas2 = r["w2_plan"].peak_memory_per_worker, r["w2"]["peak_process"]
            print(
                f"- {k}x, --workers 2: estimate {fmt_mb(est2)} MB per worker, largest process "
                f"{fmt_mb(meas2)} MB, estimate / measured = {est2 / meas2:.2f} "
                f"({_within_2x(est2 / meas2)})"
            )


def _within_2x(ratio: float) -> str:
    return "within 2x" if 0.5 <= ratio <= 2 else "OUTSIDE 2x"


if __name__ == "__main__":
    main()
