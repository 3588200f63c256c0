"""Opening Salesforce cases for escalations against a local server that answers like Salesforce
(:mod:`tests.streams.salesforce_fake`): token, upsert created / existing (200 and the older 204),
the case number read, a 401 renewing the token, 503 then success after Retry-After, 400
INVALID_FIELD refused for good into a dead letter, and an escalation handled once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st

from carriers.oauth import ClientCredentials, TokenRequest
from carriers.salesforce_om.cases import CaseTarget, ExceptionFacts, case_fields, judge
from streams.cases.client import CaseClient
from streams.cases.handled import HandledEscalations
from streams.cases.opening import Opened, Refused, open_case
from tests.streams.salesforce_fake import (
    API,
    FIELD,
    INVALID_FIELD,
    SESSION_EXPIRED,
    UNAVAILABLE,
    FakeSalesforce,
    Reply,
)
from wismo.events import ExceptionEscalatedEvent, event_from_dict

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
FACTS = ExceptionFacts("1001", "late_vs_promise", "high", "SH-2", "Parcel late vs promise")


def escalation(exception_id: str = "exc:late-sh2", by: str = "agent-7") -> ExceptionEscalatedEvent:
    event = event_from_dict(
        {
            "event_id": f"agent:esc:{exception_id}:{by}",
            "source": "agent",
            "kind": "exception.escalated",
            "order_id": "ORD-1001",
            "occurred_at": "2026-03-04T11:00:00Z",
            "payload": {"exception_id": exception_id, "reason": "customer called twice", "by": by},
        }
    )
    assert isinstance(event, ExceptionEscalatedEvent)
    return event


class Parts:
    def __init__(
        self, fake: FakeSalesforce, session: aiohttp.ClientSession, handled: HandledEscalations
    ) -> None:
        self.fake, self.session, self.handled = fake, session, handled
        self.sleeps: list[float] = []
        self.client = case_client(fake, session, self.sleeps)

    async def open(self, event: ExceptionEscalatedEvent | None = None) -> Opened | Refused | None:
        chosen = event or escalation()

        async def facts(_: ExceptionEscalatedEvent) -> ExceptionFacts:
            return FACTS

        raw = orjson.dumps(chosen.model_dump(mode="json"))
        return await open_case(
            chosen, raw, client=self.client, handled=self.handled, facts=facts, now=lambda: NOW
        )


def case_client(
    fake: FakeSalesforce,
    session: aiohttp.ClientSession,
    sleeps: list[float],
    secret: str = "s3cret",
) -> CaseClient:
    url = f"{fake.base}/services/oauth2/token"
    tokens = ClientCredentials(session, TokenRequest(url, "cid", secret, False, {}, {}))
    target = CaseTarget(fake.base, API, FIELD, "wismo")

    async def sleep(seconds: float) -> None:  # the waits asked for, without waiting
        sleeps.append(seconds)

    return CaseClient(session, target, tokens, attempts=4, backoff_s=0.5, sleep=sleep)


@pytest.fixture
async def parts() -> AsyncIterator[Parts]:
    fake = FakeSalesforce()
    server = TestServer(fake.app())
    await server.start_server()
    fake.base = str(server.make_url("")).rstrip("/")
    redis = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"wismo-test-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session:
        made = Parts(fake, session, HandledEscalations(redis, prefix))
        try:
            yield made
        finally:
            keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()
            await server.close()


def opened(outcome: Any) -> dict[str, Any]:
    assert isinstance(outcome, Opened), outcome
    event = outcome.event
    assert (event.kind, event.source, event.order_id) == (
        "exception.case_opened",
        "servicecloud",
        "ORD-1001",
    )
    payload: dict[str, Any] = event.payload.model_dump(mode="json")
    return {"event_id": event.event_id, **payload}


async def test_an_escalation_opens_a_case_by_external_id_and_reads_its_number(parts: Parts) -> None:
    case = opened(await parts.open())
    (stored,) = parts.fake.cases.values()
    assert case["case_id"] == stored["Id"]
    assert case["case_number"] == "00001026"
    assert case["system"] == "salesforce"
    assert case["url"] == f"{parts.fake.base}/lightning/r/Case/{stored['Id']}/view"
    ((value, fields, _),) = parts.fake.upserts
    assert value == "exc:late-sh2"  # the exception id, through the URL's escaping
    assert fields == {
        "Subject": "Late vs promise on order 1001 (SH-2)",
        "Description": "Escalated by agent-7: customer called twice\nOrder id: ORD-1001\n"
        "Exception id: exc:late-sh2\nWhat happened: Parcel late vs promise",
        "Origin": "wismo",
        "Priority": "High",
    }
    assert parts.fake.tokens_issued == 1
    assert parts.sleeps == []


@pytest.mark.parametrize("legacy_204", [False, True])
async def test_an_existing_case_is_the_same_case_and_the_same_event(
    parts: Parts, legacy_204: bool
) -> None:
    first = opened(await parts.open())
    parts.fake.legacy_204 = legacy_204
    again = opened(await parts.open(escalation(by="lead-1")))  # another escalation, same exception
    assert again == first
    assert len(parts.fake.cases) == 1
    assert len(parts.fake.upserts) == 2


async def test_a_rejected_token_is_renewed_once(parts: Parts) -> None:
    opened(await parts.open(escalation("exc:a")))
    parts.fake.queued.append(Reply(401, SESSION_EXPIRED))
    opened(await parts.open(escalation("exc:b")))
    assert parts.fake.tokens_issued == 2
    assert parts.fake.upserts[-1][2] == "Bearer tok-2"
    assert parts.sleeps == []


async def test_unavailable_then_success_waits_as_retry_after_says(parts: Parts) -> None:
    parts.fake.queued.extend(
        [Reply(503, UNAVAILABLE, {"Retry-After": "7"}), Reply(429, UNAVAILABLE)]
    )
    opened(await parts.open())
    assert parts.sleeps == [7.0, 14.0]  # the header, then the backoff doubling on from it
    assert len(parts.fake.cases) == 1


async def test_a_field_salesforce_does_not_know_is_a_dead_letter_at_once(parts: Parts) -> None:
    parts.fake.queued.append(Reply(400, INVALID_FIELD))
    outcome = await parts.open()
    assert isinstance(outcome, Refused)
    letter = outcome.letter
    assert "INVALID_FIELD" in letter.reason
    assert "exc:late-sh2" in letter.reason
    assert letter.source == "servicecloud"
    assert orjson.loads(letter.raw)["kind"] == "exception.escalated"
    assert parts.sleeps == []
    assert parts.fake.cases == {}


async def test_salesforce_down_through_every_attempt_is_a_dead_letter_not_a_stall(
    parts: Parts,
) -> None:
    parts.fake.queued.extend([Reply(503, UNAVAILABLE)] * 4)
    outcome = await parts.open()
    assert isinstance(outcome, Refused)
    assert "gave up after 4 attempts" in outcome.letter.reason
    assert parts.sleeps == [0.5, 1.0, 2.0]


async def test_credentials_the_token_endpoint_refuses_are_a_dead_letter(parts: Parts) -> None:
    parts.client._tokens._request = TokenRequest(
        f"{parts.fake.base}/services/oauth2/token", "cid", "wrong", False, {}, {}
    )
    outcome = await parts.open()
    assert isinstance(outcome, Refused)
    assert "invalid_client" in outcome.letter.reason


async def test_an_escalation_handled_before_is_not_sent_again(parts: Parts) -> None:
    outcome = await parts.open()
    assert isinstance(outcome, Opened)
    await parts.handled.remember(escalation().event_id, outcome.record)
    assert await parts.open() is None
    assert len(parts.fake.upserts) == 1


@given(st.integers(100, 599), st.none() | st.floats(0, 100))
def test_every_answer_has_one_meaning(status: int, retry_after: float | None) -> None:
    verdict = judge(status, INVALID_FIELD, retry_after)
    if 200 <= status < 300:
        assert verdict.action == "done"
    elif status == 401:
        assert verdict.action == "renew"
    elif status == 429 or status >= 500:
        assert (verdict.action, verdict.wait_s) == ("retry", retry_after)
    else:
        assert verdict.action == "refused"
        assert "INVALID_FIELD" in verdict.reason


@given(st.sampled_from(["critical", "high", "medium", "low", None, "odd"]), st.text(max_size=400))
def test_case_fields_fit_salesforce(severity: str | None, subject: str) -> None:
    target = CaseTarget("https://acme.my.salesforce.com", "v60.0", FIELD, "wismo")
    fields = case_fields(
        target, escalation(), ExceptionFacts(subject=subject or None, severity=severity)
    )
    assert fields["Priority"] in {"High", "Medium", "Low"}
    assert len(fields["Subject"]) <= 255
    assert fields["Origin"] == "wismo"
