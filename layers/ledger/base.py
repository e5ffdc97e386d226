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
    # a contract's renewal: requested by its holder (or not), then granted by an official
    "renewals": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # <parcel id>/R<n>
        ("parcel_id", "TEXT NOT NULL"),
        ("requested_at", "TEXT"),
        ("requested_by", "TEXT"),
        ("decided_at", "TEXT"),
        ("decided_by", "TEXT"),
        ("outcome", "TEXT NOT NULL CHECK (outcome IN ('requested', 'renewed'))"),
        ("reason", "TEXT"),
        ("previous_expires_on", "TEXT"),
        ("starts_on", "TEXT"),
        ("expires_on", "TEXT"),
    ),
    # a contract's status change (suspend, reactivate, terminate, close) with its reason
    "contract_changes": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # <parcel id>/S<n>
        ("parcel_id", "TEXT NOT NULL"),
        ("status_before", "TEXT NOT NULL"),
        ("status", "TEXT NOT NULL"),
        ("reason", "TEXT NOT NULL"),
        ("changed_at", "TEXT NOT NULL"),
        ("actor", "TEXT"),
    ),
    # a document uploaded for an application: its metadata (logged) ...
    "documents": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # <application number>/D<n>
        ("application_id", "TEXT NOT NULL"),
        ("kind", "TEXT NOT NULL"),
        ("filename", "TEXT NOT NULL"),
        ("media_type", "TEXT NOT NULL"),
        ("size", "INTEGER NOT NULL"),
        ("sha256", "TEXT NOT NULL"),
        ("uploaded_at", "TEXT NOT NULL"),
        ("uploaded_by", "TEXT"),
    ),
    # ... and its content (base64), private: the log records only the row's id
    "document_contents": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # the document's id
        ("data", "TEXT NOT NULL"),
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
        ("password_hash", "TEXT"),  # argon2 (pwdlib); NULL: no password, token only
    ),
}

#: Columns never published in the log (nor in any feed: :func:`public_record`): the triggers
#: copy them into the unpublished ``gazar_changes`` and sealing replaces each by a salted
#: commitment (:mod:`layers.ledger.commit`).
SECRET_COLUMNS: Final = {
    "gazar_users": ("salt", "token_hash", "password_hash"),
    "document_contents": ("data",),
    "objections": ("contact",),
}

#: Operational tables: sign-in sessions, failed sign-in counters and rate limits. Kept in the
#: store's database so that every server process shares them, but they are not layers nor
#: allocation records: no log triggers, never a layer's revision, never in the hash chain
#: (the sign-ins, sign-outs and lockouts themselves are logged as events, see
#: ``Ledger.log_event``).
OPERATIONAL: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "gazar_sessions": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # SHA-256 of the session id; the id is not kept
        ("user_id", "TEXT NOT NULL"),
        ("csrf", "TEXT NOT NULL"),
        ("created_at", "TEXT NOT NULL"),
        ("seen_at", "TEXT NOT NULL"),
        ("ended_at", "TEXT"),
        ("address", "TEXT"),
        ("agent", "TEXT"),
    ),
    "gazar_signin_failures": (
        ("key", "TEXT NOT NULL PRIMARY KEY"),  # "user:NAME" or "addr:ADDRESS"
        ("count", "INTEGER NOT NULL"),
        ("first_at", "TEXT NOT NULL"),
        ("last_at", "TEXT NOT NULL"),
        ("locked_until", "TEXT"),
    ),
    # hits per key (an action and a hashed address) in its current window of time, shared
    # by every worker (:meth:`layers.ledger.Ledger.count_hit`)
    # the salt of each private value committed to in the log (:mod:`layers.ledger.commit`)
    "gazar_commitments": (
        ("id", "TEXT NOT NULL PRIMARY KEY"),  # <seq>/<side>/<field>
        ("seq", "BIGINT NOT NULL"),
        ("object", "TEXT NOT NULL"),
        ("side", "TEXT NOT NULL"),
        ("field", "TEXT NOT NULL"),
        ("salt", "TEXT NOT NULL"),
    ),
    "gazar_rate_limits": (
        ("key", "TEXT NOT NULL PRIMARY KEY"),
        ("bucket", "BIGINT NOT NULL"),  # the window: seconds since the epoch // its length
        ("hits", "INTEGER NOT NULL"),
    ),
}


def operational_ddl() -> list[str]:
    """The operational tables and their index (the same SQL on both backends)."""
    stmts = []
    for table, cols in OPERATIONAL.items():
        body = ", ".join(f'"{c}" {t}' for c, t in cols)
        stmts.append(f'CREATE TABLE IF NOT EXISTS "{table}" ({body})')
    stmts.append('CREATE INDEX IF NOT EXISTS "gazar_sessions_user" ON "gazar_sessions" (user_id)')
    return stmts


def operational_columns(table: str) -> list[str]:
    """The columns of an operational table (its key first).

    Raises
    ------
    StoreError
        For a table that is not one of :data:`OPERATIONAL`.
    """
    if table not in OPERATIONAL:
        raise StoreError(f"'{table}' is not an operational table ({', '.join(OPERATIONAL)})")
    return [c for c, _ in OPERATIONAL[table]]


def missing_columns(table: str, existing: set[str]) -> list[tuple[str, str]]:
    """The columns of a record table that an older store's table lacks, to be added with
    ``ALTER TABLE ... ADD COLUMN`` when the ledger's statements change (each may be NULL;
    e.g. ``objections.contact``). The one migration of both backends."""
    if not existing:
        return []
    return [(c, t) for c, t in RECORDS.get(table, ()) if c not in existing]


#: Record tables that are never changed once written (triggers refuse it).
APPEND_ONLY: Final = (
    "gazar_events",
    "decisions",
    "objections",
    "contract_changes",
    "documents",
    "document_contents",
)


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
    with its geometry column ``geom`` last; a record table's all (its secrets are committed
    to when the change is sealed: :mod:`layers.ledger.commit`)."""
    if table in REGISTRY or table == APPLICATIONS.name:
        return [*table_kind(table).columns, geom]
    return [c for c, _ in RECORDS[table]]


def public_record(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A record as anyone may read it: without the table's :data:`SECRET_COLUMNS`."""
    secret = SECRET_COLUMNS.get(table, ())
    return {k: v for k, v in row.items() if k not in secret}


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


def event_after(doc: Mapping[str, Any] | None) -> str | None:
    """The ``after`` text of a logged event that is not a row change (a sign-in, a lockout):
    its JSON with sorted keys, None for nothing."""
    if doc is None:
        return None
    return orjson.dumps(dict(doc), option=orjson.OPT_SORT_KEYS).decode()
