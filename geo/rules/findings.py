"""The rules one by one: findings of each kind of rule from (already filtered) layers.

:func:`geo.rules.analyze` calls these for the whole store, ``geo.review`` for one proposal.
Each returns a frame of findings without soum (:func:`soum_codes` adds it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.area import official_ha
from geo.frames import as_day, layer_or_empty
from geo.outside import outside_area
from geo.overlaps import overlaps_between, overlaps_within
from geo.repair import Repaired
from geo.rules.catalogue import FINDING_COLUMNS, Rule
from geo.rules.tables import SOUM_OF, ContainmentRule, DateRule, Live, OverlapPair, ReferenceRule
from geo.templates import fill
from geo.vocab import before, column_of, holder_keys, plain_dates, stamps
from layers.labels import LABELS, pair
from layers.schema import REGISTRY, STORE_CRS


def overlap_findings(
    a: gpd.GeoDataFrame,
    b: gpd.GeoDataFrame,
    *,
    pair: OverlapPair,
    rule: Rule,
    tolerance_m2: float,
) -> tuple[pd.DataFrame, list[Repaired]]:
    """Findings of one overlap rule between (already filtered) features of two layers.

    Within one layer (``a_layer == b_layer``) ``a`` is used and each pair is listed once.
    Returns the findings (without soum) and the repaired features.
    """
    if pair.a_layer == pair.b_layer:
        result = overlaps_within(a, layer=pair.a_layer, tolerance_m2=tolerance_m2)
        b = a
    else:
        result = overlaps_between(
            a, b, a_layer=pair.a_layer, b_layer=pair.b_layer, tolerance_m2=tolerance_m2
        )
    return overlap_part(result.records, a, b, pair=pair, rule=rule), list(result.repaired)


def overlap_part(
    records: pd.DataFrame,
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    pair: OverlapPair,
    rule: Rule,
) -> pd.DataFrame:
    """Findings from overlap records (``geo.overlaps.OVERLAP_COLUMNS``) of ``a`` and ``b``
    features: the holder's own pairs (``pair.same_owner``) dropped, messages written."""
    rec = records
    if pair.same_owner and len(rec):
        own = np.zeros(len(rec), dtype=bool)
        for a_col, b_col in pair.same_owner:
            if a_col not in a.columns or b_col not in b.columns:
                continue
            a_val = holder_keys(_lookup(a, rec["a_id"], a_col)).to_numpy()
            b_val = holder_keys(_lookup(b, rec["b_id"], b_col)).to_numpy()
            own |= (a_val == b_val) & (a_val != "")
        rec = rec[~own]
    kind_mn, kind_en = _kind_labels(pair.b_layer, b, rec["b_id"])
    values = {
        "a_id": rec["a_id"].astype(str).to_numpy(dtype=object),
        "b_id": rec["b_id"].astype(str).to_numpy(dtype=object),
        "ha": format_ha(rec["overlap_ha"].to_numpy()),
        "kind_mn": kind_mn,
        "kind_en": kind_en,
    }
    return _part(
        rule,
        rec["a_layer"],
        rec["a_id"],
        rec["b_layer"],
        rec["b_id"],
        rec["overlap_ha"],
        rec.geometry,
        values,
    )


def _containment(
    c: ContainmentRule,
    parts: gpd.GeoDataFrame,
    containers: gpd.GeoDataFrame,
    *,
    rule: Rule,
    tolerance_m2: float,
) -> tuple[pd.DataFrame, list[Repaired]]:
    ref = column_of(parts, c.reference)
    known = ref.isin(pd.Index(containers["id"].astype(str))).to_numpy() & ref.notna().to_numpy()
    sel = parts[known]
    if len(sel) == 0:
        return outside_part(_NO_OUTSIDE, [], part_layer=c.part_layer,
                            container_layer=c.container_layer, rule=rule), []  # fmt: skip
    dedup = containers.drop_duplicates("id")
    shapes = dedup.geometry.set_axis(dedup["id"].astype(str)).reindex(ref[known].astype(str))
    result = outside_area(
        sel,
        shapes,
        part_layer=c.part_layer,
        container_layer=c.container_layer,
        tolerance_m2=tolerance_m2,
    )
    part = outside_part(
        result.records,
        shapes.index,
        part_layer=c.part_layer,
        container_layer=c.container_layer,
        rule=rule,
    )
    return part, list(result.repaired)


_NO_OUTSIDE: Final = pd.DataFrame({"id": [], "outside_ha": [], "geometry": []}).astype(
    {"id": object, "outside_ha": "float64", "geometry": object}
)


def outside_part(
    records: pd.DataFrame,
    container_ids: Sequence[str] | pd.Index,
    *,
    part_layer: str,
    container_layer: str,
    rule: Rule,
) -> pd.DataFrame:
    """Findings of a containment rule from ``geo.outside.outside_area`` records and the ids
    of the containers they were aligned with: the parts with an area outside."""
    b_all = np.asarray(container_ids, dtype=object).astype(str).astype(object)
    outside = records["outside_ha"].to_numpy(dtype="float64") > 0
    rec = records[outside]
    b_ids = b_all[outside]
    values = {
        "a_id": rec["id"].astype(str).to_numpy(dtype=object),
        "b_id": b_ids,
        "ha": format_ha(rec["outside_ha"].to_numpy()),
    }
    n = len(rec)
    return _part(
        rule,
        np.full(n, part_layer, dtype=object),
        rec["id"],
        np.full(n, container_layer, dtype=object),
        b_ids,
        rec["outside_ha"],
        rec["geometry"],
        values,
    )


def reference_findings(
    parts: gpd.GeoDataFrame,
    targets: gpd.GeoDataFrame,
    *,
    ref: ReferenceRule,
    rule: Rule,
    today: dt.date,
    none_why: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """Findings of a reference rule: features whose referenced feature is missing or not
    valid on ``today``. The reason (``why_mn``/``why_en``) is the status, the end date, "not
    in the store" for an unknown id, or ``none_why`` (Mongolian, English; default: "none is
    named") for an empty one."""
    day = _day(today)
    none_why = none_why or pair("rule_why", "none_named")
    missing_mn, missing_en = pair("rule_why", "not_in_store")
    refs = column_of(parts, ref.reference).astype("string")
    # each target id's first row (a repeated id keeps its first feature), found by position
    first = np.flatnonzero(~targets["id"].duplicated().to_numpy(dtype=bool))
    keys = pd.Index(targets["id"].to_numpy(dtype=object)[first].astype(str))
    found = refs.isin(keys).fillna(False).to_numpy(dtype=bool)
    ok = np.zeros(len(parts), dtype=bool)
    status_bad = np.zeros(len(parts), dtype=bool)
    ended = np.zeros(len(parts), dtype=bool)
    status = np.full(len(parts), None, dtype=object)
    ends = np.full(len(parts), None, dtype=object)
    if found.any():
        wanted = pd.Index(refs[found].astype(str).to_numpy(dtype=object))
        hit = targets.iloc[first[keys.get_indexer(wanted)]]
        valid = ref.valid.mask(hit, day)
        ok[found] = valid
        if ref.valid.column is not None:
            status[found] = hit[ref.valid.column].to_numpy(dtype=object)
            status_bad[found] = ~Live(ref.valid.column, ref.valid.keep, ref.valid.drop).mask(
                hit, day
            )
        if ref.valid.until is not None:
            ends[found] = hit[ref.valid.until].to_numpy(dtype=object)
            ended[found] = before(hit[ref.valid.until], day)
    # the reasons are written for the broken rows alone (most rows are fine)
    sel = np.flatnonzero(~ok)
    found, status_bad, ended = found[sel], status_bad[sel], ended[sel]
    shown = pd.Series(status[sel], dtype=object)
    ended_on = pd.Series(ends[sel], dtype=object)
    group = _enum_group(ref.target, ref.valid.column)
    empty = refs.isna().to_numpy(dtype=bool)[sel]
    why_mn = np.where(empty, none_why[0], missing_mn).astype(object)
    why_en = np.where(empty, none_why[1], missing_en).astype(object)
    end_text = _iso(ended_on)
    status_mn = _templates("status", status=_labels(group, shown, "mn"))[0]
    status_en = _templates("status", status=_labels(group, shown, "en"))[1]
    end_mn, end_en = _templates("ended", date=end_text)
    both = found & status_bad & ended
    for mask, mn, en in (
        (found & ended, end_mn, end_en),
        (found & status_bad, status_mn, status_en),
        (both, status_mn + "; " + end_mn, status_en + "; " + end_en),
    ):
        why_mn = np.where(mask, mn, why_mn)
        why_en = np.where(mask, en, why_en)
    ids = parts["id"].astype(str).to_numpy(dtype=object)[sel]
    b_ids = refs.fillna("—").astype(str).to_numpy(dtype=object)[sel]
    values = {"a_id": ids, "b_id": b_ids, "why_mn": why_mn, "why_en": why_en}
    n = len(sel)
    return _part(
        rule,
        np.full(n, ref.layer, dtype=object),
        ids,
        np.full(n, ref.target, dtype=object),
        b_ids,
        np.full(n, np.nan),
        parts.geometry.iloc[sel],
        values,
    )


def cap_findings(
    parts: gpd.GeoDataFrame,
    *,
    layer: str,
    cap_ha: float,
    rule: Rule,
    hectares: npt.NDArray[np.float64] | None = None,
) -> pd.DataFrame:
    """Findings of a cap rule: features whose official area is above ``cap_ha``
    (``hectares``: the features' official hectares, in order, when the caller has them)."""
    if hectares is not None:
        ha = np.asarray(hectares, dtype="float64")
        if len(ha) != len(parts):
            raise ValueError(f"{len(ha)} areas for {len(parts)} features of layer '{layer}'")
    else:
        ha = official_ha(parts.geometry) if len(parts) else np.array([], dtype=float)
    sel = np.flatnonzero(ha > cap_ha)
    ids = parts["id"].astype(str).to_numpy(dtype=object)[sel]
    n = len(sel)
    values = {"a_id": ids, "ha": format_ha(ha[sel]), "cap_ha": f"{cap_ha:g}"}
    none = np.full(n, None, dtype=object)
    return _part(
        rule,
        np.full(n, layer, dtype=object),
        ids,
        none,
        none,
        ha[sel],
        parts.geometry.iloc[sel],
        values,
    )


def _dates(d: DateRule, frame: gpd.GeoDataFrame, *, rule: Rule, today: dt.date) -> pd.DataFrame:
    late = d.open.mask(frame, today) & before(column_of(frame, d.date), today)
    sel = np.flatnonzero(late)
    rows = frame.iloc[sel]
    ends = stamps(rows[d.date])
    days = (pd.Timestamp(today) - ends).dt.days.astype("Int64").astype(str)
    group = _enum_group(d.layer, d.open.column)
    status = column_of(rows, d.open.column) if d.open.column else pd.Series([""] * len(rows))
    ids = rows["id"].astype(str).to_numpy(dtype=object)
    values = {
        "a_id": ids,
        "date": _iso(rows[d.date]),
        "days": days.to_numpy(dtype=object),
        "status_mn": _labels(group, status, "mn"),
        "status_en": _labels(group, status, "en"),
    }
    n = len(sel)
    none = np.full(n, None, dtype=object)
    return _part(
        rule,
        np.full(n, d.layer, dtype=object),
        ids,
        none,
        none,
        np.full(n, np.nan),
        rows.geometry,
        values,
    )


# ---------------------------------------------------------------------------------- helpers


def format_ha(ha: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Hectares as text: two decimals, four below 0.01 ha (so 1 m² does not read as 0).

    Examples
    --------
    >>> format_ha([0.5, 12.345, 0.0003]).tolist()
    ['0.50', '12.35', '0.0003']
    """
    arr = np.asarray(ha, dtype="float64")
    if arr.size == 0:
        return np.array([], dtype=object)
    two = np.char.mod("%.2f", arr)
    four = np.char.mod("%.4f", arr)
    return np.where(np.abs(arr) < 0.01, four, two).astype(object)


def _part(
    rule: Rule,
    a_layer: object,
    a_id: object,
    b_layer: object,
    b_id: object,
    overlap_ha: object,
    geometry: object,
    values: Mapping[str, str | Sequence[str] | npt.NDArray[np.object_]],
) -> pd.DataFrame:
    geoms = np.asarray(getattr(geometry, "array", geometry), dtype=object)
    n = len(geoms)
    mn, en = rule.render(values, n) if n else (np.array([], object), np.array([], object))
    return pd.DataFrame(
        {
            "rule": np.full(n, rule.code, dtype=object),
            "severity": np.full(n, rule.severity, dtype=object),
            "a_layer": np.asarray(a_layer, dtype=object),
            "a_id": np.asarray(a_id, dtype=object),
            "b_layer": np.asarray(b_layer, dtype=object),
            "b_id": np.asarray(b_id, dtype=object),
            "overlap_ha": np.asarray(overlap_ha, dtype="float64"),
            "message_mn": mn,
            "message_en": en,
            "geometry": geoms,
        }
    )


def _finish(
    parts: list[pd.DataFrame], frames: Mapping[str, gpd.GeoDataFrame], rules: Mapping[str, Rule]
) -> gpd.GeoDataFrame:
    table = pd.concat([p for p in parts if len(p)] or [parts[0]], ignore_index=True)
    table["soum_code"] = None
    for layer in table["a_layer"].dropna().unique():
        at = (table["a_layer"] == layer).to_numpy()
        table.loc[at, "soum_code"] = soum_codes(frames, layer, table.loc[at, "a_id"])
    order = np.lexsort(
        (
            table["b_id"].fillna("").astype(str).to_numpy(),
            table["a_id"].astype(str).to_numpy(),
            table["soum_code"].fillna("").astype(str).to_numpy(),
            table["rule"].map({c: i for i, c in enumerate(rules)}).to_numpy(),
        )
    )
    table = table.iloc[order].reset_index(drop=True)
    table["overlap_ha"] = table["overlap_ha"].astype("float64")
    geometry = gpd.GeoSeries(table.pop("geometry").to_numpy(dtype=object), crs=STORE_CRS)
    out = gpd.GeoDataFrame(table, geometry=geometry, crs=STORE_CRS)
    return out[list(FINDING_COLUMNS)]


def soum_codes(
    frames: Mapping[str, gpd.GeoDataFrame], layer: str, ids: Iterable[str]
) -> npt.NDArray[np.object_]:
    """The soum code of each feature ``ids`` of ``layer``: from its own column or the feature
    it refers to (``SOUM_OF``), else the soum containing a point of it (``None`` if none)."""
    ids_s = pd.Series(list(ids), dtype=object).astype(str)
    frame = frames.get(layer)
    if frame is None or len(frame) == 0 or len(ids_s) == 0:
        return np.full(len(ids_s), None, dtype=object)
    dedup = frame.drop_duplicates("id")
    by_id = dedup.set_axis(dedup["id"].astype(str), axis=0)
    codes = pd.Series([None] * len(ids_s), dtype=object)
    how = SOUM_OF.get(layer)
    if how is not None and how[0] in by_id.columns:
        column, via = how
        values = ids_s.map(by_id[column].astype(object).where(by_id[column].notna(), None))
        if via is None:
            codes = values.astype(object)
        else:
            known = values.notna()
            codes[known] = soum_codes(frames, via, values[known].astype(str))
    missing = codes.isna().to_numpy() & ids_s.isin(by_id.index).to_numpy()
    soums = frames.get("soums")
    if missing.any() and soums is not None and len(soums):
        geoms = by_id.geometry.reindex(ids_s[missing]).to_numpy(dtype=object)
        usable = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        points = np.where(
            usable, shapely.point_on_surface(np.where(usable, geoms, shapely.Point(0, 0))), None
        )
        tree = shapely.STRtree(np.asarray(soums.geometry.array, dtype=object))
        where = np.flatnonzero(usable)
        i, j = tree.query(points[where], predicate="within")
        found = np.full(len(geoms), None, dtype=object)
        first = np.unique(i, return_index=True)[1]
        found[where[i[first]]] = soums["id"].astype(str).to_numpy(dtype=object)[j[first]]
        codes[np.flatnonzero(missing)] = found
    return codes.to_numpy(dtype=object)


def _layer(layers: Mapping[str, gpd.GeoDataFrame], name: str) -> gpd.GeoDataFrame:
    frame = layer_or_empty(layers, name)
    if "id" not in frame.columns:
        raise ValueError(f"layer '{name}' has no 'id' column to name its features")
    return frame


def _lookup(frame: pd.DataFrame, ids: pd.Series, column: str) -> pd.Series:
    """``column`` of the feature of each of ``ids`` (the first of a repeated id; NaN for an
    unknown one), on arrays: no frame is copied."""
    first = ~frame["id"].duplicated().to_numpy(dtype=bool)
    keys = pd.Index(frame["id"].to_numpy(dtype=object)[first].astype(str))
    values = frame[column].to_numpy(dtype=object)[first]
    at = keys.get_indexer(pd.Index(ids.astype(str).to_numpy(dtype=object)))
    out = np.full(len(at), np.nan, dtype=object)
    out[at >= 0] = values[at[at >= 0]]
    return pd.Series(out, index=ids.index)


def _kind_labels(
    layer: str, frame: pd.DataFrame, ids: pd.Series
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Labels of the ``kind`` (or ``stage``) of features, e.g. "Protected area"."""
    column = next((c for c in ("kind", "stage") if c in frame.columns), None)
    if column is None or len(ids) == 0:
        blank = np.full(len(ids), "—", dtype=object)
        return blank, blank
    values = _lookup(frame, ids, column)
    group = _enum_group(layer, column)
    return _labels(group, values, "mn"), _labels(group, values, "en")


def _enum_group(layer: str, column: str | None) -> str | None:
    if column is None or layer not in REGISTRY:
        return None
    try:
        return REGISTRY[layer].field(column).enum
    except KeyError:
        return None


def _labels(
    group: str | None, values: pd.Series, lang: Literal["mn", "en"]
) -> npt.NDArray[np.object_]:
    table = LABELS.get(group or "", {})
    k = 0 if lang == "mn" else 1
    mapped = {value: pair[k] for value, pair in table.items()}
    text = pd.Series(values.to_numpy(dtype=object)).map(
        lambda v: "—" if v is None or pd.isna(v) else mapped.get(v, str(v))
    )
    return text.to_numpy(dtype=object)


def _iso(values: pd.Series) -> npt.NDArray[np.object_]:
    plain = plain_dates(values)
    if plain is not None:
        return np.array(["—" if d is None else d.isoformat() for d in plain.tolist()], object)
    dates = stamps(values)
    return dates.dt.strftime("%Y-%m-%d").fillna("—").to_numpy(dtype=object)


_day = as_day


def _unique_repairs(repaired: Iterable[Repaired]) -> tuple[Repaired, ...]:
    seen: dict[tuple[str, str], Repaired] = {}
    for r in repaired:
        seen.setdefault((r.layer, r.feature_id), r)
    return tuple(seen.values())


def _templates(
    code: str, **values: npt.NDArray[np.object_]
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """The ``rule_why`` template ``code`` filled column-wise, in Mongolian and English."""
    mn, en = pair("rule_why", code)
    n = len(next(iter(values.values())))
    return fill(mn, values, n), fill(en, values, n)
