"""Database commands: migrate (create or upgrade a store's tables), copy (between backends)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli import DbOption, app, guarded, out, store_at
from api.cli import location as cli_location
from api.commands.output import table as output_table
from layers.integrity import BrokenRow
from layers.labels import bilingual
from layers.transfer import copy_store, shown


def _is_postgres(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


@app.command("migrate")
def migrate_cmd(db: DbOption = None) -> None:
    """Create the store's tables, or bring them up to this Gazar's schema version.

    For PostGIS, run it once per upgrade before starting the server workers; it enables the
    PostGIS extension when allowed, and refuses a database written by a newer Gazar.
    """
    location = cli_location(db)
    if _is_postgres(location):
        from layers.postgis import migrate

        before, after = guarded(lambda: migrate(location))
        from layers.ledger import open_ledger

        # the allocation ledger's tables and triggers too, so workers find them made
        guarded(lambda: open_ledger(location, create=False).close())
        if before == after:
            out.print(f"{shown(location)}: schema version {after}, up to date.")
        else:
            what = "created" if before == 0 else f"migrated from version {before}"
            out.print(f"[green]{shown(location)}:[/] {what} to schema version {after}.")
        with store_at(location) as store:
            _report_broken(guarded(store.broken_rows))
        return
    with store_at(location, create=True) as store:  # a GeoPackage is made or upgraded
        version = guarded(store.schema_version)
        broken = guarded(store.broken_rows)
    out.print(f"{shown(location)}: schema version {version}, up to date.")
    _report_broken(broken)


def _report_broken(broken: list[BrokenRow]) -> None:
    """List the rows that already break the store's rules (its checks now refuse new ones;
    these stay, and the analysis reports them as RECORD_INVALID)."""
    if not broken:
        return
    out.print(
        f"[yellow]{len(broken)} row(s) already in the store break its rules[/] (kept; new "
        "writes are checked; fix them in QGIS or re-import):"
    )
    for row in broken:
        out.print(f"  {row.describe()}", markup=False, highlight=False)


@app.command("copy")
def copy_cmd(
    source: Annotated[
        str, typer.Option("--from", help="The store to copy: a .gpkg file or postgresql:// URL.")
    ],
    dest: Annotated[
        str,
        typer.Option("--to", help="Where to copy it (created when missing; must be empty)."),
    ],
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a destination that holds features.")
    ] = False,
) -> None:
    """Copy a whole store between backends (GeoPackage <-> PostGIS) and verify the copy.

    Every layer is written in one transaction, then read back and compared with the source:
    the same ids, values and geometries, or the command fails.
    """
    with store_at(source, create=False) as src, store_at(dest, create=True) as dst:
        copied = guarded(lambda: copy_store(src, dst, replace=replace))
    table = output_table("layer", "text.field_layer", "cli_column.features", one_line=True)
    for c in copied:
        table.add_row(c.layer, bilingual("layer", c.layer), str(c.count))
    out.print(table)
    total = sum(c.count for c in copied)
    out.print(
        f"[green]Copied and verified:[/] {total} feature(s) from {shown(source)} to {shown(dest)}."
    )
