"""Deterministic ids, the vocabularies' rules and the settings object."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from wismo.ids import email_hash, exception_id, natural_event_id, source_event_id
from wismo.settings import Settings, load_settings
from wismo.vocab import (
    PRE_TRANSIT_STATUSES,
    STATUS_RANK,
    Owner,
    Reason,
    TrackingStatus,
    owner_of,
    status_may_follow,
)


def test_natural_ids_are_stable_and_sensitive_to_the_key() -> None:
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    first = natural_event_id("ups", "tracking.checkpoint", "1Z1", at, "D")
    assert first == natural_event_id("ups", "tracking.checkpoint", "1Z1", at, "D")
    assert first != natural_event_id("ups", "tracking.checkpoint", "1Z1", at, "I")
    assert first.startswith("ups:")


def test_source_ids_are_kept_when_safe_and_hashed_otherwise() -> None:
    assert source_event_id("easypost", "evt_123") == "easypost:evt_123"
    hashed = source_event_id("shopify", "gid://shopify/Order/1")
    assert hashed.startswith("shopify:h")
    assert "/" not in hashed


def test_email_hash_ignores_case_and_spaces() -> None:
    assert email_hash(" Pat@Example.COM ") == email_hash("pat@example.com")


def test_exception_ids_are_one_per_order_subject_and_type() -> None:
    assert exception_id("O", "stalled", "1Z1") == exception_id("O", "stalled", "1Z1")
    assert exception_id("O", "stalled", "1Z1") != exception_id("O", "stalled", "1Z2")


@pytest.mark.parametrize("status", list(TrackingStatus))
def test_nothing_replaces_delivery_except_a_return_leg(status: TrackingStatus) -> None:
    allowed = status_may_follow(TrackingStatus.DELIVERED, status)
    assert allowed == (STATUS_RANK[status] > STATUS_RANK[TrackingStatus.DELIVERED])


@pytest.mark.parametrize("status", sorted(PRE_TRANSIT_STATUSES))
def test_pre_transit_never_follows_movement(status: TrackingStatus) -> None:
    assert not status_may_follow(TrackingStatus.IN_TRANSIT, status)
    assert status_may_follow(TrackingStatus.PENDING, status)


def test_unknown_never_sets_a_status() -> None:
    assert not status_may_follow(None, TrackingStatus.UNKNOWN)


def test_every_problem_reason_has_an_owner() -> None:
    for reason in Reason:
        owner = owner_of(reason)
        is_outcome = reason.value.startswith("delivered_") or reason is Reason.UNKNOWN
        assert (owner is Owner.NONE) == is_outcome, reason
    assert 30 <= len(Reason) <= 45


def test_settings_read_prefixed_nested_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WISMO_KAFKA__BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("WISMO_THRESHOLDS__STALLED_HOURS", "36")
    settings = load_settings()
    assert settings.kafka.bootstrap == "kafka:9092"
    assert settings.thresholds.stalled_hours == 36
    assert settings.topic("raw") == "wismo.raw"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.log_level = "DEBUG"  # type: ignore[misc]


def test_production_refuses_the_development_secrets() -> None:
    with pytest.raises(ValidationError, match="environment=prod refuses development"):
        Settings(environment="prod")


def test_settings_travel_to_a_child_process_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import SecretStr

    from wismo.settings import KafkaSettings, RedisSettings, to_environment

    original = Settings(
        kafka=KafkaSettings(bootstrap="127.0.0.1:9092", partitions=3),
        redis=RedisSettings(url="redis://127.0.0.1:6379/0", key_prefix="child"),
        webhook_secrets={"ups": (SecretStr("old"), SecretStr("new"))},
    )
    environment = to_environment(original)
    assert "WISMO_CLICKHOUSE__URL" not in environment  # None = embedded stays unset
    for key in [k for k in os.environ if k.startswith("WISMO_")]:
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert Settings() == original
