"""Printing the store summary (used by ``gazar demo`` and ``gazar summary``)."""

from __future__ import annotations

import datetime as dt

from rich.table import Table

from api.cli import out
from geo.summary import soum_summary
from layers.store import Store


def print_summary(store: Store, *, today: dt.date) -> None:
    """Layer counts, then one row per soum: the analysis-ready summary."""
    layers = {
        name: store.read(name)
        for name in ("land_conclusions", "contract_parcels", "rehab_zones", "soums")
    }
    counts = ", ".join(f"{i.layer} {i.count}" for i in store.layers())
    out.print(f"Давхаргууд / Layers: {counts}")
    table = soum_summary(layers, today=today)
    grid = Table(
        "Сум\nSoum",
        "ГД (олгосон)\nLCs (issued)",
        "Олгосон га\nIssued ha",
        "Талбай (хүчинтэй)\nParcels (active)",
        "Хуваарилсан га\nAllocated ha",
        "Гишүүд эм/эр\nMembers w/m",
        "≤60 хоног\nExpiring",
        "НС хоцорсон\nRehab overdue",
        title=f"Gazar — {today}",
    )
    for r in table.itertuples(index=False):
        name = "НИЙТ / TOTAL" if r.soum_code == "TOTAL" else f"{r.soum} {r.soum_code}".strip()
        grid.add_row(
            name,
            f"{r.land_conclusions} ({r.issued})",
            f"{r.issued_ha:,.1f}",
            f"{r.parcels} ({r.active})",
            f"{r.allocated_ha:,.1f}",
            f"{r.members_women}/{r.members_men}",
            str(r.expiring),
            f"{r.rehab_overdue}/{r.rehab_zones}",
            end_section=bool(r.soum_code == "TOTAL"),
        )
    out.print(grid)
