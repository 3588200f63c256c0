"""The API process is restarted while the history arrives as signed webhooks.

A sender retries what was not acknowledged (connection refused, 5xx): that is the at-least-once
half on the HTTP edge. Malformed payloads are refused with a 4xx at the edge or, when they pass
the edge's checks, dead-lettered by the pipeline — never both, never lost. Every valid payload
ends up in the stores exactly as the fold says.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from carriers.standard_webhooks import sign
from cli.runtime.embedded import free_port
from tests.faults.scenario import Run, dead_letters, drained, new_run, verify
from tests.streams.harness import WISMO, WorkerProcess, embedded_stack, settings_env
from wismo.settings import Settings
from wismo.topics import RawPayload

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SECRET = "whsec_" + base64.b64encode(b"fault-suite-oms-key").decode()
SENDERS = 8
RETRY_S = 0.2
GIVE_UP_S = 120.0


@dataclass
class ApiProcess:
    settings: Settings
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> ApiProcess:
        self.starts += 1
        env = {
            **settings_env(self.settings),
            "WISMO_WEBHOOK_SECRETS": json.dumps({"oms": [SECRET]}),
            "WISMO_API__WEBHOOK_RATE_PER_S": "100000",
            "WISMO_API__WEBHOOK_BURST": "100000",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [WISMO, "api", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=log,
            )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@dataclass
class Sender:
    """Posts each payload until it is answered with anything but a refusal or a 5xx."""

    url: str
    answers: dict[int, int] = field(default_factory=dict)
    retries: int = 0

    async def deliver(
        self, session: aiohttp.ClientSession, index: int, message: RawPayload
    ) -> None:
        deadline = time.monotonic() + GIVE_UP_S
        delivery_id = message.delivery_id or f"fault-{index}"
        while time.monotonic() < deadline:
            stamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "webhook-id": delivery_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(SECRET, delivery_id, stamp, message.body),
            }
            try:
                async with session.post(self.url, data=message.body, headers=headers) as response:
                    await response.read()
                    if response.status < 500:
                        self.answers[index] = response.status
                        return
            except aiohttp.ClientError:
                pass
            self.retries += 1
            await asyncio.sleep(RETRY_S)
        raise AssertionError(f"payload {index} never acknowledged")


async def _load(api: ApiProcess, run: Run, restart_after: int) -> Sender:
    sender = Sender(f"http://127.0.0.1:{api.port}/v1/webhooks/oms")
    queue: asyncio.Queue[tuple[int, RawPayload]] = asyncio.Queue()
    for item in enumerate(run.history.messages):
        queue.put_nowait(item)

    restart_due = asyncio.Event()

    async def work(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            index, message = queue.get_nowait()
            await sender.deliver(session, index, message)
            if len(sender.answers) >= restart_after:
                restart_due.set()

    async def restart() -> None:
        await restart_due.wait()
        await asyncio.to_thread(api.stop)
        await asyncio.sleep(run.rng.uniform(0.2, 1.5))
        api.start()

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await asyncio.gather(restart(), *(work(session) for _ in range(SENDERS)))
    return sender


def test_the_api_restarted_mid_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    run = new_run()
    messages = run.history.messages
    restart_after = run.rng.randrange(len(messages) // 4, 3 * len(messages) // 4)
    with embedded_stack(tmp_path) as settings:
        worker = WorkerProcess(settings, "normalise,timeline,warehouse", tmp_path).start()
        api = ApiProcess(settings, tmp_path / "api.log").start()
        try:
            sender = asyncio.run(_load(api, run, restart_after))
            drained(settings, run, (worker,))
            letters = dead_letters(settings)
        finally:
            api.stop()
            assert worker.stop() == 0, worker.log_tail()
        verify(settings, run)
    assert api.starts == 2
    assert sender.retries > 0, "the restart never made a sender retry"
    malformed = set(run.history.malformed)
    refused = {messages[i].body for i, status in sender.answers.items() if 400 <= status < 500}
    accepted = {messages[i].body for i, status in sender.answers.items() if status in (200, 202)}
    assert len(sender.answers) == len(messages)
    assert refused <= malformed, run.describe()
    assert letters <= malformed, run.describe()
    assert refused | letters == malformed, run.describe()
    assert not refused & letters
    assert not refused & accepted
