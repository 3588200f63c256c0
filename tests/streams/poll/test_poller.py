"""The poller against real local servers replaying recorded carrier answers, and a real Redis.

What a round publishes is collected as it would go to the raw topic, and parsed by the normalise
step's own function, so the test sees what the pipeline would make of it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from projections.poll.bucket import PollBucket
from projections.poll.index import NEW, NOTHING_NEW, PolledParcel, PollIndex, PollInfo
from streams.poll.apis import tracking_apis
from streams.poll.poller import Poller, answer_digest
from streams.routing import Where, normalise
from tests.carriers.carrier_server import CarrierServer, carrier_server
from tests.projections.conftest import REDIS_URL, drop_prefix
from wismo.settings import CarrierCredentials, PollSettings
from wismo.topics import Header, KafkaHeaders, decode_headers

FIXTURES = Path(__file__).parents[2] / "carriers"
UPS_NUMBER = "1Z5338FF0107231059"
UPS_TRACK = f"/api/track/v1/details/{UPS_NUMBER}"
UPS_TOKEN = "/security/v1/oauth/token"
FEDEX_TRACK = "/track/v1/trackingnumbers"
DHL_TRACK = "/track/shipments"
NOW = datetime.now(UTC).replace(microsecond=0)
SETTINGS = PollSettings(request_timeout_s=0.5, interval_s=1.0)


@dataclass
class Raw:
    key: bytes | None
    value: bytes
    headers: dict[str, str]


@dataclass
class Rig:
    server: CarrierServer
    index: PollIndex
    poller: Poller
    published: list[Raw] = field(default_factory=list)

    async def publish(self, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        self.published.append(Raw(key, value, decode_headers(headers)))

    async def info(self, number: str) -> PollInfo:
        info = await self.index.info(number)
        assert info is not None
        return info

    async def round(self, now: datetime = NOW) -> dict[str, int]:
        return (await self.poller.poll_due(now)).outcomes


def _credentials(base_url: str, **limits: float) -> dict[str, CarrierCredentials]:
    oauth = {"client_id": "id", "client_secret": SecretStr("secret"), "base_url": base_url}
    return {
        "ups": CarrierCredentials(**oauth, **limits),
        "fedex": CarrierCredentials(**oauth, **limits),
        "dhl": CarrierCredentials(api_key=SecretStr("key"), base_url=base_url, **limits),
    }


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    client = aioredis.Redis.from_url(REDIS_URL)
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        carriers = _credentials(server.base_url)
        index = PollIndex(client, prefix)
        bucket = PollBucket(client, prefix, carriers)
        rig = Rig(server, index, None)  # type: ignore[arg-type]
        rig.poller = Poller(index, bucket, tracking_apis(session, carriers), SETTINGS, rig.publish)
        try:
            yield rig
        finally:
            await drop_prefix(client, prefix)
            await client.aclose()


def _token(value: str) -> dict[str, str]:
    return {"token_type": "Bearer", "access_token": value, "expires_in": "14399"}


def _ups_parcel(**state: object) -> PolledParcel:
    return PolledParcel(UPS_NUMBER, "ups", "O1", "in_transit", **state)  # type: ignore[arg-type]


def _recorded(path: str) -> object:
    return orjson.loads((FIXTURES / path).read_bytes())


async def test_a_changed_answer_is_published_like_a_webhook_and_an_unchanged_one_is_not(
    rig: Rig,
) -> None:
    rig.server.answer("POST", UPS_TOKEN, _token("tok-1"))
    rig.server.answer("GET", UPS_TRACK, _recorded("ups/track_in_transit_edd.json"))
    await rig.index.schedule(_ups_parcel(), NOW)
    assert await rig.round() == {NEW: 1}
    (raw,) = rig.published
    assert raw.headers[Header.SOURCE.value] == "ups"
    assert raw.headers[Header.ORIGIN.value] == "poll"
    assert raw.headers[Header.CONTENT_TYPE.value] == "application/json"
    assert raw.key is not None
    assert raw.key.decode() == raw.headers[Header.DELIVERY_ID.value]
    outcome = normalise(raw.value, raw.headers, Where("wismo.raw", 0, 0), NOW)
    assert outcome.events
    assert outcome.dead_letter is None
    info = await rig.info(UPS_NUMBER)
    assert (info.last_result, info.last_polled_at, info.quiet_polls) == (NEW, NOW, 0)
    assert info.next_poll_at == NOW + timedelta(seconds=SETTINGS.in_transit_s)

    later = NOW + timedelta(seconds=SETTINGS.in_transit_s)
    assert await rig.round(later) == {NOTHING_NEW: 1}
    assert len(rig.published) == 1
    info = await rig.info(UPS_NUMBER)
    assert (info.last_result, info.quiet_polls) == (NOTHING_NEW, 1)
    stretched = SETTINGS.in_transit_s * SETTINGS.quiet_factor
    assert info.next_poll_at == later + timedelta(seconds=stretched)
    assert len(rig.server.calls_to(UPS_TOKEN)) == 1  # the token was cached


async def test_a_rejected_token_is_renewed_once(rig: Rig) -> None:
    rig.server.answer("POST", UPS_TOKEN, _token("tok-old"))
    rig.server.answer("POST", UPS_TOKEN, _token("tok-new"))
    rig.server.answer("GET", UPS_TRACK, {"response": {"errors": [{"code": "250002"}]}}, 401)
    rig.server.answer("GET", UPS_TRACK, _recorded("ups/track_delivered.json"))
    await rig.index.schedule(_ups_parcel(), NOW)
    assert await rig.round() == {NEW: 1}
    bearers = [c.headers["authorization"] for c in rig.server.calls_to(UPS_TRACK)]
    assert bearers == ["Bearer tok-old", "Bearer tok-new"]


async def test_429_honours_retry_after_and_holds_the_source_back(rig: Rig) -> None:
    rig.server.answer("POST", UPS_TOKEN, _token("tok-1"))
    rig.server.answer("GET", UPS_TRACK, {"error": "slow down"}, 429, headers={"Retry-After": "120"})
    rig.server.answer("GET", UPS_TRACK, _recorded("ups/track_in_transit_edd.json"))
    await rig.index.schedule(_ups_parcel(), NOW)
    assert await rig.round() == {"error": 1}
    info = await rig.info(UPS_NUMBER)
    assert (info.last_result, info.next_poll_at) == ("error: HTTP 429", NOW + timedelta(minutes=2))
    assert not rig.published
    # asked for at once, the parcel is not polled before the source's Retry-After has passed
    assert await rig.index.request_now(UPS_NUMBER, NOW + timedelta(seconds=1))
    assert await rig.round(NOW + timedelta(seconds=1)) == {"deferred": 1}
    assert len(rig.server.calls_to(UPS_TRACK)) == 1
    assert await rig.round(NOW + timedelta(minutes=2)) == {NEW: 1}


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_polls_again_soon_and_loses_nothing(rig: Rig, status: int) -> None:
    rig.server.answer("POST", UPS_TOKEN, _token("tok-1"))
    rig.server.answer("GET", UPS_TRACK, b"<html>upstream error</html>", status)
    rig.server.answer("GET", UPS_TRACK, _recorded("ups/track_in_transit_edd.json"))
    await rig.index.schedule(_ups_parcel(), NOW)
    assert await rig.round() == {"error": 1}
    info = await rig.info(UPS_NUMBER)
    assert info.last_result == f"error: HTTP {status}"
    assert info.next_poll_at == NOW + timedelta(seconds=60)
    assert await rig.round(NOW + timedelta(seconds=60)) == {NEW: 1}


async def test_a_number_the_carrier_does_not_know_yet_is_asked_again_on_its_cadence(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = {"response": {"errors": [{"code": "151044", "message": "No tracking information"}]}}
    rig.server.answer("POST", UPS_TOKEN, _token("tok-1"))
    rig.server.answer("GET", UPS_TRACK, unknown, 404)
    await rig.index.schedule(_ups_parcel(), NOW)
    with caplog.at_level(logging.INFO, logger="streams.poll.poller"):
        assert await rig.round() == {"error": 1}
    info = await rig.info(UPS_NUMBER)
    assert info.last_result == "error: HTTP 404"
    assert info.next_poll_at == NOW + timedelta(seconds=SETTINGS.in_transit_s)
    assert not rig.published
    # a label with no scans yet is no fault worth a warning; other refusals are
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "not known to the carrier yet" in caplog.records[0].getMessage()


async def test_a_timeout_polls_again_soon(rig: Rig) -> None:
    rig.server.answer("POST", UPS_TOKEN, _token("tok-1"))
    rig.server.answer("GET", UPS_TRACK, _recorded("ups/track_delivered.json"), delay_s=2.0)
    await rig.index.schedule(_ups_parcel(), NOW)
    assert await rig.round() == {"error": 1}
    info = await rig.info(UPS_NUMBER)
    assert (info.last_result, info.next_poll_at) == ("error: timeout", NOW + timedelta(seconds=60))


async def test_an_answer_that_is_not_json_is_recorded_and_keeps_the_cadence(rig: Rig) -> None:
    rig.server.answer("GET", DHL_TRACK, _raw("dhl/malformed.json"), 200)
    await rig.index.schedule(PolledParcel("00340434", "dhl", "O1", "in_transit"), NOW)
    assert await rig.round() == {"error": 1}
    info = await rig.index.info("00340434")
    assert info is not None
    assert info.last_result == "error: answer is not JSON"
    assert info.next_poll_at == NOW + timedelta(seconds=SETTINGS.in_transit_s)
    assert not rig.published


async def test_a_json_answer_the_parser_refuses_is_published_and_dead_lettered(rig: Rig) -> None:
    rig.server.answer("GET", DHL_TRACK, {"shipments": [{"id": 5, "events": "none"}]})
    await rig.index.schedule(PolledParcel("00340434", "dhl", "O1", "in_transit"), NOW)
    assert await rig.round() == {NEW: 1}
    (raw,) = rig.published
    outcome = normalise(raw.value, raw.headers, Where("wismo.raw", 0, 7), NOW)
    assert outcome.dead_letter is not None
    assert outcome.dead_letter.reason


async def test_fedex_echoes_are_not_news(rig: Rig) -> None:
    recorded = _recorded("fedex/in_transit_edd.json")
    assert isinstance(recorded, dict)
    again = {**recorded, "transactionId": "another", "customerTransactionId": "other"}
    assert answer_digest(recorded) == answer_digest(again)
    rig.server.answer("POST", "/oauth/token", _token("fx"))
    rig.server.answer("POST", FEDEX_TRACK, recorded)
    rig.server.answer("POST", FEDEX_TRACK, again)
    await rig.index.schedule(PolledParcel("794843185271", "fedex", "O1", "in_transit"), NOW)
    assert await rig.round() == {NEW: 1}
    later = NOW + timedelta(days=1)
    assert await rig.round(later) == {NOTHING_NEW: 1}
    (call, _) = rig.server.calls_to(FEDEX_TRACK)
    assert call.json()["trackingInfo"][0]["trackingNumberInfo"]["trackingNumber"] == "794843185271"


async def test_the_shared_rate_hands_parcels_back_for_later(rig: Rig) -> None:
    async with aiohttp.ClientSession() as session:
        carriers = _credentials(rig.server.base_url, rate_per_s=0.01)
        bucket = PollBucket(rig.index.client, rig.index.due_key.split(":{")[0], carriers)
        poller = Poller(rig.index, bucket, tracking_apis(session, carriers), SETTINGS, rig.publish)
        rig.server.answer("GET", DHL_TRACK, _recorded("dhl/express_delivered.json"))
        for n in range(3):
            await rig.index.schedule(PolledParcel(f"DHL{n}", "dhl", "O1", "in_transit"), NOW)
        report = await poller.poll_due(NOW)
    assert report.outcomes == {NEW: 1, "deferred": 2}
    assert len(rig.server.calls_to(DHL_TRACK)) == 1
    assert await rig.index.pending() == 3


def _raw(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


async def test_registered_parcels_are_polled_through_the_aggregator_tracker(rig: Rig) -> None:
    event = _recorded("easypost/delivered.json")
    assert isinstance(event, dict)
    trackers = {"EZ1": "trk_1"}

    async def tracker_of(number: str) -> str | None:
        return trackers.get(number)

    carriers = {
        "easypost": CarrierCredentials(api_key=SecretStr("k"), base_url=rig.server.base_url)
    }
    async with aiohttp.ClientSession() as session:
        apis = tracking_apis(session, carriers, tracker_of)
        bucket = PollBucket(rig.index.client, rig.index.due_key.split(":{")[0], carriers)
        poller = Poller(rig.index, bucket, apis, SETTINGS, rig.publish)
        rig.server.answer("GET", "/trackers/trk_1", event["result"])
        await rig.index.schedule(PolledParcel("EZ1", "easypost", "O1", "in_transit"), NOW)
        await rig.index.schedule(PolledParcel("EZ2", "easypost", "O2", "in_transit"), NOW)
        report = await poller.poll_due(NOW)
    assert report.outcomes == {NEW: 1, "error": 1}
    (raw,) = rig.published
    assert raw.headers[Header.SOURCE.value] == "easypost"
    assert orjson.loads(raw.value) == event["result"]
    info = await rig.info("EZ2")
    assert info.last_result == "error: not registered"
    assert info.next_poll_at == NOW + timedelta(seconds=SETTINGS.in_transit_s)
