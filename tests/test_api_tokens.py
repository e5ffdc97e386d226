"""Failed token checks are slowed per client address (issue 14, finding 7): 200 bad tokens
from one address in a burst are answered 429 with ``Retry-After`` after the first few, while a
good token from another address still works, and the address may try again once its failures
are old."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import FailedTokens
from api.settings import ApiSettings
from layers.ledger import open_ledger
from layers.store import open_store
from tests import factories as f


def _store(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "store.gpkg"
    with open_store(db) as store:
        store.write({"soums": f.frame("soums", [f.soum()])})
    with open_ledger(db) as ledger:
        token = ledger.add_user("admin", actor="setup", role="admin")[1]
    return db, token


def test_200_bad_tokens_are_refused_after_a_few_and_a_good_one_elsewhere_works(
    tmp_path: Path,
) -> None:
    db, token = _store(tmp_path)
    app = create_app(ApiSettings(db=str(db), token_failures=5, token_failure_window_s=60))
    with TestClient(app, client=("203.0.113.7", 40000)) as attacker:
        statuses = []
        for i in range(200):
            r = attacker.post(
                "/draws/D-NOPE/run", headers={"Authorization": f"Bearer gazar_guess_{i}"}
            )
            statuses.append(r.status_code)
        assert statuses[:5] == [401] * 5
        assert set(statuses[5:]) == {429}
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "try again in" in r.json()["description"]
        # the right token from the same address is refused too while it waits: no answer
        # tells a guesser which guess was right
        good = {"Authorization": f"Bearer {token}"}
        assert attacker.post("/draws/D-NOPE/run", headers=good).status_code == 429
        # reads need no token and are never slowed
        assert attacker.get("/collections").status_code == 200
        other = TestClient(app, client=("198.51.100.2", 40001))
        r = other.post("/draws/D-NOPE/run", headers=good)
        assert r.status_code == 404, r.text  # past authentication: the draw does not exist


def test_an_address_may_try_again_once_its_failures_are_old() -> None:
    now = [1000.0]
    counter = FailedTokens(3, 60, clock=lambda: now[0])
    for _ in range(3):
        assert counter.retry_after("a") is None
        counter.failed("a")
        now[0] += 1
    assert counter.retry_after("a") == 57  # at 1003: the first failure (1000) is old at 1060
    assert counter.retry_after("b") is None
    now[0] = 1060.5
    assert counter.retry_after("a") is None
    counter.failed("a")
    assert counter.retry_after("a") is not None  # three failures within the last minute again
