"""The ``/verify`` page: the public verifier (:mod:`layers.verify`) run over this server's own
public feeds, read exactly as an outsider reads them, for those who cannot run a command."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.deps import get_services
from api.services.publog import own_source, verdict
from layers.labels import label
from layers.verify import verify
from web.i18n import parse_lang, text
from web.render import render

router = APIRouter(include_in_schema=False)
Lang_ = Annotated[str | None, Query(description="mn (default) or en")]


@router.get("/verify", response_class=HTMLResponse)
async def verify_page(request: Request, lang: Lang_ = None) -> HTMLResponse:
    """Runs every check of ``gazar verify`` on ``/log.jsonl`` and ``/register.json`` and says
    what it checked and the verdict, in the page's language."""
    language = parse_lang(lang)
    allocation = get_services(request).allocation
    source = own_source(allocation.ledger(), allocation.register)
    report = await run_in_threadpool(verify, source)
    mn, en = verdict(report)
    checks = [
        {"code": k, "label": label("verify_check", k, language), "count": v}
        for k, v in report.checks.items()
    ]
    return render(
        request,
        "verify.html",
        language,
        title=text("verify_title", language),
        nav="register",
        report=report,
        verdict=mn if language == "mn" else en,
        checks=checks,
    )
