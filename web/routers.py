"""The pages' routers, in the order ``create_app`` mounts them (after the JSON API's). A new
page module adds its router here."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter

from web import (
    account,
    admin,
    apidocs,
    apply,
    desk,
    documents,
    inbox,
    my,
    objects,
    ogc_pages,
    pages,
    recovery_pages,
    verify_page,
)

ROUTERS: Final[list[APIRouter]] = [
    pages.router,
    recovery_pages.router,  # the recovery layer by bbox, for the map pages
    objects.router,
    ogc_pages.router,  # the OGC API's collections for browsers (/collections, negotiated)
    documents.router,  # the printed decisions (/applications/{n}/decision.pdf)
    apidocs.router,
    account.router,
    admin.router,
    inbox.router,
    desk.router,  # the soum official's desk (/desk) and its forms
    apply.router,  # the organisation's application form and the objection form
    my.router,  # the organisation's applications, documents and renewal requests
    verify_page.router,  # /verify: the public verifier over this server's own feeds
]
