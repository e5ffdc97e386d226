"""The map pages' pending-applications layer follows the ledger: an application filed after a
map page was built (and kept in the page cache) is on the next answer, on both backends; the
standalone file `gazar map` writes shows them too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.services.access import local_operator
from api.services.allocation import AllocationService, ApplicationInput
from api.settings import ApiSettings
from geo.settings import AnalysisSettings
from layers.ledger import open_ledger
from layers.store import open_store
from tests import factories as f


def test_a_filed_application_is_drawn_on_the_next_map_page(store_location: str) -> None:
    with open_store(store_location) as store:
        store.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion()])})
    now = [dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC)]
    ledger = open_ledger(store_location, clock=lambda: now[0])
    try:
        service = AllocationService(lambda: ledger, AnalysisSettings())
        op = local_operator("op")

        def apply(org: str, x: float) -> str:
            data = ApplicationInput("LC-1", org, "partnership", 3, 3,
                                    geometry=f.utm_box(x, 100, 200, 200))  # fmt: skip
            return str(service.apply(data, user=op)["id"])

        first = apply("Org A", 500)
        with TestClient(create_app(ApiSettings(db=store_location))) as client:
            page = client.get("/map/land-conclusion/LC-1?lang=en")
            assert page.status_code == 200
            assert first in page.text and "Pending applications" in page.text
            assert client.get("/map/land-conclusion/LC-1?lang=en").text.count(first) == (
                page.text.count(first)
            )  # the kept page, unchanged while nothing changed
            now[0] += dt.timedelta(hours=1)
            second = apply("Org B", 1500)  # written by another connection than the server's
            again = client.get("/map/land-conclusion/LC-1?lang=en").text
            assert second in again and first in again
    finally:
        ledger.close()


def test_the_standalone_map_file_shows_the_pending_applications(
    store_location: str, tmp_path: Path
) -> None:
    with open_store(store_location) as store:
        store.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion()])})
    out = tmp_path / "map.html"
    # a store with no application yet: the file has no such layer
    done = CliRunner().invoke(
        app, ["map", "--out", str(out), "--db", store_location, "--lang", "en"]
    )
    assert done.exit_code == 0, done.output
    assert "Pending applications" not in out.read_text(encoding="utf-8")
    ledger = open_ledger(store_location)
    try:
        service = AllocationService(lambda: ledger, AnalysisSettings())
        data = ApplicationInput("LC-1", "Org A", "partnership", 3, 3,
                                geometry=f.utm_box(500, 100, 200, 200))  # fmt: skip
        number = str(service.apply(data, user=local_operator("op"))["id"])
    finally:
        ledger.close()
    done = CliRunner().invoke(
        app, ["map", "--out", str(out), "--db", store_location, "--lang", "en"]
    )
    assert done.exit_code == 0, done.output
    page = out.read_text(encoding="utf-8")
    assert "Pending applications" in page and number in page
