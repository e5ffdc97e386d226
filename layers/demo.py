"""Deterministic demo data: the five planetGOLD target sites with Land Conclusions and parcels.

``build_demo`` makes one GeoDataFrame per registered layer (``layers.schema.REGISTRY``). It is
pure: no file or network I/O. The few real facts it needs (soum centres, codes, names, the
partnership figures) are constants below, each with its source; everything else (outlines,
Land Conclusions, parcels, rehabilitation zones, exclusions, licences) is synthetic.

Everything is clean except a handful of deliberate conflicts listed in ``DEMO_CONFLICTS``.
Geometry is laid out in metres in the WGS84 UTM zone of each soum (parcels are rectangles there,
so their official area is exactly the drawn one) and stored in EPSG:4326.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from layers.schema import REGISTRY, STORE_CRS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: side of one parcel cell (m); a parcel is at most 220 m x 220 m = 4.84 ha inside it
CELL = 240.0
#: smallest distance between a parcel and its cell's edge (so 20 m between neighbours)
CELL_GAP = 10.0
#: border between a Land Conclusion's edge and its first cells (parcels keep >= 40 m)
LC_MARGIN = 30.0
#: cells per side of the Land Conclusions added by ``scale`` (100 parcels each)
EXTRA_CELLS = 10
#: free strip between added Land Conclusions (m)
BLOCK_GAP = 200.0
#: added Land Conclusions keep this far (m) from soum edges and from reserved land
CLEARANCE = 300.0
_MAX_SIDE = CELL - 2 * CELL_GAP

LAND_CONCLUSION_VALIDITY_DAYS = 3652  # synthetic: 10 years


@dataclass(frozen=True)
class _Soum:
    code: str
    aimag: str
    name_mn: str
    name_en: str
    centre: tuple[float, float]  # lon, lat
    zone: int  # UTM zone of the centre, where the soum's layout is drawn


@dataclass(frozen=True)
class _Aimag:
    code: str
    name_mn: str
    name_en: str
    soum: str  # the soum whose centre and zone place the outline
    anchor_km: tuple[float, float]
    radius_km: float
    phases: tuple[float, float, float]


@dataclass(frozen=True)
class _Site:
    """A target site of domain.md: a soum, or Tunkhel village inside Mandal soum."""

    key: str
    soum: str
    name_mn: str
    centre: tuple[float, float]
    partnerships: int
    members: int


# Centres: ALAGaC soum_centers.geojson (Altai: the "Алтай" point inside HDX polygon MN8404, i.e.
# SOUMCENT_I 56, not the namesakes in Govi-Altai and Bayan-Ölgii; Mandal: the point named
# "Мандал"; Bayangol: SOUMCENT_I 221; Tunkhel: SOUMCENT_I 223). Yusunbulag is the aimag centre
# soum of Govi-Altai and has no soum point: its centre is the "Алтай" point of ALAGaC
# aimag_centers.geojson (96.2 E, 46.4 N). Codes: HDX COD-AB v3 ADM2_PCODE / ADM1_PCODE.
SOUMS: tuple[_Soum, ...] = (
    _Soum("MN8201", "MN82", "Есөнбулаг", "Yusunbulag", (96.2, 46.4), 47),
    _Soum("MN4310", "MN43", "Баянгол", "Bayangol", (106.10329, 48.92756), 48),
    _Soum("MN4322", "MN43", "Мандал", "Mandal", (106.51754, 48.8181), 48),
    _Soum("MN8404", "MN84", "Алтай", "Altai", (92.27663, 45.82192), 46),
)

#: Synthetic soum outlines: centre (km east, km north of the soum centre), mean radius (km) and
#: the phases of their wobble. Large enough for ``scale=1000``; Bayangol loses what Mandal covers.
_OUTLINES: dict[str, tuple[tuple[float, float], float, tuple[float, float, float]]] = {
    "MN8201": ((20, -5), 28, (0.4, 2.1, 4.0)),
    "MN4310": ((-13, 11), 31, (1.3, 5.0, 0.2)),
    "MN4322": ((15, -6), 36, (2.2, 0.7, 3.1)),
    "MN8404": ((0, -5), 23, (5.1, 3.3, 1.7)),
}

AIMAGS: tuple[_Aimag, ...] = (
    _Aimag("MN82", "Говь-Алтай", "Govi-Altai", "MN8201", (0, -50), 110, (0.9, 1.8, 2.7)),
    _Aimag("MN43", "Сэлэнгэ", "Selenge", "MN4322", (-10, 50), 110, (3.9, 0.4, 5.2)),
    _Aimag("MN84", "Ховд", "Khovd", "MN8404", (-20, 40), 100, (2.6, 4.4, 0.8)),
)

# domain.md, "Target soums" (planetGOLD Mongolia sites, ASM-NF 2019): partnerships and members.
SITES: tuple[_Site, ...] = (
    _Site("yusunbulag", "MN8201", "Есөнбулаг", (96.2, 46.4), 22, 214),
    _Site("bayangol", "MN4310", "Баянгол", (106.10329, 48.92756), 27, 108),
    _Site("mandal", "MN4322", "Мандал", (106.51754, 48.8181), 32, 189),
    _Site("tunkhel", "MN4322", "Түнхэл", (106.76714, 48.65495), 8, 180),
    _Site("altai", "MN8404", "Алтай", (92.27663, 45.82192), 11, 99),
)

_SOUM = {s.code: s for s in SOUMS}
_SITE = {s.key: s for s in SITES}


@dataclass(frozen=True)
class _LcPlan:
    """A Land Conclusion of the base demo, placed by its south-west corner (km from the site)."""

    id: str
    site: str
    status: str
    corner_km: tuple[float, float]
    cols: int
    rows: int
    parcels: int  # partnerships of the site it holds (issued ones only)
    place: str
    requested_by: str = "soum"
    last_step_ago: int = 0  # days between the last step reached and today
    validity_days: int | None = None  # decided -> valid_until, for decided ones


LAND_CONCLUSION_PLANS: tuple[_LcPlan, ...] = (
    _LcPlan("LC-MN8201-001", "yusunbulag", "issued", (6, -5), 6, 5, 22, "Хөх толгой",
            last_step_ago=1900, validity_days=LAND_CONCLUSION_VALIDITY_DAYS),
    _LcPlan("LC-MN8201-002", "yusunbulag", "issued", (11, 2), 6, 4, 0, "Шар нуруу", "aimag",
            last_step_ago=3400, validity_days=3000),  # issued, but past valid_until
    _LcPlan("LC-MN8201-003", "yusunbulag", "khural_approved", (3, 6), 5, 4, 0, "Улаан овоо",
            last_step_ago=420),  # waiting long for submission
    _LcPlan("LC-MN8201-004", "yusunbulag", "rejected", (4, -12), 5, 5, 0, "Хар ус",
            last_step_ago=210),
    _LcPlan("LC-MN4310-001", "bayangol", "issued", (-7, 3), 6, 5, 27, "Цагаан гол",
            last_step_ago=2100, validity_days=LAND_CONCLUSION_VALIDITY_DAYS),
    _LcPlan("LC-MN4310-002", "bayangol", "proposed", (4, 5), 5, 4, 0, "Баян өндөр",
            last_step_ago=35),
    _LcPlan("LC-MN4310-003", "bayangol", "under_review", (-12, -5), 5, 5, 0, "Шаргын ам",
            "aimag", last_step_ago=540),  # waiting long for MRPAM
    _LcPlan("LC-MN4310-004", "bayangol", "submitted", (-18.8, 7.7), 6, 5, 0, "Хонгор уул",
            last_step_ago=60),  # over the protected area
    _LcPlan("LC-MN4322-001", "mandal", "issued", (4, 2), 4, 5, 16, "Хонхорын ам",
            last_step_ago=1700, validity_days=LAND_CONCLUSION_VALIDITY_DAYS),
    _LcPlan("LC-MN4322-002", "mandal", "issued", (7, -4), 4, 4, 16, "Бургастай",
            last_step_ago=1650, validity_days=LAND_CONCLUSION_VALIDITY_DAYS),
    _LcPlan("LC-MN4322-003", "mandal", "expired", (2, 8), 5, 4, 0, "Элстэй",
            last_step_ago=4000, validity_days=LAND_CONCLUSION_VALIDITY_DAYS),
    _LcPlan("LC-MN4322-004", "mandal", "submitted", (12, -8), 5, 4, 0, "Модот",
            last_step_ago=95),
    _LcPlan("LC-MN4322-005", "tunkhel", "issued", (2, -2.5), 4, 3, 8, "Түнхэлийн ам",
            last_step_ago=1800, validity_days=LAND_CONCLUSION_VALIDITY_DAYS),
    _LcPlan("LC-MN8404-001", "altai", "issued", (5, -3), 4, 4, 11, "Цэцэг толгой",
            last_step_ago=2000, validity_days=LAND_CONCLUSION_VALIDITY_DAYS),
    _LcPlan("LC-MN8404-002", "altai", "under_review", (-7, -7), 6, 5, 0, "Бор толгой",
            last_step_ago=150),  # over the mining licence MV-017345
    _LcPlan("LC-MN8404-003", "altai", "revoked", (3, 6), 5, 4, 0, "Ногоон ус", "aimag",
            last_step_ago=1500, validity_days=LAND_CONCLUSION_VALIDITY_DAYS),
)  # fmt: skip


@dataclass(frozen=True)
class _Licence:
    id: str
    site: str
    corner_km: tuple[float, float]
    size_km: tuple[float, float]
    holder: str
    mineral: str
    given_ago: int  # days
    years: int


# Synthetic licences (numbers and holders invented for the demo).
LICENCES: tuple[_Licence, ...] = (
    _Licence("MV-017345", "altai", (-6, -8.4), (2, 2), "Бор Хайрхан Майнинг ХХК", "gold", 4300, 30),
    _Licence("XV-020031", "altai", (10, 8), (2, 3), "Саран Эрдэс ХХК", "coal", 1400, 9),
    _Licence(
        "MV-012097", "yusunbulag", (14, -10), (3, 2), "Говийн Нүүрс Трейд ХХК", "coal", 5200, 30
    ),
    _Licence("XV-018214", "bayangol", (3, -8), (2.5, 2), "Шижир Гоулд ХХК", "gold", 1900, 9),
    _Licence("MV-016550", "mandal", (11, 5), (2.5, 2), "Хараа Голд Ресурс ХХК", "gold", 3900, 30),
)


@dataclass(frozen=True)
class _Exclusion:
    id: str
    site: str
    kind: str
    name: str
    centre_km: tuple[float, float]
    radius_km: float  # blobs; for a river: half the strip's width
    line_km: tuple[tuple[float, float], ...] = ()


# Synthetic exclusions. The Kharaa river does flow through Züünkharaa in Mandal soum; its line
# here is drawn by hand, not traced.
EXCLUSIONS: tuple[_Exclusion, ...] = (
    _Exclusion("EX-001", "bayangol", "protected_area", "Хонгор уулын байгалийн нөөц газар",
               (-20.5, 11.5), 3.5),
    _Exclusion("EX-002", "mandal", "water_protection", "Хараа голын усны хамгаалалтын бүс",
               (0, 0), 0.15, ((-1.5, -18), (-2.5, -8), (-3.5, 0), (-4.2, 4.9), (-6, 12), (-8, 19))),
    _Exclusion("EX-003", "tunkhel", "settlement", "Түнхэл тосгон", (0, 0), 1.2),
    _Exclusion("EX-004", "yusunbulag", "settlement", "Алтай хот", (0, 0), 3.5),
    _Exclusion("EX-005", "bayangol", "settlement", "Баянгол сумын төв", (0, 0), 1.5),
    _Exclusion("EX-006", "mandal", "settlement", "Мандал сумын төв", (0, 0), 1.2),
    _Exclusion("EX-007", "mandal", "settlement", "Зүүнхараа хот", (-4.2, 4.9), 2.5),
    _Exclusion("EX-008", "altai", "settlement", "Алтай сумын төв", (0, 0), 1.5),
)  # fmt: skip

# Parcels are numbered per soum in plan order (Mandal's two Land Conclusions, then Tunkhel's).
_PARCEL_OVERLAP = ("CP-MN4322-00001", "CP-MN4322-00002")  # (a): cells (0, 0) and (0, 1)
_PARCEL_OUTSIDE = ("CP-MN4310-00001", "LC-MN4310-001")  # (b): cell (0, 0) crosses the west edge
_PARCEL_PAST_EXPIRY = "CP-MN8201-00005"  # (e)
#: (f): zone id, its parcel, the parcel's contract status, stage, days overdue
_REHAB_OVERDUE = (
    ("RZ-MN8201-0001", "CP-MN8201-00007", "active", "required", 120),
    ("RZ-MN8404-0001", "CP-MN8404-00003", "expired", "technical_done", 40),
)


def _conflict(kind: str, a_layer: str, a_id: str, b_layer: str | None = None,
              b_id: str | None = None) -> dict[str, str | None]:  # fmt: skip
    return {"kind": kind, "a_layer": a_layer, "a_id": a_id, "b_layer": b_layer, "b_id": b_id}


#: The deliberate conflicts of the demo; nothing else in it conflicts.
DEMO_CONFLICTS: tuple[dict[str, str | None], ...] = (
    _conflict("parcel_parcel_overlap", "contract_parcels", _PARCEL_OVERLAP[0],
              "contract_parcels", _PARCEL_OVERLAP[1]),
    _conflict("parcel_outside_land_conclusion", "contract_parcels", _PARCEL_OUTSIDE[0],
              "land_conclusions", _PARCEL_OUTSIDE[1]),
    _conflict("land_conclusion_over_licence", "land_conclusions", "LC-MN8404-002",
              "licences", "MV-017345"),
    _conflict("land_conclusion_over_exclusion", "land_conclusions", "LC-MN4310-004",
              "exclusions", "EX-001"),
    _conflict("contract_active_past_expiry", "contract_parcels", _PARCEL_PAST_EXPIRY),
    *(_conflict("rehab_overdue", "rehab_zones", z[0]) for z in _REHAB_OVERDUE),
)  # fmt: skip


def expected_conflicts(demo: Mapping[str, gpd.GeoDataFrame]) -> list[dict[str, str | None]]:
    """The deliberate conflicts of a ``build_demo`` result, each feature checked to exist.

    Raises
    ------
    ValueError
        naming a layer or feature id the demo does not hold (not a ``build_demo`` result).
    """
    ids: dict[str, set[str]] = {}
    for c in DEMO_CONFLICTS:
        for side in ("a", "b"):
            layer, fid = c[f"{side}_layer"], c[f"{side}_id"]
            if layer is None:
                continue
            if layer not in demo:
                raise ValueError(f"the demo has no layer '{layer}' (conflict {c['kind']})")
            if layer not in ids:
                ids[layer] = set(demo[layer]["id"])
            if fid not in ids[layer]:
                raise ValueError(f"the demo layer '{layer}' has no feature '{fid}' ({c['kind']})")
    return [dict(c) for c in DEMO_CONFLICTS]


# ----------------------------------------------------------------------------------- geometry


@lru_cache(maxsize=16)
def _transformers(zone: int) -> tuple[Transformer, Transformer]:
    utm = f"EPSG:{32600 + zone}"
    return (
        Transformer.from_crs(STORE_CRS, utm, always_xy=True),
        Transformer.from_crs(utm, STORE_CRS, always_xy=True),
    )


def _to_wgs(geoms: Any, zone: int) -> Any:
    inv = _transformers(zone)[1]

    def f(c: FloatArray) -> FloatArray:
        x, y = inv.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, f)


def _to_utm(geoms: Any, zone: int) -> Any:
    fwd = _transformers(zone)[0]

    def f(c: FloatArray) -> FloatArray:
        x, y = fwd.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, f)


def _origin(site: _Site) -> tuple[float, float]:
    """A site's centre in metres in its soum's UTM zone."""
    x, y = _transformers(_SOUM[site.soum].zone)[0].transform(*site.centre)
    return float(x), float(y)


def _blob(cx: float, cy: float, radius: float, phases: Sequence[float], n: int = 96) -> Polygon:
    """A smooth irregular outline (radius varies by at most +-23 %)."""
    t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    p1, p2, p3 = phases
    r = radius * (
        1 + 0.12 * np.sin(2 * t + p1) + 0.07 * np.sin(3 * t + p2) + 0.04 * np.sin(5 * t + p3)
    )
    return Polygon(np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)]))


def _admin() -> tuple[dict[str, BaseGeometry], dict[str, BaseGeometry]]:
    """Synthetic soum and aimag outlines (EPSG:4326) that do not overlap each other."""
    utm: dict[str, Polygon] = {}
    wgs: dict[str, BaseGeometry] = {}
    for s in SOUMS:
        x, y = _transformers(s.zone)[0].transform(*s.centre)
        (dx, dy), radius, phases = _OUTLINES[s.code]
        utm[s.code] = _blob(x + dx * 1000, y + dy * 1000, radius * 1000, phases)
        wgs[s.code] = _to_wgs(utm[s.code], s.zone)
    # Bayangol and Mandal are neighbours: Mandal keeps the shared strip.
    wgs["MN4310"] = shapely.normalize(wgs["MN4310"].difference(wgs["MN4322"]))
    aimags: dict[str, BaseGeometry] = {}
    for a in AIMAGS:
        s = _SOUM[a.soum]
        x, y = _transformers(s.zone)[0].transform(*s.centre)
        shape = _blob(
            x + a.anchor_km[0] * 1000, y + a.anchor_km[1] * 1000, a.radius_km * 1000, a.phases
        )
        parts = [_to_wgs(shape, s.zone)]
        parts += [_to_wgs(utm[m.code].buffer(5000), m.zone) for m in SOUMS if m.aimag == a.code]
        aimags[a.code] = shapely.normalize(shapely.union_all(parts))
    return wgs, aimags


def _rect(site: _Site, corner_km: tuple[float, float], w: float, h: float) -> Polygon:
    ox, oy = _origin(site)
    x0, y0 = ox + corner_km[0] * 1000, oy + corner_km[1] * 1000
    return shapely.box(x0, y0, x0 + w, y0 + h)


def _lc_size(cols: int, rows: int) -> tuple[float, float]:
    return cols * CELL + 2 * LC_MARGIN, rows * CELL + 2 * LC_MARGIN


def _parcel_boxes(
    rng: np.random.Generator, cx: FloatArray, cy: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Random 1-4.84 ha rectangles, each inside the cell whose south-west corner is (cx, cy)."""
    n = len(cx)
    w = rng.uniform(90.0, _MAX_SIDE, n)
    hmin = np.maximum(110.0, 10_050.0 / w)
    h = hmin + rng.random(n) * (_MAX_SIDE - hmin)
    x1 = cx + CELL_GAP + rng.random(n) * (_MAX_SIDE - w)
    y1 = cy + CELL_GAP + rng.random(n) * (_MAX_SIDE - h)
    return x1, y1, x1 + w, y1 + h


def _inner_boxes(
    rng: np.random.Generator, x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Random rectangles (30-60 % of each side) inside the given ones, 5 m from their edges."""
    n = len(x1)
    w = (x2 - x1) * rng.uniform(0.3, 0.6, n)
    h = (y2 - y1) * rng.uniform(0.3, 0.6, n)
    rx = x1 + 5 + rng.random(n) * (x2 - x1 - 10 - w)
    ry = y1 + 5 + rng.random(n) * (y2 - y1 - 10 - h)
    return rx, ry, rx + w, ry + h


# ------------------------------------------------------------------------------------- dates


def _dates(days: IntArray, today: date, present: npt.NDArray[np.bool_] | None = None) -> Any:
    """``today + days`` as an object array of ``datetime.date``; None where not ``present``."""
    out = (np.datetime64(today, "D") + days.astype("timedelta64[D]")).astype(object)
    if present is not None:
        out[~present] = None
    return out


def _contract_days(
    rng: np.random.Generator, status: npt.NDArray[np.str_], soon: npt.NDArray[np.bool_]
) -> tuple[IntArray, IntArray, IntArray]:
    """Day offsets from today of signed_on, starts_on, expires_on for contracts of 1-3 years.

    Active, suspended and terminated contracts end after 60 days (``soon``: within 5-59 days),
    expired ones 1-400 days ago. Applied ones get offsets too; the caller drops them.
    """
    n = len(status)
    expired = status == "expired"
    term = rng.integers(1, 4, n) * 365
    term[expired] = np.minimum(term[expired], 730)
    left = rng.integers(61, term + 1)
    left[soon] = rng.integers(5, 60, int(soon.sum()))
    left[expired] = -rng.integers(1, 401, int(expired.sum()))
    starts = left - term
    signed = starts - rng.integers(0, 15, n)
    return signed, starts, left


def _lc_dates(
    rng: np.random.Generator, status: str, last_ago: int, validity: int | None, today: date
) -> dict[str, date | None]:
    """Step dates in order: each earlier step 20-120 days before the next one."""
    reached = {
        "proposed": 1,
        "khural_approved": 2,
        "submitted": 3,
        "under_review": 3,
    }.get(status, 4)
    steps = ["proposed_on", "khural_approved_on", "submitted_on", "decided_on"]
    out: dict[str, date | None] = dict.fromkeys([*steps, "valid_until"])
    day = today - timedelta(days=last_ago + int(rng.integers(0, 11)))
    for name in reversed(steps[:reached]):
        out[name] = day
        day -= timedelta(days=int(rng.integers(20, 121)))
    decided = out["decided_on"]
    if decided is not None and validity is not None:
        out["valid_until"] = decided + timedelta(days=validity)
    return out


# ------------------------------------------------------------------------------------- names

_NAME_FIRST = (
    "Алтан", "Мөнгөн", "Хас", "Эрдэнэ", "Цагаан", "Хөх", "Улаан", "Шар", "Номин", "Оюу",
    "Тод", "Их", "Баян", "Сүлд", "Мөнх", "Түмэн", "Очир", "Гэрэлт", "Шинэ", "Долоон",
)  # fmt: skip
_NAME_SECOND = (
    "Шижир", "Булаг", "Уул", "Гол", "Тал", "Хангай", "Ундраа", "Туяа", "Зам", "Дөл",
    "Өргөө", "Хүлэг", "Наран", "Саран", "Хайрхан", "Булган", "Эрдэс", "Од", "Хурд", "Тэмүүлэл",
)  # fmt: skip
_SUFFIX = {"partnership": "нөхөрлөл", "cooperative": "хоршоо"}
_GENERATED = {"partnership": "Нөхөрлөл", "cooperative": "Хоршоо"}
LEGACY_HOLDER = "Эзэнгүй (хуучин эвдэрсэн газар)"


def _members(rng: np.random.Generator, total: int, kinds: npt.NDArray[np.str_]) -> IntArray:
    """Member counts summing to ``total``: cooperatives >= 5, partnerships >= 5 where the
    figures allow it (Bayangol's 108 members in 27 partnerships do not: there the floor is
    the largest that fits)."""
    n = len(kinds)
    coop = kinds == "cooperative"
    floor_p = 5
    while floor_p > 1 and 5 * int(coop.sum()) + floor_p * int((~coop).sum()) > total:
        floor_p -= 1
    mins = np.where(coop, 5, floor_p).astype(np.int64)
    spare = total - int(mins.sum())
    if spare < 0:
        raise ValueError(f"{total} members cannot fill {n} holders")
    weights = rng.gamma(1.5, 1.0, n)
    return mins + rng.multinomial(spare, weights / weights.sum())


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
    if scale > 1:
        _extra(rng, tables, today, int(scale), soums, [*reserved, *reserved_lcs])
    return {name: t.frame() for name, t in tables.items()}


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
        _PARCEL_OVERLAP[1]: "active",
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
