"""Places as sources write them (:mod:`carriers.places`)."""

from __future__ import annotations

from carriers.places import place


def test_place_keeps_what_is_usable() -> None:
    assert place(city=" Berlin ", country="DEU", postal_code="10115") is not None
    assert place(city="  ", country="Narnia") is None
    located = place(city="Leeds", country="UK", region="", facility="Depot 7")
    assert located is not None
    assert (located.city, located.country, located.region, located.facility) == (
        "Leeds",
        "GB",
        None,
        "Depot 7",
    )
