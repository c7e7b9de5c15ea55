"""`python -m mockinfra.backend [--instance backend-1|backend-2]`: run one backend instance.

Everything else comes from `MOCKINFRA_*` environment variables (see `config.BackendSettings`).
"""

from __future__ import annotations

import argparse

from mockinfra.backend.config import BackendSettings
from mockinfra.backend.server import run
from mockinfra.common import topology
from mockinfra.common.runtime import run_service


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mockinfra.backend", description=__doc__)
    parser.add_argument(
        "--instance",
        choices=topology.BACKEND_INSTANCES,
        help="which backend instance (port and seed error rate from the topology table); "
        "default: MOCKINFRA_INSTANCE or backend-1",
    )
    args = parser.parse_args(argv)
    settings = BackendSettings(instance=args.instance) if args.instance else BackendSettings()
    run_service(run(settings))


if __name__ == "__main__":
    main()
