"""``wismo up``'s first screen: every printed link answers, the console link's token signs an
agent in, the logs are JSON lines in the data directory (or on stdout with ``--log-format
json``), and the simulated orders belong to both demo brands in more than one language."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.simulate import ORDER_ID
from tests.e2e.up_process import UpProcess

URL = re.compile(r"https?://[^\s)]+")


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _orders_by_brand(up: UpProcess, token: str, count: int) -> set[tuple[str, str]]:
    """(brand, language) of the first ``count`` simulated orders the agent API knows."""
    seen: set[tuple[str, str]] = set()
    for index in range(count):
        order_id = ORDER_ID.format(seed=0, index=index)
        status, body = _get(f"{up.base}/v1/agent/orders/{order_id}", token)
        if status == 200:
            timeline = json.loads(body)["timeline"]
            seen.add((str(timeline.get("brand")), str(timeline.get("locale") or "")[:2]))
    return seen


def test_the_first_screen_links_work_and_the_demo_shows_two_brands_in_languages(
    tmp_path: Path,
) -> None:
    up = UpProcess(tmp_path / "run", arguments=("--demo-orders", "30", "--demo-rate", "40"))
    up.start()
    try:
        up.wait_ready()
        deadline = time.monotonic() + 20
        while "Ctrl-C" not in up.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        terminal = up.log_path.read_text()
        (console,) = [u for u in URL.findall(terminal) if "/console#token=" in u]
        token = console.split("#token=", 1)[1]
        ours = [
            u
            for u in URL.findall(terminal)
            if u.startswith((up.base, f"http://127.0.0.1:{up.web_port}/"))
            and "/v1/webhooks/" not in u  # where sources POST to, not a page
        ]
        paths = {u.removeprefix(up.base).split("#")[0] for u in ours}
        assert {"/track?brand=northwind", "/track?brand=kaffeeberg&lang=de", "/outbox"} <= paths
        assert f"{up.base}/analytics#token={token}" in ours
        for url in ours:
            assert _get(url)[0] == 200, url
        # the fragment's token is an agent's
        assert _get(f"{up.base}/v1/agent/orders/none", token)[0] == 404
        assert _get(f"{up.base}/v1/agent/orders/none", "not-a-token")[0] == 401
        deadline = time.monotonic() + 90
        seen: set[tuple[str, str]] = set()
        while time.monotonic() < deadline:
            seen = _orders_by_brand(up, token, 30)
            brands = {brand for brand, _ in seen}
            if brands >= {"northwind", "kaffeeberg"} and len({lang for _, lang in seen}) >= 2:
                break
            time.sleep(2)
        assert {brand for brand, _ in seen} >= {"northwind", "kaffeeberg"}, seen
        assert len({lang for _, lang in seen}) >= 2, seen
        # no access-log or JSON lines on the terminal; they are in the data directory's log
        assert not [line for line in terminal.splitlines() if line.startswith("{")]
        records = _json_lines(up.directory / ".wismo" / "logs" / "wismo.log")
        assert {"wismo.up"} < {record["logger"] for record in records}
        up.signal(signal.SIGINT)
        assert up.wait(90) == 0, up.log_tail()
        # production style: the same stack with its logs as JSON lines on stdout
        up.start("--log-format", "json")
        up.wait_ready()
        up.signal(signal.SIGINT)
        assert up.wait(90) == 0, up.log_tail()
        printed = _json_lines(up.log_path)
        assert any(record["logger"] == "wismo.up" for record in printed)
        assert any("/console#token=" in record["msg"] for record in printed)
    finally:
        up.cleanup()


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` as a JSON object (fails on a line that is not one)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
