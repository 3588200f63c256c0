"""wismo and the official Standard Webhooks library (PyPI ``standardwebhooks``) sign and verify
interchangeably under the same configured secret, in both directions and during a rotation; a
secret in neither of wismo's forms is refused with a reason."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from carriers.base import ProblemCode
from carriers.registry import get
from carriers.standard_webhooks import SecretFormatError, secret_key, secret_problem, sign
from wismo.settings import DEV_SECRET

BODY = (Path(__file__).parent / "oms" / "order_placed.json").read_bytes()
OLD = "whsec_" + base64.b64encode(bytes(range(24, 56))).decode()
NEW = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the specification's example secret
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"


def _now() -> datetime:
    # the official verifier checks the timestamp against the real clock
    return datetime.fromtimestamp(int(datetime.now(UTC).timestamp()), UTC)


def _official_headers(secret: str, at: datetime, body: bytes = BODY) -> dict[str, str]:
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(MSG_ID, at, body),
    }


def _wismo_headers(secrets: list[str], at: datetime) -> dict[str, str]:
    timestamp = int(at.timestamp())
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, MSG_ID, timestamp, BODY) for s in secrets),
    }


@pytest.mark.parametrize("source", ["oms", "wms", "salesforce_om"])
@pytest.mark.parametrize("secret", [NEW, DEV_SECRET])
def test_what_the_official_library_signs_wismo_accepts(source: str, secret: str) -> None:
    at = _now()
    assert get(source).verify(BODY, _official_headers(secret, at), [secret], at) is None
    tampered = get(source).verify(BODY + b" ", _official_headers(secret, at), [secret], at)
    assert tampered is not None
    assert tampered.code is ProblemCode.BAD_SIGNATURE


@pytest.mark.parametrize("secret", [NEW, DEV_SECRET])
def test_what_wismo_signs_the_official_library_accepts(secret: str) -> None:
    headers = _wismo_headers([secret], _now())
    assert Webhook(secret).verify(BODY, headers, json_parse=False) is None
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(BODY, headers, json_parse=False)


def test_the_same_key_whether_written_with_or_without_base64_padding() -> None:
    unpadded = "whsec_" + base64.b64encode(b"twenty-five bytes of key!").decode().rstrip("=")
    assert secret_key(unpadded) == b"twenty-five bytes of key!"
    headers = _wismo_headers([unpadded], _now())
    assert Webhook(unpadded).verify(BODY, headers, json_parse=False) is None


def test_rotation_official_sender_on_either_secret_while_wismo_holds_both() -> None:
    at = _now()
    for signed_with in (OLD, NEW):
        headers = _official_headers(signed_with, at)
        assert get("oms").verify(BODY, headers, [OLD, NEW], at) is None
    retired = get("oms").verify(BODY, _official_headers(OLD, at), [NEW], at)
    assert retired is not None
    assert retired.code is ProblemCode.BAD_SIGNATURE


def test_rotation_wismo_signs_with_both_secrets_and_either_receiver_accepts() -> None:
    headers = _wismo_headers([OLD, NEW], _now())
    assert len(headers["webhook-signature"].split()) == 2
    for receiver in (OLD, NEW):
        assert Webhook(receiver).verify(BODY, headers, json_parse=False) is None


def test_a_raw_secret_is_the_texts_bytes_as_the_official_library_takes_bytes() -> None:
    at = _now()
    text = "a-partner-shared-string"
    signature = Webhook(text.encode()).sign(MSG_ID, at, BODY)
    headers = {**_wismo_headers([], at), "webhook-signature": signature}
    assert get("wms").verify(BODY, headers, ["raw:" + text], at) is None


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("wismo-dev-secret-change-me", "does not start with 'whsec_'"),
        ("whsec_not*base64", "is not base64"),
        ("whsec_", "is empty"),
        ("raw:", "nothing follows 'raw:'"),
    ],
)
def test_a_malformed_secret_is_refused_with_its_reason(secret: str, reason: str) -> None:
    problem = secret_problem(secret)
    assert problem is not None
    assert reason in problem
    with pytest.raises(SecretFormatError, match=reason):
        sign(secret, MSG_ID, 0, BODY)
    with pytest.raises(SecretFormatError, match=reason):
        get("oms").verify(BODY, _wismo_headers([NEW], _now()), [NEW, secret], _now())


def test_well_formed_secrets_have_no_problem() -> None:
    for secret in (OLD, NEW, DEV_SECRET, "raw:anything at all"):
        assert secret_problem(secret) is None


def test_normalise_verify_names_a_malformed_secret(capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    payload = str(Path(__file__).parent / "oms" / "order_placed.json")
    args = ["normalise", "--source", "oms", "--verify", "--secret", NEW, "--secret", "plain-text"]
    assert main([*args, payload]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "--secret #2 does not start with 'whsec_'" in err
    assert "plain-text" not in err
