"""``POST /v1/agent/erasures``: erase a person's data by order id, e-mail or phone
(:mod:`projections.erasure`), for agents holding the ``admin`` role.

Erasure rewrites the ClickHouse log, so it runs in a process that has ClickHouse: any API process
with a ClickHouse server; with chDB the one holding its path (``wismo up``), else 503 with the
reason (``wismo erase`` does the same from the command line). The answer is the audit record.

Brands: an admin whose token names ``brands`` may erase by ``order_id`` only an order of those
brands (another brand's order is 404, as a missing one); erasing by e-mail or phone reaches every
brand's orders of that person, so it needs an admin without a brand restriction (403).
"""

from __future__ import annotations

from aiohttp import web

from api.auth import ERASE_ROLES
from api.clickhouse import clickhouse
from api.errors import BadRequest, Forbidden, NotFound, Unavailable
from api.keys import CLOCK, SETTINGS, STORE
from api.views.agent import agent, sees_order
from api.views.body import json_object
from api.views.respond import json
from projections.erasure import Erasure, Subject
from projections.errors import StoreError

#: body field → subject kind
FIELDS = {"order_id": "order", "email": "email", "phone": "phone"}


def subject_of(document: dict[str, object]) -> Subject:
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {', '.join(unknown)}; give one of order_id, email, phone")
    given = list(document.items())  # null is a value given, and not text
    if len(given) != 1:
        raise BadRequest("give exactly one of order_id, email, phone")
    ((name, value),) = given
    if not isinstance(value, str) or len(value) > 320:
        raise BadRequest(f"{name} must be text of at most 320 characters")
    try:
        return Subject.of(FIELDS[name], value)
    except ValueError as error:
        raise BadRequest(str(error)) from error


async def erase(request: web.Request) -> web.Response:
    who = agent(request, ERASE_ROLES)
    app = request.app
    document = await json_object(request, app[SETTINGS].api.max_body_bytes)
    subject = subject_of(document)
    if who.brands is not None:
        order_id = document.get("order_id")
        if not isinstance(order_id, str):
            raise Forbidden("erasing by e-mail or phone needs an admin without a brand restriction")
        if not await sees_order(request, who, order_id):
            raise NotFound(f"order {order_id} is not known")
    ch = await clickhouse(app)
    try:
        report = await Erasure(ch, app[STORE]).run(subject, who.agent_id, app[CLOCK]())
    except StoreError as error:
        raise Unavailable(f"the erasure failed; run it again: {error}", retry_after_s=5) from error
    return json(report.as_dict())
