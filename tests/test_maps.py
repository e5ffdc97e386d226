"""Render tests on the map builders (web/maps.py) and the asset handling (web/assets.py)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pytest
import shapely

from geo.availability import availability
from geo.rules import analyze
from geo.settings import AnalysisSettings
from layers.errors import FeatureNotFound
from tests import factories as f
from web import maps
from web.assets import AssetMissing, external_refs, inline_assets, static_file

TODAY = dt.date(2026, 6, 30)


def scene_layers() -> dict[str, gpd.GeoDataFrame]:
    """Two soums; in the first one issued LC (2 x 1 km), three parcels — two active ones
    overlapping by 100 m x 200 m = 2 ha, one applied — a rehab zone, an exclusion and a licence."""
    return {
        "soums": f.frame("soums", [f.soum(), f.soum("MN4310", name_mn="Баянгол", name_en="Bayangol",
                                                geometry=f.utm_box(20000, 0, 5000, 5000))]),
        "land_conclusions": f.frame("land_conclusions", [f.land_conclusion()]),
        "contract_parcels": f.frame(
            "contract_parcels",
            [
                f.parcel("P-1", geometry=f.utm_box(100, 100, 200, 200)),
                f.parcel("P-2", holder="Шинэ од хоршоо", geometry=f.utm_box(200, 100, 200, 200)),
                f.parcel("P-3", status="applied", holder="Бор өндөр",
                         geometry=f.utm_box(1000, 100, 200, 200)),
            ],
        ),
        "rehab_zones": f.frame("rehab_zones", [f.rehab_zone()]),
        "exclusions": f.frame("exclusions", [f.exclusion()]),
        "licences": f.frame("licences", [f.licence()]),
    }  # fmt: skip


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    return scene_layers()


@pytest.fixture
def findings(layers: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return analyze(layers, today=TODAY, settings=AnalysisSettings()).records


@pytest.fixture
def free(layers: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return availability(
        layers["land_conclusions"],
        layers["contract_parcels"],
        layers["rehab_zones"],
        layers["exclusions"],
        layers["licences"],
        today=TODAY,
    )


def by_name(m: Any) -> dict[str, maps.GazarLayer]:
    return {e.layer: e for e in maps.gazar_layers(m)}


def features(element: maps.GazarLayer) -> list[dict[str, Any]]:
    doc = orjson.loads(element.data_json)
    assert doc["type"] == "FeatureCollection"
    return doc["features"]


def html_of(m: Any) -> str:
    return maps.page_html(m, title="t", lang="mn")


# --------------------------------------------------------------------------- layers and counts


def test_every_layer_is_a_switchable_layer_in_drawing_order_with_its_count(
    layers: dict[str, gpd.GeoDataFrame], findings: gpd.GeoDataFrame, free: gpd.GeoDataFrame
) -> None:
    m = maps.overview_map(layers, lang="en", findings=findings, available=free)
    assert maps.layer_names(m) == [
        "soums", "land_conclusions", "exclusions", "licences", "rehab_zones",
        "contract_parcels", "available", "overlaps",
    ]  # fmt: skip
    names = [e.layer_name for e in maps.gazar_layers(m)]
    assert names[:2] == ["Soums (2)", "Land Conclusions (1)"]
    assert "ASM contract parcels (3)" in names
    counts = {k: len(features(v)) for k, v in by_name(m).items()}
    assert counts == {
        "soums": 2, "land_conclusions": 1, "exclusions": 1, "licences": 1, "rehab_zones": 1,
        "contract_parcels": 3, "available": 1, "overlaps": 1,
    }  # fmt: skip
    page = html_of(m)
    # the layer switcher lists every data layer and the optional basemap
    assert page.count("L.control.layers(") == 1
    assert '"Online basemap (internet)"' in page


def test_the_overlap_is_the_shared_area_in_red_and_both_parcels_list_the_rule(
    layers: dict[str, gpd.GeoDataFrame], findings: gpd.GeoDataFrame
) -> None:
    m = maps.overview_map(layers, lang="en", findings=findings)
    overlap = by_name(m)["overlaps"]
    (feat,) = features(overlap)
    # 100 m x 200 m shared by P-1 and P-2: 2 ha
    assert feat["properties"]["rule"] == "PARCEL_OVERLAP"
    assert feat["properties"]["overlap_ha"] == pytest.approx(2.0, abs=0.01)
    assert overlap.spec["style"]["fillColor"] == "#e31a1c"
    rules = by_name(m)["contract_parcels"].spec["rules"]
    assert set(rules) == {"P-1", "P-2"}
    assert rules["P-1"] == rules["P-2"]
    assert "overlaps contract parcel" in rules["P-1"][0]
    # the applied parcel P-3 breaks nothing
    assert "P-3" not in rules


def test_parcels_are_coloured_by_contract_status(layers: dict[str, gpd.GeoDataFrame]) -> None:
    m = maps.overview_map(layers, lang="mn")
    parcels = by_name(m)["contract_parcels"]
    spec = parcels.spec
    assert spec["key"] == "status"
    colour = {
        p["properties"]["id"]: (spec["style"] | spec["styles"][p["properties"]["status"]])[
            "fillColor"
        ]
        for p in features(parcels)
    }
    assert (
        colour["P-1"]
        == colour["P-2"]
        == maps.LOOKS["contract_parcels"].styles["active"]["fillColor"]
    )
    assert colour["P-3"] != colour["P-1"]
    # the legend shows the two statuses present, under their Mongolian names
    m_legend = next(o for o in maps.gazar_layers(m) if o.layer == "contract_parcels")
    assert m_legend.spec["labels"]["contract_status"]["active"] == "Хүчинтэй"
    legend = _setup(m)["legend"]
    section = next(s for s in legend["sections"] if s["title"] == "Гэрээт талбай")
    assert [i["label"] for i in section["items"]] == ["Өргөдөл гаргасан", "Хүчинтэй"]


def _setup(m: Any) -> dict[str, Any]:
    (setup,) = [e for e in m._children.values() if isinstance(e, maps.GazarSetup)]
    return setup.options


@pytest.mark.parametrize(
    ("lang", "holder", "status", "official", "rules"),
    [
        ("mn", "Эзэмшигч", "Хүчинтэй", "Албан талбай, га", "Зөрчсөн дүрэм"),
        ("en", "Holder", "Active", "Official area, ha", "Rules broken"),
    ],
)
def test_popups_are_in_the_chosen_language(
    layers: dict[str, gpd.GeoDataFrame],
    findings: gpd.GeoDataFrame,
    lang: str,
    holder: str,
    status: str,
    official: str,
    rules: str,
) -> None:
    m = maps.overview_map(layers, lang=lang, findings=findings)  # type: ignore[arg-type]
    spec = by_name(m)["contract_parcels"].spec
    labels = {fl["key"]: fl["label"] for fl in spec["fields"]}
    assert labels["holder"] == holder
    assert labels["official_ha"] == official
    assert spec["labels"]["contract_status"]["active"] == status
    assert spec["rulesLabel"] == rules
    message = spec["rules"]["P-1"][0]
    assert ("давхцаж" in message) if lang == "mn" else ("overlaps" in message)
    setup = _setup(m)
    assert setup["search"]["placeholder"] == (
        "Хайх: дугаар эсвэл эзэмшигч" if lang == "mn" else "Search: id or holder"
    )
    # Leaflet.draw's own strings are replaced only for Mongolian
    assert (setup["drawLocal"] is not None) == (lang == "mn")


def test_popups_carry_the_fields_official_hectares_holder_and_dates(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    m = maps.overview_map(layers)
    p1 = next(p for p in features(by_name(m)["contract_parcels"]) if p["properties"]["id"] == "P-1")
    props = p1["properties"]
    assert props["holder"] == "Алтан шижир нөхөрлөл"
    assert props["contract_no"] == "MN4322-2025-001"
    assert props["signed_on"] == "2025-01-15"
    assert props["expires_on"] == "2027-02-01"
    assert (props["members_women"], props["members_men"]) == (3, 4)
    # 200 m x 200 m drawn in its own UTM zone: 4 ha as the cadastre measures it
    assert props["official_ha"] == pytest.approx(4.0, abs=1e-3)
    lc = features(by_name(m)["land_conclusions"])[0]["properties"]
    assert lc["official_ha"] == pytest.approx(200.0, abs=1e-2)
    assert lc["decision_ref"] == "АМГТГ-2024/117"
    assert lc["valid_until"] == "2029-09-20"


def test_search_covers_ids_and_holders(layers: dict[str, gpd.GeoDataFrame]) -> None:
    specs = {k: v.spec for k, v in by_name(maps.overview_map(layers)).items()}
    assert {"id", "holder"} <= set(specs["contract_parcels"]["search"])
    assert {"id", "holder"} <= set(specs["licences"]["search"])
    assert "id" in specs["land_conclusions"]["search"]


# --------------------------------------------------------------------------- no network


def test_no_script_or_stylesheet_leaves_the_machine(
    layers: dict[str, gpd.GeoDataFrame], findings: gpd.GeoDataFrame, free: gpd.GeoDataFrame
) -> None:
    page = html_of(maps.overview_map(layers, findings=findings, available=free))
    assert external_refs(page) == []
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert scripts and sheets
    assert all(u.startswith("/static/") for u in scripts + sheets)
    # the online basemap is a layer that is not on the map when it opens
    tiles = re.search(r"var (tile_layer_\w+) = L\.tileLayer\(\s*\"https://", page)
    assert tiles is not None
    assert f"{tiles.group(1)}.addTo(" not in page


def test_external_refs_finds_a_cdn_script() -> None:
    page = '<script src="https://cdn.example.org/leaflet.js"></script><link href="//x/y.css">'
    assert len(external_refs(page)) == 2


def test_a_standalone_file_inlines_every_asset_and_its_images(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    page = inline_assets(html_of(maps.overview_map(layers)))
    assert "/static/" not in page
    assert external_refs(page) == []
    assert "L.control.fullscreen" in page and "L.Draw" in page
    # leaflet.css's layer-switcher icon and the plugins' sprites became data: addresses
    assert "data:image/png;base64," in page
    assert "data:image/svg+xml;base64," in page
    assert re.search(r"url\((['\"]?)images/", page) is None


def test_static_files_stay_inside_their_folders() -> None:
    assert static_file("/static/vendor/leaflet/leaflet.js").name == "leaflet.js"
    assert static_file("gazar/gazar.js").name == "gazar.js"
    for bad in ("/static/vendor/leaflet/../../package.json", "/static/nothing/x.js",
                "/static/gazar/missing.js"):  # fmt: skip
        with pytest.raises(AssetMissing):
            static_file(bad)


# --------------------------------------------------------------------------- large layers


def test_coordinates_have_six_decimals_and_outlines_are_simplified() -> None:
    wiggly = shapely.Polygon(
        [(106.0 + 0.1 * np.cos(a) + 1e-7 * np.sin(40 * a), 48.0 + 0.1 * np.sin(a))
         for a in np.linspace(0, 2 * np.pi, 2001)]
    )  # fmt: skip
    frame = f.frame("soums", [f.soum(geometry=wiggly)])
    element = by_name(maps.build_map({"soums": frame}))["soums"]
    text = element.data_json
    decimals = [len(d) for d in re.findall(r"\d+\.(\d+)", text.split('"geometry"')[1])]
    assert max(decimals) <= 6
    coords = features(element)[0]["geometry"]["coordinates"][0]
    assert len(coords) < 2001 / 4  # the 0.1 mm wiggles are gone


def test_a_layer_above_the_inline_limit_is_loaded_by_bbox(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    remote = maps.RemoteLoading(inline_limit=2, min_zoom=12, page_limit=500)
    m = maps.overview_map(layers, remote=remote)
    parcels = by_name(m)["contract_parcels"]
    assert parcels.data_json == "null"
    assert parcels.spec["remote"]["url"] == "/collections/contract_parcels/items"
    assert parcels.spec["remote"]["minZoom"] == 12
    assert parcels.spec["remote"]["limit"] == 500
    # small layers stay inline, and the soum background never goes remote
    assert features(by_name(m)["land_conclusions"])
    assert features(by_name(m)["soums"])
    assert by_name(m)["soums"].spec["remote"] is None
    page = html_of(m)
    assert "Шинэ од хоршоо" not in page  # no parcel was inlined


def test_a_remote_layer_with_too_many_findings_leaves_rules_out_of_its_popups(
    layers: dict[str, gpd.GeoDataFrame], findings: gpd.GeoDataFrame
) -> None:
    # P-1 and P-2 break a rule: two entries, above an inline limit of one
    m = maps.overview_map(layers, findings=findings, remote=maps.RemoteLoading(inline_limit=1))
    spec = by_name(m)["contract_parcels"].spec
    assert spec["remote"] is not None
    assert "rules" not in spec and "rulesLabel" not in spec
    inline = by_name(maps.overview_map(layers, findings=findings))["contract_parcels"].spec
    assert set(inline["rules"]) == {"P-1", "P-2"}


def _many_parcels(n: int) -> gpd.GeoDataFrame:
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x, y = (i % side) * 230.0, (i // side) * 230.0
    boxes = [f.utm_box(float(a), float(b), 200, 200) for a, b in zip(x, y, strict=True)]
    rows = [
        f.parcel(f"CP-{k:05d}", holder=f"Нөхөрлөл {k}", contract_no=f"MN4322-2025-{k:05d}",
                 geometry=g)
        for k, g in enumerate(boxes)
    ]  # fmt: skip
    return f.frame("contract_parcels", rows)


def test_a_5000_parcel_map_page_is_under_10_mb(layers: dict[str, gpd.GeoDataFrame]) -> None:
    big = dict(layers)
    big["contract_parcels"] = _many_parcels(5000)
    page = inline_assets(html_of(maps.overview_map(big)))  # every parcel inlined
    size = len(page.encode("utf-8"))
    assert page.count('"CP-') >= 5000
    assert size < 10_000_000, f"{size / 1e6:.1f} MB"
    served = html_of(maps.overview_map(big, remote=maps.RemoteLoading()))
    assert len(served.encode()) < 1_000_000  # parcels come by bbox instead


# --------------------------------------------------------------------------- one soum, one LC


def test_a_soum_map_keeps_what_touches_the_soum(
    layers: dict[str, gpd.GeoDataFrame], findings: gpd.GeoDataFrame
) -> None:
    m = maps.soum_map(layers, "MN4322", lang="en", findings=findings)
    ids = {k: [p["properties"]["id"] for p in features(v)] for k, v in by_name(m).items()}
    assert ids["soums"] == ["MN4322"]
    assert sorted(ids["contract_parcels"]) == ["P-1", "P-2", "P-3"]
    assert "overlaps" in ids
    assert _setup(m)["title"] == "Soum: Mandal (MN4322)"
    far = maps.soum_map(layers, "MN4310")
    assert maps.layer_names(far) == ["soums"]
    with pytest.raises(FeatureNotFound):
        maps.soum_map(layers, "MN0000")


def test_a_land_conclusion_map_has_its_parcels_and_free_land(
    layers: dict[str, gpd.GeoDataFrame], free: gpd.GeoDataFrame
) -> None:
    m = maps.land_conclusion_map(layers, "LC-1", available=free)
    got = by_name(m)
    assert [p["properties"]["id"] for p in features(got["land_conclusions"])] == ["LC-1"]
    assert len(features(got["contract_parcels"])) == 3
    assert [p["properties"]["id"] for p in features(got["available"])] == ["LC-1"]
    assert "licences" not in got  # 8 km away
    with pytest.raises(FeatureNotFound):
        maps.land_conclusion_map(layers, "LC-404")


def test_a_reviewed_proposal_shows_its_overlaps(layers: dict[str, gpd.GeoDataFrame]) -> None:
    from geo.review import review

    proposal = gpd.GeoDataFrame(
        {"id": ["NEW"]}, geometry=[f.utm_box(250, 150, 100, 100)], crs="EPSG:4326"
    )
    result = review(proposal, kind="parcel", layers=layers, today=TODAY,
                    settings=AnalysisSettings())  # fmt: skip
    assert result["verdict"] == "conflicts"
    overlaps = maps.review_overlaps(result)
    # 100 m x 100 m inside both P-1 and P-2 (and the rehab zone is elsewhere)
    assert sorted(overlaps["b_id"]) == ["P-1", "P-2"]
    shared = {b: float(ha) for b, ha in zip(overlaps["b_id"], overlaps["overlap_ha"], strict=True)}
    assert shared == pytest.approx({"P-1": 0.5, "P-2": 1.0}, abs=0.01)
    m = maps.review_map(result, layers, lang="en", draw_field="drawn")
    got = by_name(m)
    # the two broken ones, and LC-1 (the parcel lies in it: allowed, drawn as info)
    drawn = features(got["overlaps"])
    assert sorted((x["properties"]["b_id"], x["properties"]["severity"]) for x in drawn) == [
        ("LC-1", "info"), ("P-1", "block"), ("P-2", "block")
    ]  # fmt: skip
    assert features(got["proposal"])[0]["properties"]["verdict"] == "conflicts"
    assert got["proposal"].spec["rules"]["NEW"]
    assert _setup(m)["draw"] == {"field": "drawn"}
    assert _setup(m)["title"] == "Review: Conflicts"


def test_a_drawn_proposal_without_ids_gets_the_reviews_ids(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    from geo.review import review

    drawn = gpd.GeoDataFrame(
        {"id": [None]}, geometry=[f.utm_box(1500, 600, 100, 100)], crs="EPSG:4326"
    )
    result = review(drawn, kind="parcel", layers=layers, today=TODAY, settings=AnalysisSettings())
    assert result["verdict"] == "clear"
    m = maps.review_map(result, layers)
    (feat,) = features(by_name(m)["proposal"])
    assert feat["properties"]["id"] == "#1"
    assert feat["properties"]["official_ha"] == pytest.approx(1.0, abs=1e-3)
    # only its Land Conclusion, an overlap the rules allow
    [inside] = features(by_name(m)["overlaps"])
    assert (inside["properties"]["b_id"], inside["properties"]["severity"]) == ("LC-1", "info")


# --------------------------------------------------------------------------- recovery


def _recovery(layers: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Three zones as ``layers.rasters.rehab_registered`` answers: one recovering, one below
    the minimum and one under clouds."""
    zones = layers["rehab_zones"]
    rows = [
        f.rehab_zone("R-1"),
        f.rehab_zone("R-2", geometry=f.utm_box(1020, 120, 50, 50), parcel_id="P-3"),
        f.rehab_zone("R-3", geometry=f.utm_box(30000, 0, 50, 50), parcel_id=None),
    ]
    frame = f.frame("rehab_zones", rows).set_crs(zones.crs, allow_override=True)
    return frame.assign(
        before_mean=[0.1, 0.1, 0.1],
        after_mean=[0.51234, 0.12, np.nan],
        before_median=[0.1, 0.1, 0.1],
        after_median=[0.5, 0.12, np.nan],
        before_valid_share=[1.0, 1.0, 1.0],
        after_valid_share=[0.87654, 1.0, 0.0],
        change=[0.41234, 0.02, np.nan],
        status=["recovering", "below_min", "no_data"],
    )


@pytest.mark.parametrize(
    ("lang", "title", "below", "change"),
    [
        ("mn", "Нөхөн сэргээлтийн явц", "Сэргэлт хангалтгүй", "Өөрчлөлт"),
        ("en", "Rehabilitation recovery", "Recovery below the minimum", "Change"),
    ],
)
def test_the_recovery_layer_colours_zones_by_status_with_a_bilingual_legend_and_popup(
    layers: dict[str, gpd.GeoDataFrame], lang: str, title: str, below: str, change: str
) -> None:
    recovery = _recovery(layers)
    m = maps.overview_map(layers, lang=lang, recovery=recovery)  # type: ignore[arg-type]
    names = maps.layer_names(m)
    # a layer of its own above the store's layers, switchable, with its count
    assert names.index("rehab_recovery") == names.index("contract_parcels") + 1
    layer = by_name(m)["rehab_recovery"]
    assert layer.layer_name == f"{title} (3)" and layer.control and layer.show
    spec = layer.spec
    look = maps.RECOVERY_LOOK
    colour = {
        p["properties"]["id"]: (spec["style"] | spec["styles"][p["properties"]["status"]])[
            "fillColor"
        ]
        for p in features(layer)
    }
    assert colour == {
        "R-1": look.styles["recovering"]["fillColor"],
        "R-2": look.styles["below_min"]["fillColor"],
        "R-3": look.styles["no_data"]["fillColor"],
    }
    assert len(set(colour.values())) == 3
    props = {p["properties"]["id"]: p["properties"] for p in features(layer)}
    assert props["R-1"]["after_mean"] == 0.512 and props["R-1"]["change"] == 0.412
    assert props["R-1"]["after_valid_pct"] == 87.7 and props["R-1"]["before_valid_pct"] == 100.0
    assert props["R-3"]["change"] is None and props["R-3"]["after_valid_pct"] == 0.0
    assert props["R-1"]["official_ha"] == pytest.approx(0.25, abs=1e-3)  # 50 m x 50 m
    labels = {fl["key"]: fl["label"] for fl in spec["fields"]}
    assert labels["change"] == change
    assert spec["labels"]["recovery"]["below_min"] == below
    assert "rules" not in spec  # a measurement, not a rule: no "rules broken" row
    (section,) = [s for s in _setup(m)["legend"]["sections"] if s["title"] == title]
    assert [i["label"] for i in section["items"]][1] == below
    assert len(section["items"]) == 3


def test_the_recovery_layer_follows_the_selection_and_can_start_hidden(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    recovery = _recovery(layers)
    soum_ids = [
        p["properties"]["id"]
        for p in features(by_name(maps.soum_map(layers, "MN4322", recovery=recovery))[
            "rehab_recovery"])
    ]  # fmt: skip
    assert soum_ids == ["R-1", "R-2"]  # R-3 lies 30 km east, outside the soum
    lc = maps.land_conclusion_map(layers, "LC-1", recovery=recovery)
    # the Land Conclusion map shows the zones it shows in the rehabilitation layer
    shown = {p["properties"]["id"] for p in features(by_name(lc)["rehab_zones"])}
    got = {p["properties"]["id"] for p in features(by_name(lc)["rehab_recovery"])}
    assert got == shown == {"R-1"}
    hidden = maps.build_map(layers, recovery=recovery, hidden=("rehab_recovery",))
    assert by_name(hidden)["rehab_recovery"].show is False
    assert "rehab_recovery" not in maps.layer_names(maps.overview_map(layers))


def test_rules_index_lists_each_features_messages_in_order_once() -> None:
    from web.maps.elements import RulesIndex, rules_index

    rng = np.random.default_rng(2)
    n = 3_000
    layers = np.array(["contract_parcels", "land_conclusions", None], dtype=object)
    findings = pd.DataFrame(
        {
            "a_layer": layers[rng.integers(0, 2, n)],
            "a_id": [f"F-{k}" for k in rng.integers(0, 400, n)],
            "b_layer": layers[rng.integers(0, 3, n)],  # None: a finding of one feature
            "b_id": [f"F-{k}" for k in rng.integers(0, 400, n)],
            "message_mn": [f"дүрэм {k}" for k in rng.integers(0, 6, n)],
            "message_en": [f"rule {k}" for k in rng.integers(0, 6, n)],
        }
    )
    findings.loc[findings["b_layer"].isna(), "b_id"] = None
    expected: dict[str, dict[str, list[str]]] = {}
    for side in ("a", "b"):  # the a sides first, then the b sides
        for layer, fid, message in zip(
            findings[f"{side}_layer"], findings[f"{side}_id"], findings["message_en"], strict=True
        ):
            if pd.isna(layer) or pd.isna(fid):
                continue
            msgs = expected.setdefault(layer, {}).setdefault(fid, [])
            if message not in msgs:
                msgs.append(message)
    got = rules_index(findings, "en")
    assert got == expected
    # the features in the order they first appear, as the straightforward walk finds them
    assert [list(v) for v in got.values()] == [list(v) for v in expected.values()]
    assert rules_index(findings.iloc[:0], "mn") == {}
    index = RulesIndex(findings, "en")
    assert {layer: index.count(layer) for layer in index.layers} == {
        layer: len(features) for layer, features in expected.items()
    }
    assert index.count("licences") == 0
    # ids that are not text are read as their text (keys "17", never 17)
    numbers = [int(str(v)[2:]) for v in findings["a_id"]]
    texts = findings.assign(a_id=[str(k) for k in numbers])
    assert rules_index(findings.assign(a_id=numbers), "en") == rules_index(texts, "en")
