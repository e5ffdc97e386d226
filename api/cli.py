"""The ``gazar`` command line. Each group of commands lives in ``api/commands/``."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from api.settings import Settings, load_settings
from geo.settings import AnalysisSettings
from layers.errors import GazarError, StoreError, ValidationFailed
from layers.uploads import ReadLimits
from layers.labels import messages
from layers.store import Store, open_store

app = typer.Typer(
    name="gazar",
    help="Gazar: land-access planning for artisanal and small-scale gold mining in Mongolia.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# piped output (logs, CI) gets room for the bilingual tables instead of rich's 80 columns
_WIDTH = None if sys.stdout.isatty() else 160
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="The store: a .gpkg file (default data/gazar.gpkg, or GAZAR_DB).",
        show_default=False,
    ),
]


def parse_today(value: str | None) -> dt.date:
    """``--today``: an ISO date, or today's date when not given."""
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; write it as YYYY-MM-DD", param_hint="--today"
        ) from None


def settings(db: str | None = None) -> Settings:
    """The settings tree (``GAZAR_*`` variables, :func:`api.settings.load_settings`), with the
    store ``--db`` names on top."""
    return load_settings(db=db)


def location(db: str | None) -> str:
    """The store ``--db`` names, else ``GAZAR_DB``, else ``data/gazar.gpkg``."""
    return db or settings().db


def file_limits() -> ReadLimits:
    """The caps a file named on the command line is read under (``GAZAR_MAX_UPLOAD_*``)."""
    return load_settings().api.file_limits()


def analysis_settings(**changes: Any) -> AnalysisSettings:
    """The analysis settings (``GAZAR_*`` variables), with command-line changes on top."""
    return load_settings(**changes).analysis


def report_error(exc: GazarError) -> int:
    """Print a Gazar error for a person; returns the exit code."""
    if isinstance(exc, ValidationFailed):
        err.print(f"[bold red]Refused:[/] {len(exc.problems)} problem(s)", end="")
        err.print(f" (and {exc.truncated} more)" if exc.truncated else "", end="")
        err.print("; nothing was written.")
        for p in exc.problems:
            err.print(f"  - {p}", markup=False)
        for w in exc.warnings:
            err.print(f"  ~ {w}", markup=False)
        return 1
    err.print(f"[bold red]Error:[/] {exc}", markup=True)
    return 3 if isinstance(exc, StoreError) else 1


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``; a Gazar error becomes a readable message and a non-zero exit."""
    try:
        return fn()
    except GazarError as exc:
        raise typer.Exit(report_error(exc)) from None


def words(group: str, code: str, /, **values: Any) -> str:
    """The catalogue entry ``group.code`` on one line, ``"Mongolian / English"``, filled."""
    mn, en = messages(group, code, **values)
    return f"{mn} / {en}"


def refuse(exc: GazarError) -> NoReturn:
    """Print ``exc`` for a person and exit non-zero."""
    raise typer.Exit(report_error(exc)) from None


def check_store(where: str, *, create: bool = False) -> bool:
    """Refuse a ``--db`` that cannot be a store: a folder, a 0-byte file, a missing file (unless
    ``create``), a file in a missing folder (unless ``create``). True when the store is new
    (``create`` and no file yet); a PostGIS URL is left to the database."""
    if where.startswith(("postgresql://", "postgres://")):
        return False
    path = Path(where)
    if path.is_dir():
        refuse(StoreError(f"{path}: {words('file_problem', 'is_folder')}"))
    if not path.exists():
        if create:
            return True
        if not path.parent.is_dir():
            refuse(StoreError(f"{path}: {words('file_problem', 'no_folder', folder=path.parent)}"))
        refuse(StoreError(f"{path}: {words('file_problem', 'no_store')}"))
    try:
        size = path.stat().st_size
    except OSError as exc:
        refuse(StoreError(f"{path}: {words('file_problem', 'unreadable', reason=exc.strerror)}"))
    if size == 0:
        refuse(StoreError(f"{path}: {words('file_problem', 'empty_store')}"))
    return False


def say_created(where: str, *, folder: bool = False) -> None:
    """Tell that a new store (and, with ``folder``, its folder) was made at ``where``."""
    if folder:
        err.print(words("file_done", "folder_created", folder=Path(where).parent), markup=False)
    err.print(words("file_done", "store_created", path=where), markup=False)


def store_location(db: str | None, *, create: bool = False) -> str:
    """The store ``--db`` names (:func:`location`), checked by :func:`check_store`."""
    where = location(db)
    check_store(where, create=create)
    return where


@contextmanager
def store_at(db: str | None, *, create: bool = False) -> Iterator[Store]:
    """The store ``--db`` names, checked (:func:`check_store`); only with ``create`` (``gazar
    demo``, ``migrate``, ``import``, ``copy --to``) is a missing one made, and that is said."""
    where = location(db)
    new = check_store(where, create=create)
    new_folder = new and not Path(where).parent.exists()
    try:
        store = open_store(where, create=create)
    except GazarError as exc:
        refuse(exc)
    if new:
        say_created(where, folder=new_folder)
    try:
        yield store
    finally:
        store.close()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        err.print("interrupted; nothing half-written was kept")
        sys.exit(130)


# Command modules register themselves on ``app``; imported last since they import from here.
from api.commands import data  # noqa: E402, F401
from api.commands import lifecycle  # noqa: E402, F401
from api.commands import planning  # noqa: E402, F401
from api.commands import analysis  # noqa: E402, F401
from api.commands import serve  # noqa: E402, F401
from api.commands import db as db_commands  # noqa: E402, F401
from api.commands import raster  # noqa: E402, F401
from api.commands import map as map_commands  # noqa: E402, F401
from api.commands import allocation as allocation_commands  # noqa: E402, F401
