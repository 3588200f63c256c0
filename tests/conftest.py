"""Suite-wide configuration: hypothesis profiles.

``HYPOTHESIS_PROFILE=ci`` (what ``make test`` and ``.ci/run`` use) runs at least 500 examples
per property; ``dev`` is the quick default for local iteration.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.cluster_fixture import (  # noqa: F401  (fixtures: a real Redis Cluster)
    redis_cluster_client,
    redis_cluster_store,
    redis_cluster_url,
)

settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
