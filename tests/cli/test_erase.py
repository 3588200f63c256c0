"""``wismo erase``: erases from a chDB log and Redis in its own process, prints the audit report
without the value, and refuses (naming the way out) while another process holds the chDB path."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from tests.projections.conftest import REDIS_URL, drop_prefix

ROOT = Path(__file__).parents[2]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, timeout=120, check=False
    )


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"wismo-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = aioredis.Redis.from_url(REDIS_URL)
    await drop_prefix(client, name)
    await client.aclose()


def _env(prefix: str, chdb: Path) -> dict[str, str]:
    return {
        "WISMO_REDIS__URL": REDIS_URL,
        "WISMO_REDIS__KEY_PREFIX": prefix,
        "WISMO_CLICKHOUSE__CHDB_PATH": str(chdb),
    }


async def test_erase_by_email_from_the_command_line(tmp_path: Path, prefix: str) -> None:
    chdb = tmp_path / "chdb"
    populate = [
        sys.executable, "-m", "tests.projections.crash_writer", "--redis", REDIS_URL,
        "--prefix", prefix, "--chdb", str(chdb), "--orders", "4",
    ]  # fmt: skip
    assert _run(populate, {}).returncode == 0
    email = "customer1@example.com"
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        assert email.encode() in b"".join(
            (await client.hgetall(f"{prefix}:{{ORD-1}}:events")).values()
        )
        done = _run(
            [sys.executable, "-m", "cli.main", "erase", "--email", email, "--by", "dpo"],
            _env(prefix, chdb),
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        report = orjson.loads(done.stdout)
        assert report["orders"] == ["ORD-1"]
        assert (report["subject"], report["requested_by"]) == ("email", "dpo")
        assert report["events"] > 0
        assert email.encode() not in done.stdout
        held = await client.hgetall(f"{prefix}:{{ORD-1}}:events")
        assert held
        assert email.encode() not in b"".join(held.values())
        assert b"customer2@example.com" in b"".join(
            (await client.hgetall(f"{prefix}:{{ORD-2}}:events")).values()
        )
    finally:
        await client.aclose()


def test_erase_refuses_while_another_process_holds_chdb(tmp_path: Path, prefix: str) -> None:
    chdb = tmp_path / "chdb"
    chdb.mkdir()
    status = chdb / "status"
    status.write_text("held")
    with status.open() as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running chDB engine holds it
        done = _run(
            [sys.executable, "-m", "cli.main", "erase", "--order", "ORD-1"], _env(prefix, chdb)
        )
    assert done.returncode == 2
    assert b"another process holds the chDB path" in done.stderr
    assert b"POST /v1/agent/erasures" in done.stderr


@pytest.mark.parametrize(
    ("flag", "value", "reason"),
    [("--email", "not-an-address", b"not an e-mail"), ("--phone", "12-34", b"6 digits")],
)
def test_erase_refuses_a_subject_too_vague_to_search(
    tmp_path: Path, prefix: str, flag: str, value: str, reason: bytes
) -> None:
    done = _run(
        [sys.executable, "-m", "cli.main", "erase", flag, value], _env(prefix, tmp_path / "x")
    )
    assert done.returncode == 2
    assert reason in done.stderr
