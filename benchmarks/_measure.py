"""Measuring benchmark runs, shared by the ``bench_*.py`` scripts: each run in its own
subprocess; wall time, CPU time and peak memory of the whole process tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def high_water(pid: int | None = None) -> int:
    """Peak RSS of a process since its exec (``VmHWM``), in bytes; 0 if it is gone.

    Not ``ru_maxrss``: on Linux a child's ru_maxrss starts at its parent's RSS at fork time
    (the kernel keeps the pre-exec high-water mark), so every child of a big benchmark
    process would report at least the benchmark's own memory.
    """
    try:
        with open(f"/proc/{pid or os.getpid()}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def watch(proc: subprocess.Popen, interval: float = 0.1) -> dict[str, Any]:
    """Poll ``proc`` and its descendants until it ends: exit status, rusage of the tree
    (``wait4``), peak RSS summed over the tree and each process's peak (RSS or ``VmHWM``)."""
    import psutil

    root = psutil.Process(proc.pid)
    peak_tree, per_pid = 0, {}
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs = [root]
        total = 0
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            per_pid[p.pid] = max(per_pid.get(p.pid, 0), rss, high_water(p.pid))
        peak_tree = max(peak_tree, total)
        time.sleep(interval)
    proc.returncode = os.waitstatus_to_exitcode(status)
    largest = max(per_pid.values(), default=0)
    return {
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_tree": max(peak_tree, largest),
        "peak_process": largest,
        "n_processes": len(per_pid),
    }


def run_measured(cmd: list[str], log: Path) -> dict[str, Any]:
    """Run ``cmd``; wall time, CPU time, peak RSS summed over the process tree (polled every
    0.1 s) and peak RSS of the largest single process (its high-water mark, ``VmHWM``)."""
    with open(log, "w") as fout:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fout, stderr=subprocess.STDOUT)
        res = watch(proc)
        wall = time.perf_counter() - t0
    output = log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    return {"peak": res["peak_process"], "wall": wall, **res, "output": output}


def run_child(script: str, mode: str, log: Path, **kw: Any) -> dict[str, Any]:
    """Run ``script --child MODE --key value...`` measured; merge the JSON line it prints last.

    A child may print ``peak_self`` (its own ``high_water()`` read at its end), which also
    covers the last polling interval.
    """
    cmd = [sys.executable, str(Path(script).resolve()), "--child", mode]
    for k, v in kw.items():
        if v is not None:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    res = run_measured(cmd, log)
    last = [ln for ln in res["output"].splitlines() if ln.startswith("{")][-1]
    res.update(json.loads(last))
    res["peak"] = max(res["peak"], res.get("peak_self", 0))
    res["peak_process"] = max(res["peak_process"], res.get("peak_self", 0))
    return res


def child_or_bench(ap: Any, children: dict[str, Any], bench: Any) -> None:
    """Parse the command line: run one child (``--child MODE``, its result printed as one JSON
    line) or the benchmark."""
    a = ap.parse_args()
    if a.child:
        print(json.dumps(children[a.child](a)), flush=True)
        return
    bench(a)
