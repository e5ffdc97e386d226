"""Analysis settings: caps, tolerances and windows that regulations may change.

The values in Government Resolution 296/2022 were not verified (see ../shared/domain.md), so every
rule threshold is a setting with the documented default. ``geo`` only receives them: the front
doors read the ``GAZAR_*`` environment variables once (``api.settings.load_settings``) and pass
the values down; ``AnalysisSettings()`` here is the documented defaults, never the environment.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AnalysisSettings(BaseModel):
    """Thresholds used by ``geo`` (read from ``GAZAR_PARCEL_CAP_HA=4.9`` etc. by
    ``api.settings``)."""

    model_config = ConfigDict(extra="ignore")

    overlap_tolerance_m2: float = Field(
        1.0, ge=0, description="Shared area below this is no overlap"
    )
    parcel_cap_ha: float = Field(5.0, gt=0, description="Largest parcel one contract may hold")
    expiring_days: int = Field(60, ge=0, description="Window for contracts about to expire")
    #: days a Land Conclusion may wait in a step before it is reported as delayed
    pipeline_limit_days: dict[str, int] = Field(
        default_factory=lambda: {
            "proposed": 60,
            "khural_approved": 30,
            "submitted": 30,
            "under_review": 60,
        }
    )
    #: who may submit a Land Conclusion (the law and the 2017 regulation disagree)
    allowed_requesters: tuple[str, ...] = ("soum", "aimag")
    # -- allocation (geo.allocation): values of 296/2022 not verified, so settings
    objection_window_days: int = Field(21, ge=0, description="Days anyone may object")
    min_members: int = Field(5, ge=1, description="Fewest members an applicant may have")
    contract_term_years: int = Field(3, ge=1, description="Term of a contract when approved")
    #: applications for overlapping land filed this many days apart compete (0: same day)
    competing_window_days: int = Field(0, ge=0)
    #: the local time zone days are counted in (Mongolia: UTC+8, no daylight saving since 2017)
    utc_offset_hours: float = Field(8.0, ge=-12, le=14)
    #: land steeper than this (degrees) is steep (``geo.raster``; a working value, unverified)
    slope_limit_deg: float = Field(15.0, gt=0, lt=90, description="Steep land starts here")
    #: a Land Conclusion or proposal with more steep land than this share gets a warning
    slope_share_limit: float = Field(0.2, ge=0, le=1, description="Largest share of steep land")
    #: a rehabilitation zone whose mean vegetation index rose less than this is flagged
    rehab_recovery_min: float = Field(0.1, description="Smallest acceptable NDVI change")
