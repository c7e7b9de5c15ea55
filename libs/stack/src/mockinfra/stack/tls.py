"""The self-signed certificate nginx terminates TLS with on :8443 (the seed's SSL termination)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mockinfra.stack import binaries
from mockinfra.stack.state import State


async def ensure_certificate(state: State) -> tuple[Path, Path, bool]:
    """(cert, key, created): generated once per state folder, CN localhost, SAN 127.0.0.1."""
    cert, key = state.tls / "cert.pem", state.tls / "key.pem"
    if cert.exists() and key.exists():
        return cert, key, False
    openssl = binaries.BY_KEY["openssl"].require()
    proc = await asyncio.create_subprocess_exec(
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
        "-days", "825", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(key), "-out", str(cert),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl failed: {output.decode(errors='replace')}")
    key.chmod(0o600)
    return cert, key, True
