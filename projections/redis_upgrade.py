"""Moving keys a former version wrote under other names to where the store keeps them now.

Redis Cluster support gave the exception queue and the retention records hash tags
(:attr:`projections.redis_keys.RedisKeys.legacy`). A single-Redis deployment upgrading keeps its
data: the timeline writer and the agent index run :func:`adopt_legacy_keys` once per process
before their first use. It copies field by field (so it works across cluster slots too), never
overwriting what the new key already holds (written since the upgrade, so newer), then deletes
the former key. Idempotent, and safe beside other processes doing the same.
"""

from __future__ import annotations

from typing import Any

from projections.redis_keys import RedisKeys
from projections.redis_pipes import RedisPipes, text


async def adopt_legacy_keys(pipes: RedisPipes, keys: RedisKeys) -> int:
    """Move every former key that still exists; returns how many were moved."""
    legacy = list(keys.legacy)
    kinds = await pipes.execute(lambda pipe: [pipe.type(name) for name in legacy])
    found = {name: text(kind) for name, kind in zip(legacy, kinds, strict=True)}
    found = {name: kind for name, kind in found.items() if kind in ("hash", "zset")}
    if not found:
        return 0

    def read(pipe: Any) -> None:
        for name, kind in found.items():
            if kind == "hash":
                pipe.hgetall(name)
            else:
                pipe.zrange(name, 0, -1, withscores=True)

    replies = await pipes.execute(read)

    def move(pipe: Any) -> None:
        for (name, kind), reply in zip(found.items(), replies, strict=True):
            target = keys.legacy[name]
            if kind == "hash":
                for field, value in reply.items():
                    pipe.hsetnx(target, field, value)
            elif reply:
                pipe.zadd(target, dict(reply), nx=True)

    await pipes.execute(move)
    await pipes.execute(lambda pipe: [pipe.delete(name) for name in found])
    return len(found)
