"""When has the stream carried everything sent so far into Redis and ClickHouse?

``wismo up`` runs two consumer groups: the agents' (normalise and link read raw and tracking,
the timeline agent reads events and writes Redis, the sweeper reads timeline) and the
warehouse's (events, tracking and timeline into ClickHouse). Both commit an offset only after
what it covers is done: Faust flushes its producer before committing, so the outputs of a
committed input are on the broker; the warehouse commits only after chDB has the rows.

So once every group has committed up to the end offsets read at one moment, everything on the
broker at that moment has been processed and its outputs sent. Outputs feed further hops (raw
→ tracking → events → timeline → ClickHouse; a shipment releases parked scans back onto events),
so :func:`settle` reads the end offsets again and repeats until they stop moving or
:data:`HOPS` rounds have passed — the longest chain of hops a payload takes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wismo.settings import Settings
from wismo.topics import EVENTS, RAW, TIMELINE, TRACKING

log = logging.getLogger(__name__)

#: raw → tracking → (link) events → (release of parked scans) events → timeline → warehouse
HOPS = 6
POLL_S = 0.25
QUIET_S = 0.5


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    topics: tuple[str, ...]
    """logical topic names the group consumes"""


def up_groups(settings: Settings, agents_group: str, warehouse_group: str) -> tuple[Group, ...]:
    return (
        Group(agents_group, (RAW, TRACKING, EVENTS, TIMELINE)),
        Group(warehouse_group, (EVENTS, TRACKING, TIMELINE)),
    )


def behind(
    groups: tuple[Group, ...],
    ends: Mapping[tuple[str, int], int],
    committed: Mapping[str, Mapping[tuple[str, int], int]],
) -> list[str]:
    """``group topic[partition] committed/end`` for every partition not yet committed to
    ``ends`` (pure: the offsets are read by :class:`Offsets`)."""
    late = []
    for group in groups:
        offsets = committed.get(group.name, {})
        for (topic, partition), end in sorted(ends.items()):
            if topic.rsplit(".", 1)[-1] not in group.topics:
                continue
            done = offsets.get((topic, partition), -1)
            if max(done, 0) < end:
                late.append(f"{group.name} {topic}[{partition}] {done}/{end}")
    return late


class Offsets:
    """End offsets of the topics and committed offsets of the groups, from the broker.

    ``flush`` (this process's stream producer) runs before each reading of the end offsets, so
    what the process has queued but not yet sent is counted too.
    """

    def __init__(
        self,
        settings: Settings,
        groups: tuple[Group, ...],
        flush: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.groups = groups
        self.flush = flush
        self._admin: Any = None
        self._consumer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        bootstrap = self.settings.kafka.bootstrap
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    def _partitions(self) -> list[Any]:
        from aiokafka import TopicPartition

        topics = sorted({name for group in self.groups for name in group.topics})
        return [
            TopicPartition(self.settings.topic(name), partition)
            for name in topics
            for partition in range(self.settings.kafka.partitions)
        ]

    async def ends(self) -> dict[tuple[str, int], int]:
        if self.flush is not None:
            await self.flush()
        ends = await self._consumer.end_offsets(self._partitions())
        return {(tp.topic, tp.partition): int(end) for tp, end in ends.items()}

    async def committed(self) -> dict[str, dict[tuple[str, int], int]]:
        partitions = self._partitions()
        found: dict[str, dict[tuple[str, int], int]] = {}
        for group in self.groups:
            offsets = await self._admin.list_consumer_group_offsets(
                group.name, partitions=partitions
            )
            found[group.name] = {
                (tp.topic, tp.partition): int(getattr(meta, "offset", -1))
                for tp, meta in offsets.items()
                if meta is not None
            }
        return found


async def group_lag(settings: Settings, group: str, logical_topics: tuple[str, ...]) -> int:
    """Messages of ``logical_topics`` not yet committed by consumer group ``group``."""
    offsets = Offsets(settings, (Group(group, logical_topics),))
    await offsets.start()
    try:
        done = (await offsets.committed()).get(group, {})
        ends = await offsets.ends()
    finally:
        await offsets.stop()
    # Tansu may report a commit past the end
    return sum(max(end - max(done.get(tp, -1), 0), 0) for tp, end in ends.items())


async def settle(offsets: Offsets, timeout_s: float) -> bool:
    """Wait until everything on the broker now has been carried into the stores (see the
    module's docstring); False if ``timeout_s`` passed first."""
    deadline = time.monotonic() + timeout_s
    ends = await offsets.ends()
    for _ in range(HOPS):
        while True:
            late = behind(offsets.groups, ends, await offsets.committed())
            if not late:
                break
            if time.monotonic() >= deadline:
                log.warning("stream not settled after %.0fs: %s", timeout_s, "; ".join(late[:5]))
                return False
            await asyncio.sleep(POLL_S)
        again = await offsets.ends()
        if again == ends:
            # quiet for a moment too: an output being sent right now would move them
            await asyncio.sleep(QUIET_S)
            again = await offsets.ends()
            if again == ends:
                return True
        ends = again
    return True
