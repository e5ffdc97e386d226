"""Signing in and out: ``/login`` and ``/logout``.

``GET /login`` is the form (name, password, and ``next``: the page to go to afterwards, a path
of this site only); ``POST /login`` checks the form's CSRF token (a visitor's ``gazar_csrf``
cookie, echoed), signs in through :class:`api.services.accounts.AccountService`, sets the
``gazar_session`` cookie of a new session and sends the browser to ``next`` or the user's desk
(``/desk``, ``/inbox``, ``/admin``, ``/my``). A refused sign-in shows the reason next to the
password, keeps the name, and is answered later the more failures there were.
``POST /logout`` (CSRF-checked) ends the session on the server and clears the cookie;
``GET /logout`` only asks, it changes nothing.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import get_services
from api.services.accounts import SignInLocked, SignInRefused
from layers.labels import Lang, message
from web.i18n import parse_lang, text
from web.render import render
from web.session import (
    ViewerDep,
    apply_cookies,
    clear_session_cookie,
    client_address,
    desk_path,
    form_with_csrf,
    safe_next,
    set_session_cookie,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

Lang_ = Annotated[str | None, Query(description="mn (default) or en")]


def _with_lang(path: str, lang: Lang) -> str:
    if lang != "en" or "lang=" in path:
        return path
    return f"{path}{'&' if '?' in path else '?'}lang=en"


def _login_page(
    request: Request,
    lang: Lang,
    *,
    name: str = "",
    next_path: str | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "login.html",
        lang,
        status=status,
        title=text("signin_title", lang),
        nav="login",
        name=name,
        next_path=next_path or "",
        errors=errors or {},
        notice=notice,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    viewer: ViewerDep,
    lang: Lang_ = None,
    next: Annotated[str | None, Query(description="The page to go to afterwards")] = None,
    out: Annotated[str | None, Query(description="1: just signed out")] = None,
) -> Response:
    """The sign-in form (a signed-in user is sent on at once)."""
    language = parse_lang(lang)
    target = safe_next(next)
    if viewer.user is not None:
        return RedirectResponse(_with_lang(target or desk_path(viewer.user), language), 303)
    notice = text("signin_signed_out", language) if out == "1" else None
    return _login_page(request, language, next_path=target, notice=notice)


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, viewer: ViewerDep) -> Response:
    """Sign in: a new session, its cookie, and on to ``next`` or the user's desk."""
    form = await form_with_csrf(request, viewer)
    language = parse_lang(str(form.get("lang") or "mn"))
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = message("signin_message", "name_empty", language)
    if not password:
        errors["password"] = message("signin_message", "password_empty", language)
    if errors:
        return _login_page(
            request, language, name=name, next_path=target, errors=errors, status=422
        )
    accounts = get_services(request).accounts
    try:
        session_id, session = await run_in_threadpool(
            accounts.sign_in,
            name,
            password,
            client_address(request),
            request.headers.get("user-agent"),
        )
    except SignInRefused as exc:
        if exc.delay:
            await asyncio.sleep(exc.delay)
        page = _login_page(
            request,
            language,
            name=name,
            next_path=target,
            errors={"password": exc.message(language)},
            status=429 if isinstance(exc, SignInLocked) else 401,
        )
        if isinstance(exc, SignInLocked):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if viewer.session_id:  # another user's session in this browser ends here
        await run_in_threadpool(accounts.sign_out, viewer.session_id)
    response = RedirectResponse(_with_lang(target or desk_path(session.user), language), 303)
    set_session_cookie(request, response, session_id)
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_form(request: Request, viewer: ViewerDep, lang: Lang_ = None) -> HTMLResponse:
    """Asks whether to sign out (a button that POSTs): a GET changes nothing."""
    language = parse_lang(lang)
    return render(
        request, "logout.html", language, title=text("signout_title", language), nav="logout"
    )


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    """End the session on the server and clear its cookie."""
    form = await form_with_csrf(request, viewer)
    language = parse_lang(str(form.get("lang") or "mn"))
    if viewer.session_id:
        await run_in_threadpool(get_services(request).accounts.sign_out, viewer.session_id)
    response = RedirectResponse(_with_lang("/login?out=1", language), 303)
    clear_session_cookie(request, response)
    apply_cookies(request, response)
    return response
