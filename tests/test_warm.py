"""``gazar serve`` warms the caches when it starts (``GAZAR_WARM_ON_START``): every layer read,
the day's findings and available land worked out, the review's indexes and the overview map
(both languages) built in the background, so that the first visitor of a large store does not
wait seconds for them."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import Services
from api.settings import ApiSettings
from layers.store import open_store
from tests import factories as f


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "warm.gpkg"
    with open_store(path) as store:
        store.write(
            {
                "land_conclusions": f.frame("land_conclusions", [f.land_conclusion()]),
                "contract_parcels": f.frame("contract_parcels", [f.parcel()]),
            }
        )
    return path


def test_the_server_warms_its_caches_when_asked(store_path: Path) -> None:
    today = dt.date.today()
    with TestClient(create_app(ApiSettings(db=str(store_path)))) as client:
        services = client.app.state.services
        assert client.app.state.warming is None
        assert today not in services.derived._days and services.review._context is None
        assert services.pages.builds == 0
    with TestClient(create_app(ApiSettings(db=str(store_path), warm_on_start=True))) as client:
        services = client.app.state.services
        _stop, thread = client.app.state.warming
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert today in services.derived._days  # the findings and available land of today
        assert services.review._context is not None  # the review's indexes
        built = services.pages.builds
        assert built >= 2  # the overview map in both languages
        for url in ("/map", "/map?lang=en"):
            assert client.get(url).status_code == 200
        assert services.pages.builds == built  # the first visitors were given the kept maps
        kept = services.derived.state(today)
        free = client.get("/analysis/availability?soum=MN4322")
        assert free.status_code == 200
        assert services.derived.state(today) is kept  # the answer came from the warm state


def test_a_failed_warm_up_is_logged_and_the_server_still_answers(
    store_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Services, stop: object = None) -> list[str]:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(Services, "warm", broken)
    with caplog.at_level(logging.ERROR, logger="gazar.app"):
        app = create_app(ApiSettings(db=str(store_path), warm_on_start=True))
        with TestClient(app) as client:
            client.app.state.warming[1].join(timeout=60)
            assert client.get("/collections/land_conclusions/items").status_code == 200
    assert "warming the caches failed" in caplog.text


def test_stopping_the_server_stops_the_warm_up_between_steps(store_path: Path) -> None:
    with open_store(store_path) as store:
        services = Services(create_app(ApiSettings(db=str(store_path))).state.settings, store, None)
        stop = threading.Event()
        stop.set()
        assert services.warm(stop) == []
        assert services.warm() == ["layers", "findings", "available_land", "review"]
        assert services.warm(extra=(("more", lambda: None),))[-1] == "more"
