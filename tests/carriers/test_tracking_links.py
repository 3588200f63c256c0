"""carriers.tracking_links: the carrier's own tracking page, the number quoted into it."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.tracking_links import ALIASES, PAGES, carrier_key, tracking_url

_DELIMITERS = re.compile(r"[/?=&#]")
numbers = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40
).filter(lambda n: n.strip())


def _pieces(url: str) -> list[str]:
    """Every path segment, query key or value and fragment part of ``url``, decoded."""
    parts = urlsplit(url)
    raw = "/".join((parts.path, parts.query, parts.fragment))
    return [unquote(piece, errors="strict") for piece in _DELIMITERS.split(raw)]


def _host(key: str) -> str | None:
    return urlsplit(PAGES[ALIASES.get(key, key)]).hostname


@given(carrier=st.sampled_from(sorted(PAGES) + sorted(ALIASES)), number=numbers)
def test_any_number_gives_a_page_on_the_carriers_host_that_decodes_back(
    carrier: str, number: str
) -> None:
    url = tracking_url(carrier, number)
    assert url is not None
    parts = urlsplit(url)
    assert parts.scheme == "https"
    assert parts.hostname == _host(carrier)
    assert number.strip() in _pieces(url)
    assert not any(ch.isspace() for ch in url)


@given(number=numbers)
def test_the_number_cannot_leave_its_place_in_the_url(number: str) -> None:
    url = tracking_url("ups", number)
    assert url is not None
    parts = urlsplit(url)
    assert parts.hostname == "www.ups.com"
    assert parts.path == "/track"
    assert parts.query.startswith("tracknum=")
    assert "&" not in parts.query
    assert parts.fragment == ""


@pytest.mark.parametrize(
    ("carrier", "host"),
    [
        ("ups", "www.ups.com"),
        ("UPS", "www.ups.com"),
        ("UPSDAP", "www.ups.com"),
        ("fedex", "www.fedex.com"),
        ("FedExSmartPost", "www.fedex.com"),
        ("usps", "tools.usps.com"),
        ("dhl", "www.dhl.com"),
        ("DHLExpress", "www.dhl.com"),
        ("dhl-germany", "www.dhl.de"),
        ("royal-mail", "www.royalmail.com"),
        ("postnl-3s", "jouw.postnl.nl"),
    ],
)
def test_wismo_slugs_aftership_slugs_and_easypost_names(carrier: str, host: str) -> None:
    url = tracking_url(carrier, "1Z999AA10123456784")
    assert url is not None
    assert urlsplit(url).hostname == host
    assert "1Z999AA10123456784" in url


def test_the_known_pages() -> None:
    assert tracking_url("ups", "1Z999AA10123456784") == (
        "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    )
    assert tracking_url("usps", "9400 1000") == (
        "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400%201000"
    )


@pytest.mark.parametrize("carrier", [None, "", "acme-freight", "other"])
def test_an_unknown_carrier_has_no_page(carrier: str | None) -> None:
    assert tracking_url(carrier, "1Z999AA10123456784") is None


def test_a_blank_number_has_no_page() -> None:
    assert tracking_url("ups", "  ") is None


def test_every_alias_names_a_known_page() -> None:
    assert set(ALIASES.values()) <= set(PAGES)
    assert all(carrier_key(key) == key for key in [*PAGES, *ALIASES])
