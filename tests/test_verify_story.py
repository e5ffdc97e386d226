"""Issue 17's last test: a full workbench story, driven through the pages by signed-in users,
publishes feeds that verify cleanly on both backends.

The store is built from the test factories (the demo's feeds verify too: see
``tests/test_browser_verify.py``), so that every record is made through the pages. An organisation applies on
``/apply``; a visitor objects with a private contact; the soum official approves on ``/desk``
after the objection window; a competing pair goes through a draw (announced, run, the winner
approved); the contract's renewal is asked for on ``/my`` and granted on the desk; MRPAM issues
a submitted Land Conclusion from ``/inbox``. Then ``register.json`` and every page of
``log.jsonl`` (following ``Link``) are downloaded with the TestClient, and the verifier
(:func:`layers.verify.verify`, the one ``gazar verify`` runs) finds them consistent, with the
users as the log's actors and no private value in the feed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from layers.ledger import Ledger, open_ledger
from layers.store import open_store
from layers.verify import folder_source, verify
from tests import factories as f
from tests.factories import Clock
from tests.workbench import client_sign_in, csrf_of

T0 = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)
PASSWORD = "Steppe-Gold-2026-story"
CONTACT = "dorj.private@example.mn"
#: name -> role and scope: one user per role (two organisations, for the draw)
USERS: dict[str, dict[str, str]] = {
    "altan": {"role": "public"},
    "mongon": {"role": "public"},
    "mandal": {"role": "soum", "soum_code": "MN4322"},
    "selenge": {"role": "aimag", "aimag_code": "MN43"},
    "mrpam": {"role": "mrpam"},
    "root": {"role": "admin"},
}


@dataclass
class Story:
    client: TestClient
    ledger: Ledger
    clock: Clock
    cookies: set[str] = field(default_factory=set)  # every session cookie the story held

    def sign_in(self, name: str) -> None:
        client_sign_in(self.client, name, PASSWORD)
        self.cookies.update(v for v in self.client.cookies.values() if v)

    def csrf(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[-400:])
        return csrf_of(page.text)

    def post(self, path: str, form: str, **data: str) -> str:
        """POST ``data`` with the CSRF token of the page ``form``; the redirect's target."""
        answer = self.client.post(path, data={"csrf_token": self.csrf(form), **data})
        assert answer.status_code == 303, (path, answer.status_code, answer.text[-800:])
        return str(answer.headers["location"])


@pytest.fixture
def story(store_location: str) -> Iterator[Story]:
    from api.app import create_app
    from api.settings import ApiSettings

    submitted = f.land_conclusion(
        "LC-2", status="submitted", decided_on=None, valid_until=None, decision_ref=None,
        geometry=f.utm_box(4000, 0, 2000, 1000),
    )  # fmt: skip
    with open_store(store_location) as store:
        store.write(
            f.frames(
                {
                    "soums": [f.soum()],
                    "land_conclusions": [
                        f.land_conclusion("LC-1", valid_until=dt.date(2035, 9, 20)),
                        submitted,
                    ],
                }
            )
        )
    clock = Clock(T0)
    ledger = open_ledger(store_location, clock=clock)
    for name, kw in USERS.items():
        ledger.add_user(name, actor="setup", **kw)  # type: ignore[arg-type]
        ledger.set_password(name, PASSWORD, actor="setup")
    app = create_app(ApiSettings(db=store_location, signin_delay_s=0.0))
    with TestClient(app, follow_redirects=False) as client:
        services = app.state.services
        if services.ledger is not None:
            services.ledger.close()
        services.ledger = ledger  # every service reads it: the story's one clock
        try:
            yield Story(client, ledger, clock)
        finally:
            app.state.services.ledger = None
            ledger.close()


def _drawn(geom: shapely.Geometry) -> str:
    feature = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(geom)}
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def _apply(s: Story, org: str, geom: shapely.Geometry) -> str:
    s.sign_in(org)
    where = s.post(
        "/apply", "/apply?lang=en", land_conclusion_id="LC-1", holder=f"{org} khorshoo",
        holder_type="cooperative", members_women="6", members_men="8", lang="en",
        how="draw", drawn=_drawn(geom),
    )  # fmt: skip
    return where.split("/my/")[1].split("?")[0]


def _tell(s: Story) -> None:
    """The whole story, each step by its user through the pages."""
    a = _apply(s, "altan", f.utm_box(100, 100, 200, 200))
    b = _apply(s, "mongon", f.utm_box(1000, 100, 200, 200))
    c = _apply(s, "altan", f.utm_box(1050, 100, 200, 200))  # competes with b
    # a visitor objects to a, with a private contact
    s.client.cookies.clear()
    s.post(f"/applications/{a}/objection-form", f"/applications/{a}/objection-form?lang=en",
           name="Dorj", reason="my winter camp", contact=CONTACT, lang="en")  # fmt: skip
    # after the objection window: the soum official approves a and announces the pair's draw
    s.clock.advance(days=30)
    s.sign_in("mandal")
    s.post(f"/desk/applications/{a}/decide", "/desk", outcome="approve",
           reason="The camp is 2 km away; meets every rule")  # fmt: skip
    day = (s.clock.now + dt.timedelta(days=1)).date().isoformat()
    s.post("/desk/draws", "/desk", application=b, draw_date=day, public_value="48213")
    draw = s.ledger.records("draws")[0]["id"]
    s.clock.advance(days=2)
    s.sign_in("mandal")
    s.post(f"/desk/draws/{draw}/run", "/desk")
    winner = json.loads(s.ledger.records("draws")[0]["result"])[0]
    assert winner in (b, c)
    s.post(f"/desk/applications/{winner}/decide", "/desk", outcome="approve",
           reason="Won the draw")  # fmt: skip
    # twenty days before a's contract ends: altan asks for its renewal, the official grants it
    decision = next(r for r in s.ledger.records("decisions") if r["application_id"] == a)
    parcel = str(decision["parcel_id"])
    s.clock.now = dt.datetime.combine(
        dt.date.fromisoformat(str(decision["expires_on"])[:10]) - dt.timedelta(days=20),
        dt.time(2), tzinfo=dt.UTC,
    )  # fmt: skip
    s.sign_in("altan")
    s.post(f"/my/{a}/renewal", f"/my/{a}?lang=en", lang="en")
    s.sign_in("mandal")
    s.post(f"/desk/contracts/{parcel}/renew", "/desk", reason="Rehabilitation on schedule")
    # MRPAM takes the submitted Land Conclusion and issues it
    s.sign_in("mrpam")
    s.post("/inbox/LC-2/start", "/inbox/LC-2?lang=en", lang="en")
    s.post("/inbox/LC-2/issue", "/inbox/LC-2?lang=en", lang="en",
           decision_ref="MRPAM-2029/31", valid_until="2034-06-30")  # fmt: skip
    s.client.cookies.clear()


def _download(s: Story, folder: Path) -> Path:
    """``register.json`` first, then every page of ``log.jsonl`` by its ``Link``: the copies
    named as their URLs."""
    folder.mkdir()
    register = s.client.get("/register.json")
    assert register.status_code == 200
    (folder / "register.json").write_bytes(register.content)
    body, url, pages = b"", "/log.jsonl?limit=25", 0
    while url:
        page = s.client.get(url)
        assert page.status_code == 200 and page.headers["content-type"].startswith(
            "application/jsonl"
        )
        body += page.content
        pages += 1
        link = re.match(r'<([^>]+)>;\s*rel="next"', page.headers.get("link", ""))
        url = link.group(1).removeprefix(str(s.client.base_url)) if link else ""
    assert pages > 1  # the story's log spans pages
    (folder / "log.jsonl").write_bytes(body)
    return folder


def test_a_workbench_story_verifies_cleanly(story: Story, tmp_path: Path) -> None:
    from api.cli import app as cli

    _tell(story)
    folder = _download(story, tmp_path / "feeds")
    report = verify(folder_source(folder))
    assert report.ok, report.finding and report.finding.english()
    assert report.checks["draws"] == 1 and report.checks["decisions"] == 2
    assert report.checks["contracts"] == 2
    head = story.client.get("/log/head").json()
    assert report.head == {"seq": head["seq"], "hash": head["hash"]}
    assert verify(folder_source(folder), head=f"{head['seq']}:{head['hash']}").ok

    lines = [json.loads(x) for x in (folder / "log.jsonl").read_text("utf-8").splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    roles = {x["actor"]: x["role"] for x in lines}
    for name in ("altan", "mongon", "mandal", "mrpam"):
        assert roles.get(name) == USERS[name]["role"], (name, sorted(roles))
    assert roles.get("anonymous") == "anonymous"  # the visitor's objection
    # no private value in the feed: the contact, the password, its hash, the sessions
    feed = (folder / "log.jsonl").read_text("utf-8")
    assert CONTACT not in feed and CONTACT not in (folder / "register.json").read_text("utf-8")
    assert PASSWORD not in feed and "$argon2" not in feed
    assert story.cookies and not [c for c in story.cookies if c in feed]
    users = [
        (r, ("salt", "token_hash", "password_hash")) for r in story.ledger.records("gazar_users")
    ]
    sessions = [(r, ("id", "csrf")) for r in story.ledger.operational_rows("gazar_sessions")]
    secrets = [str(row[key]) for row, keys in users + sessions for key in keys if row.get(key)]
    assert len(secrets) > len(USERS)  # the users' salts and hashes, the sessions' ids and tokens
    assert [x for x in secrets if x in feed] == []

    # gazar verify over the downloaded copies; a changed reason is named
    runner = CliRunner()
    result = runner.invoke(cli, ["verify", str(folder)])
    assert result.exit_code == 0, result.output
    doc = json.loads((folder / "register.json").read_bytes())
    changed = doc["decisions"][0]
    changed["reason"] = "A nicer reason"
    (folder / "register.json").write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(cli, ["verify", str(folder)])
    assert result.exit_code == 1
    assert changed["id"] in result.output and "reason" in result.output
