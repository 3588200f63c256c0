"""Commerce catch-up (``wismo sync``): page through a platform's orders and fulfilments and feed
each object to the raw topic as if the platform had pushed it.

Webhooks from a shop get lost (an outage, a misconfigured subscription, a platform that gave up
retrying), so a sync re-reads what changed in a time range:

- **Shopify**: ``GET /admin/api/<version>/orders.json`` with ``status=any``,
  ``updated_at_min``/``updated_at_max``, oldest update first, following the ``Link: rel="next"``
  header (cursor-based ``page_info`` pages). Every order is fed as an ``orders/updated`` delivery
  and each of its fulfilments as a ``fulfillments/update`` delivery (the webhook bodies are the
  REST objects), so the parser reads them exactly as pushed ones.
- **Salesforce Order Management**: the same SOQL the client reads order summaries with
  (:mod:`carriers.salesforce_om.client`) per object type, ``WHERE LastModifiedDate >= …``, oldest
  first, following ``nextRecordsUrl``. Every record is fed on its own.

Each payload is a :class:`wismo.topics.RawPayload` with its source, the origin header ``sync``
and a delivery id made of the object's id and its update time: syncing the same range twice
produces the same delivery ids, and downstream the same canonical event ids, so nothing doubles.

Resuming: after each page is on the broker, the newest update time of that page is kept per
object stream (``P:{sync}:progress:<source>``); when every stream is done the source's cursor
(``P:{sync}:cursor:<source>``, the last update time fully processed) moves to the newest update
seen and the progress is dropped. A stopped sync starts again from its progress, a later one
from the cursor. Boundaries are inclusive (a re-read object deduplicates), never skipped.

Calls honour ``429`` with ``Retry-After`` and retry ``5xx`` and transport errors with back-off;
an answer that is not the expected shape stops the sync with :class:`SyncError`, naming the URL
and what was wrong, and the cursor stays where the last good page left it.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import orjson
import redis.asyncio as aioredis

from carriers.oauth import ClientCredentials, TokenRequest
from carriers.salesforce_om.client import _ORDER_SUMMARY, _RELATED
from carriers.salesforce_om.client import DEFAULT_API_VERSION as SALESFORCE_API_VERSION
from carriers.shopify.client import DEFAULT_API_VERSION as SHOPIFY_API_VERSION
from carriers.shopify.client import PAGE_SIZE
from carriers.shopify.parse import TOPIC_HEADER, WEBHOOK_ID_HEADER
from wismo.errors import WismoError
from wismo.settings import CarrierCredentials
from wismo.topics import Header, RawPayload

#: the command-line names of the platforms and the source each one's payloads carry
SOURCES = {"shopify": "shopify", "salesforce-om": "salesforce_om"}
ORIGIN = "sync"
MAX_ATTEMPTS = 6
MAX_RETRY_AFTER_S = 120.0
_ERROR_BODY_CHARS = 300

Sleep = Callable[[float], Awaitable[None]]


class SyncError(WismoError):
    """A sync cannot go on: a refused call, an answer of the wrong shape, missing credentials."""


@dataclass(frozen=True, slots=True)
class SyncObject:
    """One object read from the platform, ready to travel as a raw payload."""

    kind: str
    object_id: str
    updated_at: datetime
    body: bytes
    http_headers: Mapping[str, str]

    @property
    def delivery_id(self) -> str:
        stamp = self.updated_at.astimezone(UTC).isoformat()
        return f"sync:{self.kind}:{self.object_id}:{stamp}"


@dataclass(frozen=True, slots=True)
class Page:
    """One answer of a listing: its objects (in update order) and the newest update time."""

    stream: str
    objects: tuple[SyncObject, ...]
    newest: datetime | None


@dataclass(frozen=True, slots=True)
class Answer:
    body: Any
    links: Mapping[str, str]


# ---------------------------------------------------------------------------------------------
# Calls


class Fetcher:
    """GETs JSON through an injected session with the retry rules above."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float = 15.0,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._sleep = sleep
        self._max_attempts = max_attempts

    async def get(
        self,
        url: str,
        headers: Mapping[str, str],
        on_unauthorised: Callable[[], Awaitable[Mapping[str, str]]] | None = None,
    ) -> Answer:
        """The decoded answer; ``on_unauthorised`` gives fresh headers after a 401 (once)."""
        renewed = False
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._session.get(
                    url, headers={"accept": "application/json", **headers}, timeout=self._timeout
                ) as response:
                    raw = await response.read()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    links = {
                        str(rel): str(link.get("url"))
                        for rel, link in response.links.items()
                        if link.get("url") is not None
                    }
            except (aiohttp.ClientError, TimeoutError) as error:
                if attempt == self._max_attempts:
                    raise SyncError(f"GET {url}: {error!r}") from error
                await self._sleep(_backoff(attempt))
                continue
            if status == 401 and on_unauthorised is not None and not renewed:
                headers, renewed = await on_unauthorised(), True
                continue
            if status == 429 or status >= 500:
                if attempt == self._max_attempts:
                    raise SyncError(f"GET {url}: HTTP {status} after {attempt} attempts")
                wait = _retry_after(retry_after) if status == 429 else None
                await self._sleep(wait if wait is not None else _backoff(attempt))
                continue
            if not 200 <= status < 300:
                excerpt = raw[:_ERROR_BODY_CHARS].decode("utf-8", "replace")
                raise SyncError(f"GET {url}: HTTP {status}: {excerpt}")
            try:
                return Answer(orjson.loads(raw), links)
            except orjson.JSONDecodeError as error:
                raise SyncError(f"GET {url}: the answer is not JSON") from error
        raise SyncError(f"GET {url}: no answer")  # pragma: no cover - the loop always returns


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2 ** (attempt - 1), 30.0))


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), capped; ``None`` if unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))


# ---------------------------------------------------------------------------------------------
# Platforms


class Platform(Protocol):
    """A platform's listings: named streams of pages, oldest update first."""

    source: str
    streams: tuple[str, ...]

    def pages(
        self, stream: str, since: datetime, until: datetime | None
    ) -> AsyncIterator[Page]: ...


def parse_time(value: object, where: str) -> datetime:
    """An ISO 8601 time from an answer (Salesforce writes ``+0000``); UTC when it has no zone."""
    if not isinstance(value, str) or not value:
        raise SyncError(f"{where}: no update time")
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise SyncError(f"{where}: unreadable update time {value!r}") from error
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Shopify:
    """Orders (and the fulfilments inside them) of one shop through the Admin REST API."""

    source: str = "shopify"
    streams: tuple[str, ...] = ("orders",)

    def __init__(
        self,
        fetcher: Fetcher,
        base_url: str,
        access_token: str,
        *,
        api_version: str = SHOPIFY_API_VERSION,
    ) -> None:
        self._fetcher = fetcher
        self._api = f"{base_url.rstrip('/')}/admin/api/{api_version}"
        self._headers = {"X-Shopify-Access-Token": access_token}

    async def pages(
        self, stream: str, since: datetime, until: datetime | None
    ) -> AsyncIterator[Page]:
        query: dict[str, str | int] = {
            "status": "any",
            "updated_at_min": since.astimezone(UTC).isoformat(),
            "order": "updated_at asc",
            "limit": PAGE_SIZE,
        }
        if until is not None:
            query["updated_at_max"] = until.astimezone(UTC).isoformat()
        url: str | None = f"{self._api}/orders.json?{urlencode(query)}"
        number = 0
        while url is not None:
            number += 1
            answer = await self._fetcher.get(url, self._headers)
            where = f"GET {url} (page {number})"
            orders = answer.body.get("orders") if isinstance(answer.body, dict) else None
            if not isinstance(orders, list):
                raise SyncError(f"{where}: the answer has no 'orders' list")
            objects: list[SyncObject] = []
            newest: datetime | None = None
            for n, order in enumerate(orders):
                order_objects = _shopify_order(order, f"{where}: orders[{n}]")
                newest = max(newest or order_objects[0].updated_at, order_objects[0].updated_at)
                objects += order_objects
            yield Page(stream, tuple(objects), newest)
            url = answer.links.get("next")


def _shopify_order(order: Any, where: str) -> list[SyncObject]:
    """An order, then each of its fulfilments, as the webhooks would deliver them."""
    if not isinstance(order, dict) or order.get("id") is None:
        raise SyncError(f"{where}: not an order with an id")
    updated_at = parse_time(order.get("updated_at"), where)
    out = [_shopify_object("order", order, updated_at, "orders/updated")]
    fulfilments = order.get("fulfillments") or []
    if not isinstance(fulfilments, list):
        raise SyncError(f"{where}: 'fulfillments' is not a list")
    for n, fulfilment in enumerate(fulfilments):
        here = f"{where}.fulfillments[{n}]"
        if not isinstance(fulfilment, dict) or fulfilment.get("id") is None:
            raise SyncError(f"{here}: not a fulfilment with an id")
        stamp = fulfilment.get("updated_at") or fulfilment.get("created_at")
        changed = parse_time(stamp, here) if stamp else updated_at
        body = {"order_id": order["id"], **fulfilment}
        out.append(_shopify_object("fulfillment", body, changed, "fulfillments/update"))
    return out


def _shopify_object(kind: str, body: dict[str, Any], at: datetime, topic: str) -> SyncObject:
    object_id = str(body["id"])
    stamp = at.astimezone(UTC).isoformat()
    headers = {TOPIC_HEADER: topic, WEBHOOK_ID_HEADER: f"sync:shopify:{kind}:{object_id}:{stamp}"}
    return SyncObject(f"shopify:{kind}", object_id, at, orjson.dumps(body), headers)


#: the SOQL of each Salesforce OM object type, as the client reads them
_SOQL = dict(
    zip(
        ("OrderSummary", "FulfillmentOrder", "Shipment", "ReturnOrder"),
        (_ORDER_SUMMARY, *_RELATED),
        strict=True,
    )
)


class SalesforceOm:
    """Order summaries, fulfilment orders, shipments and return orders through SOQL."""

    source: str = "salesforce_om"
    streams: tuple[str, ...] = tuple(_SOQL)

    def __init__(
        self,
        fetcher: Fetcher,
        instance_url: str,
        token: Callable[[], Awaitable[str]],
        renew: Callable[[], None] = lambda: None,
        *,
        api_version: str = SALESFORCE_API_VERSION,
    ) -> None:
        self._fetcher = fetcher
        self._instance = instance_url.rstrip("/")
        self._token = token
        self._renew = renew
        self._api_version = api_version

    async def _headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {await self._token()}"}

    async def _fresh_headers(self) -> Mapping[str, str]:
        self._renew()
        return await self._headers()

    async def pages(
        self, stream: str, since: datetime, until: datetime | None
    ) -> AsyncIterator[Page]:
        where = f" WHERE LastModifiedDate >= {_soql_time(since)}"
        if until is not None:
            where += f" AND LastModifiedDate <= {_soql_time(until)}"
        soql = f"{_SOQL[stream]}{where} ORDER BY LastModifiedDate ASC"
        path = f"/services/data/{self._api_version}/query?{urlencode({'q': soql})}"
        number = 0
        while path:
            number += 1
            url = self._instance + path
            answer = await self._fetcher.get(url, await self._headers(), self._fresh_headers)
            place = f"GET {url} ({stream} page {number})"
            body = answer.body
            records = body.get("records") if isinstance(body, dict) else None
            if not isinstance(records, list):
                raise SyncError(f"{place}: the answer has no 'records' list")
            objects = [
                _salesforce_record(r, stream, f"{place}: records[{n}]")
                for n, r in enumerate(records)
            ]
            newest = max((o.updated_at for o in objects), default=None)
            yield Page(stream, tuple(objects), newest)
            path = _next_records(body)


def _soql_time(moment: datetime) -> str:
    """A SOQL datetime literal (whole seconds, UTC, unquoted); bounds are inclusive."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _next_records(answer: dict[str, Any]) -> str:
    if answer.get("done", True):
        return ""
    url = answer.get("nextRecordsUrl")
    return url if isinstance(url, str) and url.startswith("/services/data/") else ""


def _salesforce_record(record: Any, stream: str, where: str) -> SyncObject:
    if not isinstance(record, dict) or not isinstance(record.get("Id"), str):
        raise SyncError(f"{where}: not a record with an Id")
    updated_at = parse_time(record.get("LastModifiedDate"), where)
    attributes = record.get("attributes")
    if not isinstance(attributes, dict) or not attributes.get("type"):
        record = {**record, "attributes": {"type": stream}}  # the parser dispatches on it
    return SyncObject(f"salesforce_om:{stream}", record["Id"], updated_at, orjson.dumps(record), {})


def platform_for(
    name: str, credentials: CarrierCredentials, fetcher: Fetcher, session: aiohttp.ClientSession
) -> Platform:
    """The platform ``name`` (``shopify`` or ``salesforce-om``) with its configured access."""
    source = SOURCES.get(name)
    if source is None:
        raise SyncError(f"unknown platform {name!r}; known: {', '.join(SOURCES)}")
    setting = f"WISMO_POLL__CARRIERS__{source.upper()}"
    if not credentials.base_url:
        raise SyncError(f"no base URL for {source}: set {setting}__BASE_URL")
    api_key = credentials.api_key.get_secret_value() if credentials.api_key else None
    if source == "shopify":
        if not api_key:
            raise SyncError(f"no access token for shopify: set {setting}__API_KEY")
        return Shopify(fetcher, credentials.base_url, api_key)
    if api_key:

        async def fixed() -> str:
            return api_key

        return SalesforceOm(fetcher, credentials.base_url, fixed)
    if not credentials.client_id or credentials.client_secret is None:
        raise SyncError(
            f"no access for salesforce_om: set {setting}__API_KEY (a bearer token) or "
            f"{setting}__CLIENT_ID and {setting}__CLIENT_SECRET (client credentials)"
        )
    tokens = ClientCredentials(
        session,
        TokenRequest(
            url=f"{credentials.base_url.rstrip('/')}/services/oauth2/token",
            client_id=credentials.client_id,
            client_secret=credentials.client_secret.get_secret_value(),
            basic_auth=False,
            extra_form={},
            extra_headers={},
        ),
    )
    return SalesforceOm(fetcher, credentials.base_url, tokens.token, tokens.invalidate)


# ---------------------------------------------------------------------------------------------
# Where the objects go, and where the sync stands


class RawSink(Protocol):
    async def feed(self, payloads: Sequence[RawPayload]) -> None:
        """Put ``payloads`` on the raw topic; returns once the broker has them all."""


class KafkaRawSink:
    """The raw topic through an ``aiokafka`` producer (acks from every replica, as the API)."""

    def __init__(self, producer: Any, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def feed(self, payloads: Sequence[RawPayload]) -> None:
        from api.kafka import write

        await write(
            self._producer,
            [(self._topic, p.key, p.body, raw_headers(p)) for p in payloads],
        )


def raw_headers(payload: RawPayload) -> list[tuple[str, bytes]]:
    return [*payload.kafka_headers(), (Header.ORIGIN.value, ORIGIN.encode())]


class SyncCursor:
    """Where a source's sync stands, in Redis: the cursor and the progress of a running sync."""

    def __init__(self, redis: aioredis.Redis, prefix: str, source: str) -> None:
        self._redis = redis
        self.cursor_key = f"{prefix}:{{sync}}:cursor:{source}"
        self.progress_key = f"{prefix}:{{sync}}:progress:{source}"

    async def cursor(self) -> datetime | None:
        raw = await self._redis.get(self.cursor_key)
        return _stored(raw)

    async def progress(self) -> dict[str, datetime]:
        raw = await self._redis.hgetall(self.progress_key)
        out = {}
        for stream, value in raw.items():
            moment = _stored(value)
            if moment is not None:
                out[stream.decode() if isinstance(stream, bytes) else str(stream)] = moment
        return out

    async def advance(self, stream: str, at: datetime) -> None:
        await self._redis.hset(self.progress_key, stream, at.astimezone(UTC).isoformat())

    async def finish(self, at: datetime | None) -> None:
        """Move the cursor to ``at`` (if later) and forget the progress, in one transaction."""
        async with self._redis.pipeline(transaction=True) as pipe:
            if at is not None:
                pipe.set(self.cursor_key, at.astimezone(UTC).isoformat())
            pipe.delete(self.progress_key)
            await pipe.execute()


def _stored(raw: object) -> datetime | None:
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# One run


@dataclass
class SyncRun:
    """What one run did."""

    source: str
    started_from: dict[str, datetime]
    fed: int = 0
    pages: int = 0
    cursor: datetime | None = None


OnPage = Callable[[Page], None]


async def sync_once(
    platform: Platform,
    cursor: SyncCursor,
    sink: RawSink,
    *,
    since: datetime,
    until: datetime | None = None,
    on_page: OnPage | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncRun:
    """Page through every stream of ``platform`` from where it stands (progress, else the cursor,
    else ``since``; never before ``since``) up to ``until``, feeding each page to ``sink``."""
    stored = await cursor.cursor()
    progress = await cursor.progress()
    base = max(since, stored) if stored is not None else since
    starts = {s: max(base, progress.get(s, base)) for s in platform.streams}
    run = SyncRun(platform.source, starts, cursor=stored)
    newest = max([stored, *progress.values()], default=None, key=_or_min)
    for stream in platform.streams:
        start = starts[stream]
        if until is not None and start > until:
            continue
        async for page in platform.pages(stream, start, until):
            received_at = clock()
            payloads = [
                RawPayload(
                    source=platform.source,
                    body=item.body,
                    received_at=received_at,
                    delivery_id=item.delivery_id,
                    http_headers=item.http_headers,
                )
                for item in page.objects
            ]
            if payloads:
                await sink.feed(payloads)
            if page.newest is not None:
                await cursor.advance(stream, page.newest)
                newest = max(newest or page.newest, page.newest)
            run.fed += len(payloads)
            run.pages += 1
            if on_page is not None:
                on_page(page)
    await cursor.finish(newest)
    run.cursor = newest
    return run


def _or_min(moment: datetime | None) -> datetime:
    return moment if moment is not None else datetime.min.replace(tzinfo=UTC)
