"""``/events`` names Gazar users, never the operating system's login (issue 14, finding 7):
the command line's local operator acts as ``local`` or as the admin user ``--as NAME``."""

from __future__ import annotations

import getpass
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import ApiSettings
from layers.ledger import open_ledger
from layers.store import open_store
from tests import factories as f

runner = CliRunner()


def test_no_event_names_the_os_login(tmp_path: Path) -> None:
    db = tmp_path / "store.gpkg"
    with open_store(db) as store:
        store.write({"soums": f.frame("soums", [f.soum()])})
    open_ledger(db).close()
    at = ["--db", str(db)]
    first = runner.invoke(cli, ["users", "add", "Bold", "--role", "admin", *at])
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        cli, ["users", "add", "Dorj", "--role", "soum", "--soum", "MN4322", "--as", "Bold", *at]
    )
    assert second.exit_code == 0, second.output
    # --as names an active admin user: nobody else
    unknown = runner.invoke(cli, ["users", "revoke", "Dorj", "--as", "nobody", *at])
    assert unknown.exit_code != 0 and "nobody" in unknown.output
    not_admin = runner.invoke(cli, ["users", "revoke", "Dorj", "--as", "Dorj", *at])
    assert not_admin.exit_code != 0 and "admin" in not_admin.output
    revoke = runner.invoke(cli, ["users", "revoke", "Dorj", "--as", "Bold", *at])
    assert revoke.exit_code == 0, revoke.output
    with TestClient(create_app(ApiSettings(db=str(db)))) as client:
        events = client.get("/events").json()
    items = events["events"] if isinstance(events, dict) else events
    actors = [e["actor"] for e in items if e["actor"] is not None]  # the ledger made: no one
    assert actors == ["local", "Bold", "Bold"]
    login = getpass.getuser()
    assert not any(login in a or a.startswith("cli:") for a in actors)
