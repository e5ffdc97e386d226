"""A store whose every free-text field holds text that would break a page if embedded raw:
an HTML comment opening a script (``<!--<script>``), a closing ``</script>``, an image whose
error handler runs script, and the line separator U+2028 (issue 14, finding 3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd

from layers.demo import build_demo
from layers.schema import LAYER_ORDER, REGISTRY
from layers.store import open_store

HOSTILE = "<!--<script>x</script><img src=x onerror=alert(1)>\u2028&'\" end"

#: the raw pieces no page may carry inside a script, nor anywhere unescaped
RAW_PIECES = ("<!--<script>", "</script><img", "<img src=x onerror")


def free_text_fields(layer: str) -> list[str]:
    """The layer's text fields with no code list and no reference (what a person types; the
    soum and aimag codes join layers and name pages, so they stay)."""
    kind = REGISTRY[layer]
    return [
        f.name
        for f in kind.fields
        if f.type == "str" and f.references is None and not f.name.endswith("_code")
    ]


def hostile_layers(today: dt.date | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The demo's layers with every free-text field of every feature set to :data:`HOSTILE`."""
    layers = build_demo(seed=7, scale=1, today=today or dt.date.today())
    out: dict[str, gpd.GeoDataFrame] = {}
    for name in LAYER_ORDER:
        frame = layers[name].copy()
        for col in free_text_fields(name):
            frame[col] = [f"{HOSTILE} {i}" for i in range(len(frame))]
        out[name] = frame
    return out


def hostile_store(path: Path, today: dt.date | None = None) -> Path:
    """Write :func:`hostile_layers` to a new GeoPackage at ``path``."""
    with open_store(path) as store:
        store.write(hostile_layers(today))
    return path
