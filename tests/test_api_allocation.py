"""The allocation API: the role x endpoint x soum matrix, the whole process, the register feeds.

One store is prepared once per module and backend (two soums of Selenge, MN4322 and MN4310, and
one of Govi-Altai, MN8201), then copied for each test, so each test starts from the same
records: the GeoPackage file is copied, a PostGIS database is made with it as its template.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from layers.ledger import Ledger, open_ledger, parse_json_list
from layers.store import open_store
from tests import factories as f
from tests.conftest import BACKENDS, NO_PG, TEST_PG, pg_url
from tests.factories import Clock

T0 = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Ulaanbaatar: applications filed
T_WINDOW = T0 + dt.timedelta(days=1)  # objections open, competing groups closed
T_DECIDE = T0 + dt.timedelta(days=30)  # objection window closed, draw date passed

#: soum -> (aimag, Land Conclusion, east offset in metres so the soums do not overlap)
SOUMS = {"MN4322": ("MN43", "LC-A", 0), "MN8201": ("MN82", "LC-C", 20_000)}
# (soum MN4310, also in aimag MN43, appears only as the soum of an official)


def box(x: float, y: float, w: float = 200, h: float = 200) -> Any:
    return f.utm_box(x, y, w, h)


def _apply(ledger: Ledger, lc: str, holder: str, geom: Any) -> str:
    from api.services.access import local_operator
    from api.services.allocation import AllocationService, ApplicationInput
    from geo.settings import AnalysisSettings

    data = ApplicationInput(lc, holder, "partnership", 3, 3, geometry=geom)
    allocation = AllocationService(lambda: ledger, AnalysisSettings())
    doc = allocation.apply(data, user=local_operator("setup"))
    assert doc["status"] == "pending", doc["reasons"]
    return str(doc["id"])


def _is_pg(location: str) -> bool:
    return location.startswith("postgresql://")


def _admin(query: str) -> None:
    import psycopg

    with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
        admin.execute(query.encode())


def _database(location: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(location).path.lstrip("/")


def _copy_store(source: str, folder: Path) -> str:
    """A copy of the store at ``source``: its file copied, or a database made from it."""
    if not _is_pg(source):
        path = folder / "gazar.gpkg"
        shutil.copy(source, path)
        return str(path)
    name = f"gazar_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_database(source)}"')
    return pg_url(name)


def _drop_store(location: str) -> None:
    if _is_pg(location):
        _admin(f'DROP DATABASE IF EXISTS "{_database(location)}" WITH (FORCE)')


@pytest.fixture(scope="module", params=BACKENDS)
def template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The prepared store (a .gpkg file or a PostGIS database) and what is in it."""
    folder = tmp_path_factory.mktemp("alloc")
    if request.param == "postgis":
        if TEST_PG is None:
            pytest.skip(NO_PG)
        path = _copy_store(pg_url(request.getfixturevalue("pg_template")), folder)
    else:
        path = str(folder / "template.gpkg")
    try:
        yield _prepare(path)
    finally:
        _drop_store(path)


def _prepare(path: str) -> tuple[str, dict[str, Any]]:
    lcs, parcels, zones = [], [], []
    for soum, (aimag, lc, dx) in SOUMS.items():
        lcs.append(f.land_conclusion(lc, soum_code=soum, aimag_code=aimag,
                                     geometry=box(dx, 0, 2000, 1000)))  # fmt: skip
        lcs.append(f.land_conclusion(f"{lc}-R", soum_code=soum, aimag_code=aimag,
                                     status="under_review", decided_on=None, valid_until=None,
                                     geometry=box(dx, 2000, 2000, 1000)))  # fmt: skip
        parcels.append(f.parcel(f"P-{soum}", land_conclusion_id=lc, holder=f"Хуучин {soum}",
                                geometry=box(dx + 1500, 700)))  # fmt: skip
        zones.append(f.rehab_zone(f"R-{soum}", parcel_id=f"P-{soum}", holder=f"Хуучин {soum}",
                                  geometry=box(dx + 1550, 750, 50, 50)))  # fmt: skip
    store = open_store(path)
    store.write(
        {
            "land_conclusions": f.frame("land_conclusions", lcs),
            "contract_parcels": f.frame("contract_parcels", parcels),
            "rehab_zones": f.frame("rehab_zones", zones),
        }
    )
    store.close()
    clock = Clock(T0)
    info: dict[str, Any] = {"tokens": {}, "apps": {}}
    with open_ledger(path, clock=clock) as ledger:
        users: dict[str, dict[str, Any]] = {
            "public": {"role": "public"},
            "soum_4322": {"role": "soum", "soum_code": "MN4322"},
            "soum_4310": {"role": "soum", "soum_code": "MN4310"},
            "aimag_43": {"role": "aimag", "aimag_code": "MN43"},
            "aimag_82": {"role": "aimag", "aimag_code": "MN82"},
            "mrpam": {"role": "mrpam"},
            "admin": {"role": "admin"},
            "revoked": {"role": "admin"},
        }
        for name, kw in users.items():
            info["tokens"][name] = ledger.add_user(name, actor="setup", **kw)[1]
        ledger.revoke_user("revoked", actor="setup")
        for soum, (_, lc, dx) in SOUMS.items():
            info["apps"][soum] = {
                "single": _apply(ledger, lc, "Ганц", box(dx + 100, 100)),
                "pair": [
                    _apply(ledger, lc, "Нэг", box(dx + 500, 100)),
                    _apply(ledger, lc, "Хоёр", box(dx + 550, 100)),
                ],
                "drawn": [
                    _apply(ledger, lc, "Гурав", box(dx + 900, 100)),
                    _apply(ledger, lc, "Дөрөв", box(dx + 950, 100)),
                ],
            }
        from api.services.access import local_operator
        from api.services.allocation import AllocationService
        from geo.settings import AnalysisSettings

        clock.now = T_WINDOW
        for soum in SOUMS:
            first = info["apps"][soum]["drawn"][0]
            draw = AllocationService(lambda: ledger, AnalysisSettings()).announce_draw(
                first,
                draw_date=(T_WINDOW + dt.timedelta(days=1)).date(),
                public_value="48213",
                user=local_operator("setup"),
            )
            info["apps"][soum]["draw"] = draw["id"]
    return path, info


@pytest.fixture(scope="module")
def client(
    template: tuple[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, FastAPI]]:
    """One app for the module (on a copy: a database in use cannot be a template); each test
    gives it the ledger of its own copy of the store. The module's tests send many refused
    tokens from one address: the slowing of failed checks (tests/test_api_tokens.py) is set
    out of their way."""
    location = _copy_store(template[0], tmp_path_factory.mktemp("app"))
    app: FastAPI = create_app(ApiSettings(db=location, token_failures=100_000))
    try:
        with TestClient(app) as test_client:
            yield test_client, app
    finally:
        _drop_store(location)


Env = tuple[TestClient, Clock, dict[str, Any], str, Ledger]


@pytest.fixture
def env(
    template: tuple[str, dict[str, Any]],
    client: tuple[TestClient, FastAPI],
    tmp_path: Path,
) -> Iterator[Env]:
    path = _copy_store(template[0], tmp_path)
    clock = Clock(T0)
    ledger = open_ledger(path, create=False, clock=clock)
    test_client, app = client
    app.state.services.ledger = ledger
    try:
        yield test_client, clock, template[1], path, ledger
    finally:
        app.state.services.ledger = None
        ledger.close()
        _drop_store(path)


def auth(info: dict[str, Any], who: str) -> dict[str, str]:
    if who == "anonymous":
        return {}
    return {"Authorization": f"Bearer {info['tokens'][who]}"}


def public_application(env: Env, body: dict[str, Any]) -> Any:
    """The answer to ``POST /applications`` of ``body`` by the public, on decision day."""
    client, clock, info, _, _ = env
    clock.now = T_DECIDE
    return client.post("/applications", headers=auth(info, "public"), json=body)


# ----------------------------------------------------------------------------- the matrix

USERS = ["anonymous", "revoked", "public", "soum_4322", "soum_4310", "aimag_43", "aimag_82", "mrpam", "admin"]  # fmt: skip


def _allowed(endpoint: str, who: str, soum: str) -> bool:
    aimag = SOUMS[soum][0]
    if endpoint == "object" and who == "anonymous":
        return True  # anyone may object, signed in or not (issue 13)
    if who in ("anonymous", "revoked"):
        return False
    if who == "admin":
        return True
    if endpoint == "object":
        return True
    if endpoint == "apply":
        return who == "public"
    if endpoint == "review":
        return who == "mrpam"
    # decide, announce, run, contract, rehab: the official's own soum or aimag
    if who.startswith("soum_"):
        return soum == f"MN{who[5:]}"
    if who.startswith("aimag_"):
        return aimag == f"MN{who[6:]}"
    return False


def _request(
    endpoint: str, soum: str, info: dict[str, Any], clock: Clock
) -> tuple[str, str, dict[str, Any] | None, int]:
    """(method, path, body, status when allowed) for one endpoint on one soum's object."""
    _, lc, dx = SOUMS[soum]
    apps = info["apps"][soum]
    if endpoint == "apply":
        clock.now = T_DECIDE
        body = {"land_conclusion_id": lc, "holder": "Шинэ", "holder_type": "cooperative",
                "members_women": 4, "members_men": 4,
                "geometry": shapely.geometry.mapping(box(dx + 1200, 100))}  # fmt: skip
        return "POST", "/applications", body, 201
    if endpoint == "object":
        clock.now = T_WINDOW
        return (
            "POST",
            f"/applications/{apps['single']}/objections",
            {"reason": "Гол", "name": "Дорж"},
            201,
        )
    if endpoint == "decide":
        clock.now = T_DECIDE
        body = {"outcome": "approve", "reason": "Шаардлага хангасан"}
        return "POST", f"/applications/{apps['single']}/decision", body, 200
    if endpoint == "announce":
        clock.now = T_WINDOW
        day = (T_WINDOW + dt.timedelta(days=2)).date().isoformat()
        body = {"application": apps["pair"][0], "draw_date": day, "public_value": "7"}
        return "POST", "/draws", body, 201
    if endpoint == "run":
        clock.now = T_DECIDE
        return "POST", f"/draws/{apps['draw']}/run", None, 200
    if endpoint == "review":
        body = {"status": "issued", "decision_ref": "АМГТГ-2026/5"}
        return "POST", f"/land_conclusions/{lc}-R/review", body, 200
    if endpoint == "contract":
        body = {"status": "suspended", "reason": "Аюулгүй ажиллагаа"}
        return "POST", f"/contracts/P-{soum}/status", body, 200
    if endpoint == "rehab":
        return "POST", f"/rehab_zones/R-{soum}/stage", {"stage": "technical_done"}, 200
    raise AssertionError(endpoint)


ENDPOINTS = ["apply", "object", "decide", "announce", "run", "review", "contract", "rehab"]


@pytest.mark.parametrize("soum", ["MN4322", "MN8201"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_role_endpoint_soum_matrix(env: Env, endpoint: str, soum: str) -> None:
    """Everyone refused gets 401/403 and changes nothing; then the first allowed succeeds."""
    client, clock, info, _, ledger = env
    refused = [w for w in USERS if not _allowed(endpoint, w, soum)]
    allowed = [w for w in USERS if _allowed(endpoint, w, soum)]
    assert allowed and refused
    for who in refused:
        method, url, body, _ = _request(endpoint, soum, info, clock)
        events_before = len(ledger.events())
        r = client.request(method, url, json=body, headers=auth(info, who))
        expected = 401 if who in ("anonymous", "revoked") else 403
        assert r.status_code == expected, (who, r.json())
        assert r.json()["code"] == ("Unauthorized" if expected == 401 else "Forbidden")
        assert len(ledger.events()) == events_before  # nothing written, nothing logged
    # objections and applications may be repeated; other calls change the state once
    for who in allowed if endpoint in ("object", "apply") else allowed[:1]:
        method, url, body, ok = _request(endpoint, soum, info, clock)
        r = client.request(method, url, json=body, headers=auth(info, who))
        assert r.status_code == ok, (who, r.json())


ALLOWED_CASES = [
    (endpoint, who, soum)
    for endpoint in ("decide", "announce", "run", "contract", "rehab", "review")
    for who in USERS
    for soum in ("MN4322", "MN8201")
    if _allowed(endpoint, who, soum)
]


@pytest.mark.parametrize(("endpoint", "who", "soum"), ALLOWED_CASES)
def test_each_allowed_official_succeeds_on_a_fresh_copy(
    env: Env, endpoint: str, who: str, soum: str
) -> None:
    client, clock, info, _, _ = env
    method, url, body, ok = _request(endpoint, soum, info, clock)
    r = client.request(method, url, json=body, headers=auth(info, who))
    assert r.status_code == ok, (who, soum, r.json())


def test_another_soums_official_gets_403_whatever_id_it_sends(
    env: Env,
) -> None:
    client, clock, info, _, _ = env
    clock.now = T_DECIDE
    headers = auth(info, "soum_4310")
    every = [n for s in ("MN4322", "MN8201") for n in [info["apps"][s]["single"],
             *info["apps"][s]["pair"], *info["apps"][s]["drawn"]]]  # fmt: skip
    for number in every:
        for outcome in ("approve", "reject"):
            r = client.post(f"/applications/{number}/decision", headers=headers,
                            json={"outcome": outcome, "reason": "x"})  # fmt: skip
            assert r.status_code == 403, (number, r.json())
    r = client.post("/applications/NO-SUCH/decision", headers=headers,
                    json={"outcome": "reject", "reason": "x"})  # fmt: skip
    assert r.status_code == 404


@pytest.mark.parametrize(
    "header", ["Bearer gazar_nosuch_key", "Basic dXNlcjpwYXNz", "Bearer ", "gazar_x_y"]
)
def test_bad_tokens_get_401(env: Env, header: str) -> None:
    client, _, info, _, _ = env
    number = info["apps"]["MN4322"]["single"]
    r = client.post(f"/applications/{number}/objections", json={"reason": "x"},
                    headers={"Authorization": header})  # fmt: skip
    assert r.status_code == 401


# ------------------------------------------------------------------------- the process


def test_whole_process_over_http(env: Env) -> None:
    client, clock, info, path, _ = env
    gov = auth(info, "soum_4322")
    miner = auth(info, "public")
    a, b = info["apps"]["MN4322"]["pair"]
    # the queue: numbers, server times, places
    queue = client.get("/applications", params={"land_conclusion_id": "LC-A"}).json()
    assert [q["place"] for q in queue] == [1, 2, 3, 4, 5]
    assert [q["position"] for q in queue] == [1, 2, 3, 4, 5]
    assert all(q["filed_at"] == "2026-05-01T02:00:00.000000Z" for q in queue)
    assert client.get(f"/applications/{a}").json()["competing"] == []  # as filed: the first
    assert client.get(f"/applications/{b}").json()["competing"] == [a]
    assert client.get(f"/applications/{a}").json()["group"] == sorted([a, b])
    # an objection in the window, shown with the application
    clock.now = T_WINDOW
    r = client.post(f"/applications/{a}/objections", headers=miner,
                    json={"reason": "Голын эх / the river's source", "name": "Дорж"})  # fmt: skip
    assert r.status_code == 201
    assert client.get(f"/applications/{a}").json()["objections"][0]["name"] == "Дорж"
    # approval refused while the window is open and before a draw: both reasons
    r = client.post(f"/applications/{a}/decision", headers=gov,
                    json={"outcome": "approve", "reason": "ok"})  # fmt: skip
    assert r.status_code == 409
    assert [x["code"] for x in r.json()["reasons"]] == ["OBJECTION_WINDOW_OPEN", "DRAW_REQUIRED"]
    # the draw: announced with a public value, run on its date, verifiable
    day = (T_WINDOW + dt.timedelta(days=1)).date().isoformat()
    r = client.post("/draws", headers=gov,
                    json={"application": b, "draw_date": day, "public_value": "2026-05-03 lotto 17"})  # fmt: skip
    assert r.status_code == 201 and r.json()["applications"] == sorted([a, b])
    draw = r.json()["id"]
    assert client.post(f"/draws/{draw}/run", headers=gov).status_code == 409  # not yet
    clock.now = T_DECIDE
    r = client.post(f"/draws/{draw}/run", headers=gov)
    assert r.status_code == 200
    result = r.json()
    assert result["verification"]["ok"] and result["winner"] == result["result"][0]
    winner, loser = result["result"]
    assert client.post(f"/draws/{draw}/run", headers=gov).status_code == 409  # runs once
    # the loser cannot jump the draw
    r = client.post(f"/applications/{loser}/decision", headers=gov,
                    json={"outcome": "approve", "reason": "ok"})  # fmt: skip
    assert r.status_code == 409 and r.json()["reasons"][0]["code"] == "RANKED_BEHIND"
    # the winner is approved: the contract parcel exists with its term
    r = client.post(f"/applications/{winner}/decision", headers=gov,
                    json={"outcome": "approve", "reason": "Шаардлага хангасан", "contract_no": "Г-17"})  # fmt: skip
    assert r.status_code == 200, r.json()
    decision = r.json()
    assert decision["expires_on"] == "2029-05-30"  # signed 31 May 2026, 3 years
    with open_store(path) as store:
        parcel = store.get("contract_parcels", decision["parcel_id"]).iloc[0]
    assert (parcel.status, parcel.contract_no, parcel.holder) == ("active", "Г-17",
            client.get(f"/applications/{winner}").json()["holder"])  # fmt: skip
    # the approval made the loser ineligible, naming the winner; it is no longer queued
    lost = client.get(f"/applications/{loser}").json()
    assert (lost["status"], lost["position"], lost["group"]) == ("ineligible", None, [])
    assert lost["reasons"][-1]["code"] == "LAND_GRANTED"
    assert winner in lost["reasons"][-1]["message_en"]
    assert winner in lost["reasons"][-1]["message_mn"]
    r = client.post(f"/applications/{loser}/decision", headers=gov,
                    json={"outcome": "approve", "reason": "ok"})  # fmt: skip
    assert r.status_code == 409
    assert [x["code"] for x in r.json()["reasons"]] == ["NOT_PENDING"]
    r = client.post(f"/applications/{loser}/decision", headers=gov,
                    json={"outcome": "reject", "reason": "Сугалаанд хожигдсон / lost the draw"})  # fmt: skip
    assert r.status_code == 200
    again = client.post(f"/applications/{loser}/decision", headers=gov,
                        json={"outcome": "reject", "reason": "twice"})  # fmt: skip
    assert again.status_code == 409
    assert client.get(f"/applications/{loser}/decision").json()["outcome"] == "reject"
    # the log holds it all, intact
    check = client.get("/audit").json()
    assert check["ok"] and check["pending"] == 0
    requests = {e["request"] for e in client.get("/events", params={"limit": 10_000}).json()}
    assert f"decide approve {winner}" in requests and f"draw run {draw}" in requests


def test_ineligible_applications_are_recorded_with_every_reason(env: Env) -> None:
    client, _, info, _, _ = env
    body = {"land_conclusion_id": "LC-A", "holder": "Хуучин MN4322", "holder_type": "partnership",
            "members_women": 1, "members_men": 1,
            "geometry": shapely.geometry.mapping(box(1450, 650, 150, 150))}  # fmt: skip
    r = public_application(env, body)
    assert r.status_code == 201
    doc = r.json()
    assert doc["status"] == "ineligible" and doc["status_en"] == "Not eligible"
    assert sorted(x["code"] for x in doc["reasons"]) == ["MEMBERS_BELOW_MIN", "PARCEL_OVERLAP"]
    r = client.post(f"/applications/{doc['id']}/decision", headers=auth(info, "soum_4322"),
                    json={"outcome": "approve", "reason": "x"})  # fmt: skip
    assert r.status_code == 409 and r.json()["reasons"][0]["code"] == "NOT_PENDING"


def test_size_requests_are_placed_in_free_land(env: Env) -> None:
    body = {"land_conclusion_id": "LC-A", "holder": "Шинэ", "holder_type": "cooperative",
            "members_women": 3, "members_men": 3, "requested_ha": 2.5}  # fmt: skip
    r = public_application(env, body)
    assert r.status_code == 201 and r.json()["status"] == "pending", r.json()
    assert r.json()["official_ha"] == pytest.approx(2.5, rel=5e-3)
    not_in_force = public_application(env, body | {"land_conclusion_id": "LC-A-R"})
    assert not_in_force.status_code == 409  # not in force


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"geometry": {"type": "Point", "coordinates": [106.5, 48.8]}}, 422),
        ({"geometry": shapely.geometry.mapping(shapely.box(48, 106, 48.01, 106.01))}, 422),
        ({"land_conclusion_id": "LC-NONE"}, 422),
        ({"requested_ha": 2.0}, 422),  # both a polygon and a size
        ({"holder_type": "company"}, 400),
        ({"members_men": -1}, 400),
    ],
)
def test_unusable_applications_are_refused_before_filing(
    env: Env, change: dict[str, Any], status: int
) -> None:
    client, _, info, _, _ = env
    body = {"land_conclusion_id": "LC-A", "holder": "Шинэ", "holder_type": "cooperative",
            "members_women": 3, "members_men": 3,
            "geometry": shapely.geometry.mapping(box(1200, 100))} | change  # fmt: skip
    r = client.post("/applications", headers=auth(info, "public"), json=body)
    assert r.status_code == status, r.json()
    assert len(client.get("/applications").json()) == 10  # nothing filed


def test_objection_window_closes(env: Env) -> None:
    client, clock, info, _, _ = env
    number = info["apps"]["MN4322"]["single"]
    clock.now = dt.datetime(2026, 5, 22, 15, 59, tzinfo=dt.UTC)  # 23:59 on 22 May in UB
    ok = client.post(f"/applications/{number}/objections", headers=auth(info, "public"),
                     json={"reason": "last minute"})  # fmt: skip
    assert ok.status_code == 201
    clock.now = dt.datetime(2026, 5, 22, 16, 0, tzinfo=dt.UTC)  # 00:00 on 23 May
    late = client.post(f"/applications/{number}/objections", headers=auth(info, "public"),
                       json={"reason": "too late"})  # fmt: skip
    assert late.status_code == 409 and "2026-05-22" in late.json()["description"]


def test_review_moves_and_needs_a_reference(
    env: Env,
) -> None:
    client, _, info, _, _ = env
    mrpam = auth(info, "mrpam")
    r = client.post("/land_conclusions/LC-A-R/review", headers=mrpam, json={"status": "issued"})
    assert r.status_code == 422
    r = client.post("/land_conclusions/LC-A-R/review", headers=mrpam,
                    json={"status": "rejected", "decision_ref": "АМГТГ-2026/9"})  # fmt: skip
    assert r.status_code == 200 and r.json()["decided_on"] == "2026-05-01"
    r = client.post("/land_conclusions/LC-A-R/review", headers=mrpam,
                    json={"status": "issued", "decision_ref": "x"})  # fmt: skip
    assert r.status_code == 409 and "allowed: none" in r.json()["description"]
    r = client.post("/land_conclusions/LC-A/review", headers=mrpam,
                    json={"status": "under_review"})  # fmt: skip
    assert r.status_code == 409


# ------------------------------------------------------------------------------ register


def test_register_feeds(env: Env) -> None:
    client, clock, info, path, _ = env
    gov = auth(info, "soum_4322")
    single = info["apps"]["MN4322"]["single"]
    clock.now = T_WINDOW
    client.post(f"/applications/{single}/objections", headers=auth(info, "public"),
                json={"reason": "Бэлчээр / pasture"})  # fmt: skip
    clock.now = T_DECIDE
    client.post(f"/draws/{info['apps']['MN4322']['draw']}/run", headers=gov)
    r = client.post(f"/applications/{single}/decision", headers=gov,
                    json={"outcome": "approve", "reason": "Шаардлага хангасан"})  # fmt: skip
    assert r.status_code == 200
    # a contract expiring within 60 days, its renewal refused by open rehabilitation
    with (
        open_ledger(path, create=False, clock=clock) as ledger,
        ledger.transaction(actor="setup", request="make P-MN4322 expire soon") as tx,
    ):
        tx.update("contract_parcels", "P-MN4322", {"expires_on": dt.date(2026, 7, 1)})

    doc = client.get("/register.json").json()
    assert doc["today"] == "2026-05-31"
    assert len(doc["queue"]) == 10 and doc["queue"][0]["objection_count"] == 1
    assert [d["id"] for d in doc["decisions"]] == [single]
    assert doc["decisions"][0]["reason"] == "Шаардлага хангасан"
    assert doc["objections"][0]["reason"] == "Бэлчээр / pasture"
    run = [d for d in doc["draws"] if d["status"] == "run"]
    assert len(run) == 1 and len(run[0]["seed"]) == 64 and run[0]["verification"]["ok"]
    assert [(e["id"], e["renewal_eligible"], e["blocking_zones"]) for e in doc["expiring"]] == [
        ("P-MN4322", False, ["R-MN4322"])
    ]
    assert doc["log"]["ok"] and len(doc["log"]["head"]["hash"]) == 64

    geo = client.get("/register.geojson")
    assert geo.headers["content-type"].startswith("application/geo+json")
    features = orjson.loads(geo.content)["features"]
    assert len(features) == 10
    approved = next(x for x in features if x["id"] == single)
    assert approved["properties"]["decision_outcome"] == "approve"
    assert shapely.geometry.shape(approved["geometry"]).equals_exact(box(100, 100), tolerance=1e-9)

    text = client.get("/register.csv")
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    sections = [r["section"] for r in rows]
    assert sections.count("application") == 10 and sections.count("decision") == 1
    assert sections.count("objection") == 1 and sections.count("draw") == 2
    assert sections.count("expiring") == 1
    draw_row = next(r for r in rows if r["section"] == "draw" and r["status"] == "run")
    assert draw_row["detail"].startswith(f"seed={run[0]['seed']}")


def test_verify_draw_command(env: Env) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    client, clock, info, path, ledger = env
    clock.now = T_DECIDE
    draw = info["apps"]["MN4322"]["draw"]
    runner = CliRunner()
    not_run = runner.invoke(app, ["verify-draw", draw, "--db", path])
    assert not_run.exit_code == 1
    assert client.post(f"/draws/{draw}/run", headers=auth(info, "admin")).status_code == 200
    ok = runner.invoke(app, ["verify-draw", draw, "--db", path])
    assert ok.exit_code == 0 and "follows from its inputs" in ok.output
    # a published result edited afterwards (around the store's refusal) no longer follows
    order = parse_json_list(ledger.records("draws", where={"id": draw})[0]["result"])
    forged = (orjson.dumps(order[::-1]).decode(), draw)
    if _is_pg(path):
        import psycopg

        with psycopg.connect(path, autocommit=True) as raw:
            raw.execute("SET session_replication_role = replica")  # as a superuser
            raw.execute("UPDATE draws SET result = %s WHERE id = %s", forged)
    else:
        import sqlite3

        with sqlite3.connect(path) as raw:
            raw.execute('DROP TRIGGER "gazar_keep_draws_update"')
            raw.execute("UPDATE draws SET result = ? WHERE id = ?", forged)
    bad = runner.invoke(app, ["verify-draw", draw, "--db", path])
    assert bad.exit_code == 1 and f"the order should be {', '.join(order)}" in bad.output


def test_approval_rechecks_the_land_at_decision_time(env: Env) -> None:
    """A contract written by another path after filing (an import, QGIS) blocks the approval."""
    client, clock, info, path, _ = env
    single = info["apps"]["MN4322"]["single"]  # box(100, 100), eligible when filed
    with open_store(path) as store:  # the plain store: no ledger, no checks
        store.write(
            {
                "contract_parcels": f.frame(
                    "contract_parcels",
                    [
                        f.parcel(
                            "P-LATE",
                            land_conclusion_id="LC-A",
                            holder="Өөр",
                            geometry=box(250, 100, 100, 100),
                        )
                    ],
                )
            }
        )
    clock.now = T_DECIDE
    r = client.post(f"/applications/{single}/decision", headers=auth(info, "soum_4322"),
                    json={"outcome": "approve", "reason": "ok"})  # fmt: skip
    assert r.status_code == 409
    assert [(x["code"], x["ids"]) for x in r.json()["reasons"]] == [("PARCEL_OVERLAP", ["P-LATE"])]
    assert "0.50 ha" in r.json()["reasons"][0]["message_en"]  # 50 x 100 m shared


def test_the_commands(env: Env, tmp_path: Path) -> None:
    """gazar apply / object / decide / draw announce / register on the same records."""
    from typer.testing import CliRunner

    from api.cli import app
    from geo.allocation import local_day

    _, _, info, path, _ = env
    runner = CliRunner()
    db = ["--db", path]
    polygon = tmp_path / "parcel.geojson"
    polygon.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": shapely.geometry.mapping(box(1200, 300))}]}))  # fmt: skip
    filed = runner.invoke(app, ["apply", "LC-A", "--holder", "Шинэ хоршоо", "--type", "cooperative",
                                "--women", "3", "--men", "2", "--polygon", str(polygon), "--json", *db])  # fmt: skip
    assert filed.exit_code == 0, filed.output
    doc = orjson.loads(filed.stdout)
    assert (
        doc["status"] == "pending"
        and doc["place"] == 6
        and doc["official_ha"] == pytest.approx(4, rel=1e-3)
    )
    number = doc["id"]
    token = info["tokens"]["public"]
    objected = runner.invoke(
        app, ["object", number, "--reason", "Худаг / a well", "--token", token, *db]
    )
    assert objected.exit_code == 0 and f"{number}/O1" in objected.output
    # a public token may not decide; the local operator may
    refused = runner.invoke(
        app, ["decide", number, "reject", "--reason", "x", "--token", token, *db]
    )
    assert refused.exit_code == 1 and "may not decide" in refused.output
    early = runner.invoke(app, ["decide", number, "approve", "--reason", "ok", *db])
    assert early.exit_code == 1 and "Objections may be filed until" in early.output
    rejected = runner.invoke(app, ["decide", number, "reject", "--reason", "Худаг ойр", *db])
    assert rejected.exit_code == 0 and "Rejected" in rejected.output
    tomorrow = local_day(dt.datetime.now(dt.UTC), utc_offset_hours=8) + dt.timedelta(days=1)
    pair = info["apps"]["MN4322"]["pair"]
    announced = runner.invoke(app, ["draw", "announce", pair[1], "--date", tomorrow.isoformat(),
                                    "--value", "17", "--json", *db])  # fmt: skip
    assert announced.exit_code == 0, announced.output
    assert orjson.loads(announced.stdout)["applications"] == pair
    out = tmp_path / "register.csv"
    exported = runner.invoke(app, ["register", "--format", "csv", "--out", str(out), *db])
    assert exported.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["status"] for r in rows if r["section"] == "decision"] == ["reject"]
    assert sum(r["section"] == "draw" for r in rows) == 3
