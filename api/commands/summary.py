"""Printing the store summary (used by ``gazar demo`` and ``gazar summary``)."""

from __future__ import annotations

import datetime as dt

from api.cli import out
from api.commands.output import slashed, table
from geo.summary import soum_summary
from layers.store import Store


def print_summary(store: Store, *, today: dt.date) -> None:
    """Layer counts, then one row per soum: the analysis-ready summary."""
    layers = {
        name: store.read(name)
        for name in ("land_conclusions", "contract_parcels", "rehab_zones", "soums")
    }
    counts = ", ".join(f"{i.layer} {i.count}" for i in store.layers())
    out.print(slashed("cli_text.layers", counts=counts))
    rows = soum_summary(layers, today=today)
    grid = table(
        "text.field_soum_code",
        "cli_column.lcs_issued",
        "cli_column.issued_ha",
        "cli_column.parcels_active",
        "cli_column.assigned_ha",
        "cli_column.members",
        "cli_column.expiring",
        "cli_column.rehab_overdue",
        title=f"Gazar — {today}",
    )
    total = slashed("cli_text.grand_total")
    for r in rows.itertuples(index=False):
        name = total if r.soum_code == "TOTAL" else f"{r.soum} {r.soum_code}".strip()
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
