"""Availability per Land Conclusion: hand-drawn shapes in UTM metres, hectares worked out by hand.

The Land Conclusion is 2000 m x 1000 m (200 ha). Each expected area is checked twice:

* against the hand value in metres, to 1 m² (0.0001 ha): the shapes are drawn in UTM and
  stored by their corners in lon/lat, where edges are straight in lon/lat; a 1 km edge so
  drawn bows about 1 cm off the straight UTM line, which moves the part of a parcel cut by the
  Land Conclusion's edge by up to ~0.1 m²;
* against the official area of the expected piece itself (drawn as boxes, or the part of a
  feature inside the Land Conclusion), to 1e-6 relative.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from geo.area import official_ha, segmentize_rings
from geo.availability import (
    AREA_COLUMNS,
    COLUMNS,
    LandConclusionNotInForce,
    availability,
    availability_totals,
    in_force,
    require_in_force,
)
from layers.store import Store
from tests import factories as f

TODAY = dt.date(2026, 1, 1)
runner = CliRunner()


def _ha(*boxes: tuple[float, float, float, float]) -> float:
    """Official hectares of UTM boxes (x, y, w, h) that do not overlap one another."""
    return float(official_ha([f.utm_box(*b) for b in boxes]).sum())


def _empty(layer: str) -> gpd.GeoDataFrame:
    return f.frame(layer, [])


def _run(
    lcs: Sequence[dict[str, Any]],
    parcels: Sequence[dict[str, Any]] = (),
    zones: Sequence[dict[str, Any]] = (),
    exclusions: Sequence[dict[str, Any]] = (),
    licences: Sequence[dict[str, Any]] = (),
) -> gpd.GeoDataFrame:
    return availability(
        f.frame("land_conclusions", list(lcs)),
        f.frame("contract_parcels", list(parcels)),
        f.frame("rehab_zones", list(zones)),
        f.frame("exclusions", list(exclusions)),
        f.frame("licences", list(licences)),
        today=TODAY,
    )


def _licence(fid: str, geometry: shapely.Geometry) -> dict[str, Any]:
    return {"id": fid, "kind": "MV", "holder": "Алт ХХК", "geometry": geometry}


# One Land Conclusion with every kind of blocked land:
#   active parcel P-1   x 100-300, y 100-300               4 ha   allocated
#   applied parcel P-2  x 1000-1100, y 600-700             1 ha   allocated
#   expired P-3, terminated P-4                            -      not allocated
#   suspended P-5 x 1600-1700, y 100-200                   1 ha   allocated (it may be reinstated)
#   parcel P-6 half outside the LC: x -100-100, y 500-600  1 ha   allocated (inside half)
#   rehab R-1 (required) x 250-350, y 100-200: 0.5 ha on P-1, 0.5 ha rehab-blocked
#   rehab R-2 (accepted)                                   -      not blocking
#   exclusion X-1 x 1900-2100, y 400-600: half inside       2 ha   excluded
#   licence L-1 x 200-500, y 250-350: 0.5 ha on P-1        2.5 ha excluded
#   licence L-2, expired yesterday                         -      not excluded
SCENE = {
    "parcels": [
        f.parcel("P-1", geometry=f.utm_box(100, 100, 200, 200)),
        f.parcel("P-2", status="applied", geometry=f.utm_box(1000, 600, 100, 100)),
        f.parcel("P-3", status="expired", geometry=f.utm_box(1000, 100, 200, 200)),
        f.parcel("P-4", status="terminated", geometry=f.utm_box(1300, 100, 200, 200)),
        f.parcel("P-5", status="suspended", geometry=f.utm_box(1600, 100, 100, 100)),
        f.parcel("P-6", geometry=f.utm_box(-100, 500, 200, 100)),
    ],
    "zones": [
        f.rehab_zone("R-1", geometry=f.utm_box(250, 100, 100, 100)),
        f.rehab_zone(
            "R-2",
            stage="accepted",
            accepted_on=dt.date(2025, 6, 1),
            geometry=f.utm_box(600, 600, 100, 100),
        ),
    ],
    "exclusions": [f.exclusion("X-1", geometry=f.utm_box(1900, 400, 200, 200))],
    "licences": [
        _licence("L-1", f.utm_box(200, 250, 300, 100)),
        {**_licence("L-2", f.utm_box(800, 800, 100, 100)), "expires_on": dt.date(2025, 12, 31)},
    ],
}


@pytest.fixture
def scene() -> gpd.GeoDataFrame:
    return _run([f.land_conclusion()], **SCENE)


def _inside_lc(geometry: shapely.Geometry) -> float:
    """Official hectares of the part of ``geometry`` inside the 2000 x 1000 m Land Conclusion."""
    return float(official_ha([shapely.intersection(geometry, f.utm_box(0, 0, 2000, 1000))])[0])


HAND_M2 = 1e-4  # 1 m², in hectares


def test_each_hectare_is_counted_once_in_priority_order(scene: gpd.GeoDataFrame) -> None:
    assert list(scene.columns) == list(COLUMNS)
    assert scene.crs.to_epsg() == 4326
    row = scene.iloc[0]
    # by hand, in metres
    assert row["area_ha"] == pytest.approx(200.0, abs=HAND_M2)
    assert row["allocated_ha"] == pytest.approx(4.0 + 1.0 + 1.0 + 1.0, abs=HAND_M2)
    assert row["rehab_blocked_ha"] == pytest.approx(0.5, abs=HAND_M2)
    assert row["excluded_ha"] == pytest.approx(2.0 + 2.5, abs=HAND_M2)
    assert row["available_ha"] == pytest.approx(200.0 - 7.0 - 0.5 - 4.5, abs=HAND_M2)
    # the official area of each expected piece
    assert row["area_ha"] == pytest.approx(_ha((0, 0, 2000, 1000)), rel=1e-12)
    p6_inside = _inside_lc(f.utm_box(-100, 500, 200, 100))
    allocated = _ha((100, 100, 200, 200), (1000, 600, 100, 100), (1600, 100, 100, 100)) + p6_inside
    assert row["allocated_ha"] == pytest.approx(allocated, rel=1e-6)
    p1, r1, l1 = (
        f.utm_box(100, 100, 200, 200),
        f.utm_box(250, 100, 100, 100),
        f.utm_box(200, 250, 300, 100),
    )
    rehab_only = float(official_ha([shapely.difference(r1, p1)])[0])  # 50 x 100 m
    assert row["rehab_blocked_ha"] == pytest.approx(rehab_only, rel=1e-6)
    licence_only = float(official_ha([shapely.difference(l1, p1)])[0])  # 300 x 100 m less 100 x 50
    excluded = _inside_lc(f.utm_box(1900, 400, 200, 200)) + licence_only
    assert row["excluded_ha"] == pytest.approx(excluded, rel=1e-6)
    blocked = allocated + rehab_only + excluded
    assert row["available_ha"] == pytest.approx(row["area_ha"] - blocked, rel=1e-6)


def test_available_geometry_is_the_land_left_and_measures_available_ha(
    scene: gpd.GeoDataFrame,
) -> None:
    row = scene.iloc[0]
    free = row.geometry
    assert free.is_valid and free.geom_type == "Polygon"
    assert official_ha([free])[0] == pytest.approx(row["available_ha"], rel=1e-6)
    parts = row[["allocated_ha", "rehab_blocked_ha", "excluded_ha", "available_ha"]].sum()
    assert parts == pytest.approx(row["area_ha"], rel=1e-12)
    # no allocated, rehabilitation, excluded or licensed land is left in it
    kept = [*SCENE["parcels"][:2], *SCENE["parcels"][4:6], SCENE["zones"][0]]
    for feature in [*kept, *SCENE["exclusions"], SCENE["licences"][0]]:
        shared = shapely.intersection(free, feature["geometry"])
        assert official_ha([shared])[0] * 1e4 < 1e-6, feature["id"]  # below 1 mm²
    # land held by expired and terminated parcels and accepted rehab is free
    for feature in [*SCENE["parcels"][2:4], SCENE["zones"][1], SCENE["licences"][1]]:
        outside = shapely.difference(feature["geometry"], free)
        assert official_ha([outside])[0] * 1e4 < 1e-6, feature["id"]


def test_overlapping_parcels_count_their_shared_land_once() -> None:
    frame = _run(
        [f.land_conclusion()],
        parcels=[
            f.parcel("P-1", geometry=f.utm_box(100, 100, 200, 200)),
            f.parcel("P-2", geometry=f.utm_box(200, 100, 200, 200)),  # shares 100 x 200 m
            f.parcel("P-3", geometry=f.utm_box(150, 150, 50, 50)),  # wholly inside P-1
        ],
        zones=[f.rehab_zone("R-1", geometry=f.utm_box(120, 120, 50, 50))],  # all on P-1
    )
    row = frame.iloc[0]
    assert row["allocated_ha"] == pytest.approx(6.0, rel=1e-6)
    assert row["rehab_blocked_ha"] == 0.0
    assert row["excluded_ha"] == 0.0
    assert row["available_ha"] == pytest.approx(194.0, rel=1e-6)


def test_land_conclusions_not_in_force_are_left_out() -> None:
    lcs = [
        f.land_conclusion("LC-1"),
        f.land_conclusion("LC-2", status="rejected", valid_until=None),
        f.land_conclusion("LC-3", valid_until=dt.date(2025, 12, 31)),  # ended yesterday
        f.land_conclusion("LC-4", valid_until=TODAY),  # valid through today
        f.land_conclusion("LC-5", valid_until=None),  # no end date
        f.land_conclusion("LC-6", status="expired"),
        f.land_conclusion("LC-7", status="under_review", valid_until=None),
    ]
    frame = _run(lcs)
    assert frame["id"].tolist() == ["LC-1", "LC-4", "LC-5"]
    assert in_force(f.frame("land_conclusions", lcs), today=TODAY).tolist() == [
        True, False, False, True, True, False, False,
    ]  # fmt: skip


def test_require_in_force_names_the_reason() -> None:
    rejected = f.frame("land_conclusions", [f.land_conclusion("LC-2", status="rejected")])
    with pytest.raises(LandConclusionNotInForce, match=r"LC-2.*not issued.*Rejected"):
        require_in_force(rejected, today=TODAY)
    ended = f.frame(
        "land_conclusions", [f.land_conclusion("LC-3", valid_until=dt.date(2025, 1, 1))]
    )
    with pytest.raises(LandConclusionNotInForce, match="validity ended on 2025-01-01"):
        require_in_force(ended, today=TODAY)
    require_in_force(f.frame("land_conclusions", [f.land_conclusion()]), today=TODAY)


def test_land_wholly_blocked_leaves_an_empty_geometry() -> None:
    frame = _run(
        [f.land_conclusion()],
        exclusions=[f.exclusion("X-1", geometry=f.utm_box(-10, -10, 2020, 1020))],
    )
    row = frame.iloc[0]
    assert row["excluded_ha"] == pytest.approx(row["area_ha"], rel=1e-9)
    assert row["available_ha"] == pytest.approx(0.0, abs=1e-9)
    assert row.geometry.is_empty


def test_nothing_blocked_leaves_the_whole_land_conclusion() -> None:
    frame = _run([f.land_conclusion()])
    row = frame.iloc[0]
    assert row[["allocated_ha", "rehab_blocked_ha", "excluded_ha"]].tolist() == [0.0, 0.0, 0.0]
    assert row["available_ha"] == row["area_ha"]
    assert row.geometry.equals(f.utm_box(0, 0, 2000, 1000))


def test_blocked_land_of_one_land_conclusion_does_not_leak_into_another() -> None:
    lcs = [
        f.land_conclusion("LC-1", geometry=f.utm_box(0, 0, 1000, 1000)),
        f.land_conclusion("LC-2", geometry=f.utm_box(1000, 0, 1000, 1000)),  # shares an edge
    ]
    # one parcel across the shared edge: 1 ha in each
    parcel = f.utm_box(900, 0, 200, 100)
    frame = _run(lcs, parcels=[f.parcel("P-1", geometry=parcel)])
    assert frame["allocated_ha"].tolist() == pytest.approx([1.0, 1.0], abs=HAND_M2)
    assert frame["available_ha"].tolist() == pytest.approx([99.0, 99.0], abs=HAND_M2)
    halves = official_ha(shapely.intersection(parcel, [lc["geometry"] for lc in lcs]))
    assert frame["allocated_ha"].tolist() == pytest.approx(halves.tolist(), rel=1e-6)


def test_totals_per_soum_and_per_aimag() -> None:
    lcs = [
        f.land_conclusion("LC-1"),  # MN4322 / MN43, 200 ha, 4 ha allocated
        f.land_conclusion(
            "LC-2", soum_code="MN4310", geometry=f.utm_box(3000, 0, 1000, 1000)
        ),  # 100 ha
        f.land_conclusion(
            "LC-3", soum_code="MN8201", aimag_code="MN82", geometry=f.utm_box(5000, 0, 500, 1000)
        ),  # 50 ha
        f.land_conclusion("LC-4", status="rejected", geometry=f.utm_box(7000, 0, 1000, 1000)),
    ]
    frame = _run(lcs, parcels=[f.parcel("P-1")])
    soums = availability_totals(frame, by="soum_code")
    assert soums["soum_code"].tolist() == ["MN4310", "MN4322", "MN8201"]
    assert soums["land_conclusions"].tolist() == [1, 1, 1]
    assert soums["area_ha"].tolist() == pytest.approx([100.0, 200.0, 50.0], rel=1e-6)
    assert soums["allocated_ha"].tolist() == pytest.approx([0.0, 4.0, 0.0], rel=1e-6)
    aimags = availability_totals(frame, by="aimag_code")
    assert aimags["aimag_code"].tolist() == ["MN43", "MN82"]
    assert aimags["land_conclusions"].tolist() == [2, 1]
    assert aimags["available_ha"].tolist() == pytest.approx([296.0, 50.0], rel=1e-6)
    assert list(aimags.columns) == ["aimag_code", "land_conclusions", *AREA_COLUMNS]
    with pytest.raises(ValueError, match="by must be"):
        availability_totals(frame, by="holder")  # type: ignore[arg-type]


def test_invalid_geometry_is_repaired_and_reported() -> None:
    # a bow-tie parcel: two triangles of 1 ha each, crossing at (200, 200)
    x0, y0 = f.ORIGIN
    bowtie_utm = shapely.Polygon(
        [(x0 + 100, y0 + 100), (x0 + 300, y0 + 300), (x0 + 300, y0 + 100), (x0 + 100, y0 + 300)]
    )
    corners = shapely.get_coordinates(bowtie_utm)
    lon, lat = f._TO_LONLAT.transform(corners[:, 0], corners[:, 1])
    bowtie = shapely.Polygon(np.column_stack((lon, lat)))
    assert not bowtie.is_valid
    frame = _run([f.land_conclusion()], parcels=[f.parcel("P-bad", geometry=bowtie)])
    assert frame.iloc[0]["allocated_ha"] == pytest.approx(2.0, rel=1e-6)
    repaired = frame.attrs["repaired"]
    assert [(r.layer, r.feature_id) for r in repaired] == [("contract_parcels", "P-bad")]


def test_inputs_are_checked() -> None:
    lcs = f.frame("land_conclusions", [f.land_conclusion()])
    empty = {k: _empty(k) for k in ("contract_parcels", "rehab_zones", "exclusions", "licences")}
    with pytest.raises(ValueError, match="EPSG:4326"):
        availability(lcs.to_crs(32648), *empty.values(), today=TODAY)
    with pytest.raises(ValueError, match="'status'"):
        availability(
            lcs, empty["contract_parcels"].drop(columns="status"), *list(empty.values())[1:],
            today=TODAY,
        )  # fmt: skip


# -- the command line ----------------------------------------------------------------------


@pytest.fixture
def planning_store(store: Store) -> Store:
    lcs = [
        f.land_conclusion(),
        f.land_conclusion("LC-2", status="rejected", geometry=f.utm_box(3000, 0, 1000, 1000)),
        f.land_conclusion("LC-3", soum_code="MN4310", geometry=f.utm_box(5000, 0, 500, 1000)),
    ]
    store.write(
        f.frames(
            {
                "land_conclusions": lcs,
                "contract_parcels": SCENE["parcels"],
                "rehab_zones": SCENE["zones"],
                "exclusions": SCENE["exclusions"],
                "licences": SCENE["licences"],
            }
        )
    )
    return store


def _cli(store: Store, *args: str) -> Any:
    return runner.invoke(app, [*args, "--db", store.location, "--today", TODAY.isoformat()])


def test_cli_availability_table_is_bilingual(planning_store: Store) -> None:
    result = _cli(planning_store, "availability")
    assert result.exit_code == 0, result.output
    for text in ("Чөлөөт газар / Available land", "Сумаар / By soum", "Аймгаар / By aimag"):
        assert text in result.output
    assert "LC-1" in result.output and "LC-3" in result.output
    assert "LC-2" not in result.output  # rejected
    assert "188.00" in result.output  # LC-1's available hectares (suspended P-5 allocated)


def test_cli_availability_json(planning_store: Store) -> None:
    result = _cli(planning_store, "availability", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    assert doc["as_of"] == "2026-01-01"
    rows = {r["id"]: r for r in doc["land_conclusions"]}
    assert set(rows) == {"LC-1", "LC-3"}
    assert rows["LC-1"]["excluded_ha"] == pytest.approx(4.5, abs=HAND_M2)
    assert rows["LC-3"]["available_ha"] == pytest.approx(50.0, abs=HAND_M2)
    soums = {r["soum_code"]: r for r in doc["totals"]["soum"]}
    assert soums["MN4322"]["available_ha"] == pytest.approx(188.0, abs=HAND_M2)
    assert doc["totals"]["aimag"][0]["land_conclusions"] == 2


def test_cli_availability_csv_and_soum_filter(planning_store: Store) -> None:
    result = _cli(planning_store, "availability", "--format", "csv", "--soum", "MN4310")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table["id"].tolist() == ["LC-3"]
    assert list(table.columns) == list(COLUMNS[:-1])
    assert table["area_ha"].iloc[0] == pytest.approx(50.0, rel=1e-6)


def test_cli_availability_geojson_features_are_the_available_land(planning_store: Store) -> None:
    result = _cli(planning_store, "availability", "--format", "geojson")
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    assert doc["type"] == "FeatureCollection"
    features = {feat["properties"]["id"]: feat for feat in doc["features"]}
    geom = shapely.geometry.shape(features["LC-1"]["geometry"])
    props = features["LC-1"]["properties"]
    assert official_ha([geom])[0] == pytest.approx(props["available_ha"], rel=1e-6)
    assert props["available_ha"] == pytest.approx(188.0, abs=HAND_M2)
    assert props["allocated_ha"] == pytest.approx(7.0, abs=HAND_M2)


def test_cli_availability_refuses_an_unknown_soum_and_format(planning_store: Store) -> None:
    result = _cli(planning_store, "availability", "--soum", "MN0000")
    assert result.exit_code == 1
    assert "MN0000" in result.output and "сум" in result.output
    assert _cli(planning_store, "availability", "--format", "xml").exit_code == 2


# A valid ring passing within floating-point noise of one of its own vertices (a Land
# Conclusion's north edge cut by an exclusion, from the scale-1000 demo): GEOS's polygon
# densifier turns it into a 1e-15 self-crossing and "repairs" it with buffer(0) to nothing.
WEDGE = shapely.Polygon(
    [
        (107.03359355118371, 48.790595033442386),
        (107.03269997275956, 48.76847891555779),
        (106.99924245386174, 48.76906438743751),
        (107.00001432371126, 48.78848778071083),
        (107.00865626820035, 48.78848778071083),
        (107.00865626820035, 48.79103155617439),
        (107.00012134840345, 48.791180958437245),
    ]
)


def test_edges_are_split_ring_by_ring_so_no_polygon_is_lost() -> None:
    assert WEDGE.is_valid
    dense = segmentize_rings([WEDGE, shapely.MultiPolygon([WEDGE]), None], 0.001)
    assert dense[0].geom_type == "Polygon" and dense[1].geom_type == "MultiPolygon"
    assert dense[2] is None
    assert shapely.area(dense[:2]) == pytest.approx([WEDGE.area] * 2, rel=1e-12)
    assert shapely.get_num_coordinates(dense[0]) > 60  # 3.3 km of edges every ~0.001 deg
    frame = _run([f.land_conclusion(geometry=WEDGE)])
    chords = official_ha([WEDGE], edges="projected")[0]  # no splitting: off by < 1e-3
    assert frame.iloc[0]["area_ha"] == pytest.approx(chords, rel=1e-3)
    assert frame.iloc[0]["available_ha"] == frame.iloc[0]["area_ha"] > 500
