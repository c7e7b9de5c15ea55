"""mockinfra.common: settings, metrics, logs, faults and tracing shared by every mock service."""
