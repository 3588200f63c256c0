"""``wismo up``: the whole system on embedded defaults, in one process.

Starts what is not configured (the Tansu broker, a Redis, the chDB path), replays what the
intake journal kept from a crash, then runs every role — normalise, timeline, warehouse,
sweeper, api — in this process. Ctrl-C, SIGTERM and SIGHUP drain and stop it all (see
:mod:`cli.runtime.durability`); the services die with the process however it ends.
``--simulate-orders N`` feeds a generated, messy history of N orders through the raw topic.
In development every registered webhook source gets the development secret, and each source's
URL and signing scheme are printed.

Once the API answers, ``wismo simulate`` traffic (``--demo-orders``, ``--demo-rate``) is posted to
its webhooks for as long as the system runs, so the status page, the console and the SLA page
have something to show; the URLs printed include a demo order and a demo agent token.
In development the demo traffic also starts a simulated UPS Track API (:mod:`bench.carrier_api`),
points UPS polling at it on a cadence of seconds to minutes and drops 5% of the UPS webhooks on
purpose, so the poll role visibly heals them: every few seconds ``wismo up`` looks whether a
dropped scan's event is now in its order's timeline, applied from a polled payload
(:mod:`bench.healing`), says so on the terminal when one is, and the simulated carrier answers
``GET /simulation/drops`` with every dropped scan and its fate.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

from cli.commands import SubParsers

if TYPE_CHECKING:
    from pathlib import Path

    from bench.carrier_api import TrackBook
    from bench.healing import Drop, Ledger
    from cli.runtime.embedded import EmbeddedServices
    from cli.runtime.journal import Journal
    from streams.routing import Where
    from wismo.settings import Settings


log = logging.getLogger("wismo.up")
#: text: the banner and the status line on the terminal; json: the banner as log records
_MODE = {"json": False}

RUNNING_MARKER = "up.running"
#: the share of simulated UPS webhooks dropped on purpose, for the poll role to heal
DROP_SHARE = 0.05
#: the poll cadence against the simulated carrier (unless configured): seconds, not hours, so
#: the healing shows while one watches (a quiet parcel slows down to the maximum interval)
DEMO_CADENCE = {"in_transit_s": 30.0, "edd_day_s": 30.0, "out_for_delivery_s": 30.0}
DEMO_MAX_INTERVAL_S = 900.0
#: how often wismo up looks whether polling healed a dropped scan
HEALING_CHECK_S = 3.0
#: how long reading one raw-topic record may take
RAW_READ_S = 5.0
#: the brands ``wismo up`` shows when none are configured (their orders: bench.orders.DEMO_BRANDS)
DEMO_BRANDS: dict[str, dict[str, object]] = {
    "northwind": {
        "name": "Northwind Outfitters",
        "logo_url": "/static/brands/northwind.svg",
        "primary_color": "#1d3557",
        "accent_color": "#e76f51",
        "support_email": "help@northwind.example",
        "sender": "Northwind Outfitters <orders@northwind.example>",
        "locale": "en",
        "time_zone": "Europe/London",
        "channels": ["web", "app"],
    },
    "kaffeeberg": {
        "name": "Kaffeehaus Berg",
        "logo_url": "/static/brands/kaffeeberg.svg",
        "primary_color": "#4b2e2a",
        "accent_color": "#c8a165",
        "support_email": "service@kaffeeberg.example",
        "sender": "Kaffeehaus Berg <bestellung@kaffeeberg.example>",
        "locale": "de",
        "time_zone": "Europe/Berlin",
        "channels": ["kaffeeberg-web"],
    },
}


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser("up", help="run everything on embedded defaults")
    parser.add_argument(
        "--web-port", type=int, default=6066, help="port of the worker's /metrics and /healthz"
    )
    parser.add_argument(
        "--simulate-orders",
        type=int,
        default=0,
        metavar="N",
        help="publish a simulated history of N orders once the system is up",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated history")
    parser.add_argument(
        "--demo-orders",
        type=int,
        default=40,
        metavar="N",
        help="orders of webhook traffic posted to the API (then more, forever); 0: none",
    )
    parser.add_argument(
        "--demo-rate", type=float, default=10.0, help="webhook deliveries per second"
    )
    parser.add_argument(
        "--private-redis",
        action="store_true",
        help="start the embedded Redis (data in <data_dir>/redis) even when one answers on 6379",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text: a banner and one live status line, the logs in <data_dir>/logs/wismo.log; "
        "json: every log line to stdout as JSON (production style)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench.healing import Ledger
    from cli.runtime.embedded import EmbeddedServices
    from cli.runtime.journal import Journal
    from cli.runtime.reconcile import reconcile_clickhouse
    from cli.runtime.roles import ROLE_NAMES
    from cli.runtime.roles import run as run_roles
    from wismo.settings import load_settings
    from wismo.topics import ensure_topics

    requested = _with_demo_brands(_with_webhook_secrets(load_settings()))
    log_file = _log_to_file(requested, json_to_stdout=args.log_format == "json")
    with EmbeddedServices(
        requested, use_local_redis=not args.private_redis, tie_to_process=True, dev_sinks=True
    ) as services:
        settings, demo_subscription = _with_dev_notify(services.settings, services)
        ledger = Ledger()
        settings, carrier_book = _with_simulated_carrier(
            settings, args.demo_orders > 0, ledger=ledger
        )
        settings, trainer = _with_first_model(settings)
        asyncio.run(ensure_topics(settings))
        journal = Journal(settings.data_dir / "journal")
        replayed = asyncio.run(_replay(settings, journal))
        if replayed:
            _say(f"wismo up: replayed {replayed} journaled payload(s)", file=sys.stderr)
        # present while wismo up runs, removed once it drained: found at a start, the last run
        # ended without draining, and ClickHouse may lack what the stream derived by itself
        running = settings.data_dir / RUNNING_MARKER
        if running.exists():
            events, timelines = asyncio.run(reconcile_clickhouse(settings))
            _say(
                f"wismo up: the last run did not drain; ClickHouse reconciled from Redis "
                f"({events} events, {timelines} timelines)",
                file=sys.stderr,
            )
        running.touch()
        _say(f"wismo up {_version()} — data in {settings.data_dir}, logs in {log_file}")
        for line in services.started:
            _say(f"  {line}", file=sys.stderr)
        _say(f"  metrics    http://127.0.0.1:{args.web_port}/metrics", file=sys.stderr)
        _say(f"  api        http://{settings.api.host}:{settings.api.port}/", file=sys.stderr)
        if args.simulate_orders > 0:
            _simulate_in_background(settings, args.simulate_orders, args.seed)
        _print_pages(settings, args.demo_orders > 0, args.seed)
        _print_outbox(settings, services, demo_subscription)
        if (oms := _with_simulated_oms(settings)) is not None:
            _say(f"  oms        {oms} (simulated OMS: answers cancel requests)", file=sys.stderr)
        _print_webhooks(settings)
        if carrier_book is not None:
            ups = settings.poll.carriers["ups"].base_url
            _say(
                f"  carrier    {ups} (simulated UPS Track API; {DROP_SHARE:.0%} of the UPS "
                "webhooks are dropped on purpose, healed by polling)",
                file=sys.stderr,
            )
            _say(f"    dropped  {ups}/simulation/drops (each dropped scan, healed or not)")
        stop = threading.Event()
        if args.demo_orders > 0:
            _post_traffic_in_background(
                settings,
                args.demo_orders,
                args.demo_rate,
                args.seed,
                stop,
                carrier_book,
                ledger if carrier_book is not None else None,
            )
        if carrier_book is not None:
            _watch_healing(settings, ledger, stop)
        _say(
            "Ctrl-C (or SIGTERM, SIGHUP) drains and stops everything; twice stops at once.",
            file=sys.stderr,
        )
        if not _MODE["json"]:
            from cli.runtime.status import show_in_background

            metrics = f"http://127.0.0.1:{args.web_port}/metrics"
            sinks = services.sinks
            sent = (
                (lambda: 0)
                if sinks is None
                else (lambda: sum(n for kind, n in sinks.counts.items() if kind != "duplicate"))
            )
            healing = (lambda: "") if carrier_book is None else ledger.status
            show_in_background(
                metrics, str(log_file), stop, out=sys.stdout, messages=sent, extra=healing
            )
        try:
            # the worker ends the process with SystemExit once it stopped
            return run_roles(settings, ROLE_NAMES, web_port=args.web_port, journal=journal)
        finally:
            stop.set()
            _end(trainer)
            if not any(journal.path(n).stat().st_size for n in journal.segments()):
                running.unlink(missing_ok=True)


async def _replay(settings: Settings, journal: Journal) -> int:
    """Send again what the journal holds: what a crash left between the API and the stores."""
    from api.kafka import open_producer
    from cli.runtime.journal import replay

    producer = await open_producer(settings)
    try:
        return await replay(journal, producer)
    finally:
        await producer.stop()


def _say(*parts: object, file: object = None) -> None:
    """One line of the banner: on stderr, or, with ``--log-format json``, a log record."""
    text = " ".join(str(part) for part in parts)
    if _MODE["json"]:
        log.info(text.strip())
    else:
        print(text, file=sys.stderr, flush=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wismo")
    except PackageNotFoundError:
        return "(source)"


def _log_to_file(settings: Settings, *, json_to_stdout: bool) -> Path:
    """Send this process's logs, and its children's (through the environment), to
    ``<data_dir>/logs/wismo.log`` as JSON lines; to stdout as well with ``json_to_stdout``,
    else nowhere else (the status line counts the warnings)."""
    import logging.config

    from streams.logs import LOG_FILE_ENV, LOG_STREAM_ENV, logging_config

    path = settings.data_dir / "logs" / "wismo.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ[LOG_FILE_ENV] = str(path)
    os.environ[LOG_STREAM_ENV] = "stdout" if json_to_stdout else "none"
    _MODE["json"] = json_to_stdout
    logging.config.dictConfig(logging_config(settings.log_level))
    return path


def _simulate_in_background(settings: Settings, orders: int, seed: int) -> None:
    from bench.history import generate, publish

    def feed() -> None:
        history = generate(orders, seed=seed)
        sent = asyncio.run(publish(settings, history.messages))
        log.info("published %d simulated payloads (%d orders)", sent, orders)

    threading.Thread(target=feed, name="simulator", daemon=True).start()


#: simulated orders a first delivery-estimate model learns from (about 5 s on 2 cores)
FIRST_MODEL_ORDERS = 3000


def _with_first_model(settings: Settings) -> tuple[Settings, subprocess.Popen[bytes] | None]:
    """Without a delivery-estimate model, train one on a simulated history in the background
    (``wismo predict train --history``, its own process and scratch chDB) so estimates and
    trending-late exceptions show while you watch; the sweeper then looks for it every 15 s
    (unless ``predict.reload_s`` is configured). A configured ClickHouse server is left to
    ``wismo predict train``."""
    from cli.runtime.predict import model_path

    if settings.clickhouse.url is not None or model_path(settings).exists():
        return settings, None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = (settings.data_dir / "predict-train.log").open("ab")
    environment = {**os.environ, "WISMO_DATA_DIR": str(settings.data_dir)}
    command = [sys.executable, "-m", "cli.main", "predict", "train"]
    command += ["--history", str(FIRST_MODEL_ORDERS)]
    trainer = subprocess.Popen(command, env=environment, stdout=log, stderr=log)
    log.close()
    if "reload_s" in settings.predict.model_fields_set:
        return settings, trainer
    predict = settings.predict.model_copy(update={"reload_s": 15.0})
    return settings.model_copy(update={"predict": predict}), trainer


def _end(trainer: subprocess.Popen[bytes] | None) -> None:
    """A first model still training when wismo up stops is given up (the next start trains
    again): nothing of wismo up outlives it."""
    if trainer is None or trainer.poll() is not None:
        return
    trainer.terminate()
    try:
        trainer.wait(5)
    except subprocess.TimeoutExpired:
        trainer.kill()
        trainer.wait()


def _with_webhook_secrets(settings: Settings) -> Settings:
    """In development, every registered source without a configured secret gets the development
    one, so the simulated traffic and hand-made webhooks (signed with it) are accepted;
    production settings are left alone."""
    from pydantic import SecretStr

    from carriers.registry import names
    from wismo.settings import DEV_SECRET

    if settings.environment != "dev":
        return settings
    secrets = dict(settings.webhook_secrets)
    for source in names():
        secrets.setdefault(source, (SecretStr(DEV_SECRET),))
    return settings.model_copy(update={"webhook_secrets": secrets})


def _with_demo_brands(settings: Settings) -> Settings:
    """The two demo brands (:data:`DEMO_BRANDS`), unless brands are configured."""
    if settings.brands:
        return settings
    from wismo.settings import BrandSettings

    brands = {brand: BrandSettings.model_validate(config) for brand, config in DEMO_BRANDS.items()}
    return settings.model_copy(update={"brands": brands})


def demo_agent_token(settings: Settings, days: int = 7) -> str:
    """A supervisor token for the console, signed with the configured agent secret."""
    import warnings
    from datetime import UTC, datetime, timedelta

    import jwt
    import jwt.warnings

    now = datetime.now(UTC)
    claims = {
        "sub": "demo-agent",
        "roles": ["supervisor"],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(days=days)).timestamp()),
    }
    with warnings.catch_warnings():
        # the development secret is short on purpose; production secrets are the operator's
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(
            claims, settings.api.agent_jwt_secret.get_secret_value(), algorithm="HS256"
        )


def _print_pages(settings: Settings, with_demo_order: bool, seed: int = 0) -> None:
    from urllib.parse import quote

    from bench.simulate import DEMO_EMAIL

    base = f"http://{settings.api.host}:{settings.api.port}"
    _say(f"  status     {base}/track", file=sys.stderr)
    for brand_id, brand in settings.brands.items():
        lang = "" if brand.locale == settings.i18n.default_locale else f"&lang={brand.locale}"
        _say(f"    {brand_id:<10} {base}/track?brand={brand_id}{lang}", file=sys.stderr)
    if with_demo_order:
        email = DEMO_EMAIL.format(index=0)
        order = f"{base}/track?order=100000&email={quote(email)}"
        if (brand_of_demo := _demo_order_brand(settings, seed)) is not None:
            order += f"&brand={brand_of_demo}"
        _say(f"    demo     {order}", file=sys.stderr)
    if settings.environment == "dev":
        token = demo_agent_token(settings)
        _say(f"  console    {base}/console#token={token}", file=sys.stderr)
        _say(f"  analytics  {base}/analytics#token={token}", file=sys.stderr)
    else:
        _say(f"  console    {base}/console", file=sys.stderr)
        _say(f"  analytics  {base}/analytics", file=sys.stderr)


def _demo_order_brand(settings: Settings, seed: int) -> str | None:
    """The brand of the demo order (index 0) when the demo brands are configured."""
    from bench.orders import DEMO_BRANDS, branding

    if set(settings.brands) != {brand for brand, _, _ in DEMO_BRANDS}:
        return None
    return branding(seed, 0)["brand"]


#: the description that marks the webhook subscription ``wismo up`` keeps on the echo receiver
DEMO_SUBSCRIPTION = "development echo receiver (kept by wismo up)"


def _with_dev_notify(settings: Settings, services: EmbeddedServices) -> tuple[Settings, str | None]:
    """With the development sinks running: links in messages lead to this API (unless
    ``notify.public_url`` is configured); unless configured, quiet hours are off and orders
    with a phone number get texts by default (the outbox shows what the simulated orders cause,
    whatever the hour) and the simulated history is not stale; and one webhook subscription
    with every event type targets the echo receiver (created once, its URL kept current).
    Returns its id."""
    if services.sinks is None:
        return settings, None
    given = settings.notify.model_fields_set
    update: dict[str, object] = {}
    if "public_url" not in given:
        host = "127.0.0.1" if settings.api.host in ("0.0.0.0", "::", "") else settings.api.host
        update["public_url"] = f"http://{host}:{settings.api.port}"
    if not given & {"quiet_start_hour", "quiet_end_hour"}:
        update |= {"quiet_start_hour": 0, "quiet_end_hour": 0}  # an empty window
    if "sms_by_default" not in given:
        update["sms_by_default"] = True
    if "stale_after_s" not in given:
        update["stale_after_s"] = 0.0  # the simulated history is news to its demo customers
    if update:
        notify = settings.notify.model_copy(update=update)
        settings = settings.model_copy(update={"notify": notify})
    url = services.sinks.echo_url("demo")
    return settings, asyncio.run(_demo_subscription(settings, url))


async def _demo_subscription(settings: Settings, url: str) -> str:
    from datetime import UTC, datetime

    import redis.asyncio as aioredis

    from projections.notify.model import EVENT_TYPES
    from projections.notify.subscriptions import SubscriptionStore

    assert settings.redis.url is not None
    client = aioredis.Redis.from_url(settings.redis.url)
    try:
        store = SubscriptionStore(client, settings.redis.key_prefix)
        demo = await store.ensure(DEMO_SUBSCRIPTION, url, EVENT_TYPES, now=datetime.now(UTC))
        return demo.id
    finally:
        await client.aclose()


def _print_outbox(
    settings: Settings, services: EmbeddedServices, demo_subscription: str | None
) -> None:
    if services.sinks is None:
        return
    base = f"http://{settings.api.host}:{settings.api.port}"
    _say(
        f"  outbox     {base}/outbox (every e-mail, text and webhook the sinks got)",
        file=sys.stderr,
    )
    if demo_subscription is not None:
        echo = services.sinks.echo_url("demo")
        _say(f"    webhooks subscription {demo_subscription} → {echo}", file=sys.stderr)


def _print_webhooks(settings: Settings) -> None:
    """One line on the terminal; how each source signs goes to the log (docs/integrations.md)."""
    from carriers.registry import names
    from cli.runtime.webhook_guide import guide_lines
    from wismo.settings import DEV_SECRET

    base = f"http://{settings.api.host}:{settings.api.port}"
    if settings.environment == "dev":
        hint = f"{DEV_SECRET} unless set in WISMO_WEBHOOK_SECRETS"
    else:
        hint = "per source, from WISMO_WEBHOOK_SECRETS"
    sources = ", ".join(names())
    _say(f"  webhooks   {base}/v1/webhooks/<source> ({sources}); signing: docs/integrations.md")
    log.info("webhook signing", extra={"guide": guide_lines(base, hint)})


def _with_simulated_oms(settings: Settings) -> str | None:
    """In development, the simulated OMS (:mod:`bench.oms`): subscribed to ``cancel.requested``,
    it confirms or rejects each cancel request made on /track a few seconds later. Its URL."""
    if settings.environment != "dev":
        return None
    from bench.oms import run_beside_wismo_up

    return run_beside_wismo_up(settings).url


def _with_simulated_carrier(
    settings: Settings, wanted: bool, ledger: Ledger | None = None
) -> tuple[Settings, TrackBook | None]:
    """In development with demo traffic and no UPS API configured: the simulated carrier Track
    API (:mod:`bench.carrier_api`) on 127.0.0.1, UPS polling pointed at it with its development
    client credentials on the demo cadence (the cadence settings given stay), and the book of
    scans the traffic fills (``None``: not started). With ``ledger``, the carrier also answers
    ``GET /simulation/drops`` with its report."""
    if not wanted or settings.environment != "dev" or "ups" in settings.poll.carriers:
        return settings, None
    from pydantic import SecretStr

    from bench.carrier_api import DEV_CLIENT_ID, DEV_CLIENT_SECRET, TrackBook, start_carrier_api
    from wismo.settings import CarrierCredentials

    book = TrackBook()
    # a daemon thread: it ends with the process
    server = start_carrier_api(book, drops=ledger.report if ledger is not None else None)
    ups = CarrierCredentials(
        base_url=server.base_url,
        client_id=DEV_CLIENT_ID,
        client_secret=SecretStr(DEV_CLIENT_SECRET),
    )
    given = settings.poll.model_fields_set
    cadence: dict[str, object] = {k: v for k, v in DEMO_CADENCE.items() if k not in given}
    if "max_interval_s" not in given:
        cadence["max_interval_s"] = DEMO_MAX_INTERVAL_S
    carriers = {**settings.poll.carriers, "ups": ups}
    poll = settings.poll.model_copy(update={"carriers": carriers, **cadence})
    return settings.model_copy(update={"poll": poll}), book


#: parcels whose scans no order names, for the console's Unmatched scans (linked by hand)
STRAY_PARCELS = 3


def _post_traffic_in_background(
    settings: Settings,
    orders: int,
    rate: float,
    seed: int,
    stop: threading.Event,
    carrier_book: TrackBook | None = None,
    ledger: Ledger | None = None,
) -> None:
    from datetime import UTC, datetime

    from bench.healing import drops_of
    from bench.orders import DEMO_BRANDS
    from bench.simulate import (
        Outcome,
        Post,
        batches,
        send,
        source_secrets,
        stray_scans,
        wait_for_api,
    )

    base = f"http://{settings.api.host}:{settings.api.port}"

    def lost(post: Post) -> None:
        if ledger is not None:
            ledger.add(drops_of(post, seed, datetime.now(UTC)))

    def feed() -> None:
        if not wait_for_api(base, stop):
            return
        outcome = Outcome()
        now = datetime.now(UTC)
        strays = stray_scans(STRAY_PARCELS, seed=seed, now=now)
        branded = set(settings.brands) == {brand for brand, _, _ in DEMO_BRANDS}
        for posts in batches(orders, seed=seed, now=now, days=42.0, forever=True, branded=branded):
            if stop.is_set():
                return
            for n, scan in enumerate(strays):  # early on: the Unmatched scans list has some
                posts.insert(min(len(posts), 12 * (n + 1)), scan)
            strays = []
            if carrier_book is not None:  # the carrier knows every scan, sent or dropped
                carrier_book.add(posts)
            asyncio.run(
                send(
                    base,
                    posts,
                    rate=rate,
                    secrets=source_secrets(settings),
                    outcome=outcome,
                    stop=stop,
                    drop_share=DROP_SHARE if carrier_book is not None else 0.0,
                    seed=seed,
                    on_drop=lost,
                )
            )
            scans = f"; dropped scans: {ledger.summary()}" if ledger is not None else ""
            log.info("simulated traffic so far: %s%s", outcome.summary(), scans)

    threading.Thread(target=feed, name="webhook-traffic", daemon=True).start()


def _watch_healing(settings: Settings, ledger: Ledger, stop: threading.Event) -> None:
    """Every :data:`HEALING_CHECK_S`, settle the dropped scans still waiting (:func:`_settle`)
    and say on the terminal (and in the log) each one polling healed."""
    from aiokafka.errors import KafkaError
    from redis.exceptions import RedisError

    def watch() -> None:
        while not stop.wait(HEALING_CHECK_S):
            if not ledger.waiting():
                continue
            try:
                healed = asyncio.run(_settle(settings, ledger))
            except (OSError, RedisError, KafkaError, TimeoutError) as error:
                # stopping, or too busy to answer: the next round asks again
                log.debug("looking for healed scans failed: %s", error)
                continue
            for drop in healed:
                log.info(
                    "a dropped webhook healed by polling: order %s, parcel %s, %s scan of %s; %s",
                    drop.order_id,
                    drop.tracking_number,
                    drop.status,
                    drop.occurred_at.isoformat(),
                    ledger.summary(),
                )
                _announce(
                    f"  healed     order {drop.order_id} parcel {drop.tracking_number}: its "
                    f"dropped {drop.status.replace('_', ' ')} scan came back by polling "
                    f"({ledger.summary()})"
                )

    threading.Thread(target=watch, name="healing-watch", daemon=True).start()


def _announce(text: str) -> None:
    """A line on the terminal while the status line runs: that line is cleared first (it is
    drawn again on its next tick). Nothing with ``--log-format json`` (the log has it)."""
    if _MODE["json"]:
        return
    if sys.stdout.isatty() and sys.stderr.isatty():
        text = "\r\x1b[2K" + text
    print(text, file=sys.stderr, flush=True)


async def _settle(settings: Settings, ledger: Ledger) -> list[Drop]:
    """Look up each waiting dropped scan in its order's timeline (the events hash in Redis) and,
    when it is there, the headers of the raw payload it was applied from (its ``raw_ref`` on the
    raw topic); record the fates :func:`bench.healing.fate` gives. The scans healed now."""
    from datetime import UTC, datetime

    import orjson
    import redis.asyncio as aioredis

    from bench.healing import Fate, fate
    from projections.redis_keys import RedisKeys
    from streams.routing import Where

    waiting = ledger.waiting()
    keys = RedisKeys(settings.redis.key_prefix)
    assert settings.redis.url is not None
    client = aioredis.Redis.from_url(settings.redis.url)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for drop in waiting:
                pipe.hget(keys.events(drop.order_id), drop.event_id)
            stored = await pipe.execute()
    finally:
        await client.aclose()
    held = {d.event_id: orjson.loads(v) for d, v in zip(waiting, stored, strict=True) if v}
    places = {i: Where.parse(event.get("raw_ref")) for i, event in held.items()}
    headers = await _raw_headers(settings, {p for p in places.values() if p is not None})
    healed: list[Drop] = []
    for drop in waiting:
        event = held.get(drop.event_id)
        place = places.get(drop.event_id)
        verdict = fate(event, headers.get(place) if place is not None else None)
        if event is None or verdict is None:
            continue
        received = event.get("received_at")
        at = datetime.fromisoformat(received) if received else datetime.now(UTC)
        if ledger.settle(drop.event_id, verdict, at) and verdict is Fate.HEALED:
            healed.append(drop)
    return healed


async def _raw_headers(settings: Settings, places: set[Where]) -> dict[Where, dict[str, str]]:
    """The headers of the raw-topic records at ``places`` that could be read (no consumer group:
    nothing is committed)."""
    if not places:
        return {}
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    found: dict[Where, dict[str, str]] = {}
    try:
        for place in sorted(places, key=lambda p: (p.topic, p.partition, p.offset)):
            where = TopicPartition(place.topic, place.partition)
            consumer.assign([where])
            consumer.seek(where, place.offset)
            batch = await consumer.getmany(where, timeout_ms=int(RAW_READ_S * 1000), max_records=1)
            for record in batch.get(where, []):
                if record.offset == place.offset:
                    found[place] = {
                        name: bytes(value or b"").decode(errors="replace")
                        for name, value in record.headers
                    }
    finally:
        await consumer.stop()
    return found
