"""The demo's background layers, generated: the settlements of its soums (their centres with
Cyrillic and Latin names, Tunkhel village), roads between them and three lakes.

Everything is built here from the demo's own soum centres (``layers.demo.sites``); nothing is
read from the national files. The lakes are drawn clear of every Land Conclusion, licence and
exclusion of the base demo, and the extra Land Conclusions of a large demo keep clear of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from layers.demo.shapes import _blob, _origin, _to_wgs
from layers.demo.sites import _SITE, _SOUM, SOUMS


@dataclass(frozen=True)
class _Road:
    id: str
    ends: tuple[str, str]  # site keys
    kind: str
    class_code: int
    wiggle: float  # the largest sideways swing, as a share of the road's length


@dataclass(frozen=True)
class _Lake:
    id: str
    site: str
    name: str
    name_latin: str
    centre_km: tuple[float, float]
    radius_km: float


#: Latin names of the demo's places (the soums' are their ``name_en``).
_LATIN = {"tunkhel": "Tünkhel"}
#: Yusunbulag is the aimag centre of Govi-Altai (the town of Altai); the others are soum centres.
_AIMAG_CENTRES = frozenset({"MN8201"})

ROADS: tuple[_Road, ...] = (
    _Road("RD-001", ("bayangol", "mandal"), "paved", 1, 0.04),
    _Road("RD-002", ("mandal", "tunkhel"), "gravel", 2, 0.08),
    _Road("RD-003", ("yusunbulag", "altai"), "earth", 3, 0.03),
)

LAKES: tuple[_Lake, ...] = (
    _Lake("WT-001", "yusunbulag", "Цагаан нуур", "Tsagaan nuur", (-10.0, -8.0), 2.0),
    _Lake("WT-002", "mandal", "Хөх нуур", "Khökh nuur", (-12.0, -10.0), 1.4),
    _Lake("WT-003", "altai", "Хар нуур", "Khar nuur", (-12.0, 6.0), 1.2),
)


def settlements() -> dict[str, Any]:
    """Columns and points of the settlements: one per demo soum centre, and Tunkhel."""
    rows = [
        (
            f"ST-{s.code}",
            s.name_mn,
            s.name_en,
            "aimag_centre" if s.code in _AIMAG_CENTRES else "soum_centre",
            s.code,
            s.aimag,
            shapely.Point(s.centre),
        )
        for s in SOUMS
    ]
    village = _SITE["tunkhel"]
    soum = _SOUM[village.soum]
    rows.append(
        (
            "ST-TUNKHEL",
            village.name_mn,
            _LATIN["tunkhel"],
            "village",
            soum.code,
            soum.aimag,
            shapely.Point(village.centre),
        )
    )
    names = ("id", "name", "name_latin", "kind", "soum_code", "aimag_code", "geometry")
    return {n: np.array([r[i] for r in rows], dtype=object) for i, n in enumerate(names)}


def _wiggly(a: tuple[float, float], b: tuple[float, float], wiggle: float, seed: int) -> Any:
    """A road from ``a`` to ``b`` (lon/lat) swinging smoothly to either side, as roads over the
    steppe do; both ends exactly at the centres."""
    n = 48
    t = np.linspace(0.0, 1.0, n)
    (x0, y0), (x1, y1) = a, b
    kx = math.cos(math.radians((y0 + y1) / 2))
    dx, dy = (x1 - x0) * kx, y1 - y0
    length = math.hypot(dx, dy)
    side = np.sin(math.pi * t) * (
        np.sin(2 * math.pi * t + seed) * 0.7 + np.sin(5 * math.pi * t + 2 * seed) * 0.3
    )
    off = wiggle * length * side
    xs = x0 + (x1 - x0) * t + (-dy / length) * off / kx
    ys = y0 + (y1 - y0) * t + (dx / length) * off
    return shapely.linestrings(np.round(np.column_stack([xs, ys]), 6))


def roads() -> dict[str, Any]:
    """Columns and lines of the demo's roads between its soum centres."""
    geoms, names, latin = [], [], []
    for i, r in enumerate(ROADS):
        one, two = (_SITE[k] for k in r.ends)
        geoms.append(_wiggly(one.centre, two.centre, r.wiggle, i + 1))
        names.append(f"{one.name_mn} — {two.name_mn}")
        latin.append(" — ".join(_latin(k) for k in r.ends))
    return {
        "id": np.array([r.id for r in ROADS], dtype=object),
        "name": np.array(names, dtype=object),
        "name_latin": np.array(latin, dtype=object),
        "kind": np.array([r.kind for r in ROADS], dtype=object),
        "class_code": np.array([r.class_code for r in ROADS], dtype=object),
        "geometry": np.array(geoms, dtype=object),
    }


def _latin(site_key: str) -> str:
    site = _SITE[site_key]
    if site_key in _LATIN:
        return _LATIN[site_key]
    return _SOUM[site.soum].name_en


def lakes() -> dict[str, Any]:
    """Columns and polygons of the demo's lakes (smooth irregular outlines)."""
    geoms: list[BaseGeometry] = []
    for i, lake in enumerate(LAKES):
        site = _SITE[lake.site]
        ox, oy = _origin(site)
        cx, cy = ox + lake.centre_km[0] * 1000, oy + lake.centre_km[1] * 1000
        shape = _blob(cx, cy, lake.radius_km * 1000, (0.7 + i, 2.9, 1.3 * i), n=72)
        geoms.append(_to_wgs(shape, _SOUM[site.soum].zone))
    return {
        "id": np.array([lake.id for lake in LAKES], dtype=object),
        "name": np.array([lake.name for lake in LAKES], dtype=object),
        "name_latin": np.array([lake.name_latin for lake in LAKES], dtype=object),
        "kind": np.array(["lake"] * len(LAKES), dtype=object),
        "geometry": np.array(geoms, dtype=object),
    }
