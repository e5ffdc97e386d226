"""A demo store with allocation records in every state the object pages show: two competing
applications (one with a hostile holder name) with an objection, a draw run between them and
the winner approved (so a contract parcel exists), made through the allocation service with a
clock that moves from the filing day to the decision."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.factories import Clock
from tests.hostile import HOSTILE as XSS

LC = "LC-MN4322-001"
#: a holder name that would run script if a page did not escape it
HOSTILE = f"Хоршоо {XSS}"


@dataclass
class Records:
    db: Path
    winner: str
    loser: str
    draw: str
    parcel: str
    hostile: str  #: the application whose holder is HOSTILE (it has the objection)
    plain: str  #: the other one
    winner_holder: str
    lc: str = LC


def build(folder: Path, *, today: dt.date | None = None) -> Records:
    """The demo store (seed 7) in ``folder`` with the records above, decided on ``today``."""
    import shapely

    from api.services.access import local_operator
    from api.services.allocation import AllocationService, ApplicationInput
    from geo.settings import AnalysisSettings
    from layers.demo import build_demo
    from layers.ledger import open_ledger
    from layers.schema import LAYER_ORDER
    from layers.store import open_store

    day = today or dt.date.today()
    path = folder / "objects.gpkg"
    layers = build_demo(seed=7, scale=1, today=day)
    with open_store(path) as store:
        store.write({name: layers[name] for name in LAYER_ORDER})
    settings = AnalysisSettings()
    decide_at = dt.datetime.combine(day, dt.time(3, 0), tzinfo=dt.UTC)
    t0 = decide_at - dt.timedelta(days=settings.objection_window_days + 10)
    clock = Clock(t0)
    with open_ledger(path, clock=clock) as ledger:
        service = AllocationService(lambda: ledger, settings)
        op = local_operator("soum-official-7")
        ledger.add_user("mn4322-official", role="soum", soum_code="MN4322", actor="setup")
        first = service.apply(
            ApplicationInput(LC, "Алтан Шороо ХХК", "partnership", 4, 6, requested_ha=2.0),
            user=op,
        )
        geom = shapely.geometry.shape(first["geometry"])
        clock.now = t0 + dt.timedelta(hours=2)
        second = service.apply(
            ApplicationInput(LC, HOSTILE, "cooperative", 5, 5, geometry=geom), user=op
        )
        clock.now = t0 + dt.timedelta(days=1)
        service.object_to(
            str(second["id"]), name="Бат", reason=f"Бэлчээр {XSS}", user=local_operator("x")
        )
        clock.now = t0 + dt.timedelta(days=settings.competing_window_days + 1)
        draw = service.announce_draw(
            str(first["id"]),
            draw_date=(clock.now + dt.timedelta(days=1)).date(),
            public_value="48213",
            user=op,
        )
        clock.now += dt.timedelta(days=2)
        run: dict[str, Any] = service.run_draw(str(draw["id"]), user=op)
        clock.now = decide_at
        winner, loser = run["result"][0], run["result"][1]
        decision = service.decide(winner, outcome="approve", reason="Шаардлага хангасан", user=op)
    holders = {str(first["id"]): str(first["holder"]), str(second["id"]): HOSTILE}
    return Records(
        path,
        winner,
        loser,
        str(draw["id"]),
        str(decision["parcel_id"]),
        hostile=str(second["id"]),
        plain=str(first["id"]),
        winner_holder=holders[winner],
    )
