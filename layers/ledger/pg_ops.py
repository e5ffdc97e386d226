"""The operational tables (sessions, sign-in counters) on PostGIS: plain rows on one
connection, never logged (see :data:`layers.ledger.base.OPERATIONAL`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from layers.errors import StoreError
from layers.ledger.base import operational_columns
from layers.ledger.interface import OperationalTx


class PostGISOps(OperationalTx):
    """Rows of the operational tables on one connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._c = conn

    @staticmethod
    def _where(table: str, where: Mapping[str, object] | None) -> tuple[sql.Composable, list[Any]]:
        cols = operational_columns(table)
        clauses: list[sql.Composable] = []
        params: list[Any] = []
        for col, value in (where or {}).items():
            if col not in cols:
                raise StoreError(f"table '{table}' has no column '{col}'")
            if value is None:
                clauses.append(sql.SQL("{} IS NULL").format(sql.Identifier(col)))
            else:
                clauses.append(sql.SQL("{} = %s").format(sql.Identifier(col)))
                params.append(value)
        if not clauses:
            return sql.SQL(""), params
        return sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(clauses)), params

    def rows(
        self, table: str, where: Mapping[str, object] | None = None, *, lock: bool = False
    ) -> list[dict[str, Any]]:
        cols = operational_columns(table)
        clause, params = self._where(table, where)
        query = sql.SQL("SELECT {} FROM {}{} ORDER BY {}{}").format(
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.Identifier(table),
            clause,
            sql.Identifier(cols[0]),
            sql.SQL(" FOR UPDATE" if lock else ""),
        )
        return [dict(zip(cols, r, strict=True)) for r in self._c.execute(query, params).fetchall()]

    def insert(self, table: str, row: Mapping[str, Any], *, if_absent: bool = False) -> None:
        cols = operational_columns(table)
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}){}").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.Placeholder() for _ in cols),
            sql.SQL(" ON CONFLICT DO NOTHING" if if_absent else ""),
        )
        self._c.execute(query, [row.get(c) for c in cols])

    def update(self, table: str, where: Mapping[str, object], changes: Mapping[str, Any]) -> int:
        cols = operational_columns(table)
        bad = [c for c in changes if c not in cols]
        if bad or not changes:
            raise StoreError(f"table '{table}' has no column(s) {bad}")
        clause, params = self._where(table, where)
        query = sql.SQL("UPDATE {} SET {}{}").format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in changes),
            clause,
        )
        cur = self._c.execute(query, [*changes.values(), *params])
        return int(cur.rowcount)
