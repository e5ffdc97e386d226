"""Allocation commands: apply, object, decide, draws, MRPAM review and the audit log (the users
are :mod:`api.commands.users`).

Each command is one ledger transaction of the service the HTTP API calls too
(:class:`api.services.allocation.AllocationService`). Run on the server without ``--token``,
a command acts as the local operator (full rights), named in the log by a Gazar user: ``--as
NAME`` (an active admin user), or ``local`` without it, never the login of the machine's
account; with ``--token`` (or ``GAZAR_TOKEN``) it acts as that user, with that user's role and
soum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.markup import escape

from api.cli import (
    DbOption,
    app,
    err,
    file_limits,
    guarded,
    out,
    refuse,
    report_error,
    store_location,
    words,
)
from api.commands.output import out_target, slashed, write_out
from api.services.access import LOCAL, Forbidden, Unauthorized, local_operator
from api.services.allocation import AllocationService, ApplicationInput
from api.services.messages import both
from api.settings import load_settings
from layers.errors import GazarError, InputFileError
from layers.ledger import Ledger, User, open_ledger

T = TypeVar("T")

audit_app = typer.Typer(help="The append-only, hash-chained log of every change.")
draw_app = typer.Typer(help="Draws between competing applications: announce, then run.")
app.add_typer(audit_app, name="audit")
app.add_typer(draw_app, name="draw")

TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="GAZAR_TOKEN",
        help="Act as the user of this token (default: the local operator).",
        show_default=False,
    ),
]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Act as the local operator under this admin user's name in the log "
        "(default: 'local').",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_DRAW = slashed("cli_text.draw")


def _ledger(db: str | None) -> Ledger:
    try:
        return open_ledger(store_location(db), create=False)
    except GazarError as exc:
        raise typer.Exit(report_error(exc)) from None


def _with_ledger(db: str | None, read: Callable[[Ledger], T]) -> T:
    """Open the ledger, return what ``read`` makes of it, close it."""
    ledger = _ledger(db)
    try:
        return read(ledger)
    finally:
        ledger.close()


def _operator(ledger: Ledger, name: str | None) -> str:
    """The name the local operator acts under: an active admin user's (``--as NAME``), or
    ``local``; never the operating system's login."""
    if name is None:
        return LOCAL
    users = [u for u in ledger.users() if u.name == name and u.revoked_at is None]
    if not users:
        raise typer.Exit(
            report_error(Unauthorized(both("security_message", "operator_unknown", name=name)))
        )
    if users[0].role != "admin":
        raise typer.Exit(
            report_error(
                Forbidden(
                    both("security_message", "operator_not_admin", name=name, role=users[0].role)
                )
            )
        )
    return name


def _user(ledger: Ledger, who: tuple[str | None, str | None]) -> User:
    token, as_user = who
    if token is None:
        return local_operator(_operator(ledger, as_user))
    user = ledger.authenticate(token)
    if user is None:
        raise typer.Exit(report_error(Unauthorized(both("access_message", "bad_token"))))
    return user


def _service(ledger: Ledger) -> AllocationService:
    """The allocation service the HTTP API uses, over this command's ledger."""
    settings = load_settings()
    return AllocationService(
        lambda: ledger,
        settings.analysis,
        max_vertices=settings.api.max_vertices,
        required_documents=settings.documents.required_documents,
        max_document_bytes=settings.documents.max_document_bytes,
    )


def _act(
    db: str | None,
    who: tuple[str | None, str | None],
    action: Callable[[AllocationService, User], T],
) -> T:
    """Open the ledger, run ``action`` as the token's user (or the local operator), close it;
    a Gazar error becomes a readable message and a non-zero exit."""
    ledger = _ledger(db)
    try:
        user = _user(ledger, who)
        return guarded(lambda: action(_service(ledger), user))
    finally:
        ledger.close()


def _echo(doc: Any) -> None:
    typer.echo(orjson.dumps(doc, option=_OPTS).decode())


def _reasons(doc: dict[str, Any]) -> None:
    for r in doc.get("reasons", []):
        out.print(f"  [red]✗[/] {escape(r['message_mn'])}\n    {escape(r['message_en'])}")
    for r in doc.get("notes", []):
        out.print(f"  [yellow]![/] {escape(r['message_mn'])}\n    {escape(r['message_en'])}")


# ------------------------------------------------------------------------------ applying


@app.command("apply")
def apply_cmd(
    land_conclusion_id: Annotated[str, typer.Argument(help="The Land Conclusion applied in.")],
    holder: Annotated[str, typer.Option("--holder", help="The partnership or cooperative.")],
    women: Annotated[int, typer.Option("--women", min=0, help="Members who are women.")],
    men: Annotated[int, typer.Option("--men", min=0, help="Members who are men.")],
    holder_type: Annotated[
        str, typer.Option("--type", help="partnership, cooperative or individual.")
    ] = "partnership",
    polygon: Annotated[
        Path | None,
        typer.Option("--polygon", help="A file with the parcel (GeoJSON, KML, Shapefile, ...)."),
    ] = None,
    ha: Annotated[
        float | None,
        typer.Option("--ha", help="Or: a size in hectares, placed in the free land for you."),
    ] = None,
    token: TokenOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Apply for a parcel: the server stamps the time, numbers it and checks eligibility.

    An application that fails a check is recorded too, with every reason, so anyone can read
    why. Exit code 0 when filed (eligible or not), 1 when refused before filing.
    """
    geometry = None
    if polygon is not None:
        geometry = guarded(lambda: _one_polygon(polygon))
    data = ApplicationInput(
        land_conclusion_id=land_conclusion_id,
        holder=holder,
        holder_type=holder_type,
        members_women=women,
        members_men=men,
        geometry=geometry,
        requested_ha=ha,
    )
    doc = _act(db, (token, as_user), lambda allocation, user: allocation.apply(data, user=user))
    if as_json:
        _echo(doc)
        return
    status = "[green]" if doc["status"] == "pending" else "[red]"
    place = slashed("cli_text.place", land_conclusion=doc["land_conclusion_id"], place=doc["place"])
    out.print(
        f"{slashed('cli_text.application')} [bold]{doc['id']}[/] — {escape(doc['filed_at'])}, "
        f"{place}, {doc['official_ha']:.4f} {slashed('cli_column.ha')}: "
        f"{status}{doc['status_mn']} / {doc['status_en']}[/]"
    )
    _reasons(doc)
    out.print(slashed("cli_text.objections_until", day=doc["objection_until"]))


def _one_polygon(path: Path) -> Any:
    from layers.readers import read_features

    frame, _ = read_features(path, limits=file_limits())
    if len(frame) != 1:
        raise InputFileError(str(path), f"holds {len(frame)} features; an application is one")
    return frame.geometry.iloc[0]


@app.command("object")
def object_cmd(
    number: Annotated[str, typer.Argument(help="The application number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (published).")],
    name: Annotated[str, typer.Option("--name", help="Who objects (published).")] = "",
    token: TokenOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Object to an application within its objection window."""
    doc = _act(
        db,
        (token, as_user),
        lambda allocation, user: allocation.object_to(number, name=name, reason=reason, user=user),
    )
    if as_json:
        _echo(doc)
        return
    out.print(slashed("cli_text.objection", id=doc["id"], filed_at=doc["filed_at"]))


@app.command("decide")
def decide_cmd(
    number: Annotated[str, typer.Argument(help="The application number.")],
    outcome: Annotated[str, typer.Argument(help="approve or reject")],
    reason: Annotated[str, typer.Option("--reason", help="The written reason (published).")],
    contract_no: Annotated[
        str | None, typer.Option("--contract-no", help="Contract number (default: the number).")
    ] = None,
    token: TokenOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Approve (creating the contract parcel and its term) or reject an application.

    An approval re-checks every rule in the same transaction as the write; when refused,
    every reason is printed and the exit code is 1.
    """
    doc = _act(
        db,
        (token, as_user),
        lambda allocation, user: allocation.decide(
            number, outcome=outcome, reason=reason, contract_no=contract_no, user=user
        ),
    )
    if as_json:
        _echo(doc)
        return
    if doc["outcome"] == "approve":
        parcel = slashed("cli_text.approved_parcel", parcel=doc["parcel_id"],
                         contract=doc["contract_no"])  # fmt: skip
        expires = slashed("cli_text.expires", day=doc["expires_on"])
        out.print(f"[green]{slashed('cli_text.approved')}[/] {number}: {parcel}{expires}")
    else:
        out.print(f"[red]{slashed('cli_text.rejected')}[/] {number}: {escape(doc['reason'])}")


# ---------------------------------------------------------------------------------- draws


@draw_app.command("announce")
def draw_announce(
    number: Annotated[str, typer.Argument(help="Any application of the competing group.")],
    date: Annotated[str, typer.Option("--date", help="The draw date, YYYY-MM-DD (a later day).")],
    value: Annotated[str, typer.Option("--value", help="The public value, announced now.")],
    token: TokenOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Announce the draw of a competing group: its members, date and public value."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise typer.BadParameter(f"{date!r} is not YYYY-MM-DD", param_hint="--date") from None
    doc = _act(
        db,
        (token, as_user),
        lambda allocation, user: allocation.announce_draw(
            number, draw_date=day, public_value=value, user=user
        ),
    )
    if as_json:
        _echo(doc)
        return
    out.print(
        f"{_DRAW} [bold]{doc['id']}[/] {doc['draw_date']}: {', '.join(doc['applications'])}; "
        + slashed("cli_text.public_value", value=escape(value))
    )


@draw_app.command("run")
def draw_run(
    draw_id: Annotated[str, typer.Argument(help="The draw's id.")],
    token: TokenOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Run an announced draw on or after its date: seed, order, winner."""
    doc = _act(
        db, (token, as_user), lambda allocation, user: allocation.run_draw(draw_id, user=user)
    )
    if as_json:
        _echo(doc)
        return
    _print_draw(doc)


def _print_draw(doc: dict[str, Any]) -> None:
    out.print(f"{_DRAW} [bold]{doc['id']}[/] ({doc['status']})")
    out.print(f"  seed = SHA-256 of:\n{escape(doc['input'] or '')}")
    out.print(f"  seed: {doc['seed']}")
    out.print(f"  {slashed('cli_text.order', order=', '.join(doc['result'] or []))}")
    out.print(f"  {slashed('cli_text.winner')}: [bold]{doc['winner']}[/]")


@app.command("verify-draw")
def verify_draw_cmd(
    draw_id: Annotated[str, typer.Argument(help="The draw's id.")],
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Recompute a draw from its published inputs; exit 1 when the result does not follow."""
    ledger = _ledger(db)
    try:
        draw = guarded(lambda: _service(ledger).draw(draw_id))
    finally:
        ledger.close()
    if draw["seed"] is None:
        err.print(slashed("cli_text.draw_not_run", id=draw_id))
        raise typer.Exit(1)
    check = draw["verification"]
    if as_json:
        _echo(check)
    else:
        colour = "green" if check["ok"] else "red"
        out.print(f"[{colour}]{escape(check['message_mn'])}\n{escape(check['message_en'])}[/]")
        out.print(f"  seed: {check['seed']}")
    if not check["ok"]:
        raise typer.Exit(1)


# ---------------------------------------------------------------------- MRPAM and contracts


@app.command("renew")
def renew_cmd(
    parcel_id: Annotated[str, typer.Argument(help="The contract parcel's id.")],
    reason: Annotated[str, typer.Option("--reason", help="The written reason (published).")],
    token: TokenOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Renew a contract ending soon for a new term (refused while rehabilitation is open).

    The term is GAZAR_CONTRACT_TERM_YEARS from the day after the contract's end. Refused,
    with every reason and exit code 1, while a rehabilitation zone of the contract is not
    accepted by the commission, or outside the window before its end.
    """
    doc = _act(
        db,
        (token, as_user),
        lambda allocation, user: allocation.renew(parcel_id, reason=reason, user=user),
    )
    if as_json:
        _echo(doc)
        return
    expires = slashed("cli_text.expires", day=doc["expires_on"])
    out.print(f"[green]{doc['outcome_mn']} / {doc['outcome_en']}[/] {parcel_id}: {expires}")


@app.command("review")
def review_cmd(
    land_conclusion_id: Annotated[str, typer.Argument(help="The Land Conclusion.")],
    status: Annotated[str, typer.Argument(help="under_review, issued or rejected")],
    ref: Annotated[
        str | None, typer.Option("--ref", help="Decision reference (to issue or reject).")
    ] = None,
    valid_until: Annotated[
        str | None, typer.Option("--valid-until", help="Last valid day when issued.")
    ] = None,
    token: TokenOption = None,
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """MRPAM's review of a Land Conclusion: under_review, then issued or rejected."""
    until = dt.date.fromisoformat(valid_until) if valid_until else None
    doc = _act(
        db,
        (token, as_user),
        lambda allocation, user: allocation.review_land_conclusion(
            land_conclusion_id, status=status, decision_ref=ref, valid_until=until, user=user
        ),
    )
    out.print(f"{doc['id']}: {doc['status']} ({doc.get('decision_ref') or '—'})")


# ---------------------------------------------------------------------------------- audit


@audit_app.command("verify")
def audit_verify(as_json: JsonOption = False, db: DbOption = None) -> None:
    """Recompute the hash chain and check the store's private values against their
    commitments; exit 1 naming the first broken event or changed value."""
    from layers.ledger.commit import audit

    check = _with_ledger(db, audit)
    if as_json:
        _echo(check.as_dict())
    elif check.ok:
        out.print(
            f"[green]{slashed('cli_text.chain_intact')}[/]: {check.events} "
            f"event(s), head {check.head_seq} {check.head_hash}"
        )
    elif check.commitments is not None:
        mismatch = slashed("cli_text.commitment_mismatch")
        err.print(f"[bold red]{mismatch}[/]: {escape(check.commitments)}")
    else:
        broken = slashed("cli_text.chain_broken", event=check.first_broken)
        err.print(f"[bold red]{broken}[/]: {escape(check.reason or '')}")
    if check.pending and not as_json:
        out.print(slashed("cli_text.not_sealed", count=check.pending))
    if not check.ok:
        raise typer.Exit(1)


@audit_app.command("seal")
def audit_seal(db: DbOption = None) -> None:
    """Seal changes written outside a ledger (imports, QGIS) into the log now."""
    n = _with_ledger(db, lambda ledger: ledger.seal())
    out.print(slashed("cli_text.sealed", count=n))


@audit_app.command("log")
def audit_log(
    after: Annotated[int, typer.Option("--after", min=0, help="Events after this one.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    db: DbOption = None,
) -> None:
    """The log's events as JSON lines."""
    events = _with_ledger(db, lambda ledger: ledger.events(after=after, limit=limit))
    for e in events:
        typer.echo(orjson.dumps(e.as_dict()).decode())


@audit_app.command("export")
def audit_export(
    out_file: Annotated[Path, typer.Option("--out", help="Write the public log here.")],
    db: DbOption = None,
) -> None:
    """The public log (``/log.jsonl``'s lines, every event) into a file."""
    from api.services import publog

    out_target(out_file)  # a folder, or a file in a missing folder, is refused by name

    def write(ledger: Ledger) -> int:
        # written beside the target and moved into place: an interrupted export leaves no
        # half-written log where a previous one was
        part = out_file.with_name(f".{out_file.name}.part")
        n = 0
        try:
            with part.open("w", encoding="utf-8", newline="\n") as f:
                for text in publog.export(ledger):
                    f.write(text)
                    n += 1
            part.replace(out_file)
        except OSError as exc:
            part.unlink(missing_ok=True)
            reason = exc.strerror or str(exc)
            refuse(
                InputFileError(str(out_file), words("file_problem", "not_written", reason=reason))
            )
        return n

    n = _with_ledger(db, write)
    out.print(slashed("cli_text.log_exported", count=n, path=str(out_file)))


@audit_app.command("head")
def audit_head(as_json: JsonOption = False, db: DbOption = None) -> None:
    """The log's head (``/log/head``) for a notice board: seq, hash and time."""
    from api.services import publog

    head = _with_ledger(db, publog.head)
    if as_json:
        _echo(head)
    else:
        typer.echo(f"{head['seq']}:{head['hash']} {head['time'] or ''}".rstrip())


# ------------------------------------------------------------------------------- register


@app.command("register")
def register_cmd(
    fmt: Annotated[str, typer.Option("--format", help="json, csv or geojson.")] = "json",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    db: DbOption = None,
) -> None:
    """The public register (queue, decisions, objections, draws, contracts expiring soon)."""
    if fmt not in ("json", "csv", "geojson"):
        raise typer.BadParameter("choose json, csv or geojson", param_hint="--format")
    out_target(out_path)
    ledger = _ledger(db)
    try:
        allocation = _service(ledger)
        if fmt == "geojson":
            text = orjson.dumps(allocation.register_geojson()).decode()
        elif fmt == "csv":
            text = allocation.register_csv()
        else:
            text = orjson.dumps(allocation.register(), option=_OPTS).decode()
    finally:
        ledger.close()
    if out_path is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        write_out(out_path, text)
        err.print(f"{out_path}: {len(text.encode())} bytes")
