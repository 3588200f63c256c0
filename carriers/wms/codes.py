"""Canonical feeds already use wismo's status and reason vocabularies: nothing to map."""
