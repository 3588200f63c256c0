"""The intake journal: records survive as written, a torn tail is skipped, segments settle only
when their sends finish, and the offsets check names every group still behind."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cli.runtime.journal import Journal, JournalingProducer, Record, replay
from cli.runtime.settle import Group, behind


class _Producer:
    def __init__(self, *, acknowledge: bool = False) -> None:
        self.acknowledge = acknowledge
        self.sent: list[tuple[str, bytes | None, bytes | None, Any]] = []
        self.futures: list[asyncio.Future[None]] = []

    async def send(self, topic: str, value: bytes | None = None, **kwargs: Any) -> Any:
        self.sent.append((topic, kwargs.get("key"), value, kwargs.get("headers")))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.acknowledge:
            future.set_result(None)
        self.futures.append(future)
        return future


def test_records_read_back_as_written_and_a_torn_tail_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    records = [
        Record("w.raw", b"k1", b'{"a":1}', (("wismo-source", b"ups"),)),
        Record("w.raw", None, b"\x00\xff", ()),
    ]
    segment = 0
    for record in records:
        segment = journal.append(record)
    journal.close()
    with journal.path(segment).open("ab") as file:  # a crash in the middle of a write
        file.write(Record("w.raw", b"k3", b"cut").encode()[:9])
    assert list(journal.records(segment)) == records


async def test_a_segment_settles_when_its_sends_finish_and_replays_after_a_crash(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    producer = _Producer()
    journaled = JournalingProducer(producer, journal)
    pending = await journaled.send("w.raw", b"v1", key=b"k", headers=[("h", b"x")])
    sealed = journal.seal()
    assert not journal.settled(sealed)
    producer.futures[0].set_result(None)
    await pending
    await asyncio.sleep(0)
    assert journal.settled(sealed)
    # a new process finds the segment still on disk and sends it again
    again = _Producer(acknowledge=True)
    assert await replay(Journal(tmp_path), again) == 1
    assert again.sent == [("w.raw", b"k", b"v1", [("h", b"x")])]


def test_behind_names_every_partition_a_group_has_not_committed_to_the_end() -> None:
    groups = (Group("agents", ("raw", "events")), Group("warehouse", ("events",)))
    ends = {("w.raw", 0): 3, ("w.events", 0): 5, ("w.events", 1): 0}
    committed = {"agents": {("w.raw", 0): 3, ("w.events", 0): 5}, "warehouse": {("w.events", 0): 4}}
    assert behind(groups, ends, committed) == ["warehouse w.events[0] 4/5"]
    committed["warehouse"][("w.events", 0)] = 5
    assert behind(groups, ends, committed) == []
    assert behind(groups, ends, {}) == ["agents w.events[0] -1/5", "agents w.raw[0] -1/3",
                                        "warehouse w.events[0] -1/5"]  # fmt: skip
