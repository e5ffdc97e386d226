"""The allocation service's own pieces: its refusals come from the catalogue, and a ledger that
cannot be opened is a 503 for the API and an empty record for the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.errors import status_of
from api.services.access import local_operator
from api.services.allocation import AllocationService, LedgerUnavailable
from geo.settings import AnalysisSettings
from layers.labels import catalogue
from layers.ledger import Ledger
from web.register import read_register

SERVICES = Path(__file__).resolve().parents[1] / "api" / "services"
CALL = re.compile(r'both\(\s*"(\w+)",\s*(?:"(\w+)"|user\.role)')


def test_every_refusal_the_service_writes_is_in_the_catalogue() -> None:
    groups = catalogue()
    used = set()
    for path in SERVICES.glob("*.py"):
        for group, code in CALL.findall(path.read_text(encoding="utf-8")):
            codes = [code] if code else ["soum", "aimag"]  # both(..., user.role)
            used.update((group, c) for c in codes)
    assert len(used) > 15
    for group, code in sorted(used):
        assert code in groups.get(group, {}), f"{group}.{code} is not in the catalogue"


def test_no_case_suffix_is_glued_onto_a_value() -> None:
    for group in ("access_message", "allocation_message", "register_csv"):
        for code, (mn, _) in catalogue()[group].items():
            assert not re.search("\\}[-'\u2019]?[\u0430-\u044f\u0451\u04af\u04e9]", mn), (
                f"{group}.{code}: {mn}"
            )


def test_a_ledger_that_cannot_be_opened_is_503_and_an_empty_register() -> None:
    def missing() -> Ledger:
        raise LedgerUnavailable("/srv/x.gpkg: no such store")

    service = AllocationService(missing, AnalysisSettings())
    with pytest.raises(LedgerUnavailable) as info:
        service.draws()
    assert status_of(info.value) == (503, "StoreUnavailable")
    assert read_register(service) is None
    with pytest.raises(LedgerUnavailable):  # the role passes; the ledger is needed next
        service.run_draw("D-1", user=local_operator("test"))


# ------------------------------------------- an approval makes overlapping applications ineligible


def test_approval_makes_every_overlapping_pending_application_ineligible(
    store_location: str,
) -> None:
    """A, B and C are filed the same day: A and B share land, B and C share land, so the three
    compete and a draw orders them; D touches A's edge, E is elsewhere. Once the winner is
    approved, every other pending application sharing its land is ineligible with the reason
    naming it, in the same transaction; nothing shows such a loser as pending, eligible or
    first any more."""
    import datetime as dt

    from api.services.allocation import ApplicationInput
    from layers.ledger import open_ledger
    from layers.store import open_store
    from tests import factories as f

    with open_store(store_location) as store:
        store.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion()])})
    now = [dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC)]
    ledger = open_ledger(store_location, clock=lambda: now[0])
    try:
        service = AllocationService(lambda: ledger, AnalysisSettings())
        op = local_operator("op")
        boxes = {"A": (500, 100), "B": (550, 100), "C": (700, 250), "D": (300, 100),
                 "E": (1500, 500)}  # fmt: skip
        numbers = {}
        for key, (x, y) in boxes.items():
            data = ApplicationInput("LC-1", f"Org {key}", "partnership", 3, 3,
                                    geometry=f.utm_box(x, y, 200, 200))  # fmt: skip
            numbers[key] = service.apply(data, user=op)["id"]
        now[0] += dt.timedelta(days=1)
        draw = service.announce_draw(numbers["A"], draw_date=dt.date(2026, 5, 4),
                                     public_value="7", user=op)  # fmt: skip
        assert draw["applications"] == sorted(numbers[k] for k in "ABC")
        now[0] += dt.timedelta(days=30)
        order = service.run_draw(draw["id"], user=op)["result"]
        winner = order[0]
        service.decide(winner, outcome="approve", reason="ok", user=op)
        key = {v: k for k, v in numbers.items()}[winner]
        shares = {"A": {"B"}, "B": {"A", "C"}, "C": {"B"}}[key]
        after = {r["id"]: r for r in service.applications()}
        for other in "ABCDE":
            if other == key:
                continue
            row = after[numbers[other]]
            if other in shares:
                assert (row["status"], row["position"], row["group"]) == ("ineligible", None, [])
                granted = row["reasons"][-1]
                assert granted["code"] == "LAND_GRANTED" and granted["ids"] == [winner]
                assert winner in granted["message_en"] and winner in granted["message_mn"]
                assert granted["title_mn"] and granted["title_en"]
            else:
                assert row["status"] == "pending", other
        assert after[numbers["D"]]["reasons"] == [] and after[numbers["D"]]["position"] == 1
        lost = numbers[sorted(shares)[0]]
        # the application, the register and its feeds agree
        assert service.application(lost)["status"] == "ineligible"
        queued = {q["id"]: q for q in service.register()["queue"]}
        assert queued[lost]["status"] == "ineligible" and queued[lost]["position"] is None
        feature = next(x for x in service.register_geojson()["features"] if x["id"] == lost)
        assert feature["properties"]["status"] == "ineligible"
        # one transaction: the approval and the ineligibility under one request
        requests = {e.request for e in ledger.events() if e.object == f"applications/{lost}"}
        assert f"decide approve {winner}" in requests
        # the loser may still be rejected with a reason, not approved
        service.decide(lost, outcome="reject", reason="lost the draw", user=op)
        assert ledger.verify_chain().ok
    finally:
        ledger.close()
