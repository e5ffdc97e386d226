"""Who may do what: Bearer tokens, roles, and the object check every write makes.

Tokens are made by ``gazar users add NAME --role ROLE [--soum CODE] [--aimag CODE]``, shown
once and stored only as a salted hash (``layers.ledger``). A request without a token may read
(the register, applications, draws); every write needs one.

==========  ==================================================================================
role        may
==========  ==================================================================================
public      apply for a parcel, object to an application
soum        decide applications, announce and run draws, change contracts and rehabilitation
            stages — only where the Land Conclusion's ``soum_code`` is its own soum; object
aimag       the same, for every soum whose Land Conclusion's ``aimag_code`` is its aimag
mrpam       move Land Conclusions through review (``submitted → under_review → issued`` or
            ``rejected``, with a decision reference), in any soum; object
admin       everything
==========  ==================================================================================

The object check uses the stored record (read inside the write's transaction), never what
the request claims: a soum official gets 403 on another soum's application whatever id it
sends.
"""

from __future__ import annotations

import threading
from typing import Annotated, Final, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from layers.errors import GazarError
from layers.ledger import Ledger, User

Action = Literal["apply", "object", "decide", "draw", "review", "contracts"]

#: what each role may do; the object scope is checked by :func:`authorize`
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "public": frozenset({"apply", "object"}),
    "soum": frozenset({"object", "decide", "draw", "contracts"}),
    "aimag": frozenset({"object", "decide", "draw", "contracts"}),
    "mrpam": frozenset({"object", "review"}),
    "admin": frozenset({"apply", "object", "decide", "draw", "review", "contracts"}),
}

#: actions limited to the official's own soum or aimag
SCOPED: Final = frozenset({"decide", "draw", "contracts"})

ACTION_LABELS: Final[dict[str, tuple[str, str]]] = {
    "apply": ("өргөдөл гаргах", "apply for a parcel"),
    "object": ("гомдол гаргах", "file an objection"),
    "decide": ("өргөдлийг шийдвэрлэх", "decide applications"),
    "draw": ("сугалаа явуулах", "hold draws"),
    "review": ("газрын дүгнэлтийг хянах", "review Land Conclusions"),
    "contracts": ("гэрээ, нөхөн сэргээлтийг удирдах", "manage contracts and rehabilitation"),
}

_OPEN_LOCK = threading.Lock()

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
    what_mn, what_en = ACTION_LABELS[action]
    if action in SCOPED:
        if user.role == "soum" and (soum_code is None or soum_code != user.soum_code):
            raise Forbidden(
                f"'{user.name}' зөвхөн {user.soum_code} сумын хүрээнд {what_mn} эрхтэй "
                f"(энэ нь {soum_code or '—'} сумынх) / '{user.name}' may {what_en} only in "
                f"soum {user.soum_code}, and this belongs to soum {soum_code or 'none'}"
            )
        if user.role == "aimag" and (aimag_code is None or aimag_code != user.aimag_code):
            raise Forbidden(
                f"'{user.name}' зөвхөн {user.aimag_code} аймгийн хүрээнд {what_mn} эрхтэй / "
                f"'{user.name}' may {what_en} only in aimag {user.aimag_code}, and this "
                f"belongs to aimag {aimag_code or 'none'}"
            )
    return user


def require_role(user: User | None, action: Action) -> User:
    """Refuse unless ``user`` exists and its role may do ``action`` somewhere.

    Checked before a write transaction starts, so refused requests never take the write lock;
    :func:`authorize` then checks the object inside the transaction.
    """
    if user is None:
        raise Unauthorized(
            "Нэвтрэх түлхүүр (Bearer token) шаардлагатай / this request needs a Bearer token"
        )
    if action not in PERMISSIONS.get(user.role, frozenset()):
        what_mn, what_en = ACTION_LABELS[action]
        raise Forbidden(
            f"'{user.name}' ({user.role}) {what_mn} эрхгүй / "
            f"the role '{user.role}' of '{user.name}' may not {what_en}"
        )
    return user


def local_operator(name: str) -> User:
    """The person running ``gazar`` on the server itself (full rights, named in the log)."""
    return User(id=LOCAL, name=name, role="admin", soum_code=None, aimag_code=None, created_at="")


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if any."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Authorization толгой 'Bearer <token>' хэлбэртэй байна / "
            "the Authorization header must be 'Bearer <token>'"
        )
    return token.strip()


def get_ledger(request: Request) -> Ledger:
    """The ledger of the app's store: opened in the app's lifespan (``api/app.py``), or here
    on first use when that failed."""
    ledger: Ledger | None = getattr(request.app.state, "ledger", None)
    if ledger is None:
        from layers.ledger import open_ledger

        with _OPEN_LOCK:
            ledger = getattr(request.app.state, "ledger", None)
            if ledger is None:
                ledger = open_ledger(request.app.state.settings.db, create=False)
                request.app.state.ledger = ledger
    return ledger


#: the OpenAPI document's ``bearerAuth`` scheme, declared on every operation taking a token;
#: it never refuses anything itself (:func:`bearer` reads the header, :func:`authorize` decides)
BEARER = HTTPBearer(
    scheme_name="bearerAuth",
    bearerFormat="gazar token",
    description="A token made by `gazar users add NAME --role ROLE` (shown once): "
    "`Authorization: Bearer <token>`. Reads need none; every write needs one.",
    auto_error=False,
)


def current_user(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> User | None:
    """The user of the request's token; None without one; 401 for a bad token."""
    token = bearer(request)
    if token is None:
        return None
    user = get_ledger(request).authenticate(token)
    if user is None:
        raise Unauthorized("Түлхүүр буруу эсвэл хүчингүй болсон / the token is unknown or revoked")
    return user


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
UserDep = Annotated[User | None, Depends(current_user)]
