"""The desk review of a proposal: JSON shape, verdicts, soums and shares, the rules it breaks."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pytest
import shapely

from geo.review import REVIEW_LAYERS, ReviewContext, review
from geo.settings import AnalysisSettings
from tests import factories as f
from tests.test_rules import TODAY, frames, scene

SETTINGS = AnalysisSettings()  # type: ignore[call-arg]

FINDING_KEYS = {
    "severity",
    "code",
    "title_mn",
    "title_en",
    "proposal_id",
    "layer",
    "id",
    "holder",
    "overlap_ha",
    "message_mn",
    "message_en",
}


@pytest.fixture(scope="module")
def ctx() -> ReviewContext:
    layers = scene()
    layers["aimags"] = [
        {"id": "MN43", "name_mn": "Сэлэнгэ", "name_en": "Selenge",
         "geometry": f.utm_box(-10000, -10000, 60000, 40000)}
    ]  # fmt: skip
    layers["rehab_zones"].append(
        f.rehab_zone(
            "R-9", parcel_id=None, holder="Эзэнгүй", geometry=f.utm_box(1000, 500, 100, 100)
        )
    )
    return ReviewContext(frames(layers))


def proposal(*geoms: shapely.Geometry, **columns: list[Any]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(dict(columns), geometry=list(geoms), crs="EPSG:4326")


def check(
    ctx: ReviewContext, frame: gpd.GeoDataFrame, kind: str = "parcel", **kw: Any
) -> dict[str, Any]:
    result = review(frame, kind=kind, layers=ctx, today=TODAY, settings=SETTINGS, **kw)  # type: ignore[arg-type]
    orjson.dumps(result.as_json())  # the JSON document: plain values only
    return result


def codes(result: dict[str, Any]) -> list[str]:
    return [x["code"] for x in result["findings"]]


# ----------------------------------------------------------------------------------- verdicts


def test_a_clear_parcel_proposal_and_the_shape_of_the_json(ctx: ReviewContext) -> None:
    result = check(ctx, proposal(f.utm_box(500, 100, 200, 200), id=["NEW-1"]))
    assert set(result) == {
        "kind", "today", "verdict", "verdict_mn", "verdict_en", "area", "features", "soums",
        "aimags", "proposing_soum", "outside_soum_ha", "outside_soum_share",
        "land_conclusions", "findings", "counts", "repairs", "problems", "overlaps",
    }  # fmt: skip
    assert (result["verdict"], result["verdict_mn"], result["verdict_en"]) == (
        "clear", "Зөрчилгүй", "Clear"
    )  # fmt: skip
    assert result["kind"] == "parcel" and result["today"] == "2025-06-30"
    assert result["area"]["official_ha"] == pytest.approx(4.0, rel=1e-4)
    assert result["area"]["geodesic_ha"] == pytest.approx(4.0, rel=2e-3)
    assert result["area"]["geodesic_ha"] != result["area"]["official_ha"]
    assert result["features"] == [
        {"id": "NEW-1", "official_ha": result["area"]["official_ha"],
         "geodesic_ha": result["area"]["geodesic_ha"], "utm_zone": 48, "verdict": "clear"}
    ]  # fmt: skip
    assert [(s["soum_code"], s["name_en"], s["share"]) for s in result["soums"]] == [
        ("MN4322", "Mandal", 1.0)
    ]
    assert result["aimags"] == [{"aimag_code": "MN43", "name_mn": "Сэлэнгэ", "name_en": "Selenge"}]
    assert result["proposing_soum"] == "MN4322"
    assert result["outside_soum_ha"] == 0.0 and result["outside_soum_share"] == 0.0
    [lc] = result["land_conclusions"]
    assert (lc["id"], lc["status"], lc["found"]) == ("LC-1", "issued", True)
    assert lc["overlap_ha"] == pytest.approx(4.0, rel=1e-4)
    assert result["findings"] == [] and result["problems"] == [] and result["repairs"] == []
    assert result["counts"] == {"block": 0, "warn": 0, "info": 0}
    # the one feature it shares land with: its Land Conclusion, a pair the rules allow
    assert [(x["layer"], x["id"], x["severity"], x["code"]) for x in result["overlaps"]] == [
        ("land_conclusions", "LC-1", "info", None)
    ]


def test_a_parcel_over_a_contract_parcel_has_conflicts(ctx: ReviewContext) -> None:
    # the scene's parcel P-1 is utm_box(100, 100, 200, 200): 150 m x 200 m shared = 3 ha
    result = check(ctx, proposal(f.utm_box(150, 100, 200, 200), id=["NEW-1"]))
    assert result["verdict"] == "conflicts"
    assert result["features"][0]["verdict"] == "conflicts"
    [hit] = [x for x in result["findings"] if x["code"] == "PARCEL_OVERLAP"]
    assert set(hit) == FINDING_KEYS
    assert (hit["severity"], hit["layer"], hit["id"], hit["proposal_id"]) == (
        "block", "contract_parcels", "P-1", "NEW-1"
    )  # fmt: skip
    assert hit["holder"] == "Алтан шижир нөхөрлөл"
    assert hit["overlap_ha"] == pytest.approx(3.0, rel=1e-4)
    assert hit["message_en"] == "Contract parcel NEW-1 overlaps contract parcel P-1 by 3.00 ha"
    assert hit["title_mn"] and hit["title_en"]
    assert result["counts"]["block"] >= 1


@pytest.mark.parametrize(
    ("geometry", "reason", "reason_mn"),
    [
        (shapely.Polygon(), "empty geometry", "хоосон геометр"),
        (None, "empty geometry", "хоосон геометр"),
        (shapely.Point(106.5, 48.8), "a Point is not a polygon", "Point нь олон өнцөгт биш"),
        (
            shapely.box(48.8, 106.5, 48.81, 106.51),
            "latitude and longitude look swapped",
            "өргөрөг, уртраг солигдсон",
        ),
        (shapely.box(10.0, 50.0, 10.1, 50.1), "outside Mongolia", "Монгол Улсаас гадна"),
        ("nan", "NaN", "NaN"),
    ],
    ids=["empty", "missing", "point", "swapped", "germany", "nan"],
)
def test_unusable_geometry_is_invalid_with_its_reason(
    ctx: ReviewContext, geometry: shapely.Geometry | str | None, reason: str, reason_mn: str
) -> None:
    if geometry == "nan":
        with np.errstate(invalid="ignore"):
            geometry = shapely.Polygon([(106.5, 48.8), (106.6, float("nan")), (106.6, 48.9)])
    result = check(ctx, proposal(geometry, id=["BAD"]))
    assert result["verdict"] == "invalid"
    assert result["verdict_en"] == "Invalid geometry"
    [problem] = result["problems"]
    assert problem["id"] == "BAD" and problem["index"] == 0
    assert reason in problem["reason"] and problem["reason_en"] == problem["reason"]
    assert reason_mn in problem["reason_mn"]
    assert result["features"] == [
        {"id": "BAD", "official_ha": None, "geodesic_ha": None, "utm_zone": None,
         "verdict": "invalid"}
    ]  # fmt: skip


def test_the_usable_features_of_an_invalid_proposal_are_still_reviewed(ctx: ReviewContext) -> None:
    result = check(
        ctx, proposal(shapely.Point(106.5, 48.8), f.utm_box(150, 100, 200, 200), id=["A", "B"])
    )
    assert result["verdict"] == "invalid"
    assert [x["verdict"] for x in result["features"]] == ["invalid", "conflicts"]
    assert "PARCEL_OVERLAP" in codes(result)
    assert result["area"]["official_ha"] == pytest.approx(4.0, rel=1e-4)


def test_an_empty_proposal_is_invalid(ctx: ReviewContext) -> None:
    result = check(ctx, proposal())
    assert result["verdict"] == "invalid"
    assert result["problems"][0]["reason"] == "the proposal has no features"
    assert result["problems"][0]["reason_mn"] == "саналд объект алга"


def test_warnings_leave_the_verdict_clear(ctx: ReviewContext) -> None:
    # over R-9, a legacy rehabilitation zone of nobody in particular, inside LC-1
    result = check(ctx, proposal(f.utm_box(950, 450, 200, 200), id=["NEW-2"]))
    assert codes(result) == ["PARCEL_OVER_REHAB"]
    [hit] = result["findings"]
    assert (hit["severity"], hit["id"], hit["holder"]) == ("warn", "R-9", "Эзэнгүй")
    assert hit["overlap_ha"] == pytest.approx(1.0, rel=1e-4)
    assert result["verdict"] == "clear"
    assert result["counts"] == {"block": 0, "warn": 1, "info": 0}


def test_a_repaired_geometry_is_reported_and_stays_clear(ctx: ReviewContext) -> None:
    a, b, c, d = shapely.get_coordinates(f.utm_box(500, 100, 200, 200))[:4]
    bowtie = shapely.Polygon([a, c, b, d])  # two triangles: half of the 4 ha square
    result = check(ctx, proposal(bowtie, id=["NEW-3"]))
    assert result["verdict"] == "clear"
    assert codes(result) == ["GEOMETRY_REPAIRED"]
    assert result["findings"][0]["severity"] == "info"
    assert result["repairs"][0]["layer"] == "proposal"
    assert "Self-intersection" in result["repairs"][0]["reason"]
    assert result["area"]["official_ha"] == pytest.approx(2.0, rel=1e-3)


# ------------------------------------------------------------------------------ parcel rules


def test_a_parcel_partly_outside_its_land_conclusion(ctx: ReviewContext) -> None:
    result = check(ctx, proposal(f.utm_box(1900, 100, 200, 200), id=["NEW-4"]))
    assert result["verdict"] == "conflicts"
    assert codes(result) == ["PARCEL_OUTSIDE_LC"]
    hit = result["findings"][0]
    assert (hit["layer"], hit["id"]) == ("land_conclusions", "LC-1")
    assert hit["overlap_ha"] == pytest.approx(2.0, rel=1e-4)


def test_a_parcel_in_no_land_conclusion(ctx: ReviewContext) -> None:
    result = check(ctx, proposal(f.utm_box(3000, 3000, 100, 100), id=["NEW-5"]))
    assert codes(result) == ["PARCEL_LC_NOT_VALID"]
    assert "it lies in no Land Conclusion" in result["findings"][0]["message_en"]
    assert result["land_conclusions"] == [{"proposal_id": "NEW-5", "id": None, "found": False,
                                           "name": None, "status": None, "valid_until": None,
                                           "overlap_ha": 0.0}]  # fmt: skip
    assert result["verdict"] == "conflicts"


def test_a_parcel_naming_its_land_conclusion_is_checked_against_that_one() -> None:
    layers = scene()
    layers["land_conclusions"].append(
        f.land_conclusion("LC-2", status="submitted", valid_until=None,
                          geometry=f.utm_box(0, 2000, 1000, 1000))
    )  # fmt: skip
    context = ReviewContext(frames(layers))
    inside_lc2 = f.utm_box(100, 2100, 200, 200)
    result = check(context, proposal(inside_lc2, id=["N"], land_conclusion_id=["LC-2"]))
    assert codes(result) == ["PARCEL_LC_NOT_VALID"]
    assert "(status: Submitted to MRPAM)" in result["findings"][0]["message_en"]
    # the same parcel naming LC-1 lies wholly outside it
    result = check(context, proposal(inside_lc2, id=["N"], land_conclusion_id=["LC-1"]))
    assert codes(result) == ["PARCEL_OUTSIDE_LC"]
    assert result["findings"][0]["overlap_ha"] == pytest.approx(4.0, rel=1e-4)
    # naming none, the Land Conclusion it lies in is found (and is not valid)
    result = check(context, proposal(inside_lc2, id=["N"]))
    assert result["land_conclusions"][0]["id"] == "LC-2"
    assert codes(result) == ["PARCEL_LC_NOT_VALID"]


def test_a_parcel_above_the_cap(ctx: ReviewContext) -> None:
    result = check(ctx, proposal(f.utm_box(500, 100, 250, 250), id=["BIG"]))
    assert codes(result) == ["PARCEL_OVER_CAP"]
    assert result["findings"][0]["overlap_ha"] == pytest.approx(6.25, rel=1e-4)
    assert "cap of 5 ha" in result["findings"][0]["message_en"]
    looser = AnalysisSettings(parcel_cap_ha=7.0)  # type: ignore[call-arg]
    result = review(proposal(f.utm_box(500, 100, 250, 250)), kind="parcel", layers=ctx,
                    today=TODAY, settings=looser)  # fmt: skip
    assert result["verdict"] == "clear"


def test_a_parcel_over_exclusion_and_licence(ctx: ReviewContext) -> None:
    # X-1 is utm_box(5000, 0, 1000, 1000), MV-1 utm_box(8000, 0, 1000, 1000)
    result = check(
        ctx,
        proposal(f.utm_box(4900, 100, 200, 200), f.utm_box(7900, 100, 200, 200), id=["A", "B"]),
    )
    over = {(x["code"], x["proposal_id"], x["id"]): x for x in result["findings"]}
    assert over[("PARCEL_OVER_EXCLUSION", "A", "X-1")]["overlap_ha"] == pytest.approx(2.0, rel=1e-4)
    assert over[("PARCEL_OVER_LICENCE", "B", "MV-1")]["holder"] == "Хараа Голд ХХК"
    assert "Protected area" in over[("PARCEL_OVER_EXCLUSION", "A", "X-1")]["message_en"]


def test_proposed_parcels_overlapping_each_other(ctx: ReviewContext) -> None:
    result = check(
        ctx, proposal(f.utm_box(500, 100, 200, 200), f.utm_box(600, 100, 200, 200), id=["A", "B"])
    )
    hits = [x for x in result["findings"] if x["code"] == "PARCEL_OVERLAP"]
    assert [(x["proposal_id"], x["layer"], x["id"]) for x in hits] == [("A", "proposal", "B")]
    assert hits[0]["overlap_ha"] == pytest.approx(2.0, rel=1e-4)
    assert [x["verdict"] for x in result["features"]] == ["conflicts", "clear"]


def test_rechecking_a_stored_parcel_does_not_find_it_over_itself(ctx: ReviewContext) -> None:
    result = check(ctx, proposal(f.utm_box(100, 100, 200, 200), id=["P-1"]))
    assert result["verdict"] == "clear"


# ----------------------------------------------------------------------- Land Conclusions


#: Boxes kilometres wide are drawn by their corners, and their edges run straight in lon/lat,
#: not in UTM: overlaps of such boxes differ from the drawn metres by up to ~0.3 %.
KM = 3e-3


def test_a_land_conclusion_straddling_two_soums(ctx: ReviewContext) -> None:
    # Mandal (MN4322) ends at x = 15000, Bayangol (MN4310) begins there: half in each
    lc = proposal(f.utm_box(14000, 0, 2000, 1000), id=["LC-NEW"], soum_code=["MN4322"])
    result = check(ctx, lc, kind="land_conclusion")
    assert result["area"]["official_ha"] == pytest.approx(200.0, rel=KM)
    shares = {s["soum_code"]: (s["overlap_ha"], s["share"]) for s in result["soums"]}
    assert shares["MN4322"] == (pytest.approx(100.0, rel=KM), pytest.approx(0.5, rel=KM))
    assert shares["MN4310"] == (pytest.approx(100.0, rel=KM), pytest.approx(0.5, rel=KM))
    assert result["proposing_soum"] == "MN4322"
    assert result["outside_soum_ha"] == pytest.approx(100.0, rel=KM)
    assert result["outside_soum_share"] == pytest.approx(0.5, rel=KM)
    assert codes(result) == ["LC_OUTSIDE_SOUM"]
    hit = result["findings"][0]
    assert (hit["layer"], hit["id"], hit["holder"]) == ("soums", "MN4322", "Mandal")
    assert result["verdict"] == "conflicts"
    # proposed by Bayangol instead: the other half is outside
    result = check(ctx, lc, kind="land_conclusion", soum_code="MN4310")
    assert result["proposing_soum"] == "MN4310"
    assert result["findings"][0]["id"] == "MN4310"


def test_the_proposing_soum_defaults_to_the_soum_it_overlaps_most(ctx: ReviewContext) -> None:
    lc = proposal(f.utm_box(14500, 0, 2000, 1000), id=["LC-NEW"])  # 1500 m in Bayangol
    result = check(ctx, lc, kind="land_conclusion")
    assert [s["soum_code"] for s in result["soums"]] == ["MN4310", "MN4322"]
    assert result["proposing_soum"] == "MN4310"
    assert result["outside_soum_share"] == pytest.approx(0.25, rel=KM)


def test_a_land_conclusion_over_another_a_licence_and_an_exclusion(ctx: ReviewContext) -> None:
    lc = proposal(f.utm_box(1500, 0, 7000, 500), id=["LC-NEW"], soum_code=["MN4322"])
    result = check(ctx, lc, kind="land_conclusion")
    found = {(x["code"], x["id"]): x["overlap_ha"] for x in result["findings"]}
    assert found == {
        ("LC_OVER_LC", "LC-1"): pytest.approx(25.0, rel=KM),
        ("LC_OVER_EXCLUSION", "X-1"): pytest.approx(50.0, rel=KM),
        ("LC_OVER_LICENCE", "MV-1"): pytest.approx(25.0, rel=KM),
    }
    assert result["land_conclusions"] == []  # only parcels are placed in a Land Conclusion
    assert result["verdict"] == "conflicts"


def test_a_clear_land_conclusion_over_parcels_of_nobody(ctx: ReviewContext) -> None:
    lc = proposal(f.utm_box(3000, 3000, 1000, 1000), id=["LC-NEW"], soum_code=["MN4322"])
    result = check(ctx, lc, kind="land_conclusion")
    assert result["verdict"] == "clear" and result["findings"] == []


# ------------------------------------------------------------------------------- the input


def test_a_proposal_in_utm_is_reprojected_and_ids_default_to_positions(
    ctx: ReviewContext,
) -> None:
    utm = proposal(f.utm_box(500, 100, 200, 200)).to_crs(f.ZONE48)
    result = check(ctx, utm)
    assert result["features"][0]["id"] == "#1"
    assert result["area"]["official_ha"] == pytest.approx(4.0, rel=1e-4)


def test_review_refuses_what_is_not_a_proposal(ctx: ReviewContext) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        review(proposal(f.utm_box(0, 0, 1, 1)), kind="licence", layers=ctx,  # type: ignore[arg-type]
               today=TODAY, settings=SETTINGS)  # fmt: skip
    with pytest.raises(ValueError, match="no CRS"):
        review(gpd.GeoDataFrame(geometry=[f.utm_box(0, 0, 1, 1)]), kind="parcel", layers=ctx,
               today=TODAY, settings=SETTINGS)  # fmt: skip


def test_a_mapping_of_layers_gives_the_same_review_as_a_context() -> None:
    layers = frames(scene())
    frame = proposal(f.utm_box(150, 100, 200, 200), id=["NEW-1"])
    from_layers = review(frame, kind="parcel", layers=layers, today=TODAY, settings=SETTINGS)
    from_ctx = review(frame, kind="parcel", layers=ReviewContext(layers), today=TODAY,
                      settings=SETTINGS)  # fmt: skip
    assert from_layers == from_ctx


def test_the_context_holds_every_review_layer() -> None:
    context = ReviewContext({})
    assert all(len(context.frame(name)) == 0 for name in REVIEW_LAYERS)
    assert check(context, proposal(f.utm_box(500, 100, 200, 200)))["verdict"] == "conflicts"


def test_the_examples_in_the_docstrings_hold() -> None:
    import doctest

    import geo.review

    result = doctest.testmod(geo.review)
    assert result.attempted >= 5
    assert result.failed == 0


def test_the_examples_of_the_review_modules_hold() -> None:
    import doctest

    import geo.review_input
    import geo.review_types

    for module in (geo.review_input, geo.review_types):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0


def test_a_review_is_typed_and_keeps_each_findings_geometry(ctx: ReviewContext) -> None:
    from geo.area import official_ha
    from geo.review_types import FeatureReview, Finding, Review

    shape = f.utm_box(150, 100, 200, 200)
    result = review(proposal(shape, id=["NEW-1"]), kind="parcel", layers=ctx, today=TODAY,
                    settings=SETTINGS)  # fmt: skip
    assert isinstance(result, Review) and result.verdict == "conflicts"
    [feature] = result.features
    assert isinstance(feature, FeatureReview) and feature.geometry.equals(shape)
    [hit] = [x for x in result.findings if x.code == "PARCEL_OVERLAP"]
    assert isinstance(hit, Finding) and (hit.layer, hit.id) == ("contract_parcels", "P-1")
    # the kept geometry is the part shared with P-1: its area is the finding's hectares
    assert hit.geometry is not None and hit.geometry.within(shape.buffer(1e-9))
    assert float(official_ha([hit.geometry])[0]) == pytest.approx(hit.overlap_ha, rel=1e-4)
    # the JSON leaves geometries out and reads the same through the mapping
    doc = result.as_json()
    assert "geometry" not in doc["findings"][0] and doc == dict(result)
    assert doc["verdict_en"] == result.verdict_en == "Conflicts"


# ------------------------------------------------------------------- every overlapped feature


def _utm_ha(shape: shapely.Geometry) -> float:
    """Hectares by hand: the shape projected to its UTM zone (48N here), planar area."""
    import pyproj

    to_utm = pyproj.Transformer.from_crs(4326, 32648, always_xy=True)
    return float(shapely.transform(shape, lambda c: np.column_stack(
        to_utm.transform(c[:, 0], c[:, 1])
    )).area) / 10_000  # fmt: skip


def test_a_land_conclusion_lists_every_feature_it_overlaps(ctx: ReviewContext) -> None:
    # x 150..1150 m, y 50..850 m: inside LC-1 (a rule broken), over parcel P-1 (x 100..300,
    # y 100..300: 150 m x 200 m = 3 ha) and zones R-1 (20 m x 50 m) and R-9 (100 m x 100 m)
    shape = f.utm_box(150, 50, 1000, 800)
    result = check(ctx, proposal(shape, id=["LC-NEW"]), kind="land_conclusion")
    listed = [(x.layer, x.id, x.severity, x.code) for x in result.overlaps]
    assert listed == [
        ("land_conclusions", "LC-1", "block", "LC_OVER_LC"),
        ("contract_parcels", "P-1", "info", None),
        ("rehab_zones", "R-9", "info", None),
        ("rehab_zones", "R-1", "info", None),
    ]
    by_id = {x.id: x for x in result.overlaps}
    stored = {r.id: r for r in (ctx.frame("contract_parcels"), ctx.frame("rehab_zones"))
              for r in r.itertuples()}  # fmt: skip
    for fid, expected in (("P-1", 3.0), ("R-9", 1.0), ("R-1", 0.1)):
        by_hand = _utm_ha(shapely.intersection(shape, stored[fid].geometry))
        assert by_hand == pytest.approx(expected, abs=1e-4)  # 1 m2
        assert by_id[fid].overlap_ha == pytest.approx(by_hand, abs=1e-4)
    p1 = by_id["P-1"]
    assert (p1.holder, p1.status, p1.live, p1.proposal_id) == (
        "Алтан шижир нөхөрлөл", "active", True, "LC-NEW"
    )  # fmt: skip
    assert by_id["LC-1"].name == "Мандал - Баруун ам" and by_id["LC-1"].status == "issued"
    assert by_id["R-9"].status == "required" and by_id["R-9"].geometry is not None
    # the rules it breaks are unchanged; the info overlaps are not findings
    assert codes(result) == ["LC_OVER_LC"]
    assert result["overlaps"][1] == {
        "severity": "info", "code": None, "proposal_id": "LC-NEW", "layer": "contract_parcels",
        "id": "P-1", "name": None, "holder": "Алтан шижир нөхөрлөл", "status": "active",
        "live": True, "overlap_ha": p1.overlap_ha,
    }  # fmt: skip


def test_breaking_overlaps_keep_their_severity(ctx: ReviewContext) -> None:
    result = check(ctx, proposal(f.utm_box(150, 100, 200, 200), id=["NEW-1"]))
    assert [(x.layer, x.id, x.severity, x.code) for x in result.overlaps] == [
        ("contract_parcels", "P-1", "block", "PARCEL_OVERLAP"),
        ("rehab_zones", "R-1", "warn", "PARCEL_OVER_REHAB"),
        ("land_conclusions", "LC-1", "info", None),
    ]
    assert result.overlaps[0].overlap_ha == pytest.approx(3.0, rel=1e-4)


def test_a_feature_that_no_longer_counts_is_listed_as_info() -> None:
    layers = scene()
    layers["licences"] = [f.licence(expires_on=TODAY.replace(year=2020),
                                    geometry=f.utm_box(500, 100, 300, 300))]  # fmt: skip
    old = ReviewContext(frames(layers))
    result = check(old, proposal(f.utm_box(500, 100, 200, 200), id=["NEW-5"]))
    [lic] = [x for x in result.overlaps if x.layer == "licences"]
    assert (lic.severity, lic.code, lic.live) == ("info", None, False)
    assert lic.overlap_ha == pytest.approx(4.0, rel=1e-4)
    assert "PARCEL_OVER_LICENCE" not in codes(result)


def test_the_reviews_overlaps_are_the_engines_layer_by_layer() -> None:
    """The review sends every near feature to the engine in one pass, as arrays
    (``geo.overlaps.overlapping_pairs``): the records equal ``overlaps_between`` of the
    proposal with each layer, in the order of proposal, layer and id."""
    import datetime as dt

    import pandas as pd

    import geo.review
    from geo.overlaps import overlaps_between
    from layers.demo import build_demo

    demo = build_demo(seed=5, scale=3, today=dt.date(2026, 5, 1))
    context = ReviewContext(demo)
    parcels = demo["contract_parcels"]
    compared = 0
    for k in range(0, len(parcels), 37):
        shape = parcels.geometry.iloc[k]
        ok = proposal(
            shapely.affinity.translate(shape, 0.0002, 0.0001),
            shapely.affinity.scale(shape, 4, 4),
            id=["P-1", "P-2"],
        )
        geoms = np.asarray(ok.geometry.array, dtype=object)
        near = {name: context.near(name, geoms) for name in REVIEW_LAYERS}
        got, _ = geo.review._overlaps(ok, near, 1.0)
        parts = []
        for name in REVIEW_LAYERS:
            if len(near[name]):
                rec = overlaps_between(ok, near[name], a_layer="proposal", b_layer=name).records
                parts.append(rec)
        want = pd.concat(parts, ignore_index=True)
        want = want.iloc[np.lexsort((want["b_id"], want["b_layer"], want["a_id"]))]
        assert len(got) > 0
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True), want.reset_index(drop=True), check_exact=True
        )
        compared += len(got)
    assert compared > 20
