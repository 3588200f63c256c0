"""The retention clock's Redis side beyond the order's own keys (:mod:`projections.retention`).

The commit script expires (or persists again) the order's own keys and sets its ``retained``
mark; everything on other hash slots follows here, each step safe to repeat and ordered so that
a writer dying between two steps leaves nothing that is not healed later:

- **filing** (:data:`FILE`, one ``{retention}`` slot): the expiry record and due time of an order
  whose new timeline is final — queued *with* its commit: a commit that then loses a race leaves
  a record whose sweep finds the order alive and only drops it;
- **pointer expiry**: the lookup keys and tracking links pointing at the order expire with it,
  after the commit (a writer dying before leaves them to the sweep, which deletes them);
- **unfiling**, when a commit takes an order out of a final state (the commit script reports
  it): the record is read, its pointer keys persisted, and only then the record dropped;
- **the sweep**: :data:`DUE` reads up to :data:`~projections.retention.SWEEP_BATCH` due records
  with each batch's commits; for each order whose state is gone, its index set members,
  exception rows and pointer keys still naming it are removed, and then the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from projections.redis_keys import RedisKeys
from projections.redis_pipes import RedisPipes, evalsha, text
from projections.retention import SWEEP_BATCH

# KEYS: due, records; ARGV: order id, seconds to keep, record JSON
FILE = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""

# KEYS: due, records; returns order id, record ('' when missing) pairs of due orders
DUE = """
local now = tonumber(redis.call('TIME')[1])
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, @SWEEP@)) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
end
return out
""".replace("@SWEEP@", str(SWEEP_BATCH))

# KEYS: a pointer key; ARGV: order id
DROP_POINTER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

SCRIPTS = {"file": FILE, "due": DUE, "drop_pointer": DROP_POINTER}


def queue_file(pipe: Any, shas: dict[str, str], keys: RedisKeys, order_id: str, keep_s: int,
               record: bytes) -> None:  # fmt: skip
    evalsha(
        pipe, shas["file"], 2, keys.retention_due, keys.retention_orders, order_id, keep_s, record
    )


def queue_due(pipe: Any, shas: dict[str, str], keys: RedisKeys) -> None:
    evalsha(pipe, shas["due"], 2, keys.retention_due, keys.retention_orders)


def queue_pointer_expiry(pipe: Any, record: bytes, keep_s: int) -> None:
    for key in orjson.loads(record)["expire"]:
        pipe.expire(key, keep_s)


async def unfile(pipes: RedisPipes, keys: RedisKeys, order_ids: Sequence[str]) -> None:
    """Take orders that left a final state off the clock (their own keys already are)."""
    if not order_ids:
        return
    records = await pipes.execute(
        lambda pipe: [pipe.hget(keys.retention_orders, o) for o in order_ids]
    )
    pointers = [key for raw in records if raw for key in orjson.loads(raw)["expire"]]
    if pointers:
        await pipes.execute(lambda pipe: [pipe.persist(key) for key in pointers])

    def drop(pipe: Any) -> None:
        for order_id in order_ids:
            pipe.zrem(keys.retention_due, order_id)
            pipe.hdel(keys.retention_orders, order_id)

    await pipes.execute(drop)


async def sweep(pipes: RedisPipes, keys: RedisKeys, due: Sequence[bytes | str]) -> None:
    """Clean up after the due orders (``DUE``'s reply) whose state is gone; drop their records."""
    records = {text(due[i]): due[i + 1] for i in range(0, len(due), 2)}
    if not records:
        return
    ids = list(records)
    alive = await pipes.execute(lambda pipe: [pipe.exists(keys.state(o)) for o in ids])

    def clean(pipe: Any) -> None:
        for order_id, exists in zip(ids, alive, strict=True):
            if exists or not records[order_id]:
                continue
            gone = orjson.loads(records[order_id])
            for key in gone["sets"]:
                pipe.srem(key, order_id)
            if gone["exceptions"]:
                # the index keys of today, whatever names an older record holds
                pipe.hdel(keys.index_exceptions, *gone["exceptions"])
                pipe.zrem(keys.index_resolved, *gone["exceptions"])
            for key in gone["expire"]:
                evalsha(pipe, pipes.shas["drop_pointer"], 1, key, order_id)

    await pipes.execute(clean, scripted=True)

    def drop(pipe: Any) -> None:
        for order_id in ids:
            pipe.zrem(keys.retention_due, order_id)
            pipe.hdel(keys.retention_orders, order_id)

    await pipes.execute(drop)
