"""ClickHouse schema migrations: numbered ``.sql`` files in ``projections/migrations``.

Each file holds one or more statements separated by ``;``, with ``{db}`` standing for the
database. Applied migrations are recorded in ``{db}.schema_migrations`` (name, checksum, time);
:func:`migrate` applies the missing ones in name order, every start, and refuses to run when an
applied file has since been edited. Every statement is written to be safe to re-run
(``IF NOT EXISTS``), so a crash between a statement and its record is harmless.

Table TTLs are settings (``retention.*_days``), not migrations: :func:`apply_ttls` brings each
table's TTL to the configured one on every start, and leaves a table alone when it already has it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from projections.errors import MigrationError

_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
_DATABASE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, database: str, *, replicated: bool = False) -> list[str]:
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        statements = [s.strip().replace("{db}", database) for s in body.split(";") if s.strip()]
        return [replicate(s) for s in statements] if replicated else statements


_MERGE_TREE_ENGINE = re.compile(r"(ENGINE\s*=\s*)(?!Replicated)(\w*MergeTree)\b")


def replicate(statement: str) -> str:
    """The statement for a ``Replicated`` database: every ``*MergeTree`` engine becomes its
    ``Replicated*MergeTree`` twin, with the database's default Keeper path and replica name."""
    return _MERGE_TREE_ENGINE.sub(lambda m: f"{m.group(1)}Replicated{m.group(2)}", statement)


def is_replicated(client: Any, database: str) -> bool:
    rows = client.query(
        "SELECT engine FROM system.databases WHERE name = {name:String}",
        parameters={"name": database},
    ).result_rows
    return bool(rows) and rows[0][0] == "Replicated"


def migrations() -> list[Migration]:
    folder = resources.files("projections") / "migrations"
    found = [
        Migration(entry.name, entry.read_text())
        for entry in folder.iterdir()
        if _NAME.match(entry.name)
    ]
    return sorted(found, key=lambda m: m.name)


def _check_database(database: str) -> None:
    if not _DATABASE.match(database):
        raise MigrationError(f"invalid ClickHouse database name {database!r}")


def applied(client: Any, database: str) -> dict[str, str]:
    """Name → checksum of the migrations recorded in the database."""
    rows = client.query(
        f"SELECT name, argMax(checksum, applied_at) FROM {database}.schema_migrations GROUP BY name"
    ).result_rows
    return {str(name): str(checksum) for name, checksum in rows}


def migrate(client: Any, database: str) -> list[str]:
    """Create the database and apply what is missing; returns the names applied now."""
    _check_database(database)
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    # a database created as Replicated (several ClickHouse replicas) gets replicated tables
    replicated = is_replicated(client, database)
    ledger = (
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree(applied_at) ORDER BY name"
    )
    client.command(replicate(ledger) if replicated else ledger)
    done = applied(client, database)
    now_applied = []
    for migration in migrations():
        recorded = done.get(migration.name)
        if recorded is not None:
            if recorded != migration.checksum:
                raise MigrationError(
                    f"migration {migration.name} changed after it was applied "
                    f"(recorded {recorded}, file {migration.checksum}); add a new migration"
                )
            continue
        try:
            for statement in migration.statements(database, replicated=replicated):
                client.command(statement)
        except Exception as error:
            raise MigrationError(f"migration {migration.name} failed: {error}") from error
        client.insert(
            "schema_migrations",
            [[migration.name, migration.checksum]],
            column_names=["name", "checksum"],
            database=database,
        )
        now_applied.append(migration.name)
    return now_applied


#: the time column each table's TTL counts from
TTL_COLUMNS = {
    "events": "occurred_at",
    "timelines": "updated_at",
    "shipments": "updated_at",
    "exceptions": "updated_at",
    "notifications": "at",
}
_TABLE_TTL = re.compile(r"\bTTL (.+?)(?: SETTINGS |$)")


def ttl_expression(table: str, days: float) -> str | None:
    """The table's TTL for ``days`` of retention (``None``: kept for ever), as ClickHouse
    prints it back."""
    seconds = round(days * 86400)
    if seconds <= 0:
        return None
    return f"toDateTime({TTL_COLUMNS[table]}) + toIntervalSecond({seconds})"


def current_ttl(client: Any, database: str, table: str) -> str | None:
    rows = client.query(
        "SELECT create_table_query FROM system.tables WHERE database = {db:String} "
        "AND name = {table:String}",
        parameters={"db": database, "table": table},
    ).result_rows
    found = _TABLE_TTL.search(str(rows[0][0])) if rows else None
    return found.group(1) if found else None


def apply_ttls(client: Any, database: str, days: Mapping[str, float]) -> list[str]:
    """Set (or remove) each table's TTL to match ``days``; returns the tables altered."""
    _check_database(database)
    altered = []
    for table, kept in days.items():
        wanted, present = ttl_expression(table, kept), current_ttl(client, database, table)
        if wanted == present:
            continue
        if wanted is None:
            client.command(f"ALTER TABLE {database}.{table} REMOVE TTL")
        else:
            client.command(f"ALTER TABLE {database}.{table} MODIFY TTL {wanted}")
        altered.append(table)
    return altered
