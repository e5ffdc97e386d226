"""Renewing a contract: the holder asks, the soum's official grants it for a new term, refused
while the contract's rehabilitation is not accepted; status changes keep their reason.

Two contracts come from approved applications of one organisation (filed 1 May 2026, approved
31 May 2026, three-year terms ending 30 May 2029); the zone of CP-A is accepted, that of CP-B
is not. The clock then stands 20 days before their end. Both backends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from api.services.access import Forbidden, local_operator
from api.services.allocation import AllocationService, ApplicationInput
from api.services.errors import Unprocessable
from geo.settings import AnalysisSettings
from layers.ledger import Conflict, Ledger, User, open_ledger
from layers.store import open_store
from tests import factories as f
from tests.factories import Clock

T0 = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)
T_DECIDE = T0 + dt.timedelta(days=30)
END = dt.date(2029, 5, 30)
T_WINDOW = dt.datetime(2029, 5, 10, 2, 0, tzinfo=dt.UTC)  # 20 days before the end


@dataclass
class Env:
    ledger: Ledger
    service: AllocationService
    clock: Clock
    users: dict[str, User]
    parcels: dict[str, str]


@pytest.fixture
def env(store_location: str) -> Iterator[Env]:
    with open_store(store_location) as store:
        store.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion()])})
    clock = Clock(T0)
    ledger = open_ledger(store_location, clock=clock)
    service = AllocationService(lambda: ledger, AnalysisSettings())
    users: dict[str, User] = {}
    for name, kw in {
        "altan": {"role": "public"},
        "other-org": {"role": "public"},
        "mandal": {"role": "soum", "soum_code": "MN4322"},
        "bayangol": {"role": "soum", "soum_code": "MN4310"},
        "selenge": {"role": "aimag", "aimag_code": "MN43"},
    }.items():
        users[name] = ledger.add_user(name, actor="setup", **kw)[0]  # type: ignore[arg-type]
    numbers = {}
    for key, x in (("A", 500), ("B", 900)):
        data = ApplicationInput("LC-1", f"Altan {key}", "partnership", 3, 3,
                                geometry=f.utm_box(x, 100, 200, 200))  # fmt: skip
        numbers[key] = service.apply(data, user=users["altan"])["id"]
    clock.now = T_DECIDE
    parcels = {}
    for key, number in numbers.items():
        decision = service.decide(number, outcome="approve", reason="ok", user=users["mandal"])
        assert decision["expires_on"] == END.isoformat()
        parcels[key] = decision["parcel_id"]
    zones = [
        f.rehab_zone("R-A", parcel_id=parcels["A"], holder="Altan A", stage="accepted",
                     accepted_on=dt.date(2029, 4, 1), geometry=f.utm_box(520, 120, 50, 50)),
        f.rehab_zone("R-B", parcel_id=parcels["B"], holder="Altan B", stage="biological_done",
                     due_on=dt.date(2029, 8, 1), geometry=f.utm_box(920, 120, 50, 50)),
    ]  # fmt: skip
    with ledger.transaction(actor="setup", request="zones") as tx:
        tx.write({"rehab_zones": f.frame("rehab_zones", zones)})
    clock.now = T_WINDOW
    try:
        yield Env(ledger, service, clock, users, parcels)
    finally:
        ledger.close()


def _events(env: Env) -> int:
    return len(env.ledger.events())


def test_the_holder_asks_and_the_official_renews_for_a_new_term(env: Env) -> None:
    pid = env.parcels["A"]
    asked = env.service.request_renewal(pid, user=env.users["altan"])
    assert (asked["id"], asked["outcome"], asked["requested_by"]) == (
        f"{pid}/R1", "requested", "altan")  # fmt: skip
    assert asked["previous_expires_on"] == END.isoformat() and asked["outcome_en"]
    with pytest.raises(Conflict, match="requested already"):
        env.service.request_renewal(pid, user=env.users["altan"])
    renewed = env.service.renew(pid, reason="Нөхөн сэргээлт хүлээн авсан", user=env.users["mandal"])
    assert renewed["id"] == f"{pid}/R1"  # the request, completed
    assert (renewed["outcome"], renewed["decided_by"], renewed["requested_by"]) == (
        "renewed", "mandal", "altan")  # fmt: skip
    assert renewed["starts_on"] == "2029-05-31" and renewed["expires_on"] == "2032-05-30"
    contract = env.service.contract(pid)
    assert (contract["starts_on"], contract["expires_on"], contract["status"]) == (
        "2029-05-31", "2032-05-30", "active")  # fmt: skip
    assert contract["renewal"] is None  # no longer ending soon
    assert [r["outcome"] for r in contract["renewals"]] == ["renewed"]
    assert contract["application_id"] == pid.removeprefix("CP-")
    # one transaction each, logged with the user as the actor
    events = [e for e in env.ledger.events() if e.request == f"renew {pid}"]
    assert {e.actor for e in events} == {"mandal"}
    assert {e.object for e in events} == {f"contract_parcels/{pid}", f"renewals/{pid}/R1"}
    assert env.ledger.verify_chain().ok
    # renewed once: the new end is years away, so a second renewal is outside the window
    with pytest.raises(Conflict, match="cannot be renewed yet"):
        env.service.renew(pid, reason="again", user=env.users["mandal"])


def test_renewal_is_refused_while_rehabilitation_is_not_accepted(env: Env) -> None:
    pid = env.parcels["B"]
    env.service.request_renewal(pid, user=env.users["altan"])
    before = _events(env)
    with pytest.raises(Conflict) as info:
        env.service.renew(pid, reason="ok", user=env.users["selenge"])
    text = str(info.value)
    assert "R-B" in text and "Renewal refused" in text and "Сунгахаас татгалзана" in text
    assert info.value.reasons and "R-B" in str(info.value.reasons[0])
    assert _events(env) == before  # nothing written
    assert env.service.contract(pid)["expires_on"] == END.isoformat()
    assert env.service.contract(pid)["renewal"]["blocking_zones"] == ["R-B"]
    # once the commission accepts the zone, it may be renewed
    env.service.set_rehab_stage(
        "R-B", stage="accepted", accepted_on=T_WINDOW.date(), user=env.users["mandal"]
    )
    assert env.service.renew(pid, reason="ok", user=env.users["selenge"])["outcome"] == "renewed"


def test_who_may_ask_and_who_may_renew(env: Env) -> None:
    pid = env.parcels["A"]
    for who in ("other-org", "mandal"):
        with pytest.raises(Forbidden):
            env.service.request_renewal(pid, user=env.users[who])
    admin = local_operator("operator")
    assert env.service.request_renewal(pid, user=admin)["requested_by"] == "operator"
    for who in ("altan", "bayangol"):
        before = _events(env)
        with pytest.raises(Forbidden):
            env.service.renew(pid, reason="ok", user=env.users[who])
        assert _events(env) == before
    with pytest.raises(Unprocessable):
        env.service.renew(pid, reason="  ", user=env.users["mandal"])


def test_renewal_only_within_the_window(env: Env) -> None:
    env.clock.now = T_WINDOW - dt.timedelta(days=60)  # 80 days before the end
    with pytest.raises(Conflict, match="renewal opens 60 days before"):
        env.service.request_renewal(env.parcels["A"], user=env.users["altan"])
    with pytest.raises(Conflict, match="cannot be renewed yet"):
        env.service.renew(env.parcels["A"], reason="ok", user=env.users["mandal"])
    env.clock.now = T_WINDOW
    env.service.set_contract_status(
        env.parcels["A"], status="terminated", reason="Breach", user=env.users["mandal"]
    )
    with pytest.raises(Conflict, match="is not running"):
        env.service.renew(env.parcels["A"], reason="ok", user=env.users["mandal"])


def test_status_changes_need_and_keep_their_reason(env: Env) -> None:
    pid = env.parcels["A"]
    before = _events(env)
    with pytest.raises(Unprocessable):
        env.service.set_contract_status(
            pid, status="suspended", reason=" ", user=env.users["mandal"]
        )
    assert _events(env) == before
    env.service.set_contract_status(
        pid, status="suspended", reason="Аюулгүй ажиллагаа / safety", user=env.users["mandal"]
    )
    env.service.set_contract_status(pid, status="active", reason="Fixed", user=env.users["mandal"])
    changes = env.service.contract(pid)["changes"]
    assert [(c["id"], c["status_before"], c["status"], c["reason"], c["actor"]) for c in changes] == [
        (f"{pid}/S1", "active", "suspended", "Аюулгүй ажиллагаа / safety", "mandal"),
        (f"{pid}/S2", "suspended", "active", "Fixed", "mandal"),
    ]  # fmt: skip


def test_the_routes(env: Env, store_location: str) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiSettings

    tokens = {}
    for name, kw in (
        ("org-http", {"role": "public"}),
        ("soum-http", {"role": "soum", "soum_code": "MN4322"}),
    ):
        tokens[name] = env.ledger.add_user(name, actor="setup", **kw)[1]  # type: ignore[arg-type]
    app = create_app(ApiSettings(db=store_location))
    with TestClient(app) as client:
        app.state.services.ledger = env.ledger
        pid = env.parcels["A"]
        soum = {"Authorization": f"Bearer {tokens['soum-http']}"}
        org = {"Authorization": f"Bearer {tokens['org-http']}"}
        assert client.post(f"/contracts/{pid}/renewal").status_code == 401
        assert client.post(f"/contracts/{pid}/renewal", headers=org).status_code == 403
        assert client.post(
            f"/contracts/{pid}/renew", headers=soum, json={"reason": ""}
        ).status_code in (400, 422)
        r = client.post(f"/contracts/{env.parcels['B']}/renew", headers=soum, json={"reason": "ok"})
        assert r.status_code == 409 and "R-B" in r.json()["description"]
        r = client.post(f"/contracts/{pid}/renew", headers=soum, json={"reason": "ok"})
        assert r.status_code == 200 and r.json()["expires_on"] == "2032-05-30"
        doc = client.get(f"/contracts/{pid}").json()
        assert doc["renewals"][0]["decided_by"] == "soum-http"
        # one document per contract: the GeoJSON Feature, with the allocation record
        assert doc["type"] == "Feature" and doc["geometry"]["type"] == "Polygon"
        props = doc["properties"]
        assert props["expires_on"] == "2032-05-30" and props["renewal"] is None
        assert props["application_id"] == pid.removeprefix("CP-") and props["changes"] == []
        blocked = client.get(f"/contracts/{env.parcels['B']}").json()["properties"]["renewal"]
        assert blocked["renewal_eligible"] is False and blocked["blocking_zones"] == ["R-B"]
        page = client.get(f"/contracts/{env.parcels['B']}?lang=en", headers={"Accept": "text/html"})
        assert 'id="contract-renewal"' in page.text and "Renewal refused" in page.text
        assert client.get("/contracts/NO-SUCH").status_code == 404
        app.state.services.ledger = None


def test_the_command(backend: str, store_location: str) -> None:
    """gazar renew PARCEL --reason ... on a contract ending in 20 days (the real clock)."""
    from typer.testing import CliRunner

    from api.cli import app
    from geo.allocation import local_day

    today = local_day(dt.datetime.now(dt.UTC), utc_offset_hours=8)
    end = today + dt.timedelta(days=20)
    with open_store(store_location) as store:
        store.write({
            "land_conclusions": f.frame("land_conclusions", [f.land_conclusion(valid_until=None)]),
            "contract_parcels": f.frame("contract_parcels", [
                f.parcel("P-1", expires_on=end), f.parcel("P-2", holder="Other", expires_on=end,
                                                          geometry=f.utm_box(600, 100, 200, 200))]),
            "rehab_zones": f.frame("rehab_zones", [f.rehab_zone(parcel_id="P-2", holder="Other",
                                                                geometry=f.utm_box(620, 120, 50, 50))]),
        })  # fmt: skip
    runner = CliRunner()
    db = ["--db", store_location]
    ok = runner.invoke(app, ["renew", "P-1", "--reason", "Хугацаа сунгав", "--json", *db])
    assert ok.exit_code == 0, ok.output
    assert '"outcome":"renewed"' in ok.stdout.replace(" ", "")
    refused = runner.invoke(app, ["renew", "P-2", "--reason", "x", *db])
    assert refused.exit_code == 1 and "R-1" in refused.output
