"""What both ledger backends share: the allocation tables, the errors, the acting user and
the values of an update (see :mod:`layers.ledger` for the ledger itself)."""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

from layers.errors import FeatureNotFound, GazarError, StoreError
from layers.schema import REGISTRY, Field, LayerKind, layer_kind

#: The applications table: a GeoPackage feature table, so QGIS shows the queue on the map.
APPLICATIONS: Final = LayerKind(
    "applications",
    (
        Field("land_conclusion_id", "str", required=True),
        Field("soum_code", "str"),
        Field("aimag_code", "str"),
        Field("holder", "str", required=True),
        Field("holder_type", "enum", required=True, enum="holder_type"),
        Field("members_women", "int", minimum=0),
        Field("members_men", "int", minimum=0),
        Field("requested_ha", "float"),
        Field("official_ha", "float"),
        Field("filed_at", "str", required=True),
        Field("filed_on", "date"),
        Field("place", "int"),
        Field("status", "str", required=True),
        Field("reasons", "str"),
        Field("notes", "str"),
        Field("competing", "str"),
        Field("objection_until", "date"),
        Field("decided_at", "str"),
        Field("parcel_id", "str"),
        Field("applicant", "str"),
    ),
    main_date="filed_on",
)

#: The non-spatial allocation tables: columns (``id`` first) and their SQL types.
RECORDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "objections": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),
        ("application_id", "TEXT NOT NULL"),
        ("filed_at", "TEXT NOT NULL"),
        ("name", "TEXT"),
        ("reason", "TEXT NOT NULL"),
        ("actor", "TEXT"),
        ("contact", "TEXT"),  # the objector's phone or e-mail: private (SECRET_COLUMNS)
    ),
    "decisions": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # the application number: one decision each
        ("application_id", "TEXT NOT NULL UNIQUE"),
        ("outcome", "TEXT NOT NULL CHECK (outcome IN ('approve', 'reject'))"),
        ("reason", "TEXT NOT NULL"),
        ("decided_at", "TEXT NOT NULL"),
        ("actor", "TEXT"),
        ("parcel_id", "TEXT"),
        ("contract_no", "TEXT"),
        ("expires_on", "TEXT"),
    ),
    "draws": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),
        ("soum_code", "TEXT"),
        ("land_conclusion_id", "TEXT"),
        ("applications", "TEXT NOT NULL"),  # JSON list of numbers, sorted
        ("draw_date", "TEXT NOT NULL"),
        ("public_value", "TEXT NOT NULL"),
        ("announced_at", "TEXT NOT NULL"),
        ("announced_by", "TEXT"),
        ("run_at", "TEXT"),
        ("run_by", "TEXT"),
        ("input", "TEXT"),
        ("seed", "TEXT"),
        ("result", "TEXT"),  # JSON list: the order, winner first
    ),
    "gazar_users": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # the key id, part of the token
        ("name", "TEXT NOT NULL UNIQUE"),
        ("role", "TEXT NOT NULL"),
        ("soum_code", "TEXT"),
        ("aimag_code", "TEXT"),
        ("salt", "TEXT NOT NULL"),
        ("token_hash", "TEXT NOT NULL"),
        ("created_at", "TEXT NOT NULL"),
        ("revoked_at", "TEXT"),
    ),
}

#: Columns never copied into the log (nor into any feed: :func:`public_record`).
SECRET_COLUMNS: Final = {"gazar_users": ("salt", "token_hash"), "objections": ("contact",)}

#: Columns added to a record table after stores were made with it: an existing table gets
#: them by ``ALTER TABLE ... ADD COLUMN`` when the ledger is opened (nullable, no default).
ADDED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {"objections": ("contact",)}

#: Operational tables beside the ledger: not layers, not logged, never a revision.
#: ``gazar_rate_limits``: hits per key (e.g. an address and an action) per time window,
#: shared by every worker (:meth:`layers.ledger.Ledger.count_hit`).
RATE_LIMITS_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS gazar_rate_limits (key TEXT NOT NULL, bucket BIGINT NOT NULL, "
    "hits INTEGER NOT NULL, PRIMARY KEY (key, bucket))"
)

#: Record tables that are never changed once written (triggers refuse it).
APPEND_ONLY: Final = ("gazar_events", "decisions", "objections")


class Conflict(GazarError):
    """A change refused because of the state of the records (409): each reason is listed."""

    def __init__(self, message: str, reasons: Sequence[Any] = ()) -> None:
        self.reasons = list(reasons)
        text = message
        if self.reasons:
            text += ": " + "; ".join(str(r) for r in self.reasons)
        super().__init__(text)


class RecordNotFound(FeatureNotFound):
    """An application, draw or user that does not exist (404)."""


#: who is acting (actor, request) in the current context: set by ``Ledger.acting_as``, read
#: by each backend when a transaction starts
ACTOR: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "gazar_actor", default=None
)


def table_kind(table: str) -> LayerKind:
    """The layer kind of a layer table or of ``applications``.

    Raises
    ------
    LayerNotFound
        For a table that is neither (``layers.schema.layer_kind``'s error).
    """
    return APPLICATIONS if table == APPLICATIONS.name else layer_kind(table)


def logged_tables() -> list[str]:
    """Every table whose changes are logged: the layers, ``applications``, the records."""
    return [*REGISTRY, APPLICATIONS.name, *RECORDS]


def logged_columns(table: str, geom: str) -> list[str]:
    """The columns a logged row shows: a layer's (or ``applications``') in the schema's order
    with its geometry column ``geom`` last; a record table's without its secrets."""
    if table in REGISTRY or table == APPLICATIONS.name:
        return [*table_kind(table).columns, geom]
    secret = SECRET_COLUMNS.get(table, ())
    return [c for c, _ in RECORDS[table] if c not in secret]


def public_record(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A record as anyone may read it: without the table's :data:`SECRET_COLUMNS`."""
    secret = SECRET_COLUMNS.get(table, ())
    return {k: v for k, v in row.items() if k not in secret}


def added_columns(table: str, present: Sequence[str]) -> list[tuple[str, str]]:
    """The :data:`ADDED_COLUMNS` of ``table`` (with their SQL types) that an existing table
    with the columns ``present`` lacks."""
    types = dict(RECORDS.get(table, ()))
    have = set(present)
    return [(c, types[c]) for c in ADDED_COLUMNS.get(table, ()) if c not in have]


def record_columns(table: str) -> list[str]:
    """The columns of an allocation record table, ``id`` first.

    Raises
    ------
    StoreError
        For a table that is not one of :data:`RECORDS`.
    """
    if table not in RECORDS:
        raise StoreError(f"'{table}' is not an allocation table ({', '.join(RECORDS)})")
    return [c for c, _ in RECORDS[table]]


def check_countable(table: str) -> None:
    """Refuse (``StoreError``) a table that ``LedgerTx.count`` cannot count."""
    if table not in (*RECORDS, APPLICATIONS.name, *REGISTRY):
        raise StoreError(f"unknown table '{table}'")


def update_values(
    table: str, changes: Mapping[str, Any], to_db: Callable[[Any, str], Any]
) -> dict[str, Any]:
    """The column values of an update of ``table``: a layer's (or ``applications``') converted
    with ``to_db`` by field type, a record table's as given once its columns are checked.

    Raises
    ------
    StoreError
        For an unknown table or a column a record table does not have.
    """
    if table in REGISTRY or table == APPLICATIONS.name:
        kind = table_kind(table)
        return {c: to_db(v, kind.field(c).type) for c, v in changes.items()}
    if table in RECORDS:
        known = {c for c, _ in RECORDS[table]}
        bad = [c for c in changes if c not in known]
        if bad:
            raise StoreError(f"table '{table}' has no column(s) {bad}")
        return dict(changes)
    raise StoreError(f"unknown table '{table}'")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    """A server timestamp as stored: ISO 8601 UTC with microseconds and ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_json_list(text: str | None) -> list[Any]:
    """A JSON list column (``reasons``, ``competing``, ``applications``) as a list."""
    if text is None or text == "":
        return []
    value = orjson.loads(text)
    return list(value) if isinstance(value, list) else []
