"""The UPS payloads wismo reads, as UPS sends them (every field optional, extra fields kept).

* Track API ``GET /api/track/v1/details/{inquiryNumber}``: ``trackResponse.shipment[].package[]``
  with ``activity[]`` (newest first), ``deliveryDate[]`` and ``deliveryTime``; errors come as
  ``response.errors[]``.
* Track Alert webhook (``TrackingEvent``): one activity of one package per POST, with the
  activity's local and GMT date/time and the scheduled delivery date.

Dates are ``YYYYMMDD`` and times ``HHMMSS`` strings; UPS sometimes drops a leading zero of a
time (``"74700"``), which the parser pads.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class UpsModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class Address(UpsModel):
    city: str | None = None
    stateProvince: str | None = None
    postalCode: str | None = None
    country: str | None = None
    countryCode: str | None = None


class Location(UpsModel):
    address: Address | None = None
    slic: str | None = None


class Status(UpsModel):
    type: str | None = None
    code: str | None = None
    description: str | None = None
    statusCode: str | None = None
    simplifiedTextDescription: str | None = None


class Activity(UpsModel):
    date: str | None = None
    time: str | None = None
    gmtDate: str | None = None
    gmtTime: str | None = None
    gmtOffset: str | None = None
    location: Location | None = None
    status: Status | None = None


class DeliveryDate(UpsModel):
    type: str | None = None  # SDD scheduled, RDD rescheduled, DEL delivered
    date: str | None = None


class DeliveryTime(UpsModel):
    type: str | None = None  # EOD, CMT, EDW, CDW, IDW, DEL
    startTime: str | None = None
    endTime: str | None = None


class DeliveryInformation(UpsModel):
    """Where a delivered package was left (``"Front Door"``, ``"Receiver"``…) and who signed
    for it (``receivedBy``). UPS sends the signature and photo as inline images
    (``signature.image``, ``deliveryPhoto.photo``, ``pod.content``), not links: not read."""

    location: str | None = None
    receivedBy: str | None = None


class Package(UpsModel):
    trackingNumber: str | None = None
    activity: list[Any] = []  # each validated on its own as an Activity
    deliveryDate: list[DeliveryDate] = []
    deliveryTime: DeliveryTime | None = None
    deliveryInformation: DeliveryInformation | None = None
    currentStatus: Status | None = None


class Message(UpsModel):
    code: str | None = None
    message: str | None = None


class Shipment(UpsModel):
    inquiryNumber: str | None = None
    package: list[Package] = []
    warnings: list[Message] = []


class TrackResponse(UpsModel):
    shipment: list[Shipment] = []


class TrackApiResponse(UpsModel):
    trackResponse: TrackResponse


class ErrorBody(UpsModel):
    errors: list[Message] = []


class ErrorResponse(UpsModel):
    response: ErrorBody


class ActivityLocation(UpsModel):
    city: str | None = None
    stateProvince: str | None = None
    postalCode: str | None = None
    country: str | None = None


class ActivityStatus(UpsModel):
    type: str | None = None
    code: str | None = None
    description: str | None = None
    descriptionCode: str | None = None


class TrackAlertEvent(UpsModel):
    trackingNumber: str | None = None
    localActivityDate: str | None = None
    localActivityTime: str | None = None
    gmtActivityDate: str | None = None
    gmtActivityTime: str | None = None
    activityLocation: ActivityLocation | None = None
    activityStatus: ActivityStatus | None = None
    scheduledDeliveryDate: str | None = None
    actualDeliveryDate: str | None = None
    actualDeliveryTime: str | None = None
    deliveryStartTime: str | None = None
    deliveryEndTime: str | None = None
    deliveryTimeDescription: str | None = None
