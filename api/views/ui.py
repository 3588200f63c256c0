"""The browser pages: the customer status page, the agent console and the SLA charts.

Plain HTML, CSS and JavaScript under ``api/static``, served by the API itself (nothing is
fetched from elsewhere at runtime; the content security policy says so to the browser). The
pages talk to the same JSON API and websockets as any other client.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from api.views import analytics

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGES = ("track", "console", "analytics")

#: same origin only: scripts, styles, the API and its websockets; no inline script, no framing
#: (blob: images: a customer's photo the console fetched with the agent's token)
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def add_ui_routes(app: web.Application) -> None:
    """The pages, their assets and the analytics endpoint behind the SLA page."""
    for name in PAGES:
        app.router.add_get(f"/{name}", _page(STATIC / name / "index.html"))
    app.router.add_get("/", _home)
    app.router.add_static("/static", STATIC, append_version=False)
    analytics.add_routes(app)


def _page(path: Path) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers=_PAGE_HEADERS)

    return handler


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/track")
