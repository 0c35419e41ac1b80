"""Benchmark: cluster assignment (k-means / ISODATA) at 1x, 4x and 16x scene sizes.

One command::

    .venv/bin/python benchmarks/bench_cluster.py [--size 2000] [--scales 1,4,16]
        [-m {isodata,kmeans,both}] [-k 8] [--workdir DIR] [--skip-naive-above 4]
        [--chunks N] [--repeat 2] [--throughput-scale 4]

(about 3 minutes on 2 cores with the defaults, plus about 20 s to generate the scenes the
first time; see benchmarks/README.md.)

1. Generates deterministic synthetic scenes (float32, 6 bands, tiled 256, uncompressed,
   nodata NaN in a 10 px margin, EPSG:32633; patches of 8 spectral classes in 64 px blocks
   plus noise) of ``size`` x ``size`` pixels at 1x and ``sqrt(k) * size`` (rounded to 8 px)
   at kx: 2000, 4000 and 8000 px by default (4, 16 and 64 Mpixels; the 16x scene is 1.6 GB).
   They are cached in ``--workdir`` (default ``benchmarks/_data``, gitignored).
2. Fits each clusterer once on the 1x scene (:func:`rasterclass.clustering.fit_clusterer`:
   ``-k`` clusters, 100,000 sampled valid pixels, seed 0), in a subprocess, and saves it as a
   rasterclass model file (skops, what ``rasterclass cluster --save-model`` writes) and its
   centres as ``.npy`` for the naive baseline.
3. For every scale, each run in its own subprocess (peak memory: the child's high-water mark
   ``VmHWM`` from ``/proc/<pid>/status``, polled every 0.05 s by this process and read by the
   child itself at its end; not ``ru_maxrss``, which on Linux starts at the parent's RSS at
   fork time):
   - **rasterclass**: ``RasterModel.load``, ``open_scene``, ``predict_raster``, ``write_map``
     (the end-to-end assignment path of ``rasterclass cluster``, without the fit);
   - **naive** (up to ``--skip-naive-above``): rasterio read of the whole scene, numpy
     nearest centre on every valid pixel (squared Euclidean distance in float64 as
     ``|c|^2 - 2 x.c``, a BLAS product, in blocks of 2^20 rows, numpy's default BLAS threads;
     argmin: the lowest index wins ties), codes = cluster index + 1 (what ``predict_raster``
     writes for a clusterer: labels ``0..k-1`` become codes ``1..k``, 0 is nodata), GeoTIFF
     (deflate) written with rasterio. Its map is compared pixel by pixel with rasterclass's.
   Both run ``--repeat`` times (2 by default), alternating; the fastest run counts, with the
   largest peak of the repetitions.
4. The earlier in-process measurements on the ``--throughput-scale`` scene (4000 x 4000 by
   default), in a subprocess of their own: ISODATA fit on 100k samples (default ``tol`` and
   ``tol=0``), ``predict_raster`` from the GeoTIFF and from an in-memory dask array, and a
   plain numpy nearest-centre assignment (one BLAS thread) of the same pixels.
5. Prints a table and the ratios: rasterclass / naive (process wall and inner time),
   peak(kx) / peak(1x) (target <= 1.3 at 16x).

Every figure that matters is a ratio between runs of the same invocation, because the
machine may be shared. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _measure  # benchmarks/_measure.py (the script's folder is on sys.path)
import numpy as np

HERE = Path(__file__).resolve().parent
GEN_VERSION = "1"
N_BANDS = 6
MB = 1e6


# ------------------------------------------------------------------------------------------
# Synthetic data
# ------------------------------------------------------------------------------------------
def side_for(size: int, scale: int) -> int:
    """Side of the kx scene: sqrt(k) * size, rounded to a multiple of 8 pixels."""
    return int(round(size * math.sqrt(scale) / 8) * 8)


def make_scene(path: Path, size: int, seed: int = 0) -> None:
    """Patches of 8 spectral classes (64 px blocks) plus noise; a 10 px nodata margin."""
    import rasterio
    from affine import Affine

    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.02, 0.5, (8, N_BANDS)).astype(np.float32)
    profile = {
        "driver": "GTiff",
        "count": N_BANDS,
        "height": size,
        "width": size,
        "dtype": "float32",
        "crs": "EPSG:32633",
        "transform": Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0),
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "BIGTIFF": "IF_SAFER",
    }
    n_blocks = -(-size // 64)
    layout = rng.integers(0, 8, (n_blocks, n_blocks))
    strip = 512
    tmp = path.with_name(path.name + ".part")
    with rasterio.open(tmp, "w", **profile) as dst:
        for b in range(N_BANDS):
            dst.set_band_description(b + 1, f"B{b + 1}")
        dst.update_tags(BENCH_GEN=GEN_VERSION)
        for r0 in range(0, size, strip):
            h = min(strip, size - r0)
            rows = (np.arange(r0, r0 + h) // 64)[:, None]
            cols = (np.arange(size) // 64)[None, :]
            labels = layout[rows, cols]
            data = centres[labels].transpose(2, 0, 1)
            data = data + rng.normal(0, 0.02, data.shape).astype(np.float32)
            margin = np.zeros((h, size), dtype=bool)
            margin[:, :10] = True
            margin[:, -10:] = True
            global_rows = np.arange(r0, r0 + h)
            margin[(global_rows < 10) | (global_rows >= size - 10)] = True
            data[:, margin] = np.nan
            dst.write(data, window=((r0, r0 + h), (0, size)))
    os.replace(tmp, path)


def scene_ok(path: Path) -> bool:
    if not path.exists():
        return False
    import rasterio

    with rasterio.open(path) as src:
        return src.tags().get("BENCH_GEN") == GEN_VERSION


def numpy_assign(pixels: np.ndarray, centres: np.ndarray, step: int = 1 << 20) -> np.ndarray:
    """Nearest centre (squared Euclidean via |x|^2 - 2 x.c + |c|^2), in blocks of rows."""
    out = np.empty(len(pixels), dtype=np.int64)
    c = centres.astype(np.float64)
    c2 = (c * c).sum(axis=1)
    for start in range(0, len(pixels), step):
        x = pixels[start : start + step].astype(np.float64)
        out[start : start + step] = (c2 - 2.0 * (x @ c.T)).argmin(axis=1)
    return out


# ------------------------------------------------------------------------------------------
# Children: one measured job per process
# ------------------------------------------------------------------------------------------
def child_fit(a: argparse.Namespace) -> dict[str, Any]:
    """Fit the clusterer on the 1x scene; save the model file and the centres."""
    from rasterclass import open_scene
    from rasterclass.clustering.fit import final_estimator, fit_clusterer

    t0 = time.perf_counter()
    scene = open_scene(a.scene, chunks=a.chunks)
    model = fit_clusterer(scene, a.method, a.k, sample_size=a.sample_size, seed=0)
    model.save(a.model, overwrite=True)
    np.save(a.centres, np.asarray(final_estimator(model.estimator).cluster_centers_))
    s = model.summary
    return {
        "n_clusters": s["n_clusters"],
        "n_iter": s["n_iter"],
        "n_samples": s["n_samples"],
        "n_valid": s["n_valid_pixels"],
        "sampling_s": s["sampling_seconds"],
        "fit_s": s["fit_seconds"],
        "total_s": time.perf_counter() - t0,
    }


def child_rasterclass(a: argparse.Namespace) -> dict[str, Any]:
    """The assignment path of ``rasterclass cluster``: load, open, predict_raster, write_map."""
    t0 = time.perf_counter()
    from rasterclass import RasterModel, open_scene, predict_raster, write_map

    base = _measure.high_water()
    t1 = time.perf_counter()
    model = RasterModel.load(a.model)
    t_load = time.perf_counter()
    scene = open_scene(a.scene, chunks=a.chunks)
    classes = predict_raster(scene, model)["classes"]
    write_map(classes, a.out, model.class_map, overwrite=True)
    t2 = time.perf_counter()
    return {
        "imports_s": t1 - t0,
        "inner_s": t2 - t1,
        "load_s": t_load - t1,
        "after_imports": base,
        "peak_self": _measure.high_water(),
        "chunk": int(scene.data.chunks[1][0]),
        "n_chunks": len(scene.data.chunks[1]) * len(scene.data.chunks[2]),
    }


def child_naive(a: argparse.Namespace) -> dict[str, Any]:
    """What a user would write: read everything, nearest centre in numpy, write."""
    t0 = time.perf_counter()
    import rasterio

    base = _measure.high_water()
    t1 = time.perf_counter()
    centres = np.load(a.centres)
    with rasterio.open(a.scene) as src:
        data = src.read()
        profile = src.profile
    t2 = time.perf_counter()
    bands, h, w = data.shape
    pixels = data.reshape(bands, -1).T
    valid = np.isfinite(pixels).all(axis=1)
    labels = numpy_assign(pixels[valid], centres)
    out = np.zeros(h * w, dtype=np.uint8)
    out[valid] = labels + 1
    t3 = time.perf_counter()
    profile.update(count=1, dtype="uint8", nodata=0, compress="deflate")
    with rasterio.open(a.out, "w", **profile) as dst:
        dst.write(out.reshape(1, h, w))
    t4 = time.perf_counter()
    return {
        "imports_s": t1 - t0,
        "inner_s": t4 - t1,
        "read_s": t2 - t1,
        "assign_s": t3 - t2,
        "write_s": t4 - t3,
        "n_valid": int(valid.sum()),
        "after_imports": base,
        "peak_self": _measure.high_water(),
    }


def child_throughput(a: argparse.Namespace) -> dict[str, Any]:
    """The in-process measurements: ISODATA fit on 100k samples, predict_raster throughput
    from the file and from memory, a plain numpy nearest-centre assignment."""
    import dask
    import dask.array as da
    from threadpoolctl import threadpool_limits

    from rasterclass import open_scene, predict_raster
    from rasterclass.clustering import fit_clusterer

    dask.config.set(scheduler="threads")
    scene = open_scene(a.scene, chunks=a.chunks)
    chunk = int(scene.data.chunks[1][0])
    lines = [
        f"scene {scene.shape[2]} x {scene.shape[1]} x {N_BANDS} bands, chunks {chunk} px, "
        f"{os.cpu_count()} cores"
    ]
    for label, params in (("default tol=0.02", {}), ("tol=0: all max_iter", {"tol": 0})):
        model = fit_clusterer(scene, "isodata", a.k, params, sample_size=a.sample_size, seed=0)
        s = model.summary
        lines.append(
            f"ISODATA ({label}) on {s['n_samples']} valid pixels x {N_BANDS} bands: "
            f"sampling {s['sampling_seconds']:.2f} s, fit {s['fit_seconds']:.2f} s, "
            f"{s['n_clusters']} clusters (asked {a.k}), {s['n_iter']} iterations"
        )

    t = time.perf_counter()
    from_file = predict_raster(scene, model)["classes"].values
    t_file = time.perf_counter() - t

    in_memory = scene.compute()
    data = in_memory.values
    lazy = in_memory.copy(data=da.from_array(data, chunks=scene.data.chunks))
    t = time.perf_counter()
    from_memory = predict_raster(lazy, model)["classes"].values
    t_mem = time.perf_counter() - t
    assert np.array_equal(from_file, from_memory)

    pixels = data.reshape(N_BANDS, -1).T
    valid = np.isfinite(pixels).all(axis=1)
    valid_pixels = np.ascontiguousarray(pixels[valid])
    # One BLAS thread: OpenBLAS threading on tall-skinny products is pathologically slow
    # on small machines (10-20x here), which would flatter predict_raster.
    with threadpool_limits(1, user_api="blas"):
        t = time.perf_counter()
        labels = numpy_assign(valid_pixels, model.estimator.cluster_centers_)
        t_np = time.perf_counter() - t
    agree = float((labels + 1 == from_file.reshape(-1)[valid]).mean())

    n_all, n_valid = pixels.shape[0], int(valid.sum())
    rate_np = n_valid / t_np
    lines += [
        f"pixels: {n_all} ({n_valid} valid)",
        f"predict_raster from GeoTIFF : {t_file:6.2f} s  {n_all / t_file / 1e6:7.2f} Mpx/s",
        f"predict_raster in memory    : {t_mem:6.2f} s  {n_all / t_mem / 1e6:7.2f} Mpx/s",
        f"numpy nearest centre (1 thr): {t_np:6.2f} s  {rate_np / 1e6:7.2f} Mpx/s (valid px)",
        f"ratio numpy / predict_raster: {rate_np / (n_valid / t_file):.2f} (from file), "
        f"{rate_np / (n_valid / t_mem):.2f} (in memory); labels agree on {agree:.4%}",
    ]
    return {"lines": lines}


CHILDREN = {
    "fit": child_fit,
    "rasterclass": child_rasterclass,
    "naive": child_naive,
    "throughput": child_throughput,
}


# ------------------------------------------------------------------------------------------
# Measuring a subprocess: wall time, CPU time, peak RSS (VmHWM)
# ------------------------------------------------------------------------------------------
def run_child(mode: str, log: Path, **kw: Any) -> dict[str, Any]:
    return _measure.run_child(__file__, mode, log, **kw)


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated runs, with the largest peak memory of them all."""
    best = dict(min(runs, key=lambda r: r["wall"]))
    best["peak"] = max(r["peak"] for r in runs)
    best["walls"] = [r["wall"] for r in runs]
    return best


def compare_maps(a: Path, b: Path) -> int:
    """Number of pixels whose codes differ between two maps."""
    import rasterio

    with rasterio.open(a) as fa, rasterio.open(b) as fb:
        return int(np.count_nonzero(fa.read(1) != fb.read(1)))


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------
def fmt_mb(b: float) -> str:
    return f"{b / MB:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--size", type=int, default=2000, help="side of the 1x scene in pixels (default 2000)"
    )
    ap.add_argument("--scales", default="1,4,16", help="scene sizes as multiples of the 1x area")
    ap.add_argument(
        "-m",
        "--method",
        choices=("isodata", "kmeans", "both"),
        default="both",
        help="clusterer(s) to measure (default both)",
    )
    ap.add_argument(
        "-k", "--clusters", dest="k", type=int, default=8, help="clusters (ISODATA: desired)"
    )
    ap.add_argument("--sample-size", type=int, default=100_000, help="pixels the fit uses")
    ap.add_argument(
        "--workdir", type=Path, default=HERE / "_data", help="scenes, models and maps (cached)"
    )
    ap.add_argument(
        "--skip-naive-above", type=int, default=4, help="largest scale of the naive baseline"
    )
    ap.add_argument("--chunks", type=int, help="chunk side in pixels (default: rasterclass's)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="run rasterclass and naive N times (alternating), keep the fastest (default 2)",
    )
    ap.add_argument(
        "--throughput-scale",
        type=int,
        default=4,
        help="scale of the in-process fit / throughput measurements (0: skip; default 4)",
    )
    # internal: run one measured job in this process
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--scene", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--centres", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    _measure.child_or_bench(ap, CHILDREN, bench)


def bench(a: argparse.Namespace) -> None:
    started = time.perf_counter()
    scales = sorted({int(s) for s in a.scales.split(",")})
    methods = ["isodata", "kmeans"] if a.method == "both" else [a.method]
    work = a.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="logs_cluster_", dir=work))
    import psutil
    import rasterio
    import sklearn

    import rasterclass

    print(f"command: python benchmarks/bench_cluster.py {' '.join(sys.argv[1:])}".rstrip())
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
    scenes: dict[int, tuple[Path, int]] = {}
    for k in sorted({1, *scales, *([a.throughput_scale] if a.throughput_scale else [])}):
        side = side_for(a.size, k)
        path = work / f"cluster_scene_{side}.tif"
        if not scene_ok(path):
            print(f"generating {path.name} ({side} x {side})...", flush=True)
            make_scene(path, side)
        scenes[k] = (path, side)
    base_scene, base_side = scenes[1]
    print(f"scenes ready in {time.perf_counter() - t0:.0f} s", flush=True)
    # ---- fit once per method on the 1x scene
    fits: dict[str, dict[str, Any]] = {}
    for method in methods:
        model = work / f"cluster_{method}_k{a.k}_{base_side}.skops"
        centres = work / f"cluster_{method}_k{a.k}_{base_side}_centres.npy"
        fit = run_child(
            "fit",
            logs / f"fit_{method}.log",
            scene=base_scene,
            model=model,
            centres=centres,
            method=method,
            clusters=a.k,
            sample_size=a.sample_size,
            chunks=a.chunks,
        )
        fit.update(model_path=model, centres_path=centres)
        fits[method] = fit
        print(
            f"{method}: fitted on {fit['n_samples']:,} of {fit['n_valid']:,} valid pixels of the "
            f"1x scene: sampling {fit['sampling_s']:.2f} s, fit {fit['fit_s']:.2f} s, "
            f"{fit['n_clusters']} clusters (asked {a.k}), {fit['n_iter']} iterations; "
            f"model file {model.stat().st_size / 1e3:.0f} kB",
            flush=True,
        )
    # ---- assignment at every scale
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for method in methods:
        fit = fits[method]
        for k in scales:
            scene, side = scenes[k]
            px = side * side
            out = work / f"cluster_map_rc_{method}_{side}.tif"
            nout = work / f"cluster_map_naive_{method}_{side}.tif"
            naive_too = k <= a.skip_naive_above
            rc_runs, nv_runs = [], []
            for i in range(a.repeat):  # alternate, so that both see the same machine load
                rc_runs.append(
                    run_child(
                        "rasterclass",
                        logs / f"rc_{method}_{k}_{i}.log",
                        scene=scene,
                        model=fit["model_path"],
                        out=out,
                        chunks=a.chunks,
                    )
                )
                if naive_too:
                    nv_runs.append(
                        run_child(
                            "naive",
                            logs / f"naive_{method}_{k}_{i}.log",
                            scene=scene,
                            centres=fit["centres_path"],
                            out=nout,
                        )
                    )
            r: dict[str, Any] = {"px": px, "side": side, "rc": fastest(rc_runs)}
            msg = f"{method} {k}x ({side} x {side}): rasterclass {r['rc']['wall']:.1f} s"
            if naive_too:
                r["naive"] = fastest(nv_runs)
                r["differ"] = compare_maps(out, nout)
                msg += f", naive {r['naive']['wall']:.1f} s, pixels differing {r['differ']}"
            results[(method, k)] = r
            print(msg, flush=True)
    # ---- the in-process measurements
    throughput = None
    if a.throughput_scale:
        scene, side = scenes[a.throughput_scale]
        print(f"in-process fit and throughput on the {side} x {side} scene...", flush=True)
        throughput = run_child(
            "throughput",
            logs / "throughput.log",
            scene=scene,
            clusters=a.k,
            sample_size=a.sample_size,
            chunks=a.chunks,
        )
    shutil.rmtree(logs, ignore_errors=True)
    report(results, methods, scales, fits, throughput, a)
    print(
        f"\nbenchmark wall time {time.perf_counter() - started:.0f} s; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )


def _walls(run: dict[str, Any]) -> str:
    if len(run.get("walls", [])) < 2:
        return ""
    return "; fastest of " + ", ".join(f"{w:.1f}" for w in run["walls"]) + " s"


def report(
    results: dict[tuple[str, int], dict[str, Any]],
    methods: list[str],
    scales: list[int],
    fits: dict[str, dict[str, Any]],
    throughput: dict[str, Any] | None,
    a: argparse.Namespace,
) -> None:
    print("\n## Assignment: results\n")
    print(
        "| method | run | scale | Mpx | wall s | inner s | CPU s | Mpx/s | peak RSS MB "
        "| after imports MB | notes |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for method in methods:
        for k in scales:
            r = results[(method, k)]
            px = r["px"]
            rc = r["rc"]
            note = (
                f"imports {rc['imports_s']:.1f} s; model load {rc['load_s']:.1f} + open, "
                f"predict_raster, write_map {rc['inner_s'] - rc['load_s']:.1f} s; "
                f"{rc['chunk']} px chunks, "
                f"{rc['n_chunks']} chunks" + _walls(rc)
            )
            print(
                f"| {method} | rasterclass | {k}x | {px / 1e6:.1f} | {rc['wall']:.1f} "
                f"| {rc['inner_s']:.1f} | {rc['cpu']:.1f} | {px / rc['wall'] / 1e6:.2f} "
                f"| {fmt_mb(rc['peak'])} | {fmt_mb(rc['after_imports'])} | {note} |"
            )
            if "naive" in r:
                nv = r["naive"]
                same = (
                    "identical"
                    if r["differ"] == 0
                    else f"{r['differ']} pixels ({r['differ'] / px:.2e}) differ"
                )
                note = (
                    f"imports {nv['imports_s']:.1f} s; read {nv['read_s']:.1f} + assign "
                    f"{nv['assign_s']:.1f} + write "
                    f"{nv['write_s']:.1f} s; map vs rasterclass's: {same}" + _walls(nv)
                )
                print(
                    f"| {method} | naive | {k}x | {px / 1e6:.1f} | {nv['wall']:.1f} "
                    f"| {nv['inner_s']:.1f} | {nv['cpu']:.1f} | {px / nv['wall'] / 1e6:.2f} "
                    f"| {fmt_mb(nv['peak'])} | {fmt_mb(nv['after_imports'])} | {note} |"
                )
            else:
                print(f"| {method} | naive | {k}x | {px / 1e6:.1f} | - | - | - | - | - | - "
                      f"| not run (above --skip-naive-above {a.skip_naive_above}) |")  # fmt: skip
    print(
        "\n- wall: subprocess start to exit (interpreter start and imports included); inner: "
        "after the imports (rasterclass: model load, open, predict_raster, write_map; naive: "
        "centres load, read, assign, write); CPU: user + system seconds of the process.\n"
        "- Mpx/s: scene pixels (nodata included) per wall second.\n"
        "- peak RSS: the process's high-water mark (VmHWM); after imports: VmHWM after the "
        "imports (rasterclass: rasterclass, dask, xarray, scikit-learn; naive: rasterio)."
    )
    print("\n## Assignment: ratios\n")
    base = scales[0]
    for method in methods:
        parts = []
        for k in scales:
            r = results[(method, k)]
            if "naive" in r:
                parts.append(
                    f"rasterclass / naive at {k}x = {r['rc']['wall'] / r['naive']['wall']:.2f} "
                    f"(wall), {r['rc']['inner_s'] / r['naive']['inner_s']:.2f} (inner)"
                )
        print(f"- {method}: " + "; ".join(parts))
        b = results[(method, base)]
        for k in scales[1:]:
            r = results[(method, k)]
            ratio = r["rc"]["peak"] / b["rc"]["peak"]
            above = (r["rc"]["peak"] - r["rc"]["after_imports"]) / max(
                b["rc"]["peak"] - b["rc"]["after_imports"], 1
            )
            line = (
                f"- {method}: rasterclass peak({k}x) / peak({base}x) = {ratio:.2f}"
                f"{' (target <= 1.3: ' + ('OK' if ratio <= 1.3 else 'ABOVE THE TARGET') + ')'}"
                f", above the imports x{above:.2f}; wall({k}x) / wall({base}x) = "
                f"{r['rc']['wall'] / b['rc']['wall']:.2f}, inner x"
                f"{r['rc']['inner_s'] / b['rc']['inner_s']:.2f}"
            )
            if "naive" in r and "naive" in b:
                nv_ratio = r["naive"]["peak"] / b["naive"]["peak"]
                line += f"; naive peak({k}x) / peak({base}x) = {nv_ratio:.2f}"
            print(line)
    if throughput is not None:
        print("\n## In-process fit and throughput\n")
        for line in throughput["lines"]:
            print(f"    {line}")


if __name__ == "__main__":
    main()
