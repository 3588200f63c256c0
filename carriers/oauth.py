"""OAuth 2.0 client-credentials tokens for the carriers' tracking APIs (UPS, FedEx, USPS).

A :class:`ClientCredentials` fetches a bearer token through the injected session, keeps it until
shortly before it expires, and fetches a new one after that or when the API rejected it
(:meth:`invalidate`). Concurrent callers share one token request.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from carriers.errors import TrackingApiError
from carriers.http import DEFAULT_TIMEOUT_S, request_json

#: Renew this long before the stated expiry, so a token never dies in flight.
REFRESH_MARGIN_S = 60.0
_DEFAULT_LIFETIME_S = 300.0


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """How one provider wants the client credentials presented."""

    url: str
    client_id: str
    client_secret: str
    basic_auth: bool  # credentials in an Authorization: Basic header (UPS) or in the form body
    extra_form: Mapping[str, str]
    extra_headers: Mapping[str, str]


class BearerTokens(Protocol):
    """Where a client gets its bearer token."""

    async def token(self) -> str: ...

    def invalidate(self) -> bool:
        """Forget the token (the API answered 401 with it); whether another can be had."""
        ...


@dataclass(frozen=True, slots=True)
class FixedToken:
    """A token given once (an access token from settings): a 401 with it is final."""

    value: str

    async def token(self) -> str:
        return self.value

    def invalidate(self) -> bool:
        return False


class ClientCredentials:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        request: TokenRequest,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._request = request
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                self._token, lifetime = await self._fetch()
                self._expires_at = self._clock() + max(lifetime - REFRESH_MARGIN_S, 0.0)
            return self._token

    def invalidate(self) -> bool:
        """Forget the token (the API answered 401 with it); the next call fetches another."""
        self._token = None
        return True

    async def _fetch(self) -> tuple[str, float]:
        request = self._request
        form = {"grant_type": "client_credentials", **request.extra_form}
        headers = dict(request.extra_headers)
        if request.basic_auth:
            pair = f"{request.client_id}:{request.client_secret}".encode()
            headers["authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        else:
            form |= {"client_id": request.client_id, "client_secret": request.client_secret}
        answer = await request_json(self._session, "POST", request.url, headers=headers, form=form)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TrackingApiError(f"POST {request.url}: no access_token in the answer")
        return token, _lifetime(answer.get("expires_in"))


async def authorized_json(
    session: aiohttp.ClientSession,
    tokens: BearerTokens,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: object = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> object:
    """One API call with a bearer token; a 401 renews the token (when it can be) and tries once
    more."""

    async def call() -> object:
        bearer = {"authorization": f"Bearer {await tokens.token()}", **headers}
        return await request_json(
            session, method, url, headers=bearer, body=body, timeout_s=timeout_s
        )

    try:
        return await call()
    except TrackingApiError as error:
        if error.status != 401 or not tokens.invalidate():
            raise
    return await call()


def _lifetime(value: object) -> float:
    """``expires_in`` in seconds; UPS sends it as a string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return _DEFAULT_LIFETIME_S
    try:
        seconds = float(value)
    except ValueError:
        return _DEFAULT_LIFETIME_S
    return seconds if seconds > 0 else _DEFAULT_LIFETIME_S
