"""A simulated carrier Track API for the simulated parcels (``wismo up``): what the poll role asks
when a webhook never came.

It speaks the UPS Track API: ``POST /security/v1/oauth/token`` (client credentials in an
``Authorization: Basic`` header) hands out bearer tokens, and
``GET /api/track/v1/details/{inquiryNumber}`` answers ``trackResponse.shipment[].package[]`` with
the package's activity, newest first, and its scheduled (or delivered) date; an unknown number
gets UPS's ``404`` error document, a missing or unknown token ``401``.

What it knows comes from the same generated stories the simulator sends as webhooks
(:mod:`bench.orders` through :mod:`bench.webhooks`): the simulator hands every batch to a
:class:`TrackBook` before sending it, including the deliveries it drops on purpose, and the API
answers with the scans whose time has come. Each activity says exactly what the Track Alert of
the same scan says (status type and codes, GMT time, place), so the parser gives a polled scan the
same event id as the pushed one: polling heals a dropped webhook and duplicates nothing.

Beside the carrier's own paths, ``GET /simulation/drops`` answers what the simulator dropped and
whether polling healed it (:meth:`bench.healing.Ledger.report`), when ``wismo up`` hands one over.

The server runs on its own event loop in a daemon thread (:func:`start_carrier_api`), beside
the roles ``wismo up`` runs in the main thread.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from bench.webhooks import Post

#: the development client credentials ``wismo up`` configures for the simulated UPS
DEV_CLIENT_ID = "wismo-dev-ups-client"
DEV_CLIENT_SECRET = "wismo-dev-ups-secret"  # a development value only
TOKEN_LIFETIME_S = 14399
TOKEN_PATH = "/security/v1/oauth/token"
TRACK_PATH = "/api/track/v1/details/{number}"
#: the simulator's report of its dropped webhooks (not a carrier path)
DROPS_PATH = "/simulation/drops"

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Activity:
    """One scan as the Track API lists it, and the moment it happened."""

    at: datetime
    document: dict[str, Any]
    delivered: bool
    scheduled: str  # YYYYMMDD, "" when the alert gave none


def activity_of_alert(alert: dict[str, Any]) -> Activity | None:
    """A Track Alert (as :func:`bench.webhooks.ups_alert` writes it) as a Track API activity."""
    day, clock = alert.get("gmtActivityDate"), alert.get("gmtActivityTime")
    status = alert.get("activityStatus")
    if not isinstance(day, str) or not isinstance(clock, str) or not isinstance(status, dict):
        return None
    try:
        at = datetime.strptime(day + clock, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    document: dict[str, Any] = {
        "status": {
            "type": status.get("type"),
            "description": status.get("description"),
            # the alert's activity code and description code, in the Track API's two fields
            "code": status.get("code"),
            "statusCode": status.get("descriptionCode"),
        },
        "date": alert.get("localActivityDate") or day,
        "time": alert.get("localActivityTime") or clock,
        "gmtDate": day,
        "gmtTime": clock,
        "gmtOffset": "+00:00",
    }
    where = alert.get("activityLocation")
    if isinstance(where, dict):
        document["location"] = {
            "address": {
                "city": where.get("city"),
                "stateProvince": where.get("stateProvince"),
                "postalCode": where.get("postalCode"),
                "country": where.get("country"),
                "countryCode": where.get("country"),
            }
        }
    return Activity(
        at, document, status.get("type") == "D", str(alert.get("scheduledDeliveryDate") or "")
    )


@dataclass
class TrackBook:
    """Every simulated UPS scan by tracking number; thread-safe (filled by the simulator's
    thread, read by the API's)."""

    clock: Clock = _now
    _scans: dict[str, dict[str, Activity]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, posts: Iterable[Post]) -> int:
        """Learn the UPS scans among ``posts`` (others are ignored); how many were new."""
        new = 0
        for post in posts:
            if post.source != "ups" or post.malformed:
                continue
            try:
                alert = orjson.loads(post.body)
            except orjson.JSONDecodeError:
                continue
            number = alert.get("trackingNumber") if isinstance(alert, dict) else None
            activity = activity_of_alert(alert) if isinstance(number, str) else None
            if activity is None or not isinstance(number, str):
                continue
            key = f"{activity.at.isoformat()}|{orjson.dumps(activity.document).decode()}"
            with self._lock:
                known = self._scans.setdefault(number, {})
                new += key not in known
                known[key] = activity
        return new

    def numbers(self) -> list[str]:
        with self._lock:
            return sorted(self._scans)

    def package(self, number: str) -> dict[str, Any] | None:
        """The Track API package of ``number`` as of now, or ``None`` if nothing has happened."""
        now = self.clock()
        with self._lock:
            known = list(self._scans.get(number, {}).values())
        happened = sorted((a for a in known if a.at <= now), key=lambda a: a.at, reverse=True)
        if not happened:
            return None
        package: dict[str, Any] = {
            "trackingNumber": number,
            "packageCount": 1,
            "service": {"code": "003", "levelCode": "003", "description": "UPS Ground"},
            "activity": [a.document for a in happened],
        }
        delivered = next((a for a in happened if a.delivered), None)
        if delivered is not None:
            package["deliveryDate"] = [{"type": "DEL", "date": delivered.at.strftime("%Y%m%d")}]
        elif happened[0].scheduled:
            package["deliveryDate"] = [{"type": "SDD", "date": happened[0].scheduled}]
        return package


def track_answer(number: str, package: dict[str, Any]) -> dict[str, Any]:
    return {"trackResponse": {"shipment": [{"inquiryNumber": number, "package": [package]}]}}


NOT_FOUND = {
    "response": {"errors": [{"code": "151044", "message": "No tracking information available"}]}
}


@dataclass
class CarrierApi:
    """The aiohttp application over a :class:`TrackBook`, with the calls it answered."""

    book: TrackBook
    client_id: str = DEV_CLIENT_ID
    client_secret: str = DEV_CLIENT_SECRET
    tokens: set[str] = field(default_factory=set)
    tracked: int = 0
    #: the document ``GET /simulation/drops`` answers (``None``: the path is not served)
    drops: Callable[[], dict[str, Any]] | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(TOKEN_PATH, self.token)
        app.router.add_get(TRACK_PATH, self.track)
        if self.drops is not None:
            app.router.add_get(DROPS_PATH, self.dropped)
        return app

    async def dropped(self, _: web.Request) -> web.Response:
        assert self.drops is not None
        return web.json_response(self.drops())

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization", "") != f"Basic {expected}":
            return _error(401, "250002", "Invalid Authentication Information.")
        if form.get("grant_type") != "client_credentials":
            return _error(400, "10400", "Invalid or missing grant_type")
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        issued = int(_now().timestamp() * 1000)
        return web.json_response(
            {
                "token_type": "Bearer",
                "issued_at": str(issued),
                "client_id": self.client_id,
                "access_token": token,
                "expires_in": str(TOKEN_LIFETIME_S),
                "status": "approved",
            }
        )

    async def track(self, request: web.Request) -> web.Response:
        bearer = request.headers.get("Authorization", "")
        if not bearer.startswith("Bearer ") or bearer[7:] not in self.tokens:
            return _error(401, "250002", "Invalid Authentication Information.")
        number = request.match_info["number"].replace(" ", "").upper()
        package = self.book.package(number)
        if package is None:
            return web.json_response(NOT_FOUND, status=404)
        self.tracked += 1
        return web.json_response(track_answer(number, package))


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"response": {"errors": [{"code": code, "message": message}]}}
    return web.json_response(body, status=status)


@dataclass
class CarrierApiServer:
    """A running simulated carrier API: its base URL, and how to stop it."""

    api: CarrierApi
    base_url: str
    _loop: asyncio.AbstractEventLoop
    _runner: web.AppRunner
    _thread: threading.Thread

    def stop(self) -> None:
        if not self._loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def start_carrier_api(
    book: TrackBook,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    drops: Callable[[], dict[str, Any]] | None = None,
) -> CarrierApiServer:
    """Serve :class:`CarrierApi` on ``host:port`` (0: any free port) in a daemon thread;
    ``drops``: the document of ``GET /simulation/drops``."""
    api = CarrierApi(book, drops=drops)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(api.app(), access_log=None)
    ready: dict[str, Any] = {}
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port)
            loop.run_until_complete(site.start())
            sockets = runner.addresses
            ready["port"] = sockets[0][1]
        except BaseException as error:  # said to the starting thread
            ready["error"] = error
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=serve, name="carrier-api", daemon=True)
    thread.start()
    started.wait(10)
    if "error" in ready:
        raise ready["error"]
    if "port" not in ready:
        raise TimeoutError("the simulated carrier API did not start")
    return CarrierApiServer(api, f"http://{host}:{ready['port']}", loop, runner, thread)
