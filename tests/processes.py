"""Helpers for tests that run real servers as subprocesses on localhost."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """Return a TCP port on localhost nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """Build a child environment explicitly: no CITECHAT_* leaks from the developer's shell."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "SYSTEMROOT") if name in os.environ}
    env.update(
        CITECHAT_DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"CITECHAT_{name.upper()}": value for name, value in settings.items()})
    return env


def start_serve(home: Path, env: dict[str, str], cwd: Path | None = None) -> tuple[str, subprocess.Popen[bytes], Path]:
    """Start `citechat serve` on a free port, its output in `home`/server.log; return (url, process, log)."""
    port = free_port()
    log = home / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "serve", "--port", str(port)],
            cwd=cwd or home,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return f"http://127.0.0.1:{port}", process, log


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Terminate a process a test started, kill it if it lingers, and reap it."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 240.0) -> None:
    """Poll `url` until it answers 200; fail with the process log's tail if the process exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{log.name}: process exited with {process.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {timeout_s} s:\n{_tail(log)}")


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:]


class ChromaServer:
    """A real `chroma run` on a free port, which a test may stop and start again on the same port and data."""

    def __init__(self, home: Path) -> None:
        self.path = home / "chroma-server-data"
        self.log = home / "chroma.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the server and wait for its heartbeat."""
        chroma = Path(sys.executable).with_name("chroma")
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [str(chroma), "run", "--path", str(self.path), "--port", str(self.port)],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start: {_tail(self.log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (its data stays for the next start)."""
        if self.process is not None:
            stop(self.process, timeout=10)
            self.process = None
