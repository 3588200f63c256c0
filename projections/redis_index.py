"""Writing the agent index after a timeline commit (:mod:`projections.agent_index` reads it).

The commit script touches only the order's own hash slot, so the index entries follow it
(:class:`~projections.redis_writer.TimelineWriter`), in this order:

1. the order id joins its order-number and e-mail-hash sets (``SADD``: one key each, any slot);
2. :data:`INDEX` writes the exception rows into ``P:{idx}:exceptions`` / ``P:{idx}:resolved``
   (one slot) and publishes the change summary with the rows that changed;
3. :data:`SET_IX` stores the entries' digest as the state's ``ix`` — only if the order's ``rev``
   is still the one committed (else it drops ``ix``: whoever committed since writes its own).

A writer that dies between the commit and step 3 leaves ``ix`` at the former digest, so the next
commit of the order (by any writer, which reads the state anew after a failure) writes the
entries again. Every step is idempotent. On one Redis the three steps go in one pipeline (run in
order); on a Redis Cluster step 3 waits for the others' answers, since a cluster pipeline's
commands on different nodes run in no set order.
"""

from __future__ import annotations

from typing import Any

from projections.agent_index import RESOLVED_KEEP_S
from projections.redis_commit import PreparedCommit
from projections.redis_keys import RedisKeys
from projections.redis_pipes import evalsha

# KEYS: index exceptions, index resolved.
# ARGV: 1 agents channel, 2 change summary (JSON object), 3 seconds a resolved exception is
# kept, then rows (exception id, row JSON, resolved epoch or '').
INDEX = """
local cutoff = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[3])
local changed = {}
for i = 4, #ARGV, 3 do
  local resolved = ARGV[i + 2]
  if resolved ~= '' and tonumber(resolved) < cutoff then
    -- resolved longer ago than the keep: out of the index (announced if it was in)
    if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then changed[#changed + 1] = ARGV[i + 1] end
    redis.call('ZREM', KEYS[2], ARGV[i])
  elseif redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    if resolved ~= '' then redis.call('ZADD', KEYS[2], resolved, ARGV[i]) end
    changed[#changed + 1] = ARGV[i + 1]
  end
end
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff, 'LIMIT', 0, 100)
if #old > 0 then
  redis.call('HDEL', KEYS[1], unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
local summary = ARGV[2]
if #changed > 0 then
  summary = string.sub(summary, 1, -2) .. ',"exceptions":[' .. table.concat(changed, ',') .. ']}'
end
redis.call('PUBLISH', ARGV[1], summary)
return #changed
"""

# KEYS: state; ARGV: rev committed, index digest
SET_IX = """
if redis.call('HGET', KEYS[1], 'rev') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'ix', ARGV[2])
  return 1
end
redis.call('HDEL', KEYS[1], 'ix')
return 0
"""

SCRIPTS = {"index": INDEX, "set_ix": SET_IX}


def queue_entries(pipe: Any, shas: dict[str, str], keys: RedisKeys, p: PreparedCommit) -> None:
    """Queue steps 1 and 2 for a committed order whose entries changed."""
    index = p.index
    if index is None:
        return
    for key in index.sets:
        pipe.sadd(key, p.order_id)
    if index.rows:
        evalsha(
            pipe,
            shas["index"],
            2,
            keys.index_exceptions,
            keys.index_resolved,
            keys.agents_channel,
            index.summary,
            RESOLVED_KEEP_S,
            *index.rows,
        )


def queue_digest(
    pipe: Any, shas: dict[str, str], keys: RedisKeys, p: PreparedCommit, rev: bytes
) -> None:
    """Queue step 3."""
    if p.index is not None:
        evalsha(pipe, shas["set_ix"], 1, keys.state(p.order_id), rev, p.index.digest)
