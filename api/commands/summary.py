"""Printing the store summary (used by ``gazar demo`` and ``gazar summary``)."""

from __future__ import annotations

import datetime as dt

from rich.table import Table

from api.cli import out
from geo.summary import soum_summary
from layers.store import Store

_HEADERS = {
    "soum_code": "Сум / Soum",
    "soum": "",
    "land_conclusions": "Газрын дүгнэлт / LCs",
    "issued": "Олгосон / issued",
    "issued_ha": "га / ha issued",
    "parcels": "Талбай / parcels",
    "active": "Хүчинтэй / active",
    "allocated_ha": "га / ha allocated",
    "members_women": "Эм / women",
    "members_men": "Эр / men",
    "expiring": "≤60 хоног / expiring",
    "rehab_zones": "НС бүс / rehab",
    "rehab_overdue": "Хоцорсон / overdue",
}


def print_summary(store: Store, *, today: dt.date) -> None:
    """Layer counts, then one row per soum: the analysis-ready summary."""
    layers = {
        name: store.read(name)
        for name in ("land_conclusions", "contract_parcels", "rehab_zones", "soums")
    }
    counts = ", ".join(f"{i.layer} {i.count}" for i in store.layers())
    out.print(f"Layers: {counts}")
    table = soum_summary(layers, today=today)
    grid = Table(*(_HEADERS[c] for c in table.columns), title=f"Gazar — {today}")
    for row in table.itertuples(index=False):
        grid.add_row(
            *(f"{v:,.1f}" if isinstance(v, float) else str(v) for v in row),
            end_section=row.soum_code == "TOTAL",
        )
    out.print(grid)
