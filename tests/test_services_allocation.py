"""The allocation service's own pieces: its refusals come from the catalogue, and a ledger that
cannot be opened is a 503 for the API and an empty record for the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.errors import status_of
from api.services.access import local_operator
from api.services.allocation import AllocationService, LedgerUnavailable
from geo.settings import AnalysisSettings
from layers.labels import catalogue
from layers.ledger import Ledger
from web.register import read_register

SERVICES = Path(__file__).resolve().parents[1] / "api" / "services"
CALL = re.compile(r'both\(\s*"(\w+)",\s*(?:"(\w+)"|user\.role)')


def test_every_refusal_the_service_writes_is_in_the_catalogue() -> None:
    groups = catalogue()
    used = set()
    for path in SERVICES.glob("*.py"):
        for group, code in CALL.findall(path.read_text(encoding="utf-8")):
            codes = [code] if code else ["soum", "aimag"]  # both(..., user.role)
            used.update((group, c) for c in codes)
    assert len(used) > 15
    for group, code in sorted(used):
        assert code in groups.get(group, {}), f"{group}.{code} is not in the catalogue"


def test_no_case_suffix_is_glued_onto_a_value() -> None:
    for group in ("access_message", "allocation_message", "register_csv"):
        for code, (mn, _) in catalogue()[group].items():
            assert not re.search("\\}[-'\u2019]?[\u0430-\u044f\u0451\u04af\u04e9]", mn), (
                f"{group}.{code}: {mn}"
            )


def test_a_ledger_that_cannot_be_opened_is_503_and_an_empty_register() -> None:
    def missing() -> Ledger:
        raise LedgerUnavailable("/srv/x.gpkg: no such store")

    service = AllocationService(missing, AnalysisSettings())
    with pytest.raises(LedgerUnavailable) as info:
        service.draws()
    assert status_of(info.value) == (503, "StoreUnavailable")
    assert read_register(service) is None
    with pytest.raises(LedgerUnavailable):  # the role passes; the ledger is needed next
        service.run_draw("D-1", user=local_operator("test"))
