"""The ``cases`` agent in a real worker (``wismo run --roles timeline,notify``) on the embedded
broker, against the local Salesforce of :mod:`tests.streams.salesforce_fake`: an escalation
ends with one ``exception.case_opened`` on the events topic and the case number on the
exception, even when the worker is killed right after and started again; what Salesforce refuses
for good is a dead letter with the reason, and the escalations after it are still handled."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from cli.runtime.embedded import free_port
from cli.runtime.roles import group_id
from projections.connections import redis_client
from projections.exception_flow import timeline_from_json
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import example_order, read_topic
from tests.streams.harness import WorkerProcess, embedded_stack, group_lag, wait_until
from tests.streams.salesforce_fake import API, FIELD, INVALID_FIELD, FakeSalesforce, Reply
from tests.streams.test_cases import escalation
from tests.streams.test_sweeper_broker import send
from wismo.deadletter import DeadLetter
from wismo.events import parse_event
from wismo.settings import CasesSettings, Settings
from wismo.topics import DEADLETTER, EVENTS

pytestmark = pytest.mark.slow

ROLES = "timeline,notify"


class Salesforce:
    """The fake on a port of its own, served from a thread (the test itself is synchronous)."""

    def __init__(self) -> None:
        self.fake = FakeSalesforce()
        self.port = free_port()
        self.fake.base = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Salesforce:
        self.thread.start()
        self.runner = web.AppRunner(self.fake.app(), access_log=None)
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def salesforce() -> Iterator[Salesforce]:
    with Salesforce() as running:
        yield running


def dead_letters(settings: Settings) -> list[DeadLetter]:
    return [DeadLetter.from_json(r.value) for r in asyncio.run(read_topic(settings, DEADLETTER))]


def case_events(settings: Settings) -> list[str]:
    records = asyncio.run(read_topic(settings, EVENTS))
    return [
        e.event_id
        for e in map(parse_event, (r.value for r in records))
        if e.kind == "exception.case_opened"
    ]


async def case_number_shown(settings: Settings) -> str | None:
    client = await redis_client(settings)
    try:
        raw = await RedisTimelineStore(client, settings.redis.key_prefix).timeline("ORD-1001")
    finally:
        await client.aclose()
    if raw is None:
        return None
    view = next(v for v in timeline_from_json(raw).exceptions if v.exception_id == "exc:late-sh2")
    return None if view.case is None else view.case.case_number


def test_an_escalation_opens_one_case_through_a_restart(
    tmp_path: Path, salesforce: Salesforce
) -> None:
    cases = CasesSettings(
        enabled=True,
        instance_url=salesforce.fake.base,
        client_id="cid",
        client_secret=SecretStr("s3cret"),
        api_version=API,
        external_id_field=FIELD,
    )
    with embedded_stack(tmp_path, partitions=2) as stack:
        settings = stack.model_copy(update={"cases": cases})
        history = [e for e in example_order() if e.kind != "exception.resolved"]
        worker = WorkerProcess(settings, ROLES, tmp_path).start()
        try:
            asyncio.run(send(settings, [*history, escalation()]))
            assert wait_until(lambda: len(case_events(settings)) >= 1, 60, workers=(worker,)), (
                worker.log_tail()
            )
            worker.kill()  # at once: the escalation's offset is likely not committed yet
            worker.start()
            group = group_id(settings, ROLES.split(","))
            caught_up = wait_until(
                lambda: asyncio.run(group_lag(settings, group, (EVENTS,))) == 0,
                60,
                workers=(worker,),
            )
            assert caught_up, worker.log_tail()
            shown = wait_until(
                lambda: asyncio.run(case_number_shown(settings)) == "00001026",
                30,
                workers=(worker,),
            )
            assert shown, worker.log_tail()
            assert len(case_events(settings)) == 1  # through the kill and the restart
            assert len(salesforce.fake.upserts) == 1
            # Salesforce refuses the next one for good: a dead letter, and the partition moves on
            salesforce.fake.queued.append(Reply(400, INVALID_FIELD))
            asyncio.run(send(settings, [escalation("exc:refused"), escalation(by="lead-1")]))
            refused = wait_until(lambda: bool(dead_letters(settings)), 60, workers=(worker,))
            assert refused, worker.log_tail()
            again = wait_until(lambda: len(salesforce.fake.upserts) == 2, 30, workers=(worker,))
            assert again, worker.log_tail()  # the escalation after it was handled
        finally:
            worker.stop()
        # a second escalation of the same exception updates its case: the same event again
        assert len(set(case_events(settings))) == 1
        (letter,) = dead_letters(settings)
    assert "INVALID_FIELD" in letter.reason
    assert "exc:refused" in letter.reason
    assert salesforce.fake.tokens_issued == 2  # one per worker process, reused within it
