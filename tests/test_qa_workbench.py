"""Issue 13's QA walk-through, over HTTP on the demo's allocation record (signed in through
/login, every form with its CSRF token), in both languages:

- a refused form's field error is a sentence (a capital first, a full stop) naming its field:
  the desk's decision, the sign-in, the administrator's forms, the organisation's application;
- the Khural's approval date is bounded (not before the proposal, not in the future) by the
  input's min/max and by the server, which refuses a day outside them next to the field and
  writes nothing; once recorded, the Land Conclusion's page confirms it, as it confirms the
  submission to MRPAM;
- the pages link through: the desk's applications and contracts to their register entry (an
  anchor that exists on the register) and map, /my to the register, MRPAM's inbox to the
  review document (a PDF naming the Land Conclusion by id and name, not "#1"), the register's
  Land Conclusions to their maps;
- a renewal refused for rehabilitation says its reasons once; the draw's seed is written in
  Mongolian words; the administrator's revocation needs its confirmation (nothing revoked
  without it).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services.allocation_checks import today_of
from api.services.demo_allocation import DemoRecord, demo_allocation, demo_clock, demo_users
from api.settings import ApiSettings
from geo.settings import AnalysisSettings
from layers.labels import Lang, label, message, text
from layers.ledger import open_ledger
from tests.workbench import build_store, client_sign_in, csrf_of

LANGS: tuple[Lang, ...] = ("mn", "en")
OFFICIAL = "wb-soum"  # Mandal (MN4322)
ORG = "altan-shijir"  # the demo's organisation, with applications
#: a triangle in an empty corner of Mandal (the desk's browser story draws the same place)
OUTLINE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[106.200, 48.600], [106.204, 48.600], [106.202, 48.602], [106.200, 48.600]]
                ],
            },
        }
    ],
}


@dataclass
class Bench:
    db: Path
    app: Any
    record: DemoRecord
    today: dt.date
    passwords: dict[str, str]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    settings = AnalysisSettings()
    today = today_of(dt.datetime.now(dt.UTC), settings)
    db = build_store(tmp_path_factory.mktemp("qa"), today=today)
    clock = demo_clock()
    with open_ledger(str(db), clock=clock) as ledger:
        passwords = {name: password for name, _role, password in demo_users(ledger)}
        record = demo_allocation(ledger, clock, today=today, settings=settings)
    assert record is not None
    app = create_app(ApiSettings(db=str(db), signin_delay_s=0.0))
    yield Bench(db, app, record, today, passwords)


@contextmanager
def _client(bench: Bench, user: str | None = None) -> Iterator[TestClient]:
    """A client of the bench's app (its services started), signed in as ``user`` (a
    workbench user, or a demo user with its printed password)."""
    with TestClient(bench.app, headers={"Accept": "text/html"}) as client:  # a browser
        if user in bench.passwords:
            client_sign_in(client, user, bench.passwords[user])
        elif user is not None:
            client_sign_in(client, user)
        yield client


def _q(lang: Lang) -> str:
    return "?lang=en" if lang == "en" else ""


def _field_error(page: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', page)
    assert found, f"no #{element_id} on the page"
    return html.unescape(found.group(1)).strip()


def _is_sentence(words: str) -> bool:
    return bool(words) and words[0].isupper() and words[-1] in ".!?"


# ------------------------------------------------------------------ field errors


@pytest.mark.parametrize("lang", LANGS)
def test_field_errors_are_sentences_that_name_their_field(bench: Bench, lang: Lang) -> None:
    rec = bench.record
    with _client(bench, OFFICIAL) as client:
        page = client.get("/desk" + _q(lang)).text
        r = client.post(
            f"/desk/applications/{rec.ready}/decide",
            data={"csrf_token": csrf_of(page), "lang": lang, "outcome": "approve", "reason": ""},
        )
        assert r.status_code == 422
        said = _field_error(r.text, f"decide-{rec.ready}-reason-error")
        assert said == message(
            "desk_message", "required", lang, field=label("desk_field", "reason", lang)
        )
        assert said.startswith(label("desk_field", "reason", lang)) and _is_sentence(said)
        assert client.get(f"/applications/{rec.ready}?f=json").json()["status"] == "pending"

    with _client(bench) as visitor:  # the sign-in form
        page = visitor.get("/login" + _q(lang)).text
        r = visitor.post(
            "/login", data={"csrf_token": csrf_of(page), "lang": lang, "name": "wb-soum"}
        )
        said = _field_error(r.text, "password-error")
        assert _is_sentence(said) and said == message("signin_message", "password_empty", lang)

    with _client(bench, "wb-admin") as admin:  # a password the policy refuses
        page = admin.get("/admin" + _q(lang)).text
        r = admin.post(
            "/admin/users",
            data={"csrf_token": csrf_of(page), "lang": lang, "name": "qa-new", "role": "mrpam",
                  "password": "short"},
        )  # fmt: skip
        said = _field_error(r.text, "new-password-error")
        assert _is_sentence(said), said
        assert text("signin_password", lang).split()[0].lower() in said.lower()  # "password"

    with _client(bench, "wb-public") as org:  # the organisation's application, nothing chosen
        page = org.get("/apply" + _q(lang)).text
        r = org.post("/apply", data={"csrf_token": csrf_of(page), "lang": lang, "holder": ""})
        assert r.status_code == 422
        said = _field_error(r.text, "err-land_conclusion_id")
        assert _is_sentence(said), said
        assert said.lower().rstrip(".") == message(
            "org_message", "no_land_conclusion", lang
        ).lower().rstrip(".")


# ------------------------------------------------------------------ the Khural date


def _propose(client: TestClient, name: str) -> str:
    page = client.get("/desk/propose").text
    r = client.post(
        "/desk/propose",
        data={"csrf_token": csrf_of(page), "lang": "mn", "drawn": json.dumps(OUTLINE),
              "action": "save", "name": name, "soum": "MN4322"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text[:2000]
    found = re.search(r"lc=([^&#]+)", r.headers["location"])
    assert found
    return found.group(1)


@pytest.mark.parametrize("lang", LANGS)
def test_the_khural_date_is_bounded_on_the_page_and_the_server(bench: Bench, lang: Lang) -> None:
    today = bench.today
    with _client(bench, OFFICIAL) as client:
        lc_id = _propose(client, f"QA Khural {lang}")
        desk = client.get("/desk" + _q(lang)).text
        field = re.search(rf'<input type="date" name="approved_on" id="khural-{lc_id}-date"[^>]*>',
                          desk)  # fmt: skip
        assert field, "the desk has no Khural date for the new proposal"
        assert f'min="{today.isoformat()}"' in field.group(0), field.group(0)  # proposed today
        assert f'max="{today.isoformat()}"' in field.group(0)
        lc_page = client.get(f"/land_conclusions/{lc_id}" + _q(lang)).text
        field = re.search(rf'<input type="date" name="approved_on" id="khural-{lc_id}-date"[^>]*>',
                          lc_page)  # fmt: skip
        assert field and f'min="{today.isoformat()}"' in field.group(0)
        assert f'max="{today.isoformat()}"' in field.group(0)

        for day in (today + dt.timedelta(days=1), today - dt.timedelta(days=1)):
            r = client.post(
                f"/desk/land_conclusions/{lc_id}/khural",
                data={"csrf_token": csrf_of(desk), "lang": lang, "approved_on": day.isoformat(),
                      "next": f"/land_conclusions/{lc_id}"},
                follow_redirects=False,
            )  # fmt: skip
            assert r.status_code == 422, day
            said = _field_error(r.text, f"khural-{lc_id}-approved_on-error")
            assert said.startswith(label("desk_field", "approved_on", lang)) and _is_sentence(said)
            assert today.isoformat() in said
            assert f'value="{day.isoformat()}"' in r.text  # the value is kept
            doc = client.get(f"/land_conclusions/{lc_id}?f=json").json()
            assert doc["properties"]["status"] == "proposed"  # nothing written

        # the day itself: recorded, and the Land Conclusion's page confirms it
        r = client.post(
            f"/desk/land_conclusions/{lc_id}/khural",
            data={"csrf_token": csrf_of(desk), "lang": lang, "approved_on": today.isoformat(),
                  "next": f"/land_conclusions/{lc_id}"},
        )  # fmt: skip
        assert r.status_code == 200 and f"/land_conclusions/{lc_id}" in str(r.url)
        assert _field_error(r.text, "desk-done") == text("desk_done_khural", lang)
        assert f'action="/desk/land_conclusions/{lc_id}/submit"' in r.text
        r = client.post(
            f"/desk/land_conclusions/{lc_id}/submit",
            data={"csrf_token": csrf_of(r.text), "lang": lang,
                  "next": f"/land_conclusions/{lc_id}"},
        )  # fmt: skip
        assert _field_error(r.text, "desk-done") == text("desk_done_submitted", lang)
        doc = client.get(f"/land_conclusions/{lc_id}?f=json").json()
        assert doc["properties"]["status"] == "submitted"


# ------------------------------------------------------------------ links


def _ids(page: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page))


def _href(page: str, element_id: str) -> str:
    found = re.search(rf'<a [^>]*href="([^"]+)"[^>]*id="{re.escape(element_id)}"', page) or (
        re.search(rf'<a [^>]*id="{re.escape(element_id)}"[^>]*href="([^"]+)"', page)
    )
    assert found, f"no link #{element_id}"
    return html.unescape(found.group(1))


def _lands(client: TestClient, href: str) -> str:
    """The page a link leads to (200), checking that its #anchor exists there."""
    path, _, anchor = href.partition("#")
    r = client.get(path)
    assert r.status_code == 200, href
    if anchor:
        assert anchor in _ids(r.text), f"{href}: no #{anchor} on that page"
    return r.text


@pytest.mark.parametrize("lang", LANGS)
def test_the_pages_link_to_the_register_the_maps_and_the_review(bench: Bench, lang: Lang) -> None:
    rec = bench.record
    with _client(bench, OFFICIAL) as client:
        desk = client.get("/desk" + _q(lang)).text
        for number in (rec.objected, *rec.competing):
            entry = _href(desk, f"register-{number}")
            assert entry.startswith("/register") and entry.endswith(f"#application-{number}")
            _lands(client, entry)
            assert _href(desk, f"map-{number}").startswith("/map/land-conclusion/")
            _lands(client, _href(desk, f"map-{number}"))
        decided = [n for n in re.findall(r'id="contract-of-([^"]+)"', desk)]
        for number in decided:  # an approved application links to its contract
            _lands(client, _href(desk, f"contract-of-{number}"))
        _lands(client, _href(desk, f"register-{rec.renew_ok}"))
        _lands(client, _href(desk, f"map-{rec.renew_ok}"))
        if lang == "en":
            assert "lang=en" in _href(desk, f"register-{rec.objected}")

    with _client(bench, ORG) as org:
        mine = org.get("/my" + _q(lang)).text
        numbers = re.findall(r'id="register-([^"]+)"', mine)
        assert numbers, "no application of wb-public links to the register"
        for number in numbers:
            _lands(org, _href(mine, f"register-{number}"))
            _lands(org, _href(mine, f"map-{number}"))

    with _client(bench, "wb-mrpam") as mrpam:
        inbox = mrpam.get("/inbox" + _q(lang)).text
        href = _href(inbox, f"review-doc-{rec.inbox}")
        assert href.startswith(f"/inbox/{rec.inbox}/review.pdf")
        pdf = mrpam.get(href)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert rec.inbox in pdf.headers["content-disposition"]
        page = mrpam.get(href.replace("review.pdf", "review.html")).text
        name = mrpam.get(f"/land_conclusions/{rec.inbox}?f=json").json()["properties"]["name"]
        assert rec.inbox in page and html.escape(name, quote=False) in page
        assert "#1" not in re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
        review = mrpam.get(f"/inbox/{rec.inbox}" + _q(lang)).text
        assert _href(review, "lc-review-pdf") == href
        _lands(mrpam, _href(review, "lc-register"))
    with _client(bench, OFFICIAL) as official:
        assert official.get(href).status_code == 403  # MRPAM's document

    with _client(bench) as visitor:
        register = visitor.get("/register" + _q(lang)).text
        maps = re.findall(r'<a class="map-link" href="([^"]+)"', register)
        assert maps and all(m.startswith("/map/land-conclusion/") for m in maps)
        _lands(visitor, html.unescape(maps[0]))


# ------------------------------------------------------------------ seen but left


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_renewal_says_its_reasons_once(bench: Bench, lang: Lang) -> None:
    rec = bench.record
    with _client(bench, OFFICIAL) as client:
        desk = client.get("/desk" + _q(lang)).text
        r = client.post(
            f"/desk/contracts/{rec.renew_refused}/renew",
            data={"csrf_token": csrf_of(desk), "lang": lang, "reason": "Asked by the holder"},
        )
        assert r.status_code == 409
        said = _field_error(r.text, f"renew-{rec.renew_refused}-error")
        assert rec.refused_zone in said
        block = r.text[r.text.index(f'id="contract-{rec.renew_refused}"') :]
        block = block[: block.index("</form>")]
        assert block.count(rec.refused_zone) == 1, block  # not above the form as well
        refused = text("desk_renew", lang)  # "Сунгах" / "Renew"
        assert said.lower().count(refused.lower()) <= 1, said


def test_the_draws_seed_is_written_in_mongolian() -> None:
    for key in ("desk_seed", "field_seed", "register_draws_hint", "desk_draw_recipe"):
        words = text(key, "mn")
        assert "seed" not in words and not re.search(
            r"(?<![А-Яа-яӨөҮү])[Үү]р(?![А-Яа-яӨөҮү])", words
        )
        assert "Санамсаргүй утга" in words or "санамсаргүй утга" in words, key


@pytest.mark.parametrize("lang", LANGS)
def test_revoking_a_user_needs_its_confirmation(bench: Bench, lang: Lang) -> None:
    name = f"qa-revoke-{lang}"
    with open_ledger(str(bench.db)) as ledger:
        ledger.add_user(name, role="mrpam", actor="qa-setup")
    with _client(bench, "wb-admin") as admin:
        page = admin.get("/admin" + _q(lang)).text
        assert 'name="confirm" value="yes"' in page
        r = admin.post(f"/admin/users/{name}/revoke", data={"csrf_token": csrf_of(page),
                                                           "lang": lang})  # fmt: skip
        assert r.status_code == 422
        said = _field_error(r.text, next(i for i in _ids(r.text) if i.endswith("-error")
                                          and i.startswith("revoke-")))  # fmt: skip
        assert _is_sentence(said) and name in said
        with open_ledger(str(bench.db)) as ledger:
            assert next(u for u in ledger.users() if u.name == name).revoked_at is None
        r = admin.post(f"/admin/users/{name}/revoke", data={"csrf_token": csrf_of(page),
                                                           "lang": lang, "confirm": "yes"})  # fmt: skip
        assert r.status_code == 200 and text("admin_revoke_done", lang) in html.unescape(r.text)
        with open_ledger(str(bench.db)) as ledger:
            assert next(u for u in ledger.users() if u.name == name).revoked_at is not None


@pytest.mark.parametrize("lang", LANGS)
def test_the_proposals_review_names_it_not_hash_one(bench: Bench, lang: Lang) -> None:
    name = f"Khonkhor QA {lang}"
    with _client(bench, OFFICIAL) as client:
        page = client.get("/desk/propose" + _q(lang)).text
        data = {"csrf_token": csrf_of(page), "lang": lang, "drawn": json.dumps(OUTLINE),
                "action": "review", "soum": "MN4322"}  # fmt: skip
        unnamed = client.post("/desk/propose", data=data).text
        named = client.post("/desk/propose", data={**data, "name": name}).text
    findings = re.findall(r'<tr class="finding">.*?</tr>', unnamed, flags=re.S)
    assert any("#1" in f for f in findings)  # without a name the outline is its number
    findings = re.findall(r'<tr class="finding">.*?</tr>', named, flags=re.S)
    assert findings and not any("#1" in f for f in findings)
    assert any(name in f for f in findings)
