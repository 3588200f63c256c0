"""``wismo normalise``: canonical events on stdout, problems on stderr, exit 2 with a reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from cli.main import main
from wismo.events import parse_event

HERE = Path(__file__).parent
NOW = "2024-06-01T00:00:00+00:00"


def _lines(text: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in text.splitlines()]


def test_prints_the_expected_events(capsys: pytest.CaptureFixture[str]) -> None:
    payload = HERE / "aftership" / "delivered.json"
    code = main(["normalise", "--source", "aftership", "--now", NOW, str(payload)])
    out, err = capsys.readouterr()
    assert code == 0
    assert err == ""
    expected = (HERE / "aftership" / "delivered.expected.jsonl").read_text()
    assert _lines(out) == _lines(expected)
    assert all(parse_event(line) for line in out.splitlines())


def test_headers_reach_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    payload = HERE / "oms" / "derived_ids.json"
    args = ["normalise", "--source", "oms", "--now", NOW, "--header", "Webhook-Id: msg_1"]
    assert main([*args, str(payload)]) == 0
    assert len(_lines(capsys.readouterr().out)) == 2


def test_malformed_input_exits_2_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    payload = HERE / "easypost" / "malformed.json"
    code = main(["normalise", "--source", "easypost", str(payload)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "malformed: not JSON" in err
    assert "not a valid easypost payload" in err


def test_partly_invalid_batch_prints_valid_events_only_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload = str(HERE / "wms" / "batch_partly_invalid.json")
    assert main(["normalise", "--source", "wms", payload]) == 2
    assert capsys.readouterr().out == ""
    assert main(["normalise", "--source", "wms", "--skip-invalid", payload]) == 0
    out, err = capsys.readouterr()
    assert [line["event_id"] for line in _lines(out)] == ["wms:FO-7001:packed"]
    assert "invalid at [1].payload" in err


def test_unmapped_codes_are_reported_but_not_fatal(capsys: pytest.CaptureFixture[str]) -> None:
    payload = str(HERE / "aftership" / "partial_items.json")
    assert main(["normalise", "--source", "aftership", "--skip-invalid", payload]) == 0
    out, err = capsys.readouterr()
    assert len(_lines(out)) == 4
    assert "unmapped_code at msg.checkpoints[2].subtag" in err


def _aftership_signature(raw: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def test_verify_accepts_a_correct_signature(capsys: pytest.CaptureFixture[str]) -> None:
    payload = HERE / "aftership" / "edd_revise.json"
    signature = _aftership_signature(payload.read_bytes(), "s3cret")
    args = ["normalise", "--source", "aftership", "--verify", "--secret", "old", "--secret"]
    header = f"aftership-hmac-sha256:{signature}"
    assert main([*args, "s3cret", "--header", header, str(payload)]) == 0
    assert len(_lines(capsys.readouterr().out)) == 2


def test_verify_rejects_a_wrong_signature(capsys: pytest.CaptureFixture[str]) -> None:
    payload = HERE / "aftership" / "edd_revise.json"
    signature = _aftership_signature(payload.read_bytes(), "not-the-secret")
    args = ["normalise", "--source", "aftership", "--verify", "--secret", "s3cret"]
    assert main([*args, "--header", f"aftership-hmac-sha256:{signature}", str(payload)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "signature rejected: bad_signature" in err


def test_verify_needs_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    payload = str(HERE / "aftership" / "edd_revise.json")
    assert main(["normalise", "--source", "aftership", "--verify", payload]) == 2
    assert "--verify needs at least one --secret" in capsys.readouterr().err


def test_unreadable_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["normalise", "--source", "oms", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["normalise", "--source", "nowhere", "x.json"],
        ["normalise", "--source", "oms", "--header", "no-colon", "x.json"],
        ["normalise", "--source", "oms", "--now", "2024-06-01T00:00:00", "x.json"],
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2


def test_reads_stdin_as_a_subprocess() -> None:
    payload = (HERE / "wms" / "pick_pack_batch.json").read_bytes()
    completed = subprocess.run(
        [sys.executable, "-m", "cli.main", "normalise", "--source", "wms", "--now", NOW, "-"],
        input=payload,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    expected = (HERE / "wms" / "pick_pack_batch.expected.jsonl").read_text()
    assert _lines(completed.stdout.decode()) == _lines(expected)


def test_the_old_spelling_is_an_alias(capsys: pytest.CaptureFixture[str]) -> None:
    payload = HERE / "aftership" / "delivered.json"
    assert main(["normalise", "--source", "aftership", "--now", NOW, str(payload)]) == 0
    spelled_new = capsys.readouterr().out
    assert main(["normalize", "--source", "aftership", "--now", NOW, str(payload)]) == 0
    assert capsys.readouterr().out == spelled_new
    assert spelled_new.strip()


#: API answers (polled, as each source's API returns them): (source, fixture)
API_ANSWERS = [
    ("easypost", "api_tracker_in_transit"),
    ("easypost", "api_trackers_page"),
    ("aftership", "api_get_tracking"),
    ("aftership", "api_get_tracking_legacy"),
    ("aftership", "api_list_trackings"),
    ("shopify", "api_order"),
    ("shopify", "api_orders_page"),
    ("shopify", "api_fulfillments"),
    ("salesforce_om", "api_query_shipments_first_page"),
    ("ups", "track_multi_package"),
    ("fedex", "track_several_numbers"),
    ("usps", "tracking_v3_in_transit"),
    ("dhl", "unified_several_shipments"),
]


@pytest.mark.parametrize("spelling", ["normalise", "normalize"])
@pytest.mark.parametrize(("source", "name"), API_ANSWERS)
def test_api_answers_print_their_expected_events(
    capsys: pytest.CaptureFixture[str], source: str, name: str, spelling: str
) -> None:
    payload = HERE / source / f"{name}.json"
    assert main([spelling, "--source", source, "--now", NOW, str(payload)]) == 0
    out = capsys.readouterr().out
    expected = (HERE / source / f"{name}.expected.jsonl").read_text()
    assert _lines(out) == _lines(expected)
    assert out.strip()


@pytest.mark.parametrize(
    ("source", "name", "reported"),
    [
        ("easypost", "api_trackers_partly_invalid", "invalid at trackers[1]: expected an object"),
        ("shopify", "api_orders_partly_invalid", "invalid at orders[1]: expected an object"),
        (
            "aftership",
            "api_list_trackings_legacy_partly_invalid",
            "invalid at data.trackings[0].tracking_number",
        ),
        ("salesforce_om", "api_query_partly_invalid", "invalid at records[0].attributes.type"),
    ],
)
def test_partly_invalid_api_lists_name_the_bad_item(
    capsys: pytest.CaptureFixture[str], source: str, name: str, reported: str
) -> None:
    payload = str(HERE / source / f"{name}.json")
    assert main(["normalise", "--source", source, "--now", NOW, payload]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert reported in err
    assert main(["normalise", "--source", source, "--now", NOW, "--skip-invalid", payload]) == 0
    expected = (HERE / source / f"{name}.expected.jsonl").read_text()
    assert _lines(capsys.readouterr().out) == _lines(expected) != []


@pytest.mark.parametrize(
    ("source", "name"), [("easypost", "api_error_not_found"), ("aftership", "api_error_not_found")]
)
def test_api_error_answers_print_nothing_and_say_why(
    capsys: pytest.CaptureFixture[str], source: str, name: str
) -> None:
    payload = str(HERE / source / f"{name}.json")
    assert main(["normalise", "--source", source, "--now", NOW, payload]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "unsupported" in err
