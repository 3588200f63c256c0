"""The development outbox: ``/outbox`` (a page) and ``GET /v1/dev/outbox`` (its JSON), showing
what the embedded SMTP sink, SMS sink and echo webhook receiver received
(:mod:`projections.notify.outbox`). Served only when ``settings.environment`` is ``dev``; in
production both answer 404 as if they did not exist.

The page shows each e-mail's HTML in a sandboxed ``<iframe srcdoc>`` (no scripts, no same
origin). An e-mail's styles are inline (they are inlined for mail clients), so this page's
policy allows inline styles, which the other pages do not.
"""

from __future__ import annotations

from aiohttp import web

from api.errors import BadRequest, NotFound
from api.keys import REDIS, SETTINGS
from api.views.agent import known_parameters
from api.views.respond import json
from api.views.ui import POLICY, STATIC
from projections.notify.outbox import CAP, KINDS, Outbox

PAGE = STATIC / "outbox" / "index.html"
OUTBOX_POLICY = POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
_PAGE_HEADERS = {
    "Content-Security-Policy": OUTBOX_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _dev_only(request: web.Request) -> None:
    if request.app[SETTINGS].environment != "dev":
        raise NotFound(f"{request.path} is not known")


async def page(request: web.Request) -> web.StreamResponse:
    _dev_only(request)
    return web.FileResponse(PAGE, headers=_PAGE_HEADERS)


async def recent(request: web.Request) -> web.Response:
    """The newest items, newest first (``limit``, default 100; ``kind``: only e-mails, texts or
    webhook deliveries; ``to``: only those sent to one address or number)."""
    _dev_only(request)
    known_parameters(request, frozenset({"limit", "kind", "to"}))
    raw = request.query.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= CAP:
        raise BadRequest(f"limit must be a whole number from 1 to {CAP}")
    kind = request.query.get("kind")
    if kind is not None and kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
    to = request.query.get("to")
    if to is not None and not 1 <= len(to.strip()) <= 320:
        raise BadRequest("to must be an e-mail address, phone number or URL of 1 to 320 characters")
    outbox = Outbox(request.app[REDIS], request.app[SETTINGS].redis.key_prefix)
    items = await outbox.recent(int(raw), kind=kind, to=to)
    return json({"items": items}, headers={"Cache-Control": "no-store"})
