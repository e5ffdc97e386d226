"""The demo's build: :func:`build_demo` fills one table per layer from the plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from layers.demo import background
from layers.demo.shapes import (
    _GENERATED,
    _NAME_FIRST,
    _NAME_SECOND,
    _SUFFIX,
    LEGACY_HOLDER,
    _admin,
    _blob,
    _contract_days,
    _dates,
    _inner_boxes,
    _lc_dates,
    _lc_size,
    _members,
    _origin,
    _parcel_boxes,
    _rect,
    _to_utm,
    _to_wgs,
    _transformers,
)
from layers.demo.sites import (
    _PARCEL_OUTSIDE,
    _PARCEL_OVERLAP,
    _PARCEL_PAST_EXPIRY,
    _REHAB_OVERDUE,
    _SITE,
    _SOUM,
    AIMAGS,
    BLOCK_GAP,
    CELL,
    CELL_GAP,
    CLEARANCE,
    EXCLUSIONS,
    EXTRA_CELLS,
    LAND_CONCLUSION_PLANS,
    LAND_CONCLUSION_VALIDITY_DAYS,
    LC_MARGIN,
    LICENCES,
    SITES,
    SOUMS,
    FloatArray,
    _Site,
    _Soum,
)
from layers.schema import REGISTRY, STORE_CRS

# -------------------------------------------------------------------------------- the build


class _Table:
    """Columns of one layer, filled in pieces and turned into a GeoDataFrame at the end."""

    def __init__(self, layer: str) -> None:
        self.kind = REGISTRY[layer]
        self.parts: list[dict[str, Any]] = []

    def add(self, geometry: Any, **cols: Any) -> None:
        n = len(geometry)
        part: dict[str, Any] = {}
        for c in self.kind.columns:
            v = cols.pop(c, None)
            if not isinstance(v, list | tuple | np.ndarray):
                v = np.full(n, v, dtype=object)
            part[c] = v
        if cols:
            raise KeyError(f"{self.kind.name}: unknown columns {sorted(cols)}")
        part["geometry"] = geometry
        self.parts.append(part)

    def frame(self) -> gpd.GeoDataFrame:
        data: dict[str, Any] = {}
        for c in [*self.kind.columns, "geometry"]:
            pieces = [np.asarray(p[c], dtype=object) for p in self.parts]
            data[c] = np.concatenate(pieces) if pieces else np.array([], dtype=object)
        for f in self.kind.fields:
            if f.type == "int":
                data[f.name] = data[f.name].astype(np.int64)
            elif f.type == "float":
                data[f.name] = data[f.name].astype(np.float64)
        geometry = gpd.GeoSeries(data.pop("geometry"), crs=STORE_CRS)
        return gpd.GeoDataFrame(pd.DataFrame(data), geometry=geometry, crs=STORE_CRS)


def _decision_ref(rng: np.random.Generator, decided: date | None) -> str | None:
    if decided is None:
        return None
    return f"АМГТГ-{decided.year}/{int(rng.integers(1, 400)):03d}"


def build_demo(
    *, seed: int = 7, scale: int = 1, today: date | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """The demo layers: one GeoDataFrame (EPSG:4326) per name of ``layers.schema.REGISTRY``.

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng``; the same seed, scale and day give the same data.
    scale
        Multiplies the parcels: ``scale`` x 100 parcels, in as many added issued Land
        Conclusions as they need (``scale=1000`` makes about 100,000).
    today
        The day dates are relative to (default ``date.today()``).

    Examples
    --------
    >>> demo = build_demo(today=date(2025, 6, 30))
    >>> len(demo["contract_parcels"]), sorted(demo["soums"]["name_en"])
    (100, ['Altai', 'Bayangol', 'Mandal', 'Yusunbulag'])
    """
    if not isinstance(scale, int | np.integer) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, not {scale!r}")
    today = today or date.today()
    rng = np.random.default_rng(seed)
    tables = {name: _Table(name) for name in REGISTRY}

    soums, aimags = _admin()
    tables["aimags"].add(
        np.array([aimags[a.code] for a in AIMAGS], dtype=object),
        id=np.array([a.code for a in AIMAGS], dtype=object),
        name_mn=np.array([a.name_mn for a in AIMAGS], dtype=object),
        name_en=np.array([a.name_en for a in AIMAGS], dtype=object),
    )
    tables["soums"].add(
        np.array([soums[s.code] for s in SOUMS], dtype=object),
        id=np.array([s.code for s in SOUMS], dtype=object),
        aimag_code=np.array([s.aimag for s in SOUMS], dtype=object),
        name_mn=np.array([s.name_mn for s in SOUMS], dtype=object),
        name_en=np.array([s.name_en for s in SOUMS], dtype=object),
    )
    reserved = _reference_layers(rng, tables, today)
    lc_cells, reserved_lcs = _base_land_conclusions(rng, tables, today)
    _base_parcels(rng, tables, today, lc_cells)
    water = _background(tables)
    if scale > 1:
        _extra(rng, tables, today, int(scale), soums, [*reserved, *reserved_lcs, *water])
    return {name: t.frame() for name, t in tables.items()}


def _background(tables: dict[str, _Table]) -> list[BaseGeometry]:
    """The generated background (``layers.demo.background``); returns the lakes."""
    for layer, columns in (
        ("settlements", background.settlements()),
        ("roads", background.roads()),
        ("water", background.lakes()),
    ):
        geometry = columns.pop("geometry")
        tables[layer].add(geometry, **columns)
    return list(tables["water"].parts[-1]["geometry"])


def _reference_layers(
    rng: np.random.Generator, tables: dict[str, _Table], today: date
) -> list[BaseGeometry]:
    """Exclusions and licences; returns their geometries (EPSG:4326)."""
    geoms: list[BaseGeometry] = []
    for e in EXCLUSIONS:
        site = _SITE[e.site]
        ox, oy = _origin(site)
        if e.line_km:
            line = LineString([(ox + x * 1000, oy + y * 1000) for x, y in e.line_km])
            shape = line.buffer(e.radius_km * 1000, quad_segs=4)
        else:
            cx, cy = ox + e.centre_km[0] * 1000, oy + e.centre_km[1] * 1000
            shape = _blob(cx, cy, e.radius_km * 1000, (len(e.name) % 6, 1.0, 2.0), n=48)
        geom = _to_wgs(shape, _SOUM[site.soum].zone)
        geoms.append(geom)
        tables["exclusions"].add([geom], id=e.id, kind=e.kind, name=e.name)
    for lic in LICENCES:
        site = _SITE[lic.site]
        shape = _rect(site, lic.corner_km, lic.size_km[0] * 1000, lic.size_km[1] * 1000)
        geom = _to_wgs(shape, _SOUM[site.soum].zone)
        geoms.append(geom)
        given = today - timedelta(days=lic.given_ago + int(rng.integers(0, 30)))
        expires = given + timedelta(days=round(lic.years * 365.25))
        tables["licences"].add(
            [geom],
            id=lic.id,
            holder=lic.holder,
            kind=lic.id[:2],
            mineral=lic.mineral,
            given_on=given,
            expires_on=expires,
            soum_code=site.soum,
            reported_ha=round(shape.area / 10_000, 2),
        )
    return geoms


@dataclass
class _Cells:
    """Cell south-west corners (UTM metres) of one Land Conclusion holding parcels."""

    lc_id: str
    site: _Site
    cx: FloatArray
    cy: FloatArray
    decided: date


def _base_land_conclusions(
    rng: np.random.Generator, tables: dict[str, _Table], today: date
) -> tuple[list[_Cells], list[BaseGeometry]]:
    cells: list[_Cells] = []
    geoms: list[BaseGeometry] = []
    for p in LAND_CONCLUSION_PLANS:
        site = _SITE[p.site]
        soum = _SOUM[site.soum]
        w, h = _lc_size(p.cols, p.rows)
        shape = _rect(site, p.corner_km, w, h)
        geom = _to_wgs(shape, soum.zone)
        geoms.append(geom)
        steps = _lc_dates(rng, p.status, p.last_step_ago, p.validity_days, today)
        tables["land_conclusions"].add(
            [geom],
            id=p.id,
            name=f"{soum.name_mn} сумын «{p.place}» бичил уурхайн талбай",
            aimag_code=soum.aimag,
            soum_code=soum.code,
            requested_by=p.requested_by,
            status=p.status,
            mineral="gold",
            decision_ref=_decision_ref(rng, steps["decided_on"]),
            **steps,
        )
        if p.parcels:
            x0, y0 = shape.bounds[:2]
            k = np.arange(p.cols * p.rows)
            cx = x0 + LC_MARGIN + (k % p.cols) * CELL
            cy = y0 + LC_MARGIN + (k // p.cols) * CELL
            decided = steps["decided_on"]
            if decided is None:
                raise RuntimeError(f"{p.id} holds parcels but has no decision")
            cells.append(_Cells(p.id, site, cx.astype(float), cy.astype(float), decided))
    return cells, geoms


def _base_parcels(
    rng: np.random.Generator, tables: dict[str, _Table], today: date, lc_cells: list[_Cells]
) -> None:
    """The 100 partnerships of domain.md, their parcels and some rehabilitation zones."""
    # Holders: unique names, about one in six a cooperative.
    n_total = sum(s.partnerships for s in SITES)
    combos = rng.choice(len(_NAME_FIRST) * len(_NAME_SECOND), n_total, replace=False)
    kinds = np.where(rng.random(n_total) < 0.16, "cooperative", "partnership")
    names = [
        f"{_NAME_FIRST[c // len(_NAME_SECOND)]} {_NAME_SECOND[c % len(_NAME_SECOND)]} "
        f"{_SUFFIX[str(k)]}"
        for c, k in zip(combos, kinds, strict=True)
    ]
    # Parcels take an issued Land Conclusion's cells row by row, in plan order per soum.
    rows: list[dict[str, Any]] = []
    seq: dict[str, int] = {}
    offset = 0
    for site in SITES:
        holders = slice(offset, offset + site.partnerships)
        offset += site.partnerships
        site_kinds = kinds[holders]
        members = _members(rng, site.members, site_kinds)
        women = rng.binomial(members, 0.38)
        site_lcs = [c for c in lc_cells if c.site is site]
        places = [(c, i) for c in site_lcs for i in range(len(c.cx))]
        per_lc = {p.id: p.parcels for p in LAND_CONCLUSION_PLANS}
        taken = [(c, i) for c, i in places if i < per_lc[c.lc_id]]
        if len(taken) != site.partnerships:
            raise RuntimeError(f"{site.key}: plans hold {len(taken)} parcels")
        for j, (c, i) in enumerate(taken):
            seq[site.soum] = seq.get(site.soum, 0) + 1
            rows.append(
                {
                    "id": f"CP-{site.soum}-{seq[site.soum]:05d}",
                    "site": site,
                    "lc": c,
                    "cell": i,
                    "holder": names[holders][j],
                    "holder_type": str(site_kinds[j]),
                    "members_women": int(women[j]),
                    "members_men": int(members[j] - women[j]),
                }
            )
    n = len(rows)
    ids = np.array([r["id"] for r in rows], dtype=object)
    cx = np.array([r["lc"].cx[r["cell"]] for r in rows])
    cy = np.array([r["lc"].cy[r["cell"]] for r in rows])
    x1, y1, x2, y2 = _parcel_boxes(rng, cx, cy)
    index = {pid: k for k, pid in enumerate(ids)}
    # (a) two neighbours sharing a 15 m x 200 m strip (0.3 ha)
    a, b = index[_PARCEL_OVERLAP[0]], index[_PARCEL_OVERLAP[1]]
    x1[b], x2[b], y1[b], y2[b] = cx[b] + 25, cx[b] + 225, cy[b] + 20, cy[b] + 220
    x1[a], x2[a], y1[a], y2[a] = cx[b] - 160, cx[b] + 40, cy[a] + 20, cy[a] + 220
    # (b) 20 m x 200 m (0.4 ha) across the Land Conclusion's west edge
    o = index[_PARCEL_OUTSIDE[0]]
    x1[o], x2[o], y1[o], y2[o] = cx[o] - LC_MARGIN - 20, cx[o] + 150, cy[o] + 20, cy[o] + 220

    # Contract statuses: forced for the conflict features, a fixed mix shuffled for the rest.
    status = np.full(n, "", dtype=object)
    forced = {
        _PARCEL_OVERLAP[0]: "active",
        _PARCEL_OVERLAP[1]: "applied",  # applied overlapping a granted one: the check finds it
        _PARCEL_OUTSIDE[0]: "active",
        _PARCEL_PAST_EXPIRY: "active",
        **{z[1]: z[2] for z in _REHAB_OVERDUE},
    }
    for pid, st in forced.items():
        status[index[pid]] = st
    free = np.flatnonzero(status == "")
    mix = ["applied"] * 10 + ["expired"] * 6 + ["suspended"] * 3 + ["terminated"] * 3
    mix += ["active"] * (len(free) - len(mix))
    status[free] = rng.permutation(np.array(mix, dtype=object))
    status_s = status.astype(str)
    soon = np.zeros(n, dtype=bool)
    soon[rng.choice(free[status_s[free] == "active"], 6, replace=False)] = True
    signed, starts, expires = _contract_days(rng, status_s, soon)
    past = index[_PARCEL_PAST_EXPIRY]
    expires[past] = -25
    starts[past] = expires[past] - 365
    signed[past] = starts[past] - 7
    # contracts are signed after the Land Conclusion was issued
    decided = np.array([(r["lc"].decided - today).days for r in rows])
    if np.any(signed <= decided):
        raise RuntimeError("a demo contract predates its Land Conclusion")
    has = status_s != "applied"
    signed_d = _dates(signed, today, has)
    soum_codes = [r["site"].soum for r in rows]
    numbers = np.array(
        [
            f"{s}-{d.year}-{int(pid[-5:]):03d}" if d is not None else None
            for s, d, pid in zip(soum_codes, signed_d, ids, strict=True)
        ],
        dtype=object,
    )
    geoms = np.empty(n, dtype=object)
    for zone in {_SOUM[s].zone for s in soum_codes}:
        sel = np.array([_SOUM[s].zone == zone for s in soum_codes])
        geoms[sel] = _to_wgs(shapely.box(x1[sel], y1[sel], x2[sel], y2[sel]), zone)
    tables["contract_parcels"].add(
        geoms,
        id=ids,
        land_conclusion_id=np.array([r["lc"].lc_id for r in rows], dtype=object),
        holder=np.array([r["holder"] for r in rows], dtype=object),
        holder_type=np.array([r["holder_type"] for r in rows], dtype=object),
        members_women=np.array([r["members_women"] for r in rows]),
        members_men=np.array([r["members_men"] for r in rows]),
        contract_no=numbers,
        status=status,
        signed_on=signed_d,
        starts_on=_dates(starts, today, has),
        expires_on=_dates(expires, today, has),
    )

    # Rehabilitation: the overdue ones, 14 more in every stage, and 2 legacy zones.
    overdue = [index[z[1]] for z in _REHAB_OVERDUE]
    excluded = {index[p] for p in (*_PARCEL_OVERLAP, _PARCEL_OUTSIDE[0], *forced)}
    eligible = np.array([k for k in range(n) if has[k] and k not in excluded])
    picked = np.sort(rng.choice(eligible, 14, replace=False))
    which = np.concatenate([np.array(overdue), picked])
    stages = np.array(
        [z[3] for z in _REHAB_OVERDUE]
        + rng.permutation(
            ["required"] * 3 + ["technical_done"] * 3 + ["biological_done"] * 4
            + ["accepted"] * 4
        ).tolist(),
        dtype=object,
    )  # fmt: skip
    due = rng.integers(30, 500, len(which))
    due[: len(overdue)] = [-z[4] for z in _REHAB_OVERDUE]
    accepted = stages == "accepted"
    due[accepted] = -rng.integers(30, 700, int(accepted.sum()))
    accepted_days = due - rng.integers(0, 60, len(which))
    rx1, ry1, rx2, ry2 = _inner_boxes(rng, x1[which], y1[which], x2[which], y2[which])
    rz_seq: dict[str, int] = {}
    rz_ids = []
    for k in which:
        s = soum_codes[k]
        rz_seq[s] = rz_seq.get(s, 0) + 1
        rz_ids.append(f"RZ-{s}-{rz_seq[s]:04d}")
    rz_geoms = np.empty(len(which), dtype=object)
    rz_zones = np.array([_SOUM[soum_codes[k]].zone for k in which])
    for zone in set(rz_zones.tolist()):
        sel = rz_zones == zone
        rz_geoms[sel] = _to_wgs(shapely.box(rx1[sel], ry1[sel], rx2[sel], ry2[sel]), zone)
    tables["rehab_zones"].add(
        rz_geoms,
        id=np.array(rz_ids, dtype=object),
        parcel_id=ids[which],
        holder=np.array([rows[k]["holder"] for k in which], dtype=object),
        stage=stages,
        due_on=_dates(due, today),
        accepted_on=_dates(accepted_days, today, accepted),
    )
    # Legacy disturbed land without a holder, in two free cells of Yusunbulag's Land Conclusion.
    lc = next(c for c in lc_cells if c.lc_id == "LC-MN8201-001")
    free_cells = np.array([25, 28])
    lx1, ly1, lx2, ly2 = _inner_boxes(
        rng,
        lc.cx[free_cells] + CELL_GAP,
        lc.cy[free_cells] + CELL_GAP,
        lc.cx[free_cells] + CELL - CELL_GAP,
        lc.cy[free_cells] + CELL - CELL_GAP,
    )
    tables["rehab_zones"].add(
        _to_wgs(shapely.box(lx1, ly1, lx2, ly2), _SOUM["MN8201"].zone),
        id=np.array(
            [f"RZ-MN8201-{rz_seq.get('MN8201', 0) + j + 1:04d}" for j in range(2)], dtype=object
        ),
        parcel_id=None,
        holder=LEGACY_HOLDER,
        stage=np.array(["required", "technical_done"], dtype=object),
        due_on=None,
        accepted_on=None,
    )


def _extra_blocks(
    soum: _Soum, outline: BaseGeometry, reserved: list[BaseGeometry], count: int
) -> tuple[FloatArray, FloatArray]:
    """South-west corners (UTM metres) of ``count`` free square blocks nearest the soum centre."""
    side = EXTRA_CELLS * CELL + 2 * LC_MARGIN
    pitch = side + BLOCK_GAP
    area = _to_utm(outline, soum.zone)
    minx, miny, maxx, maxy = area.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx - side, pitch), np.arange(miny, maxy - side, pitch))
    bx, by = xs.ravel(), ys.ravel()
    boxes = shapely.box(bx, by, bx + side, by + side)
    inner = area.buffer(-CLEARANCE)
    shapely.prepare(inner)
    ok = shapely.contains(inner, boxes)
    blocked = shapely.buffer(_to_utm(np.array(reserved, dtype=object), soum.zone), CLEARANCE)
    hits = shapely.STRtree(blocked).query(boxes, predicate="intersects")[0]
    ok[hits] = False
    # stay inside the soum's UTM zone, so every parcel's official zone is the layout's one
    west, east = -180 + 6 * (soum.zone - 1), -180 + 6 * soum.zone
    inv = _transformers(soum.zone)[1]
    lon_w = np.minimum(inv.transform(bx, by)[0], inv.transform(bx, by + side)[0])
    lon_e = np.maximum(inv.transform(bx + side, by)[0], inv.transform(bx + side, by + side)[0])
    ok &= (lon_w > west + 0.01) & (lon_e < east - 0.01)
    cx, cy = _transformers(soum.zone)[0].transform(*soum.centre)
    free = np.flatnonzero(ok)
    order = free[np.argsort(np.hypot(bx[free] + side / 2 - cx, by[free] + side / 2 - cy))]
    if len(order) < count:
        raise ValueError(
            f"soum {soum.code} has room for {len(order)} added Land Conclusions, "
            f"{count} needed: use a smaller scale"
        )
    return bx[order[:count]], by[order[:count]]


def _extra(
    rng: np.random.Generator,
    tables: dict[str, _Table],
    today: date,
    scale: int,
    outlines: dict[str, BaseGeometry],
    reserved: list[BaseGeometry],
) -> None:
    """``(scale - 1) x 100`` more parcels in added issued Land Conclusions (vectorised)."""
    per_block = EXTRA_CELLS * EXTRA_CELLS
    side = EXTRA_CELLS * CELL + 2 * LC_MARGIN
    number = 0
    for soum in SOUMS:
        sites = [s for s in SITES if s.soum == soum.code]
        n = (scale - 1) * sum(s.partnerships for s in sites)
        base_lcs = sum(1 for p in LAND_CONCLUSION_PLANS if _SITE[p.site].soum == soum.code)
        base_parcels = sum(s.partnerships for s in sites)
        n_blocks = -(-n // per_block)
        bx, by = _extra_blocks(soum, outlines[soum.code], reserved, n_blocks)

        # Land Conclusions: issued, valid for ten years.
        lc_seq = base_lcs + 1 + np.arange(n_blocks)
        lc_ids = np.array([f"LC-{soum.code}-{k:03d}" for k in lc_seq], dtype=object)
        decided = -rng.integers(1600, 2400, n_blocks)
        submitted = decided - rng.integers(60, 400, n_blocks)
        approved = submitted - rng.integers(20, 120, n_blocks)
        proposed = approved - rng.integers(30, 120, n_blocks)
        decided_d = _dates(decided, today)
        by_aimag = rng.random(n_blocks) < 0.15
        tables["land_conclusions"].add(
            _to_wgs(shapely.box(bx, by, bx + side, by + side), soum.zone),
            id=lc_ids,
            name=np.array(
                [f"{soum.name_mn} сумын бичил уурхайн талбай №{k}" for k in lc_seq], dtype=object
            ),
            aimag_code=soum.aimag,
            soum_code=soum.code,
            requested_by=np.where(by_aimag, "aimag", "soum").astype(object),
            status="issued",
            mineral="gold",
            proposed_on=_dates(proposed, today),
            khural_approved_on=_dates(approved, today),
            submitted_on=_dates(submitted, today),
            decided_on=decided_d,
            valid_until=_dates(decided + LAND_CONCLUSION_VALIDITY_DAYS, today),
            decision_ref=np.array(
                [
                    f"АМГТГ-{d.year}/{r:03d}"
                    for d, r in zip(decided_d, rng.integers(1, 400, n_blocks), strict=True)
                ],
                dtype=object,
            ),
        )

        # Parcels: cell k of block k // 100.
        k = np.arange(n)
        blk, cell = k // per_block, k % per_block
        cx = bx[blk] + LC_MARGIN + (cell % EXTRA_CELLS) * CELL
        cy = by[blk] + LC_MARGIN + (cell // EXTRA_CELLS) * CELL
        x1, y1, x2, y2 = _parcel_boxes(rng, cx, cy)
        p_seq = base_parcels + 1 + k
        ids = np.array([f"CP-{soum.code}-{q:05d}" for q in p_seq], dtype=object)
        coop = rng.random(n) < 0.15
        numbers = number + 1 + k
        number += n
        holder = np.array(
            [f"{_GENERATED['cooperative' if c else 'partnership']} #{q}"
             for c, q in zip(coop, numbers, strict=True)],
            dtype=object,
        )  # fmt: skip
        members = rng.integers(5, 31, n)
        women = rng.binomial(members, 0.38)
        status = rng.choice(
            np.array(["active", "applied", "expired", "suspended", "terminated"]),
            n,
            p=[0.8, 0.08, 0.06, 0.03, 0.03],
        )
        soon = (status == "active") & (rng.random(n) < 0.05)
        signed, starts, expires = _contract_days(rng, status, soon)
        has = status != "applied"
        signed_d = _dates(signed, today, has)
        contract_no = np.array(
            [f"{soum.code}-{d.year}-{q:03d}" if d is not None else None
             for d, q in zip(signed_d, p_seq, strict=True)],
            dtype=object,
        )  # fmt: skip
        tables["contract_parcels"].add(
            _to_wgs(shapely.box(x1, y1, x2, y2), soum.zone),
            id=ids,
            land_conclusion_id=lc_ids[blk],
            holder=holder,
            holder_type=np.where(coop, "cooperative", "partnership").astype(object),
            members_women=women,
            members_men=members - women,
            contract_no=contract_no,
            status=status.astype(object),
            signed_on=signed_d,
            starts_on=_dates(starts, today, has),
            expires_on=_dates(expires, today, has),
        )

        # Rehabilitation inside about one parcel in seven (none overdue).
        which = np.flatnonzero(has & (rng.random(n) < 0.15))
        m = len(which)
        stages = rng.choice(
            np.array(["required", "technical_done", "biological_done", "accepted"]), m
        )
        accepted = stages == "accepted"
        due = rng.integers(30, 700, m)
        due[accepted] = -due[accepted]
        accepted_days = due - rng.integers(0, 60, m)
        rx1, ry1, rx2, ry2 = _inner_boxes(rng, x1[which], y1[which], x2[which], y2[which])
        prefix = f"RZ-{soum.code}-"
        base_rz = sum(
            str(i).startswith(prefix) for z in tables["rehab_zones"].parts for i in z["id"]
        )
        tables["rehab_zones"].add(
            _to_wgs(shapely.box(rx1, ry1, rx2, ry2), soum.zone),
            id=np.array([f"RZ-{soum.code}-{base_rz + j + 1:04d}" for j in range(m)], dtype=object),
            parcel_id=ids[which],
            holder=holder[which],
            stage=stages.astype(object),
            due_on=_dates(due, today),
            accepted_on=_dates(accepted_days, today, accepted),
        )
