"""The service layer's own errors. ``api/errors.py`` maps them (and the domain's) to HTTP
statuses in one table; nothing here knows HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from layers.errors import GazarError


class BadRequest(GazarError):
    """A request the service cannot answer as asked (unknown parameter, bad value)."""


class PayloadTooLarge(GazarError):
    """A request body or upload over its size cap."""


class Unprocessable(GazarError):
    """A well-formed request whose content cannot be used (too many vertices, ...)."""


class NotFound(GazarError):
    """A name or path that names nothing."""


class TooManyRequests(GazarError):
    """A client refused for a while (too many failed token checks); ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


_HOME = Path.home()
_ROOT = Path(__file__).resolve().parents[2]


def hide_paths(text: str, *places: str | Path) -> str:
    """``text`` with every server path it names cut to the file's name (issue 14: no message a
    client reads shows where the server keeps its files).

    A path is cut when it lies in one of ``places`` (e.g. the store's file or folder), the
    checkout, the temporary folder or the home folder. A database address (``postgresql://``)
    is not a path and stays as it is.

    Examples
    --------
    >>> hide_paths("/srv/gazar/data/x.gpkg: not a GeoPackage store", "/srv/gazar/data/x.gpkg")
    'x.gpkg: not a GeoPackage store'
    >>> hide_paths("layer 'soums': 3 rows (see /collections/soums)")
    "layer 'soums': 3 rows (see /collections/soums)"
    """
    roots: set[str] = set()
    for place in (*places, _ROOT, tempfile.gettempdir(), _HOME):
        p = str(place)
        if not p.startswith(("/", "\\")) and not re.match(r"[A-Za-z]:[\\/]", p):
            continue  # a URL or a relative name
        roots.add(os.path.dirname(p) if Path(p).suffix else p)
        with contextlib.suppress(OSError, ValueError):
            roots.add(str(Path(p).resolve().parent if Path(p).suffix else Path(p).resolve()))
    roots.discard("/")
    roots.discard("")
    if not roots:
        return text
    alternatives = "|".join(re.escape(r) for r in sorted(roots, key=len, reverse=True))
    pattern = re.compile(rf"(?:/vsi\w+/)?(?:{alternatives})(?:[\\/][^\s'\"()<>,;]*)?")
    return pattern.sub(lambda m: os.path.basename(m.group(0).rstrip("/\\")) or "…", text)
