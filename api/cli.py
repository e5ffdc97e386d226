"""The ``gazar`` command line. Each group of commands lives in ``api/commands/``."""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn, TypeVar

import typer
import typer.main
from rich.console import Console
from typer import _click as click  # the click typer vendors: its groups and commands are these
from typer.core import TyperCommand, TyperGroup

from layers.errors import GazarError, StoreError, ValidationFailed
from layers.labels import messages

if TYPE_CHECKING:
    from api.settings import Settings
    from geo.settings import AnalysisSettings
    from layers.store import Store
    from layers.uploads import ReadLimits

#: Every command and group of commands, in the order ``gazar --help`` lists them: its name ->
#: (the module of ``api/commands/`` that registers it on :data:`app`, the first paragraph of its
#: help). ``gazar --help`` is written from this table, and a command's module is imported only
#: when that command runs (tests/test_cli_startup.py checks the table against the modules).
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "layers": ("data", "Each layer with its feature count and bounding box."),
    "import": ("data", "Validate a file and import it into a layer: all of it, or nothing."),
    "validate": ("data", "Check a file as `gazar import --dry-run` would; writes nothing."),
    "export": ("data", "Export a layer to a file."),
    "demo": (
        "data",
        "Build the demo store: five target soums with Land Conclusions, parcels and "
        "rehabilitation.",
    ),
    "expiring": (
        "lifecycle",
        "Active and suspended contracts ending soon, whether each may be renewed, and why.",
    ),
    "pipeline": (
        "lifecycle",
        "Days each Land Conclusion spent in each step, the delayed ones, and data problems.",
    ),
    "availability": (
        "planning",
        "Land still free in each issued, valid Land Conclusion, with totals per soum and aimag.",
    ),
    "suggest": (
        "planning",
        "Suggest rectangular parcels of a given size in a Land Conclusion's available land.",
    ),
    "area": (
        "analysis",
        "Official (cadastre, UTM zone of the centroid) and true hectares of every feature.",
    ),
    "overlaps": (
        "analysis",
        "Overlapping features, each with the rule it breaks (none where a pair may overlap).",
    ),
    "analyze": (
        "analysis",
        "Run every conflict rule over the whole store: counts by soum and rule, then the list.",
    ),
    "check": (
        "check",
        "Review a proposal against the store: verdict, areas, soums, overlaps and broken rules.",
    ),
    "serve": (
        "serve",
        "Serve the store over HTTP: every layer as OGC API – Features, and the analyses.",
    ),
    "migrate": (
        "db",
        "Create the store's tables, or bring them up to this Gazar's schema version.",
    ),
    "copy": (
        "db",
        "Copy a whole store between backends (GeoPackage <-> PostGIS) and verify the copy.",
    ),
    "rehab-monitor": (
        "raster",
        "Vegetation recovery of every rehabilitation zone between two index rasters.",
    ),
    "terrain": (
        "raster",
        "Slope over each Land Conclusion: mean, share steeper than GAZAR_SLOPE_LIMIT_DEG, and\n"
        "those above GAZAR_SLOPE_SHARE_LIMIT.",
    ),
    "export-raster": (
        "raster",
        "A Cloud-Optimised GeoTIFF of free land: 1 available, 0 elsewhere in Land Conclusions "
        "in\nforce, 255 (nodata) outside — QGIS opens it as it is.",
    ),
    "map": ("map", "Write one HTML file with the map, Leaflet and every plugin inside it."),
    "qgis-project": (
        "qgis",
        "Write a QGIS project with every layer, grouped and styled as the web map draws them.",
    ),
    "apply": (
        "allocation",
        "Apply for a parcel: the server stamps the time, numbers it and checks eligibility.",
    ),
    "object": ("allocation", "Object to an application within its objection window."),
    "decide": (
        "allocation",
        "Approve (creating the contract parcel and its term) or reject an application.",
    ),
    "verify-draw": (
        "allocation",
        "Recompute a draw from its published inputs; exit 1 when the result does not follow.",
    ),
    "review": (
        "allocation",
        "MRPAM's review of a Land Conclusion: under_review, then issued or rejected.",
    ),
    "renew": (
        "allocation",
        "Renew a contract ending soon for a new term (refused while rehabilitation is open).",
    ),
    "register": (
        "allocation",
        "The public register (queue, decisions, objections, draws, contracts expiring soon).",
    ),
    "users": (
        "users",
        "Users, their passwords and tokens (roles: public, soum, aimag, mrpam, admin).",
    ),
    "audit": ("allocation", "The append-only, hash-chained log of every change."),
    "draw": ("allocation", "Draws between competing applications: announce, then run."),
    "verify": (
        "verify",
        "Check a soum's allocation from its published feeds alone (a URL or a folder).",
    ),
}


class LazyCommands(MutableMapping[str, click.Command]):
    """The commands of ``gazar`` by name, in :data:`COMMANDS` order; looking one up imports the
    module that registers it (and builds its click command) the first time."""

    def __init__(self, built: Mapping[str, click.Command], markup: Any) -> None:
        self._built = dict(built)
        self._markup = markup

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS.keys() | self._built.keys())

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            importlib.import_module(f"api.commands.{COMMANDS[name][0]}")
            self._built[name] = self._build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def peek(self, name: str) -> click.Command:
        """The command if it is built, else one that only carries its name and help."""
        if name in self._built:
            return self._built[name]
        return TyperCommand(name=name, help=COMMANDS[name][1], rich_markup_mode=self._markup)

    def _build(self, name: str) -> click.Command:
        for command_info in app.registered_commands:
            assert command_info.callback is not None
            named = command_info.name or typer.main.get_command_name(command_info.callback.__name__)
            if named == name:
                return typer.main.get_command_from_info(
                    command_info,
                    pretty_exceptions_short=app.pretty_exceptions_short,
                    rich_markup_mode=self._markup,
                )
        for group_info in app.registered_groups:
            if group_info.name == name:
                return typer.main.get_group_from_info(
                    group_info,
                    pretty_exceptions_short=app.pretty_exceptions_short,
                    rich_markup_mode=self._markup,
                    suggest_commands=app.suggest_commands,
                )
        raise KeyError(name)  # pragma: no cover - the table names a command no module registers


class LazyGroup(TyperGroup):
    """The ``gazar`` group: lists :data:`COMMANDS` without importing them; running a command
    imports only its module."""

    def __init__(self, *, commands: Mapping[str, click.Command] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.commands = LazyCommands(commands or {}, self.rich_markup_mode)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # the names only: TyperGroup's ``items()`` would build each

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        commands = self.commands
        assert isinstance(commands, LazyCommands)
        if self._listing and cmd_name in COMMANDS:
            return commands.peek(cmd_name)
        return commands.get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=LazyGroup,
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


@app.callback()
def _gazar() -> None:
    # a callback keeps ``gazar`` a group while no command module is imported yet
    pass


def settings(db: str | None = None) -> Settings:
    """The settings tree (``GAZAR_*`` variables, :func:`api.settings.load_settings`), with the
    store ``--db`` names on top."""
    from api.settings import load_settings

    return load_settings(db=db)


def location(db: str | None) -> str:
    """The store ``--db`` names, else ``GAZAR_DB``, else ``data/gazar.gpkg``."""
    return db or settings().db


def file_limits() -> ReadLimits:
    """The caps a file named on the command line is read under (``GAZAR_MAX_UPLOAD_*``)."""
    return settings().api.file_limits()


def analysis_settings(**changes: Any) -> AnalysisSettings:
    """The analysis settings (``GAZAR_*`` variables), with command-line changes on top."""
    from api.settings import load_settings

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
    from layers.store import open_store

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
    """The ``gazar`` program: runs the command, then lets the process end."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        err.print("interrupted; nothing half-written was kept")
        sys.exit(130)
    finally:
        # The process ends here. The interpreter's last garbage collection would walk every
        # object still alive (the libraries, the answer's leftovers: ~0.08 s after a 100k-row
        # command) to find cycles the operating system reclaims anyway; frozen objects are
        # skipped. Exit handlers, the standard streams' flushing and every object freed by its
        # reference count still happen as before (nothing Gazar writes waits on a collection:
        # stores and files are closed by their ``with`` blocks).
        gc.freeze()
