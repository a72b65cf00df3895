"""`citechat ingest` while `citechat serve` runs on the same data directory: two real processes.

The running server must answer from what the CLI ingested within seconds (the CLI sends its work to
the server, the one writer of the embedded store), removals likewise, and what would silently diverge
or corrupt the store (reindex, a second server) is refused with a message saying what to do.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from processes import free_port, server_env, start_serve, stop, wait_until_answering

from rag.models import Answer
from ui.writer_lock import KEY_HEADER, read_writer

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "concurrent-token-7d1e"
DRAGON = (
    "Зелёный дракон Фафнир живёт в пещере под горой Кракатау. "
    "Фафнир охраняет сундук с сорока тысячами золотых монет.\n\n"
    "Каждую весну дракон Фафнир вылетает из пещеры и облетает окрестные деревни.\n"
)
QUESTION = "Сколько золотых монет охраняет дракон Фафнир?"


@dataclass
class Server:
    """A running `citechat serve` with its data directory and environment."""

    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path


def child_env(data_dir: Path, token: str | None) -> dict[str, str]:
    """The server's and the CLI's environment: the data directory and, when given, the API token."""
    return server_env(data_dir, **({"api_token": token} if token else {}))


def citechat(server: Server, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    """Run a CLI command against the server's data directory, from another working directory."""
    env = child_env(server.data_dir, token)
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=server.data_dir.parent,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with an API token on a fresh data directory (seeded with the bundled article)."""
    home = tmp_path_factory.mktemp("concurrent")
    env = child_env(home / "data", TOKEN)
    url, process, log = start_serve(home, env, cwd=ROOT)
    running = Server(url, home / "data", env, process, log)
    try:
        wait_until_answering(running.url + "/api/health", process, log, 240)
        yield running
    finally:
        stop(process, timeout=30)


def ask(server: Server) -> Answer:
    """Ask the server the question only the dragon file answers."""
    response = httpx.post(
        server.url + "/api/ask",
        json={"question": QUESTION},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return Answer.model_validate(response.json())


def test_server_answers_from_a_cli_ingest_and_forgets_a_cli_removal(server: Server) -> None:
    dragon = server.data_dir.parent / "dragon.txt"
    dragon.write_text(DRAGON, encoding="utf-8")
    assert ask(server).abstained

    added = citechat(server, "ingest", str(dragon))
    assert added.returncode == 0, added.stderr
    assert "1 added" in added.stdout
    assert "citechat serve" in added.stderr  # the CLI says where its work went
    answer = ask(server)
    assert not answer.abstained, answer.answer
    assert "сорока тысячами" in answer.answer
    assert any(citation.source.endswith("dragon.txt") for citation in answer.citations)

    again = citechat(server, "ingest", str(dragon))
    assert again.returncode == 0, again.stderr
    assert "1 unchanged" in again.stdout

    removed = citechat(server, "ingest", "--remove", str(dragon))
    assert removed.returncode == 0, removed.stderr
    assert "1 removed" in removed.stdout
    assert ask(server).abstained


def test_cli_without_the_servers_token_is_told_to_set_it(server: Server) -> None:
    dragon = server.data_dir.parent / "dragon-untokened.txt"
    dragon.write_text(DRAGON, encoding="utf-8")
    result = citechat(server, "ingest", str(dragon), token=None)
    assert result.returncode == 2
    assert "CITECHAT_API_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_local_ingest_route_needs_the_data_directory_key(server: Server) -> None:
    record = read_writer(server.data_dir)
    assert record is not None and record.kind == "serve" and record.url == server.url
    assert (server.data_dir / "writer.json").stat().st_mode & 0o077 == 0  # only the owner can read the key
    body = {"paths": ["/etc/hostname"]}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for headers in (auth, {**auth, KEY_HEADER: "guessed"}):
        response = httpx.post(server.url + "/api/local/ingest", json=body, headers=headers, timeout=30)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["message"]
    no_token = httpx.post(server.url + "/api/local/ingest", json=body, headers={KEY_HEADER: record.key}, timeout=30)
    assert no_token.status_code == 401


def test_reindex_and_a_second_server_are_refused_while_serving(server: Server) -> None:
    reindex = citechat(server, "reindex")
    assert reindex.returncode == 2
    assert "Stop the server" in reindex.stderr

    second = citechat(server, "serve", "--port", str(free_port()))
    assert second.returncode == 2
    assert "already serves" in second.stderr
    assert server.process.poll() is None
    ask(server)  # the first server still answers
