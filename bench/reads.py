"""``wismo bench reads``: order-status reads (``GET /v1/orders/{id}`` with a capability token).

The API process serves timelines folded into Redis from a generated history; a bare aiohttp
process answering a constant (:mod:`bench.baseline`) is measured the same way in the same
run. Each is driven twice:

- **fixed rate**: an open-loop schedule of ``rate`` requests/s over a pool of keep-alive
  connections for ``duration`` seconds; latency runs from the moment a request is due to its
  answer's last byte, so a request that waits for a free connection (counted as ``queued``)
  has that wait in its latency;
- **saturation**: ``concurrency`` closed-loop clients for ``duration`` seconds; throughput is
  answers/s.

Before those, the API's **first reads** are measured on their own: every order read once by
``concurrency`` closed-loop clients. The API keeps encoded views and verified tokens in memory
(docs/guarantees.md), so these are the reads that pay for the token check, the Redis read and
the view; the fixed-rate and saturation phases then measure the steady state of orders that do
not change, as a status page polled by its customer between an order's (rare) changes.

Targets: p99 ≤ 5 ms at 2,000 req/s, and a saturation throughput at least half the baseline's.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from bench import stack
from bench.seed import seed_orders, tokens
from bench.stats import Progress, every_second, percentiles, ratio
from bench.wire import HttpConnection, http_request, open_http


@dataclass(frozen=True)
class ReadsOptions:
    orders: int = 1000
    rate: float = 2000.0
    duration_s: float = 10.0
    concurrency: int = 32
    pool: int = 64


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    queued: int = 0
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def summary(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}_requests": self.answered,
            f"{prefix}_ok": self.statuses.get(200, 0),
            f"{prefix}_req_per_s": round(self.answered / self.seconds, 1) if self.seconds else 0,
            **percentiles(self.latencies, f"{prefix}_"),
        }


async def fixed_rate(
    sample: Sample, port: int, requests: list[bytes], rate: float, duration_s: float, pool: int
) -> None:
    idle = deque([await open_http(port) for _ in range(pool)])
    waiting: deque[tuple[bytes, float]] = deque()
    tasks: set[asyncio.Task[None]] = set()

    async def one(connection: HttpConnection, raw: bytes, due: float) -> None:
        while True:
            status, _ = await connection.request(raw)
            sample.latencies.append(time.perf_counter() - due)
            sample.statuses[status] += 1
            if not waiting:
                idle.append(connection)
                return
            raw, due = waiting.popleft()

    total = max(1, round(rate * duration_s))
    started = time.perf_counter()
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        raw, now = requests[n % len(requests)], time.perf_counter()
        if idle:
            task = asyncio.create_task(one(idle.popleft(), raw, now))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            sample.queued += 1
            waiting.append((raw, now))
    while tasks:
        await asyncio.gather(*tasks)
    sample.seconds = time.perf_counter() - started
    for connection in idle:
        connection.close()


async def saturation(
    sample: Sample, port: int, requests: list[bytes], duration_s: float, clients: int
) -> None:
    deadline = time.perf_counter() + duration_s

    async def client(offset: int) -> None:
        connection = await open_http(port)
        n = offset
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            status, _ = await connection.request(requests[n % len(requests)])
            sample.latencies.append(time.perf_counter() - sent)
            sample.statuses[status] += 1
            n += clients
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(offset) for offset in range(clients)))
    sample.seconds = time.perf_counter() - started


async def first_reads(sample: Sample, port: int, requests: list[bytes], clients: int) -> None:
    """Each request once, by ``clients`` closed-loop clients."""
    todo = deque(requests)

    async def client() -> None:
        connection = await open_http(port)
        while todo:
            raw = todo.popleft()
            sent = time.perf_counter()
            status, _ = await connection.request(raw)
            sample.latencies.append(time.perf_counter() - sent)
            sample.statuses[status] += 1
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    sample.seconds = time.perf_counter() - started


def _line(name: str, sample: Sample) -> str:
    return f"{name}: {sample.answered} answers"


async def _measure(
    options: ReadsOptions, api_port: int, base_port: int, reads: list[bytes], progress: Progress
) -> dict[str, Any]:
    constant = [http_request("GET", "/constant", base_port)]
    results: dict[str, Sample] = {}
    first = results["api_first_reads"] = Sample()
    await first_reads(first, api_port, reads, options.concurrency)
    progress(f"api_first_reads: {first.answered} answers in {first.seconds:.1f}s")
    plan = (
        ("baseline_fixed", base_port, constant, True),
        ("api_fixed", api_port, reads, True),
        ("baseline_saturated", base_port, constant, False),
        ("api_saturated", api_port, reads, False),
    )
    for name, port, requests, fixed in plan:
        sample = results[name] = Sample()
        ticker = asyncio.create_task(every_second(progress, functools.partial(_line, name, sample)))
        try:
            if fixed:
                await fixed_rate(
                    sample, port, requests, options.rate, options.duration_s, options.pool
                )
            else:
                await saturation(sample, port, requests, options.duration_s, options.concurrency)
        finally:
            ticker.cancel()
        progress(f"{name}: {sample.answered} answers in {sample.seconds:.1f}s")
    summary: dict[str, Any] = {
        "scenario": "reads",
        "orders": options.orders,
        "target_rate": options.rate,
        "duration_s": options.duration_s,
        "concurrency": options.concurrency,
    }
    for name, sample in results.items():
        summary |= sample.summary(name)
    summary["api_fixed_queued"] = results["api_fixed"].queued
    summary["saturation_ratio_to_baseline"] = ratio(
        summary["api_saturated_req_per_s"], summary["baseline_saturated_req_per_s"]
    )
    return summary


def run(options: ReadsOptions, progress: Progress) -> dict[str, Any]:
    import uvloop

    with stack.embedded() as bench:
        settings = bench.settings
        progress(f"seeding {options.orders} orders into Redis")
        order_ids = asyncio.run(seed_orders(settings, options.orders))
        port = settings.api.port
        reads = [
            http_request("GET", f"/v1/orders/{order_id}", port, {"Authorization": f"Bearer {t}"})
            for order_id, t in tokens(settings, order_ids).items()
        ]
        with stack.running(bench), stack.baseline(bench) as (_, base_port):
            progress("API and baseline up; measuring")
            summary = uvloop.run(_measure(options, port, base_port, reads, progress))
    return summary
