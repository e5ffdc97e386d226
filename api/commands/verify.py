"""``gazar verify URL-or-FOLDER``: check a soum's allocation from its published feeds alone.

The checks are :mod:`layers.verify` (standard library only, publishable as one file); this
command prints their verdict in both languages and exits 1 naming the first inconsistency.
"""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.markup import escape

from api.cli import app, err, out
from api.services.publog import verdict
from layers.verify import source_of, verify


@app.command("verify")
def verify_cmd(
    where: Annotated[
        str, typer.Argument(help="A server's address (http://...) or a folder of its feeds.")
    ],
    head: Annotated[
        str | None,
        typer.Option("--head", help="An earlier published head SEQ:HASH the log must extend."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Check a soum's allocation from its published feeds alone (a URL or a folder).

    The chain, an earlier head, the register against the events, draws, contract overlaps and
    approvals; exit 1 naming the first inconsistency."""
    report = verify(source_of(where), head=head)
    mn, en = verdict(report)
    if as_json:
        typer.echo(orjson.dumps({**report.as_dict(), "mn": mn, "en": en}).decode())
    elif report.ok:
        out.print(f"[green]{escape(mn)}[/]\n[green]{escape(en)}[/]")
        for note in report.notes:
            out.print(escape(note))
    else:
        err.print(f"[bold red]{escape(mn)}[/]\n[bold red]{escape(en)}[/]")
    if not report.ok:
        raise typer.Exit(1)
