"""Who may call what: customer capability tokens, agent JWTs and integration API keys.

- A **capability token** is what ``POST /v1/lookup`` hands a customer who proved they know the
  order (number + e-mail or postcode): an HS256 JWT over ``sub`` = one order id, audience
  ``wismo:order``, short-lived, signed with ``settings.api.customer_token_secret``. It grants
  reading that one order and nothing else.
- An **agent JWT** is issued by the operator's identity provider with the shared secret
  ``settings.api.agent_jwt_secret``: ``sub`` names the agent, ``roles`` lists what they may do
  (``viewer`` reads; ``agent`` and ``supervisor`` also acknowledge and resolve).
- An **API key** (``settings.api.api_keys``) lets integrations post canonical events.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from pydantic import SecretStr

from api.errors import Forbidden, Unauthorized
from carriers.signatures import shared_secret_matches

CUSTOMER_AUDIENCE = "wismo:order"
READ_ROLES = frozenset({"viewer", "agent", "supervisor"})
ACT_ROLES = frozenset({"agent", "supervisor"})
#: erasing a person's data (``POST /v1/agent/erasures``) is its own role, held by no reader
ERASE_ROLES = frozenset({"admin"})
_ALGORITHMS = ["HS256"]


def _customer_key(secret: SecretStr) -> bytes:
    # a key derived for this one purpose: any configured length gives a full-strength HS256 key,
    # and the same secret reused elsewhere can never sign a capability token
    return hmac.new(
        secret.get_secret_value().encode(), b"wismo capability token", "sha256"
    ).digest()


def issue_customer_token(
    secret: SecretStr, order_id: str, now: datetime, ttl_s: int, *, brand: str | None = None
) -> str:
    """A capability token for one order; ``brand`` (the order's brand) is carried as a claim."""
    claims: dict[str, Any] = {
        "sub": order_id,
        "aud": CUSTOMER_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
    }
    if brand is not None:
        claims["brand"] = brand
    return jwt.encode(claims, _customer_key(secret), algorithm="HS256")


def customer_order(secret: SecretStr, token: str | None) -> str:
    """The one order a capability token grants; raises :class:`Unauthorized`."""
    if not token:
        raise Unauthorized("a capability token from POST /v1/lookup is required")
    order_id: str = _decode_customer(_customer_key(secret), token)["sub"]
    return order_id


def _decode_customer(key: bytes, token: str) -> dict[str, Any]:
    """The verified claims (``sub`` is text); raises :class:`Unauthorized`."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=_ALGORITHMS,
            audience=CUSTOMER_AUDIENCE,
            options={"require": ["sub", "exp", "aud"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthorized("the capability token has expired; look the order up again") from error
    except jwt.InvalidTokenError as error:
        raise Unauthorized(f"invalid capability token: {error}") from error
    if not isinstance(claims["sub"], str):
        raise Unauthorized("invalid capability token: sub is not an order id")
    return claims


def authorize_order(secret: SecretStr, token: str | None, order_id: str) -> None:
    """A valid token for another order is a 403: it proves identity, not this order."""
    if customer_order(secret, token) != order_id:
        raise Forbidden("this capability token is for another order")


class CapabilityTokens:
    """Capability tokens already verified by this process: token → (order, expiry), the least
    recently used dropped past ``size`` (0 keeps none).

    A token's signature, audience and claims cannot change, so they are checked once; its
    expiry is checked at every request against the caller's clock (the application clock), and
    a token that fails any check is never kept. The signing key is derived once, not per request.
    """

    def __init__(self, secret: SecretStr, size: int) -> None:
        self.size = size
        self._key = _customer_key(secret)
        self._verified: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._verified)

    def __contains__(self, token: object) -> bool:
        return token in self._verified

    def order(self, token: str | None, now: datetime) -> str:
        """The one order ``token`` grants at ``now``; raises :class:`Unauthorized`."""
        if not token:
            raise Unauthorized("a capability token from POST /v1/lookup is required")
        known = self._verified.get(token)
        if known is None:
            known = self._verify(token)
        if known[1] <= now.timestamp():
            self._verified.pop(token, None)
            raise Unauthorized("the capability token has expired; look the order up again")
        if self.size:
            self._verified[token] = known
            self._verified.move_to_end(token)
            if len(self._verified) > self.size:
                self._verified.popitem(last=False)
        return known[0]

    def authorize(self, token: str | None, order_id: str, now: datetime) -> None:
        """As :func:`authorize_order`, through the cache."""
        if self.order(token, now) != order_id:
            raise Forbidden("this capability token is for another order")

    def _verify(self, token: str) -> tuple[str, float]:
        claims = _decode_customer(self._key, token)
        try:
            expires = int(claims["exp"])  # as PyJWT read it
        except (TypeError, ValueError, OverflowError) as error:
            raise Unauthorized("invalid capability token: exp is not a number") from error
        return claims["sub"], float(expires)


@dataclass(frozen=True, slots=True)
class Agent:
    agent_id: str
    roles: frozenset[str]
    #: the brands this agent may see (the token's ``brands`` claim); None: every brand
    brands: frozenset[str] | None = None

    def sees(self, brand: str | None) -> bool:
        """Whether this agent may see an order of ``brand`` (None: an unbranded order)."""
        return self.brands is None or (brand is not None and brand in self.brands)


def agent_from_token(secret: SecretStr, token: str | None, needs: frozenset[str]) -> Agent:
    """The agent a bearer JWT names, if it holds one of ``needs``; 401 / 403 otherwise."""
    if not token:
        raise Unauthorized("an agent bearer token is required")
    try:
        claims = jwt.decode(
            token,
            secret.get_secret_value(),
            algorithms=_ALGORITHMS,
            options={"require": ["sub", "exp"], "verify_aud": False},
        )
    except jwt.InvalidTokenError as error:
        raise Unauthorized(f"invalid agent token: {error}") from error
    roles, brands = claims.get("roles", []), claims.get("brands")
    if not isinstance(roles, list) or not isinstance(claims["sub"], str):
        raise Unauthorized("invalid agent token: sub must be text and roles a list")
    if brands is not None and not (
        isinstance(brands, list) and all(isinstance(b, str) for b in brands)
    ):
        raise Unauthorized("invalid agent token: brands must be a list of brand ids")
    agent = Agent(
        claims["sub"],
        frozenset(r for r in roles if isinstance(r, str)),
        None if brands is None else frozenset(brands),
    )
    if not agent.roles & needs:
        raise Forbidden(f"needs one of the roles {', '.join(sorted(needs))}")
    return agent


def bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def check_api_key(keys: Sequence[SecretStr], headers: Mapping[str, str]) -> None:
    provided = headers.get("X-API-Key") or bearer(headers)
    if not provided:
        raise Unauthorized("an API key is required (X-API-Key or Authorization: Bearer)")
    if not shared_secret_matches(_values(keys), provided):
        raise Unauthorized("unknown API key")


def _values(secrets: Iterable[SecretStr]) -> list[str]:
    return [secret.get_secret_value() for secret in secrets]
