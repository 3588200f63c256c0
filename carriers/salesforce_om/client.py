"""Salesforce REST API poller over an injected aiohttp session (an OAuth access token is
obtained by the caller, e.g. with the JWT bearer flow of a connected app).

Callouts from Flow/Apex are the primary feed; the poller reads an order summary with everything
that hangs off it, or every OM record modified since a cursor. Query answers go through the
callout parser, so polled and pushed records give the same events (and ids).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from carriers.base import ParseResult
from carriers.errors import TrackingApiError
from carriers.http import request_json
from carriers.salesforce_om.parse import parse

DEFAULT_API_VERSION = "v61.0"
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")

_ORDER_SUMMARY = (
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
_RELATED = (
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


class SalesforceOmClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        instance_url: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        self._session = session
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._instance = instance_url.rstrip("/")
        self._api_version = api_version

    async def order_summary(
        self, order_summary_id: str, received_at: datetime | None = None
    ) -> ParseResult:
        """An order summary with its lines, delivery groups, payment summaries, fulfilment
        orders, shipments and return orders."""
        if not _RECORD_ID.match(order_summary_id):
            raise ValueError(f"not a Salesforce record id: {order_summary_id!r}")
        queries = [f"{_ORDER_SUMMARY} WHERE Id = '{order_summary_id}'"]
        queries += [f"{soql} WHERE OrderSummaryId = '{order_summary_id}'" for soql in _RELATED]
        return await self._queries(queries, received_at)

    async def modified_since(
        self, since: datetime, received_at: datetime | None = None
    ) -> ParseResult:
        """Every OM record modified after ``since`` (SOQL datetime literals are unquoted UTC)."""
        literal = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        where = f" WHERE LastModifiedDate > {literal} ORDER BY LastModifiedDate"
        return await self._queries(
            [soql + where for soql in (_ORDER_SUMMARY, *_RELATED)], received_at
        )

    async def query(self, soql: str, received_at: datetime | None = None) -> ParseResult:
        """The events of every record a SOQL query answers, following ``nextRecordsUrl``."""
        at = received_at or datetime.now(UTC)
        path = f"/services/data/{self._api_version}/query?{urlencode({'q': soql})}"
        results = []
        while path:
            answer = await request_json(
                self._session, "GET", self._instance + path, headers=self._headers
            )
            if not isinstance(answer, dict) or not isinstance(answer.get("records"), list):
                raise TrackingApiError("Salesforce query answer has no records")
            results.append(parse(orjson.dumps(answer), {}, at))
            path = _next_page(answer)
        return _merged(results)

    async def _queries(self, queries: list[str], received_at: datetime | None) -> ParseResult:
        at = received_at or datetime.now(UTC)
        return _merged([await self.query(soql, at) for soql in queries])


def _next_page(answer: dict[str, Any]) -> str:
    if answer.get("done", True):
        return ""
    url = answer.get("nextRecordsUrl")
    return url if isinstance(url, str) and url.startswith("/services/data/") else ""


def _merged(results: list[ParseResult]) -> ParseResult:
    return ParseResult(
        tuple(e for r in results for e in r.events), tuple(p for r in results for p in r.problems)
    )
