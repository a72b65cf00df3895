"""`citechat slack`: a Slack bot that answers mentions, DMs and /ask in threads through the citechat HTTP API."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.config import Settings, load_settings
from rag.errors import BackendUnavailableError, ConfigurationError
from rag.feedback import Feedback
from rag.models import Answer, Citation, Turn
from ui.slack_format import (
    APOLOGY,
    FEEDBACK_ACTION_DOWN,
    FEEDBACK_ACTION_UP,
    FEEDBACK_FAILED,
    FEEDBACK_THANKS,
    FILE_HINT,
    USAGE_HINT,
    SlackMessage,
    build_answer_message,
    build_notice_message,
    decode_feedback_reference,
    escape_mrkdwn,
    extract_question,
    is_answer_message,
    unescape_mrkdwn,
)

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient
    from starlette.applications import Starlette

log = logging.getLogger("citechat.slack")

INSTALL_HINT = "the Slack bot needs slack-bolt; install it with: pip install 'citechat[slack]'"
SLACK_SECRET_FIELDS = frozenset({"bot_token", "signing_secret", "app_token"})
# Message subtypes that are a person writing; everything else (bot_message, message_changed, channel_join …) is not.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
# Slack retries an unacknowledged event after about 0 s, 1 min and 5 min; keys live a little longer than that.
DEDUPE_TTL_S = 15 * 60
DEDUPE_MAX_KEYS = 10_000


class SlackSettings(BaseSettings):
    """Slack-side settings: Slack's own token variables plus CITECHAT_SLACK_* knobs."""

    model_config = SettingsConfigDict(
        env_prefix="CITECHAT_SLACK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    bot_token: SecretStr | None = Field(
        default=None, validation_alias="SLACK_BOT_TOKEN", description="Bot User OAuth Token (xoxb-…)."
    )
    signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET", description="Signing Secret (HTTP Events mode)."
    )
    app_token: SecretStr | None = Field(
        default=None, validation_alias="SLACK_APP_TOKEN", description="App-Level Token xapp-… (Socket Mode)."
    )
    api_base_url: str = Field(
        default="https://slack.com/api/",
        validation_alias="CITECHAT_SLACK_API_URL",
        description="Slack Web API base URL; override only to point at a test double.",
    )
    slash_reply: Literal["in_channel", "ephemeral"] = Field(
        default="ephemeral", description="Whether /ask answers are visible to the channel or only to the asker."
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP Events mode binds (0.0.0.0 for all).")
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        le=900,
        description="citechat API request timeout, seconds (default: the answer budget CITECHAT_LLM_TIMEOUT_S "
        "plus 30 s for retrieval and the fallback).",
    )
    history_turns: int = Field(default=10, ge=0, le=200, description="Earlier thread turns sent as history.")
    max_question_chars: int = Field(
        default=2000, ge=20, le=20000, description="Longest question sent to the API; longer ones are cut."
    )
    workers: int = Field(default=8, ge=1, le=64, description="Questions answered concurrently.")

    @field_validator("api_base_url")
    @classmethod
    def _must_be_http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value if value.endswith("/") else value + "/"

    def describe(self) -> dict[str, str]:
        """Return the effective settings as strings, secrets masked, for start-up logs."""
        shown: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            label = str(info.validation_alias or f"CITECHAT_SLACK_{name.upper()}")
            if name in SLACK_SECRET_FIELDS:
                shown[label] = "***" if value else "(unset)"
            else:
                shown[label] = "(unset)" if value is None else str(value)
        return shown


def load_slack_settings(**overrides: object) -> SlackSettings:
    """Build Slack settings from overrides, the environment and `.env`; invalid values raise ConfigurationError."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return SlackSettings(**given)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ConfigurationError(f"invalid Slack configuration ({problems})") from None


# What an answer may take beyond the LLM's budget: retrieval, checks, and the extractive fallback.
ANSWER_MARGIN_S = 30.0


def answer_timeout(slack: SlackSettings, settings: Settings) -> float:
    """Return how long the bot waits for an answer: the configured timeout, else the server's budget plus margin."""
    return slack.timeout_s if slack.timeout_s is not None else settings.llm_timeout_s + ANSWER_MARGIN_S


def require_tokens(slack: SlackSettings, http: bool) -> None:
    """Raise ConfigurationError naming the first missing variable the chosen mode needs."""
    needed = [
        ("SLACK_BOT_TOKEN", slack.bot_token, "the Bot User OAuth Token (xoxb-…) from OAuth & Permissions"),
        ("SLACK_SIGNING_SECRET", slack.signing_secret, "the Signing Secret from Basic Information")
        if http
        else ("SLACK_APP_TOKEN", slack.app_token, "an App-Level Token (xapp-…) with connections:write"),
    ]
    for name, value, what in needed:
        if value is None or not value.get_secret_value().strip():
            raise ConfigurationError(f"{name} is not set: export {name} with {what} (see README, Slack bot)")


class CitechatApiError(BackendUnavailableError):
    """The citechat API failed; `rejected` means it refused this question (4xx) rather than being unavailable."""

    def __init__(self, message: str, rejected: bool = False) -> None:
        super().__init__(message)
        self.rejected = rejected


class CitechatApi:
    """A small client of the citechat HTTP API (/api/ask, /api/feedback, /api/health); thread-safe."""

    def __init__(self, base_url: str, token: str | None, timeout_s: float) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def ask(self, question: str, history: list[Turn]) -> Answer:
        """Return the API's answer to a question with earlier turns."""
        payload = {"question": question, "history": [turn.model_dump() for turn in history]}
        data = self._post("/api/ask", payload)
        try:
            return Answer.model_validate(data)
        except ValidationError as error:
            raise CitechatApiError(f"/api/ask returned an unexpected body: {error.errors()[0]['msg']}") from None

    def send_feedback(self, feedback: Feedback) -> None:
        """Store a rating through /api/feedback."""
        self._post("/api/feedback", feedback.model_dump(mode="json"))

    def is_healthy(self) -> bool:
        """Whether GET /api/health answers 200."""
        try:
            return self._http.get("/api/health").status_code == 200
        except httpx.HTTPError:
            return False

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        url = self.base_url + path
        try:
            response = self._http.post(path, json=payload)
        except httpx.TimeoutException:
            raise CitechatApiError(f"{url} did not answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as error:
            raise CitechatApiError(f"cannot reach {url}: {error}") from None
        if response.status_code >= 400:
            message = _error_message(response)
            rejected = response.status_code in (400, 413, 422)
            raise CitechatApiError(f"{url} answered {response.status_code}: {message}", rejected=rejected)
        try:
            return response.json()
        except ValueError:
            raise CitechatApiError(f"{url} answered with a body that is not JSON") from None


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        return str(error.get("message") or error.get("code") or response.text[:200])
    except (ValueError, AttributeError):
        return response.text[:200]


class RecentKeys:
    """A bounded set of recently seen keys with a time to live, for dropping repeated deliveries."""

    def __init__(self, ttl_s: float = DEDUPE_TTL_S, max_keys: int = DEDUPE_MAX_KEYS) -> None:
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, keys: Iterable[str]) -> bool:
        """Record the keys and return True, or return False if any of them was seen within the TTL."""
        now = time.monotonic()
        keys = list(keys)
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now - self.ttl_s or len(self._seen) > self.max_keys
            ):
                self._seen.popitem(last=False)
            if any(key in self._seen for key in keys):
                return False
            for key in keys:
                self._seen[key] = now
            return True


class ThreadMemory:
    """The bot's own question/answer turns per thread, used when conversations.replies is not allowed."""

    def __init__(self, max_threads: int = 2000, max_turns: int = 40) -> None:
        self.max_threads = max_threads
        self.max_turns = max_turns
        self._threads: OrderedDict[tuple[str, str], list[Turn]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, channel: str, thread_ts: str, question: str, answer: str) -> None:
        """Append one exchange to a thread's memory, evicting the least recently used thread if full."""
        with self._lock:
            turns = self._threads.pop((channel, thread_ts), [])
            turns += [Turn(role="user", content=question), Turn(role="assistant", content=answer)]
            self._threads[(channel, thread_ts)] = turns[-self.max_turns :]
            while len(self._threads) > self.max_threads:
                self._threads.popitem(last=False)

    def turns(self, channel: str, thread_ts: str) -> list[Turn]:
        """Return the remembered turns of a thread (oldest first)."""
        with self._lock:
            return list(self._threads.get((channel, thread_ts), []))


def is_from_bot(message: dict[str, Any]) -> bool:
    """Whether a message or event was written by a bot (this one or another) rather than a person."""
    return bool(message.get("bot_id") or message.get("bot_profile")) or message.get("subtype") == "bot_message"


def thread_turns(
    messages: list[dict[str, Any]],
    before_ts: str,
    bot_user_id: str | None,
    bot_id: str | None,
    direct: bool,
    max_chars: int,
) -> list[Turn]:
    """Turn a thread's messages before `before_ts` into history: our answers as assistant, questions as user.

    In channels only messages that mention the bot count as questions (people also talk to each other in
    threads); in direct messages every message from the person does. Hints, apologies and other bots are skipped.
    """
    turns: list[Turn] = []
    for message in sorted(messages, key=lambda m: float(m.get("ts") or 0)):
        if float(message.get("ts") or 0) >= float(before_ts):
            continue
        ours = (bot_user_id and message.get("user") == bot_user_id) or (bot_id and message.get("bot_id") == bot_id)
        if ours:
            if is_answer_message(message):
                turns.append(Turn(role="assistant", content=unescape_mrkdwn(message.get("text") or "")[:max_chars]))
            continue
        if is_from_bot(message) or message.get("subtype") not in PERSON_SUBTYPES:
            continue
        text = message.get("text") or ""
        if not direct and not (bot_user_id and f"<@{bot_user_id}" in text):
            continue
        question = extract_question(text)
        if question:
            turns.append(Turn(role="user", content=question[:max_chars]))
    return turns


class SlackBot:
    """The listeners: thin adapters between Slack payloads and the citechat API; no answering logic here."""

    def __init__(self, slack: SlackSettings, api: CitechatApi) -> None:
        self.slack = slack
        self.api = api
        self.recent = RecentKeys()
        self.memory = ThreadMemory()

    def register(self, app: App) -> None:
        """Attach every listener to a bolt App; the catch-all keeps unknown events acknowledged and silent."""
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.event(re.compile(r".*"))(self.on_other_event)
        app.command("/ask")(self.on_ask_command)
        app.action(re.compile(f"^({FEEDBACK_ACTION_UP}|{FEEDBACK_ACTION_DOWN})$"))(self.on_feedback)
        app.error(self.on_error)

    def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: WebClient, request: Any
    ) -> None:
        """Answer an @mention in its thread."""
        self._handle_question(event, body, context, client, request, direct=False)

    def on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: WebClient, request: Any
    ) -> None:
        """Answer a direct message in its thread; other message events (channels, edits, joins) are ignored."""
        if event.get("channel_type") != "im" or event.get("subtype") not in PERSON_SUBTYPES:
            return
        self._handle_question(event, body, context, client, request, direct=True)

    def on_other_event(self, event: dict[str, Any]) -> None:
        """Acknowledge and ignore event types the bot does not handle."""
        log.debug("ignoring event type %s", event.get("type"))

    def _handle_question(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: WebClient, request: Any, direct: bool
    ) -> None:
        channel, ts = event.get("channel"), event.get("ts")
        if is_from_bot(event) or not channel or not ts:
            return
        keys = [f"message:{channel}:{ts}"] + ([f"event:{body['event_id']}"] if body.get("event_id") else [])
        if not self.recent.claim(keys):
            retry = (request.headers.get("x-slack-retry-num") or ["-"])[0]
            log.info("ignoring repeated delivery of %s %s (retry %s)", channel, ts, retry)
            return
        thread_ts = event.get("thread_ts") or ts
        try:
            self._answer_in_thread(event, context, client, channel, thread_ts, direct)
        except Exception:  # one bad event must never take the bot down
            log.exception("failed to answer %s %s", channel, ts)
            self._post(client, channel, thread_ts, build_notice_message(APOLOGY))

    def _answer_in_thread(
        self, event: dict[str, Any], context: Any, client: WebClient, channel: str, thread_ts: str, direct: bool
    ) -> None:
        question = extract_question(event.get("text") or "")
        if not question:
            self._post(
                client, channel, thread_ts, build_notice_message(FILE_HINT if event.get("files") else USAGE_HINT)
            )
            return
        question, notice = self._limit(question)
        history: list[Turn] = []
        if event.get("thread_ts") and self.slack.history_turns:
            history = self._thread_history(client, context, channel, thread_ts, event["ts"], direct)
        try:
            answer = self.api.ask(question, history)
        except CitechatApiError as error:
            log.error("citechat API failed for %s %s: %s", channel, event["ts"], error)
            self._post(client, channel, thread_ts, build_notice_message(self._apology(error)))
            return
        self._post(client, channel, thread_ts, build_answer_message(answer, question, notice))
        self.memory.remember(channel, thread_ts, question, answer.answer)

    def _thread_history(
        self, client: WebClient, context: Any, channel: str, thread_ts: str, before_ts: str, direct: bool
    ) -> list[Turn]:
        from slack_sdk.errors import SlackApiError

        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        try:
            while len(messages) < 1000:
                page = client.conversations_replies(channel=channel, ts=thread_ts, limit=200, cursor=cursor)
                messages += page.get("messages") or []
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as error:
            log.warning(
                "conversations.replies failed (%s); using the bot's own memory of this thread",
                error.response.get("error"),
            )
            turns = self.memory.turns(channel, thread_ts)
        else:
            turns = thread_turns(
                messages, before_ts, context.bot_user_id, context.bot_id, direct, self.slack.max_question_chars * 10
            )
        return turns[-self.slack.history_turns :]

    def _limit(self, question: str) -> tuple[str, str | None]:
        limit = self.slack.max_question_chars
        if len(question) <= limit:
            return question, None
        return question[:limit], f":scissors: Вопрос длиннее {limit} символов, я ответил на его начало."

    @staticmethod
    def _apology(error: CitechatApiError) -> str:
        if error.rejected:
            return f"Не получилось ответить на этот вопрос: {escape_mrkdwn(str(error).split(': ', 1)[-1])}"
        return APOLOGY

    @staticmethod
    def _post(client: WebClient, channel: str, thread_ts: str, message: SlackMessage) -> None:
        try:
            client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=escape_mrkdwn(message.text),
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception:
            log.exception("chat.postMessage to %s (thread %s) failed", channel, thread_ts)

    def on_ask_command(self, ack: Callable[..., None], command: dict[str, Any], respond: Callable[..., Any]) -> None:
        """Answer `/ask question` in the channel or only to the asker, as configured."""
        ack()
        try:
            question = extract_question(command.get("text") or "")
            if not question:
                respond(text=USAGE_HINT, response_type="ephemeral")
                return
            question, cut = self._limit(question)
            notice = f"*Вопрос:* {escape_mrkdwn(question[:300])}" + (f"\n{cut}" if cut else "")
            try:
                answer = self.api.ask(question, [])
            except CitechatApiError as error:
                log.error("citechat API failed for /ask from %s: %s", command.get("user_id"), error)
                respond(text=self._apology(error), response_type="ephemeral")
                return
            message = build_answer_message(answer, question, notice)
            respond(text=escape_mrkdwn(message.text), blocks=message.blocks, response_type=self.slack.slash_reply)
        except Exception:
            log.exception("failed to answer /ask")

    def on_feedback(
        self,
        ack: Callable[..., None],
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Callable[..., Any],
    ) -> None:
        """Send a helpful / not helpful rating to /api/feedback and thank the person privately."""
        ack()
        reply = FEEDBACK_THANKS
        try:
            self.api.send_feedback(self._feedback_from(body, action))
        except CitechatApiError as error:
            log.error("feedback could not be stored: %s", error)
            reply = FEEDBACK_FAILED
        except Exception:
            log.exception("failed to handle a feedback click")
            reply = FEEDBACK_FAILED
        self._tell_privately(client, respond, body, reply)

    @staticmethod
    def _feedback_from(body: dict[str, Any], action: dict[str, Any]) -> Feedback:
        reference = decode_feedback_reference(action.get("value") or "")
        if reference is None:
            raise ValueError("feedback button value is not a citechat reference")
        shown = unescape_mrkdwn((body.get("message") or {}).get("text") or "").strip()
        citations = [
            Citation(marker=marker, text="", source=source, title=title, start=start, end=end, score=score)
            for marker, source, title, start, end, score in reference.c
        ]
        return Feedback(
            question=reference.q,
            answer=shown or reference.a,
            rating="up" if action.get("action_id") == FEEDBACK_ACTION_UP else "down",
            citations=citations,
            channel="slack",
        )

    @staticmethod
    def _tell_privately(client: WebClient, respond: Callable[..., Any], body: dict[str, Any], text: str) -> None:
        channel = (body.get("channel") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        thread_ts = (body.get("message") or {}).get("thread_ts")
        try:
            if channel and user:
                client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
                return
        except Exception as error:  # e.g. not_in_channel for /ask answers; the response_url still works
            log.warning("chat.postEphemeral failed (%s); replying through response_url", error)
        try:
            if body.get("response_url"):
                respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            log.exception("could not acknowledge the feedback click")

    @staticmethod
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        """Log a listener error with the request type; bolt has already answered Slack."""
        log.error("unhandled error for a %s request: %r", body.get("type"), error)


def build_app(slack: SlackSettings, api: CitechatApi, socket_mode: bool = False) -> App:
    """Create the bolt App (one auth.test call to learn the bot's identity) with every listener registered."""
    try:
        from slack_bolt import App
        from slack_bolt.error import BoltError
        from slack_sdk import WebClient
    except ImportError:
        raise BackendUnavailableError(INSTALL_HINT) from None

    token = slack.bot_token.get_secret_value() if slack.bot_token else None
    secret = slack.signing_secret.get_secret_value() if slack.signing_secret and not socket_mode else ""
    client = WebClient(token=token, base_url=slack.api_base_url, timeout=15)
    try:
        app = App(
            client=client,
            signing_secret=secret,
            # Long-running process in both modes: bolt acknowledges before the listener body runs in the
            # executor (events automatically, commands and actions at their first-line ack()).
            process_before_response=False,
            listener_executor=ThreadPoolExecutor(max_workers=slack.workers, thread_name_prefix="citechat-slack"),
            name="citechat",
            logger=_bolt_logger(),
        )
    except BoltError as error:
        raise ConfigurationError(f"Slack rejected SLACK_BOT_TOKEN: {error}") from None
    except OSError as error:
        raise BackendUnavailableError(f"cannot reach Slack at {slack.api_base_url}: {error}") from None
    SlackBot(slack, api).register(app)
    return app


def _bolt_logger() -> logging.Logger:
    # bolt reads SLACK_BOT_TOKEN itself and warns that our explicit client wins; that is intended, so hide it.
    logger = logging.getLogger("citechat.slack.bolt")
    if not logger.filters:
        logger.addFilter(lambda record: "`token` will be unused" not in record.getMessage())
    return logger


def build_http_app(app: App) -> Starlette:
    """Return an ASGI app serving Slack's Events API, slash commands and interactivity at /slack/events."""
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def events(request: Request) -> Response:
        body = await request.body()
        # dispatch() blocks until the listener acks (milliseconds), so keep it off the event loop.
        response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(response)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/slack/events", events, methods=["POST"]), Route("/slack/health", health, methods=["GET"])]
    )


def run_slack(http: bool, port: int) -> int:
    """Run the bot until interrupted: HTTP Events mode on `port` with http=True, otherwise Socket Mode."""
    settings = load_settings()
    slack = load_slack_settings()
    require_tokens(slack, http)
    _print_configuration(settings, slack, http, port)
    api = CitechatApi(
        settings.api_url,
        settings.api_token.get_secret_value() if settings.api_token else None,
        answer_timeout(slack, settings),
    )
    if not api.is_healthy():
        log.warning("the citechat API at %s is not answering yet; start it with `citechat serve`", settings.api_url)
    app = build_app(slack, api, socket_mode=not http)
    if http:
        import uvicorn

        log.info("serving Slack events on http://%s:%d/slack/events", slack.host, port)
        uvicorn.run(build_http_app(app), host=slack.host, port=port, log_level="warning")
        return 0
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    assert slack.app_token is not None  # checked by require_tokens
    try:
        SocketModeHandler(app, app_token=slack.app_token.get_secret_value()).start()
    except SlackApiError as error:
        raise ConfigurationError(
            f"Slack refused the Socket Mode connection ({error.response.get('error')}): SLACK_APP_TOKEN must be an "
            "App-Level Token (xapp-…) with connections:write, and Socket Mode must be on for the app"
        ) from None
    return 0


def _print_configuration(settings: Settings, slack: SlackSettings, http: bool, port: int) -> None:
    shown = {
        "mode": f"http events on port {port}" if http else "socket mode",
        "CITECHAT_API_URL": settings.api_url,
        "CITECHAT_API_TOKEN": "***" if settings.api_token else "(unset)",
        **slack.describe(),
    }
    for name, value in shown.items():
        print(f"citechat slack: {name}={value}", file=sys.stderr)
