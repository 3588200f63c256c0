"""Every Redis key and channel name of the read model, under one prefix.

``P`` is the configured prefix; ``{…}`` is the Redis Cluster hash tag: the keys one script or
transaction touches share a tag, so the store runs on a Redis Cluster as on one Redis::

    P:{ORDER}:events           hash  event_id -> canonical event JSON (the copy dedupe prefers)
    P:{ORDER}:state            hash  rev, json, version, digest, status, sha (of json),
                                     lk (of the lookup keys), ix (of the agent index entries)
    P:{ORDER}:dups             hash  event_id -> re-deliveries recognised and ignored
    P:{ORDER}:retained         string  the order went on the retention clock (see below)
    P:{ORDER}:photos           hash  sha256 -> REF: the customer's photos of the order
    P:photo:{REF}              hash  a photo's bytes and type (:mod:`api.photos`), expiring
    P:track:{TRACKING}         string -> order id (the tracking-number link)
    P:park:{TRACKING}          hash  event_id -> scan JSON, for scans no known shipment names yet
    P:{unmatched}:first        zset  parked tracking number -> when it was first parked (ms)
    P:{unmatched}:last         zset  parked tracking number -> when it was last parked (ms)
    P:{unmatched}:carrier      hash  parked tracking number -> carrier (or source) of its scans
    P:{unmatched}:indexed      string  set once the parkings older than the index are indexed
    P:lookup:KEY               string -> order id; KEY hashes order number + e-mail hash / postcode
    P:api:idx:number:NUMBER    set   order ids with this (normalised) order number
    P:api:idx:email:SHA256     set   order ids of this e-mail hash
    P:{idx}:exceptions         hash  exception id -> queue row (JSON)
    P:{idx}:resolved           zset  exception id -> resolved time (rows past the keep are dropped)
    P:{retention}:due          zset  order id -> when its Redis timeline expires
    P:{retention}:orders       hash  order id -> expiry record (:mod:`projections.retention`)

Single-key commands need no tag (lookup keys, index sets). Before Redis Cluster support the
exception queue and the retention records lived under ``P:api:idx:exceptions``,
``P:api:idx:resolved``, ``P:retention:due`` and ``P:retention:orders``
(:attr:`RedisKeys.legacy`): :mod:`projections.redis_upgrade` moves them on first use.

Channels: ``P:timeline:ORDER`` gets each new timeline JSON; ``P:agents`` gets a summary of every
change (see :mod:`projections.redis_writer`). Both are classic pub/sub channels, which a Redis
Cluster delivers to subscribers on every node.
"""

from __future__ import annotations

from projections.lookup import normalise_order_number


class RedisKeys:
    """Key and channel names under one prefix (the prefix must not contain ``{`` or ``}``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.agents_channel = f"{prefix}:agents"
        index = f"{prefix}:api:idx"
        self.index_exceptions = f"{prefix}:{{idx}}:exceptions"
        self.index_resolved = f"{prefix}:{{idx}}:resolved"
        self.retention_due = f"{prefix}:{{retention}}:due"
        self.retention_orders = f"{prefix}:{{retention}}:orders"
        #: the unmatched-scan index (:mod:`projections.links`): one tag, so one script keeps it
        self.unmatched_first = f"{prefix}:{{unmatched}}:first"
        self.unmatched_last = f"{prefix}:{{unmatched}}:last"
        self.unmatched_carrier = f"{prefix}:{{unmatched}}:carrier"
        self.unmatched_indexed = f"{prefix}:{{unmatched}}:indexed"  # older parkings indexed
        #: the former name of each renamed key -> its name now (hash, zset, zset, hash)
        self.legacy = {
            f"{index}:exceptions": self.index_exceptions,
            f"{index}:resolved": self.index_resolved,
            f"{prefix}:retention:due": self.retention_due,
            f"{prefix}:retention:orders": self.retention_orders,
        }
        self._index = index

    # one order ----------------------------------------------------------------------------

    def events(self, order_id: str) -> str:
        return f"{self.prefix}:{{{order_id}}}:events"

    def state(self, order_id: str) -> str:
        return f"{self.prefix}:{{{order_id}}}:state"

    def dups(self, order_id: str) -> str:
        return f"{self.prefix}:{{{order_id}}}:dups"

    def retained(self, order_id: str) -> str:
        return f"{self.prefix}:{{{order_id}}}:retained"

    def photos(self, order_id: str) -> str:
        return f"{self.prefix}:{{{order_id}}}:photos"

    def photo(self, ref: str) -> str:
        return f"{self.prefix}:photo:{{{ref}}}"

    def order_channel(self, order_id: str) -> str:
        return f"{self.prefix}:timeline:{order_id}"

    # the tracking-number link -------------------------------------------------------------

    def tracking(self, tracking_number: str) -> str:
        return f"{self.prefix}:track:{{{tracking_number}}}"

    def parked(self, tracking_number: str) -> str:
        return f"{self.prefix}:park:{{{tracking_number}}}"

    # customer lookup and the agent index --------------------------------------------------

    def lookup(self, key: str) -> str:
        return f"{self.prefix}:lookup:{key}"

    def index_number(self, order_number: str) -> str:
        return f"{self._index}:number:{normalise_order_number(order_number)}"

    def index_email(self, sha256: str) -> str:
        return f"{self._index}:email:{sha256}"
