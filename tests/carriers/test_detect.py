"""Carrier detection from tracking-number formats and their check digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.detect import DHL, FEDEX, UPS, USPS, detect_carrier

DIGITS = "0123456789"


@pytest.mark.parametrize(
    ("number", "carrier"),
    [
        ("1Z999AA10123456784", UPS),  # UPS's published test number
        ("1z 999 aa1 0123 4567 84", UPS),  # as people type it
        ("1Z12345E6605272234", UPS),
        ("449044304137821", FEDEX),  # FedEx Ground 15 digits
        ("123456789012", FEDEX),  # FedEx Express 12 digits
        ("9612019059812345123452", FEDEX),  # FedEx Ground 96, 22 digits
        ("00123456789012345675", FEDEX),  # SSCC-18 behind "00"
        ("9400111899223397623913", USPS),  # IMpb, 22 digits
        ("9261290100130435082107", USPS),
        ("420902109400111899223397623913", USPS),  # IMpb with 420 + ZIP routing prefix
        ("EA123456785US", USPS),  # UPU S10 from the standard's example
        ("1234567891", DHL),  # DHL Express 10 digits, mod 7
        ("JJD0099999999999999", DHL),
    ],
)
def test_known_formats(number: str, carrier: str) -> None:
    assert detect_carrier(number) == carrier


@pytest.mark.parametrize(
    "number",
    [
        "1Z999AA10123456785",  # wrong UPS check digit
        "123456789013",  # wrong FedEx Express check digit
        "449044304137822",  # wrong FedEx Ground check digit
        "9400111899223397623910",  # wrong IMpb check digit
        "EA123456784US",  # wrong S10 check digit
        "EA123456785DE",  # an S10 of Deutsche Post, not USPS
        "1234567890",  # wrong DHL check digit
        "",
        "hello world",
        "12345",
        "١٢٣٤٥٦٧٨٩١",  # Arabic-Indic digits are digits to Python, not to carriers
    ],
)
def test_unknown_or_mistyped_numbers_are_not_guessed(number: str) -> None:
    assert detect_carrier(number) is None


def _mod10(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _other_digit(digit: str) -> str:
    return str((int(digit) + 1) % 10)


@given(st.text(DIGITS, min_size=20, max_size=20))
def test_any_impb_with_its_check_digit_is_usps(tail: str) -> None:
    body = "94" + tail[:19]
    assert detect_carrier(body + _mod10(body)) == USPS
    assert detect_carrier(body + _other_digit(_mod10(body))) is None


@given(st.text(DIGITS, min_size=14, max_size=14))
def test_any_fedex_ground_with_its_check_digit_is_fedex(body: str) -> None:
    assert detect_carrier(body + _mod10(body)) == FEDEX
    assert detect_carrier(body + _other_digit(_mod10(body))) is None


@given(st.integers(min_value=0, max_value=999_999_999))
def test_any_dhl_express_with_its_check_digit_is_dhl(serial: int) -> None:
    body = f"{serial:09d}"
    assert detect_carrier(body + str(serial % 7)) == DHL
    assert detect_carrier(body + str((serial % 7 + 1) % 7)) is None


@given(st.text(DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=15, max_size=15))
def test_ups_check_digit_catches_every_single_digit_change(body: str) -> None:
    valid = [d for d in DIGITS if detect_carrier(f"1Z{body}{d}") == UPS]
    assert len(valid) == 1


@given(st.text(max_size=40))
def test_never_raises(text: str) -> None:
    assert detect_carrier(text) in {None, UPS, FEDEX, USPS, DHL}
