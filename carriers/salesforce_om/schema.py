"""Salesforce Order Management records and platform events, as the REST API, ``JSON.serialize``
in Apex, or a Streaming/Pub/Sub relay writes them.

Every record names its object in ``attributes.type``; child relationships come as
``{"totalSize": n, "done": true, "records": [...]}``. Only the fields wismo reads are declared
(API names, PascalCase); everything else is ignored, so org-specific fields never break parsing.
Street, name and phone fields are deliberately not declared, so personal data never leaves the
parser. Timestamps stay strings: :mod:`carriers.salesforce_om.records` decides how to read them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class Attributes(Lenient):
    type: str | None = None
    url: str | None = None


class Children(Lenient):
    """A child relationship in a query answer; records are kept raw (parsed by their type)."""

    records: list[Any] | None = None


class Named(Lenient):
    """A parent relationship queried for its name (``SalesChannel``, ``DeliveryMethod``…)."""

    Name: str | None = None
    SalesChannelName: str | None = None
    ExternalReference: str | None = None


class SfRecord(Lenient):
    """What every record carries: its id, object type and modification stamps."""

    attributes: Attributes | None = None
    Id: str | None = None
    CreatedDate: str | None = None
    LastModifiedDate: str | None = None
    SystemModstamp: str | None = None


class OrderItemSummary(SfRecord):
    OrderSummaryId: str | None = None
    OrderDeliveryGroupSummaryId: str | None = None
    StockKeepingUnit: str | None = None
    ProductCode: str | None = None
    Name: str | None = None
    Description: str | None = None
    TypeCode: str | None = None  # Product, Charge
    Type: str | None = None  # Order Product, Delivery Charge
    QuantityOrdered: Decimal | None = None
    Quantity: Decimal | None = None
    QuantityCanceled: Decimal | None = None
    UnitPrice: Decimal | None = None
    Status: str | None = None


class OrderDeliveryGroupSummary(SfRecord):
    OrderSummaryId: str | None = None
    DeliverToName: str | None = None  # name and street are read only to be masked
    DeliverToStreet: str | None = None
    DeliverToCity: str | None = None
    DeliverToPostalCode: str | None = None
    DeliverToCountry: str | None = None
    DeliverToCountryCode: str | None = None
    DesiredDeliveryDate: str | None = None
    OrderDeliveryMethodId: str | None = None
    OrderDeliveryMethod: Named | None = None


class OrderSummary(SfRecord):
    OrderNumber: str | None = None
    Status: str | None = None
    OrderedDate: str | None = None
    OriginalOrderId: str | None = None
    OrderLifeCycleType: str | None = None  # MANAGED, UNMANAGED
    BusinessModel: str | None = None  # B2C, B2B
    SalesChannelId: str | None = None
    SalesChannel: Named | None = None
    CurrencyIsoCode: str | None = None
    GrandTotalAmount: Decimal | None = None
    BillingEmailAddress: str | None = None
    OrderItemSummaries: Children | None = None
    OrderDeliveryGroupSummaries: Children | None = None


class FulfillmentOrderLineItem(SfRecord):
    FulfillmentOrderId: str | None = None
    OrderItemSummaryId: str | None = None
    Quantity: Decimal | None = None
    OriginalQuantity: Decimal | None = None
    TypeCode: str | None = None


class FulfillmentOrder(SfRecord):
    FulfillmentOrderNumber: str | None = None
    OrderSummaryId: str | None = None
    OrderDeliveryGroupSummaryId: str | None = None
    Status: str | None = None
    StatusCategory: str | None = None
    Type: str | None = None
    FulfilledFromLocationId: str | None = None
    FulfilledFromLocation: Named | None = None
    FulfillmentOrderLineItems: Children | None = None


class ShipmentItem(SfRecord):
    ShipmentId: str | None = None
    OrderItemSummaryId: str | None = None
    FulfillmentOrderLineItemId: str | None = None
    Quantity: Decimal | None = None


class Shipment(SfRecord):
    ShipmentNumber: str | None = None
    OrderSummaryId: str | None = None
    FulfillmentOrderId: str | None = None
    TrackingNumber: str | None = None
    TrackingUrl: str | None = None
    Provider: str | None = None
    Status: str | None = None
    ShipToCity: str | None = None
    ShipToPostalCode: str | None = None
    ShipToCountry: str | None = None
    ShipToCountryCode: str | None = None
    ExpectedDeliveryDate: str | None = None
    ActualDeliveryDate: str | None = None
    DeliveryMethod: Named | None = None
    ShipmentItems: Children | None = None


class ReturnOrderLineItem(SfRecord):
    ReturnOrderId: str | None = None
    OrderItemSummaryId: str | None = None
    QuantityExpected: Decimal | None = None
    QuantityReceived: Decimal | None = None
    QuantityReturned: Decimal | None = None
    ReasonForReturn: str | None = None


class ReturnOrder(SfRecord):
    ReturnOrderNumber: str | None = None
    OrderSummaryId: str | None = None
    Status: str | None = None  # Draft, Submitted, Approved, Closed, Canceled
    ReturnOrderLineItems: Children | None = None


class OrderPaymentSummary(SfRecord):
    OrderSummaryId: str | None = None
    Method: str | None = None
    Type: str | None = None
    CurrencyIsoCode: str | None = None
    AuthorizationAmount: Decimal | None = None
    CapturedAmount: Decimal | None = None
    RefundedAmount: Decimal | None = None


class BillingDocument(SfRecord):
    """``Invoice`` and ``CreditMemo``: both reference the order summary they bill or credit."""

    DocumentNumber: str | None = None
    ReferenceEntityId: str | None = None
    OrderSummaryId: str | None = None  # some orgs add it; ReferenceEntityId is the standard one
    Status: str | None = None  # Draft, Posted…
    CurrencyIsoCode: str | None = None
    TotalAmountWithTax: Decimal | None = None
    TotalAmount: Decimal | None = None
    Balance: Decimal | None = None


class PlatformEvent(Lenient):
    """The OM platform events; each declares the fields it carries."""

    attributes: Attributes | None = None
    EventUuid: str | None = None
    ReplayId: str | None = None
    CreatedDate: str | None = None
    OrderSummaryId: str | None = None
    OrderId: str | None = None
    OldStatus: str | None = None
    NewStatus: str | None = None
    FulfillmentOrderId: str | None = None
    OldStatusCategory: str | None = None
    NewStatusCategory: str | None = None
    AttachedToId: str | None = None
    Category: str | None = None
    Severity: str | None = None
    Message: str | None = None
    Description: str | None = None
