"""Outbound webhook subscriptions over the API (docs/notifications.md, "Webhooks").

Agents, supervisors and admins manage them; viewers list and read them (their URLs cut to the
host: a URL may carry a token). A subscription's signing secret is answered once, when it is
made (create, rotate-secret), and never listed. A URL must be http(s); in production it may not
point at an internal address (:mod:`api.views.notify_targets`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from api.auth import ACT_ROLES, ERASE_ROLES, READ_ROLES, Agent
from api.errors import BadRequest, NotFound
from api.keys import CLOCK, REDIS, SETTINGS
from api.views.agent import known_parameters, unrestricted_agent
from api.views.body import json_object, raw_body, require_json
from api.views.notify_targets import check_target
from api.views.respond import json as json_answer
from projections.notify.model import Subscription
from projections.notify.subscriptions import SubscriptionStore, known_event_type

#: who may read subscriptions and their delivery logs / who may change them
SUBSCRIPTION_READERS = READ_ROLES | ERASE_ROLES
SUBSCRIPTION_WRITERS = ACT_ROLES | ERASE_ROLES
MAX_DESCRIPTION = 500
MAX_FILTER_VALUES = 50
MAX_EVENT_TYPES = 50
MAX_CONCURRENCY = 64
#: how long the previous secret keeps signing after a rotation unless the request says
DEFAULT_KEEP_PREVIOUS_S = 86400
MAX_KEEP_PREVIOUS_S = 30 * 86400
MAX_LOG = 200
FIELDS = frozenset({"url", "event_types", "filters", "description", "max_concurrency", "secret"})
PATCHABLE = FIELDS - {"secret"}
FILTER_FIELDS = ("channels", "carriers", "brands")


def json(
    document: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer no cache keeps: it may carry a signing secret or an endpoint's URL."""
    return json_answer(
        document, status=status, headers={"Cache-Control": "no-store"} | (headers or {})
    )


def subscriptions(request: web.Request) -> SubscriptionStore:
    return SubscriptionStore(request.app[REDIS], request.app[SETTINGS].redis.key_prefix)


def state_of(sub: Subscription) -> str:
    if sub.disabled_reason is not None:
        return "disabled"
    return "paused" if sub.paused else "active"


def _host_only(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def document(sub: Subscription, who: Agent | None = None) -> dict[str, Any]:
    """The answer for one subscription: everything but its secrets (how many sign is said)."""
    sees_url = who is None or bool(who.roles & SUBSCRIPTION_WRITERS)
    return {
        "id": sub.id,
        "url": sub.url if sees_url else _host_only(sub.url),
        "event_types": list(sub.event_types),
        "filters": {name: list(getattr(sub.filters, name)) for name in FILTER_FIELDS},
        "description": sub.description,
        "state": state_of(sub),
        "paused": sub.paused,
        "disabled_reason": sub.disabled_reason,
        "disabled_at": None if sub.disabled_at is None else sub.disabled_at.isoformat(),
        "max_concurrency": sub.max_concurrency,
        "signing_secrets": len(sub.secrets),
        "created_at": sub.created_at.isoformat(),
        "updated_at": sub.updated_at.isoformat(),
    }


def _event_types(value: object) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_EVENT_TYPES:
        raise BadRequest(f"event_types must be a list of 1 to {MAX_EVENT_TYPES} event types")
    unknown = [v for v in value if not isinstance(v, str) or not known_event_type(v)]
    if unknown:
        raise BadRequest(
            f"unknown event type(s) {', '.join(map(str, unknown))}; known: see "
            "docs/notifications.md (a family wildcard such as return.* works too, and * for all)"
        )
    return [str(v) for v in value]


def _filters(value: object) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("filters must be an object with channels, carriers and/or brands")
    unknown = sorted(set(value) - set(FILTER_FIELDS))
    if unknown:
        raise BadRequest(
            f"unknown filter(s) {', '.join(unknown)}; known: channels, carriers, brands"
        )
    out: dict[str, list[str]] = {}
    for name, values in value.items():
        if (
            not isinstance(values, list)
            or len(values) > MAX_FILTER_VALUES
            or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in values)
        ):
            raise BadRequest(f"filters.{name} must be a list of up to {MAX_FILTER_VALUES} names")
        out[name] = values
    return out


def _description(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise BadRequest(f"description must be text of at most {MAX_DESCRIPTION} characters")
    return value


def whole(value: object) -> int | None:
    """A JSON whole number (``3`` or ``3.0``: JSON Schema counts both as integers), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _concurrency(value: object) -> int | None:
    if value is None:
        return None
    number = whole(value)
    if number is None or not 1 <= number <= MAX_CONCURRENCY:
        raise BadRequest(f"max_concurrency must be a whole number from 1 to {MAX_CONCURRENCY}")
    return number


_B64 = "[A-Za-z0-9+/]"
#: a ``whsec_`` secret an integrator brings: base64 of 24 to 63 bytes, padded or not
#: (``openapi.yaml`` says the same pattern)
SECRET_PATTERN = (
    f"^whsec_(?:(?:{_B64}{{4}}){{8,21}}|(?:{_B64}{{4}}){{8,20}}{_B64}{{3}}="
    f"|(?:{_B64}{{4}}){{8,20}}{_B64}{{2}}==)$"
)
_SECRET = re.compile(SECRET_PATTERN)


def _secret(value: object) -> str:
    if isinstance(value, str) and _SECRET.search(value):
        return value.strip()
    raise BadRequest("secret must be whsec_ followed by base64 of 24 to 63 bytes")


async def _body(request: web.Request, *, patch: bool = False) -> dict[str, Any]:
    document = await json_object(request, request.app[SETTINGS].api.max_body_bytes)
    allowed = PATCHABLE if patch else FIELDS
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )
    changes: dict[str, Any] = {}
    if "url" in document or not patch:
        if "url" not in document:
            raise BadRequest("url is required")
        changes["url"] = await check_target(document["url"], request.app[SETTINGS])
    if "event_types" in document or not patch:
        if "event_types" not in document:
            raise BadRequest("event_types is required")
        changes["event_types"] = _event_types(document["event_types"])
    if "filters" in document:
        changes["filters"] = _filters(document["filters"])
    if "description" in document:
        changes["description"] = _description(document["description"])
    if "max_concurrency" in document:
        changes["max_concurrency"] = _concurrency(document["max_concurrency"])
    if "secret" in document:
        changes["secret"] = _secret(document["secret"])
    if patch and not changes:
        raise BadRequest(f"give at least one of {', '.join(sorted(PATCHABLE))}")
    return changes


def _found(sub: Subscription | None, sub_id: str) -> Subscription:
    if sub is None:
        raise NotFound(f"subscription {sub_id} is not known")
    return sub


async def create_subscription(request: web.Request) -> web.Response:
    who = unrestricted_agent(request, SUBSCRIPTION_WRITERS)
    fields = await _body(request)
    secret = fields.pop("secret", None)
    sub = await subscriptions(request).create(
        fields["url"],
        fields["event_types"],
        fields.get("filters"),
        secrets=None if secret is None else [secret],
        description=fields.get("description"),
        max_concurrency=fields.get("max_concurrency"),
        now=request.app[CLOCK](),
    )
    answer = document(sub, who) | {"secret": sub.secrets[0]}
    return json(answer, status=201, headers={"Location": f"/v1/notify/subscriptions/{sub.id}"})


async def list_subscriptions(request: web.Request) -> web.Response:
    who = unrestricted_agent(request, SUBSCRIPTION_READERS)
    known_parameters(request, frozenset())
    found = await subscriptions(request).all(now=request.app[CLOCK]())
    return json({"subscriptions": [document(sub, who) for sub in found]})


async def read_subscription(request: web.Request) -> web.Response:
    who = unrestricted_agent(request, SUBSCRIPTION_READERS)
    sub_id = request.match_info["subscription_id"]
    sub = await subscriptions(request).get(sub_id, now=request.app[CLOCK]())
    return json(document(_found(sub, sub_id), who))


async def update_subscription(request: web.Request) -> web.Response:
    who = unrestricted_agent(request, SUBSCRIPTION_WRITERS)
    sub_id = request.match_info["subscription_id"]
    store = subscriptions(request)
    now = request.app[CLOCK]()
    _found(await store.get(sub_id, now=now), sub_id)  # 404 before judging the body
    changes = await _body(request, patch=True)
    sub = await store.update(sub_id, now=now, **changes)
    return json(document(_found(sub, sub_id), who))


async def delete_subscription(request: web.Request) -> web.Response:
    unrestricted_agent(request, SUBSCRIPTION_WRITERS)
    sub_id = request.match_info["subscription_id"]
    if not await subscriptions(request).delete(sub_id):
        raise NotFound(f"subscription {sub_id} is not known")
    return web.Response(status=204)


async def pause_subscription(request: web.Request) -> web.Response:
    who = unrestricted_agent(request, SUBSCRIPTION_WRITERS)
    sub_id = request.match_info["subscription_id"]
    sub = await subscriptions(request).pause(sub_id, now=request.app[CLOCK]())
    return json(document(_found(sub, sub_id), who))


async def resume_subscription(request: web.Request) -> web.Response:
    """Unpause, and re-enable a subscription disabled after persistent failure."""
    who = unrestricted_agent(request, SUBSCRIPTION_WRITERS)
    sub_id = request.match_info["subscription_id"]
    sub = await subscriptions(request).resume(sub_id, now=request.app[CLOCK]())
    return json(document(_found(sub, sub_id), who))


async def _keep_previous_s(request: web.Request) -> int:
    raw = await raw_body(request, request.app[SETTINGS].api.max_body_bytes)
    if not raw.strip():
        return DEFAULT_KEEP_PREVIOUS_S
    require_json(request)
    body = await json_object(request, request.app[SETTINGS].api.max_body_bytes)
    unknown = sorted(set(body) - {"keep_previous_s"})
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; known: keep_previous_s")
    value = whole(body.get("keep_previous_s", DEFAULT_KEEP_PREVIOUS_S))
    if value is None or not 0 <= value <= MAX_KEEP_PREVIOUS_S:
        raise BadRequest(f"keep_previous_s must be a whole number from 0 to {MAX_KEEP_PREVIOUS_S}")
    return value


async def rotate_secret(request: web.Request) -> web.Response:
    """A fresh secret, answered once; the previous one keeps signing for ``keep_previous_s``
    (default a day; 0 stops it now) so receivers can switch without losing a delivery."""
    who = unrestricted_agent(request, SUBSCRIPTION_WRITERS)
    sub_id = request.match_info["subscription_id"]
    store = subscriptions(request)
    now = request.app[CLOCK]()
    _found(await store.get(sub_id, now=now), sub_id)
    keep = await _keep_previous_s(request)
    rotated = await store.rotate(sub_id, now=now, keep_old_for=timedelta(seconds=keep))
    if rotated is None:
        raise NotFound(f"subscription {sub_id} is not known")
    sub, secret = rotated
    if keep == 0:
        sub = _found(await store.expire_old(sub_id, now=now), sub_id)
    until = (now + timedelta(seconds=keep)).isoformat()
    return json(document(sub, who) | {"secret": secret, "previous_secret_until": until})


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return 50
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LOG:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LOG}")
    return int(raw)


async def deliveries(request: web.Request) -> web.Response:
    """The subscription's delivery log, newest first: attempt, status, latency, error."""
    unrestricted_agent(request, SUBSCRIPTION_READERS)
    known_parameters(request, frozenset({"limit"}))
    sub_id = request.match_info["subscription_id"]
    store = subscriptions(request)
    limit = _limit(request)
    _found(await store.get(sub_id, now=request.app[CLOCK]()), sub_id)
    return json({"deliveries": await store.attempts(sub_id, limit)})
