"""A local OpenAI-compatible chat-completions server for tests: replies are scripted, requests recorded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = str | Callable[[dict[str, Any]], str]


class FakeOpenAIServer:
    """Serves POST /v1/chat/completions (JSON or SSE) on a free localhost port from a background thread.

    Set `reply` (text, or a function of the request body) before a request; `status` != 200 sends an
    OpenAI-style error body; `delay_s` waits before the headers (a hung server); `stall_after_chunks`
    stops sending mid-stream; `chunk_delay_s` paces the chunks like a slow model; `finish_reason` is
    sent in the last chunk, or, when None, the stream ends with [DONE] and no finish_reason at all (a
    reply cut by the server); `malformed` sends an SSE event that is not JSON. Every request body lands
    in `requests`, and every stream's end in `stream_ends`: "completed", or "abandoned" when the
    client hung up first.
    """

    def __init__(self, reply: Reply = "", chunk_chars: int = 5) -> None:
        self.reply: Reply = reply
        self.chunk_chars = chunk_chars
        self.status = 200
        self.delay_s = 0.0
        self.stall_after_chunks: int | None = None
        self.chunk_delay_s = 0.0
        self.finish_reason: str | None = "stop"
        self.malformed = False
        self.requests: list[dict[str, Any]] = []
        self.stream_ends: list[str] = []
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the base URL clients take (`.../v1`)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        """Start serving in a background thread and return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still waiting on a delay or stall are abandoned."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _reply_text(self, body: dict[str, Any]) -> str:
        return self.reply(body) if callable(self.reply) else self.reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                fake.requests.append(body)
                if fake._stopping.wait(fake.delay_s):
                    return
                if fake.status != 200:
                    self._send_json(fake.status, {"error": {"message": "scripted failure", "type": "server_error"}})
                    return
                text = fake._reply_text(body)
                try:
                    if body.get("stream"):
                        self._send_stream(body, text)
                        fake.stream_ends.append("completed")
                    else:
                        self._send_json(200, _completion(body, text))
                except (BrokenPipeError, ConnectionResetError):
                    fake.stream_ends.append("abandoned")

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, body: dict[str, Any], text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                if fake.malformed:
                    self.wfile.write(b"data: {this is not json\n\n")
                    self.wfile.flush()
                    return
                pieces = [text[i : i + fake.chunk_chars] for i in range(0, len(text), fake.chunk_chars)]
                for number, piece in enumerate(pieces):
                    if fake.stall_after_chunks is not None and number >= fake.stall_after_chunks:
                        fake._stopping.wait(3600)
                        return
                    delta = {"role": "assistant", "content": piece} if number == 0 else {"content": piece}
                    self._send_event(_chunk(body, delta, None))
                    if fake.chunk_delay_s and fake._stopping.wait(fake.chunk_delay_s):
                        return
                if fake.finish_reason is not None:
                    self._send_event(_chunk(body, {}, fake.finish_reason))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _send_event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")
                self.wfile.flush()

        return Handler


def _chunk(body: dict[str, Any], delta: dict[str, str], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
