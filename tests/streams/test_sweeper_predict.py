"""Live estimates on the sweeper's paths, over timelines in a real Redis, with an injected clock.

``publish`` stands in for the broker round trip, as in tests/streams/test_sweeper.py: it folds
the published events into the same store and runs the event path on what changed, for as long as
that publishes more (an estimate, then the exception it opens).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis.asyncio as aioredis

from projections.due_index import DueIndex
from projections.exception_flow import timeline_from_json
from projections.predict.live import ModelCache
from projections.predict.model import model_to_json
from projections.redis_store import RedisTimelineStore
from projections.timeline_model import Timeline
from streams.agents.sweeper import ExceptionSweeper, latest_per_order
from streams.predict_models import latest_model_loader, model_file
from tests.projections.predict.test_live import MODEL
from tests.projections.test_exceptions import Story, hours
from wismo.events import Event, EventKind
from wismo.settings import PredictSettings, Settings, SweeperSettings, ThresholdSettings
from wismo.vocab import ExceptionState, ExceptionType

PREDICT = PredictSettings(threshold=0.6, clear_threshold=0.4, recheck_s=6 * 3600.0)
#: no stall before the promised day, so the clock path has only estimates to do
QUIET = ThresholdSettings(stalled_hours=200)
SETTINGS = Settings(thresholds=QUIET, sweeper=SweeperSettings(batch=20), predict=PREDICT)


class Loop:
    """A store, a due index and sweepers with a model, whose events come back through the store."""

    def __init__(self, client: aioredis.Redis, prefix: str, document: bytes | None) -> None:
        self.store = RedisTimelineStore(client, prefix)
        self.index = DueIndex(client, prefix)
        self.document = document
        self.loads = 0
        self.models = ModelCache(self.load, refresh_s=3600)
        self.published: list[Event] = []
        self.now = hours(0)

    async def load(self) -> bytes | None:
        self.loads += 1
        return self.document

    def sweeper(self) -> ExceptionSweeper:
        return ExceptionSweeper(self.store, self.index, SETTINGS, self.publish, models=self.models)

    async def publish(self, events: Sequence[Event]) -> None:
        self.published += events
        changes = await self.store.apply(events)
        if changes:
            await self.sweeper().on_changes(latest_per_order(changes), self.now)

    async def arrive(self, events: Sequence[Event], now: datetime) -> list[Event]:
        self.now = now
        return await self.sweeper().on_changes(await self.store.apply(events), now)

    async def timeline(self, order_id: str) -> Timeline:
        document = await self.store.timeline(order_id)
        assert document is not None
        return timeline_from_json(document)

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.published]


async def test_an_estimate_is_published_once_per_change(
    redis: tuple[aioredis.Redis, str],
) -> None:
    loop = Loop(*redis, model_to_json(MODEL))
    story = Story().moving()
    (estimate,) = await loop.arrive(story.events, hours(4))
    assert estimate.kind is EventKind.SHIPMENT_PREDICTED
    # folded back in, the event path found nothing more to publish
    assert loop.kinds() == [EventKind.SHIPMENT_PREDICTED]
    shipment = (await loop.timeline(story.order_id)).shipments[0]
    assert shipment.prediction is not None
    assert shipment.prediction.event_id == estimate.event_id
    # the same change again, and a later look with nothing new: nothing
    assert await loop.arrive(story.events, hours(4.5)) == []
    assert loop.kinds() == [EventKind.SHIPMENT_PREDICTED]
    # a promised parcel is looked at again after recheck_s
    assert await loop.index.due_at(story.order_id) == hours(4) + timedelta(hours=6)
    assert loop.loads == 1  # the model is fetched once per refresh_s


async def test_waiting_raises_p_late_and_opens_trending_late_on_the_clock_path(
    redis: tuple[aioredis.Redis, str],
) -> None:
    loop = Loop(*redis, model_to_json(MODEL))
    story = Story().moving()
    await loop.arrive(story.events, hours(4))
    first = (await loop.timeline(story.order_id)).shipments[0].prediction
    assert first is not None
    assert first.p_late is not None
    assert first.p_late < PREDICT.threshold
    # no scan for almost three days: the sweep estimates again, and trending_late opens
    loop.now = hours(70)
    report = await loop.sweeper().sweep(hours(70))
    assert [e.kind for e in report.events] == [EventKind.SHIPMENT_PREDICTED]
    timeline = await loop.timeline(story.order_id)
    assert timeline.shipments[0].prediction is not None
    assert timeline.shipments[0].prediction.p_late is not None
    assert timeline.shipments[0].prediction.p_late >= PREDICT.threshold
    (trend,) = [v for v in timeline.exceptions if v.type is ExceptionType.TRENDING_LATE]
    assert trend.state is ExceptionState.OPEN
    # delivered: the estimate stops and the exception resolves itself
    delivered = Story(order_id=story.order_id).scan(hours(75), "delivered")
    resolved = await loop.arrive(delivered.events, hours(75))
    assert [e.kind for e in resolved] == [EventKind.EXCEPTION_RESOLVED]
    timeline = await loop.timeline(story.order_id)
    (trend,) = [v for v in timeline.exceptions if v.type is ExceptionType.TRENDING_LATE]
    assert trend.state is ExceptionState.RESOLVED


async def test_no_model_no_estimate(redis: tuple[aioredis.Redis, str]) -> None:
    loop = Loop(*redis, None)
    story = Story().moving()
    assert await loop.arrive(story.events, hours(4)) == []
    assert (await loop.timeline(story.order_id)).shipments[0].prediction is None
    # nothing scheduled for estimates either: the next check is the promised day's end
    assert await loop.index.due_at(story.order_id) == datetime(2026, 3, 6, tzinfo=UTC)


async def test_a_sweeper_without_models_never_estimates(
    redis: tuple[aioredis.Redis, str],
) -> None:
    loop = Loop(*redis, model_to_json(MODEL))
    plain = ExceptionSweeper(loop.store, loop.index, SETTINGS, loop.publish)
    assert await plain.on_changes(await loop.store.apply(Story().moving().events), hours(4)) == []


async def test_a_broken_artefact_is_no_model(redis: tuple[aioredis.Redis, str]) -> None:
    loop = Loop(*redis, b'{"format": 99}')
    assert await loop.arrive(Story().moving().events, hours(4)) == []


async def test_the_embedded_loader_reads_the_artefact_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    load = latest_model_loader(settings)
    assert await load() is None
    path = model_file(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(model_to_json(MODEL))
    cache = ModelCache(load, refresh_s=3600)
    model = await cache.current(hours(0))
    assert model is not None
    assert model.version == MODEL.version
    path.unlink()
    assert await cache.current(hours(0.5)) is model  # not due for a refresh yet
    assert await cache.current(hours(1)) is None  # the artefact is gone
