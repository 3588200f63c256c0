"""Batches for the agents: everything that is ready, as soon as the agent is free.

Faust's ``Stream.take_events(max, within)`` wakes every ``within`` seconds whether or not a
message came, so a message waits half that window on average at every hop, and the buffer stops
filling while the agent works on the previous batch (its processor blocks until the batch is
consumed), so the agent's work and Faust's per-message machinery add up on the one event loop.

:func:`take_ready` hands the agent the messages buffered so far the moment it asks for a batch
and at least one is there, together with those already waiting in the stream's queue; while the
agent works on a batch, the stream keeps filling the next one (up to ``max_``, then it waits).
Under light load a batch is one message and adds no wait. When the agent is not keeping up —
messages were already waiting when it asked, or its partition holds many more records than the
batch (the consumer's lag) — the batch fills until its oldest message has waited ``fill_s`` (or
until ``max_``), so that the batch's fixed costs (Redis and broker round trips) are spread over
more messages, as Faust's fixed window did, but only when nothing is gained by hurrying.

**Not used by the agents**: on the 2-core bench machine it took p50 POST → Redis commit from
45 and 58 ms to 28 and 38 ms at 100 webhooks/s, but at 500/s it was 1.4 to 13 times slower
than Faust's window (the worker saturates; see ``wismo bench hops``' spans). The agents take
:func:`take_window` batches (Faust's ``take_events``, with the spans) until that is understood.

The guarantee stays at-least-once: a batch's messages are acknowledged (so their offsets may be
committed) only when the agent comes back for the next batch, that is after it finished the
batch (its Redis commit and its sends acknowledged by the broker). A batch the agent abandons
with an exception is not acknowledged: it is consumed again after a restart.

:class:`HopSpans` records, when asked (``WISMO_SPANS_FILE``, for ``wismo bench hops``), where a
message's time goes in this hop: created by its producer → returned by the fetch in Faust's
consumer thread (the producer's send, the broker, the fetch) → received on the agents' event
loop (the hand-over between the threads) → in the agent's buffer (Faust's stream) → handed to
the agent (the batch wait) → batch done (the agent's work and its sends' acknowledgements).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

#: records still in the partition after a batch's last message that show the agent is behind
#: (see :func:`take_ready`'s ``fill_s``); at hundreds of messages a second an agent that keeps
#: up finds only a few
BEHIND = 64

#: the environment variable naming the file :class:`HopSpans` appends to (unset: no spans)
SPANS_ENV = "WISMO_SPANS_FILE"


class HopSpans:
    """Appends one JSON line per batch: the agent, when the batch was handed over and done, and
    per message its record timestamp, the consumer thread's fetch returning it, the consumer's
    receipt on the agents' loop and its buffering (seconds since the epoch, this host's clock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: IO[bytes] | None = None
        # Faust's monitor stamps a message's receipt on the monotonic clock
        self._wall_offset = time.time() - time.monotonic()
        #: (topic, partition, offset) → when the consumer thread's fetch returned the record
        self.fetched: dict[tuple[str, int, int], float] = {}
        _stamp_fetches(self)

    @classmethod
    def from_environment(cls) -> HopSpans | None:
        path = os.environ.get(SPANS_ENV)
        return cls(Path(path)) if path else None

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def record(
        self, agent: str, events: Sequence[Any], buffered: Sequence[float], taken: float
    ) -> None:
        done = time.time()
        offset = self._wall_offset
        records = []
        fetched = self.fetched
        for event, at in zip(events, buffered, strict=True):
            message = event.message
            received = message.time_in
            records.append(
                (
                    message.timestamp,
                    fetched.pop((message.topic, message.partition, message.offset), None),
                    received + offset if received is not None else None,
                    at,
                )
            )
        line = {"agent": agent, "taken": taken, "done": done, "records": records}
        if self._out is None:
            self._out = self.path.open("ab")
        self._out.write(orjson.dumps(line) + b"\n")
        self._out.flush()


def _stamp_fetches(spans: HopSpans) -> None:
    """Note when Faust's consumer thread hands each fetched record over (for spans only)."""
    from faust.transport.drivers import aiokafka as driver

    thread = driver.AIOKafkaConsumerThread
    fetch = getattr(thread._fetch_records, "unstamped", thread._fetch_records)

    async def stamped(self: Any, *args: Any, **kwargs: Any) -> Any:
        records = await fetch(self, *args, **kwargs)
        now = time.time()
        for tp, batch in records.items():
            for record in batch:
                spans.fetched[(tp.topic, tp.partition, record.offset)] = now
        if len(spans.fetched) > 100_000:  # records no agent of ours took
            spans.fetched.clear()
        return records

    stamped.unstamped = fetch  # type: ignore[attr-defined]
    thread._fetch_records = stamped  # type: ignore[method-assign]


async def take_window(
    stream: Any, max_: int, within: float, *, agent: str = "", spans: HopSpans | None = None
) -> AsyncIterator[list[Any]]:
    """Faust's ``take_events(max_, within)`` batches, with the batch's spans recorded when asked
    (the buffering moment is not known there: it is taken to be the hand-over)."""
    async for batch in stream.take_events(max_, within=within):
        taken = time.time()
        yield batch
        if spans is not None:
            spans.record(agent, batch, [taken] * len(batch), taken)


def _lag(stream: Any, event: Any) -> int:
    """Records after ``event``'s in its partition, as of the consumer's last fetch."""
    message = event.message
    consumer = getattr(stream.app, "_consumer", None)  # never create one (Faust's test context)
    if consumer is None:
        return 0
    try:
        highwater = consumer.highwater(message.tp)
    except Exception:  # the consumer not started, or the partition just revoked
        return 0
    return int(highwater) - message.offset - 1 if highwater is not None else 0


async def take_ready(
    stream: Any,
    max_: int,
    *,
    fill_s: float = 0.0,
    agent: str = "",
    spans: HopSpans | None = None,
) -> AsyncIterator[list[Any]]:
    """Batches of up to ``max_`` Faust events from ``stream``: whatever is buffered when the
    agent asks, waiting only while nothing is (see the module's documentation)."""
    events: list[Any] = []
    buffered: list[float] = []
    ready = asyncio.Event()
    full = asyncio.Event()
    first_at = [0.0]  # when the oldest buffered message came (monotonic)
    room = asyncio.Event()
    room.set()
    track = spans is not None

    async def add_to_buffer(value: Any) -> Any:
        while len(events) >= max_:
            room.clear()
            await room.wait()
        event = stream.current_event
        if event is None:
            raise RuntimeError("the batch buffer found no current event")
        if not events:
            first_at[0] = time.monotonic()
        events.append(event)
        if track:
            buffered.append(time.time())
        ready.set()
        if len(events) >= max_:
            full.set()
        return value

    queue = getattr(stream.channel, "queue", None)
    pending = queue.qsize if queue is not None else (lambda: 0)

    acks_enabled = stream.enable_acks
    stream.enable_acks = False  # acknowledged below, once the agent is done with the batch
    stream.add_processor(add_to_buffer)
    stream._enable_passive(stream.channel.__aiter__())
    try:
        idle = True  # the agent waited for this batch's first message
        while not stream.should_stop:
            if not events:
                ready.clear()
                await ready.wait()  # a stopping worker cancels the agent here
                idle = True
                continue
            # messages already delivered to the stream join the batch (not those still to come):
            # under load batches grow to what the consumer holds, at no wait when it is idle
            for _ in range(max_):
                if len(events) >= max_ or not pending():
                    break
                await asyncio.sleep(0)
            behind = not idle or _lag(stream, events[-1]) >= BEHIND
            if fill_s > 0 and behind and len(events) < max_:
                # messages were waiting for the agent: it is not keeping up, and a fuller batch
                # spreads the batch's fixed costs (round trips) over more messages
                # the window counts from the oldest message's arrival, so none waits longer
                # than fill_s for company (Faust's fixed window: up to fill_s, half on average)
                remaining = first_at[0] + fill_s - time.monotonic()
                if remaining > 0:
                    full.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(full.wait(), remaining)
            idle = False
            batch, events = events, []
            stamps, buffered = buffered, []
            room.set()
            taken = time.time()
            yield batch  # an exception or close here leaves the batch unacknowledged
            if spans is not None:
                spans.record(agent, batch, stamps, taken)
            for event in batch:
                await stream.ack(event)
    finally:
        stream.enable_acks = acks_enabled
        stream._processors.remove(add_to_buffer)
