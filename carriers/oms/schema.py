"""The payload is wismo's canonical event contract (:mod:`wismo.events`); see
:mod:`carriers.canonical` for the accepted shapes and the fields wismo fills in."""

from wismo.events import Event

__all__ = ["Event"]
