"""One servicer module per gRPC service of `mockinfra.v1`."""
