"""What a customer or a stranger with a tracking number sees carries nothing personal.

Orders are given personal data everywhere the contract admits it — the e-mail address, the
destination postcode, a checkpoint's postcode and facility, a carrier message naming whoever
signed, payment ids and amounts — and the customer view, the public tracking view and the
websocket frames must contain none of it (nor the e-mail's lookup hash). The contract itself
has no place for a street address or a person's name: such an event is refused at the edge.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from bench.history import generate
from projections.customer_order import customer_order, public_parcel
from projections.redis_store import RedisTimelineStore
from projections.serialize import timeline_to_dict
from projections.timeline import fold
from tests.api.conftest import API_KEY, Client
from wismo.events import Event, event_from_dict, event_to_dict
from wismo.ids import email_hash

ORDER = "ORD-000000"
_TEMPLATE = list(generate(1, seed=4, malformed_share=0.0).valid_events.values())
TRACKING = next(e.tracking_number for e in _TEMPLATE if e.tracking_number)

tokens = st.text(alphabet="BCDFGHJKLMNPQRSTVWXZ", min_size=8, max_size=12)


def personal_order(name: str, email: str, postcode: str, facility: str) -> list[Event]:
    """The template order with personal data in every field that can hold it."""
    events = []
    for event in _TEMPLATE:
        document = event_to_dict(event)
        payload: dict[str, Any] = document["payload"]
        if document["kind"] == "order.placed":
            payload["customer_email"] = email
            payload["delivery_groups"][0]["destination"]["postal_code"] = postcode
        elif document["kind"] == "tracking.checkpoint":
            payload["message"] = f"Delivered, signed by {name}"
            payload["location"] = {
                "city": "Leeds",
                "country": "GB",
                "postal_code": postcode,
                "facility": facility,
            }
        elif document["kind"].startswith("payment."):
            payload["payment_id"] = f"PAY-{name}"
        events.append(event_from_dict(document))
    return events


def secrets_of(name: str, email: str, postcode: str, facility: str) -> list[bytes]:
    local = email.split("@")[0]
    return [s.encode() for s in (name, email, local, email_hash(email), postcode, facility, "PAY-")]


@given(name=tokens, local=tokens, postcode=tokens, facility=tokens)
def test_customer_and_tracking_views_carry_nothing_personal(
    name: str, local: str, postcode: str, facility: str
) -> None:
    email = f"{local.lower()}@example.com"
    typed = fold(personal_order(name, email, postcode, facility), ORDER)
    timeline = timeline_to_dict(typed)
    # the timeline itself holds them (agents need them): the views must drop them
    assert postcode in orjson.dumps(timeline).decode()
    views = orjson.dumps([customer_order(typed), public_parcel(typed, TRACKING)])
    for secret in secrets_of(name, email, postcode, facility):
        assert secret not in views, secret
    public = orjson.dumps(public_parcel(typed, TRACKING))
    assert timeline["order_number"].encode() not in public
    assert ORDER.encode() not in public


async def test_rest_and_websocket_answers_carry_nothing_personal(
    client: Client, store: RedisTimelineStore
) -> None:
    name, email, postcode, facility = "QWERTYZ", "jane.doe@example.com", "LS99 9ZZ", "HUBXYZ"
    await store.apply(personal_order(name, email, postcode, facility))
    lookup = await client.post(
        "/v1/lookup", json={"order_number": "100000", "email": email.upper()}
    )
    assert lookup.status == 200
    token = (await lookup.json())["token"]
    answers = [
        await (await client.get(f"/v1/orders/{ORDER}", params={"token": token})).read(),
        await (await client.get(f"/v1/tracking/{TRACKING}")).read(),
        await lookup.read(),
    ]
    async with client.ws_connect(f"/v1/ws/orders/{ORDER}?token={token}") as ws:
        answers += [(await ws.receive(timeout=5)).data.encode() for _ in range(2)]
    assert b'"type":"order"' in answers[-1]
    for answer in answers:
        for secret in secrets_of(name, email, postcode, facility):
            assert secret not in answer, (secret, answer[:200])


async def test_events_with_a_street_or_a_person_are_refused_at_the_edge(client: Client) -> None:
    placed = event_to_dict(next(e for e in _TEMPLATE if e.kind.value == "order.placed"))
    destination = placed["payload"]["delivery_groups"][0]["destination"]
    headers = {"Content-Type": "application/json", "X-API-Key": API_KEY}
    for extra in ({"street": "1 Long Lane"}, {"recipient_name": "Jane Doe"}, {"phone": "+44"}):
        document = {**placed}
        document["payload"] = {
            **placed["payload"],
            "delivery_groups": [{**placed["payload"]["delivery_groups"][0],
                                 "destination": {**destination, **extra}}],
        }  # fmt: skip
        response = await client.post("/v1/events", data=orjson.dumps(document), headers=headers)
        assert response.status == 400, extra
        assert next(iter(extra)) in orjson.dumps(await response.json()).decode()
