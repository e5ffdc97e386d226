"""The service layer's own errors. ``api/errors.py`` maps them (and the domain's) to HTTP
statuses in one table; nothing here knows HTTP."""

from __future__ import annotations

from layers.errors import GazarError


class BadRequest(GazarError):
    """A request the service cannot answer as asked (unknown parameter, bad value)."""


class PayloadTooLarge(GazarError):
    """A request body or upload over its size cap."""


class Unprocessable(GazarError):
    """A well-formed request whose content cannot be used (too many vertices, ...)."""


class NotFound(GazarError):
    """A name or path that names nothing."""
