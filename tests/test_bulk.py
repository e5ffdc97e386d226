"""``layers.bulk.paused_gc``: the collector is paused for a read and comes back after it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from layers.bulk import paused_gc
from layers.store import open_store
from tests.factories import frames, land_conclusion, parcel


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:  # pragma: no cover
        gc.disable()


def test_paused_inside_and_restored_after() -> None:
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()


def test_overlapping_threads_keep_it_paused_until_the_last_ends() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with paused_gc():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with paused_gc():
            second_in.set()
            first_out.wait(5)
            seen["after the first left"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after the first left": False}
    assert gc.isenabled()


def test_a_store_read_runs_no_collection_and_leaves_the_collector_as_it_was(
    tmp_path: Path,
) -> None:
    rows = [parcel(f"P-{i}") for i in range(200)]
    collections: list[str] = []

    def count(phase: str, info: dict[str, int]) -> None:
        collections.append(phase)

    with open_store(tmp_path / "g.gpkg") as store:
        store.write(frames({"land_conclusions": [land_conclusion()], "contract_parcels": rows}))
        threshold = gc.get_threshold()
        gc.callbacks.append(count)
        gc.set_threshold(1)  # without the pause, every few new objects would start one
        try:
            assert len(store.read("contract_parcels")) == 200
        finally:
            gc.set_threshold(*threshold)
            gc.callbacks.remove(count)
        # without the pause a collection starts every few new objects: thousands for 200 rows
        # (2,730 callbacks when measured); the few left are the call's own set-up around it
        assert len(collections) < 40, len(collections)
        assert gc.isenabled()
        gc.disable()
        assert len(store.read("contract_parcels")) == 200
        assert not gc.isenabled()
