"""``gazar users``: add users (with a password for the workbench, and the API token printed
once), set a password, revoke (which also ends every session of the user), list.

A password is read from the first line of a file (``--password-file``; its line end is not
part of it), never from the command line, where other users of the machine could see it. A
password the policy refuses is refused with the reason, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api.cli import DbOption, app, err, guarded, out
from api.commands.allocation import AsOption, JsonOption, _echo, _ledger, _operator, _with_ledger
from api.commands.output import slashed
from api.services.accounts import AccountService
from api.services.messages import both
from api.settings import load_settings
from layers.errors import InputFileError
from layers.ledger import ROLES, Ledger, User

users_app = typer.Typer(
    help="Users, their passwords and tokens (roles: public, soum, aimag, mrpam, admin)."
)
app.add_typer(users_app, name="users")

PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="A file whose first line is the password (for signing in to the workbench).",
        show_default=False,
    ),
]


def read_password(path: Path) -> str:
    """The first line of ``path``, its line end stripped.

    Raises
    ------
    InputFileError
        When the file cannot be read or its first line is empty.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(str(path), str(exc)) from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise InputFileError(str(path), both("user_message", "password_file_empty", path=path))
    return lines[0]


def _accounts(ledger: Ledger) -> AccountService:
    return AccountService(lambda: ledger, load_settings().api)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Who the user is.")],
    role: Annotated[str, typer.Option("--role", help=", ".join(ROLES))],
    soum: Annotated[str | None, typer.Option("--soum", help="The soum (role soum).")] = None,
    aimag: Annotated[str | None, typer.Option("--aimag", help="The aimag (role aimag).")] = None,
    password_file: PasswordFile = None,
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """Create a user (with a password from --password-file) and print the API token once: it
    is stored only as a salted hash."""
    if role not in ROLES:
        raise typer.BadParameter(f"choose one of {', '.join(ROLES)}", param_hint="--role")
    password = guarded(lambda: read_password(password_file)) if password_file else None
    ledger = _ledger(db)
    try:
        operator = _operator(ledger, as_user)
        user, token = guarded(
            lambda: _accounts(ledger).add_user(
                name,
                role=role,  # type: ignore[arg-type]
                soum_code=soum,
                aimag_code=aimag,
                password=password,
                actor=operator,
            )
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        ledger.close()
    err.print(
        f"{slashed('cli_text.user')} '{escape(user.name)}' ({user.role}"
        f"{', ' + user.soum_code if user.soum_code else ''}"
        f"{', ' + user.aimag_code if user.aimag_code else ''}). " + slashed("cli_text.keep_token")
    )
    typer.echo(token)


@users_app.command("password")
def users_password(
    name: Annotated[str, typer.Argument(help="The user.")],
    password_file: Annotated[
        Path, typer.Option("--password-file", help="A file whose first line is the password.")
    ],
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """Set a user's password (their open sessions end)."""
    password = guarded(lambda: read_password(password_file))

    def change(ledger: Ledger) -> tuple[User, int]:
        actor = _operator(ledger, as_user)
        return guarded(lambda: _accounts(ledger).set_password(name, password, actor=actor))

    user, ended = _with_ledger(db, change)
    out.print(escape(both("user_message", "password_set", name=user.name, sessions=ended)))


@users_app.command("revoke")
def users_revoke(
    name: Annotated[str, typer.Argument(help="The user.")],
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """Revoke a user's token and password and end every session of theirs at once (the user
    stays in the log)."""

    def revoke(ledger: Ledger) -> tuple[User, int]:
        actor = _operator(ledger, as_user)
        return guarded(lambda: _accounts(ledger).revoke(name, actor=actor))

    user, ended = _with_ledger(db, revoke)
    out.print(
        escape(both("user_message", "revoked", name=user.name, at=user.revoked_at, sessions=ended))
    )


@users_app.command("list")
def users_list(as_json: JsonOption = False, db: DbOption = None) -> None:
    """Every user with role, soum and aimag (never the tokens or passwords)."""
    users = _with_ledger(db, lambda ledger: ledger.users())
    if as_json:
        _echo([u.as_dict() for u in users])
        return
    for u in users:
        state = f"revoked {u.revoked_at}" if u.revoked_at else "active"
        out.print(
            f"{escape(u.name)}\t{u.role}\t{u.soum_code or '—'}\t{u.aimag_code or '—'}\t{state}"
        )


__all__ = ["read_password", "users_app"]
