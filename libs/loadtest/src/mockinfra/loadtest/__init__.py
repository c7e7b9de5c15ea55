"""Load tests and benchmarks against the running stack."""
