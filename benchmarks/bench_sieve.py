"""Benchmark: ``rasterclass sieve`` time and peak memory at 1x, 4x and 16x a generated class map,
against GDAL's sieve (:func:`rasterio.features.sieve`) on the whole array in memory.

One command::

    python benchmarks/bench_sieve.py [--size 1000] [--scales 1,4,16] [--mmu 9] [--chunks 512]

1. Generates deterministic noisy class maps (uint8, 6 classes in 24-pixel wavy patches with
   12 % salt noise and a nodata band, 10 m pixels, EPSG:32633, tiled 256, deflate) of ``size``
   x ``size`` pixels at 1x and ``sqrt(k) * size`` at kx, written with the class map
   (:func:`rasterclass.write_map`) to a temporary folder.
2. For every scale, each run in its own subprocess (peak RSS of the process, ``VmHWM``):
   - rasterclass: :func:`rasterclass.jobs.sieve_map` (lazy read in ``--chunks`` chunks, global
     patch graph, lazy paint, tiled write);
   - GDAL: read the whole band, :func:`rasterio.features.sieve` with the nodata mask, write
     a GeoTIFF (the same profile).
3. Prints a table (time in the process, peak RSS) and the ratios rasterclass / GDAL of the
   same invocation (time in the process; wall and CPU time of the whole process, with
   Python's start-up and the imports: CPU time is the steadier figure on a loaded machine),
   and the share of pixels on which the two maps agree (the rules differ:
   longest border against largest neighbour).

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

import _measure  # benchmarks/_measure.py (the script's folder is on sys.path)

N_CLASSES = 6
CELL = 24
NOISE = 0.12
MB = 2**20


def generate(path: Path, side: int) -> None:
    """A noisy class map of ``side`` x ``side`` pixels, written by rasterclass."""
    import numpy as np
    import rasterio
    import rioxarray  # noqa: F401  (the .rio accessor)
    import xarray as xr

    import rasterclass as rc

    rng = np.random.default_rng(side)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    wavy = (x + 6 * np.sin(y / 9)) // CELL + 7 * ((y + 6 * np.cos(x / 11)) // CELL)
    classes = (wavy.astype(np.int64) * 2654435761 % N_CLASSES + 1).astype(np.uint8)
    noise = rng.random((side, side)) < NOISE
    classes[noise] = rng.integers(1, N_CLASSES + 1, int(noise.sum()), dtype=np.uint8)
    classes[:, : side // 20] = 0  # a nodata band
    m = xr.DataArray(classes, dims=("y", "x"), coords={"y": 1e5 - 10 * (np.arange(side) + 0.5),
                     "x": 10 * (np.arange(side) + 0.5)})  # fmt: skip
    m = m.rio.write_crs("EPSG:32633").rio.write_transform(rasterio.Affine(10, 0, 0, 0, -10, 1e5))
    cmap = rc.ClassMap.from_codes(list(range(1, N_CLASSES + 1)))
    rc.write_map(m, path, cmap, overwrite=True)


def child_rasterclass(path: str, out: str, mmu: int, chunks: int) -> dict:
    import dask

    from rasterclass import jobs

    dask.config.set(scheduler="threads")
    t0 = time.perf_counter()
    result = jobs.sieve_map(path, out, mmu, chunks=chunks, overwrite=True)
    return {"inner_s": time.perf_counter() - t0, "patches_s": result.timings["patches"]}


def child_gdal(path: str, out: str, mmu: int, chunks: int) -> dict:
    import rasterio
    from rasterio.features import sieve

    t0 = time.perf_counter()
    with rasterio.open(path) as src:
        band = src.read(1)
        profile = src.profile
    sieved = sieve(band, mmu, mask=band > 0, connectivity=4)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(sieved, 1)
    return {"inner_s": time.perf_counter() - t0}


def child(mode: str, path: str, out: str, mmu: int, chunks: int) -> None:
    run = {"rasterclass": child_rasterclass, "gdal": child_gdal}[mode]
    report = run(path, out, mmu, chunks)
    report["peak_self"] = _measure.high_water()
    print(json.dumps(report))


def agreement(a: str, b: str) -> float:
    import numpy as np
    import rasterio

    with rasterio.open(a) as sa, rasterio.open(b) as sb:
        return float(np.mean(sa.read(1) == sb.read(1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--mmu", type=int, default=9, help="MMU in pixels")
    parser.add_argument("--chunks", type=int, default=512)
    parser.add_argument("--child")
    parser.add_argument("--path")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.out, args.mmu, args.chunks)
        return
    print(f"command: python benchmarks/bench_sieve.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"python {platform.python_version()}, {platform.machine()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k in [int(s) for s in args.scales.split(",")]:
            side = int(round(args.size * math.sqrt(k) / 8) * 8)
            path = folder / f"map_{k}x.tif"
            generate(path, side)
            row: dict = {"scale": k, "pixels": side * side}
            for mode in ("rasterclass", "gdal"):
                out = folder / f"{mode}_{k}x.tif"
                res = _measure.run_child(__file__, mode, folder / f"{mode}.log", path=path,
                                         out=out, mmu=args.mmu, chunks=args.chunks)  # fmt: skip
                row[mode] = {"wall_s": res["wall"], "inner_s": res["inner_s"],
                             "cpu_s": res["cpu"], "peak_mb": res["peak"] / MB}  # fmt: skip
                if "patches_s" in res:
                    row[mode]["patches_s"] = res["patches_s"]
            row["agreement"] = agreement(str(folder / f"rasterclass_{k}x.tif"),
                                         str(folder / f"gdal_{k}x.tif"))  # fmt: skip
            rows.append(row)
    print(f"\nMMU {args.mmu} px, chunks {args.chunks}, 4-connectivity")
    print(
        f"{'scale':>5} {'pixels':>11} | {'rasterclass s':>13} {'peak MB':>8} | {'GDAL s':>7} "
        f"{'peak MB':>8} | {'time ratio':>10} {'wall ratio':>10} {'cpu ratio':>9} "
        f"{'peak ratio':>10} {'agree':>7}"
    )
    for r in rows:
        ours, gd = r["rasterclass"], r["gdal"]
        print(
            f"{r['scale']:>4}x {r['pixels']:>11,} | {ours['inner_s']:>13.2f} "
            f"{ours['peak_mb']:>8.0f} | {gd['inner_s']:>7.2f} {gd['peak_mb']:>8.0f} | "
            f"{ours['inner_s'] / gd['inner_s']:>10.1f} {ours['wall_s'] / gd['wall_s']:>10.1f} "
            f"{ours['cpu_s'] / gd['cpu_s']:>9.1f} "
            f"{ours['peak_mb'] / gd['peak_mb']:>10.2f} "
            f"{r['agreement']:>7.2%}"
        )
    base = rows[0]
    for r in rows[1:]:
        print(
            f"{r['scale']}x / {base['scale']}x: rasterclass time "
            f"{r['rasterclass']['inner_s'] / base['rasterclass']['inner_s']:.1f}, peak "
            f"{r['rasterclass']['peak_mb'] / base['rasterclass']['peak_mb']:.2f}; GDAL time "
            f"{r['gdal']['inner_s'] / base['gdal']['inner_s']:.1f}, peak "
            f"{r['gdal']['peak_mb'] / base['gdal']['peak_mb']:.2f}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
