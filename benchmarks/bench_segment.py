"""Benchmark: Shepherd segmentation time and peak memory at 1x, 4x and 16x a base scene.

Each run happens in a fresh subprocess, so that its peak resident memory (``VmHWM``, the
high-water mark since exec, read by the child from ``/proc/self/status`` after the segment
raster is written; not ``ru_maxrss``, which on Linux inherits the parent's RSS at fork) is its
own. The 1x scene is the 1000 x 1000 sample scene tiled ``--base`` x ``--base`` (default 2:
2000 x 2000, four 1024-pixel segmentation tiles, so that both threads of a 2-core machine are
busy already at 1x); the kx scene is the sample tiled ``base * sqrt(k)`` times each way (8000 x
8000 for 16x), in a temporary GeoTIFF. Shepherd segments in fixed tiles (``-p tile=1024``):
each tile's seed components and clumps are handled inside the tile, and only the segments that
touch a tile edge (and their neighbours) are joined across tiles, so the peak should follow the
tile size and the threads, not the scene's area.

Prints, per scale: pixels, chunks, seed components, final segments, time of the tables
(segmentation) and of the write (the lazy paint pass), process wall time (interpreter start and
imports included), peak RSS (``VmHWM``) at the end and before the write, and the RSS after the
imports; then the ratios against the 1x run of the same invocation: peak(kx) / peak(1x), peak
above the imports, time, segments and seed components.

Also measures the seams of the per-chunk methods (slic, felzenszwalb) on the sample scene:
in memory (one chunk) against 256-pixel chunks; and Shepherd's chunk invariance (256-pixel
chunks against one chunk) and the effect of its tiles (``tile=256`` against one tile).

Usage::

    python benchmarks/bench_segment.py [--scales 1,4,16] [--base 2] [--chunks 512] [--no-seams]

(about 3 minutes on two cores with the defaults.)
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import _measure  # benchmarks/_measure.py (the script's folder is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "scene.tif"


def tile_scene(src_path: Path, dst_path: Path, n: int) -> None:
    """Write the scene tiled n x n (n^2 times the area) as a tiled, compressed GeoTIFF."""
    import numpy as np
    import rasterio

    with rasterio.open(src_path) as src:
        data = src.read()
        profile = src.profile
        descriptions = src.descriptions
    big = np.tile(data, (1, n, n))
    profile.update(width=big.shape[2], height=big.shape[1], tiled=True, blockxsize=256,
                   blockysize=256, compress="deflate")  # fmt: skip
    with rasterio.open(dst_path, "w", **profile) as dst:
        dst.write(big)
        for i, d in enumerate(descriptions, start=1):
            if d:
                dst.set_band_description(i, d)


def _vm_hwm_mb() -> float:
    """Peak resident memory of this process since exec, in MB (Linux ``VmHWM``)."""
    return _measure.high_water() / 2**20


class _SeedComponents(logging.Handler):
    """Catches the number of seed components (before clump elimination) that
    ``rasterclass.objects`` logs (summed over the tiles)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.n = -1

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("%d seed components") and record.args:
            self.n = int(record.args[0])


def child(path: str, chunks: int, out: str) -> None:
    """One measured run: segment, then write the segment raster (the lazy paint pass)."""
    import dask

    from rasterclass import open_scene
    from rasterclass.io import write_segments
    from rasterclass.objects import segment

    dask.config.set(scheduler="threads")
    components = _SeedComponents()
    log = logging.getLogger("rasterclass.objects")
    log.addHandler(components)
    log.setLevel(logging.INFO)
    base = _vm_hwm_mb()
    t0 = time.perf_counter()
    scene = open_scene(path, chunks=chunks)
    segs = segment(scene)
    t1 = time.perf_counter()
    peak_tables = _vm_hwm_mb()
    write_segments(segs, out, overwrite=True)
    t2 = time.perf_counter()
    peak = _vm_hwm_mb()
    print(
        json.dumps(
            {
                "pixels": scene.shape[1] * scene.shape[2],
                "chunks": len(scene.data.chunks[1]) * len(scene.data.chunks[2]),
                "segments": int(segs.attrs["n_segments"]),
                "components": components.n,
                "tables_s": t1 - t0,
                "write_s": t2 - t1,
                "peak_mb": peak,
                "peak_tables_mb": peak_tables,
                "after_imports_mb": base,
            }
        )
    )


def run(path: Path, chunks: int, tmp: Path) -> dict:
    """One measured run in a fresh subprocess; its JSON report plus the process wall time."""
    cmd = [sys.executable, __file__, "--child", str(path), "--chunks", str(chunks),
           "--out", str(tmp / f"segs_{path.stem}.tif")]  # fmt: skip
    t0 = time.perf_counter()
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t0
    return out


def seams() -> None:
    """Seam statistics of the per-chunk methods on the sample scene."""
    from sklearn.metrics import adjusted_rand_score

    from rasterclass import open_scene
    from rasterclass.objects import seam_statistics, segment

    print("\nseams of the per-chunk methods (sample scene, 256-px chunks vs one chunk):")
    runs = [("slic", {}), ("felzenszwalb", {}), ("shepherd", {}), ("shepherd", {"tile": 256})]
    for method, params in runs:
        whole = segment(open_scene(SAMPLE, chunks=1000), method).values
        t0 = time.perf_counter()
        tiled = segment(open_scene(SAMPLE, chunks=256), method, **params).values
        dt = time.perf_counter() - t0
        valid = whole > 0
        ari = adjusted_rand_score(whole[valid], tiled[valid])
        sw, st = seam_statistics(whole, 256), seam_statistics(tiled, 256)
        print(
            f"  {method + ''.join(f' {k}={v}' for k, v in params.items()):<22} {dt:5.1f} s  "
            f"segments {len(set(tiled[valid].tolist())):>6}  "
            f"boundary share on chunk lines: one chunk {sw['face_boundary_share']:.3f}, "
            f"chunked {st['face_boundary_share']:.3f} (all pairs {sw['boundary_share']:.3f}); "
            f"segments crossing chunk lines {int(sw['cut_segments'])} -> "
            f"{int(st['cut_segments'])}; adjusted Rand index vs one chunk {ari:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scales",
        default="1,4,16",
        help="scene areas as multiples of the 1x scene, perfect squares (default 1,4,16)",
    )
    parser.add_argument(
        "--base",
        type=int,
        default=2,
        help="the 1x scene is the sample scene tiled BASE x BASE (default 2: 2000 x 2000)",
    )
    parser.add_argument("--chunks", type=int, default=512)
    parser.add_argument("--child")
    parser.add_argument("--out")
    parser.add_argument("--no-seams", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.chunks, args.out)
        return
    scales = sorted({int(k) for k in args.scales.split(",")})
    for k in scales:
        if math.isqrt(k) ** 2 != k:
            parser.error(f"scale {k} is not a perfect square (the scene is tiled n x n)")
    if scales[0] != 1:
        parser.error("the scales must include 1 (the baseline of the ratios)")
    started = time.perf_counter()
    print(f"command: python benchmarks/bench_segment.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}; "
        f"nproc {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print(f"Shepherd segmentation (default parameters), chunks {args.chunks}, "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        results = {}
        for k in scales:
            n = math.isqrt(k) * args.base
            if n == 1:
                path = SAMPLE
            else:
                path = tmp / f"scene_{k}x.tif"
                tile_scene(SAMPLE, path, n)
            r = run(path, args.chunks, tmp)
            results[k] = r
            side = f"{n * 1000}x{n * 1000}"
            print(
                f"  {k:>2}x {side:<9} {r['pixels'] / 1e6:4.0f} Mpx {r['chunks']:>3} chunks "
                f"{r['components']:>9} seed components -> {r['segments']:>6} segments  "
                f"tables {r['tables_s']:5.1f} s  write {r['write_s']:4.1f} s  "
                f"process {r['wall_s']:5.1f} s  peak RSS {r['peak_mb']:5.0f} MB (after imports "
                f"{r['after_imports_mb']:.0f} MB, above them "
                f"{r['peak_mb'] - r['after_imports_mb']:.0f} MB; "
                f"peak before the write {r['peak_tables_mb']:.0f} MB)",
                flush=True,
            )
        small = results[1]
        small_time = small["tables_s"] + small["write_s"]
        small_above = max(small["peak_mb"] - small["after_imports_mb"], 1)
        print("ratios against the 1x run:")
        for k in scales[1:]:
            large = results[k]
            ratio = large["peak_mb"] / small["peak_mb"]
            growth = (large["peak_mb"] - large["after_imports_mb"]) / small_above
            time_ratio = (large["tables_s"] + large["write_s"]) / small_time
            print(
                f"  {k:>2}x area: peak memory x{ratio:.2f} (above the imports: x{growth:.2f}), "
                f"time x{time_ratio:.2f} (x{time_ratio / k:.2f} per pixel), "
                f"process wall x{large['wall_s'] / small['wall_s']:.2f}, "
                f"segments x{large['segments'] / small['segments']:.2f}, "
                f"seed components x{large['components'] / small['components']:.2f}"
            )
    if not args.no_seams:
        seams()
    print(f"benchmark wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
