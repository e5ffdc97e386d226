"""The organisation's pages and the public objection form (web/apply.py) through TestClient:
applying by a drawing, DMS corners, a size and a file; hostile input refused with the field
named and nothing written; another organisation kept out; objections by anyone with a private
contact that no feed and no log shows; the per-address rate limit; the migration that adds the
contact column to an existing store."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient

from tests import factories as f
from tests.workbench import PASSWORD, client_sign_in

LC = "LC-1"


def box(x: float, y: float, w: float = 200, h: float = 200) -> shapely.Polygon:
    return f.utm_box(x, y, w, h)


@dataclass
class Env:
    client: TestClient
    db: Path
    tokens: dict[str, str]

    def as_user(self, name: str | None) -> TestClient:
        """The client signed in as ``name`` through ``/login`` (None: a fresh visitor)."""
        self.client.cookies.clear()
        if name is not None:
            client_sign_in(self.client, name, PASSWORD)
        return self.client

    def csrf(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, "the form carries no csrf_token"
        return found.group(1)

    def counts(self) -> tuple[int, int, int]:
        from layers.ledger import open_ledger

        with open_ledger(self.db, create=False) as ledger:
            return (
                len(ledger.applications()),
                len(ledger.records("objections")),
                len(ledger.events()),
            )


def make_store(path: Path) -> dict[str, str]:
    from layers.ledger import open_ledger
    from layers.store import open_store

    with open_store(path) as store:
        store.write(
            {
                "soums": f.frame("soums", [f.soum()]),
                "land_conclusions": f.frame("land_conclusions", [f.land_conclusion(LC)]),
            }
        )
    tokens = {}
    with open_ledger(path) as ledger:
        for name, role in (("Алтан хоршоо", "public"), ("Мөнгөн нөхөрлөл", "public"),
                           ("soum", "soum"), ("mrpam", "mrpam")):  # fmt: skip
            kw = {"soum_code": "MN4322"} if role == "soum" else {}
            tokens[name] = ledger.add_user(name, role=role, actor="setup", **kw)[1]
            ledger.set_password(name, PASSWORD, actor="setup")
    return tokens


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    from api.app import create_app
    from api.settings import ApiSettings

    db = tmp_path / "org.gpkg"
    tokens = make_store(db)
    app = create_app(ApiSettings(db=str(db), max_vertices=200))
    with TestClient(app, follow_redirects=False) as client:
        yield Env(client, db, tokens)


ORG, OTHER = "Алтан хоршоо", "Мөнгөн нөхөрлөл"


def _form(**kw: Any) -> dict[str, str]:
    base = {"land_conclusion_id": LC, "holder": "Алтан хоршоо", "holder_type": "cooperative",
            "members_women": "6", "members_men": "8", "lang": "en"}  # fmt: skip
    return {**base, **{k: str(v) for k, v in kw.items()}}


def _drawn(geom: shapely.Geometry) -> str:
    feature = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(geom)}
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def _apply(env: Env, files: dict[str, Any] | None = None, **kw: Any) -> Any:
    token = env.csrf("/apply?lang=en")
    return env.client.post("/apply", data={**_form(**kw), "csrf_token": token}, files=files)


def _filed(env: Env, r: Any) -> str:
    assert r.status_code == 303, r.text
    where = r.headers["location"]
    number = where.split("/my/")[1].split("?")[0]
    page = env.client.get(where)
    assert page.status_code == 200
    assert number in page.text and 'id="filed"' in page.text
    assert re.search(r'class="place">\s*1\s*<', page.text) or "Not in the queue" in page.text
    return number


def _dms(value: float) -> str:
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return f"{d}°{m}'{s:.3f}\""


def test_apply_by_drawing_shows_number_place_and_answer(env: Env) -> None:
    env.as_user(ORG)
    r = _apply(env, how="draw", drawn=_drawn(box(100, 100)))
    number = _filed(env, r)
    assert number.startswith("MN4322-")
    page = env.client.get(f"/my/{number}?lang=en").text
    assert "Eligible" in page and "Pending" in page and "days left" in page
    listing = env.client.get("/my?lang=en").text
    assert number in listing
    from layers.ledger import open_ledger

    with open_ledger(env.db, create=False) as ledger:
        assert ledger.events()[-1].actor == ORG  # the signed-in user is the actor


def test_apply_by_dms_corners(env: Env) -> None:
    env.as_user(ORG)
    ring = list(box(300, 100).exterior.coords)[:-1]
    lines = "\n".join(f"{_dms(lon)} E; {_dms(lat)} N" for lon, lat in ring)
    number = _filed(env, _apply(env, how="corners", corners=lines))
    assert env.client.get(f"/applications/{number}").json()["official_ha"] == pytest.approx(
        4.0, rel=0.02
    )


def test_apply_by_size_is_placed_by_the_engine(env: Env) -> None:
    env.as_user(ORG)
    number = _filed(env, _apply(env, how="size", requested_ha="2"))
    doc = env.client.get(f"/applications/{number}").json()
    assert doc["requested_ha"] == 2 and doc["official_ha"] == pytest.approx(2, rel=0.05)


def test_apply_by_uploaded_file(env: Env) -> None:
    env.as_user(ORG)
    body = _drawn(box(600, 100)).encode()
    r = _apply(env, how="file", files={"file": ("parcel.geojson", body, "application/geo+json")})
    _filed(env, r)


def _bowtie() -> shapely.Polygon:
    a = box(100, 500)
    x0, y0, x1, y1 = a.bounds
    return shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


HOSTILE = [
    ("corners", {"how": "corners", "corners": "106 27 30 E; 99°99' N\n1;2\n3;4"}),
    ("corners", {"how": "corners", "corners": "just words"}),
    ("drawn", {"how": "draw", "drawn": "null"}),
    ("drawn", {"how": "draw", "drawn": '{"type": "Polygon", "coordinates": [[[1e999, 0]]]}'}),
    ("drawn", {"how": "draw", "drawn": "<script>alert(1)</script>"}),
    ("drawn", {"how": "draw", "drawn": ""}),
    ("requested_ha", {"how": "size", "requested_ha": "1e9"}),
    ("requested_ha", {"how": "size", "requested_ha": "nan"}),
    ("members_women", {"how": "size", "requested_ha": "1", "members_women": "-3"}),
    ("holder", {"how": "size", "requested_ha": "1", "holder": "   "}),
    ("land_conclusion_id", {"how": "size", "requested_ha": "1", "land_conclusion_id": "LC-9"}),
    ("how", {"how": "telepathy"}),
]


@pytest.mark.parametrize(("field", "form"), HOSTILE)
def test_hostile_input_is_refused_with_the_field_named(
    env: Env, field: str, form: dict[str, str]
) -> None:
    env.as_user(ORG)
    before = env.counts()
    r = _apply(env, **form)
    assert r.status_code == 422, r.text
    assert f'id="err-{field}"' in r.text
    assert "<script>alert" not in r.text
    assert env.counts() == before  # nothing written, nothing logged


def test_geometry_refusals_name_the_field(env: Env) -> None:
    env.as_user(ORG)
    before = env.counts()
    # self-intersecting
    r = _apply(env, how="draw", drawn=_drawn(_bowtie()))
    assert r.status_code == 422 and 'id="err-drawn"' in r.text and "crosses itself" in r.text
    # outside the Land Conclusion (half of it east of LC-1)
    r = _apply(env, how="draw", drawn=_drawn(box(1900, 100)))
    assert r.status_code == 422 and "outside the chosen Land Conclusion" in r.text
    # too many vertices (the app's cap is 200)
    many = box(100, 100).buffer(0.0001, quad_segs=200)
    r = _apply(env, how="draw", drawn=_drawn(many))
    assert r.status_code == 422 and 'id="err-drawn"' in r.text and "vertices" in r.text
    # corners: self-intersecting too
    ring = list(_bowtie().exterior.coords)[:-1]
    r = _apply(env, how="corners", corners="\n".join(f"{x}; {y}" for x, y in ring))
    assert r.status_code == 422 and 'id="err-corners"' in r.text
    assert env.counts() == before


def test_a_refused_form_keeps_its_values(env: Env) -> None:
    env.as_user(ORG)
    r = _apply(env, how="corners", corners="106.1; 47.1\nbad line", holder="Шинэ хоршоо")
    assert r.status_code == 422
    assert 'value="Шинэ хоршоо"' in r.text and "bad line</textarea>" in r.text
    assert 'value="corners" id="how-corners" checked' in r.text


def test_signing_in_and_roles(env: Env) -> None:
    env.as_user(None)
    r = env.client.get("/apply")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/apply")
    env.as_user("soum")
    assert env.client.get("/apply").status_code == 403
    # a POST without the CSRF token writes nothing
    env.as_user(ORG)
    before = env.counts()
    r = env.client.post("/apply", data=_form(how="size", requested_ha="1"))
    assert r.status_code == 403 and env.counts() == before


def test_another_organisation_cannot_see_my_applications(env: Env) -> None:
    env.as_user(ORG)
    number = _filed(env, _apply(env, how="size", requested_ha="1"))
    env.as_user(OTHER)
    assert env.client.get(f"/my/{number}").status_code == 403
    assert number not in env.client.get("/my").text
    assert env.client.get(f"/my/{number}/documents/D1").status_code == 403


def _pending(env: Env) -> str:
    env.as_user(ORG)
    number = _filed(env, _apply(env, how="size", requested_ha="1"))
    env.as_user(None)
    return number


def _object(env: Env, number: str, **kw: str) -> Any:
    path = f"/applications/{number}/objection-form?lang=en"
    token = env.csrf(path)
    data = {"name": "Дорж", "reason": "Бэлчээр", "lang": "en", "csrf_token": token, **kw}
    return env.client.post(f"/applications/{number}/objection-form", data=data)


def test_anyone_objects_and_the_contact_stays_private(env: Env) -> None:
    number = _pending(env)
    secret = "dorj.secret@example.mn"
    r = _object(env, number, contact=secret)
    assert r.status_code == 303, r.text
    where = r.headers["location"]
    assert where.startswith(f"/applications/{number}?lang=en&objection={number}/O1")
    page = env.client.get(where, headers={"Accept": "text/html"})
    assert 'id="objection-filed"' in page.text and f"{number}/O1" in page.text
    assert "Бэлчээр" in page.text and secret not in page.text
    # the organisation sees it under My applications
    env.as_user(ORG)
    mine = env.client.get("/my?lang=en").text
    assert "Бэлчээр" in mine and "Дорж" in mine and secret not in mine
    env.as_user(None)
    for path in ("/register.json", "/register.csv", "/register.geojson", "/events",
                 f"/applications/{number}", f"/applications/{number}/objections", "/register",
                 f"/applications/{number}/objection-form"):  # fmt: skip
        body = env.client.get(path).text
        assert secret not in body, path
    from layers.ledger import open_ledger

    with open_ledger(env.db, create=False) as ledger:
        assert secret not in json.dumps([e.__dict__ if hasattr(e, "__dict__") else list(e)
                                         for e in ledger.events()], default=str)  # fmt: skip
        assert ledger.records("objections")[0]["contact"] == secret  # kept in the record
        filed = [e for e in ledger.events() if e.object.startswith("objections/")]
        assert [e.actor for e in filed] == ["anonymous"]
        assert ledger.verify_chain().as_dict()["ok"]


def test_objection_without_a_name_is_refused(env: Env) -> None:
    number = _pending(env)
    before = env.counts()
    r = _object(env, number, name="  ", reason="Ус")
    assert r.status_code == 422 and 'id="err-name"' in r.text
    assert ">Ус</textarea>" in r.text  # the values are kept
    r = _object(env, number, contact="not a contact <b>")
    assert r.status_code == 422 and 'id="err-contact"' in r.text and "<b>" not in r.text
    assert env.counts() == before
    # without the CSRF token
    r = env.client.post(f"/applications/{number}/objection-form",
                        data={"name": "a", "reason": "b"})  # fmt: skip
    assert r.status_code == 403 and env.counts() == before


def test_json_objection_takes_a_private_contact(env: Env) -> None:
    number = _pending(env)
    r = env.client.post(f"/applications/{number}/objections",
                        json={"name": "Бат", "reason": "Ус", "contact": "+976 9911 2233"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert "contact" not in r.json()
    assert "9911" not in env.client.get("/register.json").text


def test_objections_are_rate_limited_per_address(env: Env) -> None:
    number = _pending(env)
    for _ in range(5):
        assert _object(env, number).status_code == 303
    before = env.counts()
    r = _object(env, number)
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert 'id="err-form"' in r.text and "Too many objections" in r.text
    assert env.counts() == before


def test_objection_after_the_window_is_refused(env: Env) -> None:
    import datetime as dt

    number = _pending(env)
    token = env.csrf(f"/applications/{number}/objection-form?lang=en")
    ledger = env.client.app.state.services.allocation.ledger()  # type: ignore[attr-defined]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    ledger.clock = lambda: later
    page = env.client.get(f"/applications/{number}/objection-form?lang=en")
    assert 'id="objection-closed"' in page.text and 'id="objection-form"' not in page.text
    before = env.counts()
    r = env.client.post(f"/applications/{number}/objection-form",
                        data={"name": "a", "reason": "b", "csrf_token": token, "lang": "en"})  # fmt: skip
    assert r.status_code == 409 and 'id="err-form"' in r.text and "closed" in r.text
    assert env.counts() == before


def test_the_application_page_carries_the_objection_form(env: Env) -> None:
    number = _pending(env)
    html = {"Accept": "text/html"}
    page = env.client.get(f"/applications/{number}?lang=en", headers=html).text
    assert 'id="objection-form"' in page and 'name="csrf_token"' in page
    # a made-up objection id is not announced as recorded
    page = env.client.get(f"/applications/{number}?objection=<b>forged</b>", headers=html).text
    assert 'id="objection-filed"' not in page and "<b>forged" not in page


def test_the_header_and_home_page_lead_an_organisation_to_apply_and_my(env: Env) -> None:
    env.as_user(ORG)
    home = env.client.get("/?lang=en", headers={"Accept": "text/html"}).text
    assert 'id="home-apply"' in home and 'href="/my?lang=en"' in home
    page = env.client.get("/register?lang=en").text
    assert 'href="/apply?lang=en" id="apply-link"' in page
    assert 'href="/my?lang=en" id="desk-link"' in page
    env.as_user("soum")
    assert 'id="apply-link"' not in env.client.get("/register").text


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _upload(env: Env, number: str, kind: str, name: str, data: bytes, **kw: Any) -> Any:
    token = env.csrf(f"/my/{number}?lang=en")
    return env.client.post(
        f"/my/{number}/documents?lang=en",
        data={"kind": kind, "csrf_token": token, "lang": "en"},
        files={"file": (name, data, kw.get("media", "application/pdf"))},
        headers=kw.get("headers"),
    )


def test_documents_upload_and_the_missing_list(env: Env) -> None:
    env.as_user(ORG)
    number = _filed(env, _apply(env, how="size", requested_ha="1"))
    page = env.client.get(f"/my/{number}?lang=en").text
    assert page.count('<li data-kind="') == 3  # registration, member list, plan
    r = _upload(env, number, "member_list", "members.pdf", PDF)
    assert r.status_code == 303, r.text
    page = env.client.get(f"/my/{number}?lang=en").text
    assert page.count('<li data-kind="') == 2 and 'data-kind="member_list"' not in page
    assert "List of members · members.pdf" in page
    link = re.search(rf'href="(/my/{number}/documents/D1)"', page)
    assert link
    got = env.client.get(link.group(1))
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert "attachment" in got.headers["content-disposition"]
    # another organisation and a visitor get nothing
    env.as_user(OTHER)
    assert env.client.get(link.group(1)).status_code == 403
    env.as_user(None)
    assert env.client.get(link.group(1)).status_code == 303


def test_documents_are_checked_by_content_and_size(env: Env) -> None:
    env.as_user(ORG)
    number = _filed(env, _apply(env, how="size", requested_ha="1"))
    before = env.counts()
    # an HTML page named .pdf and declared application/pdf
    r = _upload(env, number, "registration", "cert.pdf", b"<html><script>x</script>%PDF-")
    assert r.status_code == 422 and 'id="err-doc"' in r.text and "cert.pdf" in r.text
    r = _upload(env, number, "registration", "empty.pdf", b"")
    assert r.status_code == 422 and 'id="err-doc"' in r.text
    cap = env.client.app.state.services.allocation.max_document_bytes  # type: ignore[attr-defined]
    r = _upload(env, number, "registration", "big.pdf", PDF + b"0" * cap)
    assert r.status_code == 413 and 'id="err-doc"' in r.text
    r = _upload(env, number, "passport", "p.pdf", PDF)
    assert r.status_code == 422 and 'id="err-doc"' in r.text
    # without the CSRF token
    r = env.client.post(f"/my/{number}/documents", data={"kind": "registration"},
                        files={"file": ("a.pdf", PDF, "application/pdf")})  # fmt: skip
    assert r.status_code == 403
    assert env.counts() == before
    # another organisation cannot add one
    env.as_user(OTHER)
    token = env.csrf("/my?lang=en")
    before = env.counts()
    r = env.client.post(f"/my/{number}/documents", data={"kind": "registration",
                        "csrf_token": token}, files={"file": ("a.pdf", PDF, "application/pdf")})  # fmt: skip
    assert r.status_code == 403 and env.counts() == before


def _approved(env: Env) -> tuple[str, str]:
    """An application of ORG, approved by the soum: its number and contract's parcel id."""
    import datetime as dt

    env.as_user(ORG)
    number = _filed(env, _apply(env, how="size", requested_ha="1"))
    services = env.client.app.state.services  # type: ignore[attr-defined]
    ledger = services.allocation.ledger()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=40)  # after the objection window
    ledger.clock = lambda: later
    soum = next(u for u in ledger.users() if u.name == "soum")
    decided = services.allocation.decide(number, outcome="approve", reason="OK", user=soum)
    env.as_user(ORG)  # the sessions of 40 days ago have expired
    return number, str(decided["parcel_id"])


def test_renewal_request_within_the_window(env: Env) -> None:
    import datetime as dt

    number, parcel_id = _approved(env)
    services = env.client.app.state.services  # type: ignore[attr-defined]
    ledger = services.allocation.ledger()
    page = env.client.get(f"/my/{number}?lang=en").text
    assert 'id="contract"' in page and 'id="renew-form"' not in page  # years to go
    expires = dt.date.fromisoformat(services.allocation.contract(parcel_id)["expires_on"])
    soon = dt.datetime.combine(expires - dt.timedelta(days=20), dt.time(4), tzinfo=dt.UTC)
    ledger.clock = lambda: soon
    env.as_user(ORG)
    page = env.client.get(f"/my/{number}?lang=en").text
    assert 'id="renew-form"' in page and "20 days left" in page
    token = env.csrf(f"/my/{number}?lang=en")
    # another organisation cannot ask for it
    env.as_user(OTHER)
    other = env.csrf("/my")
    r = env.client.post(f"/my/{number}/renewal", data={"csrf_token": other})
    assert r.status_code == 403
    env.as_user(ORG)
    token = env.csrf(f"/my/{number}?lang=en")
    r = env.client.post(f"/my/{number}/renewal", data={"csrf_token": token, "lang": "en"})
    assert r.status_code == 303, r.text
    page = env.client.get(r.headers["location"]).text
    assert 'id="renew-sent"' in page and 'id="renew-form"' not in page
    assert services.allocation.contract(parcel_id)["renewals"][0]["requested_by"] == ORG
    # twice: refused with the reason, nothing written
    before = env.counts()
    r = env.client.post(f"/my/{number}/renewal", data={"csrf_token": token, "lang": "en"})
    assert r.status_code == 409 and 'id="err-renew"' in r.text and "already" in r.text
    assert env.counts() == before


def test_behind_a_trusted_proxy_each_client_has_its_own_objection_limit(tmp_path: Path) -> None:
    """Behind nginx every request comes from the proxy: the limit counts the client's address
    from X-Forwarded-For (only from a trusted proxy), not the proxy's, so one client's five
    objections do not stop everyone else's."""
    from api.app import create_app
    from api.settings import ApiSettings

    db = tmp_path / "proxied.gpkg"
    tokens = make_store(db)
    app = create_app(ApiSettings(db=str(db), trusted_proxies="10.0.0.0/24"))
    with TestClient(app, client=("10.0.0.2", 50000), follow_redirects=False) as client:
        env = Env(client, db, tokens)
        number = _pending(env)
        body = {"name": "Бат", "reason": "Ус"}

        def post(address: str) -> int:
            headers = {"x-forwarded-for": address}
            url = f"/applications/{number}/objections"
            return int(client.post(url, json=body, headers=headers).status_code)

        assert [post("203.0.113.5") for _ in range(5)] == [201] * 5
        assert post("203.0.113.5") == 429
        assert post("203.0.113.6") == 201  # another client behind the same proxy
