"""Customer reads: lookup → capability token → order view; public tracking; ETag / 304."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from pydantic import SecretStr

from api.auth import issue_customer_token
from projections.customer_order import customer_order, encode, progress, public_parcel
from projections.exceptions import customer_text
from projections.redis_store import RedisTimelineStore
from projections.timeline import fold
from tests.api.conftest import AGENT_SECRET, CUSTOMER_SECRET, Client, eventually, example_order
from tests.projections.synthetic import destination, order_history
from wismo.event_lines import read_event_lines
from wismo.vocab import ExceptionType, Reason

ORDER = "ORD-1001"
TRACKING = "1Z999AA10123456784"


async def token_for(client: Client, **query: str) -> str:
    response = await client.post("/v1/lookup", json=query)
    assert response.status == 200, await response.text()
    body = await response.json()
    token: str = body["token"]
    return token


async def test_lookup_by_email_or_postcode_gives_a_token_for_that_order(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    by_email = await client.post(
        "/v1/lookup", json={"order_number": "#1001", "email": " Pat.Doe@example.com"}
    )
    by_postcode = await client.post(
        "/v1/lookup", json={"order_number": "1001", "postcode": "69 002"}
    )
    for response in (by_email, by_postcode):
        assert response.status == 200
        body = await response.json()
        assert body["order_id"] == ORDER
        assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)
    wrong = [
        {"order_number": "1001", "email": "someone.else@example.com"},
        {"order_number": "1002", "email": "pat.doe@example.com"},
        {"order_number": "1001", "postcode": "75001"},
    ]
    for query in wrong:
        response = await client.post("/v1/lookup", json=query)
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [{"order_number": "1001"}, {"email": "a@b.c"}, {"order_number": 1001, "email": "a@b.c"}, []],
)
async def test_lookup_refuses_incomplete_queries(client: Client, body: object) -> None:
    response = await client.post("/v1/lookup", json=body)
    assert response.status == 400
    assert (await response.json())["reason"]


async def test_order_view_holds_progress_but_nothing_personal(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    token = await token_for(client, order_number="1001", email="pat.doe@example.com")
    response = await client.get(f"/v1/orders/{ORDER}", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    raw = await response.read()
    view = orjson.loads(raw)
    assert view["status"] == "delivered"
    assert [m["name"] for m in view["milestones"] if m["done"]] == [
        "ordered",
        "shipped",
        "out_for_delivery",
        "delivered",
    ]
    assert view["delivery"]["promised"] == "2026-03-06"
    assert {s["tracking_number"] for s in view["shipments"]} >= {TRACKING}
    assert view["banner"] is None  # the one exception was resolved
    for secret in (b"pat.doe", b"69002", b"email", b"149.80", b"pay-1", b"postal_code"):
        assert secret not in raw
    assert all(
        set(c["location"] or {}) <= {"city", "country"}
        for s in view["shipments"]
        for c in s["checkpoints"]
    )


async def test_a_token_for_order_a_never_reads_order_b(
    client: Client, store: RedisTimelineStore
) -> None:
    other = order_history(5, random.Random(3))
    await store.apply([*example_order(), *other])
    token_a = await token_for(client, order_number="1001", email="pat.doe@example.com")
    token_b = await token_for(client, order_number="100005", email="customer5@example.com")
    assert (await client.get(f"/v1/orders/ORD-5?token={token_b}")).status == 200
    for path in ("/v1/orders/ORD-5", "/v1/orders/ORD-404"):
        for how in (
            {"headers": {"Authorization": f"Bearer {token_a}"}},
            {"params": {"token": token_a}},
        ):
            response = await client.get(path, **how)  # type: ignore[arg-type]
            assert response.status == 403
            assert (await response.json())["error"] == "forbidden"
    # a token re-signed with the claim changed is not a token
    header, _claims, signature = token_a.split(".")
    forged_claims = jwt.utils.base64url_encode(
        orjson.dumps({**jwt.decode(token_a, options={"verify_signature": False}), "sub": "ORD-5"})
    ).decode()
    forged = f"{header}.{forged_claims}.{signature}"
    assert (await client.get("/v1/orders/ORD-5", params={"token": forged})).status == 401


async def test_missing_expired_and_foreign_tokens_are_401(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    expired = issue_customer_token(
        SecretStr(CUSTOMER_SECRET), ORDER, datetime.now(UTC) - timedelta(hours=2), 60
    )
    agent_token = jwt.encode(
        {"sub": ORDER, "roles": ["agent"], "exp": datetime.now(UTC) + timedelta(hours=1)},
        AGENT_SECRET,
        algorithm="HS256",
    )
    raw_secret = jwt.encode(  # signed with the configured secret itself, not the derived key
        {"sub": ORDER, "aud": "wismo:order", "exp": datetime.now(UTC) + timedelta(hours=1)},
        CUSTOMER_SECRET,
        "HS256",
    )
    assert (await client.get(f"/v1/orders/{ORDER}")).status == 401
    for token in (expired, agent_token, raw_secret, "not-a-token"):
        response = await client.get(f"/v1/orders/{ORDER}", params={"token": token})
        assert response.status == 401
        assert (await response.json())["error"] == "unauthorized"


async def test_valid_token_for_an_unknown_order_is_404(client: Client) -> None:
    token = issue_customer_token(SecretStr(CUSTOMER_SECRET), "ORD-GONE", datetime.now(UTC), 60)
    response = await client.get("/v1/orders/ORD-GONE", params={"token": token})
    assert response.status == 404


async def test_etag_gives_304_until_the_timeline_changes(
    client: Client, store: RedisTimelineStore
) -> None:
    events = example_order()
    await store.apply(events[:20])
    token = await token_for(client, order_number="1001", postcode="69002")
    params = {"token": token}
    first = await client.get(f"/v1/orders/{ORDER}", params=params)
    etag = first.headers["ETag"]
    again = await client.get(f"/v1/orders/{ORDER}", params=params, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    await store.apply(events)  # the rest of the story arrives
    # the API's view cache hears of the change through pub/sub: the new version shows within
    # that delivery delay (docs/guarantees.md, "Customer reads")
    answers: list[Any] = []

    async def changed() -> bool:
        answers.append(
            await client.get(f"/v1/orders/{ORDER}", params=params, headers={"If-None-Match": etag})
        )
        return bool(answers[-1].status == 200)

    await eventually(changed, timeout_s=2.0)
    assert {a.status for a in answers} <= {200, 304}
    assert answers[-1].headers["ETag"] != etag
    assert (await answers[-1].json())["version"] == len(events)


async def test_public_tracking_view(client: Client, store: RedisTimelineStore) -> None:
    await store.apply(example_order())
    response = await client.get(f"/v1/tracking/{TRACKING}")
    assert response.status == 200
    view = await response.json()
    assert view["tracking_number"] == TRACKING
    assert view["status"] == "delivered"
    assert "order_number" not in view
    assert "order_id" not in view
    etag = response.headers["ETag"]
    cached = await client.get(f"/v1/tracking/{TRACKING}", headers={"If-None-Match": etag})
    assert cached.status == 304
    assert (await client.get("/v1/tracking/1ZNOTKNOWN")).status == 404


def test_customer_view_never_carries_contact_details_or_postcodes() -> None:
    rng = random.Random(11)
    for index in range(200):
        timeline = fold(order_history(index, rng))
        encoded = encode(customer_order(timeline))
        assert b"@example.com" not in encoded
        assert destination(index)[2].encode() not in encoded  # its postcode
        number = timeline.shipments[0].tracking_number
        assert number is not None
        assert timeline.order_number is not None
        public = encode(public_parcel(timeline, number))
        assert timeline.order_number.encode() not in public


def test_banner_shows_the_most_severe_live_exception() -> None:
    events = example_order()
    resolved = fold(events)
    reopened = fold([e for e in events if e.kind != "exception.resolved"])
    assert customer_order(resolved)["banner"] is None
    expected = customer_text(ExceptionType.DELIVERY_ATTEMPT_FAILED, Reason.CONSIGNEE_NOT_AVAILABLE)
    assert customer_order(reopened)["banner"] == expected


def test_each_parcel_lists_its_items_named_from_the_order() -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "order-1001.jsonl"
    events, problems = read_event_lines(example.read_bytes().splitlines())
    assert problems == []
    view = customer_order(fold(events))
    by_parcel = {s["tracking_number"]: s["items"] for s in view["shipments"]}
    assert by_parcel == {
        "1Z999AA10123456784": [{"name": "Blue mug", "quantity": 2}],
        "JD014600006281230704": [{"name": "Kettle", "quantity": 1}],
    }
    public = public_parcel(fold(events), "1Z999AA10123456784")
    assert public is not None
    assert "items" not in public  # the public parcel view says nothing about the order


def test_the_server_words_the_status_and_lays_out_the_progress() -> None:
    view = customer_order(fold(example_order()))
    assert view["status_text"] == "Delivered"
    assert [m["label"] for m in view["milestones"]] == [
        "Ordered",
        "Shipped",
        "Out for delivery",
        "Delivered",
    ]
    parcel = next(s for s in view["shipments"] if s["tracking_number"] == TRACKING)
    assert parcel["description"] == "Delivered"
    assert parcel["next_step"] is None
    steps = parcel["progress"]
    assert [s["step"] for s in steps] == [
        "ordered",
        "shipped",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert all(s["done"] for s in steps)
    assert [s["step"] for s in steps if s["current"]] == ["delivered"]
    cancelled = customer_order(fold(example_order(3)))
    cancelled_timeline = fold(example_order(3))
    cancelled_timeline.cancelled = True
    assert customer_order(cancelled_timeline)["status_text"] == "Cancelled"
    assert cancelled["status_text"] != "Cancelled"


@pytest.mark.parametrize(
    ("status", "current", "label", "done"),
    [
        ("info_received", "shipped", "Shipped", 2),
        ("attempt_fail", "out_for_delivery", "Out for delivery: Delivery attempted", 4),
        ("expired", "in_transit", "In transit: No recent updates", 3),
        ("returning_to_sender", "returning", "Returning to sender", 3),
        ("returned_to_sender", "returned", "Returned", 4),
        (None, "shipped", "Shipped", 2),
    ],
)
def test_progress_marks_the_step_reached_and_a_problem_there(
    status: str | None, current: str, label: str, done: int
) -> None:
    steps = progress(status)
    (at,) = [s for s in steps if s["current"]]
    assert (at["step"], at["label"]) == (current, label)
    assert at["problem"] == (status in ("attempt_fail", "expired"))
    assert sum(s["done"] for s in steps) == done
    assert any(s["returning"] for s in steps) == (status or "").startswith("return")


async def test_the_rest_answer_and_the_websocket_frame_are_one_document(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    token = await token_for(client, order_number="1001", postcode="69002")
    rest = await (await client.get(f"/v1/orders/{ORDER}", params={"token": token})).read()
    async with client.ws_connect(f"/v1/ws/orders/{ORDER}?token={token}") as ws:
        await ws.receive_json(timeout=5)  # subscribed
        frame = await ws.receive(timeout=5)
    assert frame.data.encode().find(rest) > 0  # the same bytes, inside the frame
    assert orjson.loads(frame.data)["view"] == orjson.loads(rest)
