# syntax=docker/dockerfile:1
# One image for every Python service (frontend, backend-1/2, alertsink) and the one-shot
# `config` job of compose.yaml; the command picks which. Dependencies come from uv.lock only.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Locked third-party dependencies first, so code changes do not re-install them.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=libs,target=libs \
    --mount=type=bind,source=services,target=services \
    uv sync --frozen --no-dev --all-packages --no-install-workspace
# Then the workspace itself. Editable installs on purpose: the stack code finds infra/ (the
# templates `render` uses, the PostgreSQL schema) relative to its own files, as in a checkout.
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
# openssl: the `config` job generates nginx's self-signed certificate with it, as locally.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mockinfra \
 && useradd --system --uid 10001 --gid mockinfra --home-dir /app --shell /usr/sbin/nologin mockinfra \
 && install -d -o mockinfra -g mockinfra /config /var/log/mockinfra /var/lib/mockinfra
COPY --from=builder --chown=root:root /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MOCKINFRA_HOST=0.0.0.0 \
    MOCKINFRA_STATE_DIR=/var/lib/mockinfra \
    MOCKINFRA_HEALTH_URL=http://127.0.0.1:3001/health
WORKDIR /app
USER mockinfra
EXPOSE 3001 4001 4002 9095 9401 9402
# compose.yaml gives each service its own check (gRPC health for the backends); this default
# fits the HTTP services: set MOCKINFRA_HEALTH_URL to the service's /health.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['MOCKINFRA_HEALTH_URL'], timeout=4)"]
CMD ["python", "-m", "mockinfra.frontend"]
