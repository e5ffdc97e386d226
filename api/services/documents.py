"""The documents a soum requires with an application: uploaded, checked by content, private.

Mixed into :class:`api.services.allocation.AllocationService`.

- The checklist is a setting (``GAZAR_REQUIRED_DOCUMENTS``: codes of the catalogue's
  ``document_kind``); :meth:`DocumentOps.missing_documents` says which are still missing.
- A file is accepted as PDF, PNG or JPEG by its first bytes (:func:`sniff`), never by its
  name or the type a browser declares; one over ``GAZAR_MAX_DOCUMENT_BYTES`` is refused (413).
  A refusal names the file and writes nothing.
- The metadata is a row of ``documents`` (``<number>/D<n>``: kind, file name, media type,
  size, SHA-256, time, uploader), the bytes a row of ``document_contents`` (base64) whose
  content the log never copies: the log shows the SHA-256 and the metadata only.
- The applicant (the account that filed it), an official of the application's soum or aimag,
  MRPAM and administrators may read them; the applicant and those officials may add them
  while the application is undecided (pending or ineligible).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Final

import pandas as pd

from api.services.access import Forbidden, Unauthorized, authorize
from api.services.allocation_checks import one, text_or_none
from api.services.errors import PayloadTooLarge, Unprocessable
from api.services.messages import both
from layers.labels import LABELS, label
from layers.ledger import Conflict, Ledger, LedgerTx, RecordNotFound, User, stamp

__all__ = ["MEDIA_TYPES", "DocumentOps", "sniff"]

#: what a document may be: its media type by the bytes it starts with
MEDIA_TYPES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)

#: the statuses an application still takes documents in
_OPEN: Final = ("pending", "ineligible")


def sniff(data: bytes) -> str | None:
    """The media type of a file by its content; None when it is none of PDF, PNG, JPEG.

    Examples
    --------
    >>> sniff(b"%PDF-1.7\\n..."), sniff(b"<html><body>%PDF-"), sniff(b"PK\\x03\\x04")
    ('application/pdf', None, None)
    """
    for magic, media in MEDIA_TYPES:
        if data.startswith(magic):
            return media
    return None


def _kind_json(kind: str) -> dict[str, str]:
    return {
        "kind": kind,
        "label_mn": label("document_kind", kind, "mn"),
        "label_en": label("document_kind", kind, "en"),
    }


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **_kind_json(str(row["kind"]))}


class DocumentOps:
    """Documents of applications (see the module docstring)."""

    #: the kinds required (``GAZAR_REQUIRED_DOCUMENTS``)
    required_documents: tuple[str, ...]
    #: the largest document accepted, in bytes (``GAZAR_MAX_DOCUMENT_BYTES``)
    max_document_bytes: int

    def ledger(self) -> Ledger:  # pragma: no cover - AllocationService's
        raise NotImplementedError

    def _document_reader(self, app: pd.Series, user: User | None, *, write: bool) -> User:
        """``user`` when they may read (``write``: add) the documents of ``app``."""
        if user is None:
            raise Unauthorized(both("access_message", "no_token"))
        if user.role == "admin" or (user.role == "mrpam" and not write):
            return user
        if user.role == "public":
            if text_or_none(app["applicant"]) == user.name:
                return user
            raise Forbidden(both("workflow_message", "document_reader", name=user.name))
        if user.role in ("soum", "aimag"):
            return authorize(
                user,
                "decide",
                soum_code=text_or_none(app["soum_code"]),
                aimag_code=text_or_none(app["aimag_code"]),
            )
        raise Forbidden(both("workflow_message", "document_reader", name=user.name))

    def check_document_size(self, filename: str, size: int | None) -> None:
        """Refuse (413, naming the file) a document of ``size`` bytes over the cap, before its
        bytes are read; and (422) a file without a usable name."""
        name = filename.strip()
        if not name or len(name) > 200:
            raise Unprocessable(both("workflow_message", "document_name"))
        cap = self.max_document_bytes
        if size is not None and size > cap:
            raise PayloadTooLarge(
                both("workflow_message", "document_size", name=name, size=size, limit=cap)
            )

    def check_document(self, filename: str, data: bytes) -> str:
        """The media type of an upload by its content, or its refusal naming the file: 413
        over the cap, 422 empty or not a PDF, PNG or JPEG (nothing is written here)."""
        self.check_document_size(filename, len(data))
        name = filename.strip()
        if not data:
            raise Unprocessable(both("workflow_message", "document_empty", name=name))
        media = sniff(data)
        if media is None:
            raise Unprocessable(both("workflow_message", "document_type", name=name))
        return media

    def add_document(
        self, number: str, kind: str, filename: str, data: bytes, user: User | None
    ) -> dict[str, Any]:
        """Add a document of ``kind`` to application ``number``.

        Returns its metadata: ``id``, ``application_id``, ``kind``, ``label_mn``,
        ``label_en``, ``filename``, ``media_type``, ``size``, ``sha256``, ``uploaded_at``,
        ``uploaded_by``.

        Raises
        ------
        Unprocessable (422)
            An unknown kind, no file name, an empty file, or one that is not PDF/PNG/JPEG.
        PayloadTooLarge (413)
            Over ``GAZAR_MAX_DOCUMENT_BYTES``.
        Unauthorized / Forbidden, RecordNotFound, Conflict (a decided application)
        """
        if user is None:
            raise Unauthorized(both("access_message", "no_token"))
        if kind not in LABELS["document_kind"]:
            kinds = ", ".join(LABELS["document_kind"])
            raise Unprocessable(both("workflow_message", "document_kind", kind=kind, kinds=kinds))
        media = self.check_document(filename, data)
        request = f"document {number} {kind}"
        with self.ledger().transaction(actor=user.name, request=request) as tx:
            app = one(tx, "applications", number).iloc[0]
            who = self._document_reader(app, user, write=True)
            if str(app["status"]) not in _OPEN:
                raise Conflict(both("workflow_message", "document_decided", number=number))
            k = tx.count("documents", prefix=f"{number}/D") + 1
            row = {
                "id": f"{number}/D{k}",
                "application_id": number,
                "kind": kind,
                "filename": filename.strip(),
                "media_type": media,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "uploaded_at": stamp(tx.now()),
                "uploaded_by": who.name,
            }
            tx.insert("documents", [row])
            tx.insert(
                "document_contents", [{"id": row["id"], "data": base64.b64encode(data).decode()}]
            )
        return _meta(row)

    def _readable(self, tx_or_ledger: Ledger | LedgerTx, number: str, user: User | None) -> None:
        apps = tx_or_ledger.read("applications", ids=[number])
        if apps.empty:
            raise RecordNotFound("applications", number)
        self._document_reader(apps.iloc[0], user, write=False)

    def documents(self, number: str, user: User | None) -> list[dict[str, Any]]:
        """The documents of an application, oldest first, each as :meth:`add_document`
        returns it (no bytes); for its applicant, its soum's officials, MRPAM, admin."""
        ledger = self.ledger()
        self._readable(ledger, number, user)
        return [_meta(r) for r in ledger.records("documents", where={"application_id": number})]

    def document(self, number: str, doc_id: str, user: User | None) -> tuple[bytes, str, str]:
        """One document's bytes, media type and file name (``(data, media_type, filename)``);
        RecordNotFound when the application has no document ``doc_id``."""
        ledger = self.ledger()
        self._readable(ledger, number, user)
        rows = ledger.records("documents", where={"id": doc_id, "application_id": number})
        if not rows:
            raise RecordNotFound("documents", doc_id)
        content = ledger.records("document_contents", where={"id": doc_id})
        if not content:
            raise RecordNotFound("documents", doc_id)
        data = base64.b64decode(content[0]["data"])
        return data, str(rows[0]["media_type"]), str(rows[0]["filename"])

    def missing_documents(self, number: str) -> list[dict[str, str]]:
        """The required kinds the application has no document of yet, in the checklist's
        order, each ``{kind, label_mn, label_en}``."""
        ledger = self.ledger()
        if ledger.read("applications", ids=[number]).empty:
            raise RecordNotFound("applications", number)
        have = {r["kind"] for r in ledger.records("documents", where={"application_id": number})}
        return [_kind_json(k) for k in self.required_documents if k not in have]

    def required(self) -> list[dict[str, str]]:
        """The checklist (``GAZAR_REQUIRED_DOCUMENTS``), each ``{kind, label_mn, label_en}``."""
        return [_kind_json(k) for k in self.required_documents]
