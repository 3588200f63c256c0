"""Salesforce Order Management listing over an injected aiohttp session, for catching up.

Callouts from Flow/Apex are the primary feed; after downtime or a lost callout, ``wismo sync
salesforce-om`` reads every order summary, fulfilment order, shipment and return order modified in
a time range — one SOQL query per object type (:data:`SOQL`, each with the records that hang off
it), ``WHERE LastModifiedDate >= …``, oldest first, following ``nextRecordsUrl``. Every record is
given on its own, as the callout parser reads it (see :mod:`carriers.listing`).

The bearer token comes from a :class:`carriers.oauth.BearerTokens`: a fixed access token, or
client credentials renewed after a 401. Calls go through a :class:`carriers.retry.Retry`; an
answer of the wrong shape raises :class:`carriers.listing.ListingError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from carriers.listing import Listed, ListedPage, ListingError, listed_time
from carriers.oauth import BearerTokens, authorized_json
from carriers.retry import Retry

DEFAULT_API_VERSION = "v61.0"

ORDER_SUMMARY = (
    "SELECT Id, OrderNumber, Status, OrderedDate, CreatedDate, LastModifiedDate, BusinessModel,"
    " SalesChannel.SalesChannelName, CurrencyIsoCode, GrandTotalAmount, BillingEmailAddress,"
    " (SELECT Id, OrderDeliveryGroupSummaryId, StockKeepingUnit, Name, TypeCode, QuantityOrdered,"
    " QuantityCanceled, UnitPrice, LastModifiedDate FROM OrderItemSummaries),"
    " (SELECT Id, DeliverToName, DeliverToStreet, DeliverToCity, DeliverToPostalCode,"
    " DeliverToCountry, DesiredDeliveryDate,"
    " OrderDeliveryMethod.Name FROM OrderDeliveryGroupSummaries),"
    " (SELECT Id, Method, Type, CurrencyIsoCode, AuthorizationAmount, CapturedAmount,"
    " RefundedAmount, CreatedDate, LastModifiedDate FROM OrderPaymentSummaries)"
    " FROM OrderSummary"
)
#: The records that hang off an order summary, each with its own line items.
RELATED = (
    "SELECT Id, OrderSummaryId, OrderDeliveryGroupSummaryId, Status, StatusCategory,"
    " FulfilledFromLocationId, FulfilledFromLocation.Name, CreatedDate, LastModifiedDate,"
    " (SELECT Id, OrderItemSummaryId, Quantity, OriginalQuantity, TypeCode"
    " FROM FulfillmentOrderLineItems) FROM FulfillmentOrder",
    "SELECT Id, OrderSummaryId, FulfillmentOrderId, TrackingNumber, TrackingUrl, Provider, Status,"
    " ShipToCity, ShipToPostalCode, ShipToCountry, ExpectedDeliveryDate, ActualDeliveryDate,"
    " CreatedDate, LastModifiedDate, (SELECT Id, OrderItemSummaryId, Quantity FROM ShipmentItems)"
    " FROM Shipment",
    "SELECT Id, ReturnOrderNumber, OrderSummaryId, Status, CreatedDate, LastModifiedDate,"
    " (SELECT Id, OrderItemSummaryId, QuantityExpected, QuantityReceived, QuantityReturned,"
    " ReasonForReturn FROM ReturnOrderLineItems) FROM ReturnOrder",
)


#: the SOQL of each object type a sync lists, in the order it lists them
SOQL = dict(
    zip(
        ("OrderSummary", "FulfillmentOrder", "Shipment", "ReturnOrder"),
        (ORDER_SUMMARY, *RELATED),
        strict=True,
    )
)
SOURCE = "salesforce_om"


class SalesforceOmClient:
    """Order summaries, fulfilment orders, shipments and return orders through SOQL."""

    source: str = SOURCE
    streams: tuple[str, ...] = tuple(SOQL)

    def __init__(
        self,
        session: aiohttp.ClientSession,
        instance_url: str,
        tokens: BearerTokens,
        *,
        api_version: str = DEFAULT_API_VERSION,
        retry: Retry | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self._session = session
        self._instance = instance_url.rstrip("/")
        self._tokens = tokens
        self._api_version = api_version
        self._retry = retry or Retry()
        self._timeout_s = timeout_s

    async def pages(
        self, stream: str, since: datetime, until: datetime | None
    ) -> AsyncIterator[ListedPage]:
        """The records of type ``stream`` modified from ``since`` to ``until`` (inclusive)."""
        select = SOQL.get(stream)
        if select is None:
            raise ValueError(f"Salesforce OM lists no {stream!r}")
        where = f" WHERE LastModifiedDate >= {soql_time(since)}"
        if until is not None:
            where += f" AND LastModifiedDate <= {soql_time(until)}"
        soql = f"{select}{where} ORDER BY LastModifiedDate ASC"
        path = f"/services/data/{self._api_version}/query?{urlencode({'q': soql})}"
        number = 0
        while path:
            number += 1
            url = self._instance + path
            body = await self._get(url)
            place = f"GET {url} ({stream} page {number})"
            records = body.get("records") if isinstance(body, dict) else None
            if not isinstance(body, dict) or not isinstance(records, list):
                raise ListingError(f"{place}: the answer has no 'records' list")
            objects = tuple(
                listed_record(r, stream, f"{place}: records[{n}]") for n, r in enumerate(records)
            )
            newest = max((o.updated_at for o in objects), default=None)
            yield ListedPage(stream, objects, newest)
            path = _next_records(body)

    async def _get(self, url: str) -> Any:
        async def call() -> object:
            return await authorized_json(
                self._session, self._tokens, "GET", url, headers={}, timeout_s=self._timeout_s
            )

        return await self._retry.call(call)


def soql_time(moment: datetime) -> str:
    """A SOQL datetime literal (whole seconds, UTC, unquoted)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def listed_record(record: Any, stream: str, where: str) -> Listed:
    """A record as its callout would carry it (the parser dispatches on ``attributes.type``)."""
    if not isinstance(record, dict) or not isinstance(record.get("Id"), str):
        raise ListingError(f"{where}: not a record with an Id")
    updated_at = listed_time(record.get("LastModifiedDate"), where)
    attributes = record.get("attributes")
    if not isinstance(attributes, dict) or not attributes.get("type"):
        record = {**record, "attributes": {"type": stream}}
    return Listed(f"{SOURCE}:{stream}", record["Id"], updated_at, orjson.dumps(record), {})


def _next_records(answer: dict[str, Any]) -> str:
    if answer.get("done", True):
        return ""
    url = answer.get("nextRecordsUrl")
    return url if isinstance(url, str) and url.startswith("/services/data/") else ""
