"""Documents of an application: checked by content, size-capped, private, on both backends.

Hostile files (an HTML file named .pdf, an oversized one, a zip) are refused naming the file,
and nothing is written; another soum's official and a stranger get 403 on reading.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

import pytest

from api.errors import status_of
from api.services.access import Forbidden, Unauthorized
from api.services.allocation import AllocationService, ApplicationInput
from api.services.errors import PayloadTooLarge, Unprocessable
from geo.settings import AnalysisSettings
from layers.ledger import Ledger, User, open_ledger
from layers.store import open_store
from tests import factories as f

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
CAP = 10_000


def _zip() -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.pdf", PDF)
    return buf.getvalue()


@dataclass
class Env:
    ledger: Ledger
    service: AllocationService
    users: dict[str, User]
    number: str


@pytest.fixture
def env(store_location: str) -> Iterator[Env]:
    with open_store(store_location) as store:
        store.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion()])})
    ledger = open_ledger(store_location, clock=lambda: dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC))
    service = AllocationService(lambda: ledger, AnalysisSettings(), max_document_bytes=CAP)
    users = {}
    for name, kw in {
        "altan": {"role": "public"},
        "stranger": {"role": "public"},
        "mandal": {"role": "soum", "soum_code": "MN4322"},
        "bayangol": {"role": "soum", "soum_code": "MN4310"},
        "selenge": {"role": "aimag", "aimag_code": "MN43"},
        "mrpam": {"role": "mrpam"},
    }.items():
        users[name] = ledger.add_user(name, actor="setup", **kw)[0]  # type: ignore[arg-type]
    data = ApplicationInput(
        "LC-1", "Altan", "partnership", 3, 3, geometry=f.utm_box(500, 100, 200, 200)
    )
    number = service.apply(data, user=users["altan"])["id"]
    try:
        yield Env(ledger, service, users, number)
    finally:
        ledger.close()


def test_upload_list_read_and_the_checklist(env: Env) -> None:
    s, n = env.service, env.number
    assert [m["kind"] for m in s.missing_documents(n)] == [
        "registration", "member_list", "rehabilitation_plan"]  # fmt: skip
    doc = s.add_document(n, "registration", "Гэрчилгээ.pdf", PDF, env.users["altan"])
    assert (doc["id"], doc["media_type"], doc["size"], doc["uploaded_by"]) == (
        f"{n}/D1", "application/pdf", len(PDF), "altan")  # fmt: skip
    assert doc["sha256"] == hashlib.sha256(PDF).hexdigest() and doc["label_en"]
    s.add_document(n, "member_list", "members.png", PNG, env.users["mandal"])  # an official
    assert [m["kind"] for m in s.missing_documents(n)] == ["rehabilitation_plan"]
    listed = s.documents(n, env.users["selenge"])
    assert [(d["kind"], d["filename"], d["size"]) for d in listed] == [
        ("registration", "Гэрчилгээ.pdf", len(PDF)), ("member_list", "members.png", len(PNG))]  # fmt: skip
    data, media, name = s.document(n, f"{n}/D2", env.users["mrpam"])
    assert (data, media, name) == (PNG, "image/png", "members.png")
    # the applicant's view of the application says what is missing; the public's does not
    mine = s.application(n, user=env.users["altan"])
    assert [m["kind"] for m in mine["documents_missing"]] == ["rehabilitation_plan"]
    assert "documents" not in s.application(n) and "documents" not in s.application(
        n, user=env.users["stranger"])  # fmt: skip
    # the log has the metadata and the SHA-256, never the bytes
    events = [
        e for e in env.ledger.events() if e.object.startswith(("documents/", "document_contents/"))
    ]
    assert {e.actor for e in events} == {"altan", "mandal"}
    text = " ".join(str(e.after) for e in events)
    assert hashlib.sha256(PDF).hexdigest() in text and "JVBERi" not in text and "%PDF" not in text
    assert env.ledger.verify_chain().ok


@pytest.mark.parametrize(
    ("name", "data", "error", "words"),
    [
        (
            "plan.pdf",
            b"<!DOCTYPE html><html><script>alert(1)</script>%PDF-1.7",
            Unprocessable,
            "only PDF",
        ),
        ("big.pdf", b"%PDF-1.7\n" + b"0" * CAP, PayloadTooLarge, "at most 10000 bytes"),
        ("scan.pdf", _zip(), Unprocessable, "only PDF"),
        ("empty.png", b"", Unprocessable, "is empty"),
        ("logo.jpg", b"GIF89a" + b"\x00" * 20, Unprocessable, "only PDF"),
    ],
)
def test_hostile_files_are_refused_naming_the_file_and_nothing_is_written(
    env: Env, name: str, data: bytes, error: type[Exception], words: str
) -> None:
    before = len(env.ledger.events())
    with pytest.raises(error) as info:
        env.service.add_document(env.number, "registration", name, data, env.users["altan"])
    assert name in str(info.value) and words in str(info.value)
    assert status_of(info.value)[0] in (413, 422)  # type: ignore[arg-type]
    assert len(env.ledger.events()) == before
    assert env.ledger.records("documents") == [] and env.ledger.records("document_contents") == []


def test_only_the_applicant_and_its_soums_officials_may_read_or_add(env: Env) -> None:
    s, n = env.service, env.number
    s.add_document(n, "registration", "a.pdf", PDF, env.users["altan"])
    for who in ("stranger", "bayangol"):
        with pytest.raises(Forbidden):
            s.documents(n, env.users[who])
        with pytest.raises(Forbidden):
            s.document(n, f"{n}/D1", env.users[who])
        with pytest.raises(Forbidden):
            s.add_document(n, "member_list", "b.pdf", PDF, env.users[who])
    with pytest.raises(Forbidden):  # MRPAM reads, but adds nothing
        s.add_document(n, "member_list", "b.pdf", PDF, env.users["mrpam"])
    with pytest.raises(Unauthorized):
        s.documents(n, None)
    with pytest.raises(Unprocessable, match="Unknown document kind"):
        s.add_document(n, "passport", "b.pdf", PDF, env.users["altan"])
    assert len(env.ledger.records("documents")) == 1


def test_the_routes(env: Env, store_location: str) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiSettings

    tokens = {
        name: env.ledger.add_user(name, actor="setup", **kw)[1]  # type: ignore[arg-type]
        for name, kw in (("org", {"role": "public"}), ("soum", {"role": "soum", "soum_code": "MN4310"}),
                         ("admin", {"role": "admin"}))
    }  # fmt: skip
    app = create_app(ApiSettings(db=store_location))
    with TestClient(app) as client:
        app.state.services.ledger = env.ledger
        app.state.services.allocation.max_document_bytes = CAP
        n = env.number
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        url = f"/applications/{n}/documents"
        files = {"file": ("plan.pdf", PDF, "text/html")}  # the declared type is ignored
        assert (
            client.post(url, data={"kind": "rehabilitation_plan"}, files=files).status_code == 401
        )
        r = client.post(url, headers=admin, data={"kind": "rehabilitation_plan"}, files=files)
        assert r.status_code == 201, r.json()
        assert r.json()["media_type"] == "application/pdf"
        html = {"file": ("x.pdf", b"<html></html>", "application/pdf")}
        r = client.post(url, headers=admin, data={"kind": "registration"}, files=html)
        assert r.status_code == 422 and "x.pdf" in r.json()["description"]
        big = {"file": ("big.pdf", b"%PDF-" + b"0" * CAP, "application/pdf")}
        r = client.post(url, headers=admin, data={"kind": "registration"}, files=big)
        assert r.status_code == 413 and "big.pdf" in r.json()["description"]
        huge = {"file": ("huge.pdf", b"%PDF-" + b"0" * (CAP + 70_000), "application/pdf")}
        assert (
            client.post(url, headers=admin, data={"kind": "registration"}, files=huge).status_code
            == 413
        )
        assert client.post(url, headers=admin, data={"kind": "registration"}).status_code == 422
        listed = client.get(url, headers=admin).json()
        assert [d["filename"] for d in listed["documents"]] == ["plan.pdf"]
        assert [m["kind"] for m in listed["missing"]] == ["registration", "member_list"]
        assert client.get(url).status_code == 401
        for who in ("org", "soum"):
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            assert client.get(url, headers=headers).status_code == 403
            assert client.get(f"{url}/D1", headers=headers).status_code == 403
        r = client.get(f"{url}/D1", headers=admin)
        assert r.status_code == 200 and r.content == PDF
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"].startswith('attachment; filename="plan.pdf"')
        assert r.headers["x-content-type-options"] == "nosniff"
        assert client.get(f"{url}/D9", headers=admin).status_code == 404
        assert len(env.ledger.records("documents")) == 1
        app.state.services.ledger = None
