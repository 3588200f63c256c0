"""Signed one-click unsubscribe tokens: they round-trip, and nothing forged or altered passes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from projections.notify.model import Message, NotifyChannel
from projections.notify.unsubscribe import (
    links_for,
    list_unsubscribe_headers,
    read_unsubscribe_token,
    unsubscribe_token,
)
from wismo.settings import NotifySettings

SECRET = b"unsubscribe-secret-for-tests"
channels = st.sampled_from([NotifyChannel.EMAIL, NotifyChannel.SMS])
texts = st.text(min_size=1, max_size=80)


@given(texts, channels, texts)
def test_a_token_names_its_order_channel_and_recipient(
    order_id: str, channel: NotifyChannel, recipient: str
) -> None:
    token = unsubscribe_token(SECRET, order_id, channel, recipient)
    assert token.replace("-", "").replace("_", "").isalnum()
    assert read_unsubscribe_token(SECRET, token) == (order_id, channel, recipient.lower())
    assert read_unsubscribe_token(SECRET.decode(), token) is not None
    assert read_unsubscribe_token(b"another secret", token) is None


@given(st.integers(0, 200), st.integers(1, 255))
def test_any_altered_byte_is_refused(position: int, flip: int) -> None:
    token = unsubscribe_token(SECRET, "ORD-1", NotifyChannel.EMAIL, "ann@example.com")
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position % len(raw)] ^= flip
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert read_unsubscribe_token(SECRET, forged) is None


@given(st.text(max_size=200))
def test_garbage_is_refused(token: str) -> None:
    assert read_unsubscribe_token(SECRET, token) is None


def test_rfc_8058_headers() -> None:
    url = "https://shop.example/v1/notify/unsubscribe?token=abc"
    assert list_unsubscribe_headers(url) == {
        "List-Unsubscribe": "<https://shop.example/v1/notify/unsubscribe?token=abc>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_links_point_at_the_parcel_or_the_order_and_carry_a_valid_token() -> None:
    settings = NotifySettings(public_url="https://track.shop.example/", unsubscribe_secret="s3")
    at = datetime(2026, 3, 2, tzinfo=UTC)
    payload = {"order_number": "10 01", "parcel": {"tracking_number": "1Z 999"}}
    message = Message(
        "k", "ORD-1001", NotifyChannel.EMAIL, "pat@example.com", "shipped", "SH-1", payload, at, at
    )
    links = links_for(message, settings)
    assert links.status_url == "https://track.shop.example/track?tracking=1Z%20999"
    url = urlsplit(links.unsubscribe_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == (
        "https://track.shop.example/v1/notify/unsubscribe"
    )
    token = parse_qs(url.query)["token"][0]
    assert read_unsubscribe_token("s3", token) == (
        "ORD-1001",
        NotifyChannel.EMAIL,
        "pat@example.com",
    )
    order_only = Message(
        "k", "ORD-1001", NotifyChannel.SMS, "+331", "all_delivered", "ORD-1001",
        {"order_number": "1001"}, at, at,
    )  # fmt: skip
    assert links_for(order_only, settings).status_url == (
        "https://track.shop.example/track?order=1001"
    )
