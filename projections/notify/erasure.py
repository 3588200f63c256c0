"""What erasing an order removes from the notification side (docs/security.md, "Erasure").

Redis: the contacts its events gave (e-mail, phone), the customer's own preferences (addresses
they subscribed) and the ledger's message records (they name the recipient). What the ledger
has *handled* stays — ranks and states, no personal data — so a later change of the order does
not send old milestones again. ClickHouse keeps only a SHA-256 of each recipient in
``notifications``; erasure blanks it for the order's rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from projections.clickhouse_store import ClickHouse
from projections.notify.contacts import ContactStore
from projections.notify.ledger import Ledger
from projections.notify.subscriptions import PreferenceStore

_BLANK = (
    "ALTER TABLE {db}.notifications UPDATE recipient_hash = '' "
    "WHERE order_id IN {orders:Array(String)} SETTINGS mutations_sync = 1"
)


async def forget_in_redis(client: aioredis.Redis, prefix: str, order_ids: Sequence[str]) -> int:
    """Drop each order's contacts, preferences and message records; returns messages removed."""
    contacts, preferences, ledger = (
        ContactStore(client, prefix),
        PreferenceStore(client, prefix),
        Ledger(client, prefix),
    )
    removed = 0
    for order_id in order_ids:
        await contacts.forget(order_id)
        await preferences.forget(order_id)
        removed += await ledger.forget(order_id)
    return removed


async def blank_recipients(ch: ClickHouse, order_ids: Sequence[str]) -> None:
    if order_ids:
        sql = _BLANK.replace("{db}", ch.database)
        await ch.run(ch.client.command, sql, parameters={"orders": list(order_ids)})
