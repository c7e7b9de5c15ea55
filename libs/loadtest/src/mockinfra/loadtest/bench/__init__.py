"""`python -m mockinfra.loadtest.bench`: the cached read path's throughput against a bare chain."""
