"""Shopify webhook bodies (REST resource shapes), as Shopify sends them.

Only the fields wismo reads are declared; everything else is ignored, so new Shopify fields never
break parsing. Ids are numbers in the JSON and strings here. Timestamps stay strings:
:mod:`carriers.shopify.parse` decides how to read them. Personal data (names, streets, phones) is
deliberately not declared, so it never leaves the parser.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class Address(Lenient):
    """A shipping address or fulfilment destination: what locates a parcel coarsely, and the
    name and first street line, read only to be masked (:mod:`carriers.masking`)."""

    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    address1: str | None = None
    city: str | None = None
    zip: str | None = None
    country_code: str | None = None
    country: str | None = None


class LineItem(Lenient):
    id: str
    sku: str | None = None
    name: str | None = None
    title: str | None = None
    quantity: int | None = None
    price: str | None = None
    requires_shipping: bool | None = None


class ShippingLine(Lenient):
    id: str | None = None
    code: str | None = None
    title: str | None = None


class Customer(Lenient):
    email: str | None = None


class Transaction(Lenient):
    id: str
    kind: str | None = None  # authorization, capture, sale, void, refund
    status: str | None = None  # pending, failure, success, error
    amount: str | None = None
    currency: str | None = None
    gateway: str | None = None
    authorization: str | None = None
    message: str | None = None
    processed_at: str | None = None
    created_at: str | None = None


class RefundLineItem(Lenient):
    line_item_id: str
    quantity: int | None = None
    restock_type: str | None = None  # no_restock, cancel, return, legacy_restock


class ResourceRef(Lenient):
    id: str


class Refund(Lenient):
    id: str
    order_id: str | None = None
    created_at: str | None = None
    processed_at: str | None = None
    refund_line_items: list[RefundLineItem] | None = None
    transactions: list[Transaction] | None = None
    linked_return: ResourceRef | None = Field(default=None, alias="return")


class Fulfillment(Lenient):
    id: str
    order_id: str | None = None
    status: str | None = None  # pending, open, success, cancelled, error, failure
    shipment_status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_numbers: list[str] | None = None
    tracking_url: str | None = None
    tracking_urls: list[str] | None = None
    line_items: list[LineItem] | None = None
    destination: Address | None = None
    origin_address: Address | None = None


class FulfillmentEvent(Lenient):
    id: str
    fulfillment_id: str
    order_id: str | None = None
    status: str | None = None
    message: str | None = None
    happened_at: str | None = None
    created_at: str | None = None
    estimated_delivery_at: str | None = None
    city: str | None = None
    province: str | None = None
    zip: str | None = None
    country: str | None = None
    # not in Shopify's webhook: added by wismo's poller (or a relay) that knows the fulfilment
    tracking_number: str | None = None
    tracking_numbers: list[str] | None = None
    tracking_company: str | None = None


class Order(Lenient):
    id: str
    name: str | None = None
    order_number: str | None = None
    email: str | None = None
    contact_email: str | None = None
    customer: Customer | None = None
    created_at: str | None = None
    updated_at: str | None = None
    processed_at: str | None = None
    cancelled_at: str | None = None
    cancel_reason: str | None = None
    currency: str | None = None
    total_price: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    source_name: str | None = None
    payment_gateway_names: list[str] | None = None
    company: dict[str, Any] | None = None  # present on B2B orders
    line_items: list[LineItem] | None = None
    shipping_lines: list[ShippingLine] | None = None
    shipping_address: Address | None = None
    # kept raw so one bad fulfilment or refund does not reject the order
    fulfillments: list[Any] | None = None
    refunds: list[Any] | None = None


class ReturnLineItem(Lenient):
    id: str | None = None
    quantity: int | None = None
    return_reason: str | None = None
    fulfillment_line_item: dict[str, Any] | None = None

    @property
    def line_item_id(self) -> str | None:
        line_item = (self.fulfillment_line_item or {}).get("line_item")
        if isinstance(line_item, dict) and line_item.get("id") is not None:
            return str(line_item["id"])
        return None


class ReturnDecline(Lenient):
    reason: str | None = None


class Return(Lenient):
    """``returns/*`` bodies: approve/request/decline carry ``order``, cancel/close carry
    ``order_id``."""

    id: str
    name: str | None = None
    status: str | None = None
    order: ResourceRef | None = None
    order_id: str | None = None
    return_line_items: list[ReturnLineItem] | None = None
    decline: ReturnDecline | None = None
