"""Orders for the read and fan-out benchmarks: a generated history folded into Redis, and a
capability token per order (what ``POST /v1/lookup`` would hand its customer)."""

from __future__ import annotations

from datetime import UTC, datetime

from api.auth import issue_customer_token
from projections.connections import redis_client
from projections.redis_store import RedisTimelineStore
from streams.routing import linked
from streams.simulate import generate
from wismo.events import Event
from wismo.settings import Settings

TOKEN_TTL_S = 3600
_CHUNK = 1000


async def seed_orders(settings: Settings, orders: int, seed: int = 1) -> list[str]:
    """Fold ``orders`` generated orders into the store; returns their ids."""
    history = generate(orders, seed=seed, duplicate_share=0, late_share=0, malformed_share=0)
    by_order = history.by_order()
    events: list[Event] = [
        linked(event, order_id) if event.order_id is None else event
        for order_id, order_events in by_order.items()
        for event in order_events
    ]
    client = await redis_client(settings)
    store = RedisTimelineStore(client, settings.redis.key_prefix, url=settings.redis.url or "")
    try:
        for start in range(0, len(events), _CHUNK):
            await store.apply(events[start : start + _CHUNK])
    finally:
        await store.close()
        await client.aclose()
    return sorted(by_order)


def tokens(settings: Settings, order_ids: list[str]) -> dict[str, str]:
    secret = settings.api.customer_token_secret
    now = datetime.now(UTC)
    return {o: issue_customer_token(secret, o, now, TOKEN_TTL_S) for o in order_ids}
