"""Slack bot: a real `citechat slack --http` talking to a real `citechat serve`; only Slack's Web API is faked."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import free_port, stop, wait_until_answering

from rag.config import Settings
from rag.models import Answer, Citation, Highlight, Timings
from ui.cli import main
from ui.slack_bot import RecentKeys, SlackBot, answer_timeout, load_slack_settings, thread_turns
from ui.slack_format import (
    BUTTON_VALUE_LIMIT,
    MAX_BLOCKS,
    MAX_CONTEXT_ELEMENTS,
    SECTION_TEXT_LIMIT,
    build_answer_message,
    decode_feedback_reference,
    extract_question,
    format_excerpt,
)

SIGNING_SECRET = "test-signing-secret"
API_TOKEN = "test-api-token"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
ASKER = "U0ASKER"
WAIT_S = 60.0


# ---------------------------------------------------------------- fake Slack Web API


class FakeSlack:
    """Slack's Web API on localhost: answers the methods the bot uses, keeps threads, records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.forbidden_history: set[str] = set()
        self._lock = threading.Lock()
        self._clock = 1_800_000_000.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                self._reply(fake.call(urllib.parse.urlsplit(self.path).path, query))

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(urllib.parse.parse_qsl(raw))
                self._reply(fake.call(urllib.parse.urlsplit(self.path).path, params))

            def _reply(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next_ts(self) -> str:
        """Return a fresh, increasing Slack message timestamp."""
        with self._lock:
            self._clock += 1.0
            return f"{self._clock:.6f}"

    def add_message(self, channel: str, message: dict[str, Any]) -> None:
        """Store a message as Slack would (what a person sent), in its thread."""
        with self._lock:
            self.threads.setdefault((channel, message.get("thread_ts") or message["ts"]), []).append(message)

    def call(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one Web API call (path /api/<method>, or a response_url /response/<id>)."""
        method = path.removeprefix("/api/").strip("/")
        with self._lock:
            self.calls.append((method, params))
        if method.startswith("response/"):
            return {"ok": True}
        if method == "auth.test":
            return {"ok": True, "team_id": "T1", "team": "Test", "user_id": BOT_USER, "bot_id": BOT_ID, "user": "bot"}
        if method == "chat.postMessage":
            blocks = params.get("blocks")
            message = {
                "type": "message",
                "user": BOT_USER,
                "bot_id": BOT_ID,
                "text": params.get("text", ""),
                "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks or [],
                "ts": self.next_ts(),
                "thread_ts": params.get("thread_ts"),
            }
            self.add_message(params["channel"], message)
            return {"ok": True, "channel": params["channel"], "ts": message["ts"], "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        if method == "conversations.replies":
            if params["channel"] in self.forbidden_history:
                return {"ok": False, "error": "missing_scope"}
            with self._lock:
                messages = list(self.threads.get((params["channel"], params["ts"]), []))
            return {"ok": True, "messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}}
        if method == "apps.connections.open":
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": False, "error": "unknown_method"}

    def posts(self, channel: str, thread_ts: str, method: str = "chat.postMessage") -> list[dict[str, Any]]:
        """Return the recorded calls of a method to a channel's thread."""
        with self._lock:
            return [
                p
                for m, p in self.calls
                if m == method and p.get("channel") == channel and p.get("thread_ts") == thread_ts
            ]

    def recorded(self, method: str) -> list[dict[str, Any]]:
        """Return the parameters of every recorded call of a method."""
        with self._lock:
            return [p for m, p in self.calls if m == method]


# ---------------------------------------------------------------- processes


def clean_environment(**extra: str) -> dict[str, str]:
    """The parent environment without CITECHAT_*/SLACK_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITECHAT_", "SLACK_"))}
    env.update(HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", PYTHONUNBUFFERED="1", **extra)
    return env


def start_process(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start a command with its output in a log file."""
    handle = log.open("wb")
    return subprocess.Popen(args, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)


@dataclass
class Bot:
    """A running `citechat slack --http` and the fake Slack it talks to."""

    url: str
    slack: FakeSlack
    log: Path

    def send(self, payload: bytes | str, content_type: str = "application/json", **headers: str) -> httpx.Response:
        """POST a request signed with the test signing secret to /slack/events."""
        body = payload.encode() if isinstance(payload, str) else payload
        timestamp = headers.pop("timestamp", str(int(time.time())))
        signature = headers.pop("signature", sign(body, timestamp))
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
            **headers,
        }
        return httpx.post(f"{self.url}/slack/events", content=body, headers=all_headers, timeout=10)

    def send_event(self, event: dict[str, Any], event_id: str | None = None, **headers: str) -> httpx.Response:
        """Deliver one Events API callback."""
        envelope = {
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event": event,
            "event_id": event_id or f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}],
        }
        return self.send(json.dumps(envelope, ensure_ascii=False), **headers)

    def mention(self, channel: str, text: str, thread_ts: str | None = None, **headers: str) -> str:
        """A person mentions the bot (the message also lands in the fake thread store); returns its ts."""
        ts = self.slack.next_ts()
        event = {"type": "app_mention", "user": ASKER, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        self.slack.add_message(channel, {k: v for k, v in event.items() if k != "event_ts"} | {"type": "message"})
        response = self.send_event(event, **headers)
        assert response.status_code == 200, response.text
        return ts


def sign(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """Return Slack's v0 request signature."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def wait_for(condition: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
    """Poll until `condition()` is truthy and return its value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the bot")


@pytest.fixture(scope="module")
def serve_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory of the module's `citechat serve`."""
    return tmp_path_factory.mktemp("serve-data")


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory, serve_data_dir: Path) -> Iterator[str]:
    """A real `citechat serve` on localhost (it ingests the bundled article into an empty store)."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("serve")
    log = workdir / "serve.log"
    args = [sys.executable, "-m", "ui.cli", "serve", "--port", str(port), "--data-dir", str(serve_data_dir)]
    process = start_process(args, clean_environment(CITECHAT_API_TOKEN=API_TOKEN), workdir, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/api/health", process, log)
        yield url
    finally:
        stop(process)


def start_bot(
    tmp_path_factory: pytest.TempPathFactory, api: str, name: str, timeout_s: float = 20, api_token: str = API_TOKEN
) -> Generator[Bot, None, None]:
    """Run `citechat slack --http` against `api` and a fresh fake Slack."""
    slack = FakeSlack()
    port = free_port()
    workdir = tmp_path_factory.mktemp(name)
    log = workdir / "slack.log"
    env = clean_environment(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        CITECHAT_API_URL=api,
        CITECHAT_API_TOKEN=api_token,
        CITECHAT_SLACK_API_URL=f"{slack.url}/api/",
        CITECHAT_SLACK_TIMEOUT_S=str(timeout_s),
    )
    process = start_process([sys.executable, "-m", "ui.cli", "slack", "--http", "--port", str(port)], env, workdir, log)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/slack/health", process, log, timeout_s=60)
        yield Bot(url=f"http://127.0.0.1:{port}", slack=slack, log=log)
    finally:
        stop(process)
        slack.server.shutdown()


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, api_url: str) -> Iterator[Bot]:
    """The bot pointed at the real citechat API."""
    yield from start_bot(tmp_path_factory, api_url, "bot")


@pytest.fixture(scope="module")
def orphan_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """A bot pointed at a port where no citechat API listens."""
    yield from start_bot(tmp_path_factory, f"http://127.0.0.1:{free_port()}", "orphan-bot")


@pytest.fixture(scope="module")
def slow_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """A bot with a 1-second API timeout pointed at an API that takes 5 seconds."""

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            time.sleep(5)
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield from start_bot(tmp_path_factory, f"http://127.0.0.1:{server.server_address[1]}", "slow-bot", 1.0)
    finally:
        server.shutdown()


def block_texts(blocks: list[dict[str, Any]], prefix: str) -> list[str]:
    """Texts of the blocks whose block_id starts with `prefix` (section text or context elements joined)."""
    texts = []
    for block in blocks:
        if str(block.get("block_id", "")).startswith(prefix):
            if "text" in block:
                texts.append(block["text"]["text"])
            else:
                texts.append(" ".join(e.get("text", "") for e in block.get("elements", [])))
    return texts


def assert_within_slack_limits(blocks: list[dict[str, Any]]) -> None:
    """Block Kit limits: 50 blocks, 3000 characters a text, 10 context elements, 2000-character button values."""
    assert 0 < len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_TEXT_LIMIT
        if block["type"] == "context":
            assert 0 < len(block["elements"]) <= MAX_CONTEXT_ELEMENTS
            assert all(len(e["text"]) <= SECTION_TEXT_LIMIT for e in block["elements"])
        if block["type"] == "actions":
            assert all(len(e["value"]) <= BUTTON_VALUE_LIMIT for e in block["elements"])


# ---------------------------------------------------------------- HTTP Events mode: verification


@pytest.mark.server
def test_url_verification_answers_the_challenge(bot: Bot) -> None:
    response = bot.send(json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"}))
    assert response.status_code == 200
    assert "c-123" in response.text


@pytest.mark.server
def test_bad_signature_and_stale_timestamp_are_rejected(bot: Bot) -> None:
    ts = bot.slack.next_ts()
    event = {"type": "app_mention", "user": ASKER, "text": f"<@{BOT_USER}> Где Токио?", "ts": ts, "channel": "CSIG"}
    forged = bot.send_event(event, signature="v0=" + "0" * 64)
    stale_time = str(int(time.time()) - 600)
    body = json.dumps({"type": "event_callback", "event_id": "EvStale", "event": event})
    stale = bot.send(body, timestamp=stale_time, signature=sign(body.encode(), stale_time))
    unsigned = httpx.post(f"{bot.url}/slack/events", content=body, timeout=10)
    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    time.sleep(1.0)
    assert bot.slack.posts("CSIG", ts) == []


# ---------------------------------------------------------------- answering


@pytest.mark.server
def test_mention_is_answered_in_its_thread_with_sources(bot: Bot) -> None:
    started = time.monotonic()
    ts = bot.mention("CANSWER", f"<@{BOT_USER}> Где прошёл первый диалог «Центральная Азия плюс Япония»?")
    assert time.monotonic() - started < 3.0, "the event must be acknowledged within Slack's 3 seconds"

    post = wait_for(lambda: bot.slack.posts("CANSWER", ts))[0]
    blocks = post["blocks"]
    assert "Токио" in post["text"]
    assert "Токио" in " ".join(block_texts(blocks, "citechat-answer"))
    sources = block_texts(blocks, "citechat-source-")
    assert sources and sources[0].startswith("*[1]*")
    assert "japan-central-asia" in sources[0]
    assert " *" in sources[0], "the answering sentence is bold in the excerpt"
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["citechat_feedback_up", "citechat_feedback_down"]
    assert_within_slack_limits(blocks)


@pytest.mark.server
def test_out_of_corpus_question_gets_a_refusal(bot: Bot) -> None:
    ts = bot.mention("CREFUSE", f"<@{BOT_USER}> Какая сегодня погода в Астане?")
    post = wait_for(lambda: bot.slack.posts("CREFUSE", ts))[0]
    assert "В документах нет ответа" in post["text"]
    assert block_texts(post["blocks"], "citechat-refusal-hint")
    assert not block_texts(post["blocks"], "citechat-source-")


@pytest.mark.server
def test_direct_message_is_answered_in_its_thread(bot: Bot) -> None:
    ts = bot.slack.next_ts()
    event = {
        "type": "message",
        "channel_type": "im",
        "user": ASKER,
        "text": "Где используется галлий?",
        "ts": ts,
        "channel": "DASKER",
    }
    assert bot.send_event(event).status_code == 200
    post = wait_for(lambda: bot.slack.posts("DASKER", ts))[0]
    assert "полупроводник" in post["text"].lower()


@pytest.mark.server
def test_follow_up_in_a_thread_uses_the_thread_as_history(bot: Bot) -> None:
    parent = bot.mention("CFOLLOW", f"<@{BOT_USER}> Что такое Средний коридор?")
    wait_for(lambda: bot.slack.posts("CFOLLOW", parent))
    bot.slack.add_message(
        "CFOLLOW",
        {"type": "message", "user": "U0OTHER", "text": "интересно", "ts": bot.slack.next_ts(), "thread_ts": parent},
    )
    follow_up = bot.mention("CFOLLOW", f"<@{BOT_USER}> Почему Япония его поддерживает?", thread_ts=parent)

    posts = wait_for(lambda: len(bot.slack.posts("CFOLLOW", parent)) >= 2 and bot.slack.posts("CFOLLOW", parent))
    replies = bot.slack.recorded("conversations.replies")
    assert {"channel": "CFOLLOW", "ts": parent}.items() <= replies[-1].items()
    assert "коридор" in posts[1]["text"].lower(), "without history the question is about another topic"
    assert follow_up != parent


@pytest.mark.server
def test_follow_up_without_history_scope_uses_the_bots_memory(bot: Bot) -> None:
    bot.slack.forbidden_history.add("CNOSCOPE")
    parent = bot.mention("CNOSCOPE", f"<@{BOT_USER}> Что такое Средний коридор?")
    wait_for(lambda: bot.slack.posts("CNOSCOPE", parent))
    bot.mention("CNOSCOPE", f"<@{BOT_USER}> Почему Япония его поддерживает?", thread_ts=parent)
    posts = wait_for(lambda: len(bot.slack.posts("CNOSCOPE", parent)) >= 2 and bot.slack.posts("CNOSCOPE", parent))
    assert "коридор" in posts[1]["text"].lower()


@pytest.mark.server
def test_retried_event_is_answered_once(bot: Bot) -> None:
    ts = bot.slack.next_ts()
    event = {
        "type": "app_mention",
        "user": ASKER,
        "text": f"<@{BOT_USER}> Где используется галлий?",
        "ts": ts,
        "channel": "CRETRY",
    }
    first = bot.send_event(event, event_id="EvRetry1")
    retry = bot.send_event(
        event, event_id="EvRetry1", **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert (first.status_code, retry.status_code) == (200, 200)
    wait_for(lambda: bot.slack.posts("CRETRY", ts))
    time.sleep(1.5)
    assert len(bot.slack.posts("CRETRY", ts)) == 1


@pytest.mark.server
def test_bot_messages_edits_and_unknown_events_are_ignored(bot: Bot) -> None:
    ts = bot.slack.next_ts()
    ignored: list[dict[str, Any]] = [
        {"type": "message", "channel_type": "im", "subtype": "bot_message", "bot_id": "BOTHER", "text": "Где Токио?"},
        {"type": "message", "channel_type": "im", "user": "U0BOT", "bot_id": "BOTHER", "text": "Где Токио?"},
        {"type": "message", "channel_type": "im", "user": BOT_USER, "bot_id": BOT_ID, "text": "Где Токио?"},
        {"type": "message", "channel_type": "im", "subtype": "message_changed", "message": {"text": "Где?"}},
        {"type": "app_mention", "user": "U0BOT", "bot_id": "BOTHER", "text": f"<@{BOT_USER}> Где Токио?"},
        {"type": "message", "channel_type": "channel", "user": ASKER, "text": "Где Токио?"},
        {"type": "reaction_added", "user": ASKER, "reaction": "thumbsup", "item": {"type": "message"}},
    ]
    for event in ignored:
        response = bot.send_event({**event, "ts": ts, "channel": "DIGNORE"})
        assert response.status_code == 200, event
    time.sleep(2.0)
    assert bot.slack.posts("DIGNORE", ts) == []


@pytest.mark.server
def test_empty_mention_and_bare_file_share_get_hints(bot: Bot) -> None:
    ts = bot.mention("CHINT", f"<@{BOT_USER}>  ")
    hint = wait_for(lambda: bot.slack.posts("CHINT", ts))[0]
    assert "Задайте вопрос" in hint["text"]

    file_ts = bot.slack.next_ts()
    event = {
        "type": "message",
        "subtype": "file_share",
        "channel_type": "im",
        "user": ASKER,
        "text": "",
        "files": [{"id": "F1", "name": "scan.pdf"}],
        "ts": file_ts,
        "channel": "DFILE",
    }
    bot.send_event(event)
    assert "вложения" in wait_for(lambda: bot.slack.posts("DFILE", file_ts))[0]["text"]


@pytest.mark.server
def test_huge_question_is_cut_with_a_note(bot: Bot) -> None:
    question = "Где используется галлий? " + "очень длинное уточнение " * 300
    ts = bot.mention("CHUGE", f"<@{BOT_USER}> {question}")
    post = wait_for(lambda: bot.slack.posts("CHUGE", ts))[0]
    assert "длиннее 2000 символов" in " ".join(block_texts(post["blocks"], "citechat-notice"))
    assert block_texts(post["blocks"], "citechat-answer")


@pytest.mark.server
def test_api_down_gets_an_apology_in_the_thread(orphan_bot: Bot) -> None:
    ts = orphan_bot.mention("CDOWN", f"<@{BOT_USER}> Где прошёл первый диалог?")
    post = wait_for(lambda: orphan_bot.slack.posts("CDOWN", ts))[0]
    assert "Извините" in post["text"]
    assert "cannot reach" in orphan_bot.log.read_text()
    # the bot survives and keeps answering
    again = orphan_bot.mention("CDOWN", f"<@{BOT_USER}> А сейчас?")
    assert "Извините" in wait_for(lambda: orphan_bot.slack.posts("CDOWN", again))[0]["text"]


@pytest.mark.server
def test_slow_api_gets_an_apology_after_the_timeout(slow_bot: Bot) -> None:
    ts = slow_bot.mention("CSLOW", f"<@{BOT_USER}> Где прошёл первый диалог?")
    post = wait_for(lambda: slow_bot.slack.posts("CSLOW", ts), timeout_s=10)[0]
    assert "Извините" in post["text"]
    assert "did not answer within 1 s" in slow_bot.log.read_text()


@pytest.mark.server
def test_wrong_api_token_is_logged_and_apologised_for(tmp_path_factory: pytest.TempPathFactory, api_url: str) -> None:
    bots = start_bot(tmp_path_factory, api_url, "wrong-token-bot", api_token="wrong-token")
    wrong = next(bots)
    try:
        ts = wrong.mention("CTOKEN", f"<@{BOT_USER}> Где используется галлий?")
        assert "Извините" in wait_for(lambda: wrong.slack.posts("CTOKEN", ts))[0]["text"]
        assert "answered 401" in wrong.log.read_text()
    finally:
        bots.close()


# ---------------------------------------------------------------- slash command and feedback


@pytest.mark.server
def test_slash_command_replies_through_the_response_url(bot: Bot) -> None:
    form = {
        "command": "/ask",
        "text": "Где используется галлий?",
        "response_url": f"{bot.slack.url}/response/ask-1",
        "user_id": ASKER,
        "channel_id": "CSLASH",
        "team_id": "T1",
        "trigger_id": "trig",
        "token": "legacy",
    }
    started = time.monotonic()
    response = bot.send(urllib.parse.urlencode(form), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert time.monotonic() - started < 3.0
    reply = wait_for(lambda: bot.slack.recorded("response/ask-1"))[0]
    assert reply["response_type"] == "ephemeral"
    assert "полупроводник" in reply["text"].lower()
    assert block_texts(reply["blocks"], "citechat-source-")
    assert_within_slack_limits(reply["blocks"])


@pytest.mark.server
def test_feedback_button_is_stored_by_the_api(bot: Bot, serve_data_dir: Path) -> None:
    ts = bot.mention("CFEED", f"<@{BOT_USER}> Где используется галлий?")
    answer = wait_for(lambda: bot.slack.posts("CFEED", ts))[0]
    button = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"][1]
    payload = {
        "type": "block_actions",
        "user": {"id": ASKER},
        "team": {"id": "T1"},
        "channel": {"id": "CFEED"},
        "container": {"type": "message", "channel_id": "CFEED", "message_ts": "1"},
        "message": {"ts": "1", "text": answer["text"], "thread_ts": ts, "bot_id": BOT_ID},
        "response_url": f"{bot.slack.url}/response/feedback-1",
        "trigger_id": "trig",
        "actions": [{**button, "block_id": "citechat-feedback", "type": "button", "action_ts": "1"}],
    }
    form = urllib.parse.urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
    assert bot.send(form, content_type="application/x-www-form-urlencoded").status_code == 200

    thanks = wait_for(lambda: bot.slack.posts("CFEED", ts, method="chat.postEphemeral"))[0]
    assert thanks["user"] == ASKER and "Спасибо" in thanks["text"]
    records = [json.loads(line) for line in (serve_data_dir / "feedback.jsonl").read_text().splitlines()]
    record = records[-1]
    assert (record["rating"], record["channel"]) == ("down", "slack")
    assert record["question"] == "Где используется галлий?"
    assert "полупроводник" in record["answer"].lower()
    assert record["citations"] and record["citations"][0]["source"].endswith("japan-central-asia.ru.txt")


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["slack"], {}, "SLACK_BOT_TOKEN"),
        (["slack", "--http"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (["slack"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
        (
            ["slack"],
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "x", "CITECHAT_SLACK_SLASH_REPLY": "loud"},
            "slash_reply",
        ),
    ],
)
def test_missing_or_invalid_settings_exit_2_naming_the_variable(
    argv: list[str],
    env: dict[str, str],
    named: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and named in error


@pytest.mark.server
def test_socket_mode_with_a_rejected_app_token_exits_2(tmp_path: Path) -> None:
    slack = FakeSlack()
    env = clean_environment(
        SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-bad", CITECHAT_SLACK_API_URL=f"{slack.url}/api/"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ui.cli", "slack"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    finally:
        slack.server.shutdown()
    assert done.returncode == 2, done.stderr
    assert "SLACK_APP_TOKEN" in done.stderr.splitlines()[-1]
    assert [method for method, _ in slack.calls] == ["auth.test", "apps.connections.open"]


def test_manifest_declares_what_the_bot_listens_to() -> None:
    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parents[1] / "ui" / "slack_manifest.yaml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {
        "app_mentions:read",
        "chat:write",
        "commands",
        "im:history",
        "channels:history",
        "groups:history",
    }
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_mention", "message.im"]
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/ask"]
    assert manifest["settings"]["interactivity"]["is_enabled"] and manifest["settings"]["socket_mode_enabled"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"]


# ---------------------------------------------------------------- formatting and history, no servers


def make_answer(text: str, citations: int, passage_chars: int = 600) -> Answer:
    """An answer with `citations` long cited passages, each highlighting a sentence in the middle."""
    passage = ("Вводное предложение про регион. " * 40)[:passage_chars]
    return Answer(
        question="q",
        standalone_question="q",
        answer=text,
        abstained=False,
        citations=[
            Citation(
                marker=i + 1,
                text=passage,
                source=f"docs/{i}.txt",
                title=f"Статья {i} " * 30,
                start=0,
                end=len(passage),
                score=0.5,
                highlights=[Highlight(start=200, end=260)],
            )
            for i in range(citations)
        ],
        timings_ms=Timings(),
    )


def test_a_huge_answer_with_many_sources_stays_within_block_kit_limits() -> None:
    answer = make_answer("Очень длинный ответ с <угловыми> скобками & амперсандами. " * 3000, citations=80)
    message = build_answer_message(answer, "Вопрос? " * 400, notice="обрезано")
    assert_within_slack_limits(message.blocks)
    assert block_texts(message.blocks, "citechat-source-more")
    assert "&lt;угловыми&gt;" in message.blocks[1]["text"]["text"]
    reference = decode_feedback_reference(message.blocks[-1]["elements"][0]["value"])
    assert reference is not None and reference.q.startswith("Вопрос?") and reference.c


def test_excerpt_bolds_the_highlight_and_stays_short() -> None:
    citation = make_answer("a", citations=1).citations[0]
    excerpt = format_excerpt(citation)
    highlighted = " ".join(citation.text[200:260].split())
    assert f"*{highlighted}*" in excerpt
    assert excerpt.startswith("…") and excerpt.endswith("…") and len(excerpt) < 400


def test_extract_question_strips_mentions_and_unescapes() -> None:
    text = "<@UBOT|citechat> что такое &lt;C5+1&gt; в <#C123|general>, см. <https://x.org|сайт> <!here>"
    assert extract_question(text) == "что такое <C5+1> в #general, см. сайт"
    assert extract_question("<@UBOT>   ") == ""


def test_thread_turns_keep_answers_and_questions_only() -> None:
    answer_block = [{"type": "section", "block_id": "citechat-answer-0", "text": {"type": "mrkdwn", "text": "x"}}]
    messages: list[dict[str, Any]] = [
        {"ts": "1.0", "user": ASKER, "text": "<@UBOT> Что такое &lt;коридор&gt;?"},
        {"ts": "2.0", "user": BOT_USER, "bot_id": BOT_ID, "text": "Маршрут &amp; путь", "blocks": answer_block},
        {"ts": "2.5", "user": BOT_USER, "bot_id": BOT_ID, "text": "Извините", "blocks": [{"block_id": "notice"}]},
        {"ts": "3.0", "user": "U0OTHER", "text": "болтовня без упоминания"},
        {"ts": "3.5", "bot_id": "BOTHER", "subtype": "bot_message", "text": "<@UBOT> чужой бот"},
        {"ts": "4.0", "user": ASKER, "text": "<@UBOT> А почему?"},
    ]
    turns = thread_turns(messages, "4.0", BOT_USER, BOT_ID, direct=False, max_chars=1000)
    assert [(t.role, t.content) for t in turns] == [("user", "Что такое <коридор>?"), ("assistant", "Маршрут & путь")]
    direct = thread_turns(messages, "9.0", BOT_USER, BOT_ID, direct=True, max_chars=1000)
    assert [t.content for t in direct][-2:] == ["болтовня без упоминания", "А почему?"]


def test_recent_keys_drop_repeats_and_forget_after_the_ttl() -> None:
    keys = RecentKeys(ttl_s=0.2, max_keys=3)
    assert keys.claim(["a", "b"]) and not keys.claim(["b"]) and keys.claim(["c"])
    time.sleep(0.3)
    assert keys.claim(["a"])


def test_feedback_from_an_ephemeral_answer_uses_the_reference_in_the_button() -> None:
    answer = make_answer("Галлий используется в полупроводниках. [1]", citations=2)
    value = build_answer_message(answer, "Где используется галлий?").blocks[-1]["elements"][0]["value"]
    body = {"type": "block_actions", "user": {"id": ASKER}, "container": {"is_ephemeral": True}}
    feedback = SlackBot._feedback_from(body, {"action_id": "citechat_feedback_up", "value": value})
    assert (feedback.rating, feedback.channel, feedback.question) == ("up", "slack", "Где используется галлий?")
    assert feedback.answer == answer.answer
    assert [(c.marker, c.source) for c in feedback.citations] == [(1, "docs/0.txt"), (2, "docs/1.txt")]


def test_bot_waits_as_long_as_the_answer_budget_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert answer_timeout(load_slack_settings(), Settings(llm_timeout_s=60)) == 90
    monkeypatch.setenv("CITECHAT_SLACK_TIMEOUT_S", "12")
    assert answer_timeout(load_slack_settings(), Settings(llm_timeout_s=60)) == 12
