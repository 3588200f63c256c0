"""Redis memory per live order, by key family: what sizes a Redis (or each master of a cluster).

``wismo bench memory`` starts the embedded broker and a *private* ``redis-server`` (so nothing
else's keys count), runs the stream roles that write Redis — ``normalise`` (with the link agent),
``timeline``, ``sweeper``, ``notify`` and ``poll`` (UPS, FedEx, USPS and DHL configured as
polled carriers, with no age limit, as the generated histories lie in the past) — as one real
``wismo run`` process, and publishes a generated history (:mod:`bench.history`: every kind of
order and trouble, half the parcels still on their way, re-deliveries, late and early scans) as
raw payloads. Once every order has its
timeline and the key count and memory have stood still, the worker is stopped and every key
under the run's prefix is measured with ``MEMORY USAGE key SAMPLES 0`` (exact for aggregates),
grouped by key family (:func:`family`), beside the server's ``INFO memory`` ``used_memory``
before and after (which adds the main dictionary's and expiry table's own overhead).

The development sinks (``wismo up``'s SMTP/SMS/webhook receivers) keep what they receive in the
same Redis (``{notify}:outbox:…``): counted apart and left out of the per-order total, since a
production deployment sends to real providers.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from pydantic import SecretStr

from bench.stack import Stack, bench_settings, start
from cli.runtime.embedded import EmbeddedServices, free_port, stop_process
from projections.redis_keys import RedisKeys
from wismo.settings import CarrierCredentials, Settings

#: hash tags that name an index rather than an order
TAGS = frozenset({"idx", "retention", "exceptions", "notify", "poll", "unmatched", "limit"})
#: families the development sinks write; not part of a deployment's memory
DEV_ONLY = ("notify:outbox",)
ROLES = "normalise,timeline,sweeper,notify,poll"
#: carriers polled directly: their live parcels enter the poll index (the API behind the URL is
#: never reached during a run, since the first poll of a parcel is hours away)
POLLED = ("ups", "fedex", "usps", "dhl")
UNREACHABLE = "http://127.0.0.1:9"
KEEP_POLLING_DAYS = 36_500.0
#: how long the key count and memory must stand still before measuring (s)
SETTLED_S = 6.0
#: a relative change of used_memory that still counts as standing still
MEMORY_TOLERANCE = 0.005


@dataclass(frozen=True)
class MemoryOptions:
    orders: int = 5_000
    seed: int = 1
    timeout_s: float = 900.0


def family(prefix: str, key: str) -> str:
    """The key's family: ``order:events``, ``track``, ``agent-search:email``, ``notify:msg``…"""
    rest = key[len(prefix) + 1 :] if key.startswith(prefix + ":") else key
    parts = rest.split(":")
    head = parts[0]
    if head.startswith("{") and head.endswith("}") and head[1:-1] not in TAGS:
        return f"order:{parts[1]}" if len(parts) > 1 else "order"
    if head in ("track", "park", "lookup"):
        return head
    if head == "api" and len(parts) > 2 and parts[1] == "idx":
        return f"agent-search:{parts[2]}"
    tag = head.strip("{}")
    return f"{tag}:{parts[1]}" if len(parts) > 1 else tag


def measure_keys(client: redis.Redis, prefix: str) -> dict[str, tuple[int, int, int]]:
    """family -> (keys, bytes by ``MEMORY USAGE … SAMPLES 0``, keys that carry an expiry)."""
    keys = [k.decode() for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for start_at in range(0, len(keys), 500):
        chunk = keys[start_at : start_at + 500]
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.memory_usage(key, samples=0)
            pipe.pttl(key)
        answers = pipe.execute()
        for index, key in enumerate(chunk):
            used, ttl = answers[2 * index], answers[2 * index + 1]
            entry = totals[family(prefix, key)]
            entry[0] += 1
            entry[1] += int(used or 0)
            entry[2] += 1 if ttl is not None and ttl >= 0 else 0
    return {name: (count, size, expiring) for name, (count, size, expiring) in totals.items()}


def index_entries(client: redis.Redis, prefix: str, names: Iterable[str]) -> dict[str, int]:
    """Entries (fields or members) of each one-key index, e.g. ``idx:exceptions`` -> its rows."""
    found: dict[str, int] = {}
    for key in client.scan_iter(match=f"{prefix}:{{*}}:*", count=1000):
        name = family(prefix, key.decode())
        if name not in names or name.startswith("order:"):
            continue
        answer = client.type(key)
        kind = answer.decode() if isinstance(answer, bytes) else str(answer)
        length = {"hash": client.hlen, "zset": client.zcard, "set": client.scard}.get(kind)
        if length is not None:
            found[name] = int(length(key))
    return found


def used_memory(client: redis.Redis) -> int:
    info: dict[str, Any] = client.info("memory")
    return int(info["used_memory"])


def missing_timelines(client: redis.Redis, keys: RedisKeys, order_ids: Iterable[str]) -> int:
    pipe = client.pipeline(transaction=False)
    ids = list(order_ids)
    for order_id in ids:
        pipe.exists(keys.state(order_id))
    return sum(1 for found in pipe.execute() if not found)


def polling(settings: Settings) -> Settings:
    credentials = CarrierCredentials(
        base_url=UNREACHABLE,
        client_id="bench",
        client_secret=SecretStr("bench"),
        api_key=SecretStr("bench"),
    )
    carriers = dict.fromkeys(POLLED, credentials)
    return settings.model_copy(
        # the generated histories lie months back: keep their live parcels on the poll clock
        update={
            "poll": settings.poll.model_copy(
                update={"carriers": carriers, "max_age_days": KEEP_POLLING_DAYS}
            )
        }
    )


def run(options: MemoryOptions, progress: Callable[[str], None]) -> dict[str, Any]:
    from bench.history import generate, publish

    history = generate(options.orders, seed=options.seed)
    order_ids = list(history.by_order())
    events = len(history.valid_events)
    progress(f"{len(history.messages)} raw payloads: {events} events of {len(order_ids)} orders")
    with tempfile.TemporaryDirectory(prefix="wismo-bench-") as scratch:
        requested = polling(bench_settings(Path(scratch)))
        services = EmbeddedServices(requested, use_local_redis=False, dev_sinks=True)
        with services:
            settings = services.settings
            assert settings.redis.url is not None
            client = redis.Redis.from_url(settings.redis.url)
            prefix = settings.redis.key_prefix
            before = used_memory(client)
            command = ["-m", "cli.main", "run", "--roles", ROLES, "--web-port", str(free_port())]
            worker = start(Stack(settings, Path(scratch)), "worker", command)
            try:
                asyncio.run(publish(settings, history.messages))
                _settle(client, worker, RedisKeys(prefix), order_ids, options, progress)
            finally:
                stop_process(worker.process, "worker")
            families = measure_keys(client, prefix)
            after = used_memory(client)
            single = [name for name, (count, _, _) in families.items() if count == 1]
            entries = index_entries(client, prefix, single)
            client.close()
    summary = summarise(options.orders, events, families, after - before)
    for name, count in sorted(entries.items()):
        size = families[name][1]
        summary[f"index {name}"] = f"{count} entries, {size / max(count, 1):.0f} B each"
    return summary


def _settle(
    client: redis.Redis,
    worker: Any,
    keys: RedisKeys,
    order_ids: list[str],
    options: MemoryOptions,
    progress: Callable[[str], None],
) -> None:
    """Until every order has its timeline and the data stopped changing."""
    deadline = time.monotonic() + options.timeout_s
    last: tuple[int, int] | None = None
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(worker.failure())
        time.sleep(1.0)
        missing = missing_timelines(client, keys, order_ids)
        now = (int(client.dbsize()), used_memory(client))
        # client buffers move used_memory a little while nothing is written: a tolerance
        if missing or last is None or now[0] != last[0] or _moved(now[1], last[1]):
            last, still_since = now, time.monotonic()
            continue
        if time.monotonic() - still_since >= SETTLED_S:
            progress(f"settled: {now[0]} keys, {now[1]:,} bytes used")
            return
    raise RuntimeError(f"not settled in {options.timeout_s:.0f}s: {last}")


def _moved(now: int, then: int) -> bool:
    return abs(now - then) > MEMORY_TOLERANCE * then


def summarise(
    orders: int, events: int, families: dict[str, tuple[int, int, int]], used_delta: int
) -> dict[str, Any]:
    live = {name: value for name, value in families.items() if not name.startswith(DEV_ONLY)}
    dev = sum(size for name, (_, size, _) in families.items() if name.startswith(DEV_ONLY))
    keyed = sum(size for _, size, _ in live.values())
    summary: dict[str, Any] = {
        "scenario": "memory",
        "orders": orders,
        "events": events,
        "events_per_order": round(events / orders, 2),
        "bytes_per_order_memory_usage": round(keyed / orders),
        "bytes_per_order_used_memory": round((used_delta - dev) / orders),
        "keys_per_order": round(sum(count for count, _, _ in live.values()) / orders, 2),
        "dev_sink_bytes_excluded": dev,
    }
    for name, (count, size, expiring) in sorted(live.items(), key=lambda item: -item[1][1]):
        summary[f"family {name}"] = (
            f"{count} keys ({expiring} expiring), {size / orders:.0f} B/order"
        )
    return summary
