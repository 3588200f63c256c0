"""The Salesforce REST calls that open a case, over an injected aiohttp session.

:meth:`CaseClient.open` upserts the case by external id and reads its number. Each call is
judged by :func:`carriers.salesforce_om.cases.judge`: a 401 renews the OAuth token (client
credentials, :class:`carriers.oauth.ClientCredentials`) and tries again at once (a second 401
is a refusal: the connected app's access is wrong); 429 and 5xx wait
(``Retry-After`` when given, else a doubling backoff) and try again, ``attempts`` times in all;
any other 4xx raises :class:`CaseRefused` at once. Running out of attempts raises
:class:`CaseUnavailable`: the caller decides (the agent dead-letters the escalation rather than
hold its partition).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from carriers.errors import TrackingApiError
from carriers.http import retry_after_seconds
from carriers.oauth import ClientCredentials
from carriers.salesforce_om.cases import CaseTarget, case_number, judge, upserted_id

#: the longest wait between attempts, whatever Retry-After says
MAX_WAIT_S = 60.0
Sleep = Callable[[float], Awaitable[None]]


class CaseError(Exception):
    """A case could not be opened (the reason says why)."""


class CaseRefused(CaseError):
    """Salesforce refused the request for good (a 4xx other than 401): retrying will not help."""


class CaseUnavailable(CaseError):
    """Salesforce kept failing (429, 5xx, no answer) through every attempt."""


@dataclass(frozen=True, slots=True)
class OpenedCase:
    case_id: str
    case_number: str
    url: str


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Any
    retry_after_s: float | None


class CaseClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        target: CaseTarget,
        tokens: ClientCredentials,
        *,
        timeout_s: float = 15.0,
        attempts: int = 6,
        backoff_s: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self.target = target
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep

    async def open(self, exception_id: str, fields: dict[str, str]) -> OpenedCase:
        """Upsert the exception's case and read its number."""
        upsert = await self._call("PATCH", self.target.upsert_url(exception_id), fields)
        case_id = upserted_id(upsert.status, upsert.body)
        read = await self._call("GET", self.target.read_url(case_id, exception_id), None)
        found = case_number(read.body)
        if found is None:
            raise CaseUnavailable(f"the case of {exception_id} was read without Id and CaseNumber")
        return OpenedCase(found[0], found[1], self.target.lightning_url(found[0]))

    async def _call(self, method: str, url: str, body: dict[str, str] | None) -> _Answer:
        wait = self._backoff_s
        reason = ""
        renewed = False
        for attempt in range(1, self._attempts + 1):
            try:
                answer = await self._send(method, url, body)
            except (aiohttp.ClientError, TimeoutError) as error:
                answer, reason = None, f"{method} {url}: {error!r}"
            except TrackingApiError as error:  # the token endpoint
                if error.status is not None and 400 <= error.status < 500:
                    raise CaseRefused(f"the OAuth token was refused: {error}") from error
                answer, reason = None, f"the OAuth token: {error}"
            if answer is not None:
                verdict = judge(answer.status, answer.body, answer.retry_after_s)
                if verdict.action == "done":
                    return answer
                if verdict.action == "refused":
                    raise CaseRefused(f"{method} {url}: {verdict.reason}")
                reason = f"{method} {url}: {verdict.reason}"
                if verdict.action == "renew":
                    if renewed:
                        raise CaseRefused(f"{method} {url}: {verdict.reason} with a fresh token")
                    self._tokens.invalidate()
                    renewed = True
                    continue  # a fresh token at once
                if verdict.wait_s is not None:
                    wait = verdict.wait_s
            if attempt < self._attempts:
                await self._sleep(min(wait, MAX_WAIT_S))
                wait = min(wait * 2, MAX_WAIT_S)
        raise CaseUnavailable(f"gave up after {self._attempts} attempts: {reason}")

    async def _send(self, method: str, url: str, body: dict[str, str] | None) -> _Answer:
        headers = {"authorization": f"Bearer {await self._tokens.token()}"}
        headers["accept"] = "application/json"
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["content-type"] = "application/json"
        async with self._session.request(
            method, url, data=data, headers=headers, timeout=self._timeout
        ) as response:
            raw = await response.read()
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            try:
                decoded = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                decoded = raw[:300].decode("utf-8", "replace")
            return _Answer(response.status, decoded, retry_after)
