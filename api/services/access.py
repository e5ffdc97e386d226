"""Who may do what: the roles, and the object check every write makes (no HTTP here).

==========  ==================================================================================
role        may
==========  ==================================================================================
public      apply for a parcel, object to an application
soum        decide applications, announce and run draws, change contracts and rehabilitation
            stages, propose Land Conclusions and move them to the Khural and MRPAM — only
            where the Land Conclusion's ``soum_code`` is its own soum; object
aimag       the same, for every soum whose Land Conclusion's ``aimag_code`` is its aimag
mrpam       move Land Conclusions through review (``submitted → under_review → issued`` or
            ``rejected``, with a decision reference), in any soum; object
admin       everything
==========  ==================================================================================

The object check uses the stored record (read inside the write's transaction), never what
the request claims: a soum official gets 403 on another soum's application whatever id it
sends. Tokens and their users are the ledger's (``layers.ledger``); reading a token from a
request is :mod:`api.auth`'s.
"""

from __future__ import annotations

from typing import Final, Literal

from api.services.messages import both
from layers.errors import GazarError
from layers.labels import pair
from layers.ledger import User

Action = Literal["apply", "object", "decide", "draw", "review", "contracts", "propose"]

#: what each role may do; the object scope is checked by :func:`authorize`
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "public": frozenset({"apply", "object"}),
    "soum": frozenset({"object", "decide", "draw", "contracts", "propose"}),
    "aimag": frozenset({"object", "decide", "draw", "contracts", "propose"}),
    "mrpam": frozenset({"object", "review"}),
    "admin": frozenset({"apply", "object", "decide", "draw", "review", "contracts", "propose"}),
}

#: actions limited to the official's own soum or aimag
SCOPED: Final = frozenset({"decide", "draw", "contracts", "propose"})

#: the local operator: commands run on the server without a token act as an administrator
LOCAL: Final = "local"


class Unauthorized(GazarError):
    """No token, or an unknown or revoked one (401)."""


class Forbidden(GazarError):
    """A token whose role or soum does not allow the request (403)."""


def authorize(
    user: User | None,
    action: Action,
    *,
    soum_code: str | None = None,
    aimag_code: str | None = None,
) -> User:
    """Refuse unless ``user`` may do ``action`` on an object of this soum and aimag.

    Raises
    ------
    Unauthorized
        When there is no user.
    Forbidden
        When the role may not do it, or the object lies outside the official's soum/aimag.
    """
    user = require_role(user, action)
    if action not in SCOPED or user.role not in ("soum", "aimag"):
        return user
    here, own = (
        (soum_code, user.soum_code) if user.role == "soum" else (aimag_code, user.aimag_code)
    )
    if here is None or here != own:
        what_mn, what = pair("access_action", action)
        raise Forbidden(
            both(
                "access_message",
                user.role,
                name=user.name,
                own=own,
                what=what,
                what_mn=what_mn,
                here=here or "none",
                here_mn=here or "—",
            )
        )
    return user


def require_role(user: User | None, action: Action) -> User:
    """Refuse unless ``user`` exists and its role may do ``action`` somewhere.

    Checked before a write transaction starts, so refused requests never take the write lock;
    :func:`authorize` then checks the object inside the transaction.
    """
    if user is None:
        raise Unauthorized(both("access_message", "no_token"))
    if action not in PERMISSIONS.get(user.role, frozenset()):
        what_mn, what = pair("access_action", action)
        raise Forbidden(
            both(
                "access_message", "role", name=user.name, role=user.role, what=what, what_mn=what_mn
            )
        )
    return user


def local_operator(name: str) -> User:
    """The person running ``gazar`` on the server itself (full rights, named in the log)."""
    return User(id=LOCAL, name=name, role="admin", soum_code=None, aimag_code=None, created_at="")
