"""The demo data: schema, determinism, the domain figures, and conflicts only where intended."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from layers.demo import DEMO_CONFLICTS, build_demo, expected_conflicts
from layers.schema import REGISTRY

TODAY = dt.date(2025, 6, 30)
#: domain.md's "true area" projection (equal-area, for overlap sizes)
ALBERS = "+proj=aea +lat_0=47 +lon_0=104 +lat_1=43 +lat_2=50 +ellps=WGS84"
#: domain.md, "Target soums": (partnerships, members) per site
SITE_FIGURES = {
    "MN8201": (22, 214),
    "MN4310": (27, 108),
    "MN4322": (32, 189),  # Mandal without Tunkhel
    "tunkhel": (8, 180),
    "MN8404": (11, 99),
}
PARCEL_CONFLICT_KINDS = {"parcel_parcel_overlap", "parcel_outside_land_conclusion"}


@pytest.fixture(scope="module")
def demo() -> dict[str, gpd.GeoDataFrame]:
    return build_demo(seed=7, today=TODAY)


@pytest.fixture(scope="module")
def demo5() -> dict[str, gpd.GeoDataFrame]:
    return build_demo(seed=3, scale=5, today=TODAY)


def _utm_area(geoms: gpd.GeoSeries) -> pd.Series:
    """Official area (m²): each geometry in the UTM zone of its centroid."""
    lon = shapely.get_x(shapely.centroid(geoms.to_numpy()))  # degrees do to pick a zone
    zone = pd.Series(np.floor((lon + 180) / 6).astype(int) + 1, index=geoms.index)
    out = pd.Series(np.nan, index=geoms.index)
    for z in zone.unique():
        sel = zone == z
        out[sel] = geoms[sel].to_crs(32600 + int(z)).area
    return out


def _overlaps(a: gpd.GeoSeries, b: gpd.GeoSeries | None = None) -> list[tuple[int, int, float]]:
    """Positional pairs (i, j) whose shared area exceeds 1 m² (within ``a`` when ``b`` is None)."""
    other = a if b is None else b
    tree = shapely.STRtree(other.values)
    ia, ib = tree.query(a.values, predicate="intersects")
    if b is None:
        keep = ia < ib
        ia, ib = ia[keep], ib[keep]
    shared = shapely.intersection(a.values[ia], other.values[ib])
    area = gpd.GeoSeries(shared, crs=a.crs).to_crs(ALBERS).area.to_numpy()
    return [(int(i), int(j), float(s)) for i, j, s in zip(ia, ib, area, strict=True) if s > 1.0]


def _pairs_by_id(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame | None = None
) -> dict[tuple[str, str], float]:
    other = a if b is None else b
    hits = _overlaps(a.geometry, None if b is None else b.geometry)
    return {(a["id"].iloc[i], other["id"].iloc[j]): s for i, j, s in hits}


def _conflicts(kind: str) -> list[dict[str, str | None]]:
    return [c for c in DEMO_CONFLICTS if c["kind"] == kind]


# ---------------------------------------------------------------------------- schema and form


@pytest.mark.parametrize("layer", list(REGISTRY))
def test_layer_follows_schema(demo: dict[str, gpd.GeoDataFrame], layer: str) -> None:
    kind = REGISTRY[layer]
    gdf = demo[layer]
    assert list(gdf.columns) == [*kind.columns, "geometry"]
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4326
    assert len(gdf) > 0
    accepted = {
        "MultiPolygon": {"Polygon", "MultiPolygon"},
        "MultiLineString": {"LineString", "MultiLineString"},
        "Point": {"Point"},
    }[kind.geometry]
    assert set(gdf.geom_type) <= accepted
    assert gdf.geometry.is_valid.all()
    assert not gdf.geometry.is_empty.any()
    ids = gdf["id"].tolist()
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == len(ids)
    for f in kind.fields:
        values = [v for v in gdf[f.name] if not pd.isna(v)]
        if f.required:
            assert len(values) == len(gdf), f"{layer}.{f.name} has missing values"
        if f.type == "date":
            assert all(type(v) is dt.date for v in values), f"{layer}.{f.name}"
        elif f.type == "enum":
            assert set(values) <= set(f.choices), f"{layer}.{f.name}: {set(values)}"
        elif f.type == "int":
            assert gdf[f.name].dtype == np.int64
            assert min(values) >= (f.minimum or 0)


def test_date_columns_hold_none_not_nan(demo: dict[str, gpd.GeoDataFrame]) -> None:
    missing = demo["contract_parcels"].loc[lambda d: d["status"] == "applied", "signed_on"]
    assert len(missing) > 0
    assert all(v is None for v in missing)


@pytest.mark.parametrize("layer", list(REGISTRY))
def test_everything_lies_in_mongolia(demo5: dict[str, gpd.GeoDataFrame], layer: str) -> None:
    minx, miny, maxx, maxy = demo5[layer].total_bounds
    assert minx >= 87.7 and maxx <= 120.0
    assert miny >= 41.5 and maxy <= 52.2


def test_same_seed_same_demo_other_seed_differs() -> None:
    a = build_demo(seed=11, scale=2, today=TODAY)
    b = build_demo(seed=11, scale=2, today=TODAY)
    c = build_demo(seed=12, scale=2, today=TODAY)
    for layer in REGISTRY:
        pd.testing.assert_frame_equal(a[layer], b[layer])
    assert not a["contract_parcels"].equals(c["contract_parcels"])
    assert not a["contract_parcels"].geometry.geom_equals(c["contract_parcels"].geometry).all()


def test_scale_must_be_a_positive_whole_number() -> None:
    for bad in (0, -3, 1.5):
        with pytest.raises(ValueError, match="scale"):
            build_demo(scale=bad)  # type: ignore[arg-type]


def test_dates_follow_today() -> None:
    later = TODAY + dt.timedelta(days=400)
    a = build_demo(today=TODAY)["contract_parcels"]
    b = build_demo(today=later)["contract_parcels"]
    moved = {
        (y - x).days for x, y in zip(a["expires_on"], b["expires_on"], strict=True) if x is not None
    }
    assert moved == {400}


# ------------------------------------------------------------------------------------ content


def test_every_status_and_stage_is_present(demo: dict[str, gpd.GeoDataFrame]) -> None:
    for layer, column in [
        ("land_conclusions", "status"),
        ("contract_parcels", "status"),
        ("rehab_zones", "stage"),
        ("exclusions", "kind"),
    ]:
        expected = set(REGISTRY[layer].field(column).choices) - {"other"}
        assert set(demo[layer][column]) == expected, layer
    holders = Counter(demo["contract_parcels"]["holder_type"])
    assert holders["partnership"] > holders["cooperative"] > 0
    assert set(demo["licences"]["kind"]) == {"MV", "XV"}
    assert set(demo["licences"]["mineral"]) == {"gold", "coal"}


def test_target_soums_and_aimags(demo: dict[str, gpd.GeoDataFrame]) -> None:
    soums = demo["soums"].set_index("id")
    assert soums["name_en"].to_dict() == {
        "MN8201": "Yusunbulag",
        "MN4310": "Bayangol",
        "MN4322": "Mandal",
        "MN8404": "Altai",
    }
    assert soums.loc["MN8201", "name_mn"] == "Есөнбулаг"
    aimags = demo["aimags"].set_index("id")
    assert aimags["name_mn"].to_dict() == {"MN82": "Говь-Алтай", "MN43": "Сэлэнгэ", "MN84": "Ховд"}
    # the real soum centres (ALAGaC) lie in the synthetic outlines, tens of km across
    centres = {
        "MN8201": (96.2, 46.4),
        "MN4310": (106.10329, 48.92756),
        "MN4322": (106.51754, 48.8181),
        "MN8404": (92.27663, 45.82192),
    }
    for code, (lon, lat) in centres.items():
        assert soums.geometry[code].contains(shapely.Point(lon, lat)), code
    km2 = soums.geometry.to_crs(ALBERS).area / 1e6
    assert ((km2 > 500) & (km2 < 10_000)).all()
    # soums inside their aimag, neither soums nor aimags overlapping
    for code, row in soums.iterrows():
        assert aimags.geometry[row["aimag_code"]].contains(row.geometry), code
    assert _overlaps(demo["soums"].geometry) == []
    assert _overlaps(demo["aimags"].geometry) == []


def test_partnerships_and_members_per_site(demo: dict[str, gpd.GeoDataFrame]) -> None:
    parcels = demo["contract_parcels"]
    lcs = demo["land_conclusions"].set_index("id")
    soum = parcels["land_conclusion_id"].map(lcs["soum_code"])
    village = demo["exclusions"].loc[lambda d: d["name"] == "Түнхэл тосгон"]
    assert len(village) == 1 and village["kind"].iloc[0] == "settlement"
    near = parcels.to_crs(32648).distance(village.to_crs(32648).geometry.iloc[0]) < 10_000
    assert set(soum[near]) == {"MN4322"}  # Tunkhel's parcels belong to Mandal soum
    site = soum.where(~near, "tunkhel")
    members = parcels["members_women"] + parcels["members_men"]
    got = {s: (int((site == s).sum()), int(members[site == s].sum())) for s in SITE_FIGURES}
    assert got == SITE_FIGURES
    assert parcels["holder"].is_unique
    women = parcels["members_women"].sum() / members.sum()
    assert 0.2 < women < 0.6
    # at least 5 members, except in Bayangol where 108 members in 27 partnerships cannot
    assert members[site != "MN4310"].min() >= 5
    assert members[site == "MN4310"].min() >= 3
    assert members[parcels["holder_type"] == "cooperative"].min() >= 5


def test_parcel_sizes_are_official_1_to_5_ha(demo5: dict[str, gpd.GeoDataFrame]) -> None:
    ha = _utm_area(demo5["contract_parcels"].geometry) / 10_000
    assert ha.min() >= 1.0
    assert ha.max() <= 5.0
    assert ha.max() - ha.min() > 2.5  # sizes vary


def test_contract_numbers_and_dates(demo: dict[str, gpd.GeoDataFrame]) -> None:
    parcels = demo["contract_parcels"]
    lcs = demo["land_conclusions"].set_index("id")
    signed = parcels[parcels["status"] != "applied"]
    assert signed["contract_no"].str.fullmatch(r"MN\d{4}-\d{4}-\d{3,}").all()
    assert signed["contract_no"].is_unique
    for _, p in signed.iterrows():
        assert p["signed_on"] <= p["starts_on"] < p["expires_on"] <= TODAY.replace(year=2030)
        assert p["contract_no"].startswith(lcs.loc[p["land_conclusion_id"], "soum_code"])
        assert p["contract_no"][7:11] == str(p["signed_on"].year)
        years = (p["expires_on"] - p["starts_on"]).days / 365
        assert 0.99 <= years <= 3.01
        assert p["signed_on"] > lcs.loc[p["land_conclusion_id"], "decided_on"]
    applied = parcels[parcels["status"] == "applied"]
    assert applied[["contract_no", "signed_on", "starts_on", "expires_on"]].isna().all().all()
    running = signed[signed["status"].isin(["active", "suspended", "terminated"])]
    left = running["expires_on"].map(lambda d: (d - TODAY).days)
    assert ((left > 0) & (left <= 60)).sum() >= 3  # some expiring soon
    assert (signed.loc[signed["status"] == "expired", "expires_on"] < TODAY).all()
    past = running.loc[left < 0, "id"].tolist()
    assert past == [c["a_id"] for c in _conflicts("contract_active_past_expiry")]


def test_land_conclusion_steps(demo: dict[str, gpd.GeoDataFrame]) -> None:
    lcs = demo["land_conclusions"]
    steps = ["proposed_on", "khural_approved_on", "submitted_on", "decided_on"]
    reached = {"proposed": 1, "khural_approved": 2, "submitted": 3, "under_review": 3}
    for _, lc in lcs.iterrows():
        n = reached.get(lc["status"], 4)
        dates = [lc[s] for s in steps]
        assert all(d is not None for d in dates[:n]) and all(d is None for d in dates[n:])
        assert dates[:n] == sorted(dates[:n]) and dates[n - 1] <= TODAY
        decided = n == 4
        assert (lc["decision_ref"] is not None and not pd.isna(lc["decision_ref"])) == decided
        if decided:
            assert re.fullmatch(rf"АМГТГ-{lc['decided_on'].year}/\d{{3}}", lc["decision_ref"])
    issued = lcs[lcs["status"] == "issued"]
    assert issued["valid_until"].notna().all()
    assert (issued["valid_until"] < TODAY).sum() == 1  # issued, but no longer valid
    assert (lcs.loc[lcs["status"] == "expired", "valid_until"] < TODAY).all()
    assert set(lcs["requested_by"]) == {"soum", "aimag"}
    assert (lcs["requested_by"] == "soum").sum() > (lcs["requested_by"] == "aimag").sum()
    waiting = lcs[lcs["status"] == "under_review"]["submitted_on"].map(lambda d: (TODAY - d).days)
    assert waiting.max() > 365  # some wait long
    assert lcs["name"].str.contains("сумын").all()


def test_rehabilitation_zones(demo5: dict[str, gpd.GeoDataFrame]) -> None:
    zones = demo5["rehab_zones"]
    parcels = demo5["contract_parcels"].set_index("id")
    accepted = zones["stage"] == "accepted"
    assert zones.loc[accepted, "accepted_on"].notna().all()
    assert zones.loc[~accepted, "accepted_on"].isna().all()
    linked = zones[zones["parcel_id"].notna()]
    assert len(linked) >= 0.9 * len(zones)
    assert 1 <= zones["parcel_id"].isna().sum() <= 2  # legacy disturbed land
    assert (
        linked["holder"].to_numpy() == parcels.loc[linked["parcel_id"], "holder"].to_numpy()
    ).all()
    for pid, geom in zip(linked["parcel_id"], linked.geometry, strict=True):
        assert parcels.geometry[pid].contains(geom)
    overdue = zones[~accepted & zones["due_on"].map(lambda d: d is not None and d < TODAY)]
    assert sorted(overdue["id"]) == sorted(str(c["a_id"]) for c in _conflicts("rehab_overdue"))
    assert len(overdue) >= 1


def test_references_resolve(demo5: dict[str, gpd.GeoDataFrame]) -> None:
    lcs = demo5["land_conclusions"].set_index("id")
    parcels = demo5["contract_parcels"]
    assert parcels["land_conclusion_id"].isin(lcs.index).all()
    refs = demo5["rehab_zones"]["parcel_id"].dropna()
    assert refs.isin(parcels["id"]).all()
    soums = set(demo5["soums"]["id"])
    assert set(lcs["soum_code"]) <= soums
    assert set(demo5["licences"]["soum_code"]) <= soums
    aimag_of = demo5["soums"].set_index("id")["aimag_code"]
    assert (lcs["aimag_code"] == lcs["soum_code"].map(aimag_of)).all()


# ---------------------------------------------------------------------------------- conflicts


def test_expected_conflicts_name_features_of_the_demo(demo: dict[str, gpd.GeoDataFrame]) -> None:
    found = expected_conflicts(demo)
    assert found == [dict(c) for c in DEMO_CONFLICTS]
    kinds = Counter(c["kind"] for c in found)
    assert set(kinds) == {
        "parcel_parcel_overlap",
        "parcel_outside_land_conclusion",
        "land_conclusion_over_licence",
        "land_conclusion_over_exclusion",
        "contract_active_past_expiry",
        "rehab_overdue",
    }
    assert all(n == 1 for k, n in kinds.items() if k != "rehab_overdue")
    trimmed = dict(demo)
    trimmed["licences"] = demo["licences"].iloc[1:]
    with pytest.raises(ValueError, match="MV-017345"):
        expected_conflicts(trimmed)


def test_parcels_lie_inside_issued_valid_land_conclusions(
    demo5: dict[str, gpd.GeoDataFrame],
) -> None:
    parcels = demo5["contract_parcels"]
    lcs = demo5["land_conclusions"].set_index("id")
    held = lcs.loc[parcels["land_conclusion_id"]]
    assert (held["status"] == "issued").all()
    assert (held["valid_until"] > TODAY).all()
    outer = gpd.GeoSeries(held.geometry.to_numpy(), crs=parcels.crs)
    inside = parcels.geometry.within(outer).to_numpy()
    outside = parcels.loc[~inside, "id"].tolist()
    assert outside == [c["a_id"] for c in _conflicts("parcel_outside_land_conclusion")]
    # a margin of at least 20 m to the Land Conclusion's edge
    utm = parcels.to_crs(32648).geometry.to_numpy()  # UTM 48 is fine for a distance check
    edges = gpd.GeoSeries(outer.boundary, crs=parcels.crs).to_crs(32648).to_numpy()
    margin = shapely.distance(utm, edges)
    assert margin[inside].min() >= 20.0
    # the deliberate one sticks out by a few thousand m²
    (conflict,) = _conflicts("parcel_outside_land_conclusion")
    row = parcels[parcels["id"] == conflict["a_id"]]
    lc = lcs.geometry[conflict["b_id"]]
    assert row["land_conclusion_id"].iloc[0] == conflict["b_id"]
    stray = gpd.GeoSeries([row.geometry.iloc[0].difference(lc)], crs=4326).to_crs(ALBERS).area
    assert 1000 < stray.iloc[0] < 9000


def _check_no_accidental_overlaps(demo: dict[str, gpd.GeoDataFrame]) -> None:
    parcels = demo["contract_parcels"]
    zones = demo["rehab_zones"]
    lcs = demo["land_conclusions"]
    # parcels with parcels: only the deliberate pair, sharing a few hundred m² to 0.5 ha
    pp = _pairs_by_id(parcels)
    (pair,) = _conflicts("parcel_parcel_overlap")
    assert list(pp) == [(pair["a_id"], pair["b_id"])]
    assert 200 <= next(iter(pp.values())) <= 5000
    # rehabilitation zones touch only their own parcel, never another zone
    assert _pairs_by_id(zones) == {}
    own = dict(zip(zones["id"], zones["parcel_id"], strict=True))
    assert all(own[z] == p for z, p in _pairs_by_id(zones, parcels))
    # Land Conclusions: none overlap; over licences and exclusions only the deliberate ones
    assert _pairs_by_id(lcs) == {}
    lic = _conflicts("land_conclusion_over_licence")
    assert set(_pairs_by_id(lcs, demo["licences"])) == {(c["a_id"], c["b_id"]) for c in lic}
    exc = _conflicts("land_conclusion_over_exclusion")
    assert set(_pairs_by_id(lcs, demo["exclusions"])) == {(c["a_id"], c["b_id"]) for c in exc}
    for c in [*lic, *exc]:
        status = lcs.set_index("id").loc[c["a_id"], "status"]
        assert status in ("issued", "under_review", "submitted")
    # parcels and zones stay off licences and exclusions
    for layer in ("licences", "exclusions"):
        assert _pairs_by_id(parcels, demo[layer]) == {}
        assert _pairs_by_id(zones, demo[layer]) == {}
    # Land Conclusions lie inside their soum
    soums = demo["soums"].set_index("id").geometry
    outer = gpd.GeoSeries(soums.loc[lcs["soum_code"]].to_numpy(), crs=lcs.crs)
    assert lcs.geometry.within(outer).all()


def test_no_conflicts_but_the_deliberate_ones(demo: dict[str, gpd.GeoDataFrame]) -> None:
    _check_no_accidental_overlaps(demo)


def test_scale_20_adds_parcels_without_accidental_overlaps() -> None:
    demo = build_demo(seed=5, scale=20, today=TODAY)
    assert len(demo["contract_parcels"]) == 2000
    assert len(demo["land_conclusions"]) > 16
    assert demo["contract_parcels"]["holder"].is_unique
    _check_no_accidental_overlaps(demo)


def test_tiny_hand_built_overlap_helper() -> None:
    # three 100 m squares in UTM 48 near Mandal: the first two share 10 m x 100 m = 1,000 m²
    x, y = 600_000, 5_410_000
    squares = gpd.GeoSeries(
        [box(x, y, x + 100, y + 100), box(x + 90, y, x + 190, y + 100), box(x + 100, y + 100,
         x + 200, y + 200)],
        crs=32648,
    ).to_crs(4326)  # fmt: skip
    ((i, j, area),) = _overlaps(squares)  # the corner-touching third one is no overlap
    assert (i, j) == (0, 1)
    assert area == pytest.approx(1000, rel=0.01)


# ------------------------------------------------------------------------------ background


def test_background_layers_are_generated_for_the_demo_soums(
    demo: dict[str, gpd.GeoDataFrame],
) -> None:
    """The demo's settlements are its soum centres (Cyrillic and Latin names, one aimag
    centre) and Tunkhel village; its roads join them end to end; its lakes lie clear of every
    Land Conclusion, parcel, licence and exclusion."""
    places = demo["settlements"].set_index("id")
    soums = demo["soums"].set_index("id")
    for code, soum in soums.iterrows():
        centre = places.loc[f"ST-{code}"]
        assert (centre["name"], centre["name_latin"]) == (soum["name_mn"], soum["name_en"])
        assert centre["soum_code"] == code and centre["aimag_code"] == soum["aimag_code"]
        assert soum.geometry.contains(centre.geometry), code
    assert places.loc["ST-MN8201", "kind"] == "aimag_centre"
    assert places.loc["ST-TUNKHEL", ["name", "kind"]].tolist() == ["Түнхэл", "village"]
    points = set(places.geometry.apply(lambda p: (round(p.x, 6), round(p.y, 6))))
    for line in demo["roads"].geometry:
        ends = {
            tuple(round(v, 6) for v in line.coords[0]),
            tuple(round(v, 6) for v in line.coords[-1]),
        }
        assert ends <= points, ends  # every road runs from one settlement to another
        assert line.length > 0.1
    assert set(demo["roads"]["kind"]) == {"paved", "gravel", "earth"}
    lakes = demo["water"]
    assert len(lakes) == 3 and set(lakes["kind"]) == {"lake"}
    for layer in ("land_conclusions", "contract_parcels", "licences", "exclusions"):
        assert not demo[layer].intersects(shapely.union_all(lakes.geometry.array)).any(), layer


def test_large_demo_keeps_extra_land_conclusions_off_the_lakes(
    demo5: dict[str, gpd.GeoDataFrame],
) -> None:
    lakes = shapely.union_all(demo5["water"].geometry.array)
    assert len(demo5["land_conclusions"]) > 20
    assert not demo5["land_conclusions"].intersects(lakes).any()
    assert not demo5["contract_parcels"].intersects(lakes).any()
