"""``wismo up``'s guarantees at a stop or a crash: the journal checkpoint and the drain.

- Every :data:`CHECKPOINT_S` the open journal segment is sealed; sealed segments are dropped
  once the stream has carried them into Redis and ClickHouse (:func:`cli.runtime.settle.settle`).
- SIGTERM, SIGINT (Ctrl-C) and SIGHUP drain: the API stops accepting (in-flight requests
  finish), the stream carries everything accepted into both stores, the journal is emptied,
  then the worker stops. A second signal stops at once; what was not carried yet stays in the
  journal and is replayed at the next start. A third exits the process on the spot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from mode import Service

from cli.runtime.journal import Journal
from cli.runtime.settle import Offsets, settle

log = logging.getLogger(__name__)

CHECKPOINT_S = 5.0
SETTLE_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 120.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class IntakeGuard(Service):
    """Checkpoints the journal and drains on a stop signal (see the module docstring).

    ``stop_api`` stops the API from accepting; ``stop_worker`` starts the worker's shutdown.
    """

    def __init__(
        self,
        journal: Journal,
        offsets: Offsets,
        *,
        stop_api: Callable[[], Any],
        checkpoint_s: float = CHECKPOINT_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.journal = journal
        self.offsets = offsets
        self.stop_api = stop_api
        self.checkpoint_s = checkpoint_s
        self.stop_worker: Callable[[signal.Signals], None] | None = None
        self._signals = 0
        self._lock = asyncio.Lock()
        self._draining: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        await self.offsets.start()
        loop = asyncio.get_running_loop()
        for number in STOP_SIGNALS:
            loop.add_signal_handler(number, self._on_signal, number)
        self.add_future(self._checkpoints())

    async def on_stop(self) -> None:
        await self.offsets.stop()
        self.journal.close()

    def _on_signal(self, number: signal.Signals) -> None:
        self._signals += 1
        if self._signals == 1:
            log.warning("%s: draining (again to stop at once)", number.name)
            self._draining = asyncio.ensure_future(self._drain_then_stop(number))
        elif self._signals == 2:
            log.warning("%s: stopping now; the journal is replayed at the next start", number.name)
            self._stop_worker(number)
        else:
            os._exit(128 + number.value)

    def _stop_worker(self, number: signal.Signals) -> None:
        if self.stop_worker is not None:
            self.stop_worker(number)

    async def _drain_then_stop(self, number: signal.Signals) -> None:
        try:
            stopping = self.stop_api()
            if asyncio.iscoroutine(stopping) or isinstance(stopping, asyncio.Future):
                await stopping
            drained = await self.checkpoint(DRAIN_TIMEOUT_S, settle_anyway=True)
            if drained:
                log.info("drained: every accepted payload is in Redis and ClickHouse")
            else:
                log.warning("not drained in %.0fs; the journal is kept", DRAIN_TIMEOUT_S)
        except Exception:
            log.exception("drain failed; the journal is kept")
        self._stop_worker(number)

    async def _checkpoints(self) -> None:
        while not self.should_stop:
            await self.sleep(self.checkpoint_s)
            if self._draining is not None:
                return
            try:
                await self.checkpoint(SETTLE_TIMEOUT_S)
            except Exception as error:  # the broker busy or away: the next round retries
                log.warning("journal checkpoint skipped: %s", error)

    async def checkpoint(self, timeout_s: float, *, settle_anyway: bool = False) -> bool:
        """Seal the open segment; drop every settled one once the stores hold it.

        ``settle_anyway`` (the drain) waits for the stream even with no segment to drop: what
        the stream derives itself (the detector's exceptions) reaches both stores too."""
        async with self._lock:
            if self.journal.current_records:
                self.journal.seal()
            sealed = [s for s in self.journal.segments() if s != self.journal.current]
            waited = 0.0
            while not all(self.journal.settled(s) for s in sealed):
                if waited >= timeout_s:
                    return False
                await asyncio.sleep(0.05)
                waited += 0.05
            if not sealed and not settle_anyway:
                return True
            if not await settle(self.offsets, timeout_s):
                return False
            for segment in sealed:
                with contextlib.suppress(OSError):
                    self.journal.drop(segment)
            log.debug("journal checkpoint: dropped %d segment(s)", len(sealed))
            return True
