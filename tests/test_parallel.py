"""compute_stream: every task once, results in order, a bounded number held, no batch barrier."""

from __future__ import annotations

import contextlib
import logging
import os
import threading

import dask
import dask.array as da
import numpy as np
import pytest

from rasterclass.parallel import compute_on, compute_stream, in_flight, n_threads


def _square(x: int) -> int:
    return x * x


def _tasks(n: int) -> list[tuple]:
    return [(dask.delayed(_square)(i), dask.delayed(_square)(-i)) for i in range(n)]


@pytest.mark.parametrize("scheduler", ["threads", "sync", "processes"])
def test_results_in_task_order_on_every_local_scheduler(scheduler):
    with dask.config.set(scheduler=scheduler, num_workers=2):
        got = list(compute_stream(_tasks(11), limit=3))
    assert got == [(i * i, i * i) for i in range(11)]


def test_results_in_task_order_on_a_local_cluster():
    with compute_on(workers=2) as client:
        # glibc's dynamic mmap threshold stays on in our workers (measured 12 % faster)
        trim = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert set(trim.values()) == {None}
        assert n_threads() == 2
        assert in_flight() == 4
        got = list(compute_stream(_tasks(9)))
    assert got == [(i * i, i * i) for i in range(9)]


def test_dask_arrays_blocks_stream_like_dask_compute():
    arr = da.arange(100, chunks=7) ** 2
    blocks = [(arr.blocks[i],) for i in range(arr.numblocks[0])]
    got = np.concatenate([b for (b,) in compute_stream(blocks)])
    np.testing.assert_array_equal(got, np.arange(100) ** 2)


def test_at_most_limit_tasks_held_and_no_barrier_between_batches():
    """Threads: task 2 must start while task 1 still runs (a batch of 2 would deadlock), and
    never more than ``limit`` tasks are started but not yet consumed."""
    lock = threading.Lock()
    started: list[int] = []
    task2_started = threading.Event()

    def work(i: int) -> int:
        with lock:
            started.append(i)
        if i == 2:
            task2_started.set()
        if i == 1:
            assert task2_started.wait(timeout=10), "task 2 waited for task 1: a batch barrier"
        return i

    tasks = [(dask.delayed(work, pure=False)(i),) for i in range(8)]
    consumed = 0
    with dask.config.set(scheduler="threads", num_workers=2):
        for (value,) in compute_stream(tasks, limit=2):
            assert value == consumed
            consumed += 1
            with lock:
                assert len(started) <= consumed + 2
    assert sorted(started) == list(range(8))


def test_two_tasks_really_run_at_once_on_two_threads():
    barrier = threading.Barrier(2, timeout=10)

    def meet(i: int) -> int:
        barrier.wait()  # raises BrokenBarrierError if the tasks ran one after the other
        return i

    tasks = [(dask.delayed(meet, pure=False)(i),) for i in range(4)]
    with dask.config.set(scheduler="threads", num_workers=2):
        assert [v for (v,) in compute_stream(tasks, limit=2)] == [0, 1, 2, 3]


def test_an_error_in_a_task_propagates_and_stops_the_stream():
    def fail(i: int) -> int:
        if i == 3:
            raise ValueError("bad block")
        return i

    tasks = [(dask.delayed(fail, pure=False)(i),) for i in range(20)]
    seen = []
    with pytest.raises(ValueError, match="bad block"):  # noqa: PT012
        for (v,) in compute_stream(tasks, limit=2):
            seen.append(v)
    assert seen == [0, 1, 2]


def _pid(_: int) -> int:
    return os.getpid()


def test_processes_use_one_pool_for_the_whole_stream():
    """dask's ``processes`` scheduler starts a pool (new interpreters, all imports) per
    ``dask.compute``; a stream of 12 tasks in batches of 2 runs in the same 2 processes."""
    tasks = [(dask.delayed(_pid)(k),) for k in range(12)]
    with dask.config.set(scheduler="processes", num_workers=2):
        pids = {pid for (pid,) in compute_stream(tasks, limit=2)}
    assert 1 <= len(pids) <= 2
    assert os.getpid() not in pids


def _no_client_left() -> None:
    """Nothing that computes in this process can find a distributed client any more."""
    import distributed

    from rasterclass.parallel import active_client

    assert active_client() is None
    with pytest.raises(ValueError, match="No clients found"):
        distributed.default_client()
    assert dask.config.get("scheduler", None) is None
    # a plain threaded compute runs (a stale client would take it and never answer)
    assert dask.compute(dask.delayed(_square)(3))[0] == 9


@pytest.mark.parametrize("ending", ["normal", "error", "close fails"])
def test_no_client_outlives_compute_on(cluster_address, monkeypatch, caplog, ending):
    """compute_on's client is dask's scheduler inside its block only: after it, however it
    ends (an error in the block, or closing the client failing, as on a cluster that lost
    a worker), a threaded computation in the same process must not be sent to it. A stale
    default client hung a later test's `dask.compute` for ever."""
    import distributed

    from rasterclass.parallel import active_client

    if ending == "close fails":

        def failing_close(self, *args, **kwargs):
            raise OSError("the scheduler went away")

        monkeypatch.setattr(distributed.Client, "close", failing_close)
        caplog.set_level(logging.WARNING, logger="rasterclass.parallel")
    with contextlib.ExitStack() as stack:
        if ending == "error":
            stack.enter_context(pytest.raises(RuntimeError, match="boom"))
        with compute_on(scheduler=cluster_address) as client:
            assert active_client() is client
            assert n_threads() == 2
            if ending == "error":
                raise RuntimeError("boom")
    _no_client_left()
    if ending == "close fails":  # reported, not raised over the block's own outcome
        assert "could not close the dask" in caplog.text
        monkeypatch.undo()
        client.close()


def test_no_client_outlives_a_local_cluster_that_lost_a_worker():
    import signal

    with compute_on(workers=2) as client:
        pid = next(iter(client.run(os.getpid).values()))
        os.kill(pid, signal.SIGKILL)
    _no_client_left()
