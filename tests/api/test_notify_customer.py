"""Customers' notification preferences and the one-click unsubscribe (real Redis): the token
acts on its one order only, addresses are masked, a GET of the link changes nothing, the POST
(RFC 8058) opts out, a bad token is a 400 page with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import redis.asyncio as aioredis

from api.auth import issue_customer_token
from projections.notify.contacts import ContactStore
from projections.notify.model import Contacts, NotifyChannel
from projections.notify.subscriptions import PreferenceStore
from projections.notify.unsubscribe import unsubscribe_token, unsubscribe_url
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import Client, example_order
from wismo.settings import Settings

ORDER = "ord-notify-1"


def token_for(settings: Settings, order_id: str = ORDER) -> dict[str, str]:
    token = issue_customer_token(
        settings.api.customer_token_secret, order_id, datetime.now(UTC), 600
    )
    return {"Authorization": f"Bearer {token}"}


def path(order_id: str = ORDER) -> str:
    return f"/v1/orders/{order_id}/notifications"


async def test_subscribe_read_and_stop(client: Client, settings: Settings) -> None:
    auth = token_for(settings)
    empty = await client.get(path(), headers=auth)
    assert empty.status == 200
    assert (await empty.json())["recipients"] == []
    added = await client.post(
        path(),
        json={"channel": "email", "address": "Ada@Example.com", "subscribed": True},
        headers=auth,
    )
    assert added.status == 200, await added.text()
    (entry,) = (await added.json())["recipients"]
    assert entry["address"] == "a***@example.com"
    assert entry["subscribed"] is True
    assert entry["source"] == "customer"
    assert "Ada" not in await added.text()
    sms = await client.post(
        path(),
        json={"channel": "sms", "address": "+1 (555) 123-4567", "subscribed": True},
        headers=auth,
    )
    assert [r["address"] for r in (await sms.json())["recipients"]] == [
        "a***@example.com",
        "+*******4567",
    ]
    stopped = await client.post(
        path(), json={"ref": entry["ref"], "subscribed": False}, headers=auth
    )
    assert stopped.status == 200
    by_ref = {r["ref"]: r for r in (await stopped.json())["recipients"]}
    assert by_ref[entry["ref"]]["subscribed"] is False
    # the token in the query works as for GET /v1/orders/{id}
    token = auth["Authorization"].removeprefix("Bearer ")
    assert (await client.get(path(), params={"token": token})).status == 200


async def test_the_orders_own_contacts_show_with_the_defaults(
    client: Client, settings: Settings, redis: aioredis.Redis, prefix: str
) -> None:
    contacts = Contacts(email="ada@example.com", phone="+15551234567")
    await ContactStore(redis, prefix).record(ORDER, contacts, datetime.now(UTC))
    state = await (await client.get(path(), headers=token_for(settings))).json()
    assert state["defaults"] == {"email": True, "sms": False}
    assert [
        (r["channel"], r["address"], r["subscribed"], r["source"]) for r in state["recipients"]
    ] == [
        ("email", "a***@example.com", True, "order"),
        ("sms", "+*******4567", False, "order"),
    ]
    sms_ref = state["recipients"][1]["ref"]
    answer = await client.post(
        path(), json={"ref": sms_ref, "subscribed": True}, headers=token_for(settings)
    )
    assert (await answer.json())["recipients"][1]["subscribed"] is True
    prefs = await PreferenceStore(redis, prefix).get(ORDER)
    assert prefs.says(NotifyChannel.SMS, "+15551234567") is True


async def test_a_token_acts_on_its_own_order_only(client: Client, settings: Settings) -> None:
    other = token_for(settings, "ord-someone-else")
    body = {"channel": "email", "address": "ada@example.com", "subscribed": True}
    assert (await client.get(path(), headers=other)).status == 403
    assert (await client.post(path(), json=body, headers=other)).status == 403
    assert (await client.post(path(), json=body)).status == 401
    wrong = {"Authorization": "Bearer not-a-token"}
    assert (await client.get(path(), headers=wrong)).status == 401


async def test_bad_input_is_refused_with_a_reason(client: Client, settings: Settings) -> None:
    auth = token_for(settings)
    cases = [
        ({"channel": "fax", "address": "1", "subscribed": True}, "channel"),
        ({"channel": {}, "address": "000000", "subscribed": False}, "channel"),
        ({"channel": ["sms"], "address": "000000", "subscribed": False}, "channel"),
        ({"channel": "email", "address": "nobody", "subscribed": True}, "e-mail address"),
        ({"channel": "sms", "address": "12", "subscribed": True}, "6 to 15 digits"),
        ({"channel": "sms", "address": "call me", "subscribed": True}, "phone"),
        ({"channel": "email", "address": "a@b.co", "subscribed": "yes"}, "subscribed"),
        ({"channel": "email", "address": "a@b.co"}, "subscribed"),
        ({"ref": "0123456789abcdef", "subscribed": False}, "not one of"),
        ({"ref": "x", "subscribed": False}, "16 hex"),
        ({"ref": "0123456789abcdef", "address": "a@b.co", "subscribed": False}, "either"),
        ({"channel": "email", "address": "a@b.co", "subscribed": True, "x": 1}, "unknown"),
    ]
    for body, reason in cases:
        answer = await client.post(path(), json=body, headers=auth)
        assert answer.status == 400, body
        assert reason in (await answer.json())["reason"], body
    not_json = await client.post(path(), data=b"channel=email", headers=auth)
    assert not_json.status == 415


# one-click unsubscribe ------------------------------------------------------------------------


def link(settings: Settings, recipient: str = "ada@example.com") -> str:
    secret = settings.notify.unsubscribe_secret.get_secret_value()
    token = unsubscribe_token(secret, ORDER, NotifyChannel.EMAIL, recipient)
    return unsubscribe_url("", token)


async def test_following_the_link_changes_nothing_and_the_button_unsubscribes(
    client: Client, settings: Settings, redis: aioredis.Redis, prefix: str
) -> None:
    url = link(settings)
    page = await client.get(url)
    assert page.status == 200
    assert page.content_type == "text/html"
    text = await page.text()
    assert "a***@example.com" in text
    assert "ada@example.com" not in text
    assert 'method="post"' in text
    assert "List-Unsubscribe" in text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert (await PreferenceStore(redis, prefix).get(ORDER)).choices == {}
    done = await client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status == 200
    assert 'id="done"' in await done.text()
    prefs = await PreferenceStore(redis, prefix).get(ORDER)
    assert prefs.says(NotifyChannel.EMAIL, "ada@example.com") is False
    again = await client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert again.status == 200  # idempotent
    state = await (await client.get(path(), headers=token_for(settings))).json()
    assert state["recipients"][0]["subscribed"] is False


async def test_one_click_without_a_body_works_and_the_wrong_body_is_refused(
    client: Client, settings: Settings, redis: aioredis.Redis, prefix: str
) -> None:
    url = link(settings, "bob@example.com")
    wrong = await client.post(url, data={"List-Unsubscribe": "Maybe"})
    assert wrong.status == 400
    assert (await PreferenceStore(redis, prefix).get(ORDER)).choices == {}
    assert (await client.post(url)).status == 200
    prefs = await PreferenceStore(redis, prefix).get(ORDER)
    assert prefs.says(NotifyChannel.EMAIL, "bob@example.com") is False


async def test_bad_tokens_are_a_400_page_with_the_reason(
    client: Client, settings: Settings
) -> None:
    good = link(settings)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for url, reason in [
        ("/v1/notify/unsubscribe", "no token"),
        ("/v1/notify/unsubscribe?token=", "no token"),
        ("/v1/notify/unsubscribe?token=garbage", "not valid"),
        (tampered, "not valid"),
    ]:
        for method in ("GET", "POST"):
            answer = await client.request(method, url)
            assert answer.status == 400, (method, url)
            assert answer.content_type == "text/html"
            assert reason in await answer.text(), (method, url)
    other_secret = unsubscribe_token("another-secret", ORDER, "email", "ada@example.com")
    forged = await client.post(unsubscribe_url("", other_secret))
    assert forged.status == 400


async def test_the_pages_name_the_order_by_its_number(
    client: Client, settings: Settings, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    (order_id,) = {e.order_id for e in example_order() if e.order_id}
    timeline = orjson.loads(await store.timeline(order_id) or b"{}")
    number = timeline["order_number"]
    secret = settings.notify.unsubscribe_secret.get_secret_value()
    url = unsubscribe_url("", unsubscribe_token(secret, order_id, "email", "ada@example.com"))
    page = await (await client.get(url)).text()
    assert f"<strong>{number}</strong>" in page
    done = await (await client.post(url)).text()
    assert f'href="/track?order={number}"' in done


async def test_an_order_takes_a_few_addresses_not_a_mailing_list(
    client: Client, settings: Settings
) -> None:
    auth = token_for(settings)
    for n in range(5):
        body = {"channel": "email", "address": f"a{n}@example.com", "subscribed": True}
        assert (await client.post(path(), json=body, headers=auth)).status == 200
    sixth = {"channel": "email", "address": "a5@example.com", "subscribed": True}
    refused = await client.post(path(), json=sixth, headers=auth)
    assert refused.status == 400
    assert "at most 5" in (await refused.json())["reason"]
    again = {"channel": "email", "address": "A0@example.com", "subscribed": False}
    assert (await client.post(path(), json=again, headers=auth)).status == 200  # a known one
