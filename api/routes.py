"""Every route of the API (``openapi.yaml`` describes each one; a test keeps them in step)."""

from __future__ import annotations

from aiohttp import web

from api.views import agent, erasure, live, ops, orders, poll, webhooks
from api.views.agent_work import add_agent_work_routes
from api.views.customer_actions import add_customer_action_routes
from api.views.notify import add_notify_routes
from api.views.ui import add_ui_routes
from api.views.unmatched import add_unmatched_routes


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/webhooks/{source}", webhooks.receive_webhook)
    app.router.add_post("/v1/events", webhooks.receive_events)
    app.router.add_post("/v1/lookup", orders.lookup)
    app.router.add_get("/v1/orders/{order_id}", orders.read_order)
    app.router.add_get("/v1/tracking/{tracking_number}", orders.track)
    app.router.add_get("/v1/brands/{brand}", orders.brand)
    app.router.add_get("/v1/i18n/{lang}", orders.page_texts)
    app.router.add_get("/v1/agent/orders/{order_id}", agent.order_detail)
    app.router.add_get("/v1/agent/orders/{order_id}/dead-letters", agent.dead_letters)
    app.router.add_get("/v1/agent/search", agent.search)
    app.router.add_get("/v1/agent/brands", agent.brands)
    app.router.add_get("/v1/agent/exceptions", agent.list_exceptions)
    app.router.add_post("/v1/agent/exceptions/{exception_id}/acknowledge", agent.acknowledge)
    app.router.add_post("/v1/agent/exceptions/{exception_id}/resolve", agent.resolve)
    app.router.add_post("/v1/agent/erasures", erasure.erase)
    app.router.add_get("/v1/agent/parcels/{tracking_number}/poll", poll.poll_info)
    app.router.add_post("/v1/agent/parcels/{tracking_number}/recheck", poll.recheck)
    app.router.add_get("/v1/ws", live.websocket)
    app.router.add_get("/v1/ws/orders/{order_id}", live.websocket)
    app.router.add_get("/v1/ws/agent", live.websocket)
    app.router.add_get("/healthz", ops.healthz)
    app.router.add_get("/readyz", ops.readyz)
    app.router.add_get("/metrics", ops.metrics)
    app.router.add_get("/openapi.json", ops.openapi)
    add_notify_routes(app)
    add_customer_action_routes(app)
    add_agent_work_routes(app)
    add_unmatched_routes(app)
    add_ui_routes(app)
