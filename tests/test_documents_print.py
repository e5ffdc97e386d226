"""The documents for the decision file: the review report (HTML and PDF), the printed decisions
on applications and Land Conclusions, and the review report printed by a real browser at A4."""

# ruff: noqa: F811  (the fixtures of tests.test_pages, imported)
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services.access import local_operator
from api.services.allocation import AllocationService
from api.settings import ApiSettings
from geo.settings import AnalysisSettings
from layers.dms import format_dms, parse_coordinate
from layers.ledger import GeoPackageLedger, open_ledger
from layers.store import Store
from tests import factories as f
from tests.test_pages import (  # noqa: F401  (fixtures)
    APPROVE_REASON,
    OVERLAPPING,
    REJECT_REASON,
    TODAY,
    allocated,
    client,
    proposal_geojson,
    scene,
    store,
)
from web.assets import external_refs

HOSTILE_ID = '<img src=x onerror="alert(1)">/../LC'
HOSTILE_NAME = "</script><script>alert('n')</script> & Co"


def _pages(pdf: bytes) -> int:
    """The page count of an fpdf2 (or chromium) PDF: its ``/Type /Page`` objects."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def _report(client: TestClient, fmt: str, lang: str = "mn", **props: Any) -> Any:
    doc = proposal_geojson(OVERLAPPING)
    doc["features"][0]["properties"] = props
    form = {"proposal": json.dumps(doc), "kind": "parcel", "lang": lang, "today": TODAY,
            "format": fmt, "source": "talbai.geojson"}  # fmt: skip
    r = client.post("/check/report", data=form)
    assert r.status_code == 200, r.text[:400]
    return r


def test_format_dms_round_trips_and_never_shows_60_seconds() -> None:
    cases = [(v, "lon") for v in (106.4585, 87.76, 119.94, 0.0, 105.99999999)]
    cases += [(v, "lat") for v in (47.999999999, 41.58, 52.15, -0.5)]
    for value, axis in cases:
        if True:
            text = format_dms(value, axis=axis)  # type: ignore[arg-type]
            assert "60.00″" not in text and "′60" not in text
            assert parse_coordinate(text, axis=axis) == pytest.approx(value, abs=1e-5)  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", ["mn", "en"])
def test_the_review_report_is_a_document(client: TestClient, lang: str) -> None:
    html = _report(client, "html", lang, id="NEW-7", name="Хойд ам").text
    assert external_refs(html) == []
    assert 'id="doc-subject">NEW-7 — Хойд ам<' in html
    assert ">#1<" not in html and "#1 " not in html
    # corners in decimal degrees and DMS
    corners = re.search(r'id="doc-corners">(.*?)</table>', html, re.S)
    assert corners is not None
    rows = re.findall(r"<tr><td>NEW-7[^<]*</td>(.*?)</tr>", corners.group(1))
    assert len(rows) == 4  # a rectangle: four corners, the closing one not repeated
    assert re.search(r'<td class="num">\d{3}\.\d{6}</td>', rows[0])
    assert re.search(r"<td>\d{3}°\d\d′\d\d\.\d\d″ E</td><td>\d\d°\d\d′\d\d\.\d\d″ N</td>", rows[0])
    # every overlapped feature: the two parcels (block) and the Land Conclusion (info)
    overlaps = re.search(r'id="doc-overlaps">(.*?)</table>', html, re.S)
    assert overlaps is not None and overlaps.group(1).count("<tr>") == 4
    assert "LC-1" in overlaps.group(1) and "P-1" in overlaps.group(1)
    # provenance, signature, page numbers, the map's furniture inside the frame
    assert re.search(r'id="doc-revision">r-[0-9a-f]{12}<', html)
    assert re.search(r'id="doc-log-head">\d+ · [0-9a-f]{64}<', html)
    assert 'id="doc-signed-by">' + ("Нэвтрээгүй хэрэглэгч" if lang == "mn" else "Not signed in")
    assert re.search(r'id="doc-signed-at">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\+8\)<', html)
    assert 'content: counter(page) " / " counter(pages)' in html
    assert "size: A4" in html
    assert re.search(r'<g class="map-inset">.*?<path d="M [^"]+"', html)  # the soum, whole
    assert ("Мандал" if lang == "mn" else "Mandal") in html
    for part in ('class="map-legend"', 'class="map-scale"',
                 'class="map-north"', 'class="map-inset"', "UTM 48N"):  # fmt: skip
        assert part in html, part
    assert ("Байршлын зураг" if lang == "mn" else "Location map") in html


def test_a_proposal_without_an_id_is_named_in_words(client: TestClient) -> None:
    html = _report(client, "html", "en").text
    assert "No id: talbai.geojson, feature 1" in html
    assert ">#1<" not in html and "#1 " not in html and "#1;" not in html
    mn = _report(client, "html", "mn").text
    assert "Дугааргүй талбай. Эх сурвалж: talbai.geojson; дэс дугаар: 1" in mn


def test_the_review_pdf_has_numbered_pages_and_a_file_name(client: TestClient) -> None:
    r = _report(client, "pdf", "en", id="NEW-7")
    assert r.content.startswith(b"%PDF-")
    day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    assert r.headers["content-disposition"] == f'attachment; filename="review-NEW-7-{day}.pdf"'
    pages = _pages(r.content)
    assert pages >= 2
    assert b"{nb}" not in r.content  # the page-count alias was replaced


def test_hostile_names_are_escaped_and_the_file_name_sanitised(client: TestClient) -> None:
    html = _report(client, "html", "en", id=HOSTILE_ID, name=HOSTILE_NAME).text
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=" in html and "&lt;/script&gt;&lt;script&gt;" in html
    r = _report(client, "pdf", "en", id=HOSTILE_ID, name=HOSTILE_NAME)
    name = r.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="review-[A-Za-z0-9._-]+-\d{4}-\d\d-\d\d\.pdf"', name)
    assert "/" not in name.split("filename=")[1].strip('"')


# ------------------------------------------------------------------------------- decisions


def test_an_approval_and_a_rejection_print(
    allocated: tuple[TestClient, GeoPackageLedger, dict[str, str]],
) -> None:
    client, ledger, ids = allocated
    head = ledger.verify_chain()
    html = client.get(f"/applications/{ids['free']}/decision.html?lang=en").text
    assert "Approved" in html and APPROVE_REASON in html and "Хөх толгой нөхөрлөл" in html
    assert f"CP-{ids['free']}" in html and "Contract term" in html
    assert re.search(r"\d{4}-\d\d-\d\d — \d{4}-\d\d-\d\d", html)  # the contract's term
    assert f"{head.head_seq} · {head.head_hash}" in html
    assert 'id="doc-signed-by">Засаг дарга<' in html
    assert "(UTC+8)" in html and "LC-1 — Мандал - Баруун ам" in html
    assert "°" in html and "″ E" in html
    r = client.get(f"/applications/{ids['free']}/decision.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF-") and _pages(r.content) >= 1
    assert re.fullmatch(rf'attachment; filename="decision-{ids["free"]}-\d{{4}}-\d\d-\d\d\.pdf"',
                        r.headers["content-disposition"])  # fmt: skip
    mn = client.get(f"/applications/{ids['over']}/decision.html").text
    assert "Татгалзсан" in mn and REJECT_REASON in mn and "Гэрээний дугаар" not in mn
    assert client.get(f"/applications/{ids['over']}/decision.pdf").content.startswith(b"%PDF-")
    # no decision yet, or no such application: 404
    assert client.get(f"/applications/{ids['first']}/decision.pdf").status_code == 404
    assert client.get("/applications/NOPE/decision.html").status_code == 404


@pytest.fixture
def issued(scene: Store) -> Iterator[TestClient]:
    """LC-3 submitted, then reviewed and issued by MRPAM through the service."""
    scene.write({"land_conclusions": f.frame("land_conclusions", [f.land_conclusion(
        "LC-3", status="submitted", name=HOSTILE_NAME, decided_on=None, valid_until=None,
        decision_ref=None, geometry=f.utm_box(3000, 2000, 1000, 800))])})  # fmt: skip
    ledger = open_ledger(scene.location, create=False)
    service = AllocationService(lambda: ledger, AnalysisSettings())
    mrpam = local_operator("Б. Цэцэг")
    service.review_land_conclusion("LC-3", status="under_review", decision_ref=None, user=mrpam)
    service.review_land_conclusion("LC-3", status="issued", decision_ref="АМГТГ-2026/42",
                                   valid_until=dt.date(2031, 6, 30), user=mrpam)  # fmt: skip
    ledger.close()
    with TestClient(create_app(ApiSettings(db=scene.location))) as c:
        yield c


def test_an_issued_land_conclusion_prints(issued: TestClient) -> None:
    html = issued.get("/land_conclusions/LC-3/decision.html?lang=en").text
    assert "АМГТГ-2026/42" in html and "2031-06-30" in html and "Issued" in html
    assert 'id="doc-signed-by">Б. Цэцэг<' in html
    assert "<script>alert" not in html and "&lt;/script&gt;" in html
    r = issued.get("/land_conclusions/LC-3/decision.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")
    assert re.fullmatch(r'attachment; filename="land-conclusion-LC-3-\d{4}-\d\d-\d\d\.pdf"',
                        r.headers["content-disposition"])  # fmt: skip
    rejected = issued.get("/land_conclusions/LC-2/decision.html?lang=en").text
    assert "Rejected" in rejected and "Valid until" not in rejected
    assert issued.get("/land_conclusions/LC-9/decision.pdf").status_code == 404


# --------------------------------------------------------------------------- printed at A4


SHOTS = Path("/tmp/shots-report")


def test_the_report_prints_at_a4_with_its_map_and_page_numbers(
    client: TestClient, browser: Any
) -> None:
    html = _report(client, "html", "en", id="NEW-7", name="North gully").text
    SHOTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport={"width": 794, "height": 1123})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: errors.append(r.url) if not r.url.startswith(
            ("data:", "about:")) else None)  # fmt: skip
        page.set_content(html)
        page.emulate_media(media="print")
        page.screenshot(path=str(SHOTS / "report-print.png"), full_page=True)
        pdf = page.pdf(format="A4", print_background=True, path=str(SHOTS / "report.pdf"))
        box = page.locator("svg.doc-map").bounding_box()
    finally:
        ctx.close()
    assert errors == []
    assert pdf.startswith(b"%PDF-") and _pages(pdf) >= 2
    assert box is not None and box["width"] <= 794  # the map fits the A4 page
