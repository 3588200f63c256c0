"""wismo's stream processing: Faust agents from raw payloads to live timelines.

::

    raw ──normalise──▶ events (by order) ──timeline──▶ Redis timelines ──▶ timeline topic
     │                   ▲                 └─warehouse (own group)──▶ ClickHouse
     │                   │ linked scans
     └──▶ tracking (by number) ──link──┘     (scans parked until their shipment names them)
     └──▶ deadletter (reason, source, headers, raw bytes; ``wismo dlq list|replay``)

Modules: :mod:`streams.app` (the Faust app factory), :mod:`wismo.topics`,
:mod:`streams.routing` (the pure decisions), :mod:`streams.agents`, :mod:`wismo.deadletter`,
:mod:`streams.metrics`, :mod:`streams.watchdog`. The roles that compose agents into processes
live on the top floor (:mod:`cli.runtime.roles`).
"""
