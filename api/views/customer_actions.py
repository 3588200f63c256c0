"""What a customer does on /track: report a problem (with a photo), request a return or a
cancellation, and see the photo they sent. Every action needs the order's capability token (a
token acts on its one order only), is counted against the order's hourly allowance
(``selfservice.customer_actions_per_hour``, shared by every API process) and becomes one
canonical event (:mod:`projections.customer_actions`), produced like an agent's action.

``Idempotency-Key``: the same key on the same order and action gives the same event and, for a
day, the same answer without counting again; the key sent with a different request is refused
(422). Without a key, the same request repeated before the first is folded is the same event.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import BodyPartReader, web

from api.auth import ACT_ROLES
from api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unprocessable,
    UnsupportedMediaType,
)
from api.guards import SHARED_LIMITER
from api.kafka import write
from api.keys import CAPABILITIES, CLOCK, PRODUCER, REDIS, SETTINGS
from api.photos import REF_PATTERN, PhotoRefused, PhotoStore, clean_photo
from api.ratelimit import Limit
from api.views.agent import agent
from api.views.body import is_json, json_object
from api.views.orders import customer_token, stored_timeline
from api.views.respond import json
from projections.customer_actions import (
    ProblemRequest,
    ReturnLineRequest,
    cancel_requested,
    problem_refusal,
    problem_reported,
    return_requested,
)
from projections.exception_flow import Refusal
from projections.timeline_model import Timeline
from wismo.brands import return_window_days
from wismo.events import Event
from wismo.ids import digest
from wismo.topics import route
from wismo.vocab import ProblemType

_REFUSALS: dict[int, type[ApiError]] = {
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
}
MAX_TEXT = 2000
MAX_REASON = 500
MAX_ID = 128
MAX_LINES = 100
MAX_KEY = 200
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
#: a character that is not blank, as the document's patterns say it (JSON Schema's \s is
#: ECMAScript's, which has U+FEFF; Python's has U+001C-U+001F and U+0085, which the pattern adds)
_VISIBLE = re.compile(r"[^\s\ufeff]")
#: the fields of a problem report besides the photo, each a short text part
_PROBLEM_FIELDS = frozenset({"problem", "text", "subject", "lines"})
_FIELD_BYTES = 64 * 1024
_REPLAY_S = 86400

Build = Callable[[Timeline, str | None], Awaitable[Event | Refusal]]


def add_customer_action_routes(app: web.Application) -> None:
    app.router.add_post("/v1/orders/{order_id}/problems", report_problem)
    app.router.add_post("/v1/orders/{order_id}/returns", request_return)
    app.router.add_post("/v1/orders/{order_id}/cancellations", request_cancellation)
    app.router.add_get("/v1/orders/{order_id}/photos/{ref}", customer_photo)
    app.router.add_get("/v1/agent/photos/{ref}", agent_photo)


# input -------------------------------------------------------------------------------------


def _text(value: object, name: str, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _VISIBLE.search(value) or len(value) > limit:
        raise BadRequest(f"{name} must be non-empty text of at most {limit} characters")
    return value.strip()


def _quantity(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise BadRequest(f"{name} must be a whole number from 1 to 1000000")
    return value


def _lines(value: object, *, reasons: bool) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LINES:
        raise BadRequest(f"lines must be a list of 1 to {MAX_LINES} lines")
    fields = {"line_id", "quantity", "reason"} if reasons else {"line_id", "quantity"}
    lines = []
    for index, line in enumerate(value):
        where = f"lines[{index}]"
        if not isinstance(line, dict) or set(line) - fields:
            raise BadRequest(f"{where} must be an object with {', '.join(sorted(fields))}")
        entry: dict[str, Any] = {
            "line_id": _text(line.get("line_id"), f"{where}.line_id", MAX_ID),
            "quantity": _quantity(line.get("quantity"), f"{where}.quantity"),
        }
        if reasons:
            entry["reason"] = _text(line.get("reason"), f"{where}.reason", MAX_REASON)
        lines.append(entry)
    return lines


def _known(body: dict[str, Any], allowed: set[str] | frozenset[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY.match(key):
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters")
    return key


@dataclass(slots=True)
class ProblemForm:
    fields: dict[str, Any]
    photo: bytes | None


async def _problem_form(request: web.Request) -> ProblemForm:
    """The report as JSON, or as multipart/form-data with a ``photo`` file part."""
    settings = request.app[SETTINGS]
    if is_json(request.content_type):
        body = await json_object(request, settings.api.max_body_bytes)
        _known(body, _PROBLEM_FIELDS)
        return ProblemForm(body, None)
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "expected application/json or multipart/form-data, got "
            f"{request.content_type or 'no content type'}"
        )
    limit = settings.selfservice.photo_max_bytes
    fields: dict[str, Any] = {}
    photo: bytes | None = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                raise BadRequest("every part must be a named form field")
            if part.name == "photo" and photo is None:
                photo = await _read_part(part, limit, "the photo")
            elif part.name in _PROBLEM_FIELDS and part.name not in fields:
                raw = await _read_part(part, _FIELD_BYTES, part.name)
                fields[part.name] = raw.decode("utf-8")
            else:
                raise BadRequest(f"unexpected or repeated field {part.name}")
    except (ValueError, AssertionError, UnicodeDecodeError) as error:
        raise BadRequest(f"the form could not be read: {error}") from error
    if "lines" in fields:
        try:
            fields["lines"] = orjson.loads(fields["lines"])
        except orjson.JSONDecodeError as error:
            raise BadRequest("lines must be a JSON list of {line_id, quantity}") from error
    return ProblemForm(fields, photo or None)


async def _read_part(part: BodyPartReader, limit: int, what: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(65536):
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(f"{what} is over {limit} bytes")
    return bytes(data)


def _problem(fields: dict[str, Any]) -> ProblemRequest:
    problem = fields.get("problem")
    if not isinstance(problem, str) or problem not in frozenset(ProblemType):
        raise BadRequest(f"problem must be one of {', '.join(ProblemType)}")
    lines = fields.get("lines")
    parsed = _lines(lines, reasons=False) if lines is not None else []
    return ProblemRequest(
        problem=ProblemType(problem),
        text=_text(fields.get("text"), "text", MAX_TEXT) or "",
        subject=_text(fields.get("subject"), "subject", MAX_ID, required=False),
        lines=tuple((line["line_id"], line["quantity"]) for line in parsed),
    )


# the flow every action shares --------------------------------------------------------------


def _authorized(request: web.Request) -> str:
    order_id = request.match_info["order_id"]
    app = request.app
    app[CAPABILITIES].authorize(customer_token(request), order_id, app[CLOCK]())
    return order_id


class _Replays:
    """The answer given to an ``Idempotency-Key``, kept a day under the order's hash tag."""

    def __init__(self, request: web.Request, order_id: str, action: str, key: str) -> None:
        prefix = request.app[SETTINGS].redis.key_prefix
        self.redis = request.app[REDIS]
        self.key = f"{prefix}:{{{order_id}}}:idem:{digest(action, key)}"

    async def get(self, fingerprint: str) -> dict[str, Any] | None:
        raw = await self.redis.get(self.key)
        if raw is None:
            return None
        kept = orjson.loads(raw)
        if kept["fingerprint"] != fingerprint:
            raise Unprocessable("this Idempotency-Key was used for a different request")
        answer: dict[str, Any] = kept["answer"]
        return answer

    async def put(self, fingerprint: str, answer: dict[str, Any]) -> None:
        record = orjson.dumps({"fingerprint": fingerprint, "answer": answer})
        await self.redis.set(self.key, record, ex=_REPLAY_S, nx=True)


async def _take(request: web.Request, order_id: str) -> None:
    per_hour = request.app[SETTINGS].selfservice.customer_actions_per_hour
    limit = Limit("customer-actions", per_hour / 3600, per_hour)
    wait = await request.app[SHARED_LIMITER].take((limit, order_id))
    if wait:
        raise TooManyRequests(
            f"this order takes at most {per_hour} requests an hour", retry_after_s=wait
        )


async def _act(
    request: web.Request, action: str, fingerprint: bytes, build: Build, id_field: str
) -> web.Response:
    order_id = request.match_info["order_id"]
    key = _idempotency_key(request)
    replays = _Replays(request, order_id, action, key) if key is not None else None
    mark = hashlib.sha256(fingerprint).hexdigest()
    if replays is not None and (answer := await replays.get(mark)) is not None:
        return json(answer, status=202)
    await _take(request, order_id)
    timeline = await stored_timeline(request, order_id)
    outcome = await build(timeline, key)
    if isinstance(outcome, Refusal):
        raise _REFUSALS.get(outcome.status, BadRequest)(outcome.reason)
    app = request.app
    settings = app[SETTINGS]
    await write(
        app[PRODUCER],
        [(settings.topic(out.topic), out.key.encode(), out.value, None) for out in route(outcome)],
    )
    answer = {
        "status": "accepted",
        "event_id": outcome.event_id,
        "order_id": order_id,
        id_field: getattr(outcome.payload, id_field),
        "at": outcome.occurred_at.isoformat(),
    }
    if replays is not None:
        await replays.put(mark, answer)
    return json(answer, status=202)


# the routes --------------------------------------------------------------------------------


async def report_problem(request: web.Request) -> web.Response:
    order_id = _authorized(request)
    form = await _problem_form(request)
    report = _problem(form.fields)
    app = request.app
    limits = app[SETTINGS].selfservice
    photos = PhotoStore(app[REDIS], app[SETTINGS].redis.key_prefix, limits.photo_retention_days)

    async def build(timeline: Timeline, key: str | None) -> Event | Refusal:
        refusal = problem_refusal(timeline, report)
        if refusal is not None:
            return refusal
        attachment = None
        if form.photo is not None:
            try:
                clean = await asyncio.to_thread(clean_photo, form.photo, limits)
            except PhotoRefused as refused:
                return Refusal(refused.status, refused.reason)
            attachment = await photos.keep(order_id, clean)
        now = app[CLOCK]()
        return problem_reported(timeline, report, attachment=attachment, key=key, now=now)

    fingerprint = (
        orjson.dumps(
            [report.problem, report.text, report.subject, report.lines], option=orjson.OPT_SORT_KEYS
        )
        + hashlib.sha256(form.photo or b"").digest()
    )
    return await _act(request, "problem", fingerprint, build, "exception_id")


async def request_return(request: web.Request) -> web.Response:
    _authorized(request)
    app = request.app
    body = await json_object(request, app[SETTINGS].api.max_body_bytes)
    _known(body, {"lines"})
    lines = [
        ReturnLineRequest(line["line_id"], line["quantity"], line["reason"])
        for line in _lines(body.get("lines"), reasons=True)
    ]

    async def build(timeline: Timeline, key: str | None) -> Event | Refusal:
        now = app[CLOCK]()
        window = return_window_days(app[SETTINGS], timeline.brand)
        return return_requested(timeline, lines, key=key, now=now, window_days=window)

    fingerprint = orjson.dumps([[r.line_id, r.quantity, r.reason] for r in lines])
    return await _act(request, "return", fingerprint, build, "return_id")


async def request_cancellation(request: web.Request) -> web.Response:
    _authorized(request)
    app = request.app
    body = await json_object(request, app[SETTINGS].api.max_body_bytes)
    _known(body, {"lines", "reason"})
    lines = [
        (line["line_id"], line["quantity"]) for line in _lines(body.get("lines"), reasons=False)
    ]
    reason = _text(body.get("reason"), "reason", MAX_REASON, required=False)

    async def build(timeline: Timeline, key: str | None) -> Event | Refusal:
        return cancel_requested(timeline, lines, reason, key=key, now=app[CLOCK]())

    fingerprint = orjson.dumps([lines, reason])
    return await _act(request, "cancel", fingerprint, build, "request_id")


# photos ------------------------------------------------------------------------------------

#: a photo is shown as an image and nothing else: no script, no plugin, no framing elsewhere
PHOTO_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
_REF = re.compile(REF_PATTERN)


async def _photo(request: web.Request, order_id: str | None, cache: str) -> web.Response:
    ref = request.match_info["ref"]
    if not _REF.match(ref):
        raise NotFound("no such photo")
    app = request.app
    store = PhotoStore(
        app[REDIS], app[SETTINGS].redis.key_prefix, app[SETTINGS].selfservice.photo_retention_days
    )
    photo = await store.get(ref)
    if photo is None or (order_id is not None and photo.order_id != order_id):
        raise NotFound("no such photo (or it is no longer kept)")
    return web.Response(
        body=photo.data,
        content_type=photo.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="{ref}"',
            "Content-Security-Policy": PHOTO_POLICY,
            "Cache-Control": cache,
        },
    )


async def customer_photo(request: web.Request) -> web.Response:
    """The customer's own photo, with the order's token (a ref is never reused: keep it)."""
    order_id = _authorized(request)
    return await _photo(request, order_id, "private, max-age=86400")


async def agent_photo(request: web.Request) -> web.Response:
    """Any customer photo, for an agent or supervisor."""
    agent(request, ACT_ROLES)
    return await _photo(request, None, "no-store")
