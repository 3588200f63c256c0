"""Shape checks for the custom resources the chart renders.

kubernetes-validate only knows the built-in kinds, so the operators' resources (Strimzi,
Altinity, Prometheus operator) are checked against these small JSON schemas instead: the fields
the chart relies on, with their types, and nothing the operators would reject as unknown at the
top of the spec.
"""

from __future__ import annotations

from typing import Any

_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
_QUANTITY = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|K|M|G|T|P)?$"}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}


def _resource(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": _NAME, "labels": _LABELS, "annotations": _LABELS},
            },
            "spec": spec,
        },
    }


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": required or [],
        "additionalProperties": False,
    }


_TOPIC_CONFIG = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}

_STRIMZI_VOLUME = _obj(
    {
        "id": {"type": "integer", "minimum": 0},
        "type": {"enum": ["persistent-claim", "ephemeral"]},
        "size": _QUANTITY,
        "class": {"type": "string"},
        "deleteClaim": {"type": "boolean"},
        "kraftMetadata": {"enum": ["shared"]},
    },
    ["id", "type"],
)

SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("kafka.strimzi.io/v1", "Kafka"): _resource(
        "kafka.strimzi.io/v1",
        "Kafka",
        _obj(
            {
                "kafka": _obj(
                    {
                        "version": {"type": "string"},
                        "metadataVersion": {"type": "string"},
                        "listeners": {
                            "type": "array",
                            "minItems": 1,
                            "items": _obj(
                                {
                                    "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
                                    "port": {"type": "integer", "minimum": 9092},
                                    "type": {
                                        "enum": [
                                            "internal",
                                            "route",
                                            "loadbalancer",
                                            "nodeport",
                                            "ingress",
                                            "cluster-ip",
                                        ]
                                    },
                                    "tls": {"type": "boolean"},
                                },
                                ["name", "port", "type", "tls"],
                            ),
                        },
                        "config": _TOPIC_CONFIG,
                    },
                    ["listeners"],
                ),
                "entityOperator": _obj(
                    {"topicOperator": {"type": "object"}, "userOperator": {"type": "object"}}
                ),
            },
            ["kafka"],
        ),
    ),
    ("kafka.strimzi.io/v1", "KafkaNodePool"): _resource(
        "kafka.strimzi.io/v1",
        "KafkaNodePool",
        _obj(
            {
                "replicas": {"type": "integer", "minimum": 0},
                "roles": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"enum": ["controller", "broker"]},
                },
                "storage": _obj(
                    {
                        "type": {"const": "jbod"},
                        "volumes": {"type": "array", "minItems": 1, "items": _STRIMZI_VOLUME},
                    },
                    ["type", "volumes"],
                ),
                "resources": {"type": "object"},
            },
            ["replicas", "roles", "storage"],
        ),
    ),
    ("kafka.strimzi.io/v1", "KafkaTopic"): _resource(
        "kafka.strimzi.io/v1",
        "KafkaTopic",
        _obj(
            {
                "topicName": {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,249}$"},
                "partitions": {"type": "integer", "minimum": 1},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                "config": _TOPIC_CONFIG,
            },
            ["partitions", "replicas"],
        ),
    ),
    ("clickhouse.altinity.com/v1", "ClickHouseInstallation"): _resource(
        "clickhouse.altinity.com/v1",
        "ClickHouseInstallation",
        _obj(
            {
                "configuration": _obj(
                    {
                        "users": {"type": "object"},
                        "settings": {"type": "object"},
                        "zookeeper": _obj(
                            {
                                "nodes": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": _obj(
                                        {"host": {"type": "string"}, "port": {"type": "integer"}},
                                        ["host"],
                                    ),
                                }
                            },
                            ["nodes"],
                        ),
                        "clusters": {
                            "type": "array",
                            "minItems": 1,
                            "items": _obj(
                                {
                                    "name": {"type": "string"},
                                    "layout": _obj(
                                        {
                                            "shardsCount": {"type": "integer", "minimum": 1},
                                            "replicasCount": {"type": "integer", "minimum": 1},
                                        }
                                    ),
                                },
                                ["name", "layout"],
                            ),
                        },
                    },
                    ["clusters"],
                ),
                "defaults": {"type": "object"},
                "templates": {"type": "object"},
            },
            ["configuration"],
        ),
    ),
    ("clickhouse-keeper.altinity.com/v1", "ClickHouseKeeperInstallation"): _resource(
        "clickhouse-keeper.altinity.com/v1",
        "ClickHouseKeeperInstallation",
        _obj(
            {
                "configuration": _obj(
                    {
                        "clusters": {"type": "array", "minItems": 1},
                        "settings": {"type": "object"},
                    },
                    ["clusters"],
                ),
                "defaults": {"type": "object"},
                "templates": {"type": "object"},
            },
            ["configuration"],
        ),
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _resource(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        _obj(
            {
                "namespaceSelector": {"type": "object"},
                "selector": _obj({"matchLabels": _LABELS}, ["matchLabels"]),
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": _obj(
                        {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string"},
                            "scrapeTimeout": {"type": "string"},
                        },
                        ["port"],
                    ),
                },
            },
            ["selector", "endpoints"],
        ),
    ),
}
