"""Customers acting on their order through the API: authorised by the order's token only,
rate-limited per order, idempotent, refused with a reason when the order does not allow it, and
every accepted action one canonical event on the events topic; photos checked, stripped and
served back with safe headers."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import FormData
from PIL import Image
from pydantic import SecretStr

from api.auth import issue_customer_token
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import (
    CUSTOMER_SECRET,
    Client,
    agent_token,
    eventually,
    make_settings,
    read_topic,
)
from tests.projections.test_customer_actions import _event, delivered_order, placed, shipped
from wismo.events import Event, parse_event
from wismo.settings import BrandSettings, SelfServiceSettings, Settings
from wismo.topics import EVENTS, ensure_topics

A, B, LATE, OPEN = "ORD-A", "ORD-B", "ORD-LATE", "ORD-OPEN"
PER_HOUR = 6
WINDOW_DAYS = 10.0


@pytest.fixture
async def settings(broker: str, prefix: str) -> Settings:
    limits = SelfServiceSettings(
        photo_max_bytes=200_000,
        photo_max_pixels=1_000_000,
        customer_actions_per_hour=PER_HOUR,
        return_window_days=WINDOW_DAYS,
    )
    # one brand keeps returns open longer than the shop's own window
    brands = {"longer": BrandSettings(name="Longer Returns", return_window_days=60)}
    chosen = make_settings(broker, prefix).model_copy(
        update={"selfservice": limits, "brands": brands}
    )
    await ensure_topics(chosen)
    return chosen


@pytest.fixture
async def orders(store: RedisTimelineStore) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    events: list[Event] = [
        *delivered_order({"L1": 2, "L2": 1}, now - timedelta(days=1), A, 11),
        *delivered_order({"L1": 1}, now - timedelta(days=1), B, 12),
        *delivered_order({"L1": 1}, now - timedelta(days=45), LATE, 13),
        placed({"L1": 1, "L2": 2}, OPEN),
        *shipped(14, {"L1": 1}, now - timedelta(hours=2), OPEN),
    ]
    await store.apply(events)


def auth(order_id: str) -> dict[str, str]:
    token = issue_customer_token(SecretStr(CUSTOMER_SECRET), order_id, datetime.now(UTC), 600)
    return {"Authorization": f"Bearer {token}"}


async def produced(settings: Settings) -> list[Event]:
    return [parse_event(record.value) for record in await read_topic(settings, EVENTS)]


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0131] = "secret-software"  # Software
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def form(photo: bytes | None, content_type: str = "image/jpeg", **fields: str) -> FormData:
    data = FormData()
    for name, value in {"problem": "damaged", "text": "the box was crushed", **fields}.items():
        data.add_field(name, value)
    if photo is not None:
        data.add_field("photo", photo, filename="photo.jpg", content_type=content_type)
    return data


RETURN = {"lines": [{"line_id": "L1", "quantity": 1, "reason": "too small"}]}


@pytest.mark.usefixtures("orders")
async def test_the_order_offers_returns_inside_the_configured_window(client: Client) -> None:
    rest = await (await client.get(f"/v1/orders/{A}", headers=auth(A))).json()
    token = auth(A)["Authorization"].removeprefix("Bearer ")
    async with client.ws_connect(f"/v1/ws/orders/{A}?token={token}") as ws:
        while (frame := orjson.loads((await ws.receive(timeout=10)).data))["type"] != "order":
            pass
    for view in (rest, frame["view"]):
        assert view["actions"]["return_window_days"] == WINDOW_DAYS
        (first, *_) = view["actions"]["returnable"]
        until, at = (datetime.fromisoformat(first[k]) for k in ("returnable_until", "delivered_at"))
        assert until - at == timedelta(days=WINDOW_DAYS)


@pytest.mark.usefixtures("orders")
async def test_a_token_acts_on_its_own_order_only(client: Client) -> None:
    for path, body in (
        ("returns", RETURN),
        ("cancellations", {"lines": [{"line_id": "L2", "quantity": 1}]}),
        ("problems", {"problem": "damaged", "text": "dented"}),
    ):
        other = await client.post(f"/v1/orders/{B}/{path}", json=body, headers=auth(A))
        assert other.status == 403, path
        assert "another order" in (await other.json())["reason"]
        none = await client.post(f"/v1/orders/{B}/{path}", json=body)
        assert none.status == 401
    photo = await client.get(f"/v1/orders/{B}/photos/{'a' * 32}.jpg", headers=auth(A))
    assert photo.status == 403


@pytest.mark.usefixtures("orders")
async def test_a_return_is_one_event_however_often_it_is_sent(
    client: Client, settings: Settings, store: RedisTimelineStore
) -> None:
    keyed = {**auth(A), "Idempotency-Key": "return-click-1"}
    first = await client.post(f"/v1/orders/{A}/returns", json=RETURN, headers=keyed)
    assert first.status == 202, await first.text()
    answer = await first.json()
    assert answer["return_id"].startswith("rr_")
    again = await client.post(f"/v1/orders/{A}/returns", json=RETURN, headers=keyed)
    assert await again.json() == answer
    other = {"lines": [{"line_id": "L2", "quantity": 1, "reason": "broken"}]}
    reused = await client.post(f"/v1/orders/{A}/returns", json=other, headers=keyed)
    assert reused.status == 422
    assert "Idempotency-Key" in (await reused.json())["reason"]
    # no key: the same request twice before it is folded is the same event
    twice = [
        await (await client.post(f"/v1/orders/{A}/returns", json=other, headers=auth(A))).json()
        for _ in range(2)
    ]
    assert twice[0]["event_id"] == twice[1]["event_id"]
    events = [e for e in await produced(settings) if e.kind == "return.requested"]
    assert len(events) == 3  # one for the key, two copies of one event without
    assert len({e.event_id for e in events}) == 2
    assert {e.source for e in events} == {"customer"}
    await store.apply(events)

    async def folded() -> bool:
        view = await (await client.get(f"/v1/orders/{A}", headers=auth(A))).json()
        return len(view["returns"]) == 2

    await eventually(folded)
    view = await (await client.get(f"/v1/orders/{A}", headers=auth(A))).json()
    assert {r["status"] for r in view["returns"]} == {"requested"}
    assert view["actions"]["returnable"] == [
        {
            "line_id": "L1",
            "name": "item L1",
            "quantity": 1,
            "delivered_at": view["actions"]["returnable"][0]["delivered_at"],
            "returnable_until": view["actions"]["returnable"][0]["returnable_until"],
        }
    ]
    more = {"lines": [{"line_id": "L1", "quantity": 2, "reason": "x"}]}
    over = await client.post(f"/v1/orders/{A}/returns", json=more, headers=auth(A))
    assert over.status == 422
    assert "at most 1" in (await over.json())["reason"]


@pytest.mark.usefixtures("orders")
async def test_returns_and_cancellations_are_refused_with_a_reason(client: Client) -> None:
    late = await client.post(f"/v1/orders/{LATE}/returns", json=RETURN, headers=auth(LATE))
    assert late.status == 409
    assert "window has closed" in (await late.json())["reason"]
    undelivered = await client.post(f"/v1/orders/{OPEN}/returns", json=RETURN, headers=auth(OPEN))
    assert undelivered.status == 409
    assert "not delivered" in (await undelivered.json())["reason"]
    shipped_line = {"lines": [{"line_id": "L1", "quantity": 1}]}
    busy = await client.post(
        f"/v1/orders/{OPEN}/cancellations", json=shipped_line, headers=auth(OPEN)
    )
    assert busy.status == 409
    assert "fulfilment order" in (await busy.json())["reason"]
    ok = {"lines": [{"line_id": "L2", "quantity": 2}], "reason": "ordered twice"}
    accepted = await client.post(f"/v1/orders/{OPEN}/cancellations", json=ok, headers=auth(OPEN))
    assert accepted.status == 202
    assert (await accepted.json())["request_id"].startswith("cq_")
    bad: dict[str, Any]
    for bad in (
        {"lines": []},
        {"lines": [{"line_id": "L1", "quantity": 0, "reason": "x"}]},
        {"lines": [{"line_id": "L1", "quantity": 1}]},  # a return line needs its reason
        {"lines": RETURN["lines"], "refund": "now"},
    ):
        refused = await client.post(f"/v1/orders/{A}/returns", json=bad, headers=auth(A))
        assert refused.status == 400, bad
    missing = await client.post(
        "/v1/orders/ORD-NONE/returns", json=RETURN, headers=auth("ORD-NONE")
    )
    assert missing.status == 404


@pytest.mark.usefixtures("orders")
async def test_a_problem_with_a_photo_is_stored_stripped_and_shown_to_its_customer(
    client: Client, settings: Settings
) -> None:
    sent = await client.post(
        f"/v1/orders/{A}/problems", data=form(jpeg_with_exif(), subject="SH-11"), headers=auth(A)
    )
    assert sent.status == 202, await sent.text()
    exception_id = (await sent.json())["exception_id"]
    assert exception_id.startswith("cr_")
    (event,) = [e for e in await produced(settings) if e.kind == "problem.reported"]
    payload: Any = event.payload
    assert payload.exception_id == exception_id
    assert payload.problem == "damaged"
    assert payload.subject == "SH-11"
    attachment = payload.attachment
    assert attachment.content_type == "image/jpeg"
    ref = attachment.ref
    shown = await client.get(f"/v1/orders/{A}/photos/{ref}", headers=auth(A))
    assert shown.status == 200
    assert shown.headers["Content-Type"] == "image/jpeg"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert shown.headers["Content-Disposition"].startswith("inline")
    assert "default-src 'none'" in shown.headers["Content-Security-Policy"]
    body = await shown.read()
    assert len(body) == attachment.size_bytes
    stored = Image.open(io.BytesIO(body))
    assert stored.size == (64, 48)
    assert not stored.getexif()
    assert b"secret-software" not in body
    assert (await client.get(f"/v1/orders/{B}/photos/{ref}", headers=auth(B))).status == 404
    agent = {"Authorization": f"Bearer {agent_token('agent')}"}
    assert (await client.get(f"/v1/agent/photos/{ref}", headers=agent)).status == 200
    viewer = {"Authorization": f"Bearer {agent_token('viewer')}"}
    assert (await client.get(f"/v1/agent/photos/{ref}", headers=viewer)).status == 403
    assert (await client.get(f"/v1/agent/photos/{ref}")).status == 401


@pytest.mark.usefixtures("orders")
async def test_photos_that_are_not_images_or_too_big_are_refused(client: Client) -> None:
    path = f"/v1/orders/{A}/problems"
    html = b"<html><script>alert(1)</script></html>"
    fake = await client.post(path, data=form(html), headers=auth(A))  # declared image/jpeg
    assert fake.status == 415
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    assert (await client.post(path, data=form(gif.getvalue()), headers=auth(A))).status == 415
    bomb = io.BytesIO()
    Image.new("L", (2000, 2000)).save(bomb, format="PNG")  # small file, 4 megapixels
    assert len(bomb.getvalue()) < 200_000
    refused = await client.post(path, data=form(bomb.getvalue(), "image/png"), headers=auth(A))
    assert refused.status == 422
    assert "pixels" in (await refused.json())["reason"]
    huge = await client.post(path, data=form(b"\xff" * 300_000), headers=auth(A))
    assert huge.status == 413


@pytest.mark.usefixtures("orders")
async def test_a_problem_needs_a_delivered_parcel(client: Client) -> None:
    report = {"problem": "not_received", "text": "nothing came"}
    early = await client.post(f"/v1/orders/{OPEN}/problems", json=report, headers=auth(OPEN))
    assert early.status == 409
    wrong = {"problem": "lost_it", "text": "x"}
    assert (
        await client.post(f"/v1/orders/{A}/problems", json=wrong, headers=auth(A))
    ).status == 400
    text = await client.post(f"/v1/orders/{A}/problems", data="x", headers=auth(A))
    assert text.status == 415


@pytest.mark.usefixtures("orders")
async def test_an_order_takes_a_few_requests_an_hour(client: Client) -> None:
    statuses = []
    for index in range(PER_HOUR + 1):
        report = {"problem": "damaged", "text": f"report {index}"}
        answer = await client.post(f"/v1/orders/{B}/problems", json=report, headers=auth(B))
        statuses.append(answer.status)
    assert statuses == [202] * PER_HOUR + [429]
    assert int(answer.headers["Retry-After"]) >= 1
    # another order has its own allowance
    report = {"problem": "damaged", "text": "mine"}
    assert (
        await client.post(f"/v1/orders/{A}/problems", json=report, headers=auth(A))
    ).status == 202


BRANDED = "ORD-BRANDED"


@pytest.mark.usefixtures("orders")
async def test_a_brand_s_own_return_window_decides(
    client: Client, store: RedisTimelineStore
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    delivered_long_ago = delivered_order({"L1": 1}, now - timedelta(days=45), BRANDED, 15)
    stated = _event("oms:brand", "order.changed", now, {"brand": "longer"}, BRANDED)
    await store.apply([*delivered_long_ago, stated])
    # 45 days after delivery: closed under the shop's 10 days, open under the brand's 60
    accepted = await client.post(
        f"/v1/orders/{BRANDED}/returns", json=RETURN, headers=auth(BRANDED)
    )
    assert accepted.status == 202, await accepted.text()
    late = await client.post(f"/v1/orders/{LATE}/returns", json=RETURN, headers=auth(LATE))
    assert late.status == 409
