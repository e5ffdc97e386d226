"""The demo's geometry, dates and names: UTM layouts, outlines, cells and generated holders."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from layers.demo.sites import (
    _MAX_SIDE,
    _OUTLINES,
    _SOUM,
    AIMAGS,
    CELL,
    CELL_GAP,
    LC_MARGIN,
    SOUMS,
    FloatArray,
    IntArray,
    _Site,
)
from layers.schema import STORE_CRS

# ----------------------------------------------------------------------------------- geometry


@lru_cache(maxsize=16)
def _transformers(zone: int) -> tuple[Transformer, Transformer]:
    utm = f"EPSG:{32600 + zone}"
    return (
        Transformer.from_crs(STORE_CRS, utm, always_xy=True),
        Transformer.from_crs(utm, STORE_CRS, always_xy=True),
    )


def _transform(geoms: Any, transformer: Transformer) -> Any:
    def f(c: FloatArray) -> FloatArray:
        x, y = transformer.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, f)


def _to_wgs(geoms: Any, zone: int) -> Any:
    return _transform(geoms, _transformers(zone)[1])


def _to_utm(geoms: Any, zone: int) -> Any:
    return _transform(geoms, _transformers(zone)[0])


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
