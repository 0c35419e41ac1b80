"""Benchmark: Shepherd segmentation time and peak memory, sample scene vs a scene 4x its area.

Each run happens in a fresh subprocess, so that its peak resident memory (``VmHWM``, the
high-water mark since exec; not ``ru_maxrss``, which inherits the parent's at fork) is its
own. The 4x scene is the sample scene tiled 2 x 2 into a temporary GeoTIFF. The peak memory
of the large scene must stay well under 4x that of the sample scene: the label raster is never
held in memory, only per-segment tables.

Also measures the seams of the per-chunk methods (slic, felzenszwalb) on the sample scene:
in memory (one chunk) against 256-pixel chunks.

Usage::

    python benchmarks/bench_segment.py [--chunks 512] [--no-seams]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "scene.tif"


def tile_2x2(src_path: Path, dst_path: Path) -> None:
    """Write the scene tiled 2 x 2 (4x the area) as a tiled, compressed GeoTIFF."""
    import numpy as np
    import rasterio

    with rasterio.open(src_path) as src:
        data = src.read()
        profile = src.profile
        descriptions = src.descriptions
    big = np.tile(data, (1, 2, 2))
    profile.update(width=big.shape[2], height=big.shape[1], tiled=True, blockxsize=256,
                   blockysize=256, compress="deflate")  # fmt: skip
    with rasterio.open(dst_path, "w", **profile) as dst:
        dst.write(big)
        for i, d in enumerate(descriptions, start=1):
            if d:
                dst.set_band_description(i, d)


def _vm_hwm_mb() -> float:
    """Peak resident memory of this process since exec, in MB (Linux ``VmHWM``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(path: str, chunks: int, out: str) -> None:
    """One measured run: segment, then write the segment raster (the lazy paint pass)."""
    import dask

    from rasterclass import open_scene
    from rasterclass.io import write_segments
    from rasterclass.objects import segment

    dask.config.set(scheduler="threads")
    base = _vm_hwm_mb()
    t0 = time.perf_counter()
    scene = open_scene(path, chunks=chunks)
    segs = segment(scene)
    t1 = time.perf_counter()
    write_segments(segs, out, overwrite=True)
    t2 = time.perf_counter()
    peak = _vm_hwm_mb()
    print(
        json.dumps(
            {
                "pixels": scene.shape[1] * scene.shape[2],
                "chunks": len(scene.data.chunks[1]) * len(scene.data.chunks[2]),
                "segments": int(segs.attrs["n_segments"]),
                "tables_s": t1 - t0,
                "write_s": t2 - t1,
                "peak_mb": peak,
                "after_imports_mb": base,
            }
        )
    )


def run(path: Path, chunks: int, tmp: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path), "--chunks", str(chunks),
           "--out", str(tmp / f"segs_{path.stem}.tif")]  # fmt: skip
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def seams() -> None:
    """Seam statistics of the per-chunk methods on the sample scene."""
    from sklearn.metrics import adjusted_rand_score

    from rasterclass import open_scene
    from rasterclass.objects import seam_statistics, segment

    print("\nseams of the per-chunk methods (sample scene, 256-px chunks vs one chunk):")
    for method in ("slic", "felzenszwalb", "shepherd"):
        whole = segment(open_scene(SAMPLE, chunks=1000), method).values
        t0 = time.perf_counter()
        tiled = segment(open_scene(SAMPLE, chunks=256), method).values
        dt = time.perf_counter() - t0
        valid = whole > 0
        ari = adjusted_rand_score(whole[valid], tiled[valid])
        sw, st = seam_statistics(whole, 256), seam_statistics(tiled, 256)
        print(
            f"  {method:<13} {dt:5.1f} s  segments {len(set(tiled[valid].tolist())):>6}  "
            f"boundary share on chunk lines: one chunk {sw['face_boundary_share']:.3f}, "
            f"chunked {st['face_boundary_share']:.3f} (all pairs {sw['boundary_share']:.3f}); "
            f"segments crossing chunk lines {int(sw['cut_segments'])} -> "
            f"{int(st['cut_segments'])}; adjusted Rand index vs one chunk {ari:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=512)
    parser.add_argument("--child")
    parser.add_argument("--out")
    parser.add_argument("--no-seams", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.chunks, args.out)
        return
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        big = tmp / "scene_4x.tif"
        tile_2x2(SAMPLE, big)
        print(f"Shepherd segmentation (default parameters), chunks {args.chunks}, "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        results = {}
        for name, path in (("sample 1000x1000", SAMPLE), ("4x area 2000x2000", big)):
            r = run(path, args.chunks, tmp)
            results[name] = r
            print(
                f"  {name:<18} {r['pixels']:>9} px {r['chunks']:>3} chunks "
                f"{r['segments']:>6} segments  tables {r['tables_s']:5.1f} s  "
                f"write {r['write_s']:5.1f} s  peak RSS {r['peak_mb']:6.0f} MB "
                f"(after imports {r['after_imports_mb']:.0f} MB)"
            )
        small, large = results.values()
        ratio = large["peak_mb"] / small["peak_mb"]
        growth = (large["peak_mb"] - large["after_imports_mb"]) / max(
            small["peak_mb"] - small["after_imports_mb"], 1
        )
        time_ratio = (large["tables_s"] + large["write_s"]) / (small["tables_s"] + small["write_s"])
        print(
            f"  4x area: peak memory x{ratio:.2f} (above the imports: x{growth:.2f}), "
            f"time x{time_ratio:.2f}"
        )
    if not args.no_seams:
        seams()


if __name__ == "__main__":
    main()
