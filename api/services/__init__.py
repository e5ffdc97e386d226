"""The service layer: what both front doors (the JSON API and the pages) call.

One :class:`Services` object is built in the app's lifespan (``api/app.py``) and kept on
``app.state.services``, as tipg keeps its collection catalog; routes and pages reach it through
the ``Annotated`` dependencies of ``api/deps.py``. It owns:

- the settings tree (:mod:`api.settings`), the store and the allocation ledger;
- the layer cache (:class:`~api.services.layers.LayerCache`, per layer revision);
- the findings of every rule and the available land for a day, computed once per day and
  updated by each change (:mod:`api.services.derived`), shared by the ``overlaps`` and
  ``available_land`` collections, the JSON API and the map pages;
- the OGC collections, derived ones included (:mod:`api.services.collections`);
- the map pages' HTML per view and store state (:mod:`api.services.pages`);
- the review (:mod:`api.services.review`) and the proposals it reads
  (:mod:`api.services.proposals`);
- rehabilitation monitoring over registered rasters (:mod:`api.services.rehab`);
- the allocation operations (:mod:`api.services.allocation`) and the Land Conclusion
  pipeline before MRPAM (:mod:`api.services.pipeline`: propose, Khural approval, submission);
- signing in: passwords, sessions, lockouts (:mod:`api.services.accounts`).

Nothing here imports the routes or the pages, and nothing raises HTTP errors: the service's
own errors (:mod:`api.services.errors`) are mapped to statuses by ``api/errors.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.services.hub import Services

__all__ = ["Services"]


def __getattr__(name: str) -> object:
    """``Services`` on first use (:mod:`api.services.hub`): importing a service module
    (``api.services.views`` for ``gazar overlaps``) runs this package first, and it should not
    import every other service with it."""
    if name == "Services":
        from api.services.hub import Services

        return Services
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
