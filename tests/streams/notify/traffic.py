"""Orders through real ``notify`` workers, and the messages they must deliver — for the tests
that kill or rebalance those workers (``test_workers_broker.py``).

**The orders** are copies of the example order ORD-1001 (``example_events``): its 27 events
under another order id and event ids, each scan already joined to its order (as the normalise
agent sends the scan of a linked number), each copy with a customer e-mail of its own. A copy
brings 8 e-mails and, per webhook subscription, 19 webhook deliveries.

**Phases.** Which messages an order gets depends on which of its timeline versions the role
plans: a batch plans only the newest version of each order, a status seen only in a version
that was skipped sends no webhook, and a milestone overtaken before it was planned sends no
e-mail. The events are therefore sent in phases — every order's events of one phase together,
the next phase once the previous one is planned and each of its messages final — cut by
:func:`cut_phases` so that *whichever* of a phase's versions the role happens to plan (any of
them, the last one always) the outcome is the same. What each phase must deliver is then a
function of the input alone, computed here by the pure planner (:func:`plan_order` on the fold
of the events sent so far, none of the machinery under test), and it is what the workers are
checked against: not what the receivers happened to get, nor what the ledger happens to hold.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from projections.connections import redis_client
from projections.notify.ledger import Entry, Ledger
from projections.notify.model import (
    Contacts,
    Message,
    MessageState,
    NotifyChannel,
    Preferences,
    Subscription,
)
from projections.notify.plan import plan_order
from projections.timeline import fold
from projections.timeline_model import Timeline
from streams.agents.notify import contacts_of
from streams.notify.records import decode_record
from streams.notify.senders import message_id_header, sender_domain
from tests.projections.notify.journeys import example_events
from tests.streams.notify.harness import Servers, records, subscribe
from tests.streams.test_sweeper_broker import send
from wismo.events import Event, OrderPlacedEvent
from wismo.settings import NotifySettings, Settings


def copies(count: int, tag: str) -> dict[str, list[Event]]:
    """``count`` copies of ORD-1001, in the order its events happened."""
    orders: dict[str, list[Event]] = {}
    for index in range(count):
        order_id = f"ORD-{tag}-{index:03d}"
        events: list[Event] = []
        for event in example_events():
            update: dict[str, object] = {
                "order_id": order_id,
                "event_id": f"{order_id}:{event.event_id}",
            }
            if isinstance(event, OrderPlacedEvent):
                email = f"customer{index}@example.com"
                update["payload"] = event.payload.model_copy(update={"customer_email": email})
            events.append(event.model_copy(update=update))
        orders[order_id] = events
    return orders


def contacts_in(events: Sequence[Event]) -> Contacts:
    """The contacts the role records from the order's events (one ``order.placed`` here)."""
    found = [contacts for event in events if (contacts := contacts_of(event)) is not None]
    assert len(found) == 1
    return found[0]


@dataclass(frozen=True)
class Planner:
    """The pure planner with what the workers plan with."""

    subscriptions: Sequence[Subscription]
    settings: NotifySettings
    now: datetime

    def plan(
        self, versions: Sequence[Timeline], contacts: Contacts, handled: dict[str, str]
    ) -> tuple[list[Message], list[Message], dict[str, str]]:
        """Plan ``versions`` one after the other from ``handled``: the messages to send, those
        suppressed, and the order's state map after."""
        handled = dict(handled)
        messages: list[Message] = []
        suppressed: list[Message] = []
        for timeline in versions:
            plan = plan_order(
                timeline, contacts, Preferences(), handled, self.subscriptions, self.settings,
                self.now,
            )  # fmt: skip
            handled.update(plan.handled)
            messages += plan.messages
            suppressed += [message for message, _ in plan.suppressed]
        return messages, suppressed, handled

    def outcome(
        self, versions: Sequence[Timeline], contacts: Contacts, handled: dict[str, str]
    ) -> tuple[frozenset[str], ...]:
        messages, suppressed, after = self.plan(versions, contacts, handled)
        return (
            frozenset(m.key for m in messages),
            frozenset(m.key for m in suppressed),
            frozenset(f"{name}={value}" for name, value in after.items()),
        )


def cut_phases(events: Sequence[Event], planner: Planner) -> list[int]:
    """Where to cut ``events`` (one order's) into phases: each phase as long as planning any of
    its versions, then its last, gives the same messages and the same state map. Returns the
    number of events sent once each phase is in."""
    order_id = events[0].order_id
    assert order_id is not None
    contacts = contacts_in(events)
    versions = [fold(list(events[:n]), order_id) for n in range(1, len(events) + 1)]
    cuts: list[int] = []
    handled: dict[str, str] = {}
    start = 0
    while start < len(versions):
        end = start
        while end + 1 < len(versions):
            last = end + 1
            outcomes = {
                planner.outcome([versions[i] for i in (*seen, last)], contacts, handled)
                for size in range(last - start + 1)
                for seen in itertools.combinations(range(start, last), size)
            }
            if len(outcomes) > 1:
                break
            end = last
        handled = planner.plan([versions[end]], contacts, handled)[2]
        cuts.append(end + 1)
        start = end + 1
    return cuts


@dataclass
class Phase:
    events: list[Event]  # every order's events of the phase, each order's in order
    version: int  # each order's timeline version once they are in
    send: dict[str, Message]  # message id -> a message the phase must deliver
    suppress: dict[str, Message]  # message id -> a message it must record as suppressed


def phases_of(orders: dict[str, list[Event]], planner: Planner) -> list[Phase]:
    """The phases every copy is sent in (the copies differ in names only), and what each must
    deliver."""
    cuts = cut_phases(next(iter(orders.values())), planner)
    phases = [Phase([], cut, {}, {}) for cut in cuts]
    for order_id, events in orders.items():
        contacts = contacts_in(events)
        handled: dict[str, str] = {}
        begin = 0
        for phase, cut in zip(phases, cuts, strict=True):
            phase.events += events[begin:cut]
            timeline = fold(list(events[:cut]), order_id)
            messages, suppressed, handled = planner.plan([timeline], contacts, handled)
            phase.send |= {m.message_id: m for m in messages}
            phase.suppress |= {m.message_id: m for m in suppressed}
            begin = cut
    return phases


@dataclass
class Traffic:
    """The orders, their phases, and the checks, on one stack and one pair of servers."""

    settings: Settings
    servers: Servers
    orders: dict[str, list[Event]]
    subscriptions: dict[str, Subscription]  # the query string of its URL -> subscription
    phases: list[Phase]

    @classmethod
    def prepare(cls, settings: Settings, servers: Servers, count: int, hooks: int) -> Traffic:
        """``count`` orders and ``hooks`` webhook subscriptions to every event type, each at
        ``servers``' receiver under a query string of its own."""
        subscriptions: dict[str, Subscription] = {}
        for n in range(hooks):
            query = f"to={n}"
            url = f"{servers.receiver.url}?{query}"
            subscriptions[query] = asyncio.run(subscribe(settings, url))
        orders = copies(count, settings.redis.key_prefix[-8:])
        planner = Planner(list(subscriptions.values()), settings.notify, datetime.now(UTC))
        return cls(settings, servers, orders, subscriptions, phases_of(orders, planner))

    def send(self, index: int, *, pause_s: float = 0.0) -> None:
        """Phase ``index``'s events, at once or order after order ``pause_s`` apart."""
        events = self.phases[index].events
        if not pause_s:
            asyncio.run(send(self.settings, events))
            return
        for order_id in self.orders:
            asyncio.run(send(self.settings, [e for e in events if e.order_id == order_id]))
            time.sleep(pause_s)

    def settled(self, index: int) -> bool:
        """Whether every order's phase ``index`` is planned (its last version, contacts known)
        and each of its messages final."""
        return asyncio.run(self._settled(self.phases[index].version))

    async def _settled(self, version: int) -> bool:
        client = await redis_client(self.settings)
        try:
            ledger = Ledger(client, self.settings.redis.key_prefix)
            for order_id in self.orders:
                planned = await client.hget(ledger.handled_key(order_id), "_version")
                if planned is None or int(planned) != version:
                    return False
                if await client.zscore(ledger.pending_key, order_id) is not None:
                    return False  # planned before its contacts were known: again soon
                if not all(entry.final for entry in await ledger.for_order(order_id, 500)):
                    return False
            return True
        finally:
            await client.aclose()

    def entries(self) -> dict[str, Entry]:
        """Every message the ledger holds for the orders, by id."""
        return asyncio.run(self._entries())

    async def _entries(self) -> dict[str, Entry]:
        client = await redis_client(self.settings)
        try:
            ledger = Ledger(client, self.settings.redis.key_prefix)
            found: dict[str, Entry] = {}
            for order_id in self.orders:
                found |= {e.message_id: e for e in await ledger.for_order(order_id, 500)}
            return found
        finally:
            await client.aclose()

    def deliveries(self, index: int) -> int:
        """How many deliveries phase ``index`` must make."""
        return len(self.phases[index].send)

    def check(self, may_repeat: Collection[str]) -> Counter[str]:
        """Every message the input calls for arrived, none that it does not; none twice but
        those in ``may_repeat`` (sends in flight when their worker died), and those under their
        one id; the ledger holds each planned message in its final state and every outcome
        record is on the notifications topic. Returns how often each message arrived."""
        send = {i: m for phase in self.phases for i, m in phase.send.items()}
        suppress = {i: m for phase in self.phases for i, m in phase.suppress.items()}
        self._check_ledger(send, suppress)
        counts = self._check_deliveries(send, may_repeat)
        self._check_records(send, suppress)
        return counts

    def _check_ledger(self, send: dict[str, Message], suppress: dict[str, Message]) -> None:
        entries = self.entries()
        planned = set(send) | set(suppress)
        unplanned = [entries[i].message.key for i in sorted(set(entries) - planned)]
        assert not unplanned, f"the ledger holds messages the input does not call for: {unplanned}"
        lost = [m.key for i, m in {**send, **suppress}.items() if i not in entries]
        assert not lost, f"planned messages missing from the ledger: {lost}"
        wrong = {
            entry.message.key: entry.state
            for i, entry in entries.items()
            if entry.state is not (MessageState.SENT if i in send else MessageState.SUPPRESSED)
        }
        assert not wrong, f"messages in the wrong final state: {wrong}"

    def _check_deliveries(
        self, send: dict[str, Message], may_repeat: Collection[str]
    ) -> Counter[str]:
        receiver, sink = self.servers.receiver, self.servers.sink
        delivered, mails, recipients = self.servers.read(
            lambda: (list(receiver.delivered), Counter(sink.seen), dict(sink.recipients))
        )
        domain = sender_domain(self.settings.notify.sender)
        by_header = {
            message_id_header(i, domain): i
            for i, m in send.items()
            if m.channel is NotifyChannel.EMAIL
        }
        counts: Counter[str] = Counter()
        unplanned: list[str] = []
        for webhook_id, query, body in delivered:
            message = send.get(webhook_id)
            if message is None or message.channel is not NotifyChannel.WEBHOOK:
                unplanned.append(f"webhook {webhook_id}: {body[:120]!r}")
                continue
            # what arrived under the id is the message planned under it: its order, its event
            # and its subscription
            document = orjson.loads(body)
            got = (self.subscriptions[query].id, document["type"], document["data"]["order_id"])
            assert got == (message.recipient, message.kind, message.order_id), message.key
            counts[webhook_id] += 1
        for header, times in mails.items():
            message_id = by_header.get(header)
            if message_id is None:
                unplanned.append(f"e-mail {header}")
                continue
            assert recipients[header] == [send[message_id].recipient], send[message_id].key
            counts[message_id] += times
        assert not unplanned, f"delivered, but not called for by the input: {unplanned}"
        missing = [m.key for i, m in send.items() if counts[i] == 0]
        assert not missing, f"{len(missing)} of {len(send)} messages never arrived: {missing}"
        twice = {send[i].key: n for i, n in counts.items() if n > 1 and i not in may_repeat}
        assert not twice, f"delivered more than once, not in flight at a crash: {twice}"
        assert max(counts.values()) <= 2, "a send in flight at a crash is repeated once"
        return counts

    def _check_records(self, send: dict[str, Message], suppress: dict[str, Message]) -> None:
        wanted = {(i, MessageState.SENT) for i in send}
        wanted |= {(i, MessageState.SUPPRESSED) for i in suppress}

        def found(values: list[bytes]) -> set[tuple[str, MessageState]]:
            decoded = (decode_record(value) for value in values)
            return {(r.message_id, r.state) for r in decoded if r.order_id in self.orders}

        values = asyncio.run(records(self.settings, lambda got: wanted <= found(got)))
        got = found(values)
        assert wanted <= got, f"{len(wanted - got)} outcome records missing from the topic"
        assert got <= wanted, f"outcome records nothing called for: {sorted(got - wanted)}"
