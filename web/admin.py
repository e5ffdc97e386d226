"""The administrator's screen ``/admin``: users (add, set a password, revoke) and their open
sessions. Role admin only; every POST is CSRF-checked and goes through
:class:`api.services.accounts.AccountService`, logged with the administrator as the actor.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import get_services
from layers.errors import GazarError
from layers.labels import Lang, message
from layers.ledger import ROLES, Conflict, RecordNotFound, WeakPassword
from layers.ledger.sessions import parse_stamp
from web.i18n import parse_lang, text
from web.render import render
from web.session import ViewerDep, form_with_csrf, require

router = APIRouter(tags=["pages"], include_in_schema=False)

#: Mongolia's time (UTC+8, no daylight saving)
MONGOLIA = dt.timezone(dt.timedelta(hours=8))


def local_time(value: str | None) -> str:
    """A stored UTC timestamp as Mongolia's time, to the minute; a dash for nothing."""
    moment = parse_stamp(value)
    return "—" if moment is None else moment.astimezone(MONGOLIA).strftime("%Y-%m-%d %H:%M")


def _page(
    request: Request,
    lang: Lang,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
    token: str | None = None,
) -> HTMLResponse:
    accounts = get_services(request).accounts
    users = accounts.users()
    sessions: dict[str, list[Any]] = {}
    for s in accounts.sessions():
        sessions.setdefault(s.user_id, []).append(s)
    return render(
        request,
        "admin.html",
        lang,
        status=status,
        title=text("admin_title", lang),
        nav="admin",
        users=users,
        sessions=sessions,
        roles=ROLES,
        errors=errors or {},
        values=values or {},
        notice=notice,
        token=token,
        local_time=local_time,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(
    request: Request, viewer: ViewerDep, lang: str | None = None, done: str | None = None
) -> HTMLResponse:
    """Users, their state and their open sessions, with the forms that change them."""
    require(viewer, "admin")
    language = parse_lang(lang)
    notice = {"password": "admin_password_done", "revoke": "admin_revoke_done"}.get(done or "")
    return _page(request, language, notice=text(notice, language) if notice else None)


def _user_errors(values: dict[str, str], lang: Lang) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = message("user_message", "name_empty", lang)
    if values["role"] not in ROLES:
        errors["role"] = message("user_message", "role", lang)
    elif values["role"] == "soum" and not values["soum"]:
        errors["soum"] = message("user_message", "soum_needed", lang)
    elif values["role"] == "aimag" and not values["aimag"]:
        errors["aimag"] = message("user_message", "aimag_needed", lang)
    return errors


def _message(exc: GazarError, lang: Lang) -> str:
    if isinstance(exc, WeakPassword):
        return exc.message_mn if lang == "mn" else exc.message_en
    return str(exc)


@router.post("/admin/users", response_class=HTMLResponse)
async def admin_add(request: Request, viewer: ViewerDep) -> Response:
    """Add a user with a password; the page shows its API token once."""
    form = await form_with_csrf(request, viewer)
    admin = require(viewer, "admin")
    lang = parse_lang(str(form.get("lang") or "mn"))
    values = {k: str(form.get(k) or "").strip() for k in ("name", "role", "soum", "aimag")}
    password = str(form.get("password") or "")
    errors = _user_errors(values, lang)
    if not errors:
        try:
            user, token = await run_in_threadpool(
                lambda: get_services(request).accounts.add_user(
                    values["name"],
                    role=values["role"],  # type: ignore[arg-type]
                    soum_code=values["soum"] or None,
                    aimag_code=values["aimag"] or None,
                    password=password,
                    actor=admin.name,
                )
            )
        except WeakPassword as exc:
            errors["password"] = _message(exc, lang)
        except Conflict:
            errors["name"] = message("user_message", "exists", lang, name=values["name"])
        else:
            notice = f"{text('admin_added', lang)} {user.name}"
            return _page(request, lang, notice=notice, token=token)
    return _page(request, lang, status=422, errors=errors, values=values)


@router.post("/admin/users/{name}/password", response_class=HTMLResponse)
async def admin_password(request: Request, name: str, viewer: ViewerDep) -> Response:
    """Set a user's password; their open sessions end."""
    form = await form_with_csrf(request, viewer)
    admin = require(viewer, "admin")
    lang = parse_lang(str(form.get("lang") or "mn"))
    password = str(form.get("password") or "")
    accounts = get_services(request).accounts
    try:
        await run_in_threadpool(
            lambda: accounts.set_password(
                name, password, actor=admin.name, keep_session=viewer.session_id
            )
        )
    except WeakPassword as exc:
        return _page(request, lang, status=422, errors={f"password:{name}": _message(exc, lang)})
    except RecordNotFound:
        err = message("user_message", "unknown", lang, name=name)
        return _page(request, lang, status=404, errors={f"password:{name}": err})
    return _done(lang, "password")


@router.post("/admin/users/{name}/revoke", response_class=HTMLResponse)
async def admin_revoke(request: Request, name: str, viewer: ViewerDep) -> Response:
    """Revoke a user: their token and password stop working, their sessions end at once."""
    form = await form_with_csrf(request, viewer)
    admin = require(viewer, "admin")
    lang = parse_lang(str(form.get("lang") or "mn"))
    accounts = get_services(request).accounts
    if form.get("confirm") != "yes":  # the confirmation step: nothing is revoked without it
        err = message("user_message", "revoke_confirm", lang, name=name)
        return _page(request, lang, status=422, errors={f"revoke:{name}": err})
    try:
        await run_in_threadpool(lambda: accounts.revoke(name, actor=admin.name))
    except RecordNotFound:
        err = message("user_message", "unknown", lang, name=name)
        return _page(request, lang, status=404, errors={f"revoke:{name}": err})
    return _done(lang, "revoke")


def _done(lang: Lang, what: str) -> Response:
    """Back to the screen (POST, then redirect, then GET: a reload sends nothing again)."""
    return RedirectResponse(f"/admin?done={what}" + ("&lang=en" if lang == "en" else ""), 303)
