"""nginx's connection settings toward the upstreams, shared by the stack and the bench.

The stack's `nginx.conf.j2` and the bench's bare chain (`mockinfra.loadtest.bench.chain`) both
render these, so the bench's ceiling is measured with the same connection handling as the stack.
"""

from __future__ import annotations

from typing import Final

# Idle HTTP/1.1 connections each nginx worker keeps to the frontend (uvicorn).
FRONTEND_KEEPALIVE: Final = 64

# Idle connections each nginx worker keeps to the gRPC backends. nginx proxies every gRPC call
# over its own upstream connection (it does not multiplex streams upstream), so this must cover
# the calls in flight: at 32, a 64-connection bench closed and reopened about 400 connections a
# minute to each backend, and each new one costs the grpc server a transport set-up.
BACKEND_KEEPALIVE: Final = 256

# Requests per client connection on the internal gRPC listener. The frontend sends every backend
# call over one HTTP/2 connection; nginx's default of 1000 closed it every few seconds under load
# and the calls in flight failed as UNAVAILABLE "GOAWAY received" (docs/performance.md).
GRPC_KEEPALIVE_REQUESTS: Final = 1_000_000
