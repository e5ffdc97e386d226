"""The findings and the available land kept and updated by each change equal a whole
recomputation (``api.services.derived``, ``geo.incremental``), on both backends.

One long-lived ``Services`` follows a store through inserts, updates and deletes in every
layer (a parcel moved from one Land Conclusion to another, a Land Conclusion's geometry and
status changed, a licence deleted, ...); after each step its answers are compared with those
of a fresh ``Services`` computing from scratch, and the Land Conclusions whose availability
was recomputed are exactly those whose land the change touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from api.services import Services
from api.settings import load_settings
from geo.incremental import kept as kept_module
from layers.changes import diff_frames
from layers.store import Store, open_store
from tests import factories as f

DAY = dt.date(2026, 6, 30)
BLOCKERS = ("contract_parcels", "rehab_zones", "exclusions", "licences")


def _base(store: Store) -> None:
    lc = f.land_conclusion
    store.write(
        {
            "soums": f.frame("soums", [f.soum()]),
            "land_conclusions": f.frame(
                "land_conclusions",
                [
                    lc("LC-1"),
                    lc("LC-2", geometry=f.utm_box(3000, 0, 2000, 1000)),
                    f.proposed_land_conclusion("LC-3", geometry=f.utm_box(0, 2000, 1000, 1000)),
                    lc("LC-4", geometry=f.utm_box(1800, 0, 800, 600)),  # over LC-1's edge
                    lc("LC-6", geometry=f.utm_box(6000, 3000, 1000, 1000)),  # far away
                ],
            ),
            "contract_parcels": f.frame(
                "contract_parcels",
                [
                    f.parcel("P-1"),
                    f.parcel("P-2", holder="B", geometry=f.utm_box(250, 100, 200, 200)),
                    f.parcel(
                        "P-3",
                        holder="C",
                        land_conclusion_id="LC-2",
                        geometry=f.utm_box(3100, 100, 200, 200),
                    ),
                    f.parcel(
                        "P-4",
                        holder="D",
                        land_conclusion_id="LC-2",
                        geometry=f.utm_box(4900, 500, 200, 200),
                    ),  # partly outside
                    f.parcel(
                        "P-5",
                        holder="E",
                        land_conclusion_id="LC-3",
                        geometry=f.utm_box(100, 2100, 200, 200),
                    ),  # LC-3 is proposed
                    f.parcel(
                        "P-6",
                        holder="F",
                        geometry=f.utm_box(1000, 300, 300, 300),
                        expires_on=dt.date(2026, 1, 1),
                    ),  # active past expiry, over cap
                    f.parcel(
                        "P-9",
                        holder="G",
                        land_conclusion_id="LC-6",
                        geometry=f.utm_box(6100, 3100, 100, 100),
                    ),
                ],
            ),
            "rehab_zones": f.frame(
                "rehab_zones",
                [
                    f.rehab_zone("R-1"),
                    f.rehab_zone(
                        "R-2",
                        parcel_id=None,
                        holder="Z",
                        due_on=dt.date(2026, 1, 1),
                        geometry=f.utm_box(3250, 100, 100, 100),
                    ),  # over P-3, overdue
                ],
            ),
            "exclusions": f.frame(
                "exclusions", [f.exclusion("X-1", geometry=f.utm_box(4500, 0, 1000, 300))]
            ),
            "licences": f.frame(
                "licences", [f.licence("MV-1", geometry=f.utm_box(1500, 800, 1000, 1000))]
            ),
        }
    )


def _one(layer: str, row: dict[str, Any]) -> dict[str, gpd.GeoDataFrame]:
    return {layer: f.frame(layer, [row])}


def _upsert(layer: str, row: dict[str, Any]) -> Callable[[Store], None]:
    return lambda s: s.write(_one(layer, row), mode="upsert")


def _delete(layer: str, *ids: str) -> Callable[[Store], None]:
    def run(store: Store) -> None:
        store.delete(layer, list(ids))

    return run


#: (what, the change, the Land Conclusions whose land it touches, or None: work it out)
STEPS: list[tuple[str, Callable[[Store], None], set[str] | None]] = [
    ("insert a parcel over P-1", _upsert("contract_parcels", f.parcel(
        "P-8", holder="H", geometry=f.utm_box(150, 150, 200, 200))), {"LC-1"}),
    ("move P-3 from LC-2 to LC-1", _upsert("contract_parcels", f.parcel(
        "P-3", holder="C", land_conclusion_id="LC-1", geometry=f.utm_box(600, 500, 200, 200))),
     {"LC-1", "LC-2"}),
    ("LC-2: new geometry, status expired", _upsert("land_conclusions", f.land_conclusion(
        "LC-2", status="expired", geometry=f.utm_box(3000, 0, 2500, 1200))), {"LC-2"}),
    ("issue LC-3 with a new shape", _upsert("land_conclusions", f.land_conclusion(
        "LC-3", geometry=f.utm_box(0, 1900, 1200, 1100))), {"LC-3"}),
    ("delete the licence MV-1", _delete("licences", "MV-1"), {"LC-1"}),
    ("accept R-2", _upsert("rehab_zones", f.rehab_zone(
        "R-2", parcel_id=None, holder="Z", stage="accepted", accepted_on=dt.date(2026, 5, 1),
        due_on=dt.date(2026, 1, 1), geometry=f.utm_box(3250, 100, 100, 100))), None),
    ("a new rehabilitation zone over P-8", _upsert("rehab_zones", f.rehab_zone(
        "R-3", parcel_id="P-2", holder="B", geometry=f.utm_box(160, 160, 50, 50))), {"LC-1"}),
    ("move the exclusion into LC-1", _upsert("exclusions", f.exclusion(
        "X-1", geometry=f.utm_box(1700, 0, 400, 300))), {"LC-1", "LC-2", "LC-4"}),
    ("a new exclusion", _upsert("exclusions", f.exclusion(
        "X-2", kind="water_protection", geometry=f.utm_box(100, 2000, 300, 300))), {"LC-3"}),
    ("delete P-2 (R-3 now names nothing)", _delete("contract_parcels", "P-2"), {"LC-1"}),
    ("a licence over P-1 and LC-1", _upsert("licences", f.licence(
        "MV-2", geometry=f.utm_box(50, 50, 120, 120))), {"LC-1"}),
    ("suspend P-1, shrink it", _upsert("contract_parcels", f.parcel(
        "P-1", status="suspended", geometry=f.utm_box(100, 100, 150, 150))), {"LC-1"}),
    ("delete LC-4 (its row goes)", _delete("land_conclusions", "LC-4"), set()),
    ("a new Land Conclusion over LC-1", _upsert("land_conclusions", f.land_conclusion(
        "LC-5", geometry=f.utm_box(1500, 0, 600, 400))), {"LC-5"}),
    ("P-9 terminated", _upsert("contract_parcels", f.parcel(
        "P-9", holder="G", land_conclusion_id="LC-6", status="terminated",
        geometry=f.utm_box(6100, 3100, 100, 100))), {"LC-6"}),
]  # fmt: skip


def _findings(frame: gpd.GeoDataFrame) -> dict[tuple[object, ...], tuple[object, ...]]:
    out = {}
    for row in frame.itertuples(index=False):
        key = (row.rule, row.a_layer, row.a_id, row.b_layer, row.b_id)
        assert key not in out, f"the finding {key} twice"
        out[key] = (row.soum_code, row.severity, row.message_mn, row.message_en, row.overlap_ha)
    return out


def _same_findings(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame) -> None:
    g, w = _findings(got), _findings(want)
    assert g.keys() == w.keys()
    for key, (soum, severity, mn, en, ha) in w.items():
        assert g[key][:3] == (soum, severity, mn), key
        assert g[key][3] == en, key
        if np.isnan(ha):
            assert np.isnan(g[key][4]), key
        else:
            assert abs(g[key][4] - ha) < 1e-9, key
    assert list(got.columns) == list(want.columns)


def _same_available(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame) -> None:
    assert list(got["id"]) == list(want["id"])  # the same rows in the same order
    assert list(got.columns) == list(want.columns)
    for column in ("name", "soum_code", "aimag_code"):
        assert list(got[column]) == list(want[column])
    for column in ("area_ha", "allocated_ha", "rehab_blocked_ha", "excluded_ha", "available_ha"):
        np.testing.assert_allclose(got[column], want[column], rtol=0, atol=1e-9)
    g, w = np.asarray(got.geometry.array), np.asarray(want.geometry.array)
    assert (shapely.area(shapely.symmetric_difference(g, w)) < 1e-14).all()


def _touched_lcs(
    before: dict[str, gpd.GeoDataFrame], after: dict[str, gpd.GeoDataFrame]
) -> set[str]:
    """The Land Conclusions a change touches, worked out from the two versions of the store."""
    lcs = diff_frames("land_conclusions", before["land_conclusions"], after["land_conclusions"])
    out = set(lcs.upserted["id"]) | set(lcs.deleted)
    now = after["land_conclusions"]
    for layer in BLOCKERS:
        touched = diff_frames(layer, before[layer], after[layer]).touched()
        for geom in touched:
            out |= set(now["id"][shapely.intersects(np.asarray(now.geometry.array), geom)])
    return out


def _order(frame: gpd.GeoDataFrame) -> list[tuple[object, ...]]:
    return list(zip(frame["rule"], frame["a_id"], frame["b_id"].fillna(""), strict=True))


@pytest.mark.parametrize("day", [DAY])
@pytest.mark.parametrize("chunk", [None, 1], ids=["chunks", "one-row-chunks"])
def test_incremental_answers_equal_a_whole_recomputation(
    store_location: str, day: dt.date, chunk: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if chunk is not None:  # every rule's findings in many chunks: each splice crosses them
        monkeypatch.setattr(kept_module, "CHUNK", chunk)
    settings = load_settings(db=store_location)
    with open_store(store_location) as store:
        _base(store)
    kept = Services(settings, open_store(store_location))
    try:
        kept.findings(day), kept.available_land(day)
        state = kept.derived.state(day)
        assert state.full_builds == 1
        rules_seen: set[str] = set()
        for what, change, expected in STEPS:
            before = kept.frames()
            with open_store(store_location) as store:
                change(store)
            fresh = Services(settings, open_store(store_location))
            try:
                want_f, want_a = fresh.findings(day), fresh.available_land(day)
                after = fresh.frames()
            finally:
                fresh.close()
            got_f, got_a = kept.findings(day), kept.available_land(day)
            _same_findings(got_f, want_f)
            assert _order(got_f) == _order(want_f), what  # the same rows in the same order
            _same_available(got_a, want_a)
            rules_seen |= set(want_f["rule"])
            touched = _touched_lcs(before, after) & set(after["land_conclusions"]["id"])
            assert set(state.recomputed) == touched, what
            if expected is not None:
                assert touched == expected, what
            assert state.full_builds == 1, f"{what}: computed whole"
            # the overlaps collection and the soum's rows come from the same answers
            overlaps = kept.collections.get("overlaps", today=day).frame
            assert len(overlaps) == int(got_f["rule"].isin(_overlap_rules()).sum())
            mine = got_f[got_f["rule"].isin(_overlap_rules())]
            assert list(overlaps["a_id"]) == list(mine["a_id"]), what
            soum = kept.available_land(day, soum="MN4322")
            assert list(soum["id"]) == list(got_a["id"][got_a["soum_code"] == "MN4322"])
        assert {
            "PARCEL_OVERLAP", "PARCEL_OUTSIDE_LC", "PARCEL_LC_NOT_VALID", "PARCEL_OVER_CAP",
            "CONTRACT_ACTIVE_PAST_EXPIRY", "REHAB_OVERDUE", "LC_OVER_LC", "LC_OVER_LICENCE",
            "LC_OVER_EXCLUSION", "PARCEL_OVER_LICENCE", "PARCEL_OVER_REHAB", "RECORD_INVALID",
        } <= rules_seen  # fmt: skip
    finally:
        kept.close()


def _overlap_rules() -> tuple[str, ...]:
    from api.services.collections import OVERLAP_RULES

    return OVERLAP_RULES


def test_a_soum_change_and_a_new_day_recompute_whole(store_location: str) -> None:
    settings = load_settings(db=store_location)
    with open_store(store_location) as store:
        _base(store)
    kept = Services(settings, open_store(store_location))
    try:
        kept.findings(DAY)
        state = kept.derived.state(DAY)
        with open_store(store_location) as store:
            store.write(_one("soums", f.soum(geometry=f.utm_box(-3000, -3000, 4000, 8000))),
                        mode="upsert")  # fmt: skip
        got = kept.findings(DAY)
        assert state.full_builds == 2  # the soums place every feature: whole
        fresh = Services(settings, open_store(store_location))
        try:
            _same_findings(got, fresh.findings(DAY))
            _same_available(kept.available_land(DAY), fresh.available_land(DAY))
            later = DAY + dt.timedelta(days=400)  # licences and contracts expire
            _same_findings(kept.findings(later), fresh.findings(later))
            assert kept.derived.state(later) is not state
        finally:
            fresh.close()
    finally:
        kept.close()


def test_nothing_changed_is_the_same_answer(store_location: str) -> None:
    settings = load_settings(db=store_location)
    with open_store(store_location) as store:
        _base(store)
    kept = Services(settings, open_store(store_location))
    try:
        first = kept.findings(DAY)
        assert kept.findings(DAY) is first
        assert kept.available_land(DAY) is kept.available_land(DAY)
    finally:
        kept.close()
