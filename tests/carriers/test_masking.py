"""carriers.masking: the masked address never gives away the name or the street line."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from carriers.masking import MAX_LENGTH, masked_address, masked_street
from wismo.payloads import DeliveryGroup

letters = st.characters(categories=["L"])
words = st.text(alphabet=letters, min_size=1, max_size=12)
names = st.lists(words, min_size=1, max_size=3).map(" ".join)
house_numbers = st.text(alphabet="0123456789abc-/", min_size=1, max_size=6).filter(
    lambda n: any(ch.isdigit() for ch in n)
)
streets = st.one_of(
    st.tuples(house_numbers, st.lists(words, min_size=1, max_size=4)).map(
        lambda t: " ".join([t[0], *t[1]])
    ),
    st.tuples(st.lists(words, min_size=1, max_size=4), house_numbers).map(
        lambda t: " ".join([*t[0], t[1]])
    ),
    st.lists(words, min_size=1, max_size=4).map(" ".join),
)
towns = st.text(alphabet=letters, max_size=20)
postcodes = st.text(alphabet="0123456789 ", max_size=8)


@given(
    first=names,
    last=names,
    street=streets,
    postcode=postcodes,
    city=towns,
    country=st.sampled_from(["DE", "DEU", "Germany", "", "NL"]),
)
def test_the_masked_line_never_holds_the_full_name_or_street(
    first: str, last: str, street: str, postcode: str, city: str, country: str
) -> None:
    full_name = f"{first} {last}"
    kept = " ".join(f"{postcode} {city} {country}".split()).casefold()
    # what is kept in the clear (postcode, city, country, a street's short words) may of course
    # hold the same words
    assume(len(street) > 1 and street.casefold() not in kept)
    clear = f"{kept} {street.casefold()}"
    assume(not any(part.casefold() in clear for part in (first, last, full_name) if len(part) > 1))
    for line in (
        masked_address(
            first_name=first,
            last_name=last,
            street=street,
            postal_code=postcode,
            city=city,
            country=country,
        ),
        masked_address(name=full_name, street=street, postal_code=postcode, city=city),
    ):
        assert line is not None
        folded = line.casefold()
        assert street.casefold() not in folded
        assert full_name.casefold() not in folded
        for part in (first, last):
            if len(part) > 1:
                assert part.casefold() not in folded
        assert len(line) <= MAX_LENGTH
        DeliveryGroup(group_id="G1", address_masked=line)  # always a valid contract value


def test_the_example_line() -> None:
    line = masked_address(
        first_name="Jane",
        last_name="Doe",
        street="1234 Main St",
        postal_code="10115",
        city="Berlin",
        country="DE",
    )
    assert line == "J. D•••, 12•• Ma••• St, 10115 Berlin, DE"


def test_a_full_name_a_three_letter_country_and_a_street_name_first() -> None:
    line = masked_address(
        name="Max Otto Mustermann", street="Hauptstraße 5", city="Köln", country="DEU"
    )
    assert line == "M. M•••, Ha••• ••, Köln, DE"


def test_a_street_of_short_words_still_hides_its_name() -> None:
    assert masked_street("Elm St") == "El••• St"


def test_nothing_known_is_none() -> None:
    assert masked_address() is None
    assert masked_address(name="  ", street="") is None
