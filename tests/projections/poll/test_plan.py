"""What a timeline asks of polling: schedule, forget, register."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from projections.poll.plan import Registration, plan_timeline, source_of_carrier
from projections.timeline_model import PackageView, ShipmentView, Timeline
from wismo.settings import PollSettings
from wismo.vocab import TrackingStatus

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SETTINGS = PollSettings()


def _timeline(*shipments: ShipmentView) -> Timeline:
    return Timeline(order_id="O1", shipments=list(shipments))


def _shipment(carrier: str | None, number: str, status: TrackingStatus) -> ShipmentView:
    return ShipmentView(
        shipment_id=f"S-{number}",
        tracking_number=number,
        carrier=carrier,
        status=status,
        estimated_delivery=date(2026, 3, 4),
        shipped_at=T - timedelta(days=1),
    )


def test_carrier_names_map_to_polled_sources() -> None:
    names = ["UPS", "FedEx Ground", "fedex", "USPS", "DHL Express", "dhl_parcel_de", "GLS", None]
    assert [source_of_carrier(n) for n in names] == [
        "ups", "fedex", "fedex", "usps", "dhl", "dhl", None, None,
    ]  # fmt: skip


def test_a_live_parcel_of_a_polled_carrier_is_scheduled_by_its_cadence() -> None:
    plan = plan_timeline(
        _timeline(_shipment("UPS", "1Z1", TrackingStatus.IN_TRANSIT)), {"ups"}, None, T, SETTINGS
    )
    ((parcel, at),) = plan.schedule
    assert (parcel.tracking_number, parcel.source, parcel.order_id) == ("1Z1", "ups", "O1")
    assert (parcel.status, parcel.started_at) == ("in_transit", T - timedelta(days=1))
    assert at == T + timedelta(seconds=SETTINGS.in_transit_s)
    assert plan.forget == []
    assert plan.register == []


def test_each_package_is_its_own_parcel() -> None:
    shipment = _shipment("fedex", "F0", TrackingStatus.IN_TRANSIT)
    shipment.packages = [
        PackageView("F1", status=TrackingStatus.DELIVERED),
        PackageView("F2", status=TrackingStatus.OUT_FOR_DELIVERY),
    ]
    plan = plan_timeline(_timeline(shipment), {"fedex"}, None, T, SETTINGS)
    assert plan.forget == ["F1"]
    assert [(p.tracking_number, at) for p, at in plan.schedule] == [
        ("F2", T + timedelta(seconds=SETTINGS.out_for_delivery_s))
    ]


def test_final_or_unconfigured_parcels_are_not_scheduled() -> None:
    timeline = _timeline(
        _shipment("UPS", "1Z1", TrackingStatus.DELIVERED),
        _shipment("USPS", "9400", TrackingStatus.IN_TRANSIT),  # no USPS credentials
    )
    plan = plan_timeline(timeline, {"ups"}, None, T, SETTINGS)
    assert (plan.schedule, plan.forget, plan.register) == ([], ["1Z1"], [])


def test_other_carriers_live_parcels_are_registered() -> None:
    timeline = _timeline(
        _shipment("GLS", "G1", TrackingStatus.IN_TRANSIT),
        _shipment("GLS", "G2", TrackingStatus.DELIVERED),
        _shipment(None, "X1", TrackingStatus.INFO_RECEIVED),
    )
    plan = plan_timeline(timeline, {"ups"}, "aftership", T, SETTINGS)
    assert plan.register == [Registration("G1", "GLS", "O1"), Registration("X1", None, "O1")]
    assert plan.schedule == []


def test_registered_parcels_are_polled_through_the_aggregator_when_it_has_credentials() -> None:
    timeline = _timeline(
        _shipment("GLS", "G1", TrackingStatus.IN_TRANSIT),
        _shipment("GLS", "G2", TrackingStatus.DELIVERED),
        _shipment("UPS", "1Z1", TrackingStatus.IN_TRANSIT),
    )
    plan = plan_timeline(timeline, {"ups", "easypost"}, "easypost", T, SETTINGS)
    assert plan.register == [Registration("G1", "GLS", "O1")]
    assert [(p.tracking_number, p.source) for p, _ in plan.schedule] == [
        ("G1", "easypost"),
        ("1Z1", "ups"),
    ]
    assert plan.forget == ["G2"]
