"""The server's review (:class:`api.services.review.ReviewService`) keeps each layer indexed per
revision and takes the layer cache's patched spatial index after a write; its answers equal a
review computed from scratch (a fresh read of every layer, new trees), before and after writes
to the store, and a write re-indexes only the layer it changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from api.services.layers import LayerCache
from api.services.review import ReviewService
from geo.review import REVIEW_LAYERS, ReviewContext, review
from geo.settings import AnalysisSettings
from layers.schema import STORE_CRS
from layers.store import Store

DAY = dt.date(2025, 6, 1)
SETTINGS = AnalysisSettings()
_SHIFT = 0.00015  # degrees (~12 m): a re-drawn feature overlaps the one it re-draws


def _moved(rows: gpd.GeoDataFrame, dx: float = _SHIFT) -> gpd.GeoDataFrame:
    geoms = shapely.transform(rows.geometry.to_numpy(), lambda xy: xy + dx)
    return rows.set_geometry(gpd.GeoSeries(geoms, index=rows.index, crs=STORE_CRS))


def _proposals(store: Store) -> list[tuple[str, gpd.GeoDataFrame]]:
    """A re-drawn parcel (overlapping the one it re-draws and its Land Conclusion) and a
    re-drawn Land Conclusion, both as proposals."""
    parcels = store.read("contract_parcels")
    parcel = _moved(parcels.iloc[[len(parcels) // 2]].reset_index(drop=True))
    parcel = parcel.assign(id="P-1")[["id", "land_conclusion_id", "holder", "geometry"]]
    lcs = store.read("land_conclusions")
    lc = _moved(lcs.iloc[[len(lcs) // 2]].reset_index(drop=True)).assign(id="LC-P")
    return [("parcel", parcel), ("land_conclusion", lc[["id", "soum_code", "geometry"]])]


def _from_scratch(store: Store, proposal: gpd.GeoDataFrame, kind: Any) -> dict[str, Any]:
    context = ReviewContext({name: store.read(name) for name in REVIEW_LAYERS})
    result = review(proposal, kind=kind, layers=context, today=DAY, settings=SETTINGS)
    return dict(result.as_json())


def _assert_same(
    service: ReviewService, store: Store, proposals: list[tuple[str, gpd.GeoDataFrame]]
) -> list[dict[str, Any]]:
    """The kept review equals the one from scratch; returns the reviews of the proposals."""
    answers = []
    for kind, proposal in proposals:
        kept = dict(service.check(proposal, kind=kind, today=DAY).as_json())  # type: ignore[arg-type]
        assert kept == _from_scratch(store, proposal, kind), kind
        answers.append(kept)
    stored = store.read("land_conclusions")["id"].iloc[0]
    _, kept_stored = service.check_stored(stored, today=DAY)
    context = ReviewContext({name: store.read(name) for name in REVIEW_LAYERS})
    row = store.read("land_conclusions", ids=[stored])
    fresh = review(
        row[["id", "soum_code", "geometry"]],
        kind="land_conclusion",
        layers=context.without("land_conclusions", [stored]),
        today=DAY,
        settings=SETTINGS,
        soum_code=str(row["soum_code"].iloc[0]),
    )
    assert kept_stored.as_json() == fresh.as_json()
    return answers


def test_kept_trees_answer_as_a_review_from_scratch_after_writes(filled: Store) -> None:
    cache = LayerCache(filled)
    service = ReviewService(cache, SETTINGS)
    proposals = _proposals(filled)
    before = _assert_same(service, filled, proposals)
    first = service.context()
    assert service.context() is first  # nothing changed: the same context

    parcels = filled.read("contract_parcels")
    middle = parcels.iloc[[len(parcels) // 2]]
    # a new parcel right over the proposal, an updated one moved onto it, one deleted
    added = _moved(middle, 2 * _SHIFT).assign(id="CP-NEW-1", contract_no="NEW-1")
    filled.write({"contract_parcels": added})
    filled.write({"contract_parcels": _moved(parcels.iloc[[len(parcels) // 2 + 1]])}, mode="upsert")
    filled.delete("contract_parcels", [parcels["id"].iloc[0]])
    after_write = _assert_same(service, filled, proposals)
    overlapped = {o["id"] for o in after_write[0]["overlaps"]}
    assert "CP-NEW-1" in overlapped  # the write changed the answer
    assert "CP-NEW-1" not in {o["id"] for o in before[0]["overlaps"]}
    assert cache.last_refresh["contract_parcels"] == "patch"
    after = service.context()
    assert after is not first
    # only the written layer was taken again: the others keep their frames and trees
    for name in REVIEW_LAYERS:
        same = after._trees[name] is first._trees[name]
        assert same == (name != "contract_parcels"), name
    assert after._trees["contract_parcels"] is cache.index("contract_parcels")

    # a Land Conclusion moved: the parcel review sees it the same way as a fresh one
    lcs = filled.read("land_conclusions")
    filled.write({"land_conclusions": _moved(lcs.iloc[[len(lcs) // 2]], 3 * _SHIFT)}, mode="upsert")
    _assert_same(service, filled, proposals)


def test_a_repeated_id_keeps_its_first_feature_with_a_tree_of_its_own(
    demo: dict[str, gpd.GeoDataFrame],
) -> None:
    from geo.index import PatchedIndex
    from geo.review_input import review_layer

    frame = demo["exclusions"]
    twice = gpd.GeoDataFrame(pd.concat([frame, frame.iloc[[0]]], ignore_index=True), crs=frame.crs)
    index = PatchedIndex(twice.geometry.to_numpy())
    layer = review_layer(twice, "exclusions", index)
    assert layer.tree is not index and len(layer.frame) == len(frame)
    assert layer.frame.index.tolist() == frame["id"].astype(str).tolist()
    own = PatchedIndex(frame.geometry.to_numpy())
    assert review_layer(frame, "exclusions", own).tree is own
