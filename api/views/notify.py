"""The notification routes: webhook subscriptions and their delivery logs, an order's messages
and the manual re-send (agents), customers' preferences and the one-click unsubscribe, and the
development outbox (``environment = dev`` only). ``openapi.yaml`` describes each one."""

from __future__ import annotations

from aiohttp import web

from api.views import notify_customer, notify_messages, notify_outbox
from api.views import notify_subscriptions as subs

SUBSCRIPTION = "/v1/notify/subscriptions/{subscription_id}"


def add_notify_routes(app: web.Application) -> None:
    router = app.router
    router.add_post("/v1/notify/subscriptions", subs.create_subscription)
    router.add_get("/v1/notify/subscriptions", subs.list_subscriptions)
    router.add_get(SUBSCRIPTION, subs.read_subscription)
    router.add_patch(SUBSCRIPTION, subs.update_subscription)
    router.add_delete(SUBSCRIPTION, subs.delete_subscription)
    router.add_post(f"{SUBSCRIPTION}/pause", subs.pause_subscription)
    router.add_post(f"{SUBSCRIPTION}/resume", subs.resume_subscription)
    router.add_post(f"{SUBSCRIPTION}/rotate-secret", subs.rotate_secret)
    router.add_get(f"{SUBSCRIPTION}/deliveries", subs.deliveries)
    router.add_post("/v1/notify/messages/{message_id}/resend", notify_messages.resend)
    router.add_get("/v1/agent/orders/{order_id}/notifications", notify_messages.order_notifications)
    router.add_get("/v1/orders/{order_id}/notifications", notify_customer.read_preferences)
    router.add_post("/v1/orders/{order_id}/notifications", notify_customer.change_preferences)
    router.add_get("/v1/notify/unsubscribe", notify_customer.unsubscribe_page)
    router.add_post("/v1/notify/unsubscribe", notify_customer.unsubscribe)
    router.add_get("/v1/dev/outbox", notify_outbox.recent)
    router.add_get("/outbox", notify_outbox.page)
