"""The Helm chart, rendered by Helm's own engine (the Go SDK bundled in helm-python-sdk).

Every variant is rendered offline, every manifest is validated against the Kubernetes 1.30
schemas (operator resources against the small schemas in crd_schemas.py), and the wiring is
checked against the application itself: the list of settings comes from wismo.settings.Settings
and the rendered environment is parsed back into a Settings object.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml

from cli.runtime.roles import STREAM_ROLES
from tests.helm.crd_schemas import SCHEMAS
from tests.helm.settings_env import ENTRY_PREFIXES, settings_env_names, unset_by_default
from wismo.settings import DEV_SECRET, Settings
from wismo.topics import LOGICAL_TOPICS

CHART = Path(__file__).resolve().parents[2] / "helm" / "wismo"
RELEASE = "shop"
NAMESPACE = "commerce"
KUBE_VERSION = "1.30"
SECRET_ENV = (
    "WISMO_API__CUSTOMER_TOKEN_SECRET",
    "WISMO_API__AGENT_JWT_SECRET",
    "WISMO_API__API_KEYS",
    "WISMO_WEBHOOK_SECRETS",
    "WISMO_NOTIFY__UNSUBSCRIBE_SECRET",
    "WISMO_REDIS__URL",
    "WISMO_CLICKHOUSE__URL",
)
#: secret settings a container reads only when the Secret has them (secretKeyRef optional)
OPTIONAL_SECRET_ENV = (
    "WISMO_NOTIFY__SMTP_PASSWORD",
    "WISMO_NOTIFY__SMS_TOKEN",
    "WISMO_NOTIFY__ALERT_URLS",
    "WISMO_CASES__CLIENT_SECRET",
    "WISMO_BRANDS",
)
#: settings the chart leaves unset unless asked (their default, None, has no spelling)
UNSET = unset_by_default() - {
    *SECRET_ENV,
    "WISMO_KAFKA__BOOTSTRAP",
    "WISMO_CLICKHOUSE__CHDB_PATH",
}

EXTERNAL: dict[str, Any] = {
    "strimzi": {"enabled": False},
    "externalKafka": {"enabled": True, "bootstrap": "kafka-0.kafka:9092,kafka-1.kafka:9092"},
    "valkey": {"enabled": False},
    "externalRedis": {"enabled": True, "url": "rediss://:s3cret@redis.example.internal:6380/2"},
    "clickhouseOperator": {"enabled": False},
    "externalClickhouse": {
        "enabled": True,
        "url": "https://wismo:pw@ch.example.internal:8443/wismo",
    },
    "secrets": {
        "customerTokenSecret": "customer-token-secret-from-values",
        "agentJwtSecret": "agent-jwt-secret-from-values",
        "apiKeys": ["integrator-key-1", "integrator-key-2"],
        "webhookSecrets": {"ups": ["ups-current", "ups-next"], "shopify": ["shpss_1"]},
        "unsubscribeSecret": "unsubscribe-secret-from-values",
        "smtpPassword": "smtp-password-from-values",
        "smsToken": "sms-token-from-values",
        "alertUrls": ["slack://T000/B000/XXXX", "msteams://team/hook"],
        "carriers": {
            "ups": {"clientSecret": "ups-client-secret"},
            "aftership": {"apiKey": "aftership-api-key"},
        },
        "brands": {
            "northwind": {
                "name": "Northwind Outfitters",
                "channels": ["web", "app"],
                "webhook_secrets": {"shopify": ["shpss_northwind"]},
            },
            "kaffeeberg": {"name": "Kaffeehaus Berg", "locale": "de"},
        },
    },
    "settings": {
        "i18n": {"default_locale": "de", "locales": ["de", "en"]},
        "notify": {
            "public_url": "https://wismo.example.com",
            "smtp_host": "smtp.example.internal",
            "smtp_port": 587,
            "smtp_username": "wismo",
            "smtp_starttls": True,
            "sms_url": "https://sms.example.com/2010-04-01/Accounts/AC1/Messages.json",
            "sms_account": "AC1",
        },
        "poll": {
            "carriers": {
                "ups": {"client_id": "ups-client", "rate_per_s": 2.5},
                "fedex": {"base_url": "https://apis-sandbox.fedex.com", "daily_quota": 1000},
            },
            "register_with": "aftership",
        },
    },
}
HA: dict[str, Any] = {
    "settings": {"kafka": {"partitions": 24}},
    "topics": {"raw": {"partitions": 48}},
    "api": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 20}},
    "ingress": {
        "enabled": True,
        "tls": [{"secretName": "wismo-tls", "hosts": ["wismo.example.com"]}],
    },
    "workers": {
        "roles": {
            "normalise": {"replicas": 24},
            "timeline": {"replicas": 24},
            "warehouse": {"replicas": 3},
        }
    },
    "strimzi": {
        "nodePools": [
            {
                "name": "controller",
                "roles": ["controller"],
                "replicas": 3,
                "storage": {"size": "20Gi"},
            },
            {
                "name": "broker",
                "roles": ["broker"],
                "replicas": 6,
                "storage": {"size": "500Gi", "storageClass": "fast-ssd"},
            },
        ]
    },
    "clickhouseOperator": {"replicas": 3},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "networkPolicy": {
        "enabled": True,
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
        "egress": [{"to": [{"namespaceSelector": {}}]}],
    },
}
EXISTING_SECRET: dict[str, Any] = {"secrets": {"existingSecret": "wismo-prod-credentials"}}
CHDB: dict[str, Any] = {
    "clickhouseOperator": {"enabled": False},
    "api": {"replicas": 1, "autoscaling": {"enabled": False}},
    "workers": {"mode": "combined", "combined": {"replicas": 3}},
}

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "external": EXTERNAL,
    "operators-ha": HA,
    "existing-secret": EXISTING_SECRET,
    "chdb-combined": CHDB,
}


def merge(base: dict[str, Any], *overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for override in overrides:
        for key, value in override.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: helm_python.Chart, values: dict[str, Any]) -> list[dict[str, Any]]:
    rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    docs: list[dict[str, Any]] = []
    for path, text in rendered.items():
        if not path.endswith((".yaml", ".yml")):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job")]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    pod = workload["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def container_env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """Environment of a container as the kubelet builds it: its ConfigMaps, then its own env
    (secret references resolved when the Secret is rendered, else marked as references)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        cm = one(docs, "ConfigMap", source["configMapRef"]["name"])
        env.update(cm["data"])
    secrets = {s["metadata"]["name"]: s for s in by_kind(docs, "Secret")}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        secret = secrets.get(ref["name"])
        if secret is None:
            env[item["name"]] = f"<secret {ref['name']}/{ref['key']}>"
        elif ref["key"] in secret["data"] or not ref.get("optional"):
            env[item["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    return env


# -- Lint --------------------------------------------------------------------------------------


def test_lint_strict_reports_only_the_unfetched_dependency() -> None:
    report = helm_python.lint(CHART, strict=True, kube_version="v1.30.0")
    fetched = any((CHART / "charts").glob("valkey*"))  # after `helm dependency build`
    missing = [] if fetched else ["chart directory is missing these dependencies: valkey"]
    assert report["errors"] == missing


def test_lint_strict_is_clean_once_the_dependency_is_present(tmp_path: Path) -> None:
    # Stands in for `helm dependency build` (the Valkey repository is not reachable here).
    chart = shutil.copytree(CHART, tmp_path / "wismo")
    stub = chart / "charts" / "valkey"
    (stub / "templates").mkdir(parents=True)
    (stub / "Chart.yaml").write_text("apiVersion: v2\nname: valkey\nversion: 0.10.0\n")
    (stub / "values.yaml").write_text("enabled: false\n")
    for variant in VARIANTS.values():
        report = helm_python.lint(chart, variant, strict=True, kube_version="v1.30.0")
        assert report["messages"] == [], report


# Blocks that are Kubernetes or engine objects passed through as they are: documented as a whole.
PASS_THROUGH = {
    "podSecurityContext",
    "securityContext",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "annotations",
    "config",
    "hosts",
    "nodePools",
    "storage",
    "dataStorage",
}


def test_values_are_documented_key_by_key() -> None:
    undocumented = []
    parents: list[tuple[int, str]] = []
    previous = ""
    for number, line in enumerate((CHART / "values.yaml").read_text().splitlines(), 1):
        key = re.match(r"^(\s*)([A-Za-z_][\w.-]*):", line)
        if key:
            indent = len(key.group(1))
            while parents and parents[-1][0] >= indent:
                parents.pop()
            inside = any(name in PASS_THROUGH for _, name in parents)
            if not inside and not previous.lstrip().startswith("#"):
                undocumented.append(f"{number}: {line.strip()}")
            parents.append((indent, key.group(2)))
        if line.strip():
            previous = line
    assert undocumented == []


# -- Every manifest validates --------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_manifest_validates(chart: helm_python.Chart, variant: str) -> None:
    docs = render(chart, VARIANTS[variant])
    assert docs
    crd_kinds = {kind for _, kind in SCHEMAS}
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        if key in SCHEMAS:
            jsonschema.validate(doc, SCHEMAS[key])
        else:
            assert doc["kind"] not in crd_kinds, f"{key} has no schema here"
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        assert doc["metadata"].get("namespace") in (None, NAMESPACE)


def test_validation_catches_a_broken_manifest(chart: helm_python.Chart) -> None:
    deployment = copy.deepcopy(one(render(chart, {}), "Deployment", f"{RELEASE}-wismo-api"))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)
    kafka = copy.deepcopy(one(render(chart, {}), "Kafka", f"{RELEASE}-wismo"))
    kafka["spec"]["kafka"]["listeners"][0]["port"] = "9092"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(kafka, SCHEMAS[("kafka.strimzi.io/v1", "Kafka")])


# -- values.schema.json --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"api": {"replicas": "2"}}, "/api/replicas"),
        ({"settings": {"kafka": {"partitions": "12"}}}, "/settings/kafka/partitions"),
        ({"settings": {"kafka": {"partitions": 0}}}, "/settings/kafka/partitions"),
        ({"settings": {"log_level": "VERBOSE"}}, "/settings/log_level"),
        ({"settings": {"kafka": {"partitons": 4}}}, "/settings/kafka"),
        ({"settings": {"thresholds": {"stalled_hours": "two days"}}}, "/settings/thresholds"),
        ({"workers": {"roles": {"timeline": {"replicas": 1.5}}}}, "/workers/roles/timeline"),
        ({"workers": {"mode": "sharded"}}, "/workers/mode"),
        ({"topics": {"raw": {"cleanupPolicy": "forever"}}}, "/topics/raw/cleanupPolicy"),
        ({"secrets": {"apiKeys": "one-key"}}, "/secrets/apiKeys"),
        ({"secrets": {"webhookSecrets": {"ups": "s1"}}}, "/secrets/webhookSecrets/ups"),
        ({"strimzi": {"enabled": "yes"}}, "/strimzi/enabled"),
        ({"externalRedis": {"url": "http://redis:6379"}}, "/externalRedis/url"),
        ({"clickhouseOperator": {"replicas": "3"}}, "/clickhouseOperator/replicas"),
        ({"clickhouseOperator": {"password": "p@ss word"}}, "/clickhouseOperator/password"),
        ({"extraEnv": [{"name": "WISMO_REDIS__URL", "value": "redis://x"}]}, "/extraEnv/0/name"),
        (
            {"settings": {"poll": {"carriers": {"ups": {"client_secret": "s"}}}}},
            "/settings/poll/carriers/ups",
        ),
        ({"settings": {"poll": {"carriers": {"UPS!": {}}}}}, "/settings/poll/carriers"),
        ({"settings": {"notify": {"quiet_start_hour": 24}}}, "/settings/notify/quiet_start_hour"),
        ({"settings": {"notify": {"smtp_pasword": "x"}}}, "/settings/notify"),
        ({"secrets": {"alertUrls": "slack://x"}}, "/secrets/alertUrls"),
        ({"secrets": {"carriers": {"ups": {"client_secret": "s"}}}}, "/secrets/carriers/ups"),
        ({"workers": {"roles": {"notify": {"replicas": "1"}}}}, "/workers/roles/notify"),
        ({"topics": {"notifications": {"retentionMs": "1d"}}}, "/topics/notifications"),
        ({"unknownTopLevel": True}, "unknownTopLevel"),
    ],
)
def test_schema_rejects_wrong_values(
    chart: helm_python.Chart, values: dict[str, Any], path: str
) -> None:
    with pytest.raises(helm_python.HelmError) as caught:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert path in str(caught.value)


def test_schema_accepts_every_variant(chart: helm_python.Chart) -> None:
    for variant in VARIANTS.values():
        chart.validate_schema(variant)


# -- Replicas and partitions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"workers": {"roles": {"timeline": {"replicas": 13}}}},
            "workers.roles.timeline.replicas (13) exceeds 12",
        ),
        (
            {
                "topics": {"raw": {"partitions": 2}},
                "workers": {"roles": {"normalise": {"replicas": 3}}},
            },
            "workers.roles.normalise.replicas (3) exceeds 2",
        ),
        (
            # The smallest input topic decides: tracking has 4 partitions, raw 12.
            {
                "topics": {"tracking": {"partitions": 4}},
                "workers": {"roles": {"normalise": {"replicas": 5}}},
            },
            "workers.roles.normalise.replicas (5) exceeds 4",
        ),
        (
            {"workers": {"mode": "combined", "combined": {"replicas": 13}}},
            "workers.combined.replicas (13) exceeds 12",
        ),
    ],
)
def test_replicas_above_partitions_fail(
    chart: helm_python.Chart, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm_python.HelmRenderError) as caught:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert message in str(caught.value)


def test_replicas_equal_to_partitions_render(chart: helm_python.Chart) -> None:
    values = {
        "topics": {"tracking": {"partitions": 4}},
        "workers": {"roles": {"normalise": {"replicas": 4}, "timeline": {"replicas": 12}}},
    }
    docs = render(chart, values)
    assert one(docs, "Deployment", f"{RELEASE}-wismo-normalise")["spec"]["replicas"] == 4
    assert one(docs, "Deployment", f"{RELEASE}-wismo-timeline")["spec"]["replicas"] == 12


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"externalKafka": {"enabled": True, "bootstrap": "k:9092"}},
            "exactly one of strimzi.enabled",
        ),
        ({"strimzi": {"enabled": False}}, "exactly one of strimzi.enabled"),
        ({"valkey": {"enabled": False}}, "exactly one of valkey.enabled"),
        ({"valkey": {"enabled": False}, "externalRedis": {"enabled": True}}, "externalRedis.url"),
        ({"externalClickhouse": {"enabled": True, "url": "http://ch:8123/w"}}, "at most one of"),
        (
            {"clickhouseOperator": {"enabled": False}},
            "chDB mode (no ClickHouse server) allows exactly one",
        ),
        ({"strimzi": {"topicReplicas": 4}}, "strimzi.topicReplicas (4) exceeds the 3 brokers"),
        (
            {
                "strimzi": {
                    "nodePools": [
                        {
                            "name": "b",
                            "roles": ["broker"],
                            "replicas": 3,
                            "storage": {"size": "1Gi"},
                        }
                    ]
                }
            },
            "controller role",
        ),
    ],
)
def test_inconsistent_infrastructure_fails(
    chart: helm_python.Chart, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm_python.HelmRenderError) as caught:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert message in str(caught.value)


# -- Settings wiring -----------------------------------------------------------------------------


def test_settings_names_come_from_the_application() -> None:
    names = settings_env_names()
    # A sanity anchor on the derivation itself, not a copy of the list.
    assert {"WISMO_KAFKA__BOOTSTRAP", "WISMO_WEBHOOK_SECRETS", "WISMO_API__API_KEYS"} <= names
    assert all(not n.endswith("__") for n in names)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_setting_reaches_every_wismo_container(
    chart: helm_python.Chart, variant: str
) -> None:
    docs = render(chart, VARIANTS[variant])
    expected = settings_env_names() - UNSET
    if variant == "chdb-combined":
        expected.discard("WISMO_CLICKHOUSE__URL")  # None is how Settings says "chDB"
    checked = 0
    for workload in workloads(docs):
        for container in containers(workload):
            env = container_env(docs, container)
            # an optional secret the Secret does not hold is still referenced
            referenced = {item["name"] for item in container.get("env", [])}
            missing = expected - set(env) - referenced
            assert not missing, f"{workload['metadata']['name']}/{container['name']}: {missing}"
            unknown = {
                k for k in env if k.startswith("WISMO_") and not k.startswith(ENTRY_PREFIXES)
            } - settings_env_names()
            assert not unknown, unknown
            checked += 1
    assert checked >= 3


def test_values_settings_mirror_the_settings_model(chart: helm_python.Chart) -> None:
    """Each non-secret field has a documented default under `settings` in values.yaml (those
    whose default is None: an empty value that leaves them unset)."""
    secret_or_derived = {*SECRET_ENV, *OPTIONAL_SECRET_ENV, "WISMO_KAFKA__BOOTSTRAP"}
    expected = settings_env_names() - secret_or_derived
    cm = one(render(chart, {}), "ConfigMap", f"{RELEASE}-wismo")
    assert expected - UNSET <= set(cm["data"])
    assert not UNSET & set(cm["data"])
    values_text = (CHART / "values.yaml").read_text()
    for name in expected:
        leaf = name.split("__")[-1].removeprefix("WISMO_").lower()
        assert f"\n    {leaf}:" in values_text or f"\n  {leaf}:" in values_text, name


@pytest.mark.parametrize("variant", ["default", "external", "operators-ha"])
def test_rendered_environment_builds_valid_settings(
    chart: helm_python.Chart, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(chart, VARIANTS[variant])
    api = one(docs, "Deployment", f"{RELEASE}-wismo-api")
    env = container_env(docs, containers(api)[-1])
    for name in list(os.environ):
        if name.startswith("WISMO_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "prod"
    assert settings.api.host == "0.0.0.0"
    assert settings.api.port == 8080
    assert settings.kafka.bootstrap == env["WISMO_KAFKA__BOOTSTRAP"]
    assert settings.redis.url
    assert settings.clickhouse.url
    assert settings.api.agent_jwt_secret.get_secret_value() != DEV_SECRET
    assert settings.api.api_keys
    if variant == "external":
        assert settings.kafka.bootstrap == "kafka-0.kafka:9092,kafka-1.kafka:9092"
        assert settings.redis.url == EXTERNAL["externalRedis"]["url"]
        assert settings.clickhouse.url == EXTERNAL["externalClickhouse"]["url"]
        assert [k.get_secret_value() for k in settings.api.api_keys] == EXTERNAL["secrets"][
            "apiKeys"
        ]
        assert {
            s: [v.get_secret_value() for v in vs] for s, vs in settings.webhook_secrets.items()
        } == (EXTERNAL["secrets"]["webhookSecrets"])
        notify = settings.notify
        assert notify.unsubscribe_secret.get_secret_value() == "unsubscribe-secret-from-values"
        assert notify.smtp_password is not None
        assert notify.smtp_password.get_secret_value() == "smtp-password-from-values"
        assert notify.sms_token is not None
        assert notify.sms_token.get_secret_value() == "sms-token-from-values"
        assert [u.get_secret_value() for u in notify.alert_urls] == EXTERNAL["secrets"]["alertUrls"]
        assert (notify.smtp_host, notify.smtp_port, notify.smtp_starttls) == (
            "smtp.example.internal",
            587,
            True,
        )
        assert notify.templates_dir is None
        assert sorted(settings.brands) == ["kaffeeberg", "northwind"]
        northwind = settings.brands["northwind"]
        assert northwind.channels == ("web", "app")
        assert [s.get_secret_value() for s in northwind.webhook_secrets["shopify"]] == [
            "shpss_northwind"
        ]
        assert settings.brands["kaffeeberg"].locale == "de"
        assert (settings.i18n.default_locale, settings.i18n.locales) == ("de", ("de", "en"))
        carriers = settings.poll.carriers
        assert sorted(carriers) == ["aftership", "fedex", "ups"]
        assert carriers["ups"].client_id == "ups-client"
        assert carriers["ups"].rate_per_s == 2.5
        assert carriers["ups"].client_secret is not None
        assert carriers["ups"].client_secret.get_secret_value() == "ups-client-secret"
        assert carriers["fedex"].base_url == "https://apis-sandbox.fedex.com"
        assert carriers["fedex"].client_secret is None
        assert carriers["aftership"].api_key is not None
        assert carriers["aftership"].api_key.get_secret_value() == "aftership-api-key"
        assert settings.poll.register_with == "aftership"
    else:
        assert settings.brands == {}
        # generated once, like the other signing keys: prod accepts it
        assert len(settings.notify.unsubscribe_secret.get_secret_value()) >= 32
        assert settings.notify.smtp_host is None
        assert settings.notify.alert_urls == ()
    if variant == "operators-ha":
        assert settings.kafka.partitions == 24
        assert settings.kafka.bootstrap == f"{RELEASE}-wismo-kafka-bootstrap.{NAMESPACE}.svc:9092"
        assert settings.redis.url == f"redis://{RELEASE}-valkey.{NAMESPACE}.svc:6379/0"
        assert settings.clickhouse.url.startswith("http://wismo:")
        assert settings.clickhouse.url.endswith(
            f"@clickhouse-{RELEASE}-ch.{NAMESPACE}.svc:8123/wismo"
        )


def test_chdb_mode_leaves_the_clickhouse_url_unset(
    chart: helm_python.Chart, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(chart, CHDB)
    api = one(docs, "Deployment", f"{RELEASE}-wismo-api")
    env = container_env(docs, containers(api)[-1])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.clickhouse.url is None
    assert str(settings.chdb_path) == "/var/lib/wismo/chdb"


# -- Secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_secrets_are_never_inlined(chart: helm_python.Chart, variant: str) -> None:
    docs = render(chart, VARIANTS[variant])
    secret_values = {
        base64.b64decode(v).decode() for s in by_kind(docs, "Secret") for v in s["data"].values()
    } - {"{}", "[]"}
    public_text = json.dumps([d for d in docs if d["kind"] != "Secret"])
    for value in secret_values:
        assert value not in public_text
    for cm in by_kind(docs, "ConfigMap"):
        assert not set(cm["data"]) & {*SECRET_ENV, *OPTIONAL_SECRET_ENV}
        assert not [k for k in cm["data"] if k.startswith(ENTRY_PREFIXES)]
    for workload in workloads(docs):
        for container in containers(workload):
            for item in container.get("env", []):
                if item["name"] in {*SECRET_ENV, *OPTIONAL_SECRET_ENV}:
                    assert "secretKeyRef" in item["valueFrom"], item


def test_existing_secret_is_referenced_not_created(chart: helm_python.Chart) -> None:
    docs = render(chart, EXISTING_SECRET)
    assert by_kind(docs, "Secret") == []
    refs = {
        item["valueFrom"]["secretKeyRef"]["name"]
        for w in workloads(docs)
        for c in containers(w)
        for item in c.get("env", [])
        if "valueFrom" in item
    }
    assert refs == {"wismo-prod-credentials"}
    chi = by_kind(docs, "ClickHouseInstallation")[0]
    assert chi["spec"]["configuration"]["users"]["wismo/k8s_secret_password"] == (
        "wismo-prod-credentials/clickhouse-password"
    )


def test_generated_secrets_are_consistent_within_a_release(chart: helm_python.Chart) -> None:
    docs = render(chart, {})
    main = one(docs, "Secret", f"{RELEASE}-wismo")["data"]
    hook = one(docs, "Secret", f"{RELEASE}-wismo-migrate")["data"]
    assert main == hook
    password = base64.b64decode(main["clickhouse-password"]).decode()
    url = base64.b64decode(main["WISMO_CLICKHOUSE__URL"]).decode()
    assert len(password) >= 32
    assert f":{password}@" in url
    keys = json.loads(base64.b64decode(main["WISMO_API__API_KEYS"]))
    assert len(keys) == 1
    assert len(keys[0]) >= 32
    other = one(render(chart, {}), "Secret", f"{RELEASE}-wismo")["data"]
    assert other["WISMO_API__AGENT_JWT_SECRET"] != main["WISMO_API__AGENT_JWT_SECRET"]


# -- Workloads -----------------------------------------------------------------------------------


def test_api_probes_shutdown_and_roles(chart: helm_python.Chart) -> None:
    docs = render(chart, {})
    api = one(docs, "Deployment", f"{RELEASE}-wismo-api")
    pod = api["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["api"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"][0]["containerPort"] == 8080
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert 0 < int(sleep[1]) < pod["terminationGracePeriodSeconds"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert one(docs, "PodDisruptionBudget", f"{RELEASE}-wismo-api")["spec"]["maxUnavailable"] == 1


OPS_ARGS = ["--web-host", "0.0.0.0", "--web-port", "6066"]


@pytest.mark.parametrize("variant", ["default", "external", "operators-ha"])
def test_one_deployment_per_stream_role(chart: helm_python.Chart, variant: str) -> None:
    docs = render(chart, VARIANTS[variant])
    for role in STREAM_ROLES:
        worker = one(docs, "Deployment", f"{RELEASE}-wismo-{role}")
        pod = worker["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        # the worker's /metrics and /healthz listen on the pod address, for Prometheus
        assert container["args"] == ["run", "--roles", role, *OPS_ARGS]
        for probe in ("startupProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            assert command[:2] == ["python", "-c"]
            assert "http://127.0.0.1:6066/healthz" in command[2]
            compile(command[2], probe, "exec")
        assert {"name": "metrics", "containerPort": 6066, "protocol": "TCP"} in container["ports"]
        assert pod["terminationGracePeriodSeconds"] >= 30
        assert "preStop" in container["lifecycle"]


@pytest.mark.parametrize("role", ["notify", "poll"])
def test_notify_and_poll_run_as_their_own_deployments(chart: helm_python.Chart, role: str) -> None:
    docs = render(chart, EXTERNAL)
    worker = one(docs, "Deployment", f"{RELEASE}-wismo-{role}")
    assert worker["metadata"]["labels"]["wismo.io/role"] == role
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["run", "--roles", role, *OPS_ARGS]
    env = container_env(docs, container)
    assert env["WISMO_NOTIFY__SMTP_HOST"] == "smtp.example.internal"
    assert env["WISMO_POLL__CARRIERS__UPS__CLIENT_SECRET"] == "ups-client-secret"
    assert json.loads(env["WISMO_POLL__CARRIERS"])["ups"] == {
        "client_id": "ups-client",
        "rate_per_s": 2.5,
    }


def test_notify_replicas_are_bounded_by_its_input_topics(chart: helm_python.Chart) -> None:
    values = {
        "topics": {"exceptions": {"partitions": 3}},
        "workers": {"roles": {"notify": {"replicas": 4}}},
    }
    with pytest.raises(helm_python.HelmRenderError) as caught:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert "workers.roles.notify.replicas (4) exceeds 3" in str(caught.value)


def test_links_in_e_mails_follow_the_ingress_unless_set(chart: helm_python.Chart) -> None:
    def public_url(values: dict[str, Any]) -> str:
        data: dict[str, str] = one(render(chart, values), "ConfigMap", f"{RELEASE}-wismo")["data"]
        return data["WISMO_NOTIFY__PUBLIC_URL"]

    assert public_url({}) == "http://127.0.0.1:8080"
    assert public_url(HA) == "https://wismo.example.com"
    assert public_url(merge(HA, {"ingress": {"tls": []}})) == "http://wismo.example.com"
    chosen = {"settings": {"notify": {"public_url": "https://track.example.com"}}}
    assert public_url(merge(HA, chosen)) == "https://track.example.com"
    notes = chart.render(HA, name=RELEASE, namespace=NAMESPACE)
    (text,) = [text for path, text in notes.items() if path.endswith("NOTES.txt")]
    assert "Links in customer e-mails point to https://wismo.example.com." in text


def test_an_existing_secret_supplies_the_notify_and_carrier_secrets(
    chart: helm_python.Chart,
) -> None:
    values = merge(EXISTING_SECRET, {"settings": {"poll": {"carriers": {"dhl": {}}}}})
    docs = render(chart, values)
    refs = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in containers(one(docs, "Deployment", f"{RELEASE}-wismo-notify"))[0]["env"]
        if "valueFrom" in item
    }
    assert refs["WISMO_NOTIFY__UNSUBSCRIBE_SECRET"] == {
        "name": "wismo-prod-credentials",
        "key": "WISMO_NOTIFY__UNSUBSCRIBE_SECRET",
    }  # required: prod refuses to start without it
    for name in (
        *OPTIONAL_SECRET_ENV,
        "WISMO_POLL__CARRIERS__DHL__CLIENT_SECRET",
        "WISMO_POLL__CARRIERS__DHL__API_KEY",
    ):
        assert refs[name] == {"name": "wismo-prod-credentials", "key": name, "optional": True}


def test_the_unsubscribe_secret_is_generated_once_and_kept(chart: helm_python.Chart) -> None:
    docs = render(chart, {})
    main = one(docs, "Secret", f"{RELEASE}-wismo")["data"]
    hook = one(docs, "Secret", f"{RELEASE}-wismo-migrate")["data"]
    secret = base64.b64decode(main["WISMO_NOTIFY__UNSUBSCRIBE_SECRET"]).decode()
    assert len(secret) >= 32
    assert main["WISMO_NOTIFY__UNSUBSCRIBE_SECRET"] == hook["WISMO_NOTIFY__UNSUBSCRIBE_SECRET"]
    assert secret != base64.b64decode(main["WISMO_API__CUSTOMER_TOKEN_SECRET"]).decode()
    assert "WISMO_NOTIFY__SMTP_PASSWORD" not in main  # unset: the setting stays None


def test_chdb_mode_runs_warehouse_inside_the_single_api_pod(chart: helm_python.Chart) -> None:
    docs = render(chart, CHDB)
    api = one(docs, "Deployment", f"{RELEASE}-wismo-api")
    pod = api["spec"]["template"]["spec"]
    assert api["spec"]["replicas"] == 1
    assert api["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["containers"][0]["args"] == ["run", "--roles", "api,warehouse"]
    assert pod["initContainers"][0]["args"] == ["db", "migrate"]
    claim = pod["volumes"][1]["persistentVolumeClaim"]["claimName"]
    assert one(docs, "PersistentVolumeClaim", claim)
    (worker,) = [d for d in by_kind(docs, "Deployment") if d is not api]
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "run",
        "--roles",
        "normalise,notify,poll,sweeper,timeline",
        *OPS_ARGS,
    ]
    assert by_kind(docs, "Job") == []
    assert by_kind(docs, "HorizontalPodAutoscaler") == []
    assert by_kind(docs, "PodDisruptionBudget") == []


def test_combined_mode_runs_every_stream_role_in_one_deployment(chart: helm_python.Chart) -> None:
    docs = render(chart, {"workers": {"mode": "combined"}})
    deployments = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    assert set(deployments) == {f"{RELEASE}-wismo-api", f"{RELEASE}-wismo-worker"}
    worker = deployments[f"{RELEASE}-wismo-worker"]["spec"]
    assert worker["template"]["spec"]["containers"][0]["args"] == ["worker", *OPS_ARGS]
    assert worker["replicas"] == 2


def test_migration_hook_order(chart: helm_python.Chart) -> None:
    external = one(render(chart, EXTERNAL), "Job", f"{RELEASE}-wismo-migrate")
    assert external["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert containers(external)[-1]["args"] == ["db", "migrate"]
    operator = one(render(chart, {}), "Job", f"{RELEASE}-wismo-migrate")
    # The ClickHouseInstallation only exists once the install has created it.
    assert operator["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    hook_cm = one(render(chart, EXTERNAL), "ConfigMap", f"{RELEASE}-wismo-migrate")
    assert int(hook_cm["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        external["metadata"]["annotations"]["helm.sh/hook-weight"]
    )


def test_hpa_service_and_ingress_suit_websockets(chart: helm_python.Chart) -> None:
    docs = render(chart, HA)
    hpa = one(docs, "HorizontalPodAutoscaler", f"{RELEASE}-wismo-api")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 20)
    assert "replicas" not in one(docs, "Deployment", f"{RELEASE}-wismo-api")["spec"]
    ingress = one(docs, "Ingress", f"{RELEASE}-wismo")
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = one(docs, "Service", backend["name"])
    assert service["spec"]["ports"][0]["name"] == backend["port"]["name"] == "http"


def test_service_monitor_and_network_policies(chart: helm_python.Chart) -> None:
    docs = render(chart, HA)
    monitor = one(docs, "ServiceMonitor", f"{RELEASE}-wismo")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    service_ports = {p["name"] for s in by_kind(docs, "Service") for p in s["spec"]["ports"]}
    assert ports <= service_ports
    policies = {p["metadata"]["name"]: p for p in by_kind(docs, "NetworkPolicy")}
    workers = policies[f"{RELEASE}-wismo-workers"]["spec"]
    assert workers["ingress"][0]["from"] == HA["networkPolicy"]["metricsFrom"]
    assert "Egress" in workers["policyTypes"]
    assert by_kind(render(chart, {}), "NetworkPolicy") == []


# -- Infrastructure through operators ----------------------------------------------------------


def test_strimzi_kraft_cluster_and_topics(chart: helm_python.Chart) -> None:
    docs = render(chart, HA)
    kafka = one(docs, "Kafka", f"{RELEASE}-wismo")
    assert "zookeeper" not in kafka["spec"]
    pools = by_kind(docs, "KafkaNodePool")
    assert {r for p in pools for r in p["spec"]["roles"]} == {"controller", "broker"}
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == f"{RELEASE}-wismo" for p in pools)
    topics = {t["spec"]["topicName"]: t["spec"] for t in by_kind(docs, "KafkaTopic")}
    assert set(topics) == {f"wismo.{name}" for name in LOGICAL_TOPICS}
    assert topics["wismo.raw"]["partitions"] == 48
    assert topics["wismo.events"]["partitions"] == 24
    assert topics["wismo.timeline"]["config"]["cleanup.policy"] == "compact"
    assert topics["wismo.raw"]["config"]["retention.ms"] == 604800000
    assert topics["wismo.exceptions"]["config"]["cleanup.policy"] == "compact,delete"


def test_external_infrastructure_renders_no_operator_resources(chart: helm_python.Chart) -> None:
    kinds = {d["kind"] for d in render(chart, EXTERNAL)}
    assert not kinds & {"Kafka", "KafkaNodePool", "KafkaTopic", "ClickHouseInstallation"}


def test_replicated_clickhouse_gets_keeper_and_a_replicated_database(
    chart: helm_python.Chart,
) -> None:
    docs = render(chart, HA)
    chi = one(docs, "ClickHouseInstallation", f"{RELEASE}-ch")
    keeper = one(docs, "ClickHouseKeeperInstallation", f"{RELEASE}-ch-keeper")
    assert chi["spec"]["configuration"]["clusters"][0]["layout"]["replicasCount"] == 3
    assert chi["spec"]["configuration"]["zookeeper"]["nodes"] == [
        {"host": f"keeper-{keeper['metadata']['name']}", "port": 2181}
    ]
    job = one(docs, "Job", f"{RELEASE}-wismo-migrate")
    init = job["spec"]["template"]["spec"]["initContainers"][0]
    sql = next(e["value"] for e in init["env"] if e["name"] == "CREATE_DATABASE_SQL")
    assert "ENGINE = Replicated(" in sql
    assert "ON CLUSTER 'main'" in sql
    single = render(chart, {})
    assert by_kind(single, "ClickHouseKeeperInstallation") == []
    assert (
        "initContainers"
        not in one(single, "Job", f"{RELEASE}-wismo-migrate")["spec"]["template"]["spec"]
    )


def test_commerce_platforms_are_caught_up_on_a_schedule_when_switched_on(
    chart: helm_python.Chart,
) -> None:
    assert [
        c for c in by_kind(render(chart, {}), "CronJob") if "-sync-" in c["metadata"]["name"]
    ] == []
    shop = "https://atelier.myshopify.com"
    values = {
        "commerceSync": {"shopify": {"enabled": True, "since": "12h"}},
        "settings": {"poll": {"carriers": {"shopify": {"base_url": shop}}}},
        "secrets": {"carriers": {"shopify": {"apiKey": "shpat_0123"}}},
    }
    for mode in ({}, CHDB):  # it reads the platform and writes Kafka and Redis: any warehouse
        docs = render(chart, merge(mode, values))
        cron = one(docs, "CronJob", f"{RELEASE}-wismo-sync-shopify")
        assert cron["spec"]["schedule"] == "*/15 * * * *"
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["sync", "shopify", "--since", "12h"]
        env = container_env(docs, container)
        assert env["WISMO_POLL__CARRIERS__SHOPIFY__API_KEY"]
        assert shop in env["WISMO_POLL__CARRIERS"]  # one JSON map of every source
        names = [c["metadata"]["name"] for c in by_kind(docs, "CronJob")]
        assert f"{RELEASE}-wismo-sync-salesforce-om" not in names
    both = merge(values, {"commerceSync": {"salesforceOm": {"enabled": True}}})
    om = one(render(chart, both), "CronJob", f"{RELEASE}-wismo-sync-salesforce-om")
    (container,) = om["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["sync", "salesforce-om", "--since", "2d"]
    with pytest.raises(Exception, match="since"):
        render(chart, {"commerceSync": {"shopify": {"enabled": True, "since": "yesterday"}}})


def test_the_delivery_model_is_retrained_on_a_schedule_with_a_clickhouse_server(
    chart: helm_python.Chart,
) -> None:
    docs = render(chart, EXTERNAL)
    cron = one(docs, "CronJob", f"{RELEASE}-wismo-predict-train")
    assert cron["spec"]["schedule"] == "30 3 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["predict", "train"]
    env = container_env(docs, container)
    assert env["WISMO_CLICKHOUSE__URL"]  # it trains from the ClickHouse server's history
    moved = render(chart, merge(EXTERNAL, {"predictTraining": {"schedule": "0 1 * * 0"}}))
    assert one(moved, "CronJob", f"{RELEASE}-wismo-predict-train")["spec"]["schedule"] == (
        "0 1 * * 0"
    )
    # chDB: only the pod holding the files can read the history; off: none
    assert by_kind(render(chart, CHDB), "CronJob") == []
    assert (
        by_kind(render(chart, merge(EXTERNAL, {"predictTraining": {"enabled": False}})), "CronJob")
        == []
    )
