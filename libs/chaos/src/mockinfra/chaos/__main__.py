"""`python -m mockinfra.chaos`: list, run, or recover from chaos scenarios (see docs/chaos.md)."""

from mockinfra.chaos.cli import chaos_main

if __name__ == "__main__":
    raise SystemExit(chaos_main())
