"""A local Salesforce for the case tests: an aiohttp server answering the OAuth token endpoint
and the Case sObject routes with answers shaped like Salesforce's own (recorded from its REST
API documentation), holding cases by external id. Tests queue failures to be answered first."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

API = "v60.0"
FIELD = "Wismo_Exception_Id__c"

TOKEN = {
    "token_type": "Bearer",
    "instance_url": "",  # filled with the server's own address
    "id": "https://login.salesforce.com/id/00D5g000004ExmpEAC/0055g00000Ab1cDAAR",
    "issued_at": "1764835200000",
    "signature": "mBgZp1bUtqmJDOmDXiQVwYyDa9xMTPlhQXDOtT5MNuE=",
    "scope": "api",
}
SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
UNAVAILABLE = [
    {"message": "Server unavailable, please try again", "errorCode": "SERVER_UNAVAILABLE"}
]
INVALID_FIELD = [
    {
        "message": f"No such column '{FIELD}' on sobject of type Case",
        "errorCode": "INVALID_FIELD",
    }
]


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeSalesforce:
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # external id -> case
    upserts: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    tokens_issued: int = 0
    queued: deque[Reply] = field(default_factory=deque)
    """answered (in order) before any real work, whatever the route but the token's"""
    legacy_204: bool = False
    """answer an upsert of an existing case 204 with no body (API versions before 46.0)"""
    base: str = ""
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1026))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/services/oauth2/token", self._token)
        app.router.add_patch(f"/services/data/{API}/sobjects/Case/{FIELD}/{{value}}", self._upsert)
        app.router.add_get(
            f"/services/data/{API}/sobjects/Case/{FIELD}/{{value}}", self._by_external
        )
        app.router.add_get(f"/services/data/{API}/sobjects/Case/{{case_id}}", self._by_id)
        return app

    def _bearer_ok(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer tok-{self.tokens_issued}"

    def _queued(self) -> web.Response | None:
        if not self.queued:
            return None
        reply = self.queued.popleft()
        body = None if reply.body is None else orjson.dumps(reply.body)
        return web.Response(
            status=reply.status, body=body, headers=reply.headers, content_type="application/json"
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or form.get("client_secret") != "s3cret":
            return web.json_response(
                {"error": "invalid_client", "error_description": "invalid client credentials"},
                status=400,
            )
        self.tokens_issued += 1
        return web.json_response(
            {**TOKEN, "access_token": f"tok-{self.tokens_issued}", "instance_url": self.base}
        )

    async def _upsert(self, request: web.Request) -> web.Response:
        if (early := self._queued()) is not None:
            return early
        if not self._bearer_ok(request):
            return web.json_response(SESSION_EXPIRED, status=401)
        value = unquote(request.match_info["value"])
        fields = orjson.loads(await request.read())
        existing = self.cases.get(value)
        self.upserts.append((value, fields, request.headers.get("Authorization", "")))
        if existing is not None:
            existing.update(fields)
            if self.legacy_204:
                return web.Response(status=204)
            return web.json_response(
                {"id": existing["Id"], "success": True, "errors": [], "created": False}
            )
        case_id = f"5005g00000Xk{len(self.cases) + 1:03d}AAA"
        self.cases[value] = {"Id": case_id, "CaseNumber": f"{next(self._numbers):08d}", **fields}
        return web.json_response(
            {"id": case_id, "success": True, "errors": [], "created": True}, status=201
        )

    def _record(self, case: dict[str, Any]) -> web.Response:
        url = f"/services/data/{API}/sobjects/Case/{case['Id']}"
        return web.json_response(
            {
                "attributes": {"type": "Case", "url": url},
                "Id": case["Id"],
                "CaseNumber": case["CaseNumber"],
            }
        )

    async def _by_external(self, request: web.Request) -> web.Response:
        if (early := self._queued()) is not None:
            return early
        case = self.cases.get(unquote(request.match_info["value"]))
        if case is None:
            return web.json_response(
                [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
                status=404,
            )
        return self._record(case)

    async def _by_id(self, request: web.Request) -> web.Response:
        if (early := self._queued()) is not None:
            return early
        if not self._bearer_ok(request):
            return web.json_response(SESSION_EXPIRED, status=401)
        wanted = request.match_info["case_id"]
        case = next((c for c in self.cases.values() if c["Id"] == wanted), None)
        if case is None:
            return web.json_response(
                [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
                status=404,
            )
        return self._record(case)
