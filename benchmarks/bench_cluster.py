"""Benchmark: ISODATA fit time on 100k samples and cluster assignment throughput.

Generates a deterministic synthetic 6-band scene (default 4000 x 4000 px, float32, with a
nodata margin) in a temporary folder, then prints

- the time to draw 100k valid pixels (``sample_valid_pixels``) and to fit ISODATA on them;
- the assignment throughput (pixels/s) of ``predict_raster`` (the one chunked apply), from
  the GeoTIFF (reading included) and from an in-memory dask array (assignment only);
- the throughput of a plain numpy nearest-centre assignment of the same pixels in the same
  run, and the ratios.

Run: ``.venv/bin/python benchmarks/bench_cluster.py [--size 4000] [--chunks 512] [-k 8]``
(about a minute on two cores at the default size).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import rasterio
from affine import Affine
from threadpoolctl import threadpool_limits

from rasterclass import open_scene, predict_raster
from rasterclass.unsupervised import fit_clusterer

N_BANDS = 6


def make_scene(path: Path, size: int, seed: int = 0) -> None:
    """Patches of 8 spectral classes (64 px blocks) plus noise; a 10 px nodata margin."""
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
    }
    n_blocks = -(-size // 64)
    layout = rng.integers(0, 8, (n_blocks, n_blocks))
    strip = 512
    with rasterio.open(path, "w", **profile) as dst:
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


def numpy_assign(pixels: np.ndarray, centres: np.ndarray, step: int = 1 << 20) -> np.ndarray:
    """Nearest centre (squared Euclidean via |x|^2 - 2 x.c + |c|^2), in blocks of rows."""
    out = np.empty(len(pixels), dtype=np.int64)
    c = centres.astype(np.float64)
    c2 = (c * c).sum(axis=1)
    for start in range(0, len(pixels), step):
        x = pixels[start : start + step].astype(np.float64)
        out[start : start + step] = (c2 - 2.0 * (x @ c.T)).argmin(axis=1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000, help="scene side in pixels")
    parser.add_argument("--chunks", type=int, default=512, help="chunk side in pixels")
    parser.add_argument("-k", type=int, default=8, help="desired ISODATA clusters")
    args = parser.parse_args()
    dask.config.set(scheduler="threads")
    print(
        f"cores: {os.cpu_count()}, scene {args.size} x {args.size} x {N_BANDS} bands, "
        f"chunks {args.chunks}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scene.tif"
        t = time.perf_counter()
        make_scene(path, args.size)
        print(f"generated scene in {time.perf_counter() - t:.1f} s")

        scene = open_scene(path, chunks=args.chunks)
        for label, params in (("default tol=0.02", {}), ("tol=0: all max_iter", {"tol": 0})):
            model = fit_clusterer(scene, "isodata", args.k, params, sample_size=100_000, seed=0)
            s = model.summary
            print(
                f"ISODATA ({label}) on {s['n_samples']} valid pixels x {N_BANDS} bands: "
                f"sampling {s['sampling_seconds']:.2f} s, fit {s['fit_seconds']:.2f} s, "
                f"{s['n_clusters']} clusters (asked {args.k}), {s['n_iter']} iterations"
            )

        t = time.perf_counter()
        from_file = predict_raster(scene, model)["classes"].values
        t_file = time.perf_counter() - t

        in_memory = scene.compute()
        data = in_memory.values
        lazy = in_memory.copy(data=da.from_array(data, chunks=(N_BANDS, args.chunks, args.chunks)))
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
        print(f"pixels: {n_all} ({n_valid} valid)")
        print(f"predict_raster from GeoTIFF : {t_file:6.2f} s  {n_all / t_file / 1e6:7.2f} Mpx/s")
        print(f"predict_raster in memory    : {t_mem:6.2f} s  {n_all / t_mem / 1e6:7.2f} Mpx/s")
        print(f"numpy nearest centre (1 thr): {t_np:6.2f} s  {rate_np / 1e6:7.2f} Mpx/s (valid px)")
        print(
            f"ratio numpy / predict_raster: {rate_np / (n_valid / t_file):.2f} (from file), "
            f"{rate_np / (n_valid / t_mem):.2f} (in memory); labels agree on {agree:.4%}"
        )


if __name__ == "__main__":
    main()
