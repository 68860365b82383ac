"""A serving app settles the garbage collector once started (service/collector.py): start-up's objects frozen
out of every collection, a wider youngest generation; the app still answers."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Settings, bootstrap
from api.serve_workers import with_timers
from scheduler.timers import DeadlineTimers
from service.collector import SERVING_THRESHOLD, batch_running, fewer_collections, settle_collector
from workflow.clock import SystemClock


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_the_served_app_freezes_start_up_and_widens_the_youngest_generation(
    sqlite_url: str, restored_collector: None
) -> None:
    assert gc.get_freeze_count() == 0 and gc.get_threshold()[0] != SERVING_THRESHOLD
    clock = SystemClock()
    timers = DeadlineTimers(clock, sweep_seconds=3600)
    app = bootstrap(Settings(db_url=sqlite_url), clock=clock, on_deadlines=timers.deadlines_changed)
    try:
        with TestClient(with_timers(app, timers)) as client:
            assert gc.get_freeze_count() > 10_000  # the modules, the app, the engine: start-up's objects
            end = time.monotonic() + 20
            while batch_running() and time.monotonic() < end:  # the first sweep, if still firing, raised it
                time.sleep(0.01)
            assert gc.get_threshold()[0] == SERVING_THRESHOLD
            assert client.get("/health").status_code == 200
    finally:
        app.engine.dispose()


def test_settling_while_a_batch_runs_leaves_the_serving_threshold_once_it_ends(restored_collector: None) -> None:
    """serve settles the collector as its timers' first sweep may be firing: the batch, on leaving, must put
    back the serving threshold, not the default it saw when it entered (the race the full suite once hit)."""
    with fewer_collections():
        settle_collector()
        assert gc.get_threshold()[0] > SERVING_THRESHOLD  # the batch's raised threshold still in force
    assert gc.get_threshold()[0] == SERVING_THRESHOLD
