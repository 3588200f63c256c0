"""Single values read tolerantly: free text and tracking numbers. ``None`` stands for anything
unusable, so a parser keeps the rest of the item."""

from __future__ import annotations

TEXT_LIMIT = 2000


def text(value: object, limit: int = TEXT_LIMIT) -> str | None:
    """A trimmed, length-capped string, or ``None`` for anything blank or not a string/number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    cleaned = str(value).strip()
    return cleaned[:limit] if cleaned else None


def tracking_number(value: object) -> str | None:
    """A tracking number as every source writes it (no spaces, upper case); ``None`` for what
    cannot be one (``"N/A"``, ``"-"``: merchants type those when there is none)."""
    if not isinstance(value, str):
        return None
    number = "".join(value.split()).upper()
    return number if 4 <= len(number) <= 64 else None
