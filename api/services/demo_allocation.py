"""The demo's allocation record: one of every state, dated so that each can be acted on today.

``gazar demo`` calls :func:`demo_allocation` on the store it has just written. Everything is
written through :class:`~api.services.allocation.AllocationService` (and one ledger
transaction for the rehabilitation zones), so the log holds every step with its actor. The
ledger's clock is moved through the past, one step after another, so the records' server times
increase as the log's own times do (those are the database's real time, so the chain stays
in order whatever the clock says).

In Mandal's Land Conclusion ``LC-MN4322-001`` (soum MN4322, aimag MN43), relative to ``today``:

==================  ========================================================================
``renewal``         two contracts of the organisation ``altan-shijir``, approved three years
                    ago and ending in 30 days: the zone of the first accepted by the
                    commission (renewal possible, and requested yesterday), that of the
                    second not (renewal refused with the zone named)
``ready``           an application filed 25 days ago: its objection window has closed, it
                    may be decided today
``objected``        filed 23 days ago, an objection 20 days ago; decidable today
``draw``            two applications for the same land filed 22 days ago (their window has
                    closed), a draw announced 2 days ago for today (not yet run): it may run
                    today and its winner be approved
``pending``         two applications filed yesterday, inside their objection window
``inbox``           ``LC-MN4322-004``, submitted to MRPAM (written by the layers' demo)
==================  ========================================================================
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any, Final

import geopandas as gpd
import shapely

from api.services.allocation import AllocationService, ApplicationInput
from geo.allocation import add_years
from geo.settings import AnalysisSettings
from layers.labels import label
from layers.ledger import Ledger, Role, User
from layers.schema import REGISTRY, STORE_CRS

__all__ = ["DEMO_LC", "DEMO_SOUM", "DemoRecord", "demo_allocation", "demo_users"]

DEMO_LC: Final = "LC-MN4322-001"
DEMO_SOUM: Final = "MN4322"
DEMO_AIMAG: Final = "MN43"
#: the demo's users: (account name, role, soum, aimag); the organisation's account is the
#: applicant of the renewal contracts
DEMO_USERS: Final[tuple[tuple[str, Role, str | None, str | None], ...]] = (
    ("altan-shijir", "public", None, None),
    ("mandal-soum", "soum", DEMO_SOUM, None),
    ("selenge-aimag", "aimag", None, DEMO_AIMAG),
    ("mrpam", "mrpam", None, None),
    ("admin", "admin", None, None),
)
#: the hectares each demo application asks for
_HA: Final = 2.0


@dataclass
class DemoRecord:
    """What :func:`demo_allocation` wrote, by state (application numbers, parcel ids, ...)."""

    ready: str = ""
    objected: str = ""
    draw: str = ""
    competing: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    renew_ok: str = ""
    renew_refused: str = ""
    refused_zone: str = ""
    inbox: str = "LC-MN4322-004"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Clock:
    """A clock set by the demo; each reading a little later than the one before."""

    def __init__(self) -> None:
        self.now = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        self._tick = 0

    def at(self, day: dt.date) -> None:
        moment = dt.datetime.combine(day, dt.time(2, 0), tzinfo=dt.UTC)  # 10:00 in Mongolia
        self.now = max(moment, self.now + dt.timedelta(seconds=1))

    def __call__(self) -> dt.datetime:
        self._tick += 1
        return self.now + dt.timedelta(milliseconds=self._tick)


def demo_users(ledger: Ledger) -> list[tuple[str, str, str]]:
    """DEMO ONLY: one user per role, each with a fresh random password: ``(name, role,
    password)``, to be printed by ``gazar demo``. A user that exists already keeps its
    account (and gets a new password).

    The passwords are set through the ledger's ``set_password`` (hashed with argon2, the
    change logged without the hash).
    """
    known = {u.name for u in ledger.users()}
    out: list[tuple[str, str, str]] = []
    for name, role, soum, aimag in DEMO_USERS:
        if name not in known:
            ledger.add_user(name, role=role, soum_code=soum, aimag_code=aimag, actor="demo")
        password = secrets.token_urlsafe(12)
        ledger.set_password(name, password, actor="demo")
        out.append((name, role, password))
    return out


def _user(ledger: Ledger, name: str) -> User:
    return next(u for u in ledger.users() if u.name == name)


def _holder(code: str) -> str:
    return label("demo_holder", code, "mn")


def demo_allocation(
    ledger: Ledger, clock: _Clock | None = None, *, today: dt.date, settings: AnalysisSettings
) -> DemoRecord | None:
    """Write the demo's allocation record (see the module docstring) as of ``today``.

    ``ledger`` must have been opened with ``clock`` (a :func:`demo_clock`). Returns None,
    writing nothing, when the ledger holds applications already (a database the demo wrote
    before: its records are kept).
    """
    if clock is None or len(ledger.applications()) > 0:
        return None
    service = AllocationService(lambda: ledger, settings)
    org = _user(ledger, "altan-shijir")
    soum = _user(ledger, "mandal-soum")
    rec = DemoRecord()

    def apply(who: User, holder: str, geometry: shapely.Geometry | None = None) -> str:
        data = ApplicationInput(
            DEMO_LC,
            _holder(holder),
            "cooperative" if holder.endswith(("tenger", "dal")) else "partnership",
            3,
            4,
            geometry=geometry,
            requested_ha=None if geometry is not None else _HA,
        )
        doc = service.apply(data, user=who)
        return str(doc["id"])

    def someone(name: str) -> User:  # an organisation without an account in the demo
        return User(id="demo", name=name, role="public", soum_code=None, aimag_code=None,
                    created_at="")  # fmt: skip

    term = settings.contract_term_years
    signed = add_years(today + dt.timedelta(days=31), -term)
    filed = signed - dt.timedelta(days=settings.objection_window_days + 1)
    # three years ago: two applications of the organisation, approved, ending in 30 days
    clock.at(filed)
    first = apply(org, "altan_shijir")
    second = apply(org, "altan_shijir")
    clock.at(signed)
    parcels = []
    for number in (first, second):
        decided = service.decide(
            number, outcome="approve", reason=label("demo_text", "approved"), user=soum
        )
        parcels.append(str(decided["parcel_id"]))
    rec.renew_ok, rec.renew_refused = parcels
    zones = _zones(ledger, parcels, holder=_holder("altan_shijir"), today=today)
    with ledger.transaction(actor=soum.name, request="demo rehabilitation zones") as tx:
        tx.write({"rehab_zones": zones})
    rec.refused_zone = str(zones["id"].iloc[1])
    # ready to decide, and one with an objection
    clock.at(today - dt.timedelta(days=25))
    rec.ready = apply(someone("khukh-tenger"), "khukh_tenger")
    clock.at(today - dt.timedelta(days=23))
    rec.objected = apply(someone("tsagaan-uul"), "tsagaan_uul")
    # a competing group filed past its objection window, its draw announced for today
    clock.at(today - dt.timedelta(days=22))
    a = apply(someone("ulaan-khad"), "ulaan_khad")
    land = ledger.applications(ids=[a]).geometry.iloc[0]
    b = apply(someone("nogoon-dal"), "nogoon_dal", geometry=land)
    rec.competing = sorted([a, b])
    clock.at(today - dt.timedelta(days=20))
    service.object_to(
        rec.objected,
        name=label("demo_text", "objector"),
        reason=label("demo_text", "objection"),
        user=soum,
    )
    # the commission accepts the first contract's zone
    clock.at(today - dt.timedelta(days=10))
    service.set_rehab_stage(str(zones["id"].iloc[0]), stage="accepted", user=soum)
    clock.at(today - dt.timedelta(days=2))
    rec.draw = str(
        service.announce_draw(a, draw_date=today, public_value=f"{today:%Y%m%d}-17", user=soum)[
            "id"
        ]
    )
    # yesterday: two pending applications and the organisation's renewal request
    clock.at(today - dt.timedelta(days=1))
    rec.pending = [apply(someone("bayan-bulag"), "bayan_bulag"),
                   apply(someone("erdene-gol"), "erdene_gol")]  # fmt: skip
    service.request_renewal(rec.renew_ok, user=org)
    return rec


def demo_clock() -> _Clock:
    """The clock a demo ledger is opened with (``open_ledger(..., clock=demo_clock())``)."""
    return _Clock()


def _zones(ledger: Ledger, parcels: list[str], *, holder: str, today: dt.date) -> gpd.GeoDataFrame:
    """One rehabilitation zone inside each parcel (a third of its width, at its centre)."""
    frame = ledger.read("contract_parcels", ids=parcels).set_index("id").loc[parcels]
    geoms = [shapely.affinity.scale(g, 0.33, 0.33) for g in frame.geometry]
    columns = REGISTRY["rehab_zones"].columns
    values = {
        "id": [f"R-{p}" for p in parcels],
        "parcel_id": parcels,
        "holder": [holder] * len(parcels),
        "stage": ["required"] * len(parcels),
        "due_on": [today + dt.timedelta(days=90)] * len(parcels),
        "accepted_on": [None] * len(parcels),
    }
    data = {c: values[c] for c in columns}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=STORE_CRS)
