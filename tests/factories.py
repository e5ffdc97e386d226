"""Small layers built in memory, with shapes whose answers can be worked out by hand.

Shapes are drawn in metres in UTM zone 48N around Mandal soum (Selenge) and stored in EPSG:4326,
as every layer is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import shapely
from pyproj import Transformer

from layers.schema import REGISTRY

ZONE48 = "EPSG:32648"
#: a point in Mandal soum, in UTM 48N metres
ORIGIN = Transformer.from_crs("EPSG:4326", ZONE48, always_xy=True).transform(106.5, 48.8)
_TO_LONLAT = Transformer.from_crs(ZONE48, "EPSG:4326", always_xy=True)


def utm_box(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    """A ``w`` x ``h`` metre rectangle whose south-west corner is (x, y) m from ``ORIGIN``."""
    box = shapely.box(ORIGIN[0] + x, ORIGIN[1] + y, ORIGIN[0] + x + w, ORIGIN[1] + y + h)
    return shapely.transform(box, lambda c: _stack(_TO_LONLAT.transform(c[:, 0], c[:, 1])))


def _stack(xy: Any) -> Any:
    import numpy as np

    return np.column_stack(xy)


def frame(layer: str, rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """A layer frame with every schema column (missing values None) from row dicts."""
    kind = REGISTRY[layer]
    data = {c: [r.get(c) for r in rows] for c in kind.columns}
    geoms = [r["geometry"] for r in rows]
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


def frames(rows: dict[str, list[dict[str, Any]]]) -> dict[str, gpd.GeoDataFrame]:
    """Layer frames (as :func:`frame` builds them) from row dicts by layer name."""
    return {layer: frame(layer, layer_rows) for layer, layer_rows in rows.items()}


def land_conclusion(fid: str = "LC-1", **kw: Any) -> dict[str, Any]:
    return {
        "id": fid,
        "name": "Мандал - Баруун ам",
        "aimag_code": "MN43",
        "soum_code": "MN4322",
        "requested_by": "soum",
        "status": "issued",
        "mineral": "gold",
        "proposed_on": dt.date(2024, 3, 1),
        "khural_approved_on": dt.date(2024, 4, 10),
        "submitted_on": dt.date(2024, 5, 2),
        "decided_on": dt.date(2024, 9, 20),
        "valid_until": dt.date(2029, 9, 20),
        "decision_ref": "АМГТГ-2024/117",
        "geometry": utm_box(0, 0, 2000, 1000),
        **kw,
    }


#: the dates and reference a Land Conclusion only gets after its proposal
AFTER_PROPOSAL = ("khural_approved_on", "submitted_on", "decided_on", "valid_until", "decision_ref")


def proposed_land_conclusion(fid: str = "LC-1", **kw: Any) -> dict[str, Any]:
    """A Land Conclusion still proposed: no Khural approval, submission or decision yet."""
    return land_conclusion(fid, **{"status": "proposed", **dict.fromkeys(AFTER_PROPOSAL), **kw})


def parcel(fid: str = "P-1", **kw: Any) -> dict[str, Any]:
    return {
        "id": fid,
        "land_conclusion_id": "LC-1",
        "holder": "Алтан шижир нөхөрлөл",
        "holder_type": "partnership",
        "members_women": 3,
        "members_men": 4,
        "contract_no": "MN4322-2025-001",
        "status": "active",
        "signed_on": dt.date(2025, 1, 15),
        "starts_on": dt.date(2025, 2, 1),
        "expires_on": dt.date(2027, 2, 1),
        "geometry": utm_box(100, 100, 200, 200),
        **kw,
    }


def rehab_zone(fid: str = "R-1", **kw: Any) -> dict[str, Any]:
    return {
        "id": fid,
        "parcel_id": "P-1",
        "holder": "Алтан шижир нөхөрлөл",
        "stage": "required",
        "due_on": dt.date(2026, 10, 1),
        "accepted_on": None,
        "geometry": utm_box(120, 120, 50, 50),
        **kw,
    }


def exclusion(fid: str = "X-1", **kw: Any) -> dict[str, Any]:
    return {
        "id": fid,
        "kind": "protected_area",
        "name": "Хамгаалалттай газар",
        "geometry": utm_box(5000, 0, 1000, 1000),
        **kw,
    }


def soum(code: str = "MN4322", **kw: Any) -> dict[str, Any]:
    return {
        "id": code,
        "aimag_code": "MN43",
        "name_mn": "Мандал",
        "name_en": "Mandal",
        "geometry": utm_box(-3000, -3000, 12000, 8000),
        **kw,
    }


def licence(fid: str = "MV-1", **kw: Any) -> dict[str, Any]:
    """A gold licence (MV) well east of the Land Conclusion."""
    return {
        "id": fid,
        "holder": "Хараа Голд ХХК",
        "kind": "MV",
        "mineral": "gold",
        "given_on": dt.date(2015, 1, 1),
        "expires_on": dt.date(2045, 1, 1),
        "soum_code": "MN4322",
        "reported_ha": 100.0,
        "geometry": utm_box(8000, 0, 1000, 1000),
        **kw,
    }


def crashing_writer(backend: str) -> str:
    """A Python program that writes 20 000 exclusions into the store named by its first argument
    through ``layers.<backend>`` (in chunks of 1000) and kills itself (SIGKILL) at the first
    progress report, half-way through the write."""
    return f"""
import os, signal, sys
import geopandas as gpd, shapely
import layers.{backend} as backend
from layers.store import open_store
backend._CHUNK = 1000
store = open_store(sys.argv[1])
n = 20000
frame = gpd.GeoDataFrame({{"id": [f"c{{i}}" for i in range(n)], "kind": ["other"] * n,
                          "name": ["x"] * n}},
                         geometry=[shapely.box(106, 48, 106.001, 48.001)] * n, crs="EPSG:4326")
def die(k):
    os.kill(os.getpid(), signal.SIGKILL)   # a real crash, half-way through the write
store.write({{"exclusions": frame}}, progress=die)
"""


class Clock:
    """A server clock a test sets and moves by hand (a ledger's or a session store's
    ``clock``): calling it gives ``now``."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)
