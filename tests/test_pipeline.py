"""The Land Conclusion pipeline before MRPAM (api.services.pipeline) and its JSON routes:
propose, record the Khural's approval, submit; who may, in which soum, which moves; the
acceptance date of a rehabilitation zone. Each test runs on each backend (PostGIS with
GAZAR_TEST_PG)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.services.access import Forbidden, Unauthorized
from api.services.errors import Unprocessable
from api.services.pipeline import PipelineService
from api.settings import ApiSettings
from geo.settings import AnalysisSettings
from layers.errors import InvalidGeometry
from layers.labels import label
from layers.ledger import Conflict, Ledger, User, open_ledger
from layers.store import open_store
from tests import factories as f
from tests.factories import Clock

T0 = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Ulaanbaatar
TODAY = dt.date(2026, 5, 1)


@dataclass
class Env:
    ledger: Ledger
    clock: Clock
    users: dict[str, User]
    tokens: dict[str, str]
    service: PipelineService
    location: str


USERS: dict[str, dict[str, Any]] = {
    "public": {"role": "public"},
    "soum_4322": {"role": "soum", "soum_code": "MN4322"},
    "soum_4310": {"role": "soum", "soum_code": "MN4310"},
    "aimag_43": {"role": "aimag", "aimag_code": "MN43"},
    "aimag_82": {"role": "aimag", "aimag_code": "MN82"},
    "mrpam": {"role": "mrpam"},
    "admin": {"role": "admin"},
}


def outline(dx: float = 0) -> shapely.Polygon:
    return f.utm_box(3000 + dx, 0, 1500, 1000)


@pytest.fixture
def env(store_location: str) -> Iterator[Env]:
    with open_store(store_location) as store:
        store.write(
            {
                "soums": f.frame(
                    "soums",
                    [
                        f.soum("MN4322"),
                        f.soum(
                            "MN4310",
                            name_en="Bayangol",
                            geometry=f.utm_box(9000, -3000, 5000, 8000),
                        ),
                        f.soum(
                            "MN8201",
                            aimag_code="MN82",
                            name_en="Yusunbulag",
                            geometry=f.utm_box(20_000, -3000, 8000, 8000),
                        ),
                    ],
                ),
                "land_conclusions": f.frame(
                    "land_conclusions",
                    [
                        f.land_conclusion("LC-MN4322-001"),
                        f.proposed_land_conclusion(
                            "LC-MN8201-001",
                            soum_code="MN8201",
                            aimag_code="MN82",
                            proposed_on=dt.date(2026, 4, 1),
                            geometry=f.utm_box(21_000, 0, 1000, 1000),
                        ),
                    ],
                ),
                "contract_parcels": f.frame(
                    "contract_parcels", [f.parcel(land_conclusion_id="LC-MN4322-001")]
                ),
                "rehab_zones": f.frame("rehab_zones", [f.rehab_zone()]),
            }
        )
    clock = Clock(T0)
    ledger = open_ledger(store_location, clock=clock)
    users, tokens = {}, {}
    for name, kw in USERS.items():
        users[name], tokens[name] = ledger.add_user(name, actor="setup", **kw)
    service = PipelineService(lambda: ledger, AnalysisSettings(), max_vertices=1000)
    try:
        yield Env(ledger, clock, users, tokens, service, store_location)
    finally:
        ledger.close()


def lc(env: Env, lc_id: str) -> dict[str, Any]:
    row = env.ledger.read("land_conclusions", ids=[lc_id])
    assert len(row) == 1
    return dict(row.drop(columns="geometry").iloc[0])


# ------------------------------------------------------------------------------ service


def test_a_soum_official_proposes_records_the_khural_and_submits(env: Env) -> None:
    who = env.users["soum_4322"]
    doc = env.service.propose(outline(), name="  Зүүн ам ", user=who)
    assert doc["id"] == "LC-MN4322-002"  # after the soum's LC-MN4322-001
    assert (doc["status"], doc["name"], doc["soum_code"], doc["aimag_code"]) == (
        "proposed", "Зүүн ам", "MN4322", "MN43")  # fmt: skip
    assert doc["proposed_on"] == "2026-05-01" and doc["requested_by"] == "soum"
    stored = env.ledger.read("land_conclusions", ids=[doc["id"]])
    assert stored.geometry.iloc[0].equals_exact(outline(), 1e-9)

    env.clock.now = T0 + dt.timedelta(days=10)
    doc = env.service.record_khural(doc["id"], approved_on=dt.date(2026, 5, 8), user=who)
    assert doc["status"] == "khural_approved" and doc["khural_approved_on"] == "2026-05-08"
    doc = env.service.submit(doc["id"], user=who)
    assert doc["status"] == "submitted" and doc["submitted_on"] == "2026-05-11"

    events = [e for e in env.ledger.events() if e.actor == "soum_4322"]
    assert [e.request for e in events][:1] == ["propose MN4322 Зүүн ам"]
    assert {e.request for e in events} >= {"khural LC-MN4322-002", "submit LC-MN4322-002"}
    assert env.ledger.verify_chain().ok

    steps = env.service.steps(soums=["MN4322"], today=dt.date(2026, 5, 20))
    row = steps.set_index("id").loc["LC-MN4322-002"]
    assert row["current_step"] == "submitted" and int(row["days_in_step"]) == 9
    assert not row["delayed"]


def test_aimag_officials_propose_in_a_soum_of_their_aimag(env: Env) -> None:
    doc = env.service.propose(outline(), name="A", soum_code="MN4310", user=env.users["aimag_43"])
    assert (doc["soum_code"], doc["aimag_code"], doc["requested_by"]) == ("MN4310", "MN43", "aimag")
    with pytest.raises(Forbidden):
        env.service.propose(outline(), name="A", soum_code="MN8201", user=env.users["aimag_43"])
    with pytest.raises(Unprocessable, match="soum_code"):
        env.service.propose(outline(), name="A", user=env.users["aimag_43"])


@pytest.mark.parametrize(
    ("who", "error"),
    [("public", Forbidden), ("mrpam", Forbidden), ("soum_4310", Forbidden), (None, Unauthorized)],
)
def test_others_may_not_move_a_soums_land_conclusion(
    env: Env, who: str | None, error: type[Exception]
) -> None:
    user = env.users[who] if who else None
    before = len(env.ledger.events())
    with pytest.raises(error):
        env.service.propose(outline(), name="A", soum_code="MN4322", user=user)
    with pytest.raises(error):
        env.service.record_khural("LC-MN8201-001", approved_on=TODAY, user=user)
    assert len(env.ledger.events()) == before
    assert lc(env, "LC-MN8201-001")["status"] == "proposed"


def test_moves_are_checked_with_reasons_in_both_languages(env: Env) -> None:
    admin = env.users["admin"]
    with pytest.raises(Conflict) as info:
        env.service.submit("LC-MN8201-001", user=admin)  # not approved by the Khural yet
    text = str(info.value)
    assert "/" in text and "submitted" in text and "'proposed'" in text
    assert label("land_conclusion_status", "proposed", "mn") in text
    with pytest.raises(Conflict):
        env.service.record_khural("LC-MN4322-001", approved_on=TODAY, user=admin)  # issued


@pytest.mark.parametrize(
    ("day", "match"),
    [(None, "approved_on"), (dt.date(2026, 5, 2), "future"), (dt.date(2026, 3, 1), "before")],
)
def test_the_khural_date_is_required_and_plausible(
    env: Env, day: dt.date | None, match: str
) -> None:
    before = len(env.ledger.events())
    with pytest.raises(Unprocessable, match=match):
        env.service.record_khural("LC-MN8201-001", approved_on=day, user=env.users["aimag_82"])
    assert len(env.ledger.events()) == before


def test_unusable_proposals_are_refused_and_nothing_is_written(env: Env) -> None:
    who = env.users["soum_4322"]
    before = len(env.ledger.events())
    with pytest.raises(Unprocessable, match="name"):
        env.service.propose(outline(), name=" ", user=who)
    with pytest.raises(InvalidGeometry, match="outside Mongolia"):
        env.service.propose(shapely.box(10, 10, 11, 11), name="X", user=who)
    with pytest.raises(InvalidGeometry, match="not a polygon"):
        env.service.propose(shapely.Point(106.5, 48.8), name="X", user=who)
    with pytest.raises(Unprocessable, match="vertices"):
        env.service.propose(outline().buffer(0.01, 2000), name="X", user=who)
    with pytest.raises(Unprocessable, match="MN9999"):
        env.service.propose(outline(), name="X", soum_code="MN9999", user=env.users["admin"])
    assert len(env.ledger.events()) == before


def test_rehabilitation_acceptance_needs_the_commissions_day(env: Env) -> None:
    from api.services.allocation import AllocationService

    allocation = AllocationService(lambda: env.ledger, AnalysisSettings())
    who = env.users["soum_4322"]
    with pytest.raises(Unprocessable, match="accepted_on"):
        allocation.set_rehab_stage("R-1", stage="accepted", user=who)
    with pytest.raises(Unprocessable, match="future"):
        allocation.set_rehab_stage(
            "R-1", stage="accepted", accepted_on=dt.date(2026, 5, 2), user=who
        )
    doc = allocation.set_rehab_stage(
        "R-1", stage="accepted", accepted_on=dt.date(2026, 4, 28), user=who
    )
    assert doc["stage"] == "accepted" and doc["accepted_on"] == "2026-04-28"


# ---------------------------------------------------------------------------- JSON routes


@pytest.fixture
def client(env: Env) -> Iterator[TestClient]:
    app = create_app(ApiSettings(db=env.location))
    with TestClient(app) as test_client:
        app.state.services.ledger.close()
        app.state.services.ledger = env.ledger  # the test's clock
        try:
            yield test_client
        finally:
            app.state.services.ledger = None


def bearer(env: Env, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {env.tokens[who]}"}


def test_the_pipeline_over_http(env: Env, client: TestClient) -> None:
    body = {"name": "Зүүн ам", "geometry": shapely.geometry.mapping(outline())}
    r = client.post("/land_conclusions", json=body, headers=bearer(env, "soum_4322"))
    assert r.status_code == 201, r.text
    lc_id = r.json()["id"]
    path = f"/land_conclusions/{lc_id}"
    r = client.post(f"{path}/submit", headers=bearer(env, "soum_4322"))
    assert r.status_code == 409 and r.json()["code"] == "Conflict"
    r = client.post(f"{path}/khural", json={"approved_on": "2026-05-02"},
                    headers=bearer(env, "soum_4322"))  # fmt: skip
    assert r.status_code == 422 and "future" in r.json()["description"]
    r = client.post(f"{path}/khural", json={"approved_on": "2026-05-01"},
                    headers=bearer(env, "soum_4310"))  # fmt: skip
    assert r.status_code == 403
    r = client.post(f"{path}/khural", json={"approved_on": "2026-05-01"})
    assert r.status_code == 401
    r = client.post(f"{path}/khural", json={"approved_on": "2026-05-01"},
                    headers=bearer(env, "aimag_43"))  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "khural_approved"
    r = client.post(f"{path}/submit", headers=bearer(env, "soum_4322"))
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    r = client.post("/land_conclusions/NO-SUCH/submit", headers=bearer(env, "admin"))
    assert r.status_code == 404
    # then MRPAM's review takes it
    r = client.post(f"{path}/review", json={"status": "under_review"},
                    headers=bearer(env, "mrpam"))  # fmt: skip
    assert r.status_code == 200
    assert {e.actor for e in env.ledger.events()} >= {"soum_4322", "aimag_43", "mrpam"}
    assert env.ledger.verify_chain().ok


@pytest.mark.parametrize(
    ("who", "status"), [("public", 403), ("mrpam", 403), ("soum_4310", 403), ("anonymous", 401)]
)
def test_proposing_over_http_is_refused_to_others(
    env: Env, client: TestClient, who: str, status: int
) -> None:
    body = {"name": "X", "soum_code": "MN4322", "geometry": shapely.geometry.mapping(outline())}
    headers = {} if who == "anonymous" else bearer(env, who)
    before = len(env.ledger.events())
    r = client.post("/land_conclusions", json=body, headers=headers)
    assert r.status_code == status, r.text
    assert len(env.ledger.events()) == before


def test_the_rehab_route_takes_the_acceptance_day(env: Env, client: TestClient) -> None:
    r = client.post("/rehab_zones/R-1/stage", json={"stage": "accepted"},
                    headers=bearer(env, "soum_4322"))  # fmt: skip
    assert r.status_code == 422 and "accepted_on" in r.json()["description"]
    r = client.post("/rehab_zones/R-1/stage", json={"stage": "accepted", "accepted_on": "2026-04-30"},
                    headers=bearer(env, "soum_4322"))  # fmt: skip
    assert r.status_code == 200 and r.json()["accepted_on"] == "2026-04-30"
    schema = client.get("/api").json()
    rehab = schema["components"]["schemas"]["RehabStageIn"]["properties"]["accepted_on"]
    assert "commission" in rehab["description"]
