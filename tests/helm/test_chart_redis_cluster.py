"""The chart points wismo at a Redis Cluster: ``settings.redis.cluster`` with ``externalRedis``."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

import helm_python
import pytest

from tests.helm.test_chart import (
    CHART,
    EXTERNAL,
    RELEASE,
    container_env,
    containers,
    one,
    render,
)
from wismo.settings import Settings


@pytest.fixture(scope="module")
def loaded() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as chart:
        yield chart


def _cluster_values() -> dict[str, Any]:
    values = copy.deepcopy(EXTERNAL)
    values["externalRedis"]["url"] = "redis://:pw@redis-cluster.example.internal:6379"
    values["settings"]["redis"] = {"cluster": True}
    return values


def test_the_cluster_setting_reaches_every_wismo_container(
    loaded: helm_python.Chart, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(loaded, _cluster_values())
    api = one(docs, "Deployment", f"{RELEASE}-wismo-api")
    env = container_env(docs, containers(api)[-1])
    for name in list(os.environ):
        if name.startswith("WISMO_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.redis.cluster is True
    assert settings.redis.url == "redis://:pw@redis-cluster.example.internal:6379"


def test_a_cluster_needs_an_external_redis(loaded: helm_python.Chart) -> None:
    with pytest.raises(Exception, match=r"settings\.redis\.cluster needs externalRedis"):
        render(loaded, {"settings": {"redis": {"cluster": True}}})
