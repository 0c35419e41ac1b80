"""Schedulers: byte-identical maps on threads, processes and a LocalCluster; a killed worker;
every tile written; the plan.

The tests share one LocalCluster (the ``cluster_address`` fixture), except the one that kills
a worker, which starts its own."""

from __future__ import annotations

import hashlib
import os
import signal
import threading

import dask
import numpy as np
import pytest
import rasterio

from rasterclass import extract_samples, fit_model, open_scene, predict_raster, write_map
from rasterclass.errors import ComputeError
from rasterclass.estimators.presets import make_estimator
from rasterclass.jobs import plan_run
from rasterclass.parallel import compute_on
from tests.conftest import synthetic_arrays, write_raster

distributed = pytest.importorskip("distributed")


@pytest.fixture
def big_scene(tmp_path):
    """A 240 x 300 px scene: the synthetic stripes tiled 4 x 4."""
    scene, _ = synthetic_arrays()
    tiled = np.tile(scene, (1, 4, 4))
    return write_raster(
        tmp_path / "big.tif", tiled, nodata=float("nan"), descriptions=["blue", "green", "red"]
    )


@pytest.fixture
def model(scene_path, training_path):
    samples = extract_samples(open_scene(scene_path), training_path, "class")
    return fit_model(samples, make_estimator("rf", {"n_estimators": 10}, seed=0))


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def write(scene_path, model, out, chunks=48, progress=None):
    scene = open_scene(scene_path, chunks=chunks)
    write_map(predict_raster(scene, model)["classes"], out, model.class_map, progress=progress)
    return out


def test_byte_identical_on_threads_processes_and_local_cluster(
    tmp_path, big_scene, model, cluster_address
):
    threads = write(big_scene, model, tmp_path / "threads.tif")
    with dask.config.set(scheduler="processes", num_workers=2):
        procs = write(big_scene, model, tmp_path / "procs.tif")
    with compute_on(scheduler=cluster_address) as client:
        assert len(client.nthreads()) == 2
        dist = write(big_scene, model, tmp_path / "dist.tif")
    assert digest(threads) == digest(procs) == digest(dist)


def test_segmentation_byte_identical_on_a_local_cluster(tmp_path, big_scene, cluster_address):
    """Shepherd segmentation (tables and paint pass) in 64 px tiles: the same file on threads
    and on two worker processes."""
    from rasterclass.io import write_segments
    from rasterclass.objects import segment

    params = {"n_clusters": 6, "min_size": 6, "seed": 3, "tile": 64}
    segs = segment(open_scene(big_scene, chunks=48), **params)
    threads = write_segments(segs, tmp_path / "t.tif")
    with compute_on(scheduler=cluster_address):
        segs = segment(open_scene(big_scene, chunks=100), **params)
        dist = write_segments(segs, tmp_path / "d.tif")
    assert digest(threads) == digest(dist)


def test_every_tile_written_from_several_workers(tmp_path, big_scene, model, cluster_address):
    oracle = predict_raster(open_scene(big_scene).compute(), model)["classes"].values
    with compute_on(scheduler=cluster_address):
        out = write(big_scene, model, tmp_path / "m.tif", chunks=37)  # chunks != tiles
    with rasterio.open(out) as src:
        data = src.read(1)
        assert src.block_shapes == [(256, 256)]
    valid = np.isfinite(open_scene(big_scene).values).all(axis=0)
    assert (data[valid] > 0).all()
    np.testing.assert_array_equal(data, oracle)


def test_progress_reported_per_block_on_a_cluster(tmp_path, big_scene, model, cluster_address):
    calls: list[tuple[int, int]] = []
    with compute_on(scheduler=cluster_address):
        write(big_scene, model, tmp_path / "p.tif", chunks=128, progress=lambda *a: calls.append(a))
    # 240 x 300 px written in 256 px blocks: 1 x 2 blocks, each reported as it is written
    assert calls == [(1, 2), (2, 2)]


def test_killed_worker_does_not_corrupt_the_map(tmp_path, scene_path, training_path):
    """A worker is killed while blocks are being computed: the run completes, identical.

    On a cluster of its own (``compute_on(workers=2)``, as the CLI's ``--workers`` starts
    it), not the shared one: the killed worker must not leave other tests a smaller cluster."""
    scene, _ = synthetic_arrays()
    path = write_raster(
        tmp_path / "huge.tif",
        np.tile(scene, (1, 10, 10)),
        nodata=float("nan"),
        descriptions=["blue", "green", "red"],
    )
    samples = extract_samples(open_scene(scene_path), training_path, "class")
    model = fit_model(samples, make_estimator("rf", {"n_estimators": 60}, seed=0))
    expected = write(path, model, tmp_path / "expected.tif", chunks=128)
    with compute_on(workers=2) as client:
        pids = list(client.run(os.getpid).values())
        timers: list[threading.Timer] = []

        def kill_during_next_batch(done: int, total: int) -> None:
            if not timers and done < total:
                timers.append(threading.Timer(0.2, os.kill, (pids[0], signal.SIGKILL)))
                timers[0].start()

        out = tmp_path / "after_kill.tif"
        try:
            write(path, model, out, chunks=128, progress=kill_during_next_batch)
        except ComputeError:  # the other acceptable outcome: a clear error and no file
            assert not out.exists()
            assert not any(p.name.startswith(".after_kill") for p in tmp_path.iterdir())
            return
        finally:
            if timers:
                timers[0].join()
    assert timers, "the worker was never killed: the run had a single batch"
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)  # it really died
    assert digest(out) == digest(expected)


def test_failed_run_leaves_no_file(tmp_path, big_scene, model, cluster_address):
    from sklearn.ensemble import RandomForestClassifier

    class Boom(RandomForestClassifier):
        def predict(self, X):
            raise RuntimeError("boom")

    bad = Boom(n_estimators=2).fit(np.random.default_rng(0).random((20, 3)), [1, 2] * 10)
    scene = open_scene(big_scene, chunks=48)
    with compute_on(scheduler=cluster_address), pytest.raises(RuntimeError, match="boom"):
        write_map(predict_raster(scene, bad)["classes"], tmp_path / "never.tif", model.class_map)
    assert not any(p.name.startswith((".never", "never")) for p in tmp_path.iterdir())


def test_plan_counts_tasks_without_computing(big_scene, model, tmp_path, forbid_compute):
    model.save(tmp_path / "m.skops")
    with forbid_compute():
        plan = plan_run(big_scene, model=tmp_path / "m.skops", chunks=64)
    assert plan.chunk_shape == (64, 64)
    assert plan.n_chunks == 4 * 5
    assert plan.n_tasks >= 2 * plan.n_chunks
    assert plan.peak_memory_per_worker > plan.bytes_per_chunk
    assert "peak memory" in plan.describe()
