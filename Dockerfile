# syntax=docker/dockerfile:1
#
# The wismo image: one image for every role (`wismo api`, `wismo worker`,
# `wismo run --roles …`, `wismo db migrate`). Build: docker build -t wismo:0.1.0 .

# Python 3.11 on Debian 13 (trixie), the current Debian stable with security support.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

# ---- build: the wismo wheel plus a wheel for every dependency ------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# A compiler only for a dependency without a wheel for this platform; it never reaches the
# runtime image. Debian point releases replace package versions, so they are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN python -m pip wheel --wheel-dir /wheels .

# ---- runtime: the wheels installed, no build tools, no sources, not root -------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WISMO_DATA_DIR=/var/lib/wismo \
    WISMO_API__HOST=0.0.0.0
# tini runs as PID 1: it forwards SIGTERM to wismo (graceful drain) and reaps the children that
# chDB and the embedded services may start.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 wismo \
    && useradd --uid 10001 --gid wismo --no-log-init --home-dir /var/lib/wismo \
       --shell /usr/sbin/nologin wismo \
    && install -d -o wismo -g wismo -m 0750 /var/lib/wismo
# Only the wheels built above are installable here (--no-index): the versions are those pinned
# by the build stage's resolution.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels wismo \
    && wismo --help >/dev/null
USER 10001:10001
WORKDIR /var/lib/wismo
# 8080: API (HTTP, websockets, /healthz, /readyz, /metrics); 6066: a stream worker's
# /metrics and watchdog /healthz.
EXPOSE 8080 6066
# For plain Docker; Kubernetes uses the chart's probes. HEALTHCHECK_URL points it at a
# worker's port when the container runs stream roles.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('HEALTHCHECK_URL', 'http://127.0.0.1:8080/healthz'), timeout=4)"]
ENTRYPOINT ["tini", "--", "wismo"]
CMD ["api"]
