"""``wismo bench notify`` through the command line at a tiny size: every message sent in every
phase reaches the sink process, and the ratios are the rates' own. Speed is not judged here."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cli.main import main

pytestmark = pytest.mark.slow


def test_notify_delivers_every_message_in_every_phase(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--events", "60", "--repeat", "1", "--smtp-connections", "3", "--concurrency", "4"]
    assert main(["bench", "notify", *args, "--json"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    summary: dict[str, Any] = orjson.loads(lines[-1])
    assert summary["scenario"] == "notify"
    assert (summary["failed"], summary["lost_email"], summary["lost_webhook"]) == (0, 0, 0)
    for rate in ("email", "email_baseline", "email_stdlib", "webhook", "webhook_baseline"):
        assert summary[f"{rate}_per_s"] > 0
    assert summary["email_ratio"] == pytest.approx(
        summary["email_per_s"] / summary["email_baseline_per_s"], abs=2e-3
    )
    assert summary["webhook_ratio"] == pytest.approx(
        summary["webhook_per_s"] / summary["webhook_baseline_per_s"], abs=2e-3
    )
    assert summary["cpus"] >= 1
