"""Server settings (``GAZAR_*`` environment variables), built by the caller, never at import."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from layers.store import default_location


class ApiSettings(BaseSettings):
    """What the HTTP server needs: where the store is, and the caps that keep it safe."""

    model_config = SettingsConfigDict(env_prefix="GAZAR_", extra="ignore")

    db: str = Field(default_factory=default_location, description="Store location")
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
