"""The whole system as a user meets it: ``wismo up`` as a subprocess (its own Tansu broker, the
machine's Redis under a unique key prefix, chDB in a temporary directory, every role and the API
in one process, simulated webhook traffic), and headless Debian chromium driven by Playwright.

Screenshots land in ``build/browser/`` (kept by CI as artifacts).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis

from cli.runtime.embedded import free_port

WISMO = str(Path(sys.executable).with_name("wismo"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "build" / "browser"
AGENT_SECRET = "browser-tests-agent-secret-0123456789"
CUSTOMER_SECRET = "browser-tests-customer-secret-0123456789"
DEMO_ORDER = "100000"
DEMO_EMAIL = "customer0@example.com"
READY_S = 90.0


@dataclass
class System:
    base: str
    prefix: str
    log: Path
    process: subprocess.Popen[bytes]

    def agent_token(self, roles: tuple[str, ...] = ("supervisor",)) -> str:
        now = datetime.now(UTC)
        claims = {"sub": "browser-test", "roles": list(roles), "exp": now + timedelta(hours=1)}
        return jwt.encode(claims, AGENT_SECRET, algorithm="HS256")

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def customer_view(self, order_number: str, email: str) -> dict[str, Any]:
        status, found = self.request(
            "POST", "/v1/lookup", {"order_number": order_number, "email": email}
        )
        assert status == 200, found
        status, view = self.request("GET", f"/v1/orders/{found['order_id']}", token=found["token"])
        assert status == 200, view
        return dict(view)

    def log_tail(self, lines: int = 40) -> str:
        """The end of wismo up's terminal output and of its JSON log (<data_dir>/logs)."""
        tails = []
        for path in (self.log, self.log.parent / "logs" / "wismo.log"):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                tails.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(tails)


def _wait(
    condition: Any, timeout_s: float, what: str, system: System | None = None, every_s: float = 0.3
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if system is not None and system.process.poll() is not None:
            pytest.fail(f"wismo up exited with {system.process.returncode}:\n{system.log_tail()}")
        try:
            if condition():
                return
        except (OSError, AssertionError):
            pass
        time.sleep(every_s)
    tail = system.log_tail() if system is not None else ""
    pytest.fail(f"{what} not within {timeout_s:.0f}s\n{tail}")


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data = tmp_path_factory.mktemp("wismo-up")
    port = free_port()
    prefix = f"wismo-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "WISMO_DATA_DIR": str(data),
        "WISMO_REDIS__KEY_PREFIX": prefix,
        "WISMO_API__PORT": str(port),
        "WISMO_API__AGENT_JWT_SECRET": AGENT_SECRET,
        "WISMO_API__CUSTOMER_TOKEN_SECRET": CUSTOMER_SECRET,
        # every page and helper of the session looks orders up from one address
        "WISMO_API__LOOKUP_CLIENT_BURST": "10000",
        "WISMO_KAFKA__PARTITIONS": "2",
        "WISMO_KAFKA__SESSION_TIMEOUT_S": "6",
        "WISMO_KAFKA__REBALANCE_TIMEOUT_S": "3",
        "WISMO_KAFKA__HEARTBEAT_INTERVAL_S": "0.5",
        "WISMO_CLICKHOUSE__BATCH_INTERVAL_S": "0.5",
        # no quiet hours: the customer e-mails reach the outbox whatever the hour of the run
        "WISMO_NOTIFY__QUIET_START_HOUR": "0",
        "WISMO_NOTIFY__QUIET_END_HOUR": "0",
        "WISMO_LOG_LEVEL": "WARNING",
    }
    log = data / "wismo-up.log"
    command = [WISMO, "up", "--web-port", str(free_port()), "--demo-orders", "16"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "--demo-rate", "8"], env=env, stdout=out, stderr=out, start_new_session=True
        )
    running = System(f"http://127.0.0.1:{port}", prefix, log, process)
    try:
        # the demo order is the first delivery the simulator sends
        _wait(
            lambda: any(
                s["checkpoints"] for s in running.customer_view(DEMO_ORDER, DEMO_EMAIL)["shipments"]
            ),
            READY_S,
            "the demo order with a scanned parcel",
            running,
            every_s=1.5,  # lookups are rate-limited per client: stay under the refill rate
        )
        yield running
    finally:
        stopped = _stop(process)
        _delete_keys(prefix)
    assert stopped, f"wismo up ignored Ctrl-C:\n{running.log_tail()}"


#: how long Ctrl-C may take, drain included, before the test calls it ignored
DRAIN_WAIT_S = 90


def _stop(process: subprocess.Popen[bytes]) -> bool:
    """Ctrl-C, as a person would; whether it stopped everything by itself."""
    if process.poll() is not None:
        return True
    os.killpg(process.pid, signal.SIGINT)
    try:
        # a drain carries what the stream still holds into both stores first: on a loaded
        # two-core machine that backlog takes tens of seconds (wismo up gives it 120 s)
        process.wait(DRAIN_WAIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        return False
    try:
        os.killpg(process.pid, 0)  # nothing left in its process group either
    except ProcessLookupError:
        return True
    return False


def _delete_keys(prefix: str) -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


#: the reader's remembered language (api/static/track/track.js), English unless a test chose one
ENGLISH_UNLESS_CHOSEN = (
    "try { if (!localStorage.getItem('wismo.lang')) localStorage.setItem('wismo.lang', 'en'); }"
    " catch (error) {}"
)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    # the status page reads English unless a test chooses (the demo orders have their own locales)
    context.add_init_script(ENGLISH_UNLESS_CHOSEN)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture
def axe() -> Callable[[Any], list[dict[str, Any]]]:
    """``axe(page)``: the serious and critical accessibility violations of what the page
    shows now (tests/browser/axe.py; ``describe`` words them for an assertion)."""
    from tests.browser.axe import axe_violations

    return axe_violations


def post_webhooks(system: System, posts: list[Any]) -> None:
    """Send simulator posts (signed like the real sources) and check they were accepted."""
    from bench.simulate import send, source_secrets
    from wismo.settings import Settings

    secrets = source_secrets(Settings())
    # Playwright's sync API keeps an event loop running on this thread: send from another one
    with ThreadPoolExecutor(1) as thread:
        outcome = thread.submit(
            lambda: asyncio.run(send(system.base, posts, rate=0, secrets=secrets))
        ).result()
    assert set(outcome.statuses) <= {200, 202}, outcome.summary()
