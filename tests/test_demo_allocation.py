"""``gazar demo``'s allocation record: one of every state, each actionable today, through the
same service the pages and the API call; a user per role. Both backends."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.services.allocation import AllocationService
from api.services.demo_allocation import DEMO_USERS
from geo.allocation import local_day
from geo.settings import AnalysisSettings
from layers.ledger import Conflict, open_ledger
from layers.rasters import RASTERS_ENV


def _field(text: str, key: str) -> list[str]:
    match = re.search(rf"^  {key}\s+(.+)$", text, flags=re.MULTILINE)
    assert match, f"{key} not printed"
    return [v.strip() for v in match.group(1).split(",")]


def test_every_state_exists_and_can_be_acted_on_today(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RASTERS_ENV, raising=False)
    result = CliRunner().invoke(app, ["demo", "--db", store_location])
    assert result.exit_code == 0, result.output
    text = result.output
    # a user per role, with a password printed (demo only)
    for name, role, _, _ in DEMO_USERS:
        assert re.search(rf"^  {name}\s+{role}\s+\S{{12,}}$", text, flags=re.MULTILINE), name
    today = local_day(dt.datetime.now(dt.UTC), utc_offset_hours=8)
    with open_ledger(store_location, create=False) as ledger:
        users = {u.name: u for u in ledger.users()}
        assert {u.role for u in users.values()} == {"public", "soum", "aimag", "mrpam", "admin"}
        service = AllocationService(lambda: ledger, AnalysisSettings())
        soum, aimag = users["mandal-soum"], users["selenge-aimag"]
        # pending ones inside their window
        for number in _field(text, "pending"):
            doc = service.application(number)
            assert doc["status"] == "pending" and doc["reasons"] == []
            assert dt.date.fromisoformat(doc["objection_until"]) >= today
        # the one with an objection, past its window: decidable today
        (objected,) = _field(text, "objected")
        assert len(service.objections(objected)) == 1
        assert service.decide(objected, outcome="reject", reason="well", user=soum)["outcome"]
        # the ready one: approved today
        (ready,) = _field(text, "ready")
        approved = service.decide(ready, outcome="approve", reason="ok", user=soum)
        assert approved["parcel_id"] == f"CP-{ready}"
        # the competing group: the draw was announced for today and runs now; the winner is
        # approved and the loser is ineligible
        (draw_id,) = _field(text, "draw")
        draw = service.draw(draw_id)
        assert draw["status"] == "announced" and draw["draw_date"] <= today.isoformat()
        assert draw["applications"] == _field(text, "competing")
        ran = service.run_draw(draw_id, user=aimag)
        winner, loser = ran["result"]
        service.decide(winner, outcome="approve", reason="won the draw", user=soum)
        assert service.application(loser)["status"] == "ineligible"
        # renewals: the accepted one renews (its holder asked already), the other is refused
        (ok,) = _field(text, "renew_ok")
        (refused,) = _field(text, "renew_refused")
        (zone,) = _field(text, "refused_zone")
        contract = service.contract(ok)
        assert contract["renewal"]["renewal_eligible"]
        assert [r["outcome"] for r in contract["renewals"]] == ["requested"]
        assert contract["renewals"][0]["requested_by"] == "altan-shijir"
        assert service.renew(ok, reason="ok", user=soum)["outcome"] == "renewed"
        with pytest.raises(Conflict, match=zone):
            service.renew(refused, reason="ok", user=soum)
        # MRPAM's inbox holds a submitted Land Conclusion
        (inbox,) = _field(text, "inbox")
        assert ledger.read("land_conclusions", ids=[inbox])["status"].iloc[0] == "submitted"
        # every step is logged with its actor; the chain holds
        actors = {e.actor for e in ledger.events()}
        assert {"altan-shijir", "mandal-soum", "selenge-aimag"} <= actors
        assert ledger.verify_chain().ok
