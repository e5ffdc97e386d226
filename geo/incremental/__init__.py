"""The findings of every rule and the available land, kept and updated by what changed.

A :class:`DerivedState` is computed once for a store and a day (:func:`geo.rules.analyze_usable`
and :func:`geo.availability.availability` over the whole store) and then takes each change as
:class:`layers.changes.LayerDelta` objects (:meth:`DerivedState.advance`): only what the
changed features take part in is recomputed, and the rows are spliced into the kept answers.
Where the deltas come from (the store's change feed or a comparison of two frames) does not
matter here.

What is recomputed, rule by rule (``C``: the changed features, old and new):

- overlap rules (``OVERLAP_PAIRS``): the pairs involving a changed feature, against the
  features its geometry meets (one ``STRtree`` bulk query per layer); findings of pairs of
  unchanged features stay;
- containment (``PARCEL_OUTSIDE_LC``) and references (``PARCEL_LC_NOT_VALID``): the changed
  parts and the parts naming a changed container (a Land Conclusion's new geometry or status
  changes its parcels' findings);
- caps (``PARCEL_OVER_CAP``) and date rules (``CONTRACT_ACTIVE_PAST_EXPIRY``,
  ``REHAB_OVERDUE``): per feature, the changed ones (the day is fixed: a new day is a new
  state);
- broken records (``RECORD_INVALID``): the changed rows and the rows referring to a changed id;
- the soum of every finding is looked up again (its feature's Land Conclusion may have moved);
- availability: the Land Conclusions that changed and those whose land a changed feature of
  another layer intersects, with :func:`geo.availability.availability` over them and the
  features near them.

A change to the soums or aimags (which place every feature), or a change larger than
:data:`FULL_SHARE` of a layer, is recomputed whole (:attr:`DerivedState.full_builds`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.availability import availability
from geo.frames import layer_or_empty
from geo.incremental.index import LayerIndex
from geo.incremental.kept import KeptFindings
from geo.overlaps import overlaps_between, overlaps_within
from geo.records import RULE as RECORD_INVALID
from geo.records import usable_records
from geo.rules.catalogue import RULES
from geo.rules.engine import REPORTED_REFERENCES, _record_findings, analyze_usable
from geo.rules.findings import (
    _containment,
    _dates,
    _finish,
    cap_findings,
    overlap_part,
    reference_findings,
)
from geo.rules.tables import (
    CAPS,
    CONTAINMENT,
    DATE_RULES,
    LIVE,
    OVERLAP_PAIRS,
    REFERENCES,
    SOUM_OF,
    ContainmentRule,
    OverlapPair,
    ReferenceRule,
)
from geo.settings import AnalysisSettings
from layers.changes import LayerDelta
from layers.schema import AREA_LAYERS, REGISTRY

#: Layers whose change recomputes everything (they place every feature in a soum).
FULL_LAYERS: Final = frozenset({"soums", "aimags"})
#: A change of more than this share of a layer's rows recomputes everything.
FULL_SHARE: Final = 0.2
#: The layers that block land in a Land Conclusion (:func:`geo.availability.availability`).
BLOCKERS: Final = ("contract_parcels", "rehab_zones", "exclusions", "licences")

BoolArray = npt.NDArray[np.bool_]
PartRule = Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame], pd.DataFrame]
Frames = Mapping[str, gpd.GeoDataFrame]
LcOrder = Sequence[str] | Callable[[], Sequence[str]] | None


ObjArray = npt.NDArray[np.object_]


@dataclass
class _Pending:
    """What changed since the findings and the available land last caught up."""

    #: findings: the ids changed (upserted or deleted) and upserted, per layer
    changed: dict[str, set[str]] = field(default_factory=dict)
    upserted: dict[str, set[str]] = field(default_factory=dict)
    #: availability: the touched geometries of each blocking layer, the Land Conclusions
    #: changed (None: nothing to catch up), and their order when they changed
    touched: dict[str, list[ObjArray | gpd.GeoSeries]] = field(default_factory=dict)
    lc_changed: set[str] | None = None
    lc_order: list[str] | None = None


class DerivedState:
    """The findings and the available land of one day, kept per store version.

    Attributes
    ----------
    findings
        ``geo.rules.FINDING_COLUMNS`` records, as :func:`geo.rules.analyze` returns them.
    available
        The :func:`geo.availability.availability` frame (without ``attrs``).
    recomputed
        The ids of the Land Conclusions whose availability the last :meth:`advance`
        recomputed (all of them after a whole computation).
    full_builds
        How many times the state was computed whole.
    """

    def __init__(self, frames: Frames, *, today: dt.date, settings: AnalysisSettings) -> None:
        self.today = today
        self.settings = settings
        self.full_builds = 0
        self.recomputed: tuple[str, ...] = ()
        #: taken by the answers' catching up (a reader on another thread may ask at once)
        self._lock = threading.RLock()
        #: the rows asked while the findings catch up (see :meth:`_rows`)
        self._asked: dict[tuple[str, frozenset[str], bool], gpd.GeoDataFrame] = {}
        self._build(frames)

    # ------------------------------------------------------------------------ whole

    def _build(self, frames: Frames) -> None:
        layers = {name: layer_or_empty(frames, name) for name in AREA_LAYERS}
        split = usable_records(layers, reported_references=REPORTED_REFERENCES)
        self.indexes = {
            name: LayerIndex(
                name,
                split.located[name],
                split.kept.get(name, np.ones(len(layers[name]), dtype=bool)),
            )
            for name in AREA_LAYERS
        }
        found = analyze_usable(split, today=self.today, settings=self.settings)
        self._kept = KeptFindings.of_records(found.records)
        self._available_kept = _availability(split.frames, today=self.today)
        self._pending = _Pending()
        self.recomputed = tuple(self._available_kept["id"].astype(str))
        self.full_builds += 1

    def rebuild(self, frames: Frames) -> None:
        """Compute the state whole again from ``frames`` (the whole current store)."""
        with self._lock:
            self._build(frames)

    # ------------------------------------------------------------------------ answers

    @property
    def findings(self) -> gpd.GeoDataFrame:
        """``geo.rules.FINDING_COLUMNS`` records, as :func:`geo.rules.analyze` returns them
        (brought up to the indexes' rows when first asked after a change)."""
        with self._lock:
            return self._caught_up().whole

    def findings_of(self, rules: Sequence[str]) -> gpd.GeoDataFrame:
        """The rows of :attr:`findings` of ``rules`` (made of only theirs)."""
        with self._lock:
            return self._caught_up().of(rules)

    def _caught_up(self) -> KeptFindings:
        pending = self._pending
        if pending.changed:
            self._asked = {}
            try:
                self._kept = self._findings(pending.changed, pending.upserted)
            finally:
                self._asked = {}
            pending.changed, pending.upserted = {}, {}
        return self._kept

    @property
    def available(self) -> gpd.GeoDataFrame:
        """The :func:`geo.availability.availability` frame (without ``attrs``), brought up to
        the indexes' rows when first asked after a change."""
        with self._lock:
            pending = self._pending
            if pending.lc_changed is not None:
                self._available_kept = self._availability(
                    pending.touched, pending.lc_changed, pending.lc_order
                )
                pending.touched, pending.lc_changed, pending.lc_order = {}, None, None
            return self._available_kept

    # ------------------------------------------------------------------------ change

    def advance(
        self,
        deltas: Mapping[str, LayerDelta],
        *,
        frames: Callable[[], Frames],
        lc_order: LcOrder = None,
    ) -> None:
        """Take the changes of the layers since this state was computed.

        Only the indexes take the change now; the findings and the available land catch up
        when next asked (:attr:`findings`, :attr:`available`), each with every change since
        it last did: a reader of one pays for nothing of the other.

        ``frames`` gives the whole current store (for a whole computation); ``lc_order`` the
        ids of the Land Conclusions in the store's order (the order of the availability
        rows; default: the kept index's order), or a function giving them (asked now when
        the Land Conclusions changed; when they did not, their order did not either).
        """
        deltas = {name: d for name, d in deltas.items() if not d.empty}
        with self._lock:
            if not deltas:
                if self._pending.lc_changed is None:
                    self.recomputed = ()
                return
            if FULL_LAYERS & deltas.keys() or any(
                d.size > max(50, FULL_SHARE * len(self.indexes[n])) for n, d in deltas.items()
            ):
                self._build(frames())
                return
            pending = self._pending
            for name, d in deltas.items():
                up = d.upserted.reset_index(drop=True)
                check = usable_records({name: up}, known_ids=self.indexes)
                self.indexes[name].apply(
                    check.located.get(name, up),
                    check.kept.get(name, np.ones(len(up), dtype=bool)),
                    d.deleted,
                )
                ups = set(up["id"].astype(str))
                pending.upserted.setdefault(name, set()).update(ups)
                pending.changed.setdefault(name, set()).update(ups | set(map(str, d.deleted)))
                if name in BLOCKERS:
                    pending.touched.setdefault(name, []).append(d.touched())
            lc_delta = deltas.get("land_conclusions")
            lcs = set() if lc_delta is None else set(lc_delta.upserted["id"].astype(str))
            if lc_delta is not None:
                lcs |= set(map(str, lc_delta.deleted))
            pending.lc_changed = (pending.lc_changed or set()) | lcs
            if lc_delta is not None:
                order = lc_order() if callable(lc_order) else lc_order
                pending.lc_order = list(order if order is not None else self.indexes[
                    "land_conclusions"])  # fmt: skip

    # ------------------------------------------------------------------------ findings

    def _rows(self, layer: str, ids: set[str], *, live: bool) -> gpd.GeoDataFrame:
        """The current usable rows ``ids`` of ``layer`` (only those that count, ``live``);
        the same frame for the same question while the findings catch up (the rules only
        read it)."""
        key = (layer, frozenset(ids), live)
        got = self._asked.get(key)
        if got is None:
            frame, usable = self.indexes[layer].rows(ids)
            got = self._asked[key] = self._usable(layer, frame, usable, live=live)
        return got

    def _usable(
        self, layer: str, frame: gpd.GeoDataFrame, usable: BoolArray, *, live: bool
    ) -> gpd.GeoDataFrame:
        keep = usable.copy()
        if live and layer in LIVE and len(frame):
            keep &= np.asarray(LIVE[layer].mask(frame, self.today), dtype=bool)
        return frame[keep].reset_index(drop=True)

    def _near(self, layer: str, geoms: gpd.GeoSeries) -> gpd.GeoDataFrame:
        frame, usable = self.indexes[layer].near(geoms)
        return self._usable(layer, frame, usable, live=True)

    def _findings(
        self, changed: dict[str, set[str]], upserted: dict[str, set[str]]
    ) -> KeptFindings:
        kept = self._kept
        drop = np.zeros(len(kept), dtype=bool)
        hits = kept.hits

        for side in ("a", "b"):
            for layer, ids in changed.items():
                drop |= hits(side, layer, ids)
        tol = float(self.settings.overlap_tolerance_m2)
        parts: list[pd.DataFrame] = []

        def forget(rule: str, layer: str, ids: set[str]) -> None:
            nonlocal drop
            drop |= kept.is_rule(rule) & hits("a", layer, ids)

        # parts naming a changed container or target: their containment and reference again
        for rule_code, part_layer, target, column, run in self._part_rules():
            if part_layer not in changed and target not in changed:
                continue
            named, _ = self.indexes[part_layer].where(column, changed.get(target, set()))
            ids = upserted.get(part_layer, set()) | set(named["id"].astype(str))
            forget(rule_code, part_layer, ids)
            rows = self._rows(part_layer, ids, live=True)
            refs = set(rows[column].dropna().astype(str)) if column in rows else set()
            parts.append(run(rows, self._rows(target, refs, live=False)))
        # broken records: the changed rows and those referring to a changed id
        parts.append(self._broken(changed, forget))
        for pair in OVERLAP_PAIRS:
            if pair.rule is None or not {pair.a_layer, pair.b_layer} & changed.keys():
                continue
            parts += self._pair(pair, upserted, tol)
        for cap in CAPS:
            if cap.layer in upserted:
                rows = self._rows(cap.layer, upserted[cap.layer], live=True)
                limit = float(getattr(self.settings, cap.setting))
                parts.append(
                    cap_findings(rows, layer=cap.layer, cap_ha=limit, rule=RULES[cap.rule])
                )
        for d in DATE_RULES:
            if d.layer in upserted:
                rows = self._rows(d.layer, upserted[d.layer], live=False)
                parts.append(_dates(d, rows, rule=RULES[d.rule], today=self.today))
        # the kept findings whose soum may have moved (their feature names a changed one)
        again = self._resoum(changed, hits) & ~drop
        return self._splice(kept, ~drop & ~again, again, [p for p in parts if len(p)])

    def _resoum(
        self, changed: dict[str, set[str]], hits: Callable[[str, str, set[str]], BoolArray]
    ) -> BoolArray:
        """The findings whose soum is found through a changed feature (``SOUM_OF``: a
        parcel's through its Land Conclusion, a zone's through its parcel)."""
        lcs = changed.get("land_conclusions", set())
        parcels: set[str] = set()
        if lcs:
            rows, _ = self.indexes["contract_parcels"].where("land_conclusion_id", lcs)
            parcels = set(rows["id"].astype(str))
        parents = changed.get("contract_parcels", set()) | parcels
        zones: set[str] = set()
        if parents:
            rows, _ = self.indexes["rehab_zones"].where("parcel_id", parents)
            zones = set(rows["id"].astype(str))
        return hits("a", "contract_parcels", parcels) | hits("a", "rehab_zones", zones)

    def _splice(
        self, kept: KeptFindings, keep: BoolArray, again: BoolArray, parts: list[pd.DataFrame]
    ) -> KeptFindings:
        """The kept findings ``keep`` (finished and in order) with the new ``parts`` and the
        kept rows ``again`` finished (their soums looked up) and put in their places: only
        the new rows are finished and sorted, the rest keep their order."""
        if again.any():
            old = kept.rows(again)
            redo = pd.DataFrame(old.drop(columns=["soum_code"]))
            redo["geometry"] = np.asarray(old.geometry.array, dtype=object)
            parts = [redo, *parts]
        if not parts:
            return kept.splice(keep, None)
        return kept.splice(keep, _finish(parts, self._located(parts), RULES))

    def _part_rules(self) -> list[tuple[str, str, str, str, PartRule]]:
        """(rule, part layer, target layer, reference column, findings of parts) of the
        containment and reference rules."""
        tol = float(self.settings.overlap_tolerance_m2)
        out: list[tuple[str, str, str, str, PartRule]] = []
        for c in CONTAINMENT:

            def inside(p: gpd.GeoDataFrame, t: gpd.GeoDataFrame, c: ContainmentRule = c) -> Any:
                return _containment(c, p, t, rule=RULES[c.rule], tolerance_m2=tol)[0]

            out.append((c.rule, c.part_layer, c.container_layer, c.reference, inside))
        for r in REFERENCES:

            def valid(p: gpd.GeoDataFrame, t: gpd.GeoDataFrame, r: ReferenceRule = r) -> Any:
                return reference_findings(p, t, ref=r, rule=RULES[r.rule], today=self.today)

            out.append((r.rule, r.layer, r.target, r.reference, valid))
        return out

    def _broken(
        self, changed: dict[str, set[str]], forget: Callable[[str, str, set[str]], None]
    ) -> pd.DataFrame:
        affected = {name: set(ids) for name, ids in changed.items()}
        for kind in (REGISTRY[name] for name in AREA_LAYERS):
            for f in kind.fields:
                if f.references in changed and (kind.name, f.name) not in REPORTED_REFERENCES:
                    named, _ = self.indexes[kind.name].where(f.name, changed[f.references])
                    affected.setdefault(kind.name, set()).update(named["id"].astype(str))
        frames = {}
        for name, ids in affected.items():
            forget(RECORD_INVALID, name, ids)
            frame, _ = self.indexes[name].rows(ids)
            frames[name] = frame
        split = usable_records(
            frames, reported_references=REPORTED_REFERENCES, known_ids=self.indexes
        )
        return _record_findings(split, RULES[RECORD_INVALID])

    def _pair(
        self, pair: OverlapPair, upserted: dict[str, set[str]], tol: float
    ) -> list[pd.DataFrame]:
        a, b, rule = pair.a_layer, pair.b_layer, RULES[str(pair.rule)]
        out: list[pd.DataFrame] = []
        if a == b:
            ch = self._rows(a, upserted.get(a, set()), live=True)
            if len(ch) == 0:
                return out
            # the changed rows and their neighbours (the changed rows among them) as the whole
            # layer is compared: the same pairs, each shared part computed in the same order
            cand = self._near(a, ch.geometry)
            rec = overlaps_within(cand, layer=a, tolerance_m2=tol).records
            mine = list(upserted.get(a, set()))
            rec = rec[(rec["a_id"].astype(str).isin(mine) | rec["b_id"].astype(str).isin(mine))]
            out.append(overlap_part(rec.reset_index(drop=True), cand, cand, pair=pair, rule=rule))
            return out
        ch_a = self._rows(a, upserted.get(a, set()), live=True)
        if len(ch_a):
            cand_b = self._near(b, ch_a.geometry)
            if len(cand_b):
                rec = overlaps_between(ch_a, cand_b, a_layer=a, b_layer=b, tolerance_m2=tol)
                out.append(overlap_part(rec.records, ch_a, cand_b, pair=pair, rule=rule))
        ch_b = self._rows(b, upserted.get(b, set()), live=True)
        if len(ch_b):
            cand_a = self._near(a, ch_b.geometry)
            cand_a = cand_a[~cand_a["id"].astype(str).isin(list(upserted.get(a, set())))]
            if len(cand_a):
                rec = overlaps_between(cand_a, ch_b, a_layer=a, b_layer=b, tolerance_m2=tol)
                out.append(overlap_part(rec.records, cand_a, ch_b, pair=pair, rule=rule))
        return out

    def _located(self, table: Sequence[pd.DataFrame]) -> dict[str, gpd.GeoDataFrame]:
        """The rows :func:`geo.rules.findings.soum_codes` reads for these findings: each
        ``a`` feature, the features its soum is found through, and the soums."""
        wanted: dict[str, set[str]] = {}
        for part in table:
            for layer, ids in part.groupby("a_layer")["a_id"]:
                wanted.setdefault(str(layer), set()).update(ids.astype(str))
        out: dict[str, gpd.GeoDataFrame] = {}
        for layer in ("rehab_zones", "contract_parcels", "land_conclusions", "licences"):
            if layer not in wanted:
                continue
            frame, _ = self.indexes[layer].rows(wanted[layer])
            out[layer] = frame
            column, via = SOUM_OF.get(layer, ("", None))
            if via is not None and column in frame:
                wanted.setdefault(via, set()).update(frame[column].dropna().astype(str))
        for layer, names in wanted.items():
            if layer not in out and layer in self.indexes:
                out[layer] = self.indexes[layer].rows(names)[0]
        out["soums"] = self.indexes["soums"].current()[0]
        return out

    # ------------------------------------------------------------------------ availability

    def _availability(
        self,
        touched_by: Mapping[str, Sequence[ObjArray | gpd.GeoSeries]],
        changed_lcs: set[str],
        lc_order: Sequence[str] | None,
    ) -> gpd.GeoDataFrame:
        lcs = self.indexes["land_conclusions"]
        affected = set(changed_lcs)
        for layer in BLOCKERS:
            if touched_by.get(layer):
                touched = np.concatenate(
                    [np.asarray(getattr(t, "array", t), dtype=object) for t in touched_by[layer]]
                )
                try:
                    hit, _ = lcs.near(touched, predicate="intersects")
                except shapely.errors.GEOSException:  # unusable geometry: the boxes decide
                    hit, _ = lcs.near(touched)
                affected |= set(hit["id"].astype(str))
        kept = self._available_kept
        if not affected:
            self.recomputed = ()
            return kept
        frame, usable = lcs.rows(affected)
        rows = frame[usable].reset_index(drop=True)
        near = {
            name: self._usable(name, *self.indexes[name].near(rows.geometry), live=False)
            for name in BLOCKERS
        }
        new = _availability({"land_conclusions": rows, **near}, today=self.today, ids=affected)
        self.recomputed = tuple(rows["id"].astype(str))
        rest = kept[~kept["id"].astype(str).isin(list(affected)).to_numpy(bool)]
        both = pd.concat([rest, new], ignore_index=True)
        # the Land Conclusions did not change: their rows keep the kept order
        order = list(lc_order) if lc_order is not None else list(kept["id"].astype(str))
        rank = pd.Index(pd.unique(pd.Series(order, dtype=object))).get_indexer(
            both["id"].astype(str)
        )
        both = both.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
        return gpd.GeoDataFrame(both, geometry="geometry", crs=kept.crs)


def _availability(
    frames: Frames, *, today: dt.date, ids: set[str] | None = None
) -> gpd.GeoDataFrame:
    frame = availability(
        layer_or_empty(frames, "land_conclusions"),
        layer_or_empty(frames, "contract_parcels"),
        layer_or_empty(frames, "rehab_zones"),
        layer_or_empty(frames, "exclusions"),
        layer_or_empty(frames, "licences"),
        today=today,
        ids=ids,
    )
    frame.attrs.clear()
    return frame


__all__ = ["BLOCKERS", "FULL_LAYERS", "FULL_SHARE", "DerivedState", "LayerIndex"]
