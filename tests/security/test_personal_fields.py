"""Every field of every answer that holds personal data, listed: an order carrying personal data
in every place the contract admits it (e-mail, postcodes, a scan's facility, a signer named in a
scan message, payment ids, a return note) is read through every route and websocket that shows
an order, as each kind of caller; each answer's fields that contain any of it must be exactly
the documented ones (docs/security.md, "Personal data") — customers, the public and viewers:
none; agents and supervisors: the order as stored.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from api.personal import PERSONAL_FIELDS
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import Client, agent_token
from tests.security.test_personal_data import ORDER, TRACKING, personal_order
from wismo.deadletter import DeadLetter
from wismo.ids import email_hash
from wismo.settings import Settings
from wismo.topics import DEADLETTER

NAME, EMAIL, POSTCODE, FACILITY = "QWERTYZ", "jane.doe@example.com", "LS99 9ZZ", "HUBXYZ"
MARKERS = (NAME, EMAIL, email_hash(EMAIL), POSTCODE, FACILITY)

#: what an agent or supervisor sees: the order as stored (the e-mail only in its events)
AS_STORED = {
    "events[].payload.customer_email",
    "events[].payload.delivery_groups[].destination.postal_code",
    "events[].payload.location.facility",
    "events[].payload.location.postal_code",
    "events[].payload.message",
    "events[].payload.payment_id",
    "timeline.customer_email_sha256",
    "timeline.delivery_groups[].destination.postal_code",
    "timeline.payments[].payment_id",
    "timeline.shipments[].checkpoints[].location.facility",
    "timeline.shipments[].checkpoints[].location.postal_code",
    "timeline.shipments[].checkpoints[].message",
}
#: answer → the fields holding personal data (docs/security.md lists the same)
DOCUMENTED: dict[str, set[str]] = {
    "POST /v1/lookup": set(),
    "GET /v1/orders/{id} (customer)": set(),
    "websocket /v1/ws/orders/{id} (customer)": set(),
    "GET /v1/tracking/{number} (anyone)": set(),
    "GET /v1/agent/orders/{id} (viewer)": set(),
    "GET /v1/agent/orders/{id} (agent)": AS_STORED,
    "GET /v1/agent/orders/{id} (supervisor)": AS_STORED,
    "GET /v1/agent/orders/{id}/dead-letters (agent)": {"dead_letters[].raw"},
    "GET /v1/agent/search (viewer)": set(),
    "GET /v1/agent/exceptions (viewer)": set(),
}


def personal_fields(document: Any, path: str = "") -> set[str]:
    """The paths (``[]`` for any list item) whose text contains any of the personal data."""
    if isinstance(document, dict):
        return {
            found
            for key, value in document.items()
            for found in personal_fields(value, f"{path}.{key}" if path else key)
        }
    if isinstance(document, list):
        return {found for item in document for found in personal_fields(item, f"{path}[]")}
    if isinstance(document, str) and any(marker in document for marker in MARKERS):
        return {path}
    return set()


def _bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token(role)}"}


async def _dead_letter(settings: Settings) -> None:
    raw = orjson.dumps({"order_id": ORDER, "email": EMAIL, "note": f"for {NAME}"})
    letter = DeadLetter("invalid", "oms", raw, {}, datetime.now(UTC))
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(DEADLETTER), letter.to_json())
    finally:
        await producer.stop()


async def _answers(client: Client, settings: Settings) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    lookup = await client.post("/v1/lookup", json={"order_number": "100000", "email": EMAIL})
    assert lookup.status == 200
    answers["POST /v1/lookup"] = await lookup.json()
    token = answers["POST /v1/lookup"]["token"]
    own = await client.get(f"/v1/orders/{ORDER}", params={"token": token})
    answers["GET /v1/orders/{id} (customer)"] = await own.json()
    async with client.ws_connect(f"/v1/ws/orders/{ORDER}?token={token}") as ws:
        frames = [orjson.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
    assert frames[-1]["type"] == "order"
    answers["websocket /v1/ws/orders/{id} (customer)"] = frames
    answers["GET /v1/tracking/{number} (anyone)"] = await (
        await client.get(f"/v1/tracking/{TRACKING}")
    ).json()
    for role in ("viewer", "agent", "supervisor"):
        detail = await client.get(f"/v1/agent/orders/{ORDER}", headers=_bearer(role))
        assert detail.status == 200
        answers[f"GET /v1/agent/orders/{{id}} ({role})"] = await detail.json()
    await _dead_letter(settings)
    letters = await client.get(f"/v1/agent/orders/{ORDER}/dead-letters", headers=_bearer("agent"))
    assert letters.status == 200
    document = await letters.json()
    for letter in document["dead_letters"]:
        letter["raw"] = base64.b64decode(letter["raw"]).decode()  # read as the agent would
    answers["GET /v1/agent/orders/{id}/dead-letters (agent)"] = document
    refused = await client.get(
        "/v1/agent/search", params={"email": EMAIL}, headers=_bearer("viewer")
    )
    assert refused.status == 403  # a viewer may not search by e-mail (personal data)
    search = await client.get("/v1/agent/search", params={"q": ORDER}, headers=_bearer("viewer"))
    answers["GET /v1/agent/search (viewer)"] = await search.json()
    assert answers["GET /v1/agent/search (viewer)"]["results"]
    queue = await client.get("/v1/agent/exceptions?status=open,acknowledged,resolved",
                             headers=_bearer("viewer"))  # fmt: skip
    answers["GET /v1/agent/exceptions (viewer)"] = await queue.json()
    return answers


async def test_each_answer_holds_exactly_the_documented_personal_fields(
    client: Client, store: RedisTimelineStore, settings: Settings
) -> None:
    await store.apply(personal_order(NAME, EMAIL, POSTCODE, FACILITY))
    answers = await _answers(client, settings)
    assert set(answers) == set(DOCUMENTED)
    found = {name: personal_fields(answer) for name, answer in answers.items()}
    assert found == DOCUMENTED


async def test_viewers_cannot_read_raw_dead_letters(client: Client) -> None:
    response = await client.get(f"/v1/agent/orders/{ORDER}/dead-letters", headers=_bearer("viewer"))
    assert response.status == 403


def test_every_personal_field_an_agent_sees_is_one_a_viewer_is_denied() -> None:
    leaves = {path.rsplit(".", 1)[-1] for path in AS_STORED}
    assert leaves - {"message"} <= PERSONAL_FIELDS
