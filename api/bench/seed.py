"""Orders for the read and fan-out benchmarks, folded straight into Redis, and a capability
token per order (what ``POST /v1/lookup`` would hand its customer)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from api.auth import issue_customer_token
from api.bench.orders import bench_order
from projections.connections import redis_client
from projections.redis_store import RedisTimelineStore
from wismo.events import event_from_dict
from wismo.settings import Settings

TOKEN_TTL_S = 3600
_CHUNK = 1000


async def seed_orders(settings: Settings, orders: int) -> list[str]:
    """Fold ``orders`` orders into the store; returns their ids."""
    run = uuid.uuid4().hex[:6]
    received = datetime.now(UTC).isoformat()
    generated = [bench_order(index, run) for index in range(orders)]
    events = [
        event_from_dict({**event, "received_at": received})
        for order in generated
        for event in order.events
    ]
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
