"""The agents' batches (:func:`streams.batching.take_ready`) on Faust's own test transport: what
is buffered goes to the agent as soon as it asks, the next batch fills while it works, never more
than the maximum, and a batch is acknowledged only once the agent is done with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import orjson
import pytest

from streams import batching
from streams.batching import BEHIND, HopSpans, take_ready, take_window

MAX = 4
APPS: list[Any] = []


@pytest.fixture(autouse=True)
def _close_consumer_loops() -> Iterator[None]:
    """Faust's stream creates the app's consumer, whose thread has an event loop of its own that
    the test context never starts nor closes."""
    yield
    while APPS:
        consumer = APPS.pop()._consumer
        if consumer is not None:
            consumer._thread.thread_loop.close()


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.acked_when_taken: list[list[bool]] = []
        self.events: list[Any] = []
        self.first_taken = asyncio.Event()
        self.release_first = asyncio.Event()


def _app(
    spans: HopSpans | None,
    recorder: Recorder,
    fail_on: bytes | None = None,
    fill_s: float = 0.0,
) -> Any:
    app = faust.App(
        "test-batching", broker="kafka://127.0.0.1:1", autodiscover=False, web_enabled=False
    )
    APPS.append(app)
    topic = app.topic("in", value_serializer="raw")

    async def agent(stream: Any) -> AsyncIterator[None]:
        async for batch in take_ready(stream, MAX, fill_s=fill_s, agent="test", spans=spans):
            values = [e.value for e in batch]
            recorder.batches.append(values)
            recorder.acked_when_taken.append([e.message.acked for e in batch])
            recorder.events += batch
            if len(recorder.batches) == 1:
                recorder.first_taken.set()
                await recorder.release_first.wait()  # the agent is busy with its first batch
            if fail_on in values:
                raise RuntimeError("the agent failed on this batch")
            yield None

    return app.agent(topic, name="test-batching")(agent)


async def _put_while_busy(recorder: Recorder, context: Any, later: int) -> None:
    first = asyncio.create_task(context.put(b"0"))
    await asyncio.wait_for(recorder.first_taken.wait(), 5)
    puts = [asyncio.create_task(context.put(str(n).encode())) for n in range(1, later + 1)]
    for _ in range(50):  # let the stream buffer what it can while the agent is busy
        await asyncio.sleep(0)
    recorder.release_first.set()
    await asyncio.wait_for(asyncio.gather(first, *puts), 5)
    await asyncio.sleep(0.05)


def test_the_next_batch_fills_while_the_agent_works_and_never_exceeds_the_maximum() -> None:
    recorder = Recorder()

    async def main() -> None:
        agent = _app(None, recorder)
        async with agent.test_context() as context:
            await _put_while_busy(recorder, context, later=9)

    asyncio.run(main())
    assert recorder.batches[0] == [b"0"]  # handed over alone: no window to wait for
    # what came while the agent worked on the first batch was buffered meanwhile
    assert recorder.batches[1] == [b"1", b"2", b"3", b"4"]
    assert all(len(batch) <= MAX for batch in recorder.batches)
    assert [v for batch in recorder.batches for v in batch] == [str(n).encode() for n in range(10)]


def test_a_batch_is_acknowledged_only_once_the_agent_asks_for_the_next() -> None:
    recorder = Recorder()

    async def main() -> None:
        agent = _app(None, recorder)
        async with agent.test_context() as context:
            await _put_while_busy(recorder, context, later=3)

    asyncio.run(main())
    assert all(not acked for batch in recorder.acked_when_taken for acked in batch)
    # each batch was acknowledged when the agent came back for more
    assert len(recorder.batches) >= 2
    assert all(e.message.acked for e in recorder.events)


def test_a_batch_the_agent_fails_on_stays_unacknowledged() -> None:
    recorder = Recorder()

    async def main() -> None:
        agent = _app(None, recorder, fail_on=b"2")
        async with agent.test_context() as context:
            with pytest.raises(RuntimeError):
                await _put_while_busy(recorder, context, later=3)

    asyncio.run(main())
    failed = next(i for i, batch in enumerate(recorder.batches) if b"2" in batch)
    start = sum(len(batch) for batch in recorder.batches[:failed])
    assert start > 0
    assert all(e.message.acked for e in recorder.events[:start])
    assert not any(e.message.acked for e in recorder.events[start:])


def test_spans_record_each_batch_and_its_messages(tmp_path: Path) -> None:
    recorder = Recorder()
    spans = HopSpans(tmp_path / "spans.jsonl")

    async def main() -> None:
        agent = _app(spans, recorder)
        async with agent.test_context() as context:
            await _put_while_busy(recorder, context, later=3)

    asyncio.run(main())
    spans.close()
    lines = [orjson.loads(line) for line in (tmp_path / "spans.jsonl").read_bytes().splitlines()]
    # a batch is recorded when the agent comes back for another
    assert [len(line["records"]) for line in lines] == [len(b) for b in recorder.batches]
    for line in lines:
        assert line["agent"] == "test"
        assert line["taken"] <= line["done"]
        for _timestamp, _fetched, _received, buffered in line["records"]:
            assert buffered <= line["taken"]


def test_an_agent_behind_its_partition_fills_its_batch_an_idle_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run(lag: int) -> list[list[bytes]]:
        recorder = Recorder()
        recorder.release_first.set()  # the agent is never busy
        agent = _app(None, recorder, fill_s=0.3)
        monkeypatch.setattr(batching, "_lag", lambda stream, event: lag)
        async with agent.test_context() as context:
            first = asyncio.create_task(context.put(b"0"))
            for _ in range(20):
                await asyncio.sleep(0)
            await asyncio.gather(first, *(context.put(str(n).encode()) for n in range(1, 4)))
            await asyncio.sleep(0.05)
        return recorder.batches

    assert asyncio.run(run(0))[0] == [b"0"]  # keeping up: taken at once
    # behind: the batch waited (under its 0.3 s) until it was full
    assert asyncio.run(run(BEHIND))[0] == [b"0", b"1", b"2", b"3"]


def test_the_lag_is_what_the_partition_holds_after_the_message() -> None:
    class Consumer:
        def highwater(self, tp: object) -> int:
            return 100

    class Broken:
        def highwater(self, tp: object) -> int:
            raise RuntimeError("consumer not started")

    event = SimpleNamespace(message=SimpleNamespace(tp="t", offset=10))
    assert batching._lag(SimpleNamespace(app=SimpleNamespace(_consumer=Consumer())), event) == 89
    assert batching._lag(SimpleNamespace(app=SimpleNamespace(_consumer=Broken())), event) == 0
    assert batching._lag(SimpleNamespace(app=SimpleNamespace(_consumer=None)), event) == 0


def test_the_agents_window_batches_record_their_spans(tmp_path: Path) -> None:
    spans = HopSpans(tmp_path / "spans.jsonl")
    batches: list[list[bytes]] = []

    async def main() -> None:
        app = faust.App(
            "test-window", broker="kafka://127.0.0.1:1", autodiscover=False, web_enabled=False
        )
        APPS.append(app)

        async def agent(stream: Any) -> AsyncIterator[None]:
            async for batch in take_window(stream, MAX, 0.01, agent="test", spans=spans):
                batches.append([e.value for e in batch])
                yield None

        window = app.agent(app.topic("in", value_serializer="raw"), name="test-window")(agent)
        async with window.test_context() as context:
            for n in range(3):
                await context.put(str(n).encode())
            await asyncio.sleep(0.05)

    asyncio.run(main())
    spans.close()
    lines = [orjson.loads(line) for line in (tmp_path / "spans.jsonl").read_bytes().splitlines()]
    assert [v for batch in batches for v in batch] == [b"0", b"1", b"2"]
    assert [len(line["records"]) for line in lines] == [len(batch) for batch in batches]
    assert all(line["agent"] == "test" and line["taken"] <= line["done"] for line in lines)
