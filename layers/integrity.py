"""The store's own rules: what each layer's schema allows, as SQL both backends enforce.

Gazar validates every batch before it writes (:mod:`layers.validate`, every problem at once);
these rules are the second line, for writers that bypass Gazar (QGIS editing the GeoPackage, a
``psql`` session): an insert or update whose code-list value, number range, date, reference,
geometry type or bounds (Mongolia's box) break the layer's schema is refused, with a message
naming the layer, the feature's id, the field and the rule.

One list of :class:`StoreRule` per layer is built from ``layers.schema.REGISTRY``
(:func:`store_rules`); each rule carries the condition that marks a row as breaking it, in
SQLite and in PostgreSQL. From that list come the GeoPackage triggers
(:func:`sqlite_trigger_ddl`), the PostGIS trigger (:func:`pg_trigger_ddl`) and the query
listing rows already in a store that break a rule (:func:`broken_rows_query`), which
``gazar migrate`` prints.

SQLite before 3.47 accepts only a fixed text in ``RAISE``, so the GeoPackage triggers refuse
a row by evaluating ``json_extract('{}', <message>)``: an invalid JSON path whose error text
is the message (``JSON path error near '<message>'``), the only way plain SQLite (as QGIS
runs it) reports a message built from the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from layers.schema import MONGOLIA_BOUNDS, REGISTRY, Field, LayerKind

#: the triggers' names start with this (``gazar_check_<layer>_insert`` / ``_update``)
TRIGGER_PREFIX = "gazar_check_"
#: the prefix of every refusal, so that a caller can tell it from other errors
REFUSED = "refused by the store"

Dialect = Literal["sqlite", "pg"]

_MINX, _MINY, _MAXX, _MAXY = MONGOLIA_BOUNDS
BOUNDS_RULE = f"must lie inside Mongolia (lon {_MINX:g} to {_MAXX:g}, lat {_MINY:g} to {_MAXY:g})"
TYPE_RULE = "must be a MultiPolygon (a Polygon is stored as a one-part MultiPolygon)"
#: the geometry type rule of each declared type
TYPE_RULES = {
    "MultiPolygon": TYPE_RULE,
    "MultiLineString": "must be a MultiLineString (a LineString is stored as a one-part "
    "MultiLineString)",
    "Point": "must be a Point",
}

#: WKB type of each declared 2D type, little and big endian, as hex (byte order byte + uint32)
_WKB_TYPES = {
    "MultiPolygon": ("0106000000", "0000000006"),
    "MultiLineString": ("0105000000", "0000000005"),
    "Point": ("0101000000", "0000000001"),
}


@dataclass(frozen=True)
class StoreRule:
    """One rule of a layer: a row breaks it when ``bad`` (SQL, over the row ``{r}``) holds."""

    layer: str
    field: str
    #: the rule as a person reads it ("must be one of: issued, proposed")
    rule: str
    #: the broken condition in SQLite and in PostgreSQL; ``{r}`` names the row (NEW, a table)
    bad_sqlite: str
    bad_pg: str | None
    #: SQL text of the offending value shown in the message (None: not shown)
    shown_sqlite: str | None = None
    shown_pg: str | None = None

    def bad(self, dialect: Dialect, row: str | None) -> str | None:
        """The broken condition over ``row`` (None: the table's own columns, for a CHECK)."""
        text = self.bad_sqlite if dialect == "sqlite" else self.bad_pg
        if text is None:
            return None
        return text.replace("{r}.", "") if row is None else text.format(r=row)

    def shown(self, dialect: Dialect, row: str) -> str | None:
        text = self.shown_sqlite if dialect == "sqlite" else self.shown_pg
        return None if text is None else text.format(r=row)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _field_rules(kind: LayerKind, f: Field) -> list[StoreRule]:
    col = "{r}." + _q(f.name)
    value_sqlite = f"CAST({col} AS TEXT)"
    value_pg = f"{col}::text"
    rules: list[StoreRule] = []

    def add(rule: str, bad_sqlite: str, bad_pg: str | None) -> None:
        rules.append(StoreRule(kind.name, f.name, rule, bad_sqlite, bad_pg, value_sqlite, value_pg))

    if f.type == "enum":
        choices = ", ".join(_lit(c) for c in f.choices)
        add(
            "must be one of: " + ", ".join(f.choices),
            f"{col} IS NOT NULL AND {col} NOT IN ({choices})",
            f"{col} IS NOT NULL AND {col} NOT IN ({choices})",
        )
    if f.type == "int":
        add("must be a whole number", f"typeof({col}) NOT IN ('integer', 'null')", None)
    if f.type == "float":
        add("must be a number", f"typeof({col}) NOT IN ('integer', 'real', 'null')", None)
    if f.type in ("int", "float") and f.minimum is not None:
        add(
            f"must be at least {f.minimum:g}",
            f"typeof({col}) IN ('integer', 'real') AND {col} < {f.minimum!r}",
            f"{col} < {f.minimum!r}",
        )
    if f.type == "date":
        # PostgreSQL's date type refuses anything else by itself
        add(
            "must be a date written YYYY-MM-DD",
            f"{col} IS NOT NULL AND (typeof({col}) != 'text' OR date({col}) IS NULL "
            f"OR date({col}) != {col})",
            None,
        )
    if f.references is not None:
        target = _q(f.references)
        missing = f"{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {target} WHERE id = {col})"
        add(f"must be the id of a feature in {f.references}", missing, missing)
    return rules


def _sqlite_wkb_type(geom: str) -> str:
    """The hex of a GeoPackage blob's WKB byte order and type (after header and envelope)."""
    h = f"hex({geom})"
    flags_low = f"instr('0123456789ABCDEF', substr({h}, 8, 1)) - 1"
    envelope = (
        f"(CASE ({flags_low}) / 2 WHEN 0 THEN 0 WHEN 1 THEN 32 WHEN 2 THEN 48 WHEN 3 THEN 48 "
        "WHEN 4 THEN 64 ELSE -1 END)"
    )
    return f"substr({h}, 17 + 2 * {envelope}, 10)"


def _geometry_rules(kind: LayerKind) -> list[StoreRule]:
    g = "{r}.geom"
    wkb = _sqlite_wkb_type(g)
    multi = ", ".join(_lit(t) for t in _WKB_TYPES[kind.geometry])
    outside_sqlite = (
        f"ST_MinX({g}) < {_MINX!r} OR ST_MaxX({g}) > {_MAXX!r} "
        f"OR ST_MinY({g}) < {_MINY!r} OR ST_MaxY({g}) > {_MAXY!r}"
    )
    outside_pg = f"NOT ({g} @ ST_MakeEnvelope({_MINX!r}, {_MINY!r}, {_MAXX!r}, {_MAXY!r}, 4326))"
    name = kind.name
    return [
        StoreRule(name, "geometry", "is required", f"{g} IS NULL", f"{g} IS NULL"),
        StoreRule(
            name,
            "geometry",
            TYPE_RULES[kind.geometry],
            f"{g} IS NOT NULL AND (substr(hex({g}), 1, 4) != '4750' OR {wkb} NOT IN ({multi}))",
            None,  # the column's type, e.g. geometry(MultiPolygon, 4326), refuses anything else
            f"'WKB type ' || {wkb}",
        ),
        StoreRule(
            name,
            "geometry",
            "must not be empty",
            f"{g} IS NOT NULL AND ST_IsEmpty({g})",
            f"{g} IS NOT NULL AND ST_IsEmpty({g})",
        ),
        StoreRule(
            name,
            "geometry",
            BOUNDS_RULE,
            f"{g} IS NOT NULL AND NOT ST_IsEmpty({g}) AND ({outside_sqlite})",
            f"{g} IS NOT NULL AND NOT ST_IsEmpty({g}) AND {outside_pg}",
            None,
            f"ST_AsText(ST_Envelope({g}))",
        ),
    ]


def store_rules(kind: LayerKind) -> list[StoreRule]:
    """Every rule of ``kind``'s table, geometry first, then its fields in schema order."""
    rules = _geometry_rules(kind)
    for f in kind.fields:
        rules += _field_rules(kind, f)
    return rules


def _message_sqlite(rule: StoreRule, row: str) -> str:
    head = _lit(f"{REFUSED}: layer {rule.layer}, id ")
    parts = [head, f"coalesce({row}.id, '(none)')", _lit(f", field {rule.field}")]
    shown = rule.shown("sqlite", row)
    if shown is not None:
        parts += ["' = '", f"coalesce({shown}, 'NULL')"]
    parts.append(_lit(f": {rule.rule}"))
    return " || ".join(parts)


def sqlite_trigger_ddl(kind: LayerKind) -> list[str]:
    """DROP and CREATE of the BEFORE INSERT and BEFORE UPDATE triggers checking ``kind``."""
    body = "".join(
        f"  SELECT json_extract('{{}}', {_message_sqlite(rule, 'NEW')}) "
        f"WHERE {rule.bad('sqlite', 'NEW')};\n"
        for rule in store_rules(kind)
    )
    out = []
    for event in ("insert", "update"):
        name = _q(f"{TRIGGER_PREFIX}{kind.name}_{event}")
        out.append(f"DROP TRIGGER IF EXISTS {name}")
        out.append(
            f"CREATE TRIGGER {name} BEFORE {event.upper()} ON {_q(kind.name)}\nBEGIN\n{body}END"
        )
    return out


def sqlite_drop_ddl(kind: LayerKind) -> list[str]:
    """DROP of ``kind``'s check triggers (a test forces a broken row in with them dropped)."""
    return [
        f"DROP TRIGGER IF EXISTS {_q(f'{TRIGGER_PREFIX}{kind.name}_{event}')}"
        for event in ("insert", "update")
    ]


def pg_trigger_ddl(kind: LayerKind, *, schema_qualified: str | None = None) -> list[str]:
    """The PL/pgSQL function and the BEFORE INSERT OR UPDATE trigger checking ``kind``."""
    func = _q(f"{TRIGGER_PREFIX}{kind.name}")
    table = schema_qualified or _q(kind.name)
    checks = []
    for rule in store_rules(kind):
        bad = rule.bad("pg", "NEW")
        if bad is None:
            continue
        shown = rule.shown("pg", "NEW")
        value = f"' = ' || coalesce({shown}, 'NULL')" if shown is not None else "''"
        checks.append(
            f"  IF {bad} THEN\n"
            f"    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = "
            f"{_lit(f'{REFUSED}: layer {rule.layer}, id ')} || coalesce(NEW.id, '(none)') || "
            f"{_lit(f', field {rule.field}')} || {value} || {_lit(': ' + rule.rule)};\n"
            f"  END IF;\n"
        )
    body = "".join(checks)
    trigger = _q(f"{TRIGGER_PREFIX}{kind.name}")
    return [
        f"CREATE OR REPLACE FUNCTION {func}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        f"BEGIN\n{body}  RETURN NEW;\nEND\n$body$",
        f"DROP TRIGGER IF EXISTS {trigger} ON {table}",
        f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {func}()",
    ]


def pg_check_ddl(kind: LayerKind) -> list[tuple[str, str]]:
    """``(name, CHECK expression)`` of the PostgreSQL CHECK constraints of ``kind``: every rule
    that needs no other table (references stay with the trigger). They are added ``NOT VALID``,
    so rows already there are not checked (``gazar migrate`` lists them) while every new or
    changed row is, even with triggers off (``session_replication_role = replica``)."""
    out = []
    count: dict[str, int] = {}
    for rule in store_rules(kind):
        bad = rule.bad("pg", None)
        if bad is None or rule.rule.startswith("must be the id of"):
            continue
        n = count[rule.field] = count.get(rule.field, 0) + 1
        name = f"{TRIGGER_PREFIX}{kind.name}_{rule.field}_{n}"
        out.append((name, f"NOT ({bad})"))
    return out


@dataclass(frozen=True)
class BrokenRow:
    """A row already in a store that breaks one of its rules."""

    layer: str
    id: str | None
    field: str
    rule: str
    value: str | None

    def describe(self) -> str:
        value = "" if self.value is None else f" = {self.value}"
        return f"layer {self.layer}, id {self.id}, field {self.field}{value}: {self.rule}"


def broken_rows_query(dialect: Dialect, kind: LayerKind) -> list[tuple[StoreRule, str]]:
    """One SELECT per rule of ``kind`` listing ``(id, shown value)`` of the rows breaking it."""
    out = []
    for rule in store_rules(kind):
        bad = rule.bad(dialect, "r")
        if bad is None:
            continue
        shown = rule.shown(dialect, "r") or "NULL"
        cast = "" if dialect == "sqlite" else "::text"
        out.append(
            (
                rule,
                f"SELECT r.id, ({shown}){cast} FROM {_q(kind.name)} AS r WHERE {bad} ORDER BY r.id",
            )
        )
    return out


def all_kinds() -> list[LayerKind]:
    """The layer kinds whose tables carry the rules (every registered layer)."""
    return list(REGISTRY.values())


def refusal(exc: BaseException) -> str | None:
    """The store's message in a database error raised by one of these rules (without the
    driver's wrapping, e.g. SQLite's ``JSON path error near '...'``), or None for another
    error."""
    text = str(exc)
    start = text.find(REFUSED)
    if start < 0:
        return None
    message = text[start:].splitlines()[0]
    return message.rstrip("'\" ")
