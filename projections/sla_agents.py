"""Agent-response KPIs as plain ClickHouse SQL: how fast exceptions are acknowledged and
resolved, by exception type and by agent (definitions: docs/kpis.md, "Agent response"). No I/O.

Read from ``{db}.exceptions`` with ``FINAL`` (one row per exception, its latest state), over the
exceptions *opened* in the period; the shipment groupings (``--by``) do not apply.

* An exception is **acknowledged** by the agent who acknowledged it — or who resolved it without
  acknowledging first (a resolution answers it too). Time to acknowledge: opened → that moment.
* It is **resolved by an agent** when an agent resolved it; a resolution the detector made when
  the condition cleared (``automatic_resolution``, or no agent named) is counted apart, as
  ``resolved_automatically``, and never in the agent figures. Time to resolve: opened → resolved.

Rows: one ``all`` row, one per ``type`` and one per ``agent`` (``scope`` says which). An agent's
row covers the exceptions they acknowledged or resolved; its time to acknowledge is over the ones
they acknowledged, its time to resolve over the ones they resolved.
"""

from __future__ import annotations


def _minutes(start: str, end: str) -> str:
    return f"greatest(0, toUnixTimestamp64Milli({end}) - toUnixTimestamp64Milli({start})) / 60000"


_BASE = f"""SELECT e.exception_id AS exception_id, e.type AS type, e.opened_at AS opened_at,
        e.resolved_at AS resolved_at,
        e.resolved_at IS NOT NULL AND e.resolved_by != '' AND e.automatic_resolution = 0
            AS by_agent,
        e.resolved_at IS NOT NULL AND NOT by_agent AS automatic,
        if(e.acknowledged_at IS NOT NULL, e.acknowledged_at, if(by_agent, e.resolved_at, NULL))
            AS responded_at,
        if(e.acknowledged_at IS NOT NULL, e.acknowledged_by, if(by_agent, e.resolved_by, ''))
            AS responder,
        if(by_agent, e.resolved_by, '') AS resolver,
        e.escalated_at IS NOT NULL AS escalated,
        {_minutes("e.opened_at", "responded_at")} AS acknowledge_min,
        {_minutes("e.opened_at", "e.resolved_at")} AS resolve_min
    FROM {{db}}.exceptions AS e FINAL
    WHERE e.opened_at >= {{start:Date}} AND e.opened_at < {{end:Date}}"""

_P2 = "0.5, 0.9"


def _figures(acknowledged: str, resolved: str, automatic: str) -> str:
    return f"""countIf({acknowledged}) AS acknowledged,
        countIf({resolved}) AS resolved_by_agent,
        countIf({automatic}) AS resolved_automatically,
        countIf(resolved_at IS NULL) AS unresolved,
        countIf(escalated) AS escalated,
        quantilesExactInclusiveIf({_P2})(acknowledge_min, {acknowledged})
            AS time_to_acknowledge_min,
        quantilesExactInclusiveIf({_P2})(resolve_min, {resolved}) AS time_to_resolve_min"""


_TEAM = _figures("responded_at IS NOT NULL", "by_agent", "automatic")
_AGENT = _figures("responder = agent", "resolver = agent", "0")

AGENT_RESPONSE_SQL = f"""WITH base AS (
    {_BASE}
)
SELECT * FROM (
    SELECT 'all' AS scope, '' AS type, '' AS agent, count() AS exceptions,
        {_TEAM}
    FROM base
    UNION ALL
    SELECT 'type' AS scope, toString(type) AS type, '' AS agent, count() AS exceptions,
        {_TEAM}
    FROM base GROUP BY type
    UNION ALL
    SELECT 'agent' AS scope, '' AS type, agent, count() AS exceptions,
        {_AGENT}
    FROM base ARRAY JOIN arrayDistinct(arrayFilter(a -> a != '', [responder, resolver])) AS agent
    GROUP BY agent
)
ORDER BY indexOf(['all', 'type', 'agent'], scope), type, agent"""

#: section name → SQL (parameters ``start`` and ``end``: the day after the period)
AGENT_SECTIONS: dict[str, str] = {"agent_response": AGENT_RESPONSE_SQL}
