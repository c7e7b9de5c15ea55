"""Where the rendered configuration says things are: hosts, listen address and paths, per mode.

The same templates render for two modes. `local`: every component on 127.0.0.1, every file in
the state folder (what `up` runs under supervisord). `compose`: every component is the compose
service of the same name with its topology port, listening on 0.0.0.0 in its container; the
configuration is written flat into one folder every container mounts at `/config`, and logs and
data live in the compose volumes. Templates get these values and `mode`; nothing else differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from mockinfra.common import topology
from mockinfra.stack.state import State

Mode = Literal["local", "compose"]
MODES: Final[tuple[Mode, ...]] = ("local", "compose")

# Container paths of compose.yaml's volumes (tests/env checks the compose file agrees).
COMPOSE_LOGS: Final = Path("/var/log/mockinfra")
COMPOSE_NGINX_RUN: Final = Path("/tmp")  # the nginx image's writable scratch folder
COMPOSE_LOKI_DATA: Final = Path("/loki")
COMPOSE_PROMTAIL_DATA: Final = Path("/var/lib/promtail")
# Docker's default address pools are all private (RFC 1918): the compose network is in one.
COMPOSE_NETWORKS: Final = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


@dataclass(frozen=True, slots=True)
class Layout:
    """Hosts and paths the rendered files refer to; `config` is also where they are written."""

    mode: Mode
    listen: str  # the address servers bind
    config: Path
    logs: Path
    run: Path  # nginx's pid file and temporary folders
    tls: Path
    loki_data: Path
    promtail_data: Path

    @classmethod
    def local(cls, state: State) -> Layout:
        return cls(
            mode="local",
            listen=topology.HOST,
            config=state.config,
            logs=state.logs,
            run=state.run / "nginx",
            tls=state.tls,
            loki_data=state.data / "loki",
            promtail_data=state.data / "promtail",
        )

    @classmethod
    def compose(cls, out: Path) -> Layout:
        out = out.resolve()
        return cls(
            mode="compose",
            listen="0.0.0.0",  # inside a container, reached on the compose network only
            config=out,
            logs=COMPOSE_LOGS,
            run=COMPOSE_NGINX_RUN,
            tls=out / "tls",
            loki_data=COMPOSE_LOKI_DATA,
            promtail_data=COMPOSE_PROMTAIL_DATA,
        )

    def host(self, name: str) -> str:
        """How other components reach `name`: loopback locally, its service name in compose."""
        topology.component(name)  # a typo fails here, not in a rendered file
        return topology.HOST if self.mode == "local" else name

    def addr(self, name: str, port: str = "main") -> str:
        return f"{self.host(name)}:{topology.component(name).ports[port]}"

    def bind(self, name: str, port: str = "main") -> str:
        """The address `name` listens on for `port`."""
        return f"{self.listen}:{topology.component(name).ports[port]}"

    def url(self, name: str, port: str = "main") -> str:
        return f"http://{self.addr(name, port)}"

    @property
    def status_allow(self) -> tuple[str, ...]:
        """Who may read nginx's stub_status: the local exporter, or the compose network's."""
        return (topology.HOST,) if self.mode == "local" else (topology.HOST, *COMPOSE_NETWORKS)
