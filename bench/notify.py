"""``wismo bench notify``: messages per second out of one process, beside bare-library baselines.

A subprocess runs the development sinks (:mod:`cli.runtime.sinks`, counting only, no outbox) on
127.0.0.1; this process then sends, one phase after another and each bounded by a count and a
time limit:

- e-mail through :class:`streams.notify.senders.EmailSender` (its pool of
  ``smtp_connections``), and the baseline: the same number of bare ``aiosmtplib`` connections,
  each sending one pre-built ``multipart/alternative`` message of the same parts in a loop (the
  transport's ceiling: no per-message work at all). For reference, ``email_stdlib``: the same
  loop building an :class:`~email.message.EmailMessage` per message, as plain code would;
- webhooks through :class:`streams.notify.senders.WebhookSender` (signed with two secrets, as
  during a rotation), and the baseline: a bare aiohttp POST loop of the same body at the same
  concurrency on a session configured the same way.

The ratio of each pair is what the sender's own work costs (composing each e-mail with its
Message-ID, the pool, signing, classifying the answer). The phases run ``repeat`` times in turn
and the best run of each is kept. Beside it, this process's CPU time per message (the least of
the runs) and its ratio, baseline over sender: what the sender's own work costs, less disturbed
by whatever else the machine runs.
The sink reports what it received at the end, and the bench checks that every message arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.policy
import email.utils
import json
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiohttp
import aiosmtplib

from bench.stats import Progress, ratio
from projections.notify.model import EVENT_TYPES, Message, NotifyChannel, Subscription
from streams.notify.senders import EmailSender, WebhookSender
from wismo.settings import NotifySettings

TARGET_RATIO = 0.8
TARGET_RATE = 1000.0
SENDER = "Deliveries <deliveries@wismo.localhost>"
SENDER_ADDRESS = "deliveries@wismo.localhost"
SUBJECT = "Your order 100042 is out for delivery"
TEXT = (
    "Hello,\n\nyour parcel with UPS (1Z999AA10123456784) is out for delivery today.\n"
    "Track it: http://127.0.0.1:8080/track?order=100042\n"
) * 3
HTML = (
    "<html><body><p style='font-family:sans-serif'>Hello,</p><p>your parcel with <b>UPS</b> "
    "(1Z999AA10123456784) is out for delivery today.</p><p><a href='http://127.0.0.1:8080/"
    "track?order=100042'>Track it</a></p></body></html>"
) * 3
UNSUBSCRIBE = {
    "List-Unsubscribe": "<http://127.0.0.1:8080/v1/unsubscribe?t=eyJvIjoiT1JELTQyIn0.sig>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}
BODY = json.dumps(
    {
        "type": "shipment.milestone",
        "timestamp": "2026-03-02T08:00:00+00:00",
        "data": {
            "order_id": "ORD-42",
            "order_number": "100042",
            "version": 7,
            "milestone": "out_for_delivery",
            "shipment_id": "SH-ORD-42-G1-0",
            "carrier": "ups",
            "tracking_number": "1Z999AA10123456784",
        },
    }
).encode()
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class NotifyOptions:
    messages: int = 3000  # per phase
    duration_s: float = 20.0  # longest a phase may take
    smtp_connections: int = 16
    webhook_concurrency: int = 16
    repeat: int = 3


@dataclass(frozen=True, slots=True)
class _Rendered:
    subject: str
    text: str
    html: str


def _message(channel: NotifyChannel, recipient: str, n: int) -> Message:
    key = f"ORD-{n}:out_for_delivery:{channel.value}:{recipient}"
    return Message(key, f"ORD-{n}", channel, recipient, "out_for_delivery", "SH", {}, T0, T0)


# ---------------------------------------------------------------------------------------------
# the sink process


def serve() -> None:
    """The sink process: print the ports as one JSON line, count until SIGTERM (or until the
    bench's end of its stdin closes: the bench is gone), print the counts."""
    import uvloop

    from cli.runtime.sinks import Sinks

    async def main() -> None:
        sinks = Sinks(None)
        await sinks.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_reader(sys.stdin.fileno(), stop.set)
        print(json.dumps({"smtp_port": sinks.smtp_port, "http_port": sinks.http_port}), flush=True)
        await stop.wait()
        try:
            await asyncio.wait_for(sinks.stop(), STOP_TIMEOUT_S)
        finally:
            with contextlib.suppress(BrokenPipeError):  # the bench is gone: nobody to tell
                print(json.dumps(dict(sinks.counts)), flush=True)

    uvloop.run(main())


class SinkProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.notify", "serve"],
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,  # closed when this process ends, however it ends
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.kill()
            raise RuntimeError("the sink process did not start")
        ports = json.loads(line)
        self.smtp_port: int = ports["smtp_port"]
        self.http_port: int = ports["http_port"]

    def stop(self) -> dict[str, int]:
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=2 * STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        lines = [line for line in out.splitlines() if line.strip()]
        counts: dict[str, int] = json.loads(lines[-1]) if lines else {}
        return counts


# ---------------------------------------------------------------------------------------------
# load


async def _drive(
    messages: int, concurrency: int, duration_s: float, send: Callable[[int], Awaitable[bool]]
) -> dict[str, float]:
    """``messages`` sends by ``concurrency`` workers (stopping at ``duration_s``)."""
    counter = iter(range(messages))
    deadline = time.perf_counter() + duration_s
    sent = failed = 0

    async def worker() -> None:
        nonlocal sent, failed
        for n in counter:
            if time.perf_counter() > deadline:
                return
            if await send(n):
                sent += 1
            else:
                failed += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "sent": sent,
        "failed": failed,
        "seconds": elapsed,
        "per_s": sent / elapsed,
        "cpu_us": cpu / max(1, sent) * 1e6,
    }


def _bare_email(n: int) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = SENDER
    mail["To"] = f"customer{n}@example.com"
    mail["Subject"] = SUBJECT
    mail["Date"] = email.utils.formatdate(usegmt=True)
    mail["Message-ID"] = f"<bench-{n}@wismo.localhost>"
    for name, value in UNSUBSCRIBE.items():
        mail[name] = value
    mail.set_content(TEXT)
    mail.add_alternative(HTML, subtype="html")
    return mail


async def email_baseline(
    port: int, options: NotifyOptions, *, stdlib: bool = False
) -> dict[str, float]:
    """Bare aiosmtplib: one connection per worker, each sending in a loop. By default the same
    pre-built bytes every time (the transport's ceiling); ``stdlib``: an
    :class:`~email.message.EmailMessage` of the same parts built for each message."""
    clients = [
        aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        for _ in range(options.smtp_connections)
    ]
    await asyncio.gather(*(client.connect() for client in clients))
    idle = list(clients)
    prebuilt = _bare_email(0).as_bytes(policy=email.policy.SMTP)

    async def send(n: int) -> bool:
        client = idle.pop()
        try:
            if stdlib:
                await client.send_message(_bare_email(n))
            else:
                await client.sendmail(SENDER_ADDRESS, [f"customer{n}@example.com"], prebuilt)
        finally:
            idle.append(client)
        return True

    try:
        return await _drive(options.messages, options.smtp_connections, options.duration_s, send)
    finally:
        await asyncio.gather(*(client.quit() for client in clients))


async def email_wismo(port: int, options: NotifySettings, bench: NotifyOptions) -> dict[str, float]:
    sender = EmailSender(options)
    rendered = _Rendered(SUBJECT, TEXT, HTML)
    # planned before the clock starts, as the dispatcher's messages are
    messages = [
        _message(NotifyChannel.EMAIL, f"customer{n}@example.com", n) for n in range(bench.messages)
    ]

    async def send(n: int) -> bool:
        return (await sender.send(messages[n], rendered, UNSUBSCRIBE)).ok

    try:
        return await _drive(bench.messages, bench.smtp_connections, bench.duration_s, send)
    finally:
        await sender.close()


def _session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))


async def webhook_baseline(url: str, options: NotifyOptions) -> dict[str, float]:
    """Bare aiohttp: POST the body in a loop at the same concurrency."""
    headers = {"Content-Type": "application/json"}
    async with _session(options.webhook_concurrency) as session:

        async def send(n: int) -> bool:
            async with session.post(url, data=BODY, headers=headers) as response:
                return 200 <= response.status < 300

        return await _drive(options.messages, options.webhook_concurrency, options.duration_s, send)


async def webhook_wismo(url: str, options: NotifyOptions) -> dict[str, float]:
    from projections.notify.subscriptions import new_secret

    subscription = Subscription(
        id="sub_bench",
        url=url,
        event_types=EVENT_TYPES,
        secrets=(new_secret(), new_secret()),  # both sign, as during a rotation
        created_at=T0,
        updated_at=T0,
    )
    async with _session(options.webhook_concurrency) as session:
        sender = WebhookSender(NotifySettings(), session)
        messages = [
            _message(NotifyChannel.WEBHOOK, subscription.id, n) for n in range(options.messages)
        ]

        async def send(n: int) -> bool:
            return (await sender.send(messages[n], subscription, BODY)).ok

        return await _drive(options.messages, options.webhook_concurrency, options.duration_s, send)


# ---------------------------------------------------------------------------------------------
# the run


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    return max(runs, key=lambda run: run["per_s"])


PHASES = ("email_baseline", "email", "email_stdlib", "webhook_baseline", "webhook")


async def _phases(sink: SinkProcess, options: NotifyOptions, progress: Progress) -> dict[str, Any]:
    settings = NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=sink.smtp_port,
        smtp_connections=options.smtp_connections,
        sender=SENDER,
    )
    url = f"http://127.0.0.1:{sink.http_port}/echo/bench"
    phases: dict[str, Callable[[], Awaitable[dict[str, float]]]] = {
        "email_baseline": lambda: email_baseline(sink.smtp_port, options),
        "email": lambda: email_wismo(sink.smtp_port, settings, options),
        "email_stdlib": lambda: email_baseline(sink.smtp_port, options, stdlib=True),
        "webhook_baseline": lambda: webhook_baseline(url, options),
        "webhook": lambda: webhook_wismo(url, options),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in PHASES}
    for attempt in range(options.repeat):
        for name, phase in phases.items():
            progress(f"round {attempt + 1}/{options.repeat}: {name}")
            runs[name].append(await phase())
    best = {name: _best(found) for name, found in runs.items()}
    sent = {
        kind: sum(r["sent"] for name in PHASES if name.startswith(kind) for r in runs[name])
        for kind in ("email", "webhook")
    }
    failed = sum(r["failed"] for found in runs.values() for r in found)
    return {"best": best, "runs": runs, "sent": sent, "failed": failed}


def run(options: NotifyOptions, progress: Progress) -> dict[str, Any]:
    """Every phase ``options.repeat`` times against one sink process; the best run of each."""
    import uvloop

    progress("starting the sinks (a process of their own)")
    sink = SinkProcess()
    try:
        outcome = uvloop.run(_phases(sink, options, progress))
    finally:
        received = sink.stop()
    best = outcome["best"]
    rate = {name: best[name]["per_s"] for name in PHASES}
    # this process's CPU per message, the least of the runs: less disturbed by other load
    cpu = {name: min(r["cpu_us"] for r in outcome["runs"][name]) for name in PHASES}
    email_ratio = ratio(rate["email"], rate["email_baseline"])
    hook_ratio = ratio(rate["webhook"], rate["webhook_baseline"])
    lost = {kind: outcome["sent"][kind] - received.get(kind, 0) for kind in ("email", "webhook")}
    meets = (
        min(rate["email"], rate["webhook"]) >= TARGET_RATE
        and min(email_ratio or 0, hook_ratio or 0) >= TARGET_RATIO
        and not any(lost.values())
        and not outcome["failed"]
    )
    return {
        "scenario": "notify",
        "messages_per_phase": options.messages,
        "repeat": options.repeat,
        "smtp_connections": options.smtp_connections,
        "webhook_concurrency": options.webhook_concurrency,
        "email_per_s": round(rate["email"], 1),
        "email_baseline_per_s": round(rate["email_baseline"], 1),
        "email_ratio": email_ratio,
        "email_stdlib_per_s": round(rate["email_stdlib"], 1),
        "webhook_per_s": round(rate["webhook"], 1),
        "webhook_baseline_per_s": round(rate["webhook_baseline"], 1),
        "webhook_ratio": hook_ratio,
        "email_cpu_us_per_msg": round(cpu["email"]),
        "email_baseline_cpu_us_per_msg": round(cpu["email_baseline"]),
        "email_cpu_ratio": ratio(cpu["email_baseline"], cpu["email"]),
        "webhook_cpu_us_per_msg": round(cpu["webhook"]),
        "webhook_baseline_cpu_us_per_msg": round(cpu["webhook_baseline"]),
        "webhook_cpu_ratio": ratio(cpu["webhook_baseline"], cpu["webhook"]),
        "failed": outcome["failed"],
        "lost_email": lost["email"],
        "lost_webhook": lost["webhook"],
        "target": f">= {TARGET_RATIO}x baseline and >= {TARGET_RATE:.0f} msg/s",
        "meets_target": meets,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the notify bench's sink process")
    parser.add_argument("command", choices=("serve",))
    parser.parse_args(argv)
    serve()


if __name__ == "__main__":
    main()
