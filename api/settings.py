"""The one settings tree: every ``GAZAR_*`` variable, read here and nowhere else.

One class per concern, each a pydantic-settings class with the ``GAZAR_`` prefix:

==================  ===================  ==================================================
concern             class                variables
==================  ===================  ==================================================
the store           :class:`StoreSettings`  ``GAZAR_DB``, ``GAZAR_RASTERS``
the HTTP server     :class:`ApiSettings`    ``GAZAR_DB``, ``GAZAR_MAX_*``, limits and caps,
                                            ``GAZAR_TOKEN_FAILURE*``, sign-in sessions
                                            (``GAZAR_SESSION_*``, ``GAZAR_SIGNIN_*``,
                                            ``GAZAR_TRUSTED_PROXIES``)
the pages           :class:`WebSettings`    ``GAZAR_MAP_*``, ``GAZAR_NODE_MODULES``,
                                            ``GAZAR_PDF_FONT_DIR``
the analyses        :class:`AnalysisEnv`    thresholds of ``geo.settings.AnalysisSettings``
the documents       :class:`DocumentSettings`  ``GAZAR_REQUIRED_DOCUMENTS``,
                                            ``GAZAR_MAX_DOCUMENT_BYTES``
==================  ===================  ==================================================

:func:`load_settings` reads them all at once into a :class:`Settings` tree and checks the
values that depend on each other; the front doors (``create_app``, the ``gazar`` commands) call
it, never anything below them: ``geo/`` and ``layers/`` get plain values. Nothing is read at
import time.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.settings import AnalysisSettings
from layers.store import DEFAULT_DB
from layers.uploads import ReadLimits

_ENV = SettingsConfigDict(env_prefix="GAZAR_", extra="ignore")


class StoreSettings(BaseSettings):
    """Where the store and its rasters are."""

    model_config = _ENV

    #: a GeoPackage file or a ``postgresql://`` URL
    db: str = Field(str(DEFAULT_DB), min_length=1, description="Store location")
    #: the folder of the store's registered rasters (for a PostGIS store the only place);
    #: default: beside a GeoPackage (``data/gazar.rasters`` for ``data/gazar.gpkg``)
    rasters: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        if isinstance(values, dict) and not str(values.get("rasters") or "").strip():
            values = {**values, "rasters": None}
        return values


class ApiSettings(BaseSettings):
    """What the HTTP server needs: where the store is, and the caps that keep it safe."""

    model_config = _ENV

    db: str = Field(str(DEFAULT_DB), min_length=1, description="Store location")
    title: str = "Gazar"
    #: items per page when the client does not say, and the most it may ask for
    default_limit: int = Field(100, ge=1)
    max_limit: int = Field(10_000, ge=1)
    #: request bodies (``POST /analysis/check``) larger than this get 413
    max_body_bytes: int = Field(5_000_000, ge=1_000)
    #: a proposal with more vertices than this gets 422
    max_vertices: int = Field(100_000, ge=4)
    #: a check with more features than this gets 422
    max_check_features: int = Field(200, ge=1)
    #: when the server starts, read every layer and work out the day's findings, available
    #: land and the review's indexes in the background, so that the first visitor does not
    #: wait seconds for them (``gazar serve`` turns it on; requests are answered meanwhile)
    warm_on_start: bool = False
    #: after this many failed token checks from one client address within
    #: ``token_failure_window_s`` seconds, that address gets 429 (with ``Retry-After``) for
    #: every token until the oldest failure is that old; counted in each server process's memory
    token_failures: int = Field(5, ge=1)
    token_failure_window_s: float = Field(60.0, gt=0)
    #: objections filed from one client address within ``objection_window_s`` seconds beyond
    #: this many get 429 (counted in the store's database: every worker shares the count)
    objection_limit: int = Field(5, ge=1)
    objection_limit_window_s: int = Field(3600, ge=1)
    #: an uploaded archive (zipped shapefile, KMZ) holding more files than this gets 413
    max_upload_members: int = Field(50, ge=1)
    #: an archive whose files expand to more bytes than this, in all, gets 413 (read from the
    #: zip's directory before anything is expanded, and counted again while expanding)
    max_upload_expanded_bytes: int = Field(100_000_000, ge=1_000)
    #: one file of an archive expanding to more bytes than this gets 413
    max_upload_member_bytes: int = Field(50_000_000, ge=1_000)
    #: a file of an archive compressed more than this many times (over 1 MB expanded) gets 413
    max_upload_ratio: float = Field(100.0, ge=1.0)
    #: the memory an upload's parse may take, over the reader process's own: more gets 413
    max_parse_bytes: int = Field(1_000_000_000, ge=50_000_000)
    #: the seconds an upload's parse may take: longer gets 413
    max_parse_seconds: float = Field(30.0, gt=0)
    #: uploads parsed at once by one server process; more wait up to GAZAR_MAX_PARSE_SECONDS,
    #: then get 503
    max_parallel_parses: int = Field(2, ge=1)
    #: a workbench session unused for this long ends (it is refreshed at most once a minute)
    session_idle_minutes: float = Field(30.0, gt=0)
    #: a session ends this long after its sign-in, however much it is used
    session_lifetime_hours: float = Field(12.0, gt=0)
    #: after this many failed sign-ins for one account within ``signin_lock_minutes``, the
    #: account is locked for ``signin_lock_minutes`` (counted in the store: every process)
    signin_failures: int = Field(5, ge=1)
    #: the same for one client address (an office behind one address has several people)
    signin_address_failures: int = Field(20, ge=1)
    signin_lock_minutes: float = Field(15.0, gt=0)
    #: each failed sign-in after the first is answered this many seconds later, doubled for
    #: each one more (at most 8 s), until the lock
    signin_delay_s: float = Field(1.0, ge=0)
    #: addresses (or networks, "10.0.0.0/8") of the proxies whose ``X-Forwarded-Proto`` and
    #: ``X-Forwarded-For`` are believed, separated by commas; default: none
    trusted_proxies: str = ""

    def proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The trusted proxies as networks."""
        return tuple(
            ipaddress.ip_network(p.strip(), strict=False)
            for p in self.trusted_proxies.split(",")
            if p.strip()
        )

    def upload_limits(self) -> ReadLimits:
        """The caps and budgets an uploaded file is read under (``/check``)."""
        return ReadLimits(
            **self._archive_caps(),
            max_features=self.max_check_features,
            max_vertices=self.max_vertices,
            memory_bytes=self.max_parse_bytes,
            seconds=self.max_parse_seconds,
            parallel=self.max_parallel_parses,
        )

    def file_limits(self) -> ReadLimits:
        """The caps a file named on the command line is read under (``gazar check``,
        ``import``, ``apply``): the archive caps, no feature count or budget."""
        return ReadLimits(**self._archive_caps())

    def _archive_caps(self) -> dict[str, Any]:
        return {
            "max_members": self.max_upload_members,
            "max_expanded_bytes": self.max_upload_expanded_bytes,
            "max_member_bytes": self.max_upload_member_bytes,
            "max_ratio": self.max_upload_ratio,
        }

    @model_validator(mode="after")
    def _limits(self) -> Self:
        try:
            self.proxies()
        except ValueError as exc:
            raise ValueError(f"GAZAR_TRUSTED_PROXIES: {exc}") from None
        if self.default_limit > self.max_limit:
            raise ValueError(
                f"GAZAR_DEFAULT_LIMIT ({self.default_limit}) is larger than GAZAR_MAX_LIMIT "
                f"({self.max_limit}): a page cannot hold more than the most a client may ask for"
            )
        return self


class WebSettings(BaseSettings):
    """How pages load large layers (``GAZAR_MAP_*``) and where their files are."""

    model_config = SettingsConfigDict(env_prefix="GAZAR_MAP_", extra="ignore")

    #: a layer with more features than this is loaded by bounding box instead of inlined
    inline_limit: int = Field(3000, ge=0)
    #: ... or more coordinates than this (the available land of a large store)
    inline_coordinates: int = Field(200_000, ge=0)
    #: bbox loading starts at this zoom
    min_zoom: int = Field(11, ge=0, le=19)
    #: the most features one bbox request asks for
    page_limit: int = Field(5000, ge=1)
    #: rows per register table
    register_rows: int = Field(1000, ge=1)
    #: map pages kept built per store revision (view, language, day; 0: build every time)
    page_cache: int = Field(64, ge=0)


class FileSettings(BaseSettings):
    """Folders of files the pages use: Leaflet's ``node_modules`` and the PDF font."""

    model_config = _ENV

    #: another ``node_modules`` folder (e.g. a packaged install); default: the checkout's
    node_modules: Path | None = None
    #: a folder holding DejaVuSans.ttf and DejaVuSans-Bold.ttf for the PDF report
    pdf_font_dir: Path | None = None


class DocumentSettings(BaseSettings):
    """The documents a soum requires with an application, and the cap on each file."""

    model_config = _ENV

    #: the checklist of document kinds (codes of the catalogue's ``document_kind``), e.g.
    #: ``GAZAR_REQUIRED_DOCUMENTS='["registration", "member_list"]'``
    required_documents: tuple[str, ...] = ("registration", "member_list", "rehabilitation_plan")
    #: a document larger than this gets 413 (it must also fit in ``GAZAR_MAX_BODY_BYTES``, with
    #: the form's few hundred bytes around it)
    max_document_bytes: int = Field(4_000_000, ge=1_000)

    @model_validator(mode="after")
    def _known_kinds(self) -> Self:
        from layers.labels import LABELS

        unknown = [k for k in self.required_documents if k not in LABELS["document_kind"]]
        if unknown:
            raise ValueError(
                f"GAZAR_REQUIRED_DOCUMENTS names unknown kind(s) {unknown}; the kinds are "
                f"{', '.join(LABELS['document_kind'])}"
            )
        return self


class AnalysisEnv(BaseSettings, AnalysisSettings):
    """The analysis thresholds (:class:`geo.settings.AnalysisSettings`) read from ``GAZAR_*``."""

    model_config = _ENV


class Settings(BaseModel):
    """The whole tree, as :func:`load_settings` reads it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    store: StoreSettings
    api: ApiSettings
    web: WebSettings
    files: FileSettings
    analysis: AnalysisSettings
    documents: DocumentSettings = Field(default_factory=DocumentSettings)

    @model_validator(mode="after")
    def _agree(self) -> Self:
        if self.api.db != self.store.db:
            raise ValueError(
                f"the server's store ({self.api.db}) is not the store ({self.store.db})"
            )
        return self

    @property
    def db(self) -> str:
        return self.store.db


def load_settings(
    *,
    db: str | None = None,
    api: ApiSettings | None = None,
    web: WebSettings | None = None,
    analysis: AnalysisSettings | None = None,
    **analysis_changes: Any,
) -> Settings:
    """Every setting: the ``GAZAR_*`` environment, with what the caller gives on top.

    ``db`` (e.g. ``--db``) names the store; ``api``, ``web`` or ``analysis`` replace a whole
    concern (tests, ``create_app(ApiSettings(...))``); ``analysis_changes`` change single
    analysis thresholds (command-line options).

    Raises
    ------
    pydantic.ValidationError
        Naming the variable and why its value is refused.
    """
    if api is not None and db is None:
        db = api.db
    store = StoreSettings(db=db) if db is not None else StoreSettings()
    api = api if api is not None else ApiSettings(db=store.db)
    if api.db != store.db:
        api = api.model_copy(update={"db": store.db})
    if analysis is None:
        analysis = AnalysisSettings(**AnalysisEnv().model_dump())
    thresholds = analysis
    if analysis_changes:
        thresholds = thresholds.model_copy(update=analysis_changes)
    return Settings(
        store=store,
        api=api,
        web=web if web is not None else WebSettings(),
        files=FileSettings(),
        analysis=thresholds,
        documents=DocumentSettings(),
    )
