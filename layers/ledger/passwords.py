"""Passwords of the workbench's users: the policy a new one must meet, and its argon2 hash
(``pwdlib``'s recommended hasher). Only the hash is stored (``gazar_users.password_hash``, a
secret column: never in the log).

The policy: at least :data:`MIN_LENGTH` characters (and at most :data:`MAX_LENGTH`, so that
hashing stays cheap), not one of the commonest passwords (``common-passwords.txt`` beside this
module, compared ignoring case), not the user's own name, not one character repeated.
"""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Final

from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError

from layers.errors import GazarError
from layers.labels import messages

MIN_LENGTH: Final = 8
MAX_LENGTH: Final = 256
COMMON_FILE: Final = Path(__file__).with_name("common-passwords.txt")


class WeakPassword(GazarError):
    """A password the policy refuses (422); the message says why, in both languages."""

    def __init__(self, code: str, **values: object) -> None:
        self.code = code
        self.message_mn, self.message_en = messages("password_message", code, **values)
        super().__init__(f"{self.message_mn} / {self.message_en}")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The commonest passwords, lower case."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(s.strip().casefold() for s in lines if s.strip() and not s.startswith("#"))


def check_policy(password: str, *, name: str | None = None) -> None:
    """Refuse (:class:`WeakPassword`) a password the policy does not allow."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword("too_short", min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise WeakPassword("too_long", max=MAX_LENGTH)
    folded = password.strip().casefold()
    if folded in common_passwords():
        raise WeakPassword("common")
    if len(set(folded)) == 1:
        raise WeakPassword("repeated")
    if name and len(name.strip()) >= 3 and name.strip().casefold() in folded:
        raise WeakPassword("name")


@functools.cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows: verified against when there is no user, so that an
    unknown name takes as long to refuse as a wrong password."""
    return _hasher().hash(secrets.token_urlsafe(24))


def hash_password(password: str) -> str:
    """The stored form of a password (``$argon2id$...``)."""
    return _hasher().hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; with nothing stored, a hash
    is still checked (same time) and the answer is False."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]  # still hashed: the same time as any other refusal
        stored_ok = False
    else:
        stored_ok = stored is not None
    try:
        ok = _hasher().verify(password, stored if stored is not None else _dummy_hash())
    except PwdlibError:  # a malformed stored hash refuses, it does not crash the sign-in
        _hasher().verify(password, _dummy_hash())
        return False
    return ok and stored_ok
