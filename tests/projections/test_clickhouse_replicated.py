"""Migrations in a ``Replicated`` database create replicated tables (several ClickHouse replicas,
as the chart deploys them); in any other database they are left as written."""

from __future__ import annotations

import re
from typing import Any

from projections.clickhouse_schema import is_replicated, migrations, replicate

ENGINE = re.compile(r"ENGINE\s*=\s*(\w+)")


def test_every_merge_tree_table_becomes_replicated() -> None:
    engines = []
    for migration in migrations():
        for statement in migration.statements("wismo", replicated=True):
            engines += ENGINE.findall(statement)
    assert engines  # the migrations do create tables
    assert all(e.startswith("Replicated") and e.endswith("MergeTree") for e in engines), engines


def test_plain_databases_keep_the_engines_as_written() -> None:
    written = [
        ENGINE.findall(statement)
        for migration in migrations()
        for statement in migration.statements("wismo")
    ]
    assert not any(e.startswith("Replicated") for found in written for e in found)


def test_rewriting_is_idempotent_and_keeps_engine_arguments() -> None:
    statement = "CREATE TABLE t (a UInt8) ENGINE = ReplacingMergeTree(version) ORDER BY a"
    once = replicate(statement)
    assert (
        once == "CREATE TABLE t (a UInt8) ENGINE = ReplicatedReplacingMergeTree(version) ORDER BY a"
    )
    assert replicate(once) == once


def test_chdb_databases_are_not_replicated(chdb_client: Any) -> None:
    chdb_client.command("CREATE DATABASE IF NOT EXISTS wismo_plain_check")
    try:
        assert not is_replicated(chdb_client, "wismo_plain_check")
    finally:
        chdb_client.command("DROP DATABASE IF EXISTS wismo_plain_check")
