"""The workbench in a real browser: a demo store with one user per role, a live server, and
the helpers every browser story uses (not a test module: import what you need).

Usage (a browser story module)::

    from tests.workbench import Workbench, browse, sign_in, workbench  # noqa: F401

    def test_story(workbench: Workbench, browser) -> None:
        with browse(browser, workbench, width=390) as tab:
            sign_in(tab.page, workbench.name_of("mrpam"), workbench.password)
            tab.goto("/inbox")
            ...
            tab.clean()            # no console error, no failed or external request

- :func:`build_store` writes the demo store (``gazar demo``'s builder, its rasters) and the
  ledger with :data:`USERS` (one per role, password :data:`PASSWORD`) into a folder.
- :func:`start_workbench` is that store served by uvicorn on 127.0.0.1 (a context manager);
  the fixture :func:`workbench` gives one per test module (the stories change the store, so
  modules do not share one).
- :func:`sign_in` signs a page in through ``/login``; :func:`no_external_requests` aborts and
  records every request leaving 127.0.0.1; :func:`console_errors` collects console errors and
  uncaught exceptions; :func:`browse` opens a tab with all three at a width.
- :func:`client_sign_in` signs a Starlette ``TestClient`` in the same way (for TestClient
  tests of the pages: CSRF tokens, roles).
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from layers.ledger import User
from tests.conftest import CHROMIUM as CHROMIUM_PATH

#: the password every workbench user has (long enough, not a common one)
PASSWORD: Final = "Tal-Nutag-2026-workbench"

#: one user per role: name, role, soum, aimag (the demo's Mandal soum, Selenge aimag)
USERS: Final[tuple[tuple[str, str, str | None, str | None], ...]] = (
    ("wb-public", "public", None, None),
    ("wb-soum", "soum", "MN4322", None),
    ("wb-soum-other", "soum", "MN4310", None),
    ("wb-aimag", "aimag", None, "MN43"),
    ("wb-mrpam", "mrpam", None, None),
    ("wb-admin", "admin", None, None),
)

#: the actor named in the log for the set-up writes
SETUP_ACTOR: Final = "workbench-setup"

CHROMIUM: Final = CHROMIUM_PATH  # the browser is conftest's session fixture ``browser``
LOCAL: Final = ("http://127.0.0.1", "data:", "blob:", "about:")


@dataclass
class Workbench:
    """A live workbench: its address, app, store and users (by name)."""

    url: str
    app: Any
    db: Path
    users: dict[str, User]
    password: str = PASSWORD

    def name_of(self, role: str) -> str:
        """The first workbench user with ``role`` (``wb-soum`` for ``soum``)."""
        return next(u.name for u in self.users.values() if u.role == role)

    def services(self) -> Any:
        """The running app's :class:`api.services.Services`."""
        return self.app.state.services


def build_store(folder: Path, *, today: dt.date | None = None, seed: int = 7) -> Path:
    """The demo store (``gazar demo``'s builder and rasters) in ``folder`` with its ledger and
    :data:`USERS`; returns the store's path."""
    from api.services.rasters import raster_dir, write_demo_rasters
    from layers.demo import build_demo
    from layers.schema import LAYER_ORDER
    from layers.store import open_store

    day = today or dt.date.today()
    path = folder / "workbench.gpkg"
    layers = build_demo(seed=seed, scale=1, today=day)
    with open_store(path) as store:
        store.write({name: layers[name] for name in LAYER_ORDER})
    write_demo_rasters(layers, raster_dir(path), seed=seed, today=day)
    add_users(path)
    return path


def add_users(db: Path | str) -> dict[str, User]:
    """:data:`USERS` added to the store's ledger, each with :data:`PASSWORD`."""
    from layers.ledger import open_ledger

    ledger = open_ledger(str(db), create=True)
    try:
        made: dict[str, User] = {}
        for name, role, soum, aimag in USERS:
            user, _token = ledger.add_user(
                name, role=role, soum_code=soum, aimag_code=aimag,  # type: ignore[arg-type]
                actor=SETUP_ACTOR,
            )  # fmt: skip
            ledger.set_password(name, PASSWORD, actor=SETUP_ACTOR)
            made[name] = user
        return made
    finally:
        ledger.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(db: Path) -> Iterator[tuple[str, Any]]:
    """A uvicorn server on 127.0.0.1 over the store ``db``: its address and its app."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings

    app = create_app(ApiSettings(db=str(db)))
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the workbench server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def start_workbench(folder: Path, *, today: dt.date | None = None) -> Iterator[Workbench]:
    """A demo store with :data:`USERS` built in ``folder``, served on 127.0.0.1."""
    from layers.ledger import open_ledger

    db = build_store(folder, today=today)
    ledger = open_ledger(str(db), create=False)
    try:
        users = {u.name: u for u in ledger.users()}
    finally:
        ledger.close()
    with serve(db) as (url, app):
        yield Workbench(url, app, db, users)


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    """A workbench for this test module (a fresh demo store, its users, a live server)."""
    with start_workbench(tmp_path_factory.mktemp("workbench")) as bench:
        yield bench


# ----------------------------------------------------------------------------- browser


def no_external_requests(page: Any) -> list[str]:
    """Abort every request of ``page`` that leaves 127.0.0.1; returns the list of their
    addresses (the test asserts it stays empty)."""
    external: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(LOCAL):
            r.continue_()
        else:
            external.append(url)
            r.abort()

    page.route("**/*", route)
    return external


def console_errors(page: Any) -> list[str]:
    """Collect the console errors, uncaught exceptions and failed requests of ``page``."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url} {r.failure}"))
    return errors


#: the requests in flight of each page ``browse`` opened (by ``id(page)``): see ``settle``
_IN_FLIGHT: dict[int, set[Any]] = {}
#: how long no request may be in flight for a page to count as settled
QUIET_MS = 150


def track_requests(page: Any) -> None:
    """Keep the requests ``page`` has in flight, for :func:`settle`."""
    flying: set[Any] = set()
    _IN_FLIGHT[id(page)] = flying

    # Playwright takes Python functions as handlers, not a set's builtin methods
    def started(request: Any) -> None:
        flying.add(request)

    def ended(request: Any) -> None:
        flying.discard(request)

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    page.on("close", lambda _: _IN_FLIGHT.pop(id(page), None))


def settle(page: Any, *, timeout_s: float = 30.0) -> None:
    """Wait until ``page`` has loaded and no request has been in flight for ``QUIET_MS``: what
    ``networkidle`` is for here (a request still loading when the next navigation starts is
    aborted, a failed request), without its fixed 500 ms of silence per page. Pages not
    tracked (``track_requests``) wait for ``networkidle``."""
    flying = _IN_FLIGHT.get(id(page))
    if flying is None:
        page.wait_for_load_state("networkidle")
        return
    page.wait_for_load_state("load")
    quiet, step = 0, 50
    deadline = time.monotonic() + timeout_s
    while quiet < QUIET_MS:
        if time.monotonic() > deadline:
            raise AssertionError(f"requests still in flight: {sorted(r.url for r in flying)}")
        page.wait_for_timeout(step)  # events are delivered while Playwright waits
        quiet = quiet + step if not flying else 0


def sign_in(page: Any, name: str, password: str, *, base: str | None = None) -> None:
    """Sign ``page`` in through the ``/login`` form (of ``base``, else the page's server)."""
    root = base or re.match(r"https?://[^/]+", page.url).group(0)  # type: ignore[union-attr]
    page.context.clear_cookies()  # a fresh visitor (signing in as someone else)
    # settled: a favicon still loading when the form is sent is aborted (a failed request)
    page.goto(root + "/login", wait_until="load")
    settle(page)
    form = page.locator("form.login, form[action^='/login']").first
    form.locator("input[name='name']").fill(name)
    form.locator("input[name='password']").fill(password)
    with page.expect_navigation():
        form.locator("button[type='submit'], input[type='submit']").first.click()
    settle(page)
    if "/login" in page.url.split("?")[0]:
        raise AssertionError(f"{name} could not sign in: {page.locator('main').inner_text()}")


@dataclass
class Tab:
    """A browser tab on the workbench with its console errors and external requests."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        answer = self.page.goto(self.base + path, wait_until="load")
        settle(self.page)
        return answer

    def sign_in(self, name: str, password: str = PASSWORD) -> None:
        sign_in(self.page, name, password, base=self.base)

    def shot(self, name: str, folder: Path = Path("/tmp/shots-workbench")) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{name}.png"
        self.page.screenshot(path=str(out), full_page=True)
        return out

    def allow(self, status: int) -> None:
        """Forget the console errors of responses with ``status`` (a refused form is answered
        422 or 409, which chromium logs as a failed resource): call it right after the step
        that expected one."""
        gone = f"status of {status} "
        self.errors[:] = [e for e in self.errors if gone not in e]

    def clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.external == [], self.external


@contextmanager
def browse(browser: Any, bench: Workbench, *, width: int = 1280) -> Iterator[Tab]:
    """A new browser context at ``width`` px (390: a phone) on ``bench``: one tab with the
    console-error collector and the external-request guard."""
    phone = width < 700
    ctx = browser.new_context(
        viewport={"width": width, "height": 844 if phone else 900},
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=1,
    )
    try:
        page = ctx.new_page()
        track_requests(page)
        tab = Tab(page, bench.url)
        tab.errors = console_errors(page)
        tab.external = no_external_requests(page)
        yield tab
    finally:
        ctx.close()


# ----------------------------------------------------------------------------- TestClient


_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    if found is None:
        raise AssertionError("the page has no csrf_token field")
    return found.group(1)


def client_sign_in(client: Any, name: str, password: str = PASSWORD) -> None:
    """Sign a ``TestClient`` in through ``/login`` as a fresh visitor (its cookie jar then
    keeps the session)."""
    client.cookies.clear()
    page = client.get("/login")
    data = {"name": name, "password": password}
    found = _CSRF.search(page.text)
    if found is not None:
        data["csrf_token"] = found.group(1)
    answer = client.post("/login", data=data, follow_redirects=False)
    if answer.status_code not in (302, 303):
        raise AssertionError(f"{name} could not sign in: {answer.status_code} {answer.text[:300]}")


__all__ = [
    "PASSWORD",
    "USERS",
    "Tab",
    "Workbench",
    "add_users",
    "browse",
    "build_store",
    "client_sign_in",
    "console_errors",
    "csrf_of",
    "no_external_requests",
    "serve",
    "sign_in",
    "start_workbench",
    "workbench",
]
