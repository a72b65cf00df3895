"""`citechat serve` against hostile and careless clients: one access door for every route, 4xx for bad input.

A real server process with CITECHAT_API_TOKEN and a web login, driven over HTTP by httpx (including Gradio's own
queue protocol, as the page speaks it) and by gradio_client.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio_client
import httpx
import pytest
from processes import free_port, server_env, start_serve, stop, wait_until_answering
from pydantic import TypeAdapter
from test_api import QUESTION, START_TIMEOUT_S, Server, assert_error

from ingest.pipeline import discover_files
from rag.config import Settings
from rag.models import Answer, DocumentInfo
from ui.access import CLOSED_PREFIXES, PUBLIC_PATHS
from ui.api import ChatCompletion, DocumentsReport

pytestmark = pytest.mark.server

TOKEN = "hostile-token-7d1a"
USER, PASSWORD = "reader", "pw-3b8e"
NOTE = "Заметка о чае.\n\nЗелёный чай заваривают водой около 80 градусов в течение двух минут.\n"
NOTE_QUESTION = "Какой водой заваривают зелёный чай?"
LONG_NAME = "я" * 200 + ".txt"


@dataclass
class SecuredServer(Server):
    """The server under attack, with where Gradio keeps its uploads."""

    gradio_temp: Path = Path()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredServer]:
    """`citechat serve` with an API token and a web user; Gradio's temp dir is watched for stray writes."""
    home = tmp_path_factory.mktemp("hostile")
    env = server_env(home / "data", api_token=TOKEN, web_user=USER, web_password=PASSWORD, max_upload_mb="1")
    env["GRADIO_TEMP_DIR"] = str(home / "gradio-tmp")
    url, process, log = start_serve(home, env)
    server = SecuredServer(url, home / "data", process, log, home / "gradio-tmp")
    try:
        wait_until_answering(server.url + "/api/health", process, log, START_TIMEOUT_S)
        yield server
    finally:
        stop(process, timeout=30)


@pytest.fixture(scope="module")
def anonymous(secured: SecuredServer) -> Iterator[httpx.Client]:
    """A client without credentials."""
    with secured.client() as client:
        yield client


@pytest.fixture(scope="module")
def allowed(secured: SecuredServer) -> Iterator[httpx.Client]:
    """A client with the bearer token."""
    with secured.client(TOKEN) as client:
        yield client


def files_under(folder: Path) -> list[Path]:
    """Return every file below `folder` (none if it does not exist)."""
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


# --- one door -----------------------------------------------------------------------------------------


def app_routes() -> list[tuple[str, str]]:
    """Return (method, path) for every route of the real app, Gradio's mounted routes included."""
    from starlette.routing import Mount, Route, WebSocketRoute

    from ui.server import create_app
    from ui.services import Services

    # Routes are declared without touching the engine, so a stand-in is enough to enumerate them.
    services = Services(settings=Settings(api_token=TOKEN), engine=None, feedback=None, ingestor=None)  # type: ignore[arg-type]
    app = create_app(services.settings, services)
    found: list[tuple[str, str]] = []

    def visit(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                visit(route.routes, prefix + route.path)
            elif hasattr(route, "original_router"):  # FastAPI >= 0.160 keeps an included router as one route
                visit(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, WebSocketRoute):
                found.append(("GET", prefix + route.path))
            elif isinstance(route, Route):
                for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                    found.append((method, prefix + route.path))

    visit(app.routes, "")
    return sorted({(method, re.sub(r"\{[^}]+\}", "x", path) or "/") for method, path in found})


def test_every_route_refuses_without_credentials(secured: SecuredServer, anonymous: httpx.Client) -> None:
    routes = app_routes()
    paths = {path for _, path in routes}
    assert {"/config", "/gradio_api/upload", "/gradio_api/queue/join", "/docs", "/openapi.json", "/redoc"} <= paths
    assert {"/api/ask", "/api/documents", "/v1/chat/completions"} <= paths
    checked = 0
    for method, path in routes:
        if path in PUBLIC_PATHS:
            continue
        response = anonymous.request(method, path, headers={"Accept": "application/json"}, content=b"{}")
        expected = 404 if path.startswith(CLOSED_PREFIXES) else 401
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text[:200]}"
        assert_error(response, expected)
        checked += 1
    assert checked > 40
    assert anonymous.get("/api/health").status_code == 200


def test_wrong_credentials_are_refused_everywhere(secured: SecuredServer) -> None:
    for headers in (
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic " + base64.b64encode(f"{USER}:wrong".encode()).decode()},
        {"Cookie": "citechat_session=9999999999.forged"},
    ):
        with httpx.Client(base_url=secured.url, headers=headers) as client:
            for path in ("/config", "/api/documents", "/gradio_api/info", "/openapi.json"):
                assert_error(client.get(path), 401, "unauthorized")


def test_anonymous_upload_to_gradio_writes_nothing(secured: SecuredServer, anonymous: httpx.Client) -> None:
    uploads_before = files_under(secured.data_dir / "uploads")
    temp_before = files_under(secured.gradio_temp)
    files = [("files", ("fill.txt", b"x" * 500_000, "text/plain"))]
    assert_error(anonymous.post("/gradio_api/upload", files=files), 401, "unauthorized")
    assert_error(anonymous.post("/api/documents", files=files), 401, "unauthorized")
    assert files_under(secured.gradio_temp) == temp_before
    assert files_under(secured.data_dir / "uploads") == uploads_before


def test_docs_and_openapi_follow_the_same_auth(anonymous: httpx.Client, allowed: httpx.Client) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert_error(anonymous.get(path), 401, "unauthorized")
        assert allowed.get(path).status_code == 200
    assert "/api/ask" in allowed.get("/openapi.json").json()["paths"]


def test_browser_login_with_the_token_or_the_web_user(secured: SecuredServer) -> None:
    with httpx.Client(base_url=secured.url, headers={"Accept": "text/html"}) as browser:
        first = browser.get("/?__theme=dark")
        assert first.status_code == 303 and first.headers["location"] == "/login?next=/%3F__theme%3Ddark"
        assert browser.get("/login").status_code == 200
        refused = browser.post("/login", data={"password": "wrong", "next": "/"})
        assert refused.status_code == 401 and "citechat_session" not in refused.cookies
        evil = browser.post("/login", data={"password": TOKEN, "next": "//evil.example/"})
        assert evil.status_code == 303 and evil.headers["location"] == "/"
        cookie = evil.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert browser.get("/").status_code == 200
        assert browser.get("/config").status_code == 200
        assert browser.get("/api/documents").status_code == 200
        browser.get("/logout")
        assert browser.get("/config").status_code == 303
    with httpx.Client(base_url=secured.url) as program:
        assert program.post("/login", data={"username": USER, "password": PASSWORD}).json() == {"success": True}
        assert program.get("/config").status_code == 200


def test_gradio_client_needs_credentials_and_finds_no_named_endpoints(secured: SecuredServer) -> None:
    options: dict[str, Any] = {"verbose": False, "analytics_enabled": False, "download_files": False}
    with pytest.raises(Exception, match="401|Could not|Unauthorized|login"):
        gradio_client.Client(secured.url, **options)
    with pytest.raises(gradio_client.exceptions.AuthenticationError):
        gradio_client.Client(secured.url, auth=(USER, "wrong"), **options)
    for credentials in ({"auth": (USER, PASSWORD)}, {"headers": {"Authorization": f"Bearer {TOKEN}"}}):
        client = gradio_client.Client(secured.url, **credentials, **options)
        try:
            api = client.view_api(print_info=False, return_format="dict")
            assert api == {"named_endpoints": {}, "unnamed_endpoints": {}}
            for name in ("/ask", "/upload", "/delete", "/documents", "/rate"):
                with pytest.raises(ValueError, match="Cannot find a function"):
                    client.predict(api_name=name)
        finally:
            client.close()


def test_gradio_named_calls_are_never_served(allowed: httpx.Client, anonymous: httpx.Client) -> None:
    body = {"data": ["Где прошёл первый диалог?"]}
    for client in (allowed, anonymous):
        for path in ("/gradio_api/call/ask", "/gradio_api/call/delete", "/gradio_api/run/predict", "/gradio_api/api/x"):
            assert_error(client.post(path, json=body), 404, "not_found")


# --- the page's own channel (Gradio's queue), as the browser uses it ----------------------------------


class GradioPage:
    """Speaks the page's protocol: upload to /gradio_api/upload, run a handler through the queue."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        config = client.get("/config").json()
        self.functions = {dependency["api_name"]: dependency for dependency in config["dependencies"]}
        self.session = uuid.uuid4().hex

    def upload(self, name: str, content: bytes) -> dict[str, Any]:
        """Upload one file as the file box does; return its FileData."""
        response = self.client.post("/gradio_api/upload", files=[("files", (name, content, "text/plain"))])
        assert response.status_code == 200, response.text
        return {"path": response.json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    def run(self, function: str, data: list[Any]) -> dict[str, Any]:
        """Run a page handler through the queue in this page's session; return the completed message."""
        dependency = self.functions[function]
        session = self.session
        joined = self.client.post(
            "/gradio_api/queue/join",
            json={
                "data": data,
                "fn_index": dependency["id"],
                "session_hash": session,
                "event_data": None,
                "trigger_id": dependency["targets"][0][0],
            },
        )
        assert joined.status_code == 200, joined.text
        with self.client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return message  # type: ignore[no-any-return]
        raise AssertionError(f"{function}: the queue closed without a result")


def test_the_page_works_with_a_session_cookie_and_shows_relative_sources(secured: SecuredServer) -> None:
    with httpx.Client(base_url=secured.url, timeout=60) as browser:
        assert browser.post("/login", data={"password": TOKEN}).status_code == 200
        done = GradioPage(browser).run("documents_1", [])
    assert done["success"], done
    table = done["output"]["data"][0]
    assert "sample/japan-central-asia.ru.txt" in table
    assert str(secured.data_dir) not in table and "/ingest/sample" not in table


def test_web_upload_validates_before_storing(secured: SecuredServer, allowed: httpx.Client) -> None:
    page = GradioPage(allowed)
    good = page.upload("web-notes.txt", NOTE.encode())
    done = page.run("upload", [[good]])
    assert done["success"] and "web-notes.txt" in done["output"]["data"][0]
    stored = secured.data_dir / "uploads" / "web-notes.txt"
    assert stored.read_text(encoding="utf-8") == NOTE

    broken = page.upload("web-notes.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50)
    done = page.run("upload", [[broken]])
    assert done["success"] and "binary" in done["output"]["data"][0]
    assert stored.read_text(encoding="utf-8") == NOTE
    assert [path.name for path in files_under(secured.data_dir / "uploads")].count("web-notes.txt") == 1
    documents = TypeAdapter(list[DocumentInfo]).validate_python(allowed.get("/api/documents").json())
    assert "uploads/web-notes.txt" in {doc.source for doc in documents}

    page.run("documents", [])  # the delete box accepts only the choices the page was last sent
    deleted = page.run("delete", [["uploads/web-notes.txt"]])
    assert deleted["success"] and not stored.exists(), deleted


def test_bogus_gradio_calls_get_a_clean_4xx_and_one_log_line(secured: SecuredServer, allowed: httpx.Client) -> None:
    bogus = {"data": [], "fn_index": 999, "session_hash": "x", "event_data": None}
    assert_error(allowed.post("/gradio_api/queue/join", json=bogus), 400, "bad_request")
    assert_error(allowed.post("/gradio_api/run/predict", json={"data": []}), 404, "not_found")
    assert allowed.post("/gradio_api/queue/join", json={"garbage": 1}).status_code == 422
    log = secured.log.read_text(errors="replace")
    assert "Traceback" not in log
    assert len(re.findall(r"queue/join failed \(400\): KeyError", log)) == 1


# --- bad input gets 4xx, nothing is lost ---------------------------------------------------------------


def test_lone_surrogates_get_422(allowed: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    bodies = {
        "/api/ask": b'{"question": "\\ud800"}',
        "/api/ask/stream": b'{"question": "\\ud800 \\u0433\\u0434\\u0435"}',
        "/v1/chat/completions": b'{"messages": [{"role": "user", "content": "\\udfff"}]}',
        "/api/feedback": b'{"question": "q", "answer": "\\ud83d", "rating": "up"}',
    }
    for path, body in bodies.items():
        error = assert_error(allowed.post(path, content=body, headers=headers), 422, "invalid_input")
        assert "surrogate" in error.error.message


def test_overlong_file_name_fails_alone(secured: SecuredServer, allowed: httpx.Client) -> None:
    files = [
        ("files", (LONG_NAME, NOTE.encode(), "text/plain")),
        ("files", ("tea.txt", NOTE.encode(), "text/plain")),
    ]
    response = allowed.post("/api/documents", files=files)
    assert response.status_code == 200, response.text
    report = {item.filename: item for item in DocumentsReport.model_validate(response.json()).files}
    assert report[LONG_NAME].status == "failed" and "255 bytes" in report[LONG_NAME].error
    assert report["tea.txt"].status in ("added", "unchanged") and report["tea.txt"].source == "uploads/tea.txt"
    answer = Answer.model_validate(allowed.post("/api/ask", json={"question": NOTE_QUESTION}).json())
    assert "uploads/tea.txt" in {citation.source for citation in answer.citations}


def test_bad_upload_never_replaces_a_good_one(secured: SecuredServer, allowed: httpx.Client) -> None:
    good = allowed.post("/api/documents", files={"files": ("notes.txt", NOTE.encode(), "text/plain")})
    assert DocumentsReport.model_validate(good.json()).files[0].status in ("added", "unchanged")
    stored = secured.data_dir / "uploads" / "notes.txt"
    before = stored.read_bytes()
    for broken in (b"", b"\x00\x01binary\x00" * 40, "не UTF-8".encode("cp1251")):
        response = allowed.post("/api/documents", files={"files": ("notes.txt", broken, "text/plain")})
        assert DocumentsReport.model_validate(response.json()).files[0].status == "failed"
        assert stored.read_bytes() == before
    assert not [path for path in (secured.data_dir / "uploads").iterdir() if path.name.startswith(".incoming")]


def test_same_name_says_updated_and_delete_removes_the_file(secured: SecuredServer, allowed: httpx.Client) -> None:
    first = allowed.post("/api/documents", files={"files": ("shared.md", b"# One\n\nFirst version.", "text/markdown")})
    assert DocumentsReport.model_validate(first.json()).files[0].status == "added"
    second = allowed.post("/api/documents", files={"files": ("shared.md", b"# Two\n\nSecond one.", "text/markdown")})
    assert DocumentsReport.model_validate(second.json()).files[0].status == "updated"
    stored = secured.data_dir / "uploads" / "shared.md"
    assert stored.read_bytes() == b"# Two\n\nSecond one."
    removed = allowed.delete("/api/documents", params={"source": "uploads/shared.md"})
    assert DocumentsReport.model_validate(removed.json()).files[0].status == "removed"
    assert not stored.exists()
    assert_error(allowed.delete("/api/documents", params={"source": "uploads/shared.md"}), 404, "not_found")


def test_sources_are_relative_and_spans_still_match(secured: SecuredServer, allowed: httpx.Client) -> None:
    allowed.post("/api/documents", files={"files": ("span.txt", NOTE.encode(), "text/plain")})
    documents = TypeAdapter(list[DocumentInfo]).validate_python(allowed.get("/api/documents").json())
    answer = Answer.model_validate(allowed.post("/api/ask", json={"question": NOTE_QUESTION}).json())
    chat = ChatCompletion.model_validate(
        allowed.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": NOTE_QUESTION}]}).json()
    )
    sources = [doc.source for doc in documents] + [c.source for c in answer.citations + chat.citations]
    assert sources and not [source for source in sources if source.startswith("/") or os.sep + "tmp" in source]
    for citation in answer.citations:
        if citation.source.startswith("uploads/"):
            text = (secured.data_dir / citation.source).read_text(encoding="utf-8")
            assert text[citation.start : citation.end] == citation.text


def test_store_still_answers_after_the_attacks(secured: SecuredServer, allowed: httpx.Client) -> None:
    assert secured.process.poll() is None
    answer = Answer.model_validate(allowed.post("/api/ask", json={"question": QUESTION}).json())
    assert not answer.abstained and "sample/japan-central-asia.ru.txt" in {c.source for c in answer.citations}
    assert "Traceback" not in secured.log.read_text(errors="replace")


# --- starting and ingesting ----------------------------------------------------------------------------


def test_serve_refuses_an_open_non_loopback_host(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=server_env(tmp_path / "data"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--public" in result.stderr and "CITECHAT_API_TOKEN" in result.stderr
    assert not (tmp_path / "data" / "chroma").exists()


def test_cli_ingest_skips_links_that_leave_the_folder(tmp_path: Path) -> None:
    folder, outside = tmp_path / "articles", tmp_path / "secret.txt"
    folder.mkdir()
    (folder / "note.txt").write_text(NOTE, encoding="utf-8")
    outside.write_text("root:x:0:0", encoding="utf-8")
    (folder / "passwd.txt").symlink_to(outside)
    (folder / "alias.txt").symlink_to(folder / "note.txt")
    found, skipped = discover_files([folder])
    assert sorted(path.name for path in found) == ["alias.txt", "note.txt"]
    assert len(skipped) == 1 and "symbolic link" in skipped[0].error and "passwd.txt" in skipped[0].error
