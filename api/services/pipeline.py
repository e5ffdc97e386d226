"""The Land Conclusion pipeline before MRPAM: a soum (or aimag) proposes a Land Conclusion,
records the day its Khural approved it, and submits it to MRPAM.

``proposed → khural_approved → submitted`` (then MRPAM's review,
:meth:`api.services.allocation.AllocationService.review_land_conclusion`). Each operation is
one ledger transaction with the acting user as the log's actor; the role is checked before the
transaction (:func:`api.services.access.require_role`, action ``propose``) and the scope inside
it, from the stored record (:func:`api.services.access.authorize`): a soum official acts only
in its own soum, an aimag official in the soums of its aimag. A move the status does not allow
is :class:`layers.ledger.Conflict` (409) with the reason in both languages, as MRPAM's review
moves are (:data:`api.services.allocation_checks.REVIEW_MOVES`).

The JSON routes are ``api/routes/pipeline.py``; the official's desk (``web/desk.py``) calls
the same methods. :meth:`PipelineService.steps` is the desk's read: each Land Conclusion with
the step it is in, its days waiting and the delay flag of :func:`geo.lifecycle.pipeline`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection
from typing import Any, Final

import geopandas as gpd
import pandas as pd
import shapely

from api.services.access import authorize, require_role
from api.services.allocation_checks import (
    check_geometry,
    check_move,
    one,
    text_or_none,
    today_of,
)
from api.services.errors import Unprocessable
from api.services.messages import both
from api.services.register import feature_json
from geo.lifecycle import pipeline
from geo.settings import AnalysisSettings
from layers.ledger import Ledger, LedgerTx, User
from layers.schema import LAND_CONCLUSIONS, STORE_CRS

__all__ = ["PIPELINE_MOVES", "PipelineService"]

#: the steps a soum or aimag takes itself: from -> allowed targets (then MRPAM's review)
PIPELINE_MOVES: Final[dict[str, tuple[str, ...]]] = {
    "proposed": ("khural_approved",),
    "khural_approved": ("submitted",),
}

_NUMBER = re.compile(r"-(\d+)$")


class PipelineService:
    """Proposing Land Conclusions and moving them to the Khural and to MRPAM.

    Parameters
    ----------
    ledger_provider
        Returns the open ledger (as :class:`api.services.allocation.AllocationService` takes).
    settings
        The day's time zone and the pipeline's waiting limits.
    max_vertices
        A proposal with more vertices is refused (``GAZAR_MAX_VERTICES``).
    """

    def __init__(
        self,
        ledger_provider: Callable[[], Ledger],
        settings: AnalysisSettings,
        *,
        max_vertices: int | None = None,
    ) -> None:
        self._ledger = ledger_provider
        self.settings = settings
        self.max_vertices = max_vertices

    def _today(self, moment: dt.datetime) -> dt.date:
        return today_of(moment, self.settings)

    # ------------------------------------------------------------------------- writes

    def propose(
        self,
        geometry: shapely.Geometry | None,
        *,
        name: str,
        user: User | None,
        soum_code: str | None = None,
        mineral: str = "gold",
    ) -> dict[str, Any]:
        """Save a new Land Conclusion as ``proposed`` in a soum (the soum official's own when
        ``soum_code`` is not given), dated today; returns the record.

        Raises
        ------
        Unprocessable
            No name, no soum, an unknown soum, or too many vertices (422).
        InvalidGeometry
            A polygon no analysis can use (422).
        Forbidden
            The soum is not the official's (403).
        """
        who = require_role(user, "propose")
        if not name.strip():
            raise Unprocessable(both("pipeline_message", "name_empty"))
        soum = (soum_code or "").strip() or (who.soum_code if who.role == "soum" else None)
        if not soum:
            raise Unprocessable(both("pipeline_message", "soum_needed"))
        if geometry is None:
            raise Unprocessable(both("pipeline_message", "polygon_needed"))
        count = int(shapely.get_num_coordinates(geometry))
        if self.max_vertices is not None and count > self.max_vertices:
            raise Unprocessable(
                both(
                    "pipeline_message",
                    "vertices",
                    size=f"{count:,}",
                    limit=f"{self.max_vertices:,}",
                )
            )
        geom = check_geometry(geometry, what="proposal")
        ledger = self._ledger()
        with ledger.transaction(actor=who.name, request=f"propose {soum} {name.strip()}") as tx:
            aimag = _aimag_of(tx, soum, who)
            authorize(who, "propose", soum_code=soum, aimag_code=aimag)
            today = self._today(tx.now())
            lc_id = _next_id(tx, soum)
            row = {
                "id": lc_id,
                "name": name.strip(),
                "aimag_code": aimag,
                "soum_code": soum,
                "requested_by": "aimag" if who.role == "aimag" else "soum",
                "status": "proposed",
                "mineral": mineral.strip() or "gold",
                "proposed_on": today,
            }
            data = {c: [row.get(c)] for c in LAND_CONCLUSIONS.columns}
            frame = gpd.GeoDataFrame(data, geometry=[geom], crs=STORE_CRS)
            tx.write({"land_conclusions": frame})
            saved = tx.read("land_conclusions", ids=[lc_id]).iloc[0]
        return feature_json(saved)

    def record_khural(
        self, lc_id: str, *, approved_on: dt.date | None, user: User | None
    ) -> dict[str, Any]:
        """Record the day the soum's (or aimag's) Khural approved a proposed Land Conclusion:
        ``proposed → khural_approved``. The day is required, not before the proposal, not in
        the future."""
        require_role(user, "propose")
        request = f"khural {lc_id}"
        with self._ledger().transaction(actor=_name(user), request=request) as tx:
            lc = self._checked(tx, lc_id, user, to="khural_approved")
            today = self._today(tx.now())
            if approved_on is None:
                raise Unprocessable(both("pipeline_message", "khural_date"))
            if approved_on > today:
                raise Unprocessable(
                    both(
                        "pipeline_message",
                        "date_future",
                        date=approved_on.isoformat(),
                        today=today.isoformat(),
                    )
                )
            proposed = lc["proposed_on"]
            if isinstance(proposed, dt.date) and approved_on < proposed:
                raise Unprocessable(
                    both(
                        "pipeline_message",
                        "khural_before_proposal",
                        date=approved_on.isoformat(),
                        proposed=proposed.isoformat(),
                    )
                )
            changes = {"status": "khural_approved", "khural_approved_on": approved_on}
            tx.update("land_conclusions", lc_id, changes)
            row = tx.read("land_conclusions", ids=[lc_id]).iloc[0]
        return feature_json(row)

    def submit(self, lc_id: str, *, user: User | None) -> dict[str, Any]:
        """Submit a Khural-approved Land Conclusion to MRPAM today: ``khural_approved →
        submitted`` (it then appears in MRPAM's inbox)."""
        require_role(user, "propose")
        with self._ledger().transaction(actor=_name(user), request=f"submit {lc_id}") as tx:
            self._checked(tx, lc_id, user, to="submitted")
            today = self._today(tx.now())
            tx.update("land_conclusions", lc_id, {"status": "submitted", "submitted_on": today})
            row = tx.read("land_conclusions", ids=[lc_id]).iloc[0]
        return feature_json(row)

    def _checked(self, tx: LedgerTx, lc_id: str, user: User | None, *, to: str) -> pd.Series:
        """The stored Land Conclusion, once the user's scope and the move are checked."""
        lc = one(tx, "land_conclusions", lc_id).iloc[0]
        authorize(
            user,
            "propose",
            soum_code=text_or_none(lc["soum_code"]),
            aimag_code=text_or_none(lc["aimag_code"]),
        )
        check_move("land_conclusion", lc_id, now=str(lc["status"]), to=to, moves=PIPELINE_MOVES)
        return lc

    # -------------------------------------------------------------------------- reads

    def steps(
        self, *, soums: Collection[str] | None = None, today: dt.date | None = None
    ) -> pd.DataFrame:
        """The Land Conclusions of ``soums`` (every one when None) with their pipeline step,
        days waiting and delay (:func:`geo.lifecycle.pipeline`, the settings' limits), newest
        proposal first; ``today`` defaults to the ledger's local day."""
        ledger = self._ledger()
        day = today or self._today(ledger.clock())
        lcs = ledger.read("land_conclusions")
        if soums is not None:
            lcs = lcs[lcs["soum_code"].isin(list(soums)).to_numpy(dtype=bool)]
        table = pipeline(
            pd.DataFrame(lcs.drop(columns=lcs.geometry.name)),
            today=day,
            limits=self.settings.pipeline_limit_days,
            allowed_requesters=self.settings.allowed_requesters,
        )
        table["valid_until"] = list(lcs["valid_until"]) if len(lcs) else []
        table["decision_ref"] = list(lcs["decision_ref"]) if len(lcs) else []
        order = pd.to_datetime(table["proposed_on"], errors="coerce")
        return (
            table.assign(_o=order)
            .sort_values(
                ["_o", "id"], ascending=[False, True], na_position="last", ignore_index=True
            )
            .drop(columns="_o")
        )


def _name(user: User | None) -> str:
    return user.name if user is not None else "anonymous"


def _aimag_of(tx: LedgerTx, soum: str, user: User) -> str:
    """The aimag of ``soum``: from the soums layer, else from a Land Conclusion of the soum,
    else the aimag official's own (422 when none says)."""
    soums = tx.read("soums", ids=[soum])
    if len(soums) and text_or_none(soums["aimag_code"].iloc[0]):
        return str(soums["aimag_code"].iloc[0])
    lcs = tx.read("land_conclusions", where={"soum_code": soum})
    codes = lcs["aimag_code"].dropna() if len(lcs) else pd.Series([], dtype=object)
    if len(codes):
        return str(codes.iloc[0])
    if user.role == "aimag" and user.aimag_code:
        return user.aimag_code
    raise Unprocessable(both("pipeline_message", "no_soum", soum=soum))


def _next_id(tx: LedgerTx, soum: str) -> str:
    """``LC-<soum>-<n>``: one more than the highest number of the soum's Land Conclusions."""
    prefix = f"LC-{soum}-"
    taken = {str(i) for i in tx.read("land_conclusions", where={"soum_code": soum})["id"]}
    numbers = [int(m.group(1)) for i in taken if i.startswith(prefix) and (m := _NUMBER.search(i))]
    n = max(numbers, default=0) + 1
    while (
        f"{prefix}{n:03d}" in taken
        or not tx.read("land_conclusions", ids=[f"{prefix}{n:03d}"]).empty
    ):
        n += 1
    return f"{prefix}{n:03d}"
