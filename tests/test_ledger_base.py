"""layers.ledger.base and the value converters the backends share (gpkg.to_sql_value,
postgis.to_pg_value): the table layouts, the checks and the update values."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from layers.errors import LayerNotFound, StoreError
from layers.gpkg import to_sql_value
from layers.ledger import base
from layers.postgis import to_pg_value
from layers.schema import REGISTRY


def test_table_kind_knows_layers_and_applications_only() -> None:
    assert base.table_kind("applications") is base.APPLICATIONS
    assert base.table_kind("contract_parcels") is REGISTRY["contract_parcels"]
    with pytest.raises(LayerNotFound):
        base.table_kind("decisions")


def test_logged_tables_and_columns() -> None:
    assert base.logged_tables() == [*REGISTRY, "applications", *base.RECORDS]
    cols = base.logged_columns("applications", "geom")
    assert cols[0] == "id" and cols[-1] == "geom" and "holder" in cols
    users = base.logged_columns("gazar_users", "geom")
    # the triggers copy secrets into gazar_changes; sealing commits to them (test_verify)
    assert "salt" in users and "token_hash" in users and users[:2] == ["id", "name"]
    assert base.logged_columns("decisions", "geom") == [c for c, _ in base.RECORDS["decisions"]]


def test_record_columns_and_count_refuse_unknown_tables() -> None:
    assert base.record_columns("objections")[0] == "id"
    with pytest.raises(StoreError, match="not an allocation table"):
        base.record_columns("contract_parcels")
    for table in ("draws", "applications", "contract_parcels"):
        base.check_countable(table)
    with pytest.raises(StoreError, match="unknown table"):
        base.check_countable("sqlite_master")


def test_update_values_convert_layer_fields_and_check_record_columns() -> None:
    changes = {"filed_on": dt.datetime(2026, 5, 1, 8), "members_women": 3.0, "notes": None}
    assert base.update_values("applications", changes, to_sql_value) == {
        "filed_on": "2026-05-01",
        "members_women": 3,
        "notes": None,
    }
    assert base.update_values("applications", {"filed_on": "2026-05-01"}, to_pg_value) == {
        "filed_on": dt.date(2026, 5, 1)
    }
    assert base.update_values("draws", {"seed": "ab"}, to_sql_value) == {"seed": "ab"}
    with pytest.raises(StoreError, match="no column"):
        base.update_values("draws", {"nope": 1}, to_sql_value)
    with pytest.raises(StoreError, match="unknown table"):
        base.update_values("gazar_events", {"hash": "x"}, to_sql_value)


@pytest.mark.parametrize("convert", [to_sql_value, to_pg_value])
def test_missing_values_become_null(convert: object) -> None:
    assert callable(convert)
    for value in (None, pd.NaT, math.nan):
        assert convert(value, "float") is None
    assert convert("7", "int") == 7 and convert(2, "str") == "2"
