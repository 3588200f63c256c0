"""Secrets are compared in constant time.

Two checks: every webhook source's verdict and both token checks go through
``hmac.compare_digest`` (observed by wrapping it while they run), and no code in ``carriers/``
or ``api/`` compares a signature, digest, secret, token or credential with ``==`` / ``!=``
(read from the source, so a future shortcut is caught in review).
"""

from __future__ import annotations

import ast
import base64
import hmac
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

from api.auth import agent_from_token, customer_order, issue_customer_token
from api.errors import Unauthorized
from carriers import registry
from carriers.signatures import hmac_matches, shared_secret_matches
from tests.security.conftest import SOURCE_SECRETS
from tests.security.test_webhook_auth import CARRIER_SAMPLES, CASES

ROOT = Path(__file__).parents[2]
SECRET = "constant-time-test-secret-of-32-bytes-or-more"
_SENSITIVE = ("signature", "digest", "secret", "token", "credential", "hmac", "mac", "provided")


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Every call to ``hmac.compare_digest`` while the test runs (the real one still answers)."""
    calls: list[tuple[Any, Any]] = []
    real: Callable[[Any, Any], bool] = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    return calls


def _secrets(source: str) -> tuple[str, str]:
    """The right and a wrong secret, in the form the source's secrets take (``whsec_`` + base64
    key for Standard Webhooks)."""
    right, wrong = SECRET, "not-" + SECRET
    if SOURCE_SECRETS[source].startswith("whsec_"):
        return _whsec(right), _whsec(wrong)
    return right, wrong


def _whsec(text: str) -> str:
    return "whsec_" + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("source", sorted(registry.names()))
def test_every_source_decides_with_compare_digest(
    compared: list[tuple[Any, Any]], source: str
) -> None:
    signer, sample, _ = CASES[source]
    raw = (CARRIER_SAMPLES / sample).read_bytes()
    now = datetime.now(UTC)
    secret, other = _secrets(source)
    good = signer(raw, secret, now)
    bad = signer(raw, other, now)
    verify = registry.get(source).verify
    assert verify(raw, good, [secret], now) is None
    accepted_with = len(compared)
    assert verify(raw, bad, [secret], now) is not None
    assert accepted_with >= 1
    assert len(compared) > accepted_with


def test_signature_helpers_try_every_secret_without_stopping_early(
    compared: list[tuple[Any, Any]],
) -> None:
    secrets = ["first-secret", "second-secret", "third-secret"]
    signature = hmac.new(b"first-secret", b"body", "sha256").hexdigest()
    assert hmac_matches(secrets, b"body", signature)
    assert len(compared) == len(secrets)  # a match on the first does not end the loop
    compared.clear()
    assert shared_secret_matches(secrets, "first-secret")
    assert len(compared) == len(secrets)


def test_token_checks_verify_their_signature_with_compare_digest(
    compared: list[tuple[Any, Any]],
) -> None:
    now = datetime.now(UTC)
    token = issue_customer_token(SecretStr(SECRET), "ORD-1", now, 60)
    assert customer_order(SecretStr(SECRET), token) == "ORD-1"
    assert compared
    compared.clear()
    agent = jwt.encode(
        {"sub": "a", "roles": ["viewer"], "exp": now + timedelta(minutes=5)}, SECRET, "HS256"
    )
    assert agent_from_token(SecretStr(SECRET), agent, frozenset({"viewer"})).agent_id == "a"
    assert compared
    with pytest.raises(Unauthorized):
        customer_order(SecretStr("another-" + SECRET), token)


def _python_files() -> Iterator[Path]:
    for package in ("carriers", "api"):
        yield from sorted((ROOT / package).rglob("*.py"))


def _names(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        yield str(node.slice.value)


def _plain_comparisons(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        if any(isinstance(o, ast.Constant) and o.value is None for o in operands):
            continue
        for operand in operands:
            for name in _names(operand):
                if any(word in name.lower() for word in _SENSITIVE):
                    yield node.lineno, name


def test_no_secret_is_compared_with_equality_operators() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} compares {name} with ==/!="
        for path in _python_files()
        for line, name in _plain_comparisons(ast.parse(path.read_text(), str(path)))
    ]
    assert found == []


def test_the_scan_would_catch_a_plain_comparison() -> None:
    sample = "def check(signature, expected_digest):\n    return signature == expected_digest\n"
    assert list(_plain_comparisons(ast.parse(sample))) == [(2, "signature"), (2, "expected_digest")]
