"""Generated from proto/mockinfra/v1 by scripts/gen_protos.py; do not edit."""
