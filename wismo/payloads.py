"""One typed payload per event kind.

Every field a source may not know is optional: ``None`` means "not said by this event", never
"erase". The timeline fold merges what each event says over what was already known, so a partial
payload can never erase known data (invariant 3 of the design).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from wismo.vocab import (
    Channel,
    ExceptionType,
    Owner,
    ProblemType,
    Reason,
    Severity,
    TrackingStatus,
)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def is_web_url(value: str) -> bool:
    """An http(s) link: a ``javascript:`` or ``data:`` URL would run in the status page."""
    scheme, colon, rest = value.strip().partition(":")
    return bool(colon) and scheme.lower() in ("http", "https") and rest.startswith("//")


def _web_url(value: str) -> str:
    if not is_web_url(value):
        raise ValueError("must be an http:// or https:// URL")
    return value.strip()


#: a link shown to customers (a carrier's tracking page)
WebUrl = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_web_url)]


def is_https_url(value: str) -> bool:
    """An https link (a proof-of-delivery photo is shown to customers: never plain http)."""
    return is_web_url(value) and value.strip()[:6].lower() == "https:"


def _https_url(value: str) -> str:
    if not is_https_url(value):
        raise ValueError("must be an https:// URL")
    return value.strip()


#: a link to a carrier's proof-of-delivery photo or document: https only
HttpsUrl = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_https_url)]


def _normalise_tracking_number(value: str) -> str:
    return "".join(value.split()).upper()


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware instant, stored in UTC. Naive datetimes are rejected."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
TrackingNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=4, max_length=64),
    AfterValidator(_normalise_tracking_number),
]
"""Carrier tracking number; whitespace removed and upper-cased so every source agrees."""
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]
Quantity = Annotated[int, Field(ge=0, le=1_000_000)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]


class Contract(BaseModel):
    """Base of every contract model: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Place(Contract):
    """A location without personal data: enough for lanes, dwell times and the status page."""

    city: Text | None = None
    region: Text | None = None
    postal_code: Annotated[str, StringConstraints(max_length=16)] | None = None
    country: CountryCode | None = None
    facility: Text | None = Field(default=None, description="Carrier facility or pickup point.")


class OrderLine(Contract):
    line_id: Identifier
    sku: Identifier | None = None
    name: Text | None = None
    quantity: Quantity | None = None
    unit_price: Amount | None = None


class LineQuantity(Contract):
    line_id: Identifier
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]


class DeliveryGroup(Contract):
    """Lines that go to one destination with one delivery promise."""

    group_id: Identifier
    method: Text | None = Field(default=None, description="e.g. standard, express, pickup")
    promised_delivery_date: date | None = None
    ship_by: UtcDatetime | None = None
    destination: Place | None = None
    line_ids: list[Identifier] | None = None
    address_masked: Annotated[str, StringConstraints(max_length=300)] | None = Field(
        default=None,
        description="The shipping address partly masked (carriers/masking.py): never the full "
        "name or street.",
    )


class OrderDetails(Contract):
    """What is known about an order; every field optional so changes can be partial."""

    order_number: Identifier | None = Field(
        default=None, description="The number the customer knows (may differ from order_id)."
    )
    channel: Channel | None = None
    sales_channel: Text | None = Field(default=None, description="web, app, store, marketplace…")
    brand: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")] | None = Field(
        default=None,
        description="The brand id; set by the source or from the brand's channels (brands.md).",
    )
    placed_at: UtcDatetime | None = None
    currency: Currency | None = None
    total_amount: Amount | None = None
    customer_email: Annotated[str, StringConstraints(max_length=320)] | None = Field(
        default=None, description="Only its sha256 is kept in the timeline (customer lookup)."
    )
    customer_phone: Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")] | None = (
        Field(
            default=None,
            description="E.164 (+4915112345678), for delivery texts; not kept in the timeline.",
        )
    )
    locale: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")] | None
    ) = Field(
        default=None, description="The customer's language (BCP 47, e.g. de-DE) for messages."
    )
    time_zone: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="IANA zone (Europe/Berlin): quiet hours for messages."
    )
    lines: list[OrderLine] | None = None
    delivery_groups: list[DeliveryGroup] | None = None


class OrderPlaced(OrderDetails):
    pass


class OrderChanged(OrderDetails):
    pass


class OrderCancelled(Contract):
    """A cancellation: of the whole order when ``lines`` is absent, else of those quantities."""

    reason: Text | None = None
    lines: list[LineQuantity] | None = None


class FulfilmentCreated(Contract):
    fulfilment_order_id: Identifier
    delivery_group_id: Identifier | None = None
    warehouse: Identifier | None = None
    lines: list[LineQuantity] | None = None
    ship_by: UtcDatetime | None = None


class FulfilmentStep(Contract):
    """Allocated, picked, packed, rejected or backordered: a fulfilment order moving on."""

    fulfilment_order_id: Identifier
    warehouse: Identifier | None = None
    lines: list[LineQuantity] | None = None
    reason: Text | None = None
    expected_ship_date: date | None = None


class Package(Contract):
    tracking_number: TrackingNumber
    package_id: Identifier | None = None
    weight_kg: Annotated[float, Field(ge=0, le=100_000)] | None = None
    lines: list[LineQuantity] | None = None


class FulfilmentShipped(Contract):
    """A shipment handed to a carrier. It is identified by ``shipment_id``, or else by its
    (master) ``tracking_number``; each package may carry its own tracking number."""

    shipment_id: Identifier | None = None
    fulfilment_order_id: Identifier | None = None
    carrier: Identifier | None = None
    service: Text | None = None
    tracking_number: TrackingNumber | None = None
    tracking_url: WebUrl | None = None
    packages: list[Package] | None = None
    lines: list[LineQuantity] | None = None
    carrier_edd: date | None = Field(default=None, description="Carrier's estimated delivery.")
    shipped_at: UtcDatetime | None = None
    origin: Place | None = None
    destination: Place | None = None

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if self.shipment_id is None and self.tracking_number is None and not self.packages:
            raise ValueError("a shipment needs a shipment_id, a tracking_number or packages")
        return self

    @property
    def key(self) -> str:
        """The shipment's identity inside its order."""
        if self.shipment_id is not None:
            return self.shipment_id
        if self.tracking_number is not None:
            return self.tracking_number
        assert self.packages  # guaranteed by the validator
        return self.packages[0].tracking_number


class TrackingCheckpoint(Contract):
    """One carrier scan. The raw code and message are always kept, mapped or not."""

    status: TrackingStatus
    reason: Reason | None = None
    carrier: Identifier | None = None
    raw_code: Annotated[str, StringConstraints(max_length=200)] | None = None
    message: Annotated[str, StringConstraints(max_length=2000)] | None = None
    location: Place | None = None
    estimated_delivery: date | None = None
    signed_by: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, description="Who signed for a delivery, as the carrier wrote it."
    )
    proof_of_delivery_url: HttpsUrl | None = Field(
        default=None, description="The carrier's proof-of-delivery photo or document."
    )


class EddRevised(Contract):
    """The carrier (or the retailer) changed its estimated delivery date."""

    estimated_delivery: date
    window_start: UtcDatetime | None = None
    window_end: UtcDatetime | None = None
    carrier: Identifier | None = None
    reason: Text | None = None


class PaymentEvent(Contract):
    payment_id: Identifier
    amount: Amount | None = None
    currency: Currency | None = None
    method: Text | None = None
    processor_reference: Text | None = None
    failure_reason: Text | None = None


class ReturnLine(LineQuantity):
    """A line of a return, with the customer's reason for returning it (a request has one)."""

    reason: Text | None = None


class ReturnEvent(Contract):
    """A return (RMA) being requested, authorized, shipped back, received or rejected."""

    return_id: Identifier
    lines: list[ReturnLine] | None = None
    reason: Text | None = None
    carrier: Identifier | None = None
    tracking_number: TrackingNumber | None = None
    note: Text | None = None


class RefundIssued(Contract):
    refund_id: Identifier
    amount: Amount | None = None
    currency: Currency | None = None
    return_id: Identifier | None = None
    lines: list[LineQuantity] | None = None
    full: bool = Field(default=False, description="The whole order amount was refunded.")


class ExceptionOpened(Contract):
    exception_id: Identifier
    type: ExceptionType
    severity: Severity
    owner: Owner
    subject: Identifier | None = Field(
        default=None, description="Shipment, tracking number or fulfilment order concerned."
    )
    reason: Reason | None = None
    message: Text


class ExceptionTransition(Contract):
    """An agent (or the detector, when the condition cleared) acted on an exception."""

    exception_id: Identifier
    by: Identifier | None = None
    note: Text | None = None
    automatic: bool = False


class Attachment(Contract):
    """A file a customer attached (a photo of the problem), kept by wismo, never in the event.

    ``ref`` names the stored file (random, so it cannot be guessed from the order); the bytes
    were checked to be the image type they claim and re-encoded without metadata.
    """

    ref: Annotated[str, StringConstraints(pattern=r"^[a-f0-9]{32}\.(jpg|png|webp)$")]
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    size_bytes: Annotated[int, Field(ge=1, le=50_000_000)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[a-f0-9]{64}$")]


class ProblemReported(Contract):
    """A customer reported a problem on /track: it opens a ``customer_reported`` exception."""

    exception_id: Identifier
    problem: ProblemType
    text: Text = Field(description="The customer's own words.")
    subject: Identifier | None = Field(
        default=None, description="The shipment or tracking number it concerns, if one."
    )
    lines: list[LineQuantity] | None = None
    attachment: Attachment | None = None


class CancelRequest(Contract):
    """A customer's request to cancel lines not yet in a fulfilment order, and the OMS's answer
    (``cancel.confirmed`` / ``cancel.rejected`` with the same ``request_id``)."""

    request_id: Identifier
    lines: list[LineQuantity] | None = None
    reason: Text | None = None
    note: Text | None = Field(default=None, description="The OMS's reason when it answers.")


class ExceptionAssigned(Contract):
    """An agent took an exception, gave it to someone, or put it back (``assignee`` null)."""

    exception_id: Identifier
    assignee: Identifier | None = None
    by: Identifier


class ExceptionEscalated(Contract):
    """An agent escalated an exception to the supervisors, with a reason."""

    exception_id: Identifier
    reason: Text
    by: Identifier
    to: Identifier | None = Field(default=None, description="A supervisor, if one was named.")


class ExceptionCaseOpened(Contract):
    """A case was opened for an escalated exception in a service desk (Salesforce Service
    Cloud)."""

    exception_id: Identifier
    system: Literal["salesforce"]
    case_id: Identifier
    case_number: Identifier
    url: WebUrl | None = None


class NoteAdded(Contract):
    """An agent's note on the order, or on one of its exceptions: notes are never edited."""

    note_id: Identifier
    text: Text
    by: Identifier
    exception_id: Identifier | None = None


class CustomerMessaged(Contract):
    """An agent sent the customer a message from a template (the notify role delivers it)."""

    message_id: Identifier
    template: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    by: Identifier
    text: Text | None = Field(
        default=None, description="The agent's words, where the template has room."
    )
    exception_id: Identifier | None = None


class ShipmentLinked(Contract):
    """An agent linked a tracking number to the order by hand: scans parked under it are
    released onto the order."""

    tracking_number: TrackingNumber
    carrier: Identifier | None = None
    by: Identifier
    note: Text | None = None


class PredictionBasis(Contract):
    """What a delivery estimate rests on: the group of comparable parcels that answered."""

    level: Annotated[str, StringConstraints(max_length=32)] = Field(
        description="How specific the group is: full, no_weekday, … global (docs/prediction.md)."
    )
    key: Annotated[str, StringConstraints(max_length=500)] = Field(
        description="The group: carrier|service|origin|destination|status|days|weekday, …"
    )
    samples: Annotated[int, Field(ge=0)] = Field(description="Scans the group was learned from.")
    parcels: Annotated[int, Field(ge=0)] = Field(description="Parcels those scans came from.")


class ShipmentPredicted(Contract):
    """wismo's own delivery estimate for a shipment, from its scans so far and a trained model."""

    shipment_id: Identifier
    tracking_number: TrackingNumber | None = None
    predicted_delivery: date = Field(description="The median predicted delivery day (UTC).")
    window_start: UtcDatetime = Field(description="80 % of comparable parcels arrived in the…")
    window_end: UtcDatetime = Field(description="…window from window_start to window_end.")
    p_late: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None, description="Chance of delivery after the promise; None without one."
    )
    promise: date | None = Field(default=None, description="The promised day p_late refers to.")
    basis: PredictionBasis
    model_version: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    as_of: UtcDatetime = Field(description="The last scan (or shipping) it was computed from.")
    beyond_history: bool = Field(
        default=False, description="The parcel has waited longer than nearly all comparable ones."
    )
