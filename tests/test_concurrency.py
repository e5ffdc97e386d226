"""Never two contracts on the same land: concurrent approvals against a two-worker server.

The server is ``gazar serve --workers 2`` (two processes, each with its own connections to the
store), on a GeoPackage and on PostGIS; twenty approvals are sent at once. Approval checks and
writes in one transaction (``BEGIN IMMEDIATE``, or on PostGIS after taking the allocation
advisory lock), so exactly one succeeds and the others get 409 with their reasons.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.services.access import local_operator
from api.services.allocation import AllocationService, ApplicationInput
from geo.overlaps import overlaps_within
from geo.settings import AnalysisSettings
from layers.ledger import open_ledger
from layers.store import open_store
from tests import factories as f
from tests.conftest import BACKENDS, NO_PG, TEST_PG, pg_url

N = 20
SETTINGS = AnalysisSettings()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> int:
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            count += 1
    return count


def _prepare(path: str) -> dict[str, Any]:
    """20 mutually overlapping applications ranked by a draw, and one that stands alone."""
    store = open_store(path)
    lc = f.land_conclusion(valid_until=None)
    store.write({"land_conclusions": f.frame("land_conclusions", [lc])})
    store.close()
    # 02:00 UTC (10:00 in Mongolia): the same calendar day in both, whatever time the suite runs
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=40)
    filed = dt.datetime.combine(day, dt.time(2), tzinfo=dt.UTC)
    clock = [filed]
    operator = local_operator("setup")
    with open_ledger(path, clock=lambda: clock[0]) as ledger:
        token = ledger.add_user("Засаг дарга", role="soum", soum_code="MN4322", actor="setup")[1]
        allocation = AllocationService(lambda: ledger, SETTINGS)
        numbers = []
        for i in range(N):  # each 200 x 200 m, 10 m further east: all share x 690-700 m
            data = ApplicationInput(
                "LC-1",
                f"Нөхөрлөл {i}",
                "partnership",
                3,
                3,
                geometry=f.utm_box(500 + 10 * i, 100, 200, 200),
            )
            numbers.append(allocation.apply(data, user=operator)["id"])
        alone = ApplicationInput(
            "LC-1", "Ганц", "cooperative", 4, 4, geometry=f.utm_box(1500, 100, 200, 200)
        )
        single = allocation.apply(alone, user=operator)["id"]
        clock[0] = filed + dt.timedelta(days=1)
        draw = allocation.announce_draw(
            numbers[0],
            draw_date=(filed + dt.timedelta(days=2)).date(),
            public_value="2026 lotto 7 19 23",
            user=operator,
        )
        assert draw["applications"] == sorted(numbers)
        clock[0] = filed + dt.timedelta(days=3)
        result = allocation.run_draw(draw["id"], user=operator)
    return {"token": token, "numbers": numbers, "single": single, "order": result["result"]}


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("concurrency")
    if request.param == "postgis":
        if TEST_PG is None:
            pytest.skip(NO_PG)
        import psycopg

        name = f"gazar_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
            template = request.getfixturevalue("pg_template")
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'.encode())
        path = pg_url(name)
    else:
        name, path = "", str(folder / "gazar.gpkg")
    try:
        yield from _serve(path, folder)
    finally:
        if name:
            import psycopg

            with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _serve(path: str, folder: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    info = _prepare(path)
    port = _free_port()
    log = (folder / "server.log").open("wb")
    env = {**os.environ, "GAZAR_DB": path}
    gazar = Path(sys.executable).with_name("gazar")
    proc = subprocess.Popen(
        [str(gazar), "serve", "--workers", "2", "--port", str(port), "--db", path],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError((folder / "server.log").read_text())
            try:
                if httpx.get(f"{url}/audit", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the server did not start within 90 s")
            time.sleep(0.2)
        info["workers"] = _children(proc.pid)
        yield url, path, info
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:  # a slow graceful stop: the test is over anyway
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _approve_all(url: str, token: str, numbers: list[str]) -> list[httpx.Response]:
    start = threading.Barrier(len(numbers))

    def approve(number: str) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            start.wait()
            return client.post(
                f"{url}/applications/{number}/decision",
                headers={"Authorization": f"Bearer {token}"},
                json={"outcome": "approve", "reason": "Шаардлага хангасан"},
            )

    with ThreadPoolExecutor(len(numbers)) as pool:
        return list(pool.map(approve, numbers))


def _active_parcels_do_not_overlap(path: str) -> int:
    with open_store(path) as store:
        parcels = store.read("contract_parcels")
    active = parcels[parcels["status"] == "active"]
    pairs = overlaps_within(active, layer="contract_parcels", tolerance_m2=0.0).records
    assert pairs.empty, pairs[["a_id", "b_id", "overlap_ha"]]
    return len(active)


def test_concurrent_approvals_on_two_workers(server: tuple[str, str, dict[str, Any]]) -> None:
    """One server for both rounds (starting one costs seconds)."""
    url, path, info = server
    assert info["workers"] >= 2  # uvicorn's two worker processes under the supervisor

    # 1. twenty approvals of twenty mutually overlapping applications, at once
    started = time.monotonic()
    responses = _approve_all(url, info["token"], info["numbers"])
    took = time.monotonic() - started
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * (N - 1), [r.text for r in responses if r.status_code >= 500]
    (won,) = [r.json() for r in responses if r.status_code == 200]
    winner = info["order"][0]
    assert won["application_id"] == winner  # the draw's winner
    for r in responses:
        if r.status_code == 409:
            body = r.json()
            assert body["code"] == "Conflict" and body["reasons"]
            # before the winner's approval commits, a loser is ranked behind it; after, the
            # same transaction has made every loser ineligible (LAND_GRANTED): not pending
            found = {x["code"] for x in body["reasons"]}
            assert found in ({"RANKED_BEHIND"}, {"NOT_PENDING"}), found
            assert all(x["message_mn"] and x["message_en"] for x in body["reasons"])
    assert _active_parcels_do_not_overlap(path) == 1
    with open_ledger(path, create=False) as ledger:  # nothing half-written
        group = set(info["numbers"])
        decided = [d for d in ledger.records("decisions") if d["application_id"] in group]
        assert [d["application_id"] for d in decided] == [winner]
        for app in ledger.applications(ids=sorted(group)).to_dict("records"):
            if app["id"] == winner:
                assert app["status"] == "approved"
                continue
            assert app["status"] == "ineligible", app
            granted = [r for r in json.loads(app["reasons"]) if r["code"] == "LAND_GRANTED"]
            assert len(granted) == 1 and winner in granted[0]["message_en"], app
        assert ledger.verify_chain().ok
    assert took < 30

    # 2. twenty approvals of one application, at once (a double-clicked button)
    responses = _approve_all(url, info["token"], [info["single"]] * N)
    assert sorted(r.status_code for r in responses) == [200] + [409] * (N - 1)
    for r in responses:
        if r.status_code == 409:
            assert [x["code"] for x in r.json()["reasons"]] == ["NOT_PENDING"]
    with open_ledger(path, create=False) as ledger:
        decisions = ledger.records("decisions", where={"application_id": info["single"]})
        assert len(decisions) == 1
        assert ledger.verify_chain().ok
    assert _active_parcels_do_not_overlap(path) == 2
