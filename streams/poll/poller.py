"""The poller: call the tracking API of each due parcel and publish what changed as a raw payload.

One round (:meth:`Poller.poll_due`, on the poll role's timer) takes up to ``settings.poll.batch``
due parcels from the poll index (leased, so workers never poll the same parcel at once) and, for
each, concurrently:

1. waits for a token of its source's shared bucket (a long wait hands the parcel back to the
   index for then, so a busy source never holds a lease);
2. calls the API. 429 and 5xx, timeouts and unreachable APIs are *transient*: the parcel comes
   back after the answer's ``Retry-After`` (or :data:`RETRY_S`), and a 429 holds the whole
   source back in this worker until then. Any other refusal (404 unknown number, 401 even after
   a new token) or an answer that is not JSON is recorded (``last_result`` ``error: …``) and
   the parcel keeps its cadence;
3. digests the answer (without the per-request fields some APIs echo). Unchanged since the last
   poll: nothing is published and the poll counts as quiet (the cadence slows down). Changed:
   the answer is published on the raw topic exactly like a webhook — source, content type, a
   delivery id made of source, number and digest (a repeat is the same delivery), header
   ``wismo-origin: poll`` — so normalising, dedup, dead letters and replay treat it as one. An
   answer that is JSON but not what the parser expects is published all the same: the
   normaliser dead-letters it with its reason, to be replayed once the parser knows better;
4. completes the lease with the next poll time from the cadence.

Publishing comes before completing: a crash in between polls again, and the deterministic event
ids fold the repeat once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from carriers.errors import TrackingApiError
from projections.poll.bucket import PollBucket
from projections.poll.cadence import next_poll_at
from projections.poll.index import ERROR_PREFIX, NEW, NOTHING_NEW, PollIndex, PollLease
from streams.poll.apis import Fetch, NotRegistered
from wismo.settings import PollSettings
from wismo.topics import Header, KafkaHeaders, RawPayload

log = logging.getLogger(__name__)

ORIGIN = "poll"
#: a transient failure without Retry-After polls again after this long
RETRY_S = 60.0
#: parcels polled at once by one worker
CONCURRENCY = 16
#: top-level fields an API echoes per request (FedEx's transaction ids): not part of the news
VOLATILE_FIELDS = frozenset({"transactionId", "customerTransactionId"})

Publish = Callable[[bytes | None, bytes, KafkaHeaders], Awaitable[Any]]


def answer_digest(answer: object) -> str:
    """The digest of what an answer says about the parcel (keys sorted, echoes left out)."""
    if isinstance(answer, dict):
        answer = {k: v for k, v in answer.items() if k not in VOLATILE_FIELDS}
    return hashlib.sha256(orjson.dumps(answer, option=orjson.OPT_SORT_KEYS)).hexdigest()


def raw_message(
    source: str, tracking_number: str, answer: object, digest: str, at: datetime
) -> tuple[bytes | None, bytes, KafkaHeaders]:
    """The raw-topic message of one changed answer: key, value and headers."""
    payload = RawPayload(
        source=source,
        body=orjson.dumps(answer),
        received_at=at,
        delivery_id=f"poll:{source}:{tracking_number}:{digest[:32]}",
    )
    headers = [*payload.kafka_headers(), (Header.ORIGIN.value, ORIGIN.encode())]
    return payload.key, payload.body, headers


@dataclass
class PollReport:
    """What one round did, by outcome: ``new``, ``nothing_new``, ``error``, ``deferred``."""

    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class Poller:
    def __init__(
        self,
        index: PollIndex,
        bucket: PollBucket,
        apis: Mapping[str, Fetch],
        settings: PollSettings,
        publish: Publish,
    ) -> None:
        self.index = index
        self.bucket = bucket
        self.apis = apis
        self.settings = settings
        self.publish = publish
        self._held_back: dict[str, datetime] = {}  # source → after a 429, not before

    async def poll_due(self, now: datetime) -> PollReport:
        """One round: the parcels due at ``now``."""
        leases = await self.index.take(now, self.settings.batch, self.settings.lease_s)
        report = PollReport()
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(lease: PollLease) -> None:
            async with slots:
                report.add(await self.poll(lease, now))

        await asyncio.gather(*(one(lease) for lease in leases))
        return report

    async def poll(self, lease: PollLease, now: datetime) -> str:
        """Poll one leased parcel; returns the outcome."""
        source, number = lease.parcel.source, lease.parcel.tracking_number
        fetch = self.apis.get(source)
        if fetch is None:  # credentials removed since it was scheduled
            await self._record(lease, now, f"{ERROR_PREFIX}{source} is not configured", None)
            return "error"
        ready, granted = await self._token(source, now)
        if not granted:
            await self.index.release(lease, ready)
            return "deferred"
        try:
            answer = await asyncio.wait_for(fetch(number), self.settings.request_timeout_s)
        except TimeoutError:
            return await self._transient(lease, ready, "timeout", None)
        except TrackingApiError as error:
            return await self._refused(lease, ready, error)
        digest = answer_digest(answer)
        if digest == lease.info.digest:
            await self._record(lease, ready, NOTHING_NEW, lease.info.quiet_polls + 1)
            return NOTHING_NEW
        await self.publish(*raw_message(source, number, answer, digest, ready))
        await self._record(lease, ready, NEW, 0, digest)
        return NEW

    async def _token(self, source: str, now: datetime) -> tuple[datetime, bool]:
        """A token of ``source``'s bucket: ``(when, True)`` once taken (having waited a little
        if need be), or ``(when to come back, False)``."""
        held = self._held_back.get(source)
        if held is not None and held > now:
            return held, False
        at = now
        while (wait := await self.bucket.acquire(source, at)) > 0:
            if wait > self.settings.interval_s:
                return at + timedelta(seconds=wait), False
            await asyncio.sleep(wait)
            at += timedelta(seconds=wait)
        return at, True

    async def _refused(self, lease: PollLease, now: datetime, error: TrackingApiError) -> str:
        if isinstance(error, NotRegistered):  # its registration has not given a tracker id
            await self._record(lease, now, f"{ERROR_PREFIX}not registered", lease.info.quiet_polls)
            return "error"
        status = error.status
        if status is None or status == 429 or status >= 500:
            what = "unreachable" if status is None else f"HTTP {status}"
            hold = status == 429  # the source is throttling this worker, not just this parcel
            return await self._transient(lease, now, what, error.retry_after_s, hold)
        what = f"HTTP {status}" if not 200 <= status < 300 else "answer is not JSON"
        if status == 404:  # no scans of it yet (a label just made): asked again on its cadence
            log.info("polling %s: not known to the carrier yet", lease.parcel.tracking_number)
        else:
            log.warning("polling %s failed: %s", lease.parcel.tracking_number, error)
        await self._record(lease, now, ERROR_PREFIX + what, lease.info.quiet_polls)
        return "error"

    async def _transient(
        self,
        lease: PollLease,
        now: datetime,
        what: str,
        retry_after_s: float | None,
        hold_source: bool = False,
    ) -> str:
        source = lease.parcel.source
        again = now + timedelta(seconds=retry_after_s if retry_after_s is not None else RETRY_S)
        if hold_source:
            self._held_back[source] = max(again, self._held_back.get(source, again))
        log.info("polling %s: %s, again at %s", lease.parcel.tracking_number, what, again)
        await self.index.complete(lease, polled_at=now, result=ERROR_PREFIX + what, next_at=again)
        return "error"

    async def _record(
        self,
        lease: PollLease,
        now: datetime,
        result: str,
        quiet_polls: int | None,
        digest: str | None = None,
    ) -> None:
        parcel = lease.parcel
        next_at = None
        if quiet_polls is not None:
            next_at = next_poll_at(
                parcel.status,
                parcel.estimated_delivery,
                parcel.started_at,
                quiet_polls,
                now,
                self.settings,
            )
        await self.index.complete(
            lease, polled_at=now, result=result, next_at=next_at, digest=digest
        )
