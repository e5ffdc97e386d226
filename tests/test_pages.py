"""The web pages through the app (TestClient): every page, both languages, /check and reports."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from api.app import create_app
from api.services.access import local_operator
from api.services.allocation import AllocationService, ApplicationInput
from api.settings import ApiSettings, load_settings
from geo.settings import AnalysisSettings
from layers.ledger import GeoPackageLedger, open_ledger
from layers.store import Store, open_store
from tests import factories as f
from tests.factories import Clock
from tests.test_maps import scene_layers
from web.assets import external_refs

TODAY = "2026-06-30"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A GeoPackage store: the pages read the store through the interface, so one backend is
    enough here (the store's own tests cover both)."""
    with open_store(tmp_path / "pages.gpkg") as s:
        yield s


@pytest.fixture
def scene(store: Store) -> Store:
    """One soum with an issued LC holding two active parcels that overlap by 2 ha, an applied
    parcel, a rehab zone, an exclusion and a licence; a second soum with a rejected LC."""
    layers = scene_layers()
    layers["land_conclusions"] = f.frame("land_conclusions", [
        f.land_conclusion(),
        f.land_conclusion("LC-2", soum_code="MN4310", status="rejected",
                          name="Баянгол - Хойд", geometry=f.utm_box(21000, 1000, 500, 500)),
    ])  # fmt: skip
    store.write(layers)
    return store


@pytest.fixture
def client(scene: Store) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings(db=scene.location))) as c:
        yield c


def page(client: TestClient, url: str, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    assert external_refs(r.text) == [], url
    return r.text


def proposal_geojson(*boxes: tuple[float, float, float, float]) -> dict[str, Any]:
    feats = [
        {"type": "Feature", "properties": {"id": f"NEW-{i + 1}"},
         "geometry": json.loads(gpd.GeoSeries([f.utm_box(*b)], crs=4326).to_json())["features"][0]["geometry"]}
        for i, b in enumerate(boxes)
    ]  # fmt: skip
    return {"type": "FeatureCollection", "features": feats}


#: 100 m x 100 m across P-1 (0.5 ha) and P-2 (1 ha)
OVERLAPPING = (250.0, 150.0, 100.0, 100.0)
#: inside the LC, touching nothing
FREE = (1500.0, 600.0, 100.0, 100.0)


# --------------------------------------------------------------------------- every page


@pytest.mark.parametrize(
    "url",
    ["/map", "/map/soum/MN4322", "/map/land-conclusion/LC-1", "/check", "/availability",
     "/register"],
)  # fmt: skip
def test_every_page_is_mongolian_by_default_and_english_on_request(
    client: TestClient, url: str
) -> None:
    mn = page(client, url)
    en = page(client, url + "?lang=en")
    assert '<html lang="mn">' in mn and '<html lang="en">' in en
    assert ">Газрын зураг</a>" in mn and ">Map</a>" in en
    # the switch leads to the other language on the same page
    assert f'href="{url}?lang=en"' in mn
    assert f'href="{url}"' in en


def test_the_map_page_loads_leaflet_from_static(client: TestClient) -> None:
    html = page(client, "/map?today=" + TODAY)
    for src in re.findall(r'<script src="([^"]+)"', html) + re.findall(
        r'<link rel="stylesheet" href="([^"]+)"', html
    ):
        assert src.startswith("/static/")
        r = client.get(src)
        assert r.status_code == 200, src
        assert len(r.content) > 100
    assert "gazar.layer(" in html and "gazar.setup(" in html
    # the layer switcher's names (written as JSON by folium)
    assert json.dumps("Гэрээт талбай (3)") in html
    assert json.dumps("Давхцал (1)") in html  # P-1 x P-2


def test_static_refuses_paths_outside_its_folders(client: TestClient) -> None:
    assert client.get("/static/vendor/leaflet/leaflet.css").status_code == 200
    assert (
        client.get("/static/vendor/leaflet/images/layers.png")
        .headers["content-type"]
        .startswith("image/png")
    )
    assert client.get("/static/vendor/leaflet/..%2F..%2Fpackage.json").status_code == 404
    assert client.get("/static/gazar/nothing.js").status_code == 404


def test_unknown_soum_and_land_conclusion_are_404_pages(client: TestClient) -> None:
    html = page(client, "/map/soum/MN0000", status=404)
    assert "MN0000" in html and "Олдсонгүй" in html
    html = page(client, "/map/land-conclusion/LC-404?lang=en", status=404)
    assert "LC-404" in html and "Not found" in html


def test_a_bad_date_is_refused(client: TestClient) -> None:
    assert client.get("/map?today=yesterday").status_code == 400


# --------------------------------------------------------------------------- check


def test_check_an_uploaded_geojson_shows_conflicts_findings_and_overlaps(
    client: TestClient,
) -> None:
    body = json.dumps(proposal_geojson(OVERLAPPING)).encode()
    r = client.post(
        "/check",
        data={"kind": "parcel", "lang": "en", "today": TODAY},
        files={"file": ("proposal.geojson", body, "application/geo+json")},
    )
    assert r.status_code == 200, r.text[:500]
    assert 'data-verdict="conflicts"' in r.text
    rows = re.findall(r'<tr class="finding">(.*?)</tr>', r.text, re.S)
    assert len(rows) == 2
    assert any("P-1" in row and "0.50" in row for row in rows)
    assert any("P-2" in row and "1.00" in row for row in rows)
    assert json.dumps("Overlaps (3)") in r.text  # on the map: P-1, P-2 (red) and LC-1 (info)
    listed = re.findall(r'<tr class="overlap" data-severity="(\w+)">(.*?)</tr>', r.text, re.S)
    assert [(sev, "LC-1" in row) for sev, row in listed] == [
        ("block", False), ("block", False), ("info", True)
    ]  # fmt: skip
    assert 'name="proposal"' in r.text  # the report buttons carry the proposal


def test_check_a_drawn_polygon_that_is_clear(client: TestClient) -> None:
    drawn = json.dumps(proposal_geojson(FREE))
    r = client.post("/check", data={"drawn": drawn, "kind": "parcel", "today": TODAY})
    assert r.status_code == 200
    assert 'data-verdict="clear"' in r.text
    assert "Зөрчил илрээгүй." in r.text


def test_check_names_a_feature_it_cannot_use_in_the_page_language(client: TestClient) -> None:
    doc = proposal_geojson(FREE)
    doc["features"].append(
        {"type": "Feature", "properties": {"id": "PIN"},
         "geometry": {"type": "Point", "coordinates": [106.5, 48.8]}}
    )  # fmt: skip
    for lang, reason in (
        ("mn", "Point нь олон өнцөгт биш"),
        ("en", "a Point is not a polygon"),
    ):
        r = client.post(
            "/check",
            data={"drawn": json.dumps(doc), "kind": "parcel", "today": TODAY, "lang": lang},
        )
        assert r.status_code == 200, r.text[:500]
        assert 'data-verdict="invalid"' in r.text
        assert f"#1 (PIN): {reason}" in r.text


def _zipped_shapefile(tmp_path: Path, frame: gpd.GeoDataFrame) -> bytes:
    frame.to_file(tmp_path / "p.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for part in tmp_path.glob("p.*"):
            z.write(part, part.name)
    return buf.getvalue()


def test_check_reads_kml_zipped_shapefiles_and_corner_lists(
    client: TestClient, tmp_path: Path
) -> None:
    frame = gpd.GeoDataFrame.from_features(proposal_geojson(OVERLAPPING), crs=4326)
    frame.to_file(tmp_path / "p.kml", driver="KML")
    corners = "id,order,lon,lat\n" + "".join(
        f"NEW-1,{i},{x:.8f},{y:.8f}\n"
        for i, (x, y) in enumerate(frame.geometry.iloc[0].exterior.coords[:-1])
    )
    uploads = {
        "p.kml": (tmp_path / "p.kml").read_bytes(),
        "p.zip": _zipped_shapefile(tmp_path, frame),
        "corners.csv": corners.encode(),
    }
    for name, data in uploads.items():
        r = client.post(
            "/check", data={"kind": "parcel", "today": TODAY}, files={"file": (name, data)}
        )
        assert r.status_code == 200, (name, r.text[:800])
        assert 'data-verdict="conflicts"' in r.text, name
        assert len(re.findall(r'<tr class="finding">', r.text)) == 2, name


def test_check_explains_an_unreadable_file_or_nothing_sent(client: TestClient) -> None:
    r = client.post("/check", data={"lang": "en"}, files={"file": ("notes.txt", b"hello")})
    assert r.status_code == 422
    assert "notes.txt" in r.text and "unknown file type" in r.text
    assert "/tmp" not in r.text  # the temporary path is not shown
    r = client.post("/check", data={"lang": "en"})
    assert r.status_code == 422
    assert "No file was uploaded and no polygon was drawn." in r.text


def test_check_refuses_a_file_over_the_size_cap(scene: Store) -> None:
    app = create_app(ApiSettings(db=scene.location, max_body_bytes=2000))
    with TestClient(app) as c:
        big = json.dumps(proposal_geojson(*([OVERLAPPING] * 30))).encode()
        r = c.post("/check", files={"file": ("big.geojson", big)})
    assert r.status_code == 413
    assert "GAZAR_MAX_BODY_BYTES" in r.text


def test_the_report_is_a_printable_page_and_a_pdf(client: TestClient) -> None:
    form = {
        "proposal": json.dumps(proposal_geojson(OVERLAPPING)),
        "kind": "parcel",
        "lang": "mn",
        "today": TODAY,
    }
    r = client.post("/check/report", data=form | {"format": "html"})
    assert r.status_code == 200
    assert 'data-verdict="conflicts"' in r.text
    assert "Хяналтын тайлан" in r.text
    # the map: the proposal (a fill and its outline) and its two overlaps, in red
    assert r.text.count('<path class="map-subject"') == 2
    assert r.text.count('<path class="map-overlap"') == 2
    assert external_refs(r.text) == []
    r = client.post("/check/report", data=form | {"format": "pdf"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith('attachment; filename="review-NEW-1-')
    assert r.content.startswith(b"%PDF-")
    assert re.search(rb"/BaseFont /\w+\+DejaVuSans", r.content)  # Cyrillic font embedded
    assert client.get("/check/report", follow_redirects=False).headers["location"] == "/check"


# --------------------------------------------------------------------------- availability


def test_availability_lists_the_free_hectares_per_soum_and_land_conclusion(
    client: TestClient,
) -> None:
    from geo.availability import availability

    html = page(client, f"/availability?lang=en&today={TODAY}")
    by_lc = re.search(r'<table class="data" id="by-lc">(.*?)</table>', html, re.S)
    assert by_lc is not None
    rows = re.findall(r"<tr><td>(.*?)</tr>", by_lc.group(1), re.S)
    assert len(rows) == 1  # LC-2 is rejected: not in force
    assert "LC-1" in rows[0]
    # the page shows what geo.availability computes for the same store and day
    with TestClient(create_app(ApiSettings(db=client.app.state.settings.db))) as c:  # type: ignore[attr-defined]
        store = c.app.state.services.store  # type: ignore[attr-defined]
        frame = availability(
            store.read("land_conclusions"), store.read("contract_parcels"),
            store.read("rehab_zones"), store.read("exclusions"), store.read("licences"),
            today=dt.date.fromisoformat(TODAY),
        )  # fmt: skip
    free = f"{frame['available_ha'].iloc[0]:,.2f}".replace(",", " ")
    assert f'<td class="num">{free}</td>' in rows[0]
    assert json.dumps("Available land (1)") in html


# --------------------------------------------------------------------------- register


def test_the_register_lists_statuses_and_dates_in_both_languages(client: TestClient) -> None:
    mn = page(client, "/register")
    assert "Олгосон" in mn and "Татгалзсан" in mn  # issued, rejected
    assert "Хүчинтэй" in mn and "Өргөдөл гаргасан" in mn  # active, applied
    assert "2024-09-20" in mn  # LC-1 decided_on
    assert "Шинэ од хоршоо" in mn
    assert "3 / 4" in mn  # members women / men
    en = page(client, "/register?lang=en&soum=MN4310")
    lcs = re.search(r'id="register-lcs">(.*?)</table>', en, re.S)
    assert lcs is not None
    assert "Rejected" in lcs.group(1) and "LC-1" not in lcs.group(1)
    assert 'id="register-contracts"' not in en  # no contract in MN4310
    assert "Nothing registered." in en


# ------------------------------------------------------------- register: the allocation record

#: applications filed at 10:00 in Ulaanbaatar; the register is read on T_VIEW, when the
#: contracts of the scene (expiring 2027-02-01) are within the 60-day window
T_FILE = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
T_VIEW = dt.datetime(2027, 1, 20, 2, 0, tzinfo=dt.UTC)
REJECT_REASON = "Идэвхтэй гэрээт талбайтай давхцаж байна"
APPROVE_REASON = "Шаардлага хангасан, гомдол үндэслэлгүй"
OBJECTION = "Бэлчээрийн худаг талбай дотор байна"
PUBLIC_VALUE = "73519"


@pytest.fixture
def allocated(scene: Store) -> Iterator[tuple[TestClient, GeoPackageLedger, dict[str, str]]]:
    """The scene after the allocation process, run through :class:`AllocationService`: a free
    application (objected to, then approved), two competing ones (drawn), and one over P-1
    (ineligible, then rejected); the app reads the register through this ledger."""
    clock = Clock(T_FILE)
    ledger = open_ledger(scene.location, create=False, clock=clock)
    assert isinstance(ledger, GeoPackageLedger)
    admin = local_operator("Засаг дарга")
    service = AllocationService(lambda: ledger, AnalysisSettings())

    def apply(holder: str, box: tuple[float, float, float, float]) -> dict[str, Any]:
        data = ApplicationInput("LC-1", holder, "partnership", 3, 3, geometry=f.utm_box(*box))
        return service.apply(data, user=admin)

    free = apply("Хөх толгой нөхөрлөл", FREE)
    pair = [apply("Нэгдүгээр нөхөрлөл", (500, 600, 100, 100)),
            apply("Хоёрдугаар нөхөрлөл", (550, 600, 100, 100))]  # fmt: skip
    over = apply("Давхар нөхөрлөл", OVERLAPPING)
    assert free["status"] == "pending" and over["status"] == "ineligible"
    clock.now = T_FILE + dt.timedelta(days=1)
    service.object_to(free["id"], name="Б. Болд", reason=OBJECTION, user=admin)
    draw = service.announce_draw(
        pair[0]["id"], draw_date=(T_FILE + dt.timedelta(days=2)).date(),
        public_value=PUBLIC_VALUE, user=admin,
    )  # fmt: skip
    service.decide(over["id"], outcome="reject", reason=REJECT_REASON, user=admin)
    clock.now = T_FILE + dt.timedelta(days=2)
    service.run_draw(draw["id"], user=admin)
    clock.now = T_FILE + dt.timedelta(days=30)  # the objection window has closed
    service.decide(free["id"], outcome="approve", reason=APPROVE_REASON, user=admin)
    clock.now = T_VIEW
    ids = {"free": free["id"], "first": pair[0]["id"], "second": pair[1]["id"],
           "over": over["id"], "draw": draw["id"]}  # fmt: skip
    app = create_app(ApiSettings(db=scene.location))
    with TestClient(app) as c:
        app.state.services.ledger = ledger
        yield c, ledger, ids
    ledger.close()


def _section(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(.*?)</table>', html, re.S)
    assert found is not None, element_id
    return found.group(1)


def test_the_register_shows_the_allocation_record_in_both_languages(
    allocated: tuple[TestClient, GeoPackageLedger, dict[str, str]],
) -> None:
    client, ledger, ids = allocated
    feed = client.get("/register.json").json()
    mn, en = page(client, "/register"), page(client, "/register?lang=en")
    for html, lang in ((mn, "mn"), (en, "en")):
        # the queue of LC-1: each application with its place, server time and reasons
        queue = re.findall(r'data-land-conclusion="LC-1">(.*?)</table>', html, re.S)
        assert len(queue) == 1
        for q in feed["queue"]:
            row = re.search(rf'id="application-{q["id"]}">(.*?)</tr>', queue[0], re.S)
            assert row is not None, q["id"]
            assert f">{q['id']}</a></td>" in row.group(1)  # linked to its page
            # the server time in Mongolia's time, without seconds
            assert q["filed_at"].startswith("2026-12-01T02:00")
            assert '<td class="mono">2026-12-01 10:00</td>' in row.group(1)
            assert f'<td class="num">{q["place"]}</td>' in row.group(1)
            assert q["objection_until"] == "2026-12-22"
            assert "2026-12-22 (" + ("хаагдсан" if lang == "mn" else "closed") in row.group(1)
            for r in q["reasons"]:
                assert str(escape(r[f"message_{lang}"])) in row.group(1)
        over = re.search(rf'id="application-{ids["over"]}">(.*?)</tr>', queue[0], re.S)
        assert over is not None and "P-1" in over.group(1)  # the overlap with P-1 is the reason
        free = re.search(rf'id="application-{ids["free"]}">(.*?)</tr>', queue[0], re.S)
        assert free is not None
        assert ("Шаардлага хангасан" if lang == "mn" else "Eligible") in free.group(1)
        assert free.group(1).rstrip().endswith('<td class="num">1</td>')  # one objection
        # the two competing applications name each other (the first filed knew of none)
        first = re.search(rf'id="application-{ids["first"]}">(.*?)</tr>', queue[0], re.S)
        assert first is not None
        now = "Одоо өрсөлдөж буй өргөдөл" if lang == "mn" else "Competing now with"
        assert f"{now} (" in first.group(1) and f"#application-{ids['second']}" in first.group(1)
        # decisions with their written reasons, who and when
        decisions = _section(html, "register-decisions")
        assert str(escape(REJECT_REASON)) in decisions and str(escape(APPROVE_REASON)) in decisions
        assert ("Татгалзсан" if lang == "mn" else "Rejected") in decisions
        assert ("Зөвшөөрсөн" if lang == "mn" else "Approved") in decisions
        # who decided is named by office, never by account name; the time is local
        assert "Засаг дарга" not in decisions and "2026-12-31 10:00" in decisions
        assert f"CP-{ids['free']}" in decisions
        # the objection
        objections = _section(html, "register-objections")
        assert OBJECTION in objections and "Б. Болд" in objections and ids["free"] in objections
        # the draw: public value, the input it hashes, the seed, the order and how to verify
        draws = _section(html, "register-draws")
        expected_input = "\n".join(
            ["gazar-draw-v1", *sorted([ids["first"], ids["second"]]), "2026-12-03", PUBLIC_VALUE]
        )
        seed = hashlib.sha256(expected_input.encode()).hexdigest()
        assert f'<code class="mono draw-input">{expected_input}</code>' in draws
        assert f'<td class="mono">{seed}</td>' in draws
        assert f'<td class="mono">{PUBLIC_VALUE}</td>' in draws and "2026-12-03" in draws
        winner = feed["draws"][0]["winner"]
        assert f'<li><a href="#application-{winner}">{winner}</a> · ' in draws
        assert f"gazar verify-draw {ids['draw']}" in draws and "SHA-256" in draws
        assert str(escape(feed["draws"][0]["verification"][f"message_{lang}"])) in draws
        # contracts expiring within 60 days: P-1 (rehabilitation overdue) and P-2
        expiring = _section(html, "register-expiring")
        rows = dict(
            re.findall(r'<tr><td><a href="[^"]*">(P-\d)</a></td>(.*?)</tr>', expiring, re.S)
        )
        assert set(rows) == {"P-1", "P-2"}  # P-3 is only applied for
        refused, renewed = (
            ("Сунгах боломжгүй", "Сунгаж болно") if lang == "mn" else ("Renewal refused", "May be renewed")
        )  # fmt: skip
        assert refused in rows["P-1"] and "R-1" in rows["P-1"]
        assert renewed in rows["P-2"] and '<td class="num">12</td>' in rows["P-2"]
        # the log head, to publish
        head = ledger.verify_chain()
        assert head.ok and head.head_hash is not None
        assert f'<td class="mono" id="log-head-hash">{head.head_hash}</td>' in html
        for feed_url in ("/register.json", "/register.geojson", "/register.csv"):
            assert f'<a href="{feed_url}">' in html
    assert "Өргөдлийн дараалал" in mn and "Application queue" in en
    assert "Сугалаа" in mn and "Draws" in en
    assert "60 хоногийн дотор" in mn and "Contracts expiring within 60 days" in en


def test_the_register_filters_the_allocation_record_by_soum(
    allocated: tuple[TestClient, GeoPackageLedger, dict[str, str]],
) -> None:
    client, ledger, ids = allocated
    other = page(client, "/register?soum=MN4310&lang=en")
    assert ids["free"] not in other and ids["draw"] not in other and "P-2" not in other
    assert 'id="register-decisions"' not in other and 'id="register-draws"' not in other
    assert "Application queue (0)" in other and "Decisions (0)" in other
    assert 'id="log-head-hash">' + str(ledger.verify_chain().head_hash) in other  # every soum
    own = page(client, "/register?soum=MN4322&lang=en")
    assert "Application queue (4)" in own and "Draws (1)" in own and "Objections (1)" in own


def test_a_store_new_to_the_ledger_shows_empty_sections(scene: Store, client: TestClient) -> None:
    """A store the ledger never opened: its first open (by the app, as for the feeds) adds the
    ledger's tables and logs each feature once (10 here); the sections are empty, and reading
    the register writes nothing more."""
    html = page(client, "/register?lang=en")
    for heading in ("Application queue", "Decisions", "Objections", "Draws"):
        assert re.search(rf"{heading} \(0\)</h2>\s*<p>Nothing registered.</p>", html)
    assert 'id="register-unavailable"' not in html
    with open_ledger(scene.location, create=False) as ledger:
        check = ledger.verify_chain()
    assert check.ok
    assert check.events == 10  # 2 soums, 2 LCs, 3 parcels, 1 zone, 1 exclusion, 1 licence
    assert f'id="log-head-hash">{check.head_hash}<' in html
    page(client, "/register")
    with open_ledger(scene.location, create=False) as ledger:
        assert ledger.verify_chain() == check  # reading the register wrote nothing


def test_a_store_whose_ledger_cannot_be_opened_shows_a_note(
    client: TestClient, tmp_path: Path
) -> None:
    """The ledger is opened from the app's settings: pointed at no store, it cannot open, and
    the page says so instead of failing."""
    state = client.app.state  # type: ignore[attr-defined]
    services = state.services
    services.ledger = None  # as the app's lifespan leaves it when the ledger cannot be opened
    services.settings = load_settings(db=str(tmp_path / "missing.gpkg"))
    mn = page(client, "/register")
    assert 'id="register-unavailable"' in mn and "унших боломжгүй" in mn
    en = page(client, "/register?lang=en")
    assert "The allocation records cannot be read from this store" in en
    assert "Application queue (0)" in en and 'id="register-log"' not in en
    assert 'id="register-lcs"' in en  # the layers are still shown
    assert not (tmp_path / "missing.gpkg").exists()
