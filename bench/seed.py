"""Orders for the API benchmarks (:mod:`bench.orders`), folded straight into Redis, and a
capability token per order (what ``POST /v1/lookup`` would hand its customer)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from api.auth import issue_customer_token
from bench.orders import STEADY, Story, stories
from projections.connections import redis_client
from projections.redis_store import RedisTimelineStore
from wismo.settings import Settings

TOKEN_TTL_S = 3600
#: the generated orders' ids: unique to the run
ORDER_ID = "BENCH-{seed}-{index:06d}"
_CHUNK = 1000


def bench_orders(count: int) -> list[Story]:
    """``count`` orders of the generator's ``STEADY`` mix (one parcel each, still on its way),
    their ids unique to the run."""
    return list(stories(count, seed=uuid.uuid4().hex[:6], mix=STEADY, order_id=ORDER_ID))


async def seed_orders(settings: Settings, orders: int) -> list[str]:
    """Fold ``orders`` orders into the store; returns their ids."""
    received = datetime.now(UTC)
    generated = bench_orders(orders)
    events = [event for order in generated for event in order.events(received_at=received)]
    client = await redis_client(settings)
    store = RedisTimelineStore(client, settings.redis.key_prefix, url=settings.redis.url or "")
    try:
        for start in range(0, len(events), _CHUNK):
            await store.apply(events[start : start + _CHUNK])
    finally:
        await store.close()
        await client.aclose()
    return [order.order_id for order in generated]


def tokens(settings: Settings, order_ids: list[str]) -> dict[str, str]:
    secret = settings.api.customer_token_secret
    now = datetime.now(UTC)
    return {o: issue_customer_token(secret, o, now, TOKEN_TTL_S) for o in order_ids}
