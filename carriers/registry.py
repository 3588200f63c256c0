"""Where sources are found by name: ``carriers.get("ups")``.

Each name is a sub-package of :mod:`carriers` exposing ``SOURCE``; it is imported on first use.
"""

from __future__ import annotations

import importlib
from functools import cache

from carriers.base import Source
from carriers.errors import UnknownSource

#: Every source wismo ships with. Add a new one here and in carriers/<name>/.
SOURCE_NAMES: tuple[str, ...] = (
    "ups",
    "fedex",
    "usps",
    "dhl",
    "aftership",
    "easypost",
    "shopify",
    "salesforce_om",
    "oms",
    "wms",
)


@cache
def get(name: str) -> Source:
    if name not in SOURCE_NAMES:
        raise UnknownSource(f"unknown source {name!r}; known: {', '.join(SOURCE_NAMES)}")
    module = importlib.import_module(f"carriers.{name}")
    source: Source = module.SOURCE
    return source


def names() -> tuple[str, ...]:
    return SOURCE_NAMES
