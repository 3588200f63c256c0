"""The tracking APIs the poll role calls, built once from ``settings.poll.carriers``.

Each configured source with the credentials it needs becomes a :data:`Fetch`: tracking number →
the API's JSON answer, over one shared session. UPS, FedEx and USPS use OAuth client credentials
(each client caches its token and renews it on a 401, :mod:`carriers.oauth`); DHL an API key.
AfterShip and EasyPost are polled for the parcels registered with them, by their tracker id
(kept by the registration, :class:`projections.poll.registrations.RegistrationMarks`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from carriers.aftership.client import AfterShipClient
from carriers.dhl.client import DhlClient
from carriers.easypost.client import EasyPostClient
from carriers.errors import TrackingApiError
from carriers.fedex.client import FedexClient
from carriers.ups.client import UpsClient
from carriers.usps.client import UspsClient
from wismo.settings import CarrierCredentials

log = logging.getLogger(__name__)

Fetch = Callable[[str], Awaitable[object]]
#: tracking number → the aggregator's tracker id, when the parcel is registered
TrackerLookup = Callable[[str], Awaitable[str | None]]
#: tracking number, carrier name (or None), order id → the aggregator's tracker id
Register = Callable[[str, str | None, str], Awaitable[str | None]]


class NotRegistered(TrackingApiError):
    """The parcel has no tracker with the aggregator (yet): nothing to ask it."""


def tracking_apis(
    session: aiohttp.ClientSession,
    carriers: Mapping[str, CarrierCredentials],
    trackers: TrackerLookup | None = None,
) -> dict[str, Fetch]:
    """Source → its tracking call, for every source that has what it needs (the aggregators
    only with ``trackers``)."""
    apis: dict[str, Fetch] = {}
    for source, credentials in carriers.items():
        fetch = _fetch(session, source, credentials)
        if fetch is None and trackers is not None:
            fetch = _aggregator_fetch(session, source, credentials, trackers)
        if fetch is None:
            log.info("%s is not polled: no tracking API or missing credentials", source)
        else:
            apis[source] = fetch
    return apis


def _base(credentials: CarrierCredentials) -> dict[str, Any]:
    return {"base_url": credentials.base_url} if credentials.base_url else {}


def _fetch(
    session: aiohttp.ClientSession, source: str, credentials: CarrierCredentials
) -> Fetch | None:
    client_id, secret = credentials.client_id, credentials.client_secret
    if source in ("ups", "usps", "fedex"):
        if not client_id or secret is None:
            return None
        base = _base(credentials)
        if source == "fedex":
            fedex = FedexClient(session, client_id, secret.get_secret_value(), **base)
            return lambda number: fedex.track_json([number])
        client_type = UpsClient if source == "ups" else UspsClient
        client: UpsClient | UspsClient = client_type(
            session, client_id, secret.get_secret_value(), **base
        )
        return client.track_json
    if source == "dhl" and credentials.api_key is not None:
        dhl = DhlClient(session, credentials.api_key.get_secret_value(), **_base(credentials))
        return dhl.track_json
    return None


def _aggregator_fetch(
    session: aiohttp.ClientSession,
    source: str,
    credentials: CarrierCredentials,
    trackers: TrackerLookup,
) -> Fetch | None:
    if credentials.api_key is None or source not in ("aftership", "easypost"):
        return None
    key, base = credentials.api_key.get_secret_value(), _base(credentials)
    read: Callable[[str], Awaitable[object]]
    if source == "aftership":
        read = AfterShipClient(session, key, **base).tracking_json
    else:
        read = EasyPostClient(session, key, **base).tracker_json

    async def fetch(number: str) -> object:
        tracker = await trackers(number)
        if tracker is None:
            raise NotRegistered(f"{number} has no {source} tracker id")
        return await read(tracker)

    return fetch


#: carrier names as the aggregators spell them (others: the aggregator detects the carrier)
_AFTERSHIP_SLUGS = {"ups": "ups", "fedex": "fedex", "usps": "usps", "dhl": "dhl"}
_EASYPOST_CARRIERS = {"ups": "UPS", "fedex": "FedEx", "usps": "USPS", "dhl": "DHLExpress"}


def tracker_registration(
    session: aiohttp.ClientSession,
    register_with: str,
    carriers: Mapping[str, CarrierCredentials],
    source_of: Callable[[str | None], str | None],
) -> Register | None:
    """How to register a parcel with ``register_with`` (``None``: not configured)."""
    credentials = carriers.get(register_with)
    if credentials is None or credentials.api_key is None:
        return None
    key = credentials.api_key.get_secret_value()
    if register_with == "aftership":
        aftership = AfterShipClient(session, key, **_base(credentials))

        async def with_aftership(number: str, carrier: str | None, order_id: str) -> str | None:
            slug = _AFTERSHIP_SLUGS.get(source_of(carrier) or "")
            return await aftership.create_tracking(number, slug, order_id)

        return with_aftership
    if register_with == "easypost":
        easypost = EasyPostClient(session, key, **_base(credentials))

        async def with_easypost(number: str, carrier: str | None, order_id: str) -> str | None:
            name = _EASYPOST_CARRIERS.get(source_of(carrier) or "")
            tracker_id, _ = await easypost.create_tracker(number, name)
            return tracker_id

        return with_easypost
    return None
