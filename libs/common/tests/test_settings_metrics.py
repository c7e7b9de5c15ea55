"""Settings from env and profiles; metric exposition."""

from __future__ import annotations

import pytest

from mockinfra.common.metrics import Metrics
from mockinfra.common.settings import ServiceSettings


def test_env_and_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOCKINFRA_SERVICE", "backend")
    monkeypatch.setenv("MOCKINFRA_INSTANCE", "backend-2")
    monkeypatch.setenv("MOCKINFRA_PROFILE", "seed")
    s = ServiceSettings()
    assert (s.error_rate, s.latency_mean_ms, s.latency_p95_ms) == (0.20, 100.0, 500.0)
    monkeypatch.setenv("MOCKINFRA_ERROR_RATE", "0.05")
    assert ServiceSettings().error_rate == 0.05  # explicit beats the profile
    monkeypatch.setenv("MOCKINFRA_PROFILE", "off")
    s = ServiceSettings()
    assert (s.error_rate, s.latency_mean_ms) == (0.05, 0.0)
    assert str(s.state_dir) == ".state"
    monkeypatch.setenv("MOCKINFRA_ERROR_RATE", "1.5")
    with pytest.raises(ValueError):
        ServiceSettings()


def test_exposition_has_names_and_labels() -> None:
    m = Metrics("backend", "backend-1")
    m.observe_http("GET", "/api/data", 200, 0.05)
    m.observe_db("select", 0.01)
    m.cache_hit("data")
    m.labels_for(m.queue_messages_total, queue="high-priority", outcome="enqueued").inc()
    body, content_type = m.expose()
    text = body.decode()
    assert content_type.startswith("text/plain")
    for line in (
        'http_requests_total{instance="backend-1",method="GET",route="/api/data",'
        'service="backend",status_code="200"} 1.0',
        'faults_injected_total{fault="crash",instance="backend-1",service="backend"} 0.0',
        'queue_size{instance="backend-1",queue="dead-letter",service="backend"} 0.0',
        'cache_hits_total{cache="data",instance="backend-1",service="backend"} 1.0',
        'queue_messages_total{instance="backend-1",outcome="enqueued",queue="high-priority",'
        'service="backend"} 1.0',
    ):
        assert line in text, line
    assert "db_query_duration_seconds_bucket" in text
    assert "process_cpu_seconds_total" in text
    with pytest.raises(ValueError):
        m.labels_for(m.queue_size, pool="x")
    # Two instances in one process do not clash: each has its own registry.
    Metrics("backend", "backend-2")
