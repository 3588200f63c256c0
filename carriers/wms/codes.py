"""Canonical feeds already use wismo's status and reason vocabularies: nothing to map."""

from carriers.common import CodeTable

TABLES: dict[str, CodeTable] = {}
