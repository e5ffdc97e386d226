"""Routes: the documents of an application (uploaded as PDF, PNG or JPEG; private).

Every route needs ``Authorization: Bearer <token>``: the documents are for the applicant (the
account that filed the application), the officials of its soum or aimag, MRPAM and
administrators (:mod:`api.services.documents`). A file is accepted by its content (its first
bytes), never by its name or declared type. Refusals: 401 (no or bad token), 403 (someone
else), 404 (no such application or document), 409 (a decided application takes no more
documents), 413 (a file over ``GAZAR_MAX_DOCUMENT_BYTES``), 422 (no file, an unknown kind, an
empty file, or one that is not a PDF, PNG or JPEG), 429 (too many failed token checks).
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from api.auth import UserDep
from api.deps import AllocationDep
from api.errors import PayloadTooLarge, Unprocessable
from api.services.access import Unauthorized
from api.services.documents import MEDIA_TYPES
from api.services.messages import both
from layers.labels import LABELS

router = APIRouter(tags=["documents"])

#: the bytes a multipart form may add around its file (boundaries, headers, the kind field)
FORM_OVERHEAD: Final = 64 * 1024

_401_403_404: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token, or an unknown or revoked one"},
    403: {"description": "Neither the applicant nor an official of its soum, MRPAM or admin"},
    404: {"description": "No such application or document"},
    429: {
        "description": "Too many failed token checks from this address: every token is "
        "refused until Retry-After",
        "headers": {
            "Retry-After": {
                "description": "Seconds until a token may be tried again",
                "schema": {"type": "integer"},
            }
        },
    },
}

_UPLOAD_BODY: Final = {
    "required": True,
    "description": "A form with the document's `kind` and the `file` (PDF, PNG or JPEG, "
    "judged by its content; at most GAZAR_MAX_DOCUMENT_BYTES, 4 MB by default).",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["kind", "file"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"type": "string", "enum": list(LABELS["document_kind"])},
                    "file": {"type": "string", "format": "binary"},
                },
            }
        }
    },
}


@router.post(
    "/applications/{number}/documents",
    status_code=201,
    operation_id="addDocument",
    summary="Upload a document the soum requires (PDF, PNG or JPEG)",
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        **_401_403_404,
        400: {"description": "The body is not a multipart form"},
        409: {"description": "The application has been decided: it takes no more documents"},
        413: {"description": "The file is over GAZAR_MAX_DOCUMENT_BYTES"},
        422: {"description": "No file, an unknown kind, an empty file, or not PDF/PNG/JPEG"},
    },
)
async def add_document(
    number: str, request: Request, allocation: AllocationDep, user: UserDep
) -> dict[str, Any]:
    """Add a document to an application: its metadata (kind, file name, media type, size,
    SHA-256, time, uploader). The bytes are kept private; the log records the SHA-256 only.
    A body declaring more than the cap (with the form around it) is refused before it is
    read."""
    if user is None:
        raise Unauthorized(both("access_message", "no_token"))
    cap = allocation.max_document_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap + FORM_OVERHEAD:
        raise PayloadTooLarge(
            both(
                "workflow_message",
                "document_size",
                name="upload",
                size=int(declared),
                limit=cap,
            )
        )
    form = await request.form(max_files=1, max_fields=2)
    try:
        upload = form.get("file")
        kind = form.get("kind")
        if not isinstance(upload, UploadFile):
            raise Unprocessable("file: a document (multipart field 'file') is required")
        if not isinstance(kind, str):
            raise Unprocessable(
                f"kind: one of {', '.join(LABELS['document_kind'])} is required (form field)"
            )
        name = upload.filename or ""
        allocation.check_document_size(name or "upload", upload.size)  # before reading it
        data = await upload.read(cap + 1)
        return allocation.add_document(number, kind, name, data, user)
    finally:
        await form.close()


@router.get(
    "/applications/{number}/documents",
    operation_id="listDocuments",
    summary="The documents of an application, and the required ones still missing",
    responses=_401_403_404,
)
def list_documents(number: str, allocation: AllocationDep, user: UserDep) -> dict[str, Any]:
    """`documents` (metadata, oldest first), `required` (the soum's checklist,
    GAZAR_REQUIRED_DOCUMENTS) and `missing` (the required kinds without a document yet)."""
    documents = allocation.documents(number, user)
    return {
        "application_id": number,
        "documents": documents,
        "required": allocation.required(),
        "missing": allocation.missing_documents(number),
    }


@router.get(
    "/applications/{number}/documents/{ref}",
    operation_id="getDocument",
    summary="One document's file (as an attachment)",
    response_class=Response,
    responses={
        200: {
            "description": "The file, as uploaded",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for _, media in MEDIA_TYPES
            },
        },
        **_401_403_404,
    },
)
def get_document(number: str, ref: str, allocation: AllocationDep, user: UserDep) -> Response:
    """The file of document `ref` (`D1`, `D2`, ... as its id ends) with its media type, sent
    as an attachment (never shown inline) with `X-Content-Type-Options: nosniff`."""
    data, media, filename = allocation.document(number, f"{number}/{ref}", user)
    return Response(data, media_type=media, headers=attachment(filename, f"{ref}"))


def attachment(filename: str, ref: str) -> dict[str, str]:
    """The headers of a file sent for saving: ``Content-Disposition: attachment`` with an ASCII
    name and the UTF-8 one (RFC 6266), and ``nosniff``."""
    ascii_name = "".join(
        c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename
    )
    fallback = ascii_name.strip("._") or f"document-{ref}"
    quoted = urllib.parse.quote(filename, safe="")
    return {
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quoted}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
