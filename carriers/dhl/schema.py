"""The DHL payloads wismo reads, as DHL sends them (every field optional, extra fields kept).

* Shipment Tracking - Unified API ``GET /track/shipments`` and its Push API (subscriptions with
  ``format: Default`` push the same body): ``shipments[]`` with ``events[]`` (newest first),
  each with an ISO ``timestamp``, ``statusCode`` family, ``status``/``description`` and
  ``location.address``; plus ``estimatedTimeOfDelivery`` / ``estimatedDeliveryTimeFrame``.
* MyDHL API (Express) ``GET /shipments/{number}/tracking``: ``shipments[]`` with
  ``shipmentTrackingNumber`` and ``events[]`` of ``date``, ``time``, ``GMTOffset``, checkpoint
  ``typeCode`` and ``serviceArea[]``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class DhlModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class Address(DhlModel):
    addressLocality: str | None = None
    postalCode: str | None = None
    countryCode: str | None = None


class Location(DhlModel):
    address: Address | None = None


class ServiceArea(DhlModel):
    code: str | None = None
    description: str | None = None


class TrackingEvent(DhlModel):
    timestamp: str | None = None
    date: str | None = None
    time: str | None = None
    GMTOffset: str | None = None
    typeCode: str | None = None
    statusCode: str | None = None
    status: str | None = None
    description: str | None = None
    location: Location | None = None
    serviceArea: list[ServiceArea] = []


class TimeFrame(DhlModel):
    estimatedFrom: str | None = None
    estimatedThrough: str | None = None


class Signer(DhlModel):
    name: str | None = None
    givenName: str | None = None
    familyName: str | None = None


class ProofOfDelivery(DhlModel):
    """Who signed (``signed``) and links to the signature and the POD document."""

    timestamp: str | None = None
    signatureUrl: str | None = None
    documentUrl: str | None = None
    signed: Signer | None = None


class Details(DhlModel):
    proofOfDelivery: ProofOfDelivery | None = None


class Shipment(DhlModel):
    id: str | None = None
    details: Details | None = None
    shipmentTrackingNumber: str | None = None
    service: str | None = None
    estimatedTimeOfDelivery: str | None = None
    estimatedDeliveryDate: str | None = None
    estimatedDeliveryTimeFrame: TimeFrame | None = None
    events: list[Any] = []  # each validated on its own as a TrackingEvent


class TrackingResponse(DhlModel):
    shipments: list[Shipment] = []


class ProblemDetails(DhlModel):
    """RFC 7807 problem details, DHL's error body (e.g. 404 "No shipment with given tracking
    number found")."""

    title: str | None = None
    status: str | None = None
    detail: str | None = None
