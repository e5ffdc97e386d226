"""Signing in to the workbench: passwords, server-side sessions and the lockout of guessers.

:class:`AccountService` (``Services.accounts``) is what the pages and the ``gazar users``
commands call:

- :meth:`~AccountService.sign_in` checks a name and password (an argon2 hash is checked even
  for a name nobody has, so the answer takes as long), refuses revoked users, and opens a
  session with a fresh random id; only the id's hash is stored (``layers.ledger.sessions``).
- :meth:`~AccountService.session` finds the session of a cookie: ended, idle for
  ``session_idle_minutes`` or older than ``session_lifetime_hours`` is None; its
  ``seen_at`` is refreshed at most once a minute (not a write per request).
- Failed sign-ins are counted per account (``user:NAME``) and per client address
  (``addr:ADDRESS``) in the store, so every server process shares the counts. Each failure
  after the first is answered later (``signin_delay_s``, doubled each time, at most 8 s), and
  the ``signin_failures``-th (``signin_address_failures`` for an address) locks the key for
  ``signin_lock_minutes``: even the right password is refused until then.
- Sign-ins, sign-outs, lockouts, password changes and revocations are events of the
  hash-chained log (actor: the user, object ``gazar_users/ID``, never a secret); looking a
  session up and refreshing it are not.

Nothing here knows HTTP: cookies, the CSRF check and the pages are ``web.session``'s.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NoReturn

from api.settings import ApiSettings
from layers.errors import GazarError
from layers.labels import messages
from layers.ledger import Ledger, Role, SessionRecord, User
from layers.ledger.sessions import parse_stamp

__all__ = [
    "AccountService",
    "CsrfRefused",
    "Session",
    "SignInLocked",
    "SignInNeeded",
    "SignInRefused",
]

#: a session's ``seen_at`` is written again only when it is older than this
REFRESH: Final = dt.timedelta(minutes=1)
#: the longest a failed sign-in is slowed
MAX_DELAY_S: Final = 8.0


class SignInRefused(GazarError):
    """A sign-in refused (401): wrong name or password, or a revoked account. ``delay`` is
    how long the answer is to wait (seconds); ``code`` names the message
    (``signin_message``); the texts are in :attr:`message_mn` and :attr:`message_en`."""

    def __init__(self, code: str, *, delay: float = 0.0, **values: object) -> None:
        self.code = code
        self.delay = delay
        self.message_mn, self.message_en = messages("signin_message", code, **values)
        super().__init__(f"{self.message_mn} / {self.message_en}")

    def message(self, lang: str) -> str:
        return self.message_mn if lang == "mn" else self.message_en


class SignInLocked(SignInRefused):
    """Too many failed sign-ins for the account or from the address (429)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__("locked", minutes=max(1, math.ceil(retry_after / 60)))


class CsrfRefused(GazarError):
    """A state-changing form without the viewer's CSRF token (403; nothing is written)."""

    def __init__(self) -> None:
        mn, en = messages("signin_message", "csrf")
        super().__init__(f"{mn} / {en}")


class SignInNeeded(GazarError):
    """A page for signed-in users asked for by a visitor (answered 303 to ``/login``)."""

    def __init__(self) -> None:
        mn, en = messages("signin_message", "sign_in_needed")
        super().__init__(f"{mn} / {en}")


@dataclass(frozen=True)
class Session:
    """A signed-in user's open session. ``id`` is the stored hash of the session id (the id
    itself is only in the browser's cookie); ``csrf`` is the token every form carries."""

    id: str
    user: User
    csrf: str
    created_at: str
    seen_at: str
    address: str | None
    user_agent: str | None


class AccountService:
    """Sign-in, sessions, passwords and revocation over the ledger of the store.

    ``clock`` gives the time sessions and lockouts are judged by (default: the ledger's
    clock, which tests set).
    """

    def __init__(
        self,
        ledger: Callable[[], Ledger],
        settings: ApiSettings,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._ledger = ledger
        self.settings = settings
        self._clock = clock

    def now(self) -> dt.datetime:
        return self._clock() if self._clock is not None else self._ledger().clock()

    # -- limits -------------------------------------------------------------------------------

    @property
    def idle(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.settings.session_idle_minutes)

    @property
    def lifetime(self) -> dt.timedelta:
        return dt.timedelta(hours=self.settings.session_lifetime_hours)

    @property
    def lock_for(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.settings.signin_lock_minutes)

    # -- signing in and out --------------------------------------------------------------------

    def sign_in(
        self, name: str, password: str, address: str | None = None, user_agent: str | None = None
    ) -> tuple[str, Session]:
        """Open a session for ``name`` when ``password`` is theirs: the session id (for the
        cookie; only its hash is stored) and the session.

        Raises
        ------
        SignInLocked
            When the account or the address is locked by failed sign-ins.
        SignInRefused
            For a wrong name or password (``delay``: how long to wait before answering) or a
            revoked account.
        """
        ledger = self._ledger()
        name = name.strip()
        now = self.now()
        keys = [f"user:{name}", f"addr:{address or 'unknown'}"]
        for key in keys:
            count = ledger.failures(key)
            if count is not None and count.locked_until is not None and count.locked_until > now:
                raise SignInLocked(math.ceil((count.locked_until - now).total_seconds()))
        user, ok = ledger.check_password(name, password)
        if not ok:
            self._failed(ledger, user, keys, address, now)
        assert user is not None
        if user.revoked_at is not None:
            raise SignInRefused("revoked")
        ledger.clear_failures(keys[0])
        session_id, record = ledger.open_session(
            user.id, address=address, agent=user_agent, now=now
        )
        ledger.log_event(
            actor=user.name,
            request="sign in",
            action="signin",
            obj=f"gazar_users/{user.id}",
            after={"address": address},
        )
        return session_id, _session(record, user)

    def _failed(
        self,
        ledger: Ledger,
        user: User | None,
        keys: list[str],
        address: str | None,
        now: dt.datetime,
    ) -> NoReturn:
        """Count a failed sign-in under both keys, log a lockout, refuse."""
        limits = (self.settings.signin_failures, self.settings.signin_address_failures)
        worst = 0
        for key, limit in zip(keys, limits, strict=True):
            count = ledger.count_failure(
                key, now=now, window=self.lock_for, limit=limit, lock_for=self.lock_for
            )
            worst = max(worst, count.count)
            if count.locked_now:
                until = count.locked_until.isoformat() if count.locked_until else None
                by_user = key.startswith("user:")
                ledger.log_event(
                    actor=user.name if by_user and user is not None else None,
                    request="sign in",
                    action="signin_locked",
                    # a name nobody has is not kept in the log (it may be a mistyped password)
                    obj=_lock_object(key, user),
                    after={"failures": count.count, "locked_until": until, "address": address},
                )
        delay = 0.0
        if worst >= 2:
            delay = min(MAX_DELAY_S, self.settings.signin_delay_s * 2 ** (worst - 2))
        raise SignInRefused("wrong", delay=delay)

    def session(self, session_id: str) -> Session | None:
        """The open session of this id; None when there is none, it ended, it was idle too
        long or is too old (then it is ended), or its user is revoked."""
        if not session_id:
            return None
        ledger = self._ledger()
        record = ledger.find_session(session_id)
        if record is None or record.ended_at is not None:
            return None
        now = self.now()
        created, seen = parse_stamp(record.created_at), parse_stamp(record.seen_at)
        assert created is not None and seen is not None
        user = ledger.user_by_id(record.user_id)
        if (
            user is None
            or user.revoked_at is not None
            or now - seen > self.idle
            or now - created > self.lifetime
        ):
            ledger.end_session(record.id, now=now)
            return None
        if now - seen >= REFRESH:
            ledger.touch_session(record.id, now=now)
        return _session(record, user)

    def sign_out(self, session_id: str) -> bool:
        """End the session of this id on the server (logged); whether it was open."""
        ledger = self._ledger()
        record = ledger.find_session(session_id) if session_id else None
        if record is None or not ledger.end_session(record.id, now=self.now()):
            return False
        user = ledger.user_by_id(record.user_id)
        ledger.log_event(
            actor=user.name if user is not None else None,
            request="sign out",
            action="signout",
            obj=f"gazar_users/{record.user_id}",
        )
        return True

    # -- administration ------------------------------------------------------------------------

    def users(self) -> list[User]:
        """Every user, revoked ones included."""
        return self._ledger().users()

    def add_user(
        self,
        name: str,
        *,
        role: Role,
        soum_code: str | None = None,
        aimag_code: str | None = None,
        password: str | None = None,
        actor: str,
    ) -> tuple[User, str]:
        """Create a user (``password`` checked by the policy first); returns it and its API
        token, shown once."""
        return self._ledger().add_user(
            name,
            role=role,
            soum_code=soum_code,
            aimag_code=aimag_code,
            actor=actor,
            password=password,
        )

    def set_password(
        self, name: str, password: str, *, actor: str, keep_session: str | None = None
    ) -> tuple[User, int]:
        """Give ``name`` a new password (``WeakPassword`` when the policy refuses it) and end
        their open sessions but ``keep_session`` (a session id: the user's own, when they
        change it themselves); returns the user and how many sessions ended."""
        ledger = self._ledger()
        user = ledger.set_password(name, password, actor=actor)
        keep = ledger.find_session(keep_session) if keep_session else None
        ended = 0
        now = self.now()
        for s in ledger.open_sessions(user.id):
            if keep is None or s.id != keep.id:
                ended += int(ledger.end_session(s.id, now=now))
        return user, ended

    def revoke(self, name: str, *, actor: str) -> tuple[User, int]:
        """Revoke ``name``'s token and password and end every session of theirs at once
        (logged); returns the user and how many sessions ended."""
        ledger = self._ledger()
        user = ledger.revoke_user(name, actor=actor)
        ended = ledger.end_sessions(user.id, now=self.now())
        if ended:  # the revocation itself is logged as the change of the user
            ledger.log_event(
                actor=actor,
                request=f"users revoke {name}",
                action="sessions_ended",
                obj=f"gazar_users/{user.id}",
                after={"sessions": ended},
            )
        return user, ended

    def sessions(self, user_id: str | None = None) -> list[SessionRecord]:
        """The open sessions (of one user, or everyone's) that have not timed out, oldest
        first: what the administrator sees."""
        now = self.now()
        out = []
        for s in self._ledger().open_sessions(user_id):
            created, seen = parse_stamp(s.created_at), parse_stamp(s.seen_at)
            assert created is not None and seen is not None
            if now - seen <= self.idle and now - created <= self.lifetime:
                out.append(s)
        return out


def _lock_object(key: str, user: User | None) -> str:
    """What a lockout is logged about: the user, or the address; a name nobody has is not
    kept in the log (it may be a mistyped password)."""
    if not key.startswith("user:"):  # the address itself is committed to, not in the object
        return "gazar_signin_failures/address"
    return f"gazar_users/{user.id}" if user is not None else "gazar_signin_failures/user"


def _session(record: SessionRecord, user: User) -> Session:
    return Session(
        id=record.id,
        user=user,
        csrf=record.csrf,
        created_at=record.created_at,
        seen_at=record.seen_at,
        address=record.address,
        user_agent=record.agent,
    )
