"""Scaling benchmark: the in-memory floor, ``rasterclass predict`` on 1..N cores, a local
cluster of N workers, and the fixed cost of the command line.

One command (about 6 minutes on the 2-core machine of benchmarks/README.md with the defaults;
the scenes and the model are generated once and cached)::

    .venv/bin/python benchmarks/bench_scaling.py [--size 1000] [--scales 1,4] [--trees 50]
        [--cores 1,2,...] [--workers N] [--workdir benchmarks/_data] [--json FILE]
        [--project 4,8,16]

1. Generates the deterministic synthetic scenes of ``bench_predict.py`` (uint16, 6 bands,
   tiled 256, deflate, nodata 0, about 5 % nodata) at ``--size`` x ``--size`` pixels (1x)
   and ``sqrt(k) * size`` at kx, and trains one random forest (the ``rf`` preset,
   ``--trees`` trees, ``random_state=0``) once on the 1x scene.
2. Fixed cost, three times each in a fresh process, the fastest counts: ``python -c "import
   rasterclass"``, ``rasterclass --help``, ``rasterclass --version``, and ``python -c "import
   rasterclass.cli.predict"`` plus loading the model file (what every ``predict`` pays first).
3. For every scale, each run in its own process pinned to N cores (``os.sched_setaffinity``;
   ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` = N; rasterclass takes
   its thread count from the affinity, nothing else tells it N):
   - **floor**: scikit-learn ``predict`` on the valid pixels already in memory (float32), the
     faster of one call with ``n_jobs=N`` and equal row blocks on N threads with ``n_jobs=1``;
     wall and CPU are those of the predict call alone; and the same blocks through the exact
     compiled forest rasterclass predicts with (when numba is installed): its own floor;
   - **threads**: ``rasterclass predict SCENE --model M -o MAP.tif``, for every N of
     ``--cores`` (default 1, 2, 4, ... up to the usable cores), whole process;
   - **cluster**: ``rasterclass --workers N predict ...`` (a local dask.distributed cluster of
     N one-thread workers), whole process.
   Each run reports process wall, the time its "done" line appeared and the tail after it
   (process exit - "done"), CPU time of the process tree (``wait4``), speed-up over the
   1-core floor, and peak RSS (the process tree summed, polled every 0.05 s, and each
   process's high-water mark ``VmHWM``). Every map is compared pixel by pixel with the
   floor's labels.
4. Prints the table, the ratios (whole-process predict / floor at all cores, at every scale;
   peak(kx) / peak(1x)), a projection to more cores (``--project``), and writes everything
   as JSON (``--json``, default ``WORKDIR/scaling.json``); the last line printed is the JSON
   summary.

The projection is **not a measurement**: ``wall(N) = serial + parallel / N`` with serial =
the CPU time of the fixed cost (imports and model load, least of 3) and parallel = the CPU
time of the 1-core threaded run minus serial, against the 1-core floor's CPU time / N. It
assumes both keep scaling perfectly (no memory-bandwidth or turbo effects) and uses CPU
times, which a shared machine inflates less than walls. Run the benchmark on the bigger
machine instead where one is available: ``--cores 1,2,4,8,16``.

The machine may be shared: only ratios between runs of one invocation mean anything.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _measure  # benchmarks/_measure.py (the script's folder is on sys.path)
import numpy as np
from bench_predict import ensure_data

HERE = Path(__file__).resolve().parent
MB = 1e6


# ------------------------------------------------------------------------------------------
# Children: one measured job per process
# ------------------------------------------------------------------------------------------
def child_floor(a: argparse.Namespace) -> dict[str, Any]:
    """scikit-learn predict alone on the in-memory valid pixels, on a.threads threads."""
    import rasterio

    from rasterclass import RasterModel

    est = RasterModel.load(a.model).estimator
    with rasterio.open(a.scene) as src:
        data = src.read()
        nodata = src.nodata
    valid = (data != nodata).all(axis=0)
    X = np.ascontiguousarray(data[:, valid].T, dtype=np.float32)
    del data
    n = a.threads
    est.set_params(n_jobs=n)
    t0, c0 = time.perf_counter(), time.process_time()
    labels = est.predict(X)
    one_call, one_call_cpu = time.perf_counter() - t0, time.process_time() - c0
    est.set_params(n_jobs=1)
    bounds = np.linspace(0, len(X), 4 * n + 1).astype(int)  # 4 equal blocks per thread
    t0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(n) as pool:
        parts = list(pool.map(lambda i: est.predict(X[bounds[i] : bounds[i + 1]]), range(4 * n)))
    blocks, blocks_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert np.array_equal(np.concatenate(parts), labels), "block predictions differ"
    # the same blocks through rasterclass's engine (the exact compiled forest, with numba)
    from rasterclass.estimators.forest_inference import exact_forest

    fast = exact_forest(est)
    exact = exact_cpu = None
    if fast is not None:
        fast.predict(X[:1000])  # compiled, or loaded from numba's cache, before the clock
        t0, c0 = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(n) as pool:
            parts = list(
                pool.map(lambda i: fast.predict(X[bounds[i] : bounds[i + 1]]), range(4 * n))
            )
        exact, exact_cpu = time.perf_counter() - t0, time.process_time() - c0
        assert np.array_equal(np.concatenate(parts), labels), "exact forest labels differ"
    out = np.zeros(valid.shape, dtype=np.uint16)
    out[valid] = labels
    np.save(a.out, out)
    best = "one_call" if one_call <= blocks else "blocks"
    return {
        "predict": min(one_call, blocks),
        "predict_cpu": one_call_cpu if best == "one_call" else blocks_cpu,
        "how": best,
        "one_call": one_call,
        "blocks": blocks,
        "exact": exact,
        "exact_cpu": exact_cpu,
        "n_valid": int(valid.sum()),
    }


def child_startup(a: argparse.Namespace) -> dict[str, Any]:
    """What every ``predict`` pays before its first block: imports and the model file."""
    t0 = time.perf_counter()
    import rasterclass.cli.predict  # noqa: F401
    from rasterclass import RasterModel

    t1 = time.perf_counter()
    RasterModel.load(a.model, fast_forest=True)  # as predict loads it
    return {"imports": t1 - t0, "load_model": time.perf_counter() - t1}


CHILDREN = {"floor": child_floor, "startup": child_startup}


# ------------------------------------------------------------------------------------------
# Measuring a process pinned to some cores
# ------------------------------------------------------------------------------------------
def pinned_env(n: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DASK_NUM_WORKERS"}
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(n)
    return env


def run_pinned(cmd: list[str], cpus: list[int], log: Path) -> dict[str, Any]:
    """Run ``cmd`` on ``cpus``: wall, CPU of the tree, peak RSS, when "done" was printed."""
    lines: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=pinned_env(len(cpus)),
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter() - t0, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result: dict[str, Any] = _measure.watch(proc, 0.05)
    result["wall"] = wall = time.perf_counter() - t0
    reader.join(timeout=10)
    log.write_text("\n".join(f"{t:8.2f} {text}" for t, text in lines) + "\n")
    if proc.returncode != 0:
        tail = "\n".join(text for _, text in lines[-30:])
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
    done = next((t for t, text in lines if text.startswith("done in ")), None)
    result["to_done"] = done
    result["tail"] = None if done is None else wall - done
    last = [text for _, text in lines if text.startswith("{")]
    if last:
        result.update(json.loads(last[-1]))
    return result


def child_cmd(mode: str, **kw: Any) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    return cmd


def rasterclass_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "rasterclass"
    found = str(exe) if exe.exists() else shutil.which("rasterclass")
    if found is None:
        sys.exit("the rasterclass command is not installed (pip install -e .)")
    return [found]


def differing_pixels(map_path: Path, floor_npy: Path) -> int:
    import rasterio

    with rasterio.open(map_path) as src:
        return int((src.read(1) != np.load(floor_npy)).sum())


# ------------------------------------------------------------------------------------------
# The benchmark
# ------------------------------------------------------------------------------------------
def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def default_cores(n: int) -> list[int]:
    cores, k = [], 1
    while k < n:
        cores.append(k)
        k *= 2
    return [*cores, n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1000, help="side of the 1x scene (pixels)")
    ap.add_argument("--scales", default="1,4", help="scene areas as multiples of 1x")
    ap.add_argument("--trees", type=int, default=50, help="trees of the random forest")
    ap.add_argument("--cores", help="core counts of the threaded runs (default 1,2,4..all)")
    ap.add_argument("--workers", type=int, help="workers of the local cluster (default: all)")
    ap.add_argument("--no-cluster", action="store_true", help="skip the local cluster runs")
    ap.add_argument("--project", default="4,8,16", help="core counts of the projection")
    ap.add_argument("--workdir", type=Path, default=HERE / "_data", help="scenes, model, maps")
    ap.add_argument("--json", type=Path, help="results file (default WORKDIR/scaling.json)")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    for name in ("--scene", "--model", "--out"):
        ap.add_argument(name, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    _measure.child_or_bench(ap, CHILDREN, bench)


def bench(a: argparse.Namespace) -> None:
    import psutil

    import rasterclass

    cpus = usable_cpus()
    cores = [int(c) for c in a.cores.split(",")] if a.cores else default_cores(len(cpus))
    cores = sorted({c for c in cores if c <= len(cpus)})
    top = max(cores)
    workers = a.workers or len(cpus)
    scales = sorted({int(s) for s in a.scales.split(",")})
    work = a.workdir.resolve()
    logs = work / "logs_scaling"
    logs.mkdir(parents=True, exist_ok=True)
    info = {
        "command": f"python benchmarks/bench_scaling.py {' '.join(sys.argv[1:])}".rstrip(),
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": f"{platform.platform()}; {len(cpus)} usable cores ({os.cpu_count()} on the "
        f"machine), {psutil.virtual_memory().total / 2**30:.1f} GiB RAM",
        "load_average_at_start": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
        "rasterclass": rasterclass.__version__,
    }
    for key, value in info.items():
        print(f"{key}: {value}")
    scenes, model = ensure_data(work, a.size, scales, a.trees)
    fixed = fixed_cost(model, cpus, logs)
    runs: list[dict[str, Any]] = []
    rc = rasterclass_cmd()
    for k in scales:
        scene, side = scenes[k]
        print(f"\n== {k}x: {side} x {side} px", flush=True)
        plan: list[tuple[str, int]] = [("floor", top), ("threads", top), ("floor", 1)]
        plan += [("threads", n) for n in cores if n != top]
        if not a.no_cluster:
            plan.append(("cluster", workers))
        floor_npy = work / f"floor_{side}.npy"
        for kind, n in plan:
            out = work / f"scaling_{kind}{n}_{side}.tif"
            if kind == "floor":
                npy = floor_npy if n == top else work / f"floor_{side}_{n}.npy"
                cmd = child_cmd("floor", scene=scene, model=model, out=npy, threads=n)
            else:
                glob = ["--workers", str(n)] if kind == "cluster" else []
                args = ["predict", str(scene), "--model", str(model), "-o", str(out)]
                cmd = [*rc, *glob, *args, "--overwrite"]
            r = run_pinned(cmd, cpus[:n], logs / f"{kind}{n}_{side}.log")
            r.update(scale=k, side=side, kind=kind, cores=n)
            if kind == "floor":
                r["process_wall"], r["wall"], r["cpu"] = r["wall"], r["predict"], r["predict_cpu"]
                r["diff_px"] = int((np.load(npy) != np.load(floor_npy)).sum())
            else:
                r["diff_px"] = differing_pixels(out, floor_npy)
            runs.append(r)
            print(f"  {kind} on {n} core(s): {r['wall']:.2f} s", flush=True)
    summary = summarize(fixed, runs, scales, top, [int(c) for c in a.project.split(",") if c])
    report(info, fixed, runs, summary)
    path = a.json or work / "scaling.json"
    path.write_text(json.dumps({**info, "fixed": fixed, "runs": runs, **summary}, indent=1))
    print(f"\nJSON: {path}")
    print(json.dumps({**info, **summary}))


def fixed_cost(model: Path, cpus: list[int], logs: Path) -> dict[str, float]:
    """Fixed cost of the command line, fastest of 3 fresh processes each."""
    rc = rasterclass_cmd()
    cmds = {
        "import rasterclass": [sys.executable, "-c", "import rasterclass"],
        "rasterclass --help": [*rc, "--help"],
        "rasterclass --version": [*rc, "--version"],
        "predict imports + model load": child_cmd("startup", model=model),
    }
    fixed: dict[str, float] = {}
    for name, cmd in cmds.items():
        runs = [run_pinned(cmd, cpus, logs / f"fixed_{i}.log") for i in range(3)]
        fixed[name] = min(r["wall"] for r in runs)
        if name.startswith("predict"):
            best = min(runs, key=lambda r: r["wall"])
            fixed["predict imports"] = best["imports"]
            fixed["model load"] = best["load_model"]
            fixed["predict imports + model load, CPU"] = min(r["cpu"] for r in runs)
    return fixed


def summarize(
    fixed: dict[str, float], runs: list[dict[str, Any]], scales: list[int], top: int, project: list
) -> dict[str, Any]:
    def get(kind: str, n: int, k: int) -> dict[str, Any] | None:
        return next((r for r in runs if (r["kind"], r["cores"], r["scale"]) == (kind, n, k)), None)

    for r in runs:
        base = get("floor", 1, r["scale"])
        r["speedup"] = base["wall"] / r["wall"] if base else None
    ratios = {}
    projection = {}
    serial = fixed.get("predict imports + model load, CPU", 0.0)
    for k in scales:
        fl, th = get("floor", top, k), get("threads", top, k)
        if fl and th:
            ratios[f"predict/floor wall {k}x ({top} cores)"] = th["wall"] / fl["wall"]
            ratios[f"predict/floor CPU {k}x ({top} cores)"] = th["cpu"] / fl["cpu"]
            if fl.get("exact"):
                ratios[f"predict/exact floor wall {k}x ({top} cores)"] = th["wall"] / fl["exact"]
                ratios[f"predict/exact floor CPU {k}x ({top} cores)"] = th["cpu"] / fl["exact_cpu"]
        one, fl1 = get("threads", 1, k), get("floor", 1, k)
        if one and fl1:
            parallel = max(0.0, one["cpu"] - serial)  # CPU seconds that blocks can share
            for n in project:
                rc, floor = serial + parallel / n, fl1["cpu"] / n
                projection[f"{k}x {n} cores"] = {
                    "threads_wall": rc,
                    "floor_wall": floor,
                    "ratio": rc / floor,
                    "speedup": fl1["cpu"] / rc,
                    "exact_floor_wall": (fl1["exact_cpu"] or 0) / n,
                    "ratio_exact": rc * n / fl1["exact_cpu"] if fl1.get("exact_cpu") else None,
                }
    th = [r for r in runs if r["kind"] == "threads" and r["cores"] == top]
    if len(th) > 1:
        ratios["peak threads largest/1x"] = th[-1]["peak_tree"] / th[0]["peak_tree"]
    return {"ratios": ratios, "projection": projection}


def _exact_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The floors' exact-forest timings as rows of their own."""
    rows = []
    for r in runs:
        if r["kind"] == "floor" and r.get("exact"):
            rows.append(
                {**r, "kind": "exact", "wall": r["exact"], "cpu": r["exact_cpu"], "speedup": None}
            )
    return rows


def report(
    info: dict[str, Any],
    fixed: dict[str, float],
    runs: list[dict[str, Any]],
    summary: dict[str, Any],
) -> None:
    print("\nfixed cost (fastest of 3 fresh processes, all cores):")
    for name, value in fixed.items():
        print(f"  {name:36s} {value:6.2f} s")
    print(
        "\n| scale | run | cores | wall s | done at s | tail s | CPU s | speed-up | "
        "peak RSS MB | pixels != floor |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = {
        "floor": "scikit-learn predict, in memory (predict call only)",
        "threads": "`rasterclass predict`, threads (whole process)",
        "cluster": "`rasterclass --workers N predict` (whole process)",
        "exact": "exact forest (rasterclass's engine), in memory, same blocks (call only)",
    }
    for r in [*runs, *_exact_rows(runs)]:
        done = "" if r.get("to_done") is None else f"{r['to_done']:.2f}"
        tail = "" if r.get("tail") is None else f"{r['tail']:.2f}"
        speedup = "" if r.get("speedup") is None else f"{r['speedup']:.2f}"
        print(
            f"| {r['scale']}x ({r['side']} px) | {names[r['kind']]} | {r['cores']} | "
            f"{r['wall']:.2f} | {done} | {tail} | {r['cpu']:.1f} | {speedup} | "
            f"{r['peak_tree'] / MB:.0f} | {r['diff_px']} |"
        )
    print("\nratios:")
    for name, value in summary["ratios"].items():
        print(f"  {name:40s} {value:.3f}")
    if summary["projection"]:
        print(
            "\nPROJECTION, not a measurement: wall(N) = serial + parallel / N, serial = the "
            "fixed cost (imports + model load, CPU), parallel = CPU of the 1-core "
            "threaded run - serial; floor(N) = CPU of the 1-core floor / N (perfect scaling of "
            "both; CPU times, which a busy machine inflates less than walls):"
        )
        print(
            "| scene, cores | threads wall s | scikit-learn floor wall s | ratio | speed-up | "
            "exact-forest floor wall s | ratio |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, p in summary["projection"].items():
            exact = "" if p["ratio_exact"] is None else f"{p['ratio_exact']:.2f}"
            print(
                f"| {name} | {p['threads_wall']:.2f} | {p['floor_wall']:.2f} | "
                f"{p['ratio']:.2f} | {p['speedup']:.2f} | {p['exact_floor_wall']:.2f} | {exact} |"
            )


if __name__ == "__main__":
    main()
