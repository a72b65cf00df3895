"""Helpers for tests that run real servers as subprocesses on localhost."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """Return a TCP port on localhost nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Terminate a process a test started, kill it if it lingers, and reap it."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
