"""The demo's facts and plans: the soums, sites, Land Conclusion plans, licences, exclusions
and the deliberate conflicts (see :mod:`layers.demo`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt

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
