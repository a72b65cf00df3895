"""Run a command against a real local LLM: start llama.cpp's OpenAI-compatible server, run, stop it.

usage: python tests/local_llm.py COMMAND [ARG ...]       (what `make test-llm` does)

The server and models come from CITECHAT_LLM_DIR (default ./.llm), laid out as setup-local-llm.sh builds
it: venv/ with llama-cpp-python[server], models/NAME.gguf. CITECHAT_TEST_LLM_MODEL picks the model
(default qwen05), CITECHAT_TEST_LLM_PORT the port (default 8081). The command runs with
CITECHAT_ANSWERER=llm, CITECHAT_LLM_URL, CITECHAT_LLM_MODEL and CITECHAT_TEST_LLM_URL set, and
CITECHAT_LLM_TIMEOUT_S 240 unless set. With CITECHAT_TEST_LLM_URL already set (Ollama, vLLM, a server you
started), nothing is started.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

READY_TIMEOUT_S = 180.0
# The answer budget of the run unless CITECHAT_LLM_TIMEOUT_S is set: the product's default (60 s) is for a
# quiet machine; on two shared cores a 1.5B model's first replies took over a minute, and one late reply
# opens the circuit breaker, so the rest of the gold set would be answered extractively.
TEST_TIMEOUT_S = "240"


def server_command(directory: Path, model: str, port: int) -> list[str]:
    """Return the llama.cpp server command line measured to work on 2-core machines."""
    # One thread: two collapse decode speed through spin-waiting. Without --interrupt_requests False
    # a second request silently cuts the stream of the first.
    return [
        str(directory / "venv" / "bin" / "python"),
        "-m",
        "llama_cpp.server",
        "--model",
        str(directory / "models" / f"{model}.gguf"),
        "--model_alias",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--chat_format",
        "chatml",
        "--n_threads",
        "1",
        "--n_threads_batch",
        "1",
        "--interrupt_requests",
        "False",
    ]


def is_port_free(port: int) -> bool:
    """Tell whether nothing listens on 127.0.0.1:`port` (else readiness checks would reach that instead)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    """Return once GET {url}/models answers; raise SystemExit if the server dies or never answers."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"local_llm: the LLM server exited with code {server.returncode}; see its output above")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"local_llm: the LLM server did not answer at {url} within {READY_TIMEOUT_S:g} s")


def warm_up(url: str, model: str) -> None:
    """Ask one tiny question, so the first gold question does not pay for reading the weights from disk."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1})
    request = urllib.request.Request(
        f"{url}/chat/completions", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=READY_TIMEOUT_S):
        pass


def main(argv: list[str]) -> int:
    """Start the server unless one is given, run `argv` against it, stop the server; return its exit code."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    model = os.environ.get("CITECHAT_TEST_LLM_MODEL", "qwen05")
    url = os.environ.get("CITECHAT_TEST_LLM_URL")
    server = None
    if not url:
        directory = Path(os.environ.get("CITECHAT_LLM_DIR", ".llm")).expanduser().resolve()
        command = server_command(directory, model, int(os.environ.get("CITECHAT_TEST_LLM_PORT", "8081")))
        if not Path(command[0]).exists() or not Path(command[4]).exists():
            print(
                f"local_llm: no local LLM in {directory} (need venv/bin/python and models/{model}.gguf). Build one "
                f"with setup-local-llm.sh {directory} (about 15 minutes on 2 cores), or set CITECHAT_LLM_DIR to "
                "where it is, or CITECHAT_TEST_LLM_URL to a running OpenAI-compatible server.",
                file=sys.stderr,
            )
            return 2
        port = int(command[command.index("--port") + 1])
        if not is_port_free(port):
            print(
                f"local_llm: port {port} is taken; stop what listens there, set CITECHAT_TEST_LLM_PORT to a free "
                "port, or set CITECHAT_TEST_LLM_URL to use that server",
                file=sys.stderr,
            )
            return 2
        url = f"http://127.0.0.1:{port}/v1"
        print(f"local_llm: starting {model} at {url}", file=sys.stderr, flush=True)
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if server is not None:
            wait_until_ready(url, server)
            warm_up(url, model)
        environment = {
            **os.environ,
            "CITECHAT_ANSWERER": "llm",
            "CITECHAT_LLM_URL": url,
            "CITECHAT_LLM_MODEL": model,
            "CITECHAT_TEST_LLM_URL": url,
            "CITECHAT_TEST_LLM_MODEL": model,
            "CITECHAT_LLM_TIMEOUT_S": os.environ.get("CITECHAT_LLM_TIMEOUT_S", TEST_TIMEOUT_S),
        }
        return subprocess.run(argv, env=environment, check=False).returncode
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
