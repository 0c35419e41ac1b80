"""Benchmark: area of applicability (AOA) time and peak memory at 1x/4x/16x of a scene,
against ``predict`` of the same model in the same run.

One command::

    .venv/bin/python benchmarks/bench_aoa.py [--size 1000] [--scales 1,4,16] [--trees 50]
        [--workdir DIR] [--chunks N]

1. Generates (or reuses) the deterministic synthetic scenes of ``bench_predict.py`` (uint16, 6
   bands, wavy patches of 8 classes, about 5 % nodata) at ``size`` x ``size`` for 1x and
   ``sqrt(k) * size`` for kx, and a random forest (``rf`` preset, ``--trees`` trees,
   ``random_state=0``) trained on 6000 random labelled pixels of the 1x scene, with the AOA
   reference of its training pixels (importance weights; every pixel its own fold: the
   training DI is the distance to the nearest other training pixel), saved as a model file.
2. For every scale, each in its own subprocess (peak RSS of the process tree, polled every
   0.1 s, and the child's own high-water mark ``VmHWM``):
   - ``predict``: :func:`rasterclass.predict` of the map alone (the baseline);
   - ``aoa``: :func:`rasterclass.area_of_applicability` of the scene, written as the 2-band
     float32 GeoTIFF that ``--aoa`` writes;
   - ``predict+aoa``: :func:`rasterclass.predict` with ``aoa=``: map and AOA in one pass.
3. Prints a table and the ratios: aoa / predict (time), (predict+aoa) / predict, and
   peak(kx) / peak(1x) of the AOA run.

Every figure that matters is a ratio between runs of the same invocation (the machine may be
shared). Not part of the test suite.
"""

from __future__ import annotations

import argparse
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
import bench_predict as bp  # the scene generator (benchmarks/bench_predict.py)
import numpy as np

HERE = Path(__file__).resolve().parent
MB = 1e6
N_TRAIN = bp.N_TRAIN


def make_model(scene: Path, path: Path, side: int, trees: int, seed: int = 0) -> None:
    """The ``rf`` preset on N_TRAIN random labelled pixels of the 1x scene, with its AOA
    reference (:func:`rasterclass.jobs.training.applicability_reference`)."""
    import rasterio

    from rasterclass import ClassMap, Samples, fit_model
    from rasterclass.estimators.presets import make_estimator
    from rasterclass.jobs.training import applicability_reference

    with rasterio.open(scene) as src:
        data = src.read()
    cls, _, valid = bp.label_rows(0, side, side, bp.layouts(side, seed))
    rows_v, cols_v = np.nonzero(valid)
    pick = np.random.default_rng([seed, 99]).choice(len(rows_v), N_TRAIN, replace=False)
    rows, cols = rows_v[pick], cols_v[pick]
    samples = Samples(
        X=data[:, rows, cols].T.astype(np.float32),
        y=(cls[rows, cols] + 1).astype(np.int64),
        groups=np.arange(N_TRAIN),
        rows=rows,
        cols=cols,
        band_names=[f"B{b + 1}" for b in range(bp.N_BANDS)],
        class_map=ClassMap.from_codes(range(1, len(bp.CLASS_NAMES) + 1), bp.CLASS_NAMES),
    )
    est = make_estimator("rf", {"n_estimators": trees}, seed)
    model = fit_model(samples, est, crs="EPSG:32633", summary={"method": "rf", "seed": seed})
    t0 = time.perf_counter()
    model.applicability = applicability_reference(model, samples)
    print(f"AOA reference of {N_TRAIN} training pixels in {time.perf_counter() - t0:.1f} s")
    model.save(path, overwrite=True)


# ------------------------------------------------------------------------------------------
# Children: one measured job per process
# ------------------------------------------------------------------------------------------
def _open(a: argparse.Namespace) -> tuple[Any, Any]:
    import rasterclass as rc

    return rc.open_scene(a.scene, chunks=a.chunks), rc.RasterModel.load(a.model)


def child_predict(a: argparse.Namespace) -> dict[str, Any]:
    import rasterclass as rc

    t0 = time.perf_counter()
    scene, model = _open(a)
    rc.predict(scene, model, a.out, overwrite=True, aoa=a.aoa_out)
    return {"inner": time.perf_counter() - t0, "peak_self": _measure.high_water()}


def child_aoa(a: argparse.Namespace) -> dict[str, Any]:
    import rasterclass as rc
    from rasterclass.io import RasterOutput, write_rasters

    t0 = time.perf_counter()
    scene, model = _open(a)
    layers = rc.area_of_applicability(scene, model)
    out = RasterOutput(
        layers, a.aoa_out, nodata=float("nan"), descriptions=[str(b) for b in layers["band"].values]
    )
    write_rasters([out], overwrite=True)
    return {"inner": time.perf_counter() - t0, "peak_self": _measure.high_water()}


CHILDREN = {"predict": child_predict, "aoa": child_aoa}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1000, help="side of the 1x scene (default 1000)")
    ap.add_argument("--scales", default="1,4,16", help="scene sizes as multiples of the 1x area")
    ap.add_argument("--trees", type=int, default=50, help="trees of the random forest")
    ap.add_argument("--workdir", type=Path, default=HERE / "_data", help="scenes and model")
    ap.add_argument("--chunks", type=int, help="chunk side in pixels (default: from the budget)")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--scene", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--aoa-out", help=argparse.SUPPRESS)
    _measure.child_or_bench(ap, CHILDREN, bench)


def bench(a: argparse.Namespace) -> None:
    import psutil

    import rasterclass

    started = time.perf_counter()
    scales = sorted({int(s) for s in a.scales.split(",")})
    work = a.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="logs_aoa_", dir=work))
    print(f"command: python benchmarks/bench_aoa.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}; nproc "
        f"{os.cpu_count()}, {psutil.virtual_memory().total / 2**30:.1f} GiB RAM; load average "
        f"{os.getloadavg()[0]:.1f}; rasterclass {rasterclass.__version__}"
    )
    scenes = {}
    for k in sorted({1, *scales}):
        side = bp.side_for(a.size, k)
        path = work / f"scene_{side}.tif"
        if not bp.scene_ok(path):
            print(f"generating {path.name} ({side} x {side})...", flush=True)
            bp.make_scene(path, side)
        scenes[k] = (path, side)
    model = work / f"model_aoa_rf{a.trees}_{scenes[1][1]}_v{bp.GEN_VERSION}.skops"
    if not model.exists():
        make_model(scenes[1][0], model, scenes[1][1], a.trees)
    results: dict[int, dict[str, dict[str, Any]]] = {}
    for k in scales:
        scene, side = scenes[k]
        common = {"scene": scene, "model": model, "chunks": a.chunks}
        runs = {
            "predict": {"mode": "predict", "out": work / f"map_aoa_{side}.tif"},
            "aoa": {"mode": "aoa", "aoa_out": work / f"aoa_{side}.tif"},
            "predict+aoa": {
                "mode": "predict",
                "out": work / f"map_aoa_{side}.tif",
                "aoa_out": work / f"aoa2_{side}.tif",
            },
        }
        results[k] = {}
        for name, kw in runs.items():
            mode = kw.pop("mode")
            log = logs / f"{name}_{k}.log"
            results[k][name] = _measure.run_child(__file__, mode, log, **common, **kw)
            r = results[k][name]
            print(f"{k}x {side} px {name}: {r['wall']:.1f} s, {r['peak_tree'] / MB:,.0f} MB")
        same = _same(work / f"aoa_{side}.tif", work / f"aoa2_{side}.tif")
        results[k]["aoa"]["same"] = same
    shutil.rmtree(logs, ignore_errors=True)
    report(results, scales, scenes)
    print(f"\nbenchmark wall time {time.perf_counter() - started:.0f} s")


def _same(a: Path, b: Path) -> bool:
    import rasterio

    with rasterio.open(a) as x, rasterio.open(b) as y:
        return bool(np.array_equal(x.read(), y.read(), equal_nan=True))


def report(results: dict, scales: list[int], scenes: dict) -> None:
    print("\n## Results\n")
    print("| run | scale | Mpx | wall s | inner s | CPU s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k in scales:
        px = scenes[k][1] ** 2 / 1e6
        for name, r in results[k].items():
            print(
                f"| {name} | {k}x | {px:.1f} | {r['wall']:.1f} | {r['inner']:.1f} | "
                f"{r['cpu']:.1f} | {r['peak_tree'] / MB:,.0f} |"
            )
    print("\n## Ratios (same invocation)\n")
    base = results[scales[0]]["aoa"]["peak_tree"]
    for k in scales:
        r = results[k]
        print(
            f"- {k}x: aoa / predict = {r['aoa']['inner'] / r['predict']['inner']:.2f} (inner "
            f"time); (predict+aoa) / predict = "
            f"{r['predict+aoa']['inner'] / r['predict']['inner']:.2f}; aoa peak / predict peak "
            f"= {r['aoa']['peak_tree'] / r['predict']['peak_tree']:.2f}; peak aoa({k}x) / "
            f"aoa({scales[0]}x) = {r['aoa']['peak_tree'] / base:.2f}; AOA layers of the "
            f"one-pass run identical: {r['aoa']['same']}"
        )


if __name__ == "__main__":
    main()
