"""Outbound notifications, pure side: what to tell whom and when (docs/notifications.md).

``model`` holds the shared types; planning (milestones, integrator events, quiet hours, retry
schedule, breaker, rendering, unsubscribe tokens) is pure; ``store`` is the Redis side (ledger,
outbox, contacts, preferences, subscriptions, delivery log) that the ``notify`` role and the API
share.
"""
