"""The mock frontend: FastAPI pages, the seed's JSON API and the gRPC gateway to the backends."""
