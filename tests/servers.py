"""Waiting for a server a test started in a process of its own."""

from __future__ import annotations

import socket
import subprocess
import time


def wait_for_port(proc: subprocess.Popen, port: int, seconds: float, what: str, poll_s: float = 0.2) -> None:
    """Return once something listens on 127.0.0.1:`port`; fail naming `what` when `proc` exits or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, f"{what} did not come up"
            time.sleep(poll_s)
