"""A dispatcher in a process of its own, for the kill -9 test (tests/streams/notify/test_kill.py).

    python -m tests.streams.notify.dispatch_worker REDIS_URL PREFIX NOTIFY_SETTINGS_JSON

Sends due messages with the real e-mail and webhook senders until it is killed: the dispatcher
alone, without the ``notify`` role's Kafka consumers (``wismo run --roles notify`` is what
tests/streams/notify/test_workers_broker.py kills).
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import redis.asyncio as aioredis

from projections.notify.ledger import Ledger
from projections.notify.subscriptions import SubscriptionStore
from streams.notify.dispatch import Dispatcher, Senders
from streams.notify.senders import EmailSender, WebhookSender
from tests.streams.notify.harness import PlainRenderer
from wismo.settings import NotifySettings


async def main(redis_url: str, prefix: str, settings_json: str) -> None:
    settings = NotifySettings.model_validate_json(settings_json)
    client = aioredis.Redis.from_url(redis_url)
    async with aiohttp.ClientSession() as session:
        senders = Senders(email=EmailSender(settings), webhook=WebhookSender(settings, session))
        subscriptions = SubscriptionStore(client, prefix)
        ledger = Ledger(client, prefix)
        dispatcher = Dispatcher(ledger, settings, senders, subscriptions, PlainRenderer())
        print("ready", flush=True)
        while True:
            report = await dispatcher.dispatch()
            if report.taken == 0:
                await asyncio.sleep(0.02)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
