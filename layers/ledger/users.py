"""Users, their roles, their tokens and passwords: a token is shown once and stored only as a
salted hash; a password only as its argon2 hash (:mod:`layers.ledger.passwords`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from layers.labels import pair
from layers.ledger.base import Conflict, RecordNotFound, stamp
from layers.ledger.passwords import check_policy, hash_password, verify_password

if TYPE_CHECKING:
    from layers.ledger.interface import LedgerTx

Role = Literal["public", "soum", "aimag", "mrpam", "admin"]
ROLES: Final[tuple[Role, ...]] = ("public", "soum", "aimag", "mrpam", "admin")


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role
    soum_code: str | None
    aimag_code: str | None
    created_at: str
    revoked_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "role_mn": pair("role", self.role)[0],
            "role_en": pair("role", self.role)[1],
            "soum_code": self.soum_code,
            "aimag_code": self.aimag_code,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def token_digest(salt: str, secret: str) -> str:
    """The stored form of a token's secret: SHA-256 of the salt and the secret.

    The secret is 32 random bytes, so a fast hash suffices: it cannot be guessed.
    """
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def user_from_row(row: Mapping[str, Any]) -> User:
    return User(
        row["id"],
        row["name"],
        row["role"],
        row["soum_code"],
        row["aimag_code"],
        row["created_at"],
        row["revoked_at"],
    )


class _Accounts(Protocol):
    """What :class:`UserAccounts` needs of the ledger it is mixed into."""

    clock: Callable[[], dt.datetime]

    def transaction(self, *, actor: str, request: str) -> AbstractContextManager[LedgerTx]: ...

    def records(
        self, table: str, *, where: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]: ...


class UserAccounts:
    """Adding, revoking and authenticating users: what a :class:`~layers.ledger.Ledger` does
    with its ``gazar_users`` table, through its transactions and records."""

    def add_user(
        self: _Accounts,
        name: str,
        *,
        role: Role,
        soum_code: str | None = None,
        aimag_code: str | None = None,
        actor: str,
        password: str | None = None,
    ) -> tuple[User, str]:
        """Create a user; returns it with its token (shown once, stored only hashed).

        ``password`` (to sign in to the workbench) must meet the policy
        (:func:`~layers.ledger.passwords.check_policy`, raising ``WeakPassword`` before
        anything is written); without one the user has only the token.
        """
        name = name.strip()
        if not name:
            raise ValueError("a user needs a name")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if role == "soum" and not soum_code:
            raise ValueError("a soum official needs --soum CODE (e.g. MN4322)")
        if role == "aimag" and not aimag_code:
            raise ValueError("an aimag official needs --aimag CODE (e.g. MN43)")
        if password is not None:
            check_policy(password, name=name)
        key = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        created = stamp(self.clock())
        row = {
            "id": key,
            "name": name,
            "role": role,
            "soum_code": soum_code,
            "aimag_code": aimag_code,
            "salt": salt,
            "token_hash": token_digest(salt, secret),
            "created_at": created,
            "revoked_at": None,
            "password_hash": None if password is None else hash_password(password),
        }
        with self.transaction(actor=actor, request=f"users add {name} --role {role}") as tx:
            if tx.records("gazar_users", where={"name": name}):
                raise Conflict(f"a user called '{name}' exists already")
            tx.insert("gazar_users", [row])
        user = User(key, name, role, soum_code, aimag_code, created)
        return user, f"gazar_{key}_{secret}"

    def revoke_user(self: _Accounts, name: str, *, actor: str) -> User:
        """Revoke a user's token."""
        with self.transaction(actor=actor, request=f"users revoke {name}") as tx:
            rows = tx.records("gazar_users", where={"name": name})
            if not rows:
                raise RecordNotFound("gazar_users", name)
            if rows[0]["revoked_at"] is None:
                tx.update("gazar_users", rows[0]["id"], {"revoked_at": stamp(tx.now())})
            row = tx.records("gazar_users", where={"name": name})[0]
        return user_from_row(row)

    def set_password(self: _Accounts, name: str, password: str, *, actor: str) -> User:
        """Give a user a new password (checked by the policy first; logged as a change of the
        user, without the hash)."""
        rows = self.records("gazar_users", where={"name": name})
        if not rows:
            raise RecordNotFound("gazar_users", name)
        check_policy(password, name=name)
        hashed = hash_password(password)
        with self.transaction(actor=actor, request=f"users password {name}") as tx:
            rows = tx.records("gazar_users", where={"name": name})
            if not rows:
                raise RecordNotFound("gazar_users", name)
            tx.update("gazar_users", rows[0]["id"], {"password_hash": hashed})
        return user_from_row(rows[0])

    def check_password(self: _Accounts, name: str, password: str) -> tuple[User | None, bool]:
        """The user called ``name`` (None when there is none) and whether ``password`` is
        theirs. A hash is checked whether or not the user exists or has a password, so the
        answer takes the same time; a revoked user is returned too (the caller refuses it)."""
        rows = self.records("gazar_users", where={"name": name}) if name else []
        stored = rows[0]["password_hash"] if rows else None
        ok = verify_password(password, stored)
        return (user_from_row(rows[0]) if rows else None), ok

    def user_by_id(self: _Accounts, user_id: str) -> User | None:
        """The user with this key id, None when there is none."""
        rows = self.records("gazar_users", where={"id": user_id})
        return user_from_row(rows[0]) if rows else None

    def users(self: _Accounts) -> list[User]:
        """Every user, revoked ones included."""
        return [user_from_row(r) for r in self.records("gazar_users")]

    def authenticate(self: _Accounts, token: str) -> User | None:
        """The user a token belongs to, None for an unknown or revoked token."""
        parts = token.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != "gazar":
            return None
        rows = self.records("gazar_users", where={"id": parts[1]})
        if not rows or rows[0]["revoked_at"] is not None:
            return None
        row = rows[0]
        if not secrets.compare_digest(token_digest(row["salt"], parts[2]), row["token_hash"]):
            return None
        return user_from_row(row)
