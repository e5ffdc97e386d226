"""One body cap for every endpoint: an ASGI middleware, outside everything else, that refuses
a request declaring a ``Content-Length`` over ``GAZAR_MAX_BODY_BYTES`` with 413 before any of
it is read (so before authentication), and stops a body sent in chunks as soon as it passes the
cap. The refusal is a JSON problem like every other error (``api/errors.py``)."""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import HttpMiddleware


class BodyTooLarge(HTTPException):
    """Raised to the app reading a body past the cap; rendered as 413 by ``api/errors.py``."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


def too_large(size: str, cap: int) -> str:
    """The 413 message for a body of ``size`` over ``cap`` bytes."""
    return (
        f"the request body is {size}; at most {cap:,} bytes are accepted "
        "(GAZAR_MAX_BODY_BYTES): send fewer features per request or simplify their outlines"
    )


class BodyCap(HttpMiddleware):
    """The middleware: ``BodyCap(app, cap=...)``."""

    def __init__(self, app: ASGIApp, cap: int) -> None:
        super().__init__(app)
        self.cap = cap

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None:
            if not declared.isdigit():
                await _problem(send, 400, f"Content-Length {declared!r} is not a number of bytes")
                return
            if int(declared) > self.cap:
                await _problem(send, 413, too_large(f"{int(declared):,} bytes", self.cap))
                return
        cap = self.cap
        total = 0
        started = False

        async def limited() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > cap:
                    raise BodyTooLarge(too_large(f"over {cap:,} bytes", cap))
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge as exc:  # not turned into a response inside (e.g. a streaming route)
            if started:
                raise
            await _problem(send, 413, str(exc.detail))


def _content_length(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return str(value.decode("latin-1").strip())
    return None


async def _problem(send: Send, status: int, description: str) -> None:
    code = "PayloadTooLarge" if status == 413 else "InvalidParameterValue"
    body = orjson.dumps({"code": code, "description": description, "status": status})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
