"""Errors the API answers with: each becomes a JSON body ``{"error": …, "reason": …}``.

Hierarchy::

    ApiError                  status, error code, human reason, optional details and headers
    ├── BadRequest            400 the input is malformed or invalid (details name the problems)
    ├── Unauthorized          401 missing or invalid credentials / webhook signature
    ├── Forbidden             403 valid credentials without the right to this resource
    ├── NotFound              404 unknown route, source, order or tracking number
    ├── Conflict              409 the action does not fit the current state (already resolved)
    ├── PayloadTooLarge       413 body over ``settings.api.max_body_bytes``
    ├── UnsupportedMediaType  415 a content type the endpoint does not read
    ├── Unprocessable         422 well-formed, but cannot become a valid event
    ├── TooManyRequests       429 rate limit hit (``Retry-After`` says when to come back)
    └── Unavailable           503 a backing service (Redis, Kafka) is unreachable; retry later
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class ApiError(Exception):
    status: ClassVar[int] = 500
    error: ClassVar[str] = "internal_error"

    def __init__(
        self,
        reason: str,
        *,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        document: dict[str, Any] = {"error": self.error, "reason": self.reason}
        if self.details is not None:
            document["details"] = self.details
        return document


class BadRequest(ApiError):
    status = 400
    error = "bad_request"


class Unauthorized(ApiError):
    status = 401
    error = "unauthorized"


class Forbidden(ApiError):
    status = 403
    error = "forbidden"


class NotFound(ApiError):
    status = 404
    error = "not_found"


class Conflict(ApiError):
    status = 409
    error = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    error = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    error = "unsupported_media_type"


class Unprocessable(ApiError):
    status = 422
    error = "unprocessable"


class TooManyRequests(ApiError):
    status = 429
    error = "rate_limited"

    def __init__(self, reason: str, *, retry_after_s: float) -> None:
        super().__init__(reason, headers={"Retry-After": str(max(1, round(retry_after_s + 0.5)))})


class Unavailable(ApiError):
    status = 503
    error = "unavailable"

    def __init__(self, reason: str, *, retry_after_s: int = 1) -> None:
        super().__init__(reason, headers={"Retry-After": str(retry_after_s)})
