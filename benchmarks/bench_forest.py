"""Benchmark: exact random-forest inference against scikit-learn, one thread, side by side.

One command::

    .venv/bin/python benchmarks/bench_forest.py [--sizes 100000,300000,1000000] [--trees 100]
        [--kind rf|et] [--repeat 3] [--verify-side 0] [--json PATH]

(about 3 minutes on 2 quiet cores with the defaults; see benchmarks/README.md.)

Scene-like data: the pixels of ``bench_predict.py``'s synthetic scene (6 bands, digital
numbers as float32: 8 classes x 3 spectral sub-types, pixel noise, no nodata rows), a forest
(``--kind rf``: ``RandomForestClassifier``, ``et``: ``ExtraTreesClassifier``; ``--trees``
trees, ``random_state=0``, fully grown) trained on 6000 labelled pixels. Then, in this one
process on one thread (``n_jobs=1``, BLAS/OpenMP pools of 1), for every size, in interleaved
rounds (every candidate once per round, ``--repeat`` rounds, the fastest round kept):

- ``sklearn proba`` / ``sklearn predict``: the forest's own ``predict_proba`` / ``predict``;
- ``(a) numpy gather``: ``tree.apply`` per tree and the leaf values gathered into one running
  sum (no per-tree probability array from scikit-learn, numpy only);
- ``numba 1 row``: the packed nodes (breadth first, children side by side, float64
  thresholds), one row walked at a time (the simplest compiled traversal);
- ``(b) numba lanes f64``: the packed nodes, 8 rows walked side by side through each tree,
  float64 thresholds;
- ``(c) numba lanes f32``: the same with float32 thresholds (the largest float32 <= t),
  :class:`rasterclass.estimators.forest_inference.ExactForest` as ``predict_raster`` uses it
  (``predict_proba``; ``(c) predict`` is its ``predict``).

Each candidate's probabilities and labels are checked to equal scikit-learn's bit for bit
(``np.array_equal``). Ratios are CPU seconds of scikit-learn ``predict_proba`` over the
candidate's, measured in the same run. ``--verify-side N`` also compares ExactForest with
scikit-learn on every valid pixel of a generated N x N scene (e.g. 4000), strip by strip.
Not part of the test suite.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import bench_predict as bp  # benchmarks/bench_predict.py: the synthetic scene  # noqa: E402
import numpy as np  # noqa: E402

SIDE = 2000  # the scene the pixels come from (rows are generated as needed)


def scene_rows(r0: int, r1: int, side: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(pixels float32 (n, 6), class index (n,)) of the valid pixels of rows r0..r1 of the
    ``bench_predict.py`` scene of this side (its generator, without the GeoTIFF)."""
    spectra = bp.class_spectra(seed)
    cls, sub, valid = bp.label_rows(r0, r1, side, bp.layouts(side, seed))
    rng = np.random.default_rng([seed, side, r0])
    data = spectra[cls, sub].transpose(2, 0, 1)
    shade = 1.0 + 0.08 * np.sin(np.arange(side, dtype=np.float32) / 97.0)[None, None, :]
    noise = rng.standard_normal(data.shape, dtype=np.float32) * bp.NOISE
    data = np.clip(np.rint(data * shade + noise), 1, 10000).astype(np.uint16)
    pixels = data.reshape(bp.N_BANDS, -1).T[valid.ravel()].astype(np.float32)
    return pixels, cls.ravel()[valid.ravel()]


def make_forest(kind: str, trees: int) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    X, y = scene_rows(0, SIDE, SIDE)
    pick = np.random.default_rng([0, 99]).choice(len(X), bp.N_TRAIN, replace=False)
    cls = RandomForestClassifier if kind == "rf" else ExtraTreesClassifier
    return cls(n_estimators=trees, random_state=0, n_jobs=1).fit(X[pick], y[pick] + 1)


def numpy_gather(forest: Any, X: np.ndarray) -> np.ndarray:
    """(a): per tree, leaf ids by ``tree.apply`` and the leaf values added in the trees' order."""
    out = np.zeros((len(X), forest.n_classes_), dtype=np.float64)
    for tree in forest.estimators_:
        values = tree.tree_.value[:, 0, : forest.n_classes_]
        out += values[tree.tree_.apply(X)]
    out /= len(forest.estimators_)
    return out


def one_row_kernel() -> Callable[..., np.ndarray]:
    import numba

    @numba.njit(nogil=True, cache=True)
    def sums(X, roots, child, feature, threshold, leaf, values):  # type: ignore[no-untyped-def]
        n, k = X.shape[0], values.shape[1]
        out = np.zeros((n, k), dtype=np.float64)
        for t in range(roots.shape[0]):
            for i in range(n):
                nd = roots[t]
                while leaf[nd] < 0:
                    nd = child[nd] + (X[i, feature[nd]] > threshold[nd])
                for c in range(k):
                    out[i, c] += values[leaf[nd], c]
        return out / roots.shape[0]

    return sums  # type: ignore[no-any-return]


def candidates(forest: Any) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    from rasterclass.estimators.forest_inference import ExactForest

    f64 = ExactForest(forest, float32_thresholds=False)
    f32 = ExactForest(forest)
    one_row = one_row_kernel()
    packed = (f64.roots, f64.child, f64.feature, f64.threshold, f64.leaf, f64.values)
    return {
        "sklearn proba": forest.predict_proba,
        "sklearn predict": forest.predict,
        "(a) numpy gather": lambda X: numpy_gather(forest, X),
        "numba 1 row": lambda X: one_row(X, *packed),
        "(b) numba lanes f64": f64.predict_proba,
        "(c) numba lanes f32": f32.predict_proba,
        "(c) predict": f32.predict,
    }


def measure(forest: Any, sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    X_all, _ = scene_rows(SIDE // 4, SIDE // 4 + max(sizes) // SIDE + 2, SIDE)
    cands = candidates(forest)
    small = X_all[:100]
    for fn in cands.values():  # compile and warm up
        fn(small)
    rows = []
    for n in sizes:
        X = np.ascontiguousarray(X_all[:n])
        best: dict[str, tuple[float, float]] = {}
        exact: dict[str, bool] = {}
        ref_p = forest.predict_proba(X)
        ref_l = forest.predict(X)
        for _ in range(repeat):
            for name, fn in cands.items():
                t0, c0 = time.perf_counter(), time.process_time()
                out = fn(X)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                if name not in best or cpu < best[name][1]:
                    best[name] = (wall, cpu)
                ref = ref_l if out.ndim == 1 else ref_p
                exact[name] = exact.get(name, True) and bool(np.array_equal(out, ref))
        base = best["sklearn proba"][1]
        for name, (wall, cpu) in best.items():
            rows.append(
                {
                    "n": n,
                    "candidate": name,
                    "wall_s": round(wall, 4),
                    "cpu_s": round(cpu, 4),
                    "ns_per_pixel_tree": round(cpu / n / len(forest.estimators_) * 1e9, 2),
                    "ratio_vs_sklearn_proba": round(base / cpu, 3),
                    "identical": exact[name],
                }
            )
    return rows


def verify(forest: Any, side: int, strip: int = 256) -> dict[str, Any]:
    """ExactForest against scikit-learn on every valid pixel of a side x side scene."""
    from rasterclass.estimators.forest_inference import ExactForest

    fast = ExactForest(forest)
    n = diff_p = diff_l = 0
    t_sk = t_fast = 0.0
    for r0 in range(0, side, strip):
        X, _ = scene_rows(r0, min(side, r0 + strip), side)
        t0 = time.process_time()
        p_ref = forest.predict_proba(X)
        t1 = time.process_time()
        p = fast.predict_proba(X)
        t2 = time.process_time()
        t_sk, t_fast = t_sk + t1 - t0, t_fast + t2 - t1
        n += len(X)
        diff_p += int((p != p_ref).any(axis=1).sum())
        diff_l += int((p.argmax(axis=1) != p_ref.argmax(axis=1)).sum())
    return {
        "side": side,
        "pixels": n,
        "rows_with_any_probability_different": diff_p,
        "labels_different": diff_l,
        "sklearn_cpu_s": round(t_sk, 2),
        "exact_forest_cpu_s": round(t_fast, 2),
        "ratio": round(t_sk / t_fast, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--kind", choices=("rf", "et"), default="rf")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--verify-side", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the results to this file")
    a = ap.parse_args()
    import numba
    import sklearn

    t_start = time.perf_counter()
    print(f"command: python benchmarks/bench_forest.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}; "
        f"nproc {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} at start"
    )
    print(
        f"python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}, numba {numba.__version__}"
    )
    forest = make_forest(a.kind, a.trees)
    depth = np.mean([t.get_depth() for t in forest.estimators_])
    leaves = np.mean([t.get_n_leaves() for t in forest.estimators_])
    print(f"{a.kind}: {a.trees} trees, mean depth {depth:.1f}, mean leaves {leaves:.0f}")
    sizes = [int(s) for s in a.sizes.split(",")]
    rows = measure(forest, sizes, a.repeat)
    print()
    print(
        "| pixels | candidate | CPU s | wall s | ns / pixel / tree | x sklearn proba | identical |"
    )
    print("|---:|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['n']:,} | {r['candidate']} | {r['cpu_s']:.3f} | {r['wall_s']:.3f} | "
            f"{r['ns_per_pixel_tree']:.1f} | {r['ratio_vs_sklearn_proba']:.2f} | "
            f"{'yes' if r['identical'] else 'NO'} |"
        )
    result: dict[str, Any] = {"kind": a.kind, "trees": a.trees, "rows": rows}
    if a.verify_side:
        result["verify"] = verify(forest, a.verify_side)
        print(f"\nverify: {json.dumps(result['verify'])}")
    print(
        f"\nbenchmark wall time {time.perf_counter() - t_start:.0f} s; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
