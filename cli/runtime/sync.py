"""Commerce catch-up (``wismo sync``): page through a platform's orders and fulfilments with its
client and feed each object to the raw topic as if the platform had pushed it.

Webhooks from a shop get lost (an outage, a misconfigured subscription, a platform that gave up
retrying), so a sync re-reads what changed in a time range through the platform's client —
:class:`carriers.shopify.client.ShopifyClient` (orders, each with its fulfilments) and
:class:`carriers.salesforce_om.client.SalesforceOmClient` (order summaries, fulfilment orders,
shipments, return orders). Each listed object (:class:`carriers.listing.Listed`) becomes a
:class:`wismo.topics.RawPayload` with its source, the origin header ``sync`` and a delivery id made
of the object's id and its update time: syncing the same range twice produces the same delivery
ids, and downstream the same canonical event ids, so nothing doubles.

Resuming: after each page is on the broker, the newest update time of that page is kept per
object stream (``P:{sync}:progress:<source>``); when every stream is done the source's cursor
(``P:{sync}:cursor:<source>``, the last update time fully processed) moves to the newest update
seen and the progress is dropped. A stopped sync starts again from its progress, a later one
from the cursor. Boundaries are inclusive (a re-read object deduplicates), never skipped.

The clients' calls honour ``429`` with ``Retry-After`` and retry ``5xx`` and transport errors with
back-off (:class:`carriers.retry.Retry`); a refused call or an answer that is not the expected
shape stops the sync with :class:`SyncError`, naming the URL and what was wrong, and the cursor
stays where the last good page left it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
import redis.asyncio as aioredis

from carriers.errors import CarrierError
from carriers.listing import ListedPage, Listing
from carriers.oauth import BearerTokens, ClientCredentials, FixedToken, TokenRequest
from carriers.retry import Retry
from carriers.salesforce_om.client import SalesforceOmClient
from carriers.shopify.client import ShopifyClient
from wismo.errors import WismoError
from wismo.settings import CarrierCredentials
from wismo.topics import Header, RawPayload

#: the command-line names of the platforms and the source each one's payloads carry
SOURCES = {"shopify": ShopifyClient.source, "salesforce-om": SalesforceOmClient.source}
ORIGIN = "sync"


class SyncError(WismoError):
    """A sync cannot go on: a refused call, an answer of the wrong shape, missing credentials."""


def platform_for(
    name: str,
    credentials: CarrierCredentials,
    session: aiohttp.ClientSession,
    *,
    retry: Retry | None = None,
    timeout_s: float = 15.0,
) -> Listing:
    """The client of platform ``name`` (``shopify`` or ``salesforce-om``) with its configured
    access."""
    source = SOURCES.get(name)
    if source is None:
        raise SyncError(f"unknown platform {name!r}; known: {', '.join(SOURCES)}")
    setting = f"WISMO_POLL__CARRIERS__{source.upper()}"
    if not credentials.base_url:
        raise SyncError(f"no base URL for {source}: set {setting}__BASE_URL")
    api_key = credentials.api_key.get_secret_value() if credentials.api_key else None
    if source == ShopifyClient.source:
        if not api_key:
            raise SyncError(f"no access token for shopify: set {setting}__API_KEY")
        return ShopifyClient(
            session, "", api_key, base_url=credentials.base_url, retry=retry, timeout_s=timeout_s
        )
    tokens: BearerTokens
    if api_key:
        tokens = FixedToken(api_key)
    elif credentials.client_id and credentials.client_secret is not None:
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
    else:
        raise SyncError(
            f"no access for salesforce_om: set {setting}__API_KEY (a bearer token) or "
            f"{setting}__CLIENT_ID and {setting}__CLIENT_SECRET (client credentials)"
        )
    return SalesforceOmClient(
        session, credentials.base_url, tokens, retry=retry, timeout_s=timeout_s
    )


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


OnPage = Callable[[ListedPage], None]


async def sync_once(
    platform: Listing,
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
        async for page in _pages(platform, stream, start, until):
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


async def _pages(
    platform: Listing, stream: str, start: datetime, until: datetime | None
) -> AsyncIterator[ListedPage]:
    """The stream's pages; a refused call or a malformed answer becomes a :class:`SyncError`."""
    listing = platform.pages(stream, start, until)
    while True:
        try:
            page = await anext(listing)
        except StopAsyncIteration:
            return
        except CarrierError as error:
            raise SyncError(str(error)) from error
        yield page


def _or_min(moment: datetime | None) -> datetime:
    return moment if moment is not None else datetime.min.replace(tzinfo=UTC)
