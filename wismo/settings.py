"""Settings: one frozen object, read once at the edge (the CLI) and passed down.

Every field can be set from the environment with the ``WISMO_`` prefix; nested sections use a
double underscore, e.g. ``WISMO_KAFKA__BOOTSTRAP=kafka:9092`` or
``WISMO_THRESHOLDS__STALLED_HOURS=36``. Packages never read ``os.environ`` themselves.

A ``None`` endpoint (Kafka bootstrap, Redis URL, ClickHouse URL) means "embedded": the launcher
starts the Tansu broker, finds or starts a Redis, and opens chDB under ``data_dir``.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# in the Standard Webhooks form (whsec_ + base64 key, here of "wismo-dev-secret-change-me") so
# the one development secret also serves the oms, wms and salesforce_om sources
DEV_SECRET = "whsec_d2lzbW8tZGV2LXNlY3JldC1jaGFuZ2UtbWU="
#: what production refuses as a secret: empty, the development secret, and its earlier spellings
_NOT_SECRET = frozenset(
    {"", DEV_SECRET, "wismo-dev-secret-change-me", "raw:wismo-dev-secret-change-me"}
)


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(Section):
    bootstrap: str | None = Field(default=None, description="host:port list; None = embedded")
    topic_prefix: str = "wismo"
    partitions: int = Field(default=8, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=7)
    session_timeout_s: float = Field(default=10.0, gt=0)
    rebalance_timeout_s: float = Field(default=5.0, gt=0)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=500, ge=1, description="events per stream.take batch")
    # each agent hop waits up to this for its batch: 10 ms kept throughput (wismo bench) while
    # 50 ms tripled the webhook-to-websocket latency across the three hops
    batch_timeout_s: float = Field(default=0.01, gt=0)
    direct_linked_scans: bool = Field(
        default=True,
        description="normalise sends a scan of an already linked number straight to its order "
        "(one hop fewer); off: every scan goes through the link agent",
    )


class RedisSettings(Section):
    url: str | None = Field(default=None, description="redis://…; None = embedded / local")
    cluster: bool = Field(default=False, description="the URL names a node of a Redis Cluster")
    key_prefix: str = "wismo"
    # a timeline worker keeps the events and the fold of this many recently changed orders
    # (~30 KB each), so the next event of a live order continues its fold instead of reading
    # the order back from Redis and folding it again (wismo bench throughput)
    cache_orders: int = Field(default=8192, ge=0, description="orders a timeline worker caches")


class ClickHouseSettings(Section):
    url: str | None = Field(
        default=None, description="http(s)://user:password@host:8123/db; None = chDB in-process"
    )
    database: str = "wismo"
    chdb_path: Path | None = Field(default=None, description="default: <data_dir>/chdb")
    batch_rows: int = Field(default=5000, ge=1)
    batch_interval_s: float = Field(default=1.0, gt=0)


class ApiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    customer_token_secret: SecretStr = SecretStr(DEV_SECRET)
    customer_token_ttl_s: int = Field(default=900, ge=30)
    token_cache_size: int = Field(
        default=10_000, ge=0, description="verified capability tokens kept per process (0: none)"
    )
    order_cache_size: int = Field(
        default=10_000,
        ge=0,
        description="encoded customer order views kept per process (0: none), dropped as the "
        "orders change (docs/guarantees.md)",
    )
    agent_jwt_secret: SecretStr = SecretStr(DEV_SECRET)
    api_keys: tuple[SecretStr, ...] = (SecretStr(DEV_SECRET),)
    webhook_rate_per_s: float = Field(default=200.0, gt=0, description="per source and process")
    webhook_burst: int = Field(default=400, ge=1)
    delivery_dedup_ttl_s: int = Field(default=7 * 86400, ge=60)
    events_max_batch: int = Field(default=1000, ge=1)
    ws_queue_size: int = Field(default=64, ge=1, description="frames buffered per websocket")
    ws_heartbeat_s: float = Field(default=20.0, gt=0)
    ws_compress: bool = Field(
        default=False,
        description="accept permessage-deflate when a client offers it (browsers do): fewer "
        "bytes on the wire for ~100 KB more memory per connection and slower broadcasts",
    )
    ws_max_connections: int = Field(default=20000, ge=1)
    ws_max_per_client: int = Field(
        default=50, ge=1, description="websocket connections per client and API process"
    )
    ws_subscribe_grace_s: float = Field(
        default=10.0, gt=0, description="a websocket that subscribes to nothing is closed after"
    )
    allowed_origins: tuple[str, ...] = Field(
        default=(),
        description='websocket Origins allowed besides the API\'s own (its Host); "*" = any',
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description="networks (CIDR) of the reverse proxies whose X-Forwarded-For names the "
        "client; empty = the peer address is the client (docs/security.md)",
    )
    webhook_failure_rate_per_s: float = Field(
        default=1.0, gt=0, description="refused (unauthenticated) webhooks per client and process"
    )
    webhook_failure_burst: int = Field(default=20, ge=1)
    lookup_client_rate_per_s: float = Field(
        default=1.0, gt=0, description="order look-ups per client, shared by every API process"
    )
    lookup_client_burst: int = Field(default=10, ge=1)
    lookup_order_per_hour: float = Field(
        default=10.0, gt=0, description="failed look-ups per order number, every process"
    )
    lookup_order_burst: int = Field(default=10, ge=1)
    tracking_client_rate_per_s: float = Field(
        default=2.0, gt=0, description="public tracking reads per client, every process"
    )
    tracking_client_burst: int = Field(default=30, ge=1)
    limiter_clients: int = Field(
        default=100_000, ge=1, description="clients one in-process limiter table remembers"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad entry
        return value


class ThresholdSettings(Section):
    """Exception detection thresholds (docs/exceptions.md)."""

    stalled_hours: float = Field(
        default=48.0, gt=0, description="no scan for this long in transit: stalled"
    )
    label_unscanned_hours: float = Field(
        default=24.0, gt=0, description="label created, no carrier scan after this long"
    )
    not_shipped_grace_hours: float = Field(
        default=0.0, ge=0, description="a fulfilment order past ship-by plus this: not shipped"
    )
    refund_overdue_days: float = Field(
        default=7.0, gt=0, description="return received, no refund after this long"
    )
    failed_attempts: int = Field(default=1, ge=1, description="failed attempts that open one")
    late_grace_hours: float = Field(
        default=0.0, ge=0, description="after the end (UTC) of the promised day: late"
    )


class SweeperSettings(Section):
    """The clock-driven exception sweeper (streams/agents/sweeper.py)."""

    interval_s: float = Field(default=5.0, gt=0, description="how often each worker sweeps")
    batch: int = Field(default=500, ge=1, description="due orders taken per sweep")
    lease_s: float = Field(
        default=60.0, gt=0, description="a taken order returns to the index after this long"
    )
    settle_s: float = Field(
        default=30.0,
        ge=0,
        description="a clock rule already past its deadline when an event arrives opens this "
        "much later, so the order's events still in flight land first",
    )


class RetentionSettings(Section):
    """How long data is kept (docs/guarantees.md, "Retention and erasure"); 0 keeps for ever."""

    redis_days: float = Field(
        default=30.0,
        ge=0,
        description="an order's Redis timeline and index entries expire this long after its "
        "last change into a final state (delivered, cancelled, returned, refunded); "
        "re-read from ClickHouse on demand",
    )
    events_days: float = Field(
        default=0.0, ge=0, description="ClickHouse TTL of the event log (by occurred_at)"
    )
    timelines_days: float = Field(
        default=0.0, ge=0, description="ClickHouse TTL of timeline rows (by updated_at)"
    )
    shipments_days: float = Field(
        default=0.0, ge=0, description="ClickHouse TTL of shipment facts (by updated_at)"
    )
    exceptions_days: float = Field(
        default=0.0, ge=0, description="ClickHouse TTL of exception facts (by updated_at)"
    )
    notifications_days: float = Field(
        default=0.0, ge=0, description="ClickHouse TTL of notification outcomes (by at)"
    )

    @property
    def redis_s(self) -> int:
        return round(self.redis_days * 86400)

    @property
    def clickhouse_days(self) -> dict[str, float]:
        """Table → days its rows are kept (0: for ever)."""
        return {
            "events": self.events_days,
            "timelines": self.timelines_days,
            "shipments": self.shipments_days,
            "exceptions": self.exceptions_days,
            "notifications": self.notifications_days,
        }


class NotifySettings(Section):
    """Outbound messages: the ``notify`` role (docs/notifications.md)."""

    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="where customers reach the API: links in e-mails (status page, unsubscribe)",
    )
    unsubscribe_secret: SecretStr = SecretStr(DEV_SECRET)
    email_by_default: bool = Field(
        default=True,
        description="e-mail the address an order was placed with unless the customer opts out; "
        "False: only customers who subscribe on /track",
    )
    sms_by_default: bool = Field(
        default=False, description="text the order's phone number unless the customer opts out"
    )
    warn_trending_late: bool = Field(
        default=False,
        description="tell customers a parcel may arrive later than promised (trending_late) "
        "before the promise is missed",
    )
    smtp_host: str | None = Field(default=None, description="None: no e-mail (embedded: sink)")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_connections: int = Field(default=4, ge=1, le=64, description="pooled per process")
    sender: str = Field(default="Deliveries <deliveries@wismo.localhost>")
    sms_url: str | None = Field(
        default=None,
        description="Twilio-style Messages endpoint (POST form: To, From, Body); None: no SMS",
    )
    sms_account: str | None = None
    sms_token: SecretStr | None = None
    sms_from: str = "+15005550006"
    templates_dir: Path | None = Field(
        default=None, description="overrides: <name>.subject.txt, <name>.txt, <name>.html, …"
    )
    quiet_start_hour: int = Field(default=21, ge=0, le=23, description="recipient's local time")
    quiet_end_hour: int = Field(default=8, ge=0, le=23)
    default_time_zone: str = Field(default="UTC", description="when an order names none")
    stale_after_s: float = Field(
        default=2 * 86400.0,
        ge=0,
        description="customer milestones older than this when first seen are suppressed "
        "(stale), not sent: a new notify group reading old timelines mails no one; 0 = off",
    )
    retry_horizon_s: float = Field(
        default=86400.0, gt=0, description="a delivery is retried for this long, then failed"
    )
    retry_base_s: float = Field(default=5.0, gt=0)
    retry_cap_s: float = Field(default=3600.0, gt=0)
    endpoint_concurrency: int = Field(default=4, ge=1, description="in flight per endpoint")
    breaker_failures: int = Field(
        default=5, ge=1, description="consecutive failures that open an endpoint's breaker"
    )
    breaker_cooldown_s: float = Field(default=60.0, gt=0)
    disable_after_s: float = Field(
        default=86400.0, gt=0, description="failing for this long disables a subscription"
    )
    request_timeout_s: float = Field(default=10.0, gt=0)
    webhook_private_allow: tuple[str, ...] = Field(
        default=(),
        description="hosts, addresses or CIDR networks outbound webhooks may target in prod "
        "although private or loopback (refused otherwise: server-side request forgery)",
    )
    alert_urls: tuple[SecretStr, ...] = Field(
        default=(), description="apprise URLs for agent alerts (slack://…, msteams://…)"
    )
    alert_min_severity: Literal["low", "medium", "high", "critical"] = "high"
    batch: int = Field(default=200, ge=1, description="due messages taken per dispatch round")
    lease_s: float = Field(default=60.0, gt=0)
    interval_s: float = Field(default=0.2, gt=0, description="idle dispatcher poll interval")


class CarrierCredentials(Section):
    """One polled source's API access (docs/integrations.md, "Polling")."""

    base_url: str | None = Field(default=None, description="None: the vendor's production URL")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_key: SecretStr | None = None
    rate_per_s: float = Field(default=5.0, gt=0, description="shared by every poll worker")
    daily_quota: int = Field(default=100_000, ge=0, description="0: no quota")


class PollSettings(Section):
    """The ``poll`` role: re-checking carriers and catching up commerce platforms."""

    carriers: dict[str, CarrierCredentials] = Field(
        default_factory=dict, description="per source (ups, fedex, usps, dhl, aftership, …)"
    )
    register_with: Literal["aftership", "easypost", "none"] = Field(
        default="none",
        description="register trackers here for shipments whose carrier is not polled directly",
    )
    in_transit_s: float = Field(default=4 * 3600.0, gt=0)
    edd_day_s: float = Field(default=3600.0, gt=0, description="on the EDD day")
    out_for_delivery_s: float = Field(default=3600.0, gt=0)
    quiet_factor: float = Field(
        default=2.0, ge=1, description="cadence multiplier per poll that brought nothing new"
    )
    max_interval_s: float = Field(default=24 * 3600.0, gt=0)
    max_age_days: float = Field(default=30.0, gt=0, description="no polling after this age")
    batch: int = Field(default=100, ge=1)
    lease_s: float = Field(default=120.0, gt=0)
    interval_s: float = Field(default=1.0, gt=0)
    request_timeout_s: float = Field(default=15.0, gt=0)


class PredictSettings(Section):
    """Predictive delivery: the estimate model and trending late (docs/prediction.md)."""

    threshold: float = Field(
        default=0.5, gt=0, le=1, description="P(late) at or above which a parcel trends late"
    )
    min_samples: int = Field(
        default=30, ge=1, description="scans a group needs to answer; fewer: a broader group"
    )
    window_days: float = Field(default=90.0, gt=0, description="deliveries trained on")
    refresh_interval_s: float = Field(
        default=86400.0, gt=0, description="how often the model is retrained (wismo predict train)"
    )
    clear_threshold: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="an open trending_late resolves itself once P(late) drops below this",
    )
    high_value: float = Field(
        default=250.0, ge=0, description="orders worth this much rank trending_late one higher"
    )
    reload_s: float = Field(
        default=300.0, gt=0, description="how often a worker looks for a newer trained model"
    )
    recheck_s: float = Field(
        default=3 * 3600.0,
        gt=0,
        description="a promised parcel without new scans is estimated again after this long",
    )


class SelfServiceSettings(Section):
    """What customers may do on /track and agents in the console (docs/customer-guide.md and
    docs/agent-guide.md)."""

    return_window_days: float = Field(
        default=30.0, ge=0, description="days after delivery a line may still be returned"
    )
    photo_max_bytes: int = Field(
        default=5_000_000, ge=1000, le=20_000_000, description="largest photo a customer attaches"
    )
    photo_max_pixels: int = Field(
        default=40_000_000,
        ge=10_000,
        description="width times height above which a photo is refused",
    )
    photo_retention_days: float = Field(
        default=180.0, gt=0, description="days a customer's photo is kept (erasure removes it)"
    )
    customer_actions_per_hour: int = Field(
        default=20, ge=1, description="reports, returns and cancel requests per order and hour"
    )
    agent_actions_per_minute: int = Field(
        default=120, ge=1, description="actions per agent and minute (bulk actions count each)"
    )
    bulk_max: int = Field(default=200, ge=1, description="exceptions one bulk action may name")


class CasesSettings(Section):
    """Salesforce Service Cloud cases for escalated exceptions (docs/integrations.md, "Cases")."""

    enabled: bool = False
    instance_url: str | None = Field(
        default=None, description="https://<your domain>.my.salesforce.com"
    )
    token_url: str | None = Field(
        default=None, description="None: <instance_url>/services/oauth2/token"
    )
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_version: str = Field(default="v60.0", pattern=r"^v\d+\.\d$")
    external_id_field: str = Field(
        default="Wismo_Exception_Id__c",
        pattern=r"^[A-Za-z][A-Za-z0-9_]*__c$",
        description="a Case external-id field: the upsert key that makes opening a case idempotent",
    )
    origin: str = Field(default="wismo", description="the Case's Origin")
    request_timeout_s: float = Field(default=15.0, gt=0)


_COLOUR = r"^#[0-9a-fA-F]{6}$"
_LOCALE = r"^[a-z]{2,3}$"


class I18nSettings(Section):
    """Languages of the status page, e-mails and SMS (docs/brands.md)."""

    default_locale: str = Field(
        default="en", pattern=_LOCALE, description="when neither order, brand nor browser says"
    )
    locales: tuple[str, ...] = Field(
        default=("en", "de", "fr", "es", "nl"), description="languages offered (catalogs exist)"
    )


class BrandSettings(Section):
    """One brand or market of the retailer: how its page and messages look, which orders are
    its own, and the secrets its sources sign with (docs/brands.md)."""

    name: str = Field(min_length=1, max_length=80)
    logo_url: str | None = Field(default=None, description="https URL or /path of the logo")
    primary_color: str = Field(default="#1f4e79", pattern=_COLOUR)
    accent_color: str = Field(default="#f2a900", pattern=_COLOUR)
    support_email: str | None = None
    support_phone: str | None = None
    support_url: str | None = None
    locale: str = Field(
        default="en", pattern=_LOCALE, description="language when the order names none"
    )
    time_zone: str | None = Field(default=None, description="IANA zone when the order names none")
    return_window_days: float | None = Field(
        default=None, ge=0, description="None: selfservice.return_window_days"
    )
    sender: str | None = Field(default=None, description="e-mail From; None: notify.sender")
    sms_from: str | None = Field(default=None, description="None: notify.sms_from")
    warn_trending_late: bool | None = Field(
        default=None,
        description="warn this brand's customers of a parcel trending late; "
        "None: notify.warn_trending_late",
    )
    templates_dir: Path | None = Field(
        default=None, description="message templates over notify.templates_dir and the packaged"
    )
    channels: tuple[str, ...] = Field(
        default=(), description="sales channels (order.sales_channel) whose orders are this brand's"
    )
    webhook_secrets: dict[str, tuple[SecretStr, ...]] = Field(
        default_factory=dict,
        description="per source: a webhook signed with one of these belongs to this brand",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WISMO_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    environment: Literal["dev", "prod"] = "dev"
    data_dir: Path = Path(".wismo")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    api: ApiSettings = ApiSettings()
    thresholds: ThresholdSettings = ThresholdSettings()
    sweeper: SweeperSettings = SweeperSettings()
    retention: RetentionSettings = RetentionSettings()
    notify: NotifySettings = NotifySettings()
    poll: PollSettings = PollSettings()
    predict: PredictSettings = PredictSettings()
    selfservice: SelfServiceSettings = SelfServiceSettings()
    cases: CasesSettings = CasesSettings()
    i18n: I18nSettings = I18nSettings()
    brands: dict[str, BrandSettings] = Field(
        default_factory=dict,
        description="brand id (lowercase, as on orders) → its configuration; empty: one unbranded",
    )
    webhook_secrets: dict[str, tuple[SecretStr, ...]] = Field(
        default_factory=dict,
        description="per source, the live secrets (two during a rotation)",
    )

    @model_validator(mode="after")
    def _no_dev_secrets_in_prod(self) -> Settings:
        if self.environment == "prod":
            weak = development_secrets(self)
            if weak:
                raise ValueError(
                    "environment=prod refuses development or empty secrets for: "
                    + "; ".join(weak)
                    + " (docs/security.md, Secret rotation)"
                )
        return self

    @property
    def chdb_path(self) -> Path:
        return self.clickhouse.chdb_path or self.data_dir / "chdb"

    def topic(self, name: str) -> str:
        """The full Kafka topic name for one of wismo's logical topics."""
        return f"{self.kafka.topic_prefix}.{name}"


def development_secrets(settings: Settings) -> list[str]:
    """Every signing key or credential left at the development secret or empty, each named
    with the variable that sets it."""
    named: list[tuple[str, str, SecretStr]] = [
        ("api.customer_token_secret", "WISMO_API__CUSTOMER_TOKEN_SECRET",
         settings.api.customer_token_secret),
        ("api.agent_jwt_secret", "WISMO_API__AGENT_JWT_SECRET", settings.api.agent_jwt_secret),
        *(
            (f"api.api_keys[{i}]", "WISMO_API__API_KEYS", key)
            for i, key in enumerate(settings.api.api_keys)
        ),
        ("notify.unsubscribe_secret", "WISMO_NOTIFY__UNSUBSCRIBE_SECRET",
         settings.notify.unsubscribe_secret),
        *(
            (f"webhook_secrets.{source}[{i}]", "WISMO_WEBHOOK_SECRETS", secret)
            for source, secrets in settings.webhook_secrets.items()
            for i, secret in enumerate(secrets)
        ),
        *(
            (f"brands.{brand}.webhook_secrets.{source}[{i}]", "WISMO_BRANDS", secret)
            for brand, config in settings.brands.items()
            for source, secrets in config.webhook_secrets.items()
            for i, secret in enumerate(secrets)
        ),
    ]  # fmt: skip
    return [
        f"{name} ({variable})"
        for name, variable, secret in named
        if secret.get_secret_value().strip() in _NOT_SECRET
    ]


def load_settings(**overrides: object) -> Settings:
    """Build the settings once, from the environment plus explicit overrides."""
    return Settings(**overrides)  # type: ignore[arg-type]


def _environment_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel | dict | tuple | list):
        return json.dumps(_plain(value))
    return str(value)


def _plain(value: object) -> object:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def to_environment(settings: Settings) -> dict[str, str]:
    """The ``WISMO_…`` variables that make another process build these exact settings.

    Sections become ``WISMO_SECTION__FIELD``; secrets are written in clear (the environment of a
    child process); ``None`` (embedded) is left unset.
    """
    environment: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, Section):
            for field_name in type(value).model_fields:
                item = getattr(value, field_name)
                if item is not None:
                    key = f"WISMO_{name.upper()}__{field_name.upper()}"
                    environment[key] = _environment_value(item)
        elif value is not None:
            environment[f"WISMO_{name.upper()}"] = _environment_value(value)
    return environment
