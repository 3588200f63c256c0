"""`wismo fold` and `wismo schema`: the CLI contract other tools and checks rely on."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from cli.main import main

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "order-1001.jsonl"


def run_cli(args: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> tuple[int, bytes, str]:
    code = main(args)
    captured = capsysbinary.readouterr()
    return code, captured.out, captured.err.decode()


def shuffled_with_duplicates(tmp_path: Path, seed: int) -> Path:
    lines = EXAMPLE.read_bytes().splitlines()
    rng = random.Random(seed)
    noisy = lines + rng.sample(lines, k=len(lines) // 2) + rng.sample(lines, k=5)
    rng.shuffle(noisy)
    path = tmp_path / f"shuffled-{seed}.jsonl"
    path.write_bytes(b"\n".join(noisy) + b"\n")
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shuffled_duplicated_history_folds_byte_identically(
    tmp_path: Path, seed: int, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, expected, _ = run_cli(["fold", str(EXAMPLE)], capsysbinary)
    assert code == 0
    code, actual, _ = run_cli(["fold", str(shuffled_with_duplicates(tmp_path, seed))], capsysbinary)
    assert code == 0
    assert actual == expected


def test_fold_prints_the_contracted_fields(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, _ = run_cli(["fold", str(EXAMPLE)], capsysbinary)
    timeline = json.loads(out)
    assert code == 0
    for key in (
        "order_id",
        "status",
        "promised_delivery_date",
        "shipments",
        "returns",
        "payments",
        "events_applied",
        "version",
    ):
        assert key in timeline
    for key in (
        "tracking_number",
        "carrier",
        "status",
        "reason",
        "estimated_delivery",
        "delivered_at",
        "checkpoints",
    ):
        assert key in timeline["shipments"][0]
    for key in ("occurred_at", "status", "reason", "raw_code", "message", "location"):
        assert key in timeline["shipments"][0]["checkpoints"][0]
    assert timeline["status"] == "delivered"
    assert timeline["events_applied"] == len(EXAMPLE.read_bytes().splitlines())


def test_invalid_line_names_line_and_field_and_exits_2(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    lines = EXAMPLE.read_bytes().splitlines()
    broken = json.loads(lines[9])
    broken["payload"]["status"] = "teleported"
    lines[9] = json.dumps(broken).encode()
    lines.insert(3, b"{not json")
    path = tmp_path / "broken.jsonl"
    path.write_bytes(b"\n".join(lines))
    code, out, err = run_cli(["fold", str(path)], capsysbinary)
    assert code == 2
    assert out == b""
    assert "line 4: invalid JSON" in err
    assert "line 11: payload.status:" in err

    code, out, err = run_cli(["fold", "--skip-invalid", str(path)], capsysbinary)
    assert code == 0
    assert json.loads(out)["events_applied"] == len(lines) - 2
    assert "line 11" in err


def test_several_orders_give_one_timeline_per_line(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    other = [json.loads(line) for line in EXAMPLE.read_bytes().splitlines()[:3]]
    for event in other:
        event["order_id"] = "ORD-0999"
        event["event_id"] += "-other"
    path = tmp_path / "two.jsonl"
    path.write_bytes(EXAMPLE.read_bytes() + b"".join(json.dumps(e).encode() + b"\n" for e in other))
    code, out, _ = run_cli(["fold", str(path)], capsysbinary)
    assert code == 0
    orders = [json.loads(line)["order_id"] for line in out.splitlines()]
    assert orders == ["ORD-0999", "ORD-1001"]
    code, out, _ = run_cli(["fold", "--order", "ORD-0999", "--compact", str(path)], capsysbinary)
    assert json.loads(out)["events_applied"] == 3


def test_missing_file_is_a_clear_error(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, _, err = run_cli(["fold", "/nonexistent/events.jsonl"], capsysbinary)
    assert code == 2
    assert "cannot read /nonexistent/events.jsonl" in err


def test_schema_writes_one_schema_per_kind(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, _, _ = run_cli(["schema", "--out", str(tmp_path)], capsysbinary)
    assert code == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "event.schema.json",
        "timeline.schema.json",
        "settings.schema.json",
        "tracking.checkpoint.schema.json",
        "refund.issued.schema.json",
    } <= names
    checkpoint = json.loads((tmp_path / "tracking.checkpoint.schema.json").read_text())
    assert checkpoint["properties"]["kind"]["const"] == "tracking.checkpoint"


def test_installed_entry_point_reads_stdin() -> None:
    wismo = shutil.which("wismo") or str(Path(__file__).parents[2] / ".venv" / "bin" / "wismo")
    result = subprocess.run(
        [wismo, "fold", "--compact", "-"],
        input=EXAMPLE.read_bytes(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["order_id"] == "ORD-1001"


def test_invalid_settings_are_named_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WISMO_ENVIRONMENT", "prod")  # with every secret left at its default
    assert main(["api"]) == 2
    refused = capsys.readouterr().err
    assert refused.startswith("wismo api: invalid settings")
    assert "WISMO_API__AGENT_JWT_SECRET" in refused
    assert "Traceback" not in refused
    monkeypatch.setenv("WISMO_ENVIRONMENT", "dev")
    monkeypatch.setenv("WISMO_API__PORT", "eighty")
    assert main(["api"]) == 2
    assert "api.port: Input should be a valid integer" in capsys.readouterr().err
