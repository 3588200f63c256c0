"""Places as sources write them (city, region, postal code, country, facility) → :class:`Place`."""

from __future__ import annotations

from carriers.countries import alpha2
from carriers.values import text
from wismo.payloads import Place

_POSTAL_CODE = 16


def place(
    *,
    city: object = None,
    region: object = None,
    postal_code: object = None,
    country: object = None,
    facility: object = None,
) -> Place | None:
    """A :class:`Place` from whatever the source gave; unusable parts are left out, and a place
    with nothing usable is ``None``. Countries may be ISO alpha-2 or alpha-3."""
    fields = {
        "city": text(city),
        "region": text(region),
        "postal_code": text(postal_code, _POSTAL_CODE),
        "country": alpha2(text(country)),
        "facility": text(facility),
    }
    present = {key: value for key, value in fields.items() if value is not None}
    return Place(**present) if present else None


def place_key(location: Place | None) -> tuple[str | None, ...]:
    """The parts of a place that tell one scan location from another (for event ids)."""
    if location is None:
        return ()
    return (
        location.facility,
        location.city,
        location.region,
        location.postal_code,
        location.country,
    )
