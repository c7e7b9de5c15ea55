"""The backend API server (backend-1, backend-2): gRPC over PostgreSQL and Valkey."""

__version__ = "0.1.0"
