"""Polling, pure and Redis side (docs/integrations.md, "Polling").

``cadence`` says when a parcel is next polled, from its state; ``index`` is the Redis index of
polled parcels (when each is due, what its last poll found), shared by the ``poll`` role, the
sweeper (stalled first) and the API; ``bucket`` is the Redis token bucket that keeps every poll
worker together within a source's rate and daily quota.
"""
