"""Outbound webhook subscriptions, their delivery logs, and customers' per-order preferences.

The Redis side the ``notify`` role and the API share (docs/notifications.md). Every key sits
under ``P:{notify}:`` so Redis Cluster keeps them on the ``notify`` slot beside the ledger and
the outbox:

    P:{notify}:subs                  hash  subscription id -> Subscription JSON
    P:{notify}:subs:retire           hash  subscription id -> when its previous secrets stop
    P:{notify}:sub:{ID}:log          list  the newest delivery attempts, newest first (capped)
    P:{notify}:prefs:{ORDER}         hash  "email:<address>" / "sms:+<digits>" -> "1" | "0"
                                           (expires ``retention_s`` after its last change, if set)

Secrets: ``Subscription.secrets[0]`` is the newest; during a rotation the previous one follows
it and both sign (Standard Webhooks allows several signatures) until :meth:`expire_old` or the
retirement time given to :meth:`rotate` passes. Reading a subscription after that time drops the
retired secrets, so no sweeper is needed.
"""

from __future__ import annotations

import base64
import json
import re
import secrets as random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from projections.notify.model import (
    EVENT_TYPES,
    NotifyChannel,
    Preferences,
    Subscription,
    SubscriptionFilters,
)

#: delivery attempts kept per subscription (the oldest fall off)
LOG_CAP = 200
#: bytes of randomness in a generated signing secret (Standard Webhooks: 24 to 64)
SECRET_BYTES = 32
#: what :meth:`SubscriptionStore.update` may change
UPDATABLE = frozenset({"url", "event_types", "filters", "description", "max_concurrency"})

_NOT_DIGIT = re.compile(r"\D")
_WILDCARD = re.compile(r"^[a-z_]+\.\*$")


def new_secret() -> str:
    """A fresh ``whsec_`` signing secret: base64 of :data:`SECRET_BYTES` random bytes."""
    return "whsec_" + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode()


def new_subscription_id() -> str:
    return "sub_" + random.token_hex(12)


def known_event_type(value: str) -> bool:
    """An event type of :data:`EVENT_TYPES`, a family wildcard such as ``return.*``, or ``*``
    (every type)."""
    if value == "*" or value in EVENT_TYPES:
        return True
    if _WILDCARD.match(value):
        family = value[:-1]
        return any(known.startswith(family) for known in EVENT_TYPES)
    return False


def normalize_recipient(channel: NotifyChannel | str, recipient: str) -> str:
    """How a preference names a recipient: a lower-cased e-mail address, ``+digits`` for SMS."""
    value = recipient.strip()
    if NotifyChannel(channel) is NotifyChannel.SMS:
        return "+" + _NOT_DIGIT.sub("", value)
    return value.lower()


def preference_key(channel: NotifyChannel | str, recipient: str) -> str:
    """The :class:`Preferences` key of a recipient: ``email:<lower>`` or ``sms:+<digits>``."""
    return f"{NotifyChannel(channel).value}:{normalize_recipient(channel, recipient)}"


def mask_recipient(channel: NotifyChannel | str, recipient: str) -> str:
    """A recipient as shown to someone who may not see it whole: ``a***@example.com``,
    ``+*******4567``; other channels (a subscription id, an alert target) as they are."""
    if channel == NotifyChannel.EMAIL:
        local, at, domain = recipient.partition("@")
        return f"{local[:1]}***{at}{domain}" if at else "***"
    if channel == NotifyChannel.SMS:
        digits = _NOT_DIGIT.sub("", recipient)
        return "+" + "*" * max(0, len(digits) - 4) + digits[-4:]
    return recipient


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SubscriptionStore:
    """Webhook subscriptions and their delivery logs in Redis (a client the caller owns)."""

    def __init__(self, client: aioredis.Redis, prefix: str, *, log_cap: int = LOG_CAP) -> None:
        base = f"{prefix}:{{notify}}"
        self.key = f"{base}:subs"
        self.retire_key = f"{base}:subs:retire"
        self._base = base
        self._client = client
        self._log_cap = log_cap

    def log_key(self, sub_id: str) -> str:
        return f"{self._base}:sub:{sub_id}:log"

    # reading ----------------------------------------------------------------------------------

    async def get(self, sub_id: str, *, now: datetime | None = None) -> Subscription | None:
        """The subscription, its retired secrets dropped when ``now`` is past their time."""
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hget(self.key, sub_id)
            pipe.hget(self.retire_key, sub_id)
            raw, retire = await pipe.execute()
        if raw is None:
            return None
        found = Subscription.model_validate_json(raw)
        return await self._retired(found, retire, now)

    async def all(self, *, now: datetime | None = None) -> list[Subscription]:
        """Every subscription, oldest first."""
        raw = await self._client.hgetall(self.key)
        retire = {_text(k): v for k, v in (await self._client.hgetall(self.retire_key)).items()}
        found = [Subscription.model_validate_json(v) for v in raw.values()]
        out = [await self._retired(s, retire.get(s.id), now) for s in found]
        return sorted(out, key=lambda s: (s.created_at, s.id))

    async def _retired(
        self, sub: Subscription, retire: bytes | str | None, now: datetime | None
    ) -> Subscription:
        if retire is None or now is None or len(sub.secrets) < 2:
            return sub
        if now < datetime.fromisoformat(_text(retire)):
            return sub
        return await self._replace(sub, {"secrets": sub.secrets[:1]}, now, retire=True)

    # writing ----------------------------------------------------------------------------------

    async def create(
        self,
        url: str,
        event_types: Iterable[str],
        filters: SubscriptionFilters | Mapping[str, Any] | None = None,
        secrets: Iterable[str] | None = None,
        description: str | None = None,
        max_concurrency: int | None = None,
        *,
        now: datetime,
    ) -> Subscription:
        """Store a new subscription with a ``sub_`` id and, unless given, a fresh secret."""
        given = tuple(secrets or ())
        sub = Subscription(
            id=new_subscription_id(),
            url=url,
            event_types=tuple(dict.fromkeys(event_types)),
            filters=SubscriptionFilters.model_validate(filters or {}),
            secrets=given or (new_secret(),),
            description=description,
            created_at=now,
            updated_at=now,
            max_concurrency=max_concurrency,
        )
        await self._client.hset(self.key, sub.id, sub.model_dump_json())
        return sub

    async def ensure(
        self, description: str, url: str, event_types: Iterable[str], *, now: datetime
    ) -> Subscription:
        """The subscription ``description`` names, made once; its URL and event types kept as
        given (a subscription an older release made gets new event types)."""
        wanted = tuple(dict.fromkeys(event_types))
        for sub in await self.all(now=now):
            if sub.description == description:
                if sub.url == url and sub.event_types == wanted:
                    return sub
                updated = await self.update(sub.id, now=now, url=url, event_types=wanted)
                return updated or sub
        return await self.create(url, wanted, description=description, now=now)

    async def _replace(
        self, sub: Subscription, changes: Mapping[str, Any], now: datetime, *, retire: bool = False
    ) -> Subscription:
        data = sub.model_dump()
        data.update(changes)
        data["updated_at"] = now
        updated = Subscription.model_validate(data)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, sub.id, updated.model_dump_json())
            if retire:
                pipe.hdel(self.retire_key, sub.id)
            await pipe.execute()
        return updated

    async def update(self, sub_id: str, *, now: datetime, **changes: Any) -> Subscription | None:
        """Change url, event types, filters, description or max_concurrency; None: unknown id."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
        sub = await self.get(sub_id, now=now)
        if sub is None:
            return None
        if "event_types" in changes:
            changes["event_types"] = tuple(dict.fromkeys(changes["event_types"]))
        if "filters" in changes:
            changes["filters"] = SubscriptionFilters.model_validate(changes["filters"] or {})
        return await self._replace(sub, changes, now)

    async def rotate(
        self, sub_id: str, *, now: datetime, keep_old_for: timedelta | None = None
    ) -> tuple[Subscription, str] | None:
        """Add a fresh secret in front; the previous one keeps signing until :meth:`expire_old`
        (or until ``now + keep_old_for``). Returns the subscription and the new secret."""
        sub = await self.get(sub_id, now=now)
        if sub is None:
            return None
        secret = new_secret()
        updated = await self._replace(sub, {"secrets": (secret, sub.secrets[0])}, now)
        if keep_old_for is not None:
            until = (now + keep_old_for).isoformat()
            await self._client.hset(self.retire_key, sub_id, until)
        else:
            await self._client.hdel(self.retire_key, sub_id)
        return updated, secret

    async def expire_old(self, sub_id: str, *, now: datetime) -> Subscription | None:
        """Stop signing with the previous secrets: only the newest is kept."""
        sub = await self.get(sub_id, now=now)
        if sub is None:
            return None
        return await self._replace(sub, {"secrets": sub.secrets[:1]}, now, retire=True)

    async def pause(self, sub_id: str, *, now: datetime) -> Subscription | None:
        sub = await self.get(sub_id, now=now)
        return None if sub is None else await self._replace(sub, {"paused": True}, now)

    async def resume(self, sub_id: str, *, now: datetime) -> Subscription | None:
        """Unpause and re-enable (clears a disabling and its reason)."""
        sub = await self.get(sub_id, now=now)
        if sub is None:
            return None
        changes = {"paused": False, "disabled_reason": None, "disabled_at": None}
        return await self._replace(sub, changes, now)

    async def disable(self, sub_id: str, reason: str, *, at: datetime) -> Subscription | None:
        """Stop deliveries after persistent failure, with the reason an agent will read."""
        sub = await self.get(sub_id, now=at)
        if sub is None:
            return None
        return await self._replace(sub, {"disabled_reason": reason, "disabled_at": at}, at)

    async def delete(self, sub_id: str) -> bool:
        """Remove the subscription and its delivery log; False: it did not exist."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(self.key, sub_id)
            pipe.hdel(self.retire_key, sub_id)
            pipe.delete(self.log_key(sub_id))
            removed, _, _ = await pipe.execute()
        return bool(removed)

    # delivery log -----------------------------------------------------------------------------

    async def record_attempt(self, sub_id: str, entry: Mapping[str, Any]) -> None:
        """Log one delivery attempt (message_id, type, attempt, status_code, latency_ms, error,
        at); the log keeps the newest :data:`LOG_CAP`."""
        key = self.log_key(sub_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(dict(entry), separators=(",", ":"), default=str))
            pipe.ltrim(key, 0, self._log_cap - 1)
            await pipe.execute()

    async def attempts(self, sub_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` attempts, newest first."""
        if limit <= 0:
            return []
        raw = await self._client.lrange(self.log_key(sub_id), 0, limit - 1)
        entries = [json.loads(item) for item in raw]
        return [entry for entry in entries if isinstance(entry, dict)]


class PreferenceStore:
    """Customers' per-order opt-in and opt-out (a Redis client the caller owns)."""

    def __init__(self, client: aioredis.Redis, prefix: str, *, retention_s: int = 0) -> None:
        self._base = f"{prefix}:{{notify}}:prefs"
        self._client = client
        self.retention_s = retention_s

    def key(self, order_id: str) -> str:
        return f"{self._base}:{order_id}"

    async def get(self, order_id: str) -> Preferences:
        raw = await self._client.hgetall(self.key(order_id))
        return Preferences({_text(k): _text(v) == "1" for k, v in raw.items()})

    async def set(
        self, order_id: str, channel: NotifyChannel | str, recipient: str, subscribed: bool
    ) -> str:
        """Record a choice; returns the preference key it was stored under."""
        key = preference_key(channel, recipient)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key(order_id), key, "1" if subscribed else "0")
            if self.retention_s > 0:  # they name the customer: kept as long as the order is
                pipe.expire(self.key(order_id), self.retention_s)
            await pipe.execute()
        return key

    async def forget(self, order_id: str) -> None:
        """Drop an order's preferences (erasure: they name the customer's addresses)."""
        await self._client.delete(self.key(order_id))
