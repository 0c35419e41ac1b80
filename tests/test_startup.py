"""Fixed cost of a run (issue 15): nothing holds the process after a command, a threaded run
starts no cluster machinery, a local cluster closes without the nanny's warnings.

No test here is timed: each checks that something ends or is absent, never how fast.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rasterclass import extract_samples, fit_model, open_scene
from rasterclass.estimators.presets import make_estimator
from tests.conftest import read_band, run_cli

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def model_path(tmp_path, scene_path, training_path):
    samples = extract_samples(open_scene(scene_path), training_path, "class")
    model = fit_model(samples, make_estimator("rf", {"n_estimators": 5}, seed=0))
    return model.save(tmp_path / "model.skops")


def _python(*args: str, **kwargs: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), *sys.path])}
    env.pop("DASK_NUM_WORKERS", None)
    # generous: the test checks that the process ends, not how fast
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=300, **kwargs
    )


def test_the_command_line_ends_after_predict_with_the_same_map(tmp_path, scene_path, model_path):
    """The console script's exit (heap frozen before shutdown) writes the same map, and a
    threaded run never imports dask.distributed."""
    out = tmp_path / "map.tif"
    code = (
        "import sys\n"
        "from rasterclass.cli.main import main\n"
        f"sys.argv = ['rasterclass', 'predict', {str(scene_path)!r}, '--model', "
        f"{str(model_path)!r}, '-o', {str(out)!r}]\n"
        "import atexit\n"
        "atexit.register(lambda: print('distributed' in sys.modules, flush=True))\n"
        "main()\n"
    )
    done = _python("-c", code)
    assert done.returncode == 0, done.stderr
    assert "done in" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "False"  # no distributed on threads
    in_process = tmp_path / "in_process.tif"
    run_cli("predict", scene_path, "--model", model_path, "-o", in_process)
    assert (read_band(out) == read_band(in_process)).all()


def test_no_thread_left_after_a_threaded_job(tmp_path, scene_path, model_path):
    before = set(threading.enumerate())
    run_cli("predict", scene_path, "--model", model_path, "-o", tmp_path / "m.tif", "--chunks", 32)
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []


def test_a_local_cluster_gives_the_same_map_and_closes_without_the_nannys_warnings(
    tmp_path, scene_path, model_path
):
    """``--workers 2``: workers started in the background, the same map as threads, and the
    worker processes gone when told to (no "still alive after 4 seconds, killing")."""
    pytest.importorskip("distributed")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    nanny = logging.getLogger("distributed")  # does not propagate: no caplog
    nanny.addHandler(handler)
    try:
        run_cli(
            "--workers", "2", "predict", scene_path, "--model", model_path, "-o", tmp_path / "c.tif"
        )
    finally:
        nanny.removeHandler(handler)
    run_cli("predict", scene_path, "--model", model_path, "-o", tmp_path / "t.tif")
    assert (read_band(tmp_path / "c.tif") == read_band(tmp_path / "t.tif")).all()
    messages = [r.getMessage() for r in records]
    assert not [m for m in messages if "still alive" in m or "killing" in m.lower()], messages


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_a_process_pinned_to_one_core_computes_on_one_thread():
    """Threads follow the cores the process may use (taskset, a container's limit), not the
    machine's core count."""
    one = min(os.sched_getaffinity(0))
    done = _python(
        "-c",
        "from rasterclass.parallel import n_threads; print(n_threads())",
        preexec_fn=lambda: os.sched_setaffinity(0, {one}),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
