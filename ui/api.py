"""HTTP API over the shared services: `/api/*` (citechat's own) and `/v1/*` (OpenAI-compatible chat)."""

from __future__ import annotations

import hmac
import json
import logging
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.loaders import load_document
from ingest.pipeline import FileReport, IngestReport
from rag.engine import validate_question
from rag.errors import BackendUnavailableError, CitechatError, StoreError, UserInputError
from rag.feedback import Feedback
from rag.models import Answer, AnswerDelta, AnswerDone, AnswerEvent, Citation, DocumentInfo, StoreStatus, Turn
from ui.services import Services

logger = logging.getLogger("citechat.api")

JSON_BODY_LIMIT = 2**20
MODEL_ID = "citechat"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
T = TypeVar("T")


@dataclass
class Runtime:
    """What every request handler needs: the services and the limiter of engine threads."""

    services: Services
    engine_limiter: anyio.CapacityLimiter

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound engine work in a worker thread so the event loop keeps serving."""
        return await anyio.to_thread.run_sync(function, *args, limiter=self.engine_limiter)


def get_runtime(request: Request) -> Runtime:
    """Return the runtime `create_app` stored on the application."""
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
bearer = HTTPBearer(auto_error=False, description="The value of CITECHAT_API_TOKEN.")


def require_token(
    runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Reject the request with 401 unless it carries the configured bearer token."""
    expected = runtime.services.settings.api_token
    if expected is None:
        return
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode("utf-8"), expected.get_secret_value().encode("utf-8")):
        raise HTTPException(
            401,
            "missing or wrong API token; send 'Authorization: Bearer <CITECHAT_API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_json(request: Request) -> None:
    """Reject a body that is not declared as JSON with 415 (before it is parsed)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(415, f"send the body as application/json (got {media_type or 'no content type'})")


def require_multipart(request: Request) -> None:
    """Reject an upload that is not multipart/form-data with 415."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise HTTPException(415, f"upload files as multipart/form-data (got {media_type or 'no content type'})")


class BodyLimitMiddleware:
    """Answer 413 in the JSON envelope when an /api or /v1 request body is over its limit.

    Uploads (POST /api/documents) get `upload_limit`; every other API body is JSON and gets `json_limit`.
    The web UI below `/` is left to Gradio's own limits.
    """

    def __init__(self, app: ASGIApp, json_limit: int = JSON_BODY_LIMIT, upload_limit: int = JSON_BODY_LIMIT) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/v1/")):
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"].rstrip("/") == "/api/documents"
        limit = self.upload_limit if upload else self.json_limit
        message = f"the request body is over the {limit / 2**20:g} MiB limit" + (
            " (CITECHAT_MAX_UPLOAD_MB); upload fewer or smaller files" if upload else ""
        )
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await error_response(413, "payload_too_large", message)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            incoming = await receive()
            if incoming["type"] == "http.request":
                received += len(incoming.get("body", b""))
                if received > limit:
                    raise HTTPException(413, message)
            return incoming

        await self.app(scope, receive_within_limit, send)


# --- models -------------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """What went wrong, machine- and human-readable."""

    code: str = Field(description="Stable error code, e.g. invalid_input, unauthorized, payload_too_large.")
    message: str = Field(description="What happened and what to do.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


class AskRequest(BaseModel):
    """A question with optional earlier turns."""

    question: str = Field(description="The question, in Russian or English.")
    history: list[Turn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    top_k: int | None = Field(default=None, ge=1, le=20, description="Passages considered (default: settings).")


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class FeedbackRecord(Feedback):
    """A stored feedback record."""

    time: str = Field(description="When it arrived (UTC, ISO 8601).")


class FileResult(BaseModel):
    """What happened to one uploaded or removed file."""

    filename: str = Field(description="The name the client sent (or the stored source for removals).")
    source: str = Field(description="Where the document is stored on the server.")
    status: Literal["added", "updated", "unchanged", "removed", "failed"]
    chunks: int = 0
    error: str = ""


class DocumentsReport(BaseModel):
    """Per-file outcome of an upload or removal."""

    files: list[FileResult]
    summary: str


class TextPart(BaseModel):
    """One text part of an OpenAI message content list."""

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """An OpenAI chat message; system and developer messages are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        """Return the content as plain text."""
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The subset of OpenAI's chat-completions request citechat honours; other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class AssistantMessage(BaseModel):
    """The assistant's reply."""

    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    """The single completion choice."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    """OpenAI chat completion plus citechat's structured `citations` and `abstained`."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[ChatChoice]
    citations: list[Citation]
    abstained: bool


class ModelCard(BaseModel):
    """One model in `/v1/models`."""

    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "citechat"


class ModelList(BaseModel):
    """The models `/v1/models` lists."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


# --- errors -------------------------------------------------------------------------------------------

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    503: "unavailable",
}


def classify_error(error: Exception) -> tuple[int, str, str]:
    """Return (status, code, message) for an exception raised while answering."""
    if isinstance(error, UserInputError):
        return 422, "invalid_input", str(error)
    if isinstance(error, StoreError | BackendUnavailableError):
        return 503, "unavailable", str(error)
    if isinstance(error, CitechatError):
        return 500, "internal_error", str(error)
    return 500, "internal_error", "internal error; the server log has the details"


def log_failure(where: str, status: int, error: Exception) -> None:
    """Log server-side failures: a traceback for internal errors, one line for an unavailable backend."""
    if status == 503:
        logger.warning("%s: %s", where, error)
    elif status >= 500:
        logger.error("%s failed", where, exc_info=error)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Return the JSON error envelope every endpoint uses."""
    body = ErrorResponse(error=ErrorBody(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def describe_validation_error(error: RequestValidationError) -> tuple[int, str, str]:
    """Turn FastAPI's validation errors into one clear message (400 for malformed JSON)."""
    problems = list(error.errors())
    for problem in problems:
        if problem.get("type") == "json_invalid":
            detail = (problem.get("ctx") or {}).get("error", "invalid JSON")
            return (
                400,
                "malformed_json",
                f"the request body is not valid JSON ({detail} at position {problem['loc'][-1]})",
            )
    parts = []
    for problem in problems[:5]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body") or "body"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return 422, "invalid_input", "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, expected or not, a JSON `{"error": {"code", "message"}}` response."""

    async def on_http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        code = STATUS_CODES.get(error.status_code, "error")
        return error_response(error.status_code, code, str(error.detail), dict(error.headers or {}))

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return error_response(*describe_validation_error(error))

    async def on_citechat_error(request: Request, error: Exception) -> JSONResponse:
        status, code, message = classify_error(error)
        log_failure(f"{request.method} {request.url.path}", status, error)
        return error_response(status, code, message)

    async def on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
        logger.error("unhandled error in %s %s", request.method, request.url.path, exc_info=error)
        return error_response(*classify_error(error))

    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(CitechatError, on_citechat_error)
    app.add_exception_handler(Exception, on_unexpected_error)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": code.replace("_", " ")}
    for status, code in {401: "unauthorized", 422: "invalid_input", 503: "unavailable"}.items()
}


# --- answering ----------------------------------------------------------------------------------------


def checked_question(runtime: Runtime, question: str, history: Sequence[Turn]) -> str:
    """Validate the question and history cheaply on the event loop; raise UserInputError (422)."""
    return validate_question(question, history, runtime.services.engine.limits)


async def open_answer_stream(
    runtime: Runtime, question: str, history: Sequence[Turn], top_k: int | None
) -> AsyncIterator[AnswerEvent]:
    """Start answering and return the remaining events; failures before the first event raise here."""
    events = runtime.services.engine.stream(question, history, top_k)
    first = await runtime.run(next, events, None)

    async def remaining() -> AsyncIterator[AnswerEvent]:
        try:
            event = first
            while event is not None:
                yield event
                event = await runtime.run(next, events, None)
        finally:
            if isinstance(events, Generator):
                events.close()

    return remaining()


def format_sse(data: str, event: str | None = None) -> str:
    """Return one server-sent event."""
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


def error_payload(error: Exception) -> str:
    """Return the JSON error envelope of a mid-stream failure (and log unexpected ones)."""
    status, code, message = classify_error(error)
    log_failure("answer stream", status, error)
    return ErrorResponse(error=ErrorBody(code=code, message=message)).model_dump_json()


def sources_footer(answer: Answer, excerpt_chars: int = 160) -> str:
    """Return the plain-text "Sources:" block appended to OpenAI-style answers."""
    if answer.abstained or not answer.citations:
        return ""
    lines = ["", "", "Sources:"]
    for citation in answer.citations:
        spans = citation.highlights or []
        quoted = citation.text[spans[0].start : spans[0].end] if spans else citation.text
        quoted = " ".join(quoted.split())
        if len(quoted) > excerpt_chars:
            quoted = quoted[: excerpt_chars - 1].rstrip() + "…"
        lines.append(f"[{citation.marker}] {citation.title} — {quoted}")
    return "\n".join(lines)


# --- /api ---------------------------------------------------------------------------------------------

health_router = APIRouter(prefix="/api", tags=["health"])
router = APIRouter(prefix="/api", tags=["citechat"], dependencies=[Depends(require_token)])


@health_router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers HTTP (no auth)."""
    return Health()


@router.get("/ready", response_model=StoreStatus, responses={**ERROR_RESPONSES, 503: {"model": StoreStatus}})
async def ready(runtime: RuntimeDep) -> StoreStatus | JSONResponse:
    """Readiness: the store is reachable; chunk count and embedder (503 when unreachable)."""
    status = await anyio.to_thread.run_sync(runtime.services.engine.status)
    if not status.reachable:
        return JSONResponse(status.model_dump(), status_code=503)
    return status


@router.post("/ask", response_model=Answer, responses=ERROR_RESPONSES, dependencies=[Depends(require_json)])
async def ask(body: AskRequest, runtime: RuntimeDep) -> Answer:
    """Answer a question with cited passages (the same JSON as `citechat ask --json`)."""
    question = checked_question(runtime, body.question, body.history)
    return await runtime.run(runtime.services.engine.ask, question, body.history, body.top_k)


@router.post(
    "/ask/stream",
    responses={**ERROR_RESPONSES, 200: {"content": {"text/event-stream": {}}, "description": "SSE events"}},
    dependencies=[Depends(require_json)],
)
async def ask_stream(body: AskRequest, runtime: RuntimeDep) -> StreamingResponse:
    """Stream the answer as server-sent events: `delta` {"text"} events, then `done` (the Answer JSON)."""
    question = checked_question(runtime, body.question, body.history)
    events = await open_answer_stream(runtime, question, body.history, body.top_k)

    async def encode() -> AsyncIterator[str]:
        try:
            async for event in events:
                if isinstance(event, AnswerDelta):
                    yield format_sse(json.dumps({"text": event.text}, ensure_ascii=False), "delta")
                else:
                    yield format_sse(event.answer.model_dump_json(), "done")
        except Exception as error:  # the status is sent already; report the failure as an event
            yield format_sse(error_payload(error), "error")

    return StreamingResponse(encode(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackRecord,
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_json)],
)
async def feedback(body: Feedback, runtime: RuntimeDep) -> FeedbackRecord:
    """Store a rating of an answer durably; return the stored record."""
    record = await anyio.to_thread.run_sync(runtime.services.feedback.append, body)
    return FeedbackRecord.model_validate(record)


@router.get("/documents", response_model=list[DocumentInfo], responses=ERROR_RESPONSES)
async def list_documents(runtime: RuntimeDep) -> list[DocumentInfo]:
    """List the ingested documents with their chunk counts."""
    return await anyio.to_thread.run_sync(runtime.services.engine.documents)


@router.delete(
    "/documents", response_model=DocumentsReport, responses={**ERROR_RESPONSES, 404: {"model": ErrorResponse}}
)
async def remove_documents(
    runtime: RuntimeDep, source: Annotated[list[str], Query(min_length=1, description="Stored source path(s).")]
) -> DocumentsReport:
    """Delete documents by their stored source path (404 when none of them is stored)."""
    report = await anyio.to_thread.run_sync(runtime.services.remove, source)
    if report.files and not [item for item in report.files if item.status != "failed"]:
        raise HTTPException(404, "; ".join(item.error for item in report.files))
    return documents_report(report, {item.path: item.path for item in report.files})


@router.post(
    "/documents",
    response_model=DocumentsReport,
    responses={**ERROR_RESPONSES, 413: {"model": ErrorResponse}},
    dependencies=[Depends(require_multipart)],
)
async def upload_documents(
    runtime: RuntimeDep, files: Annotated[list[UploadFile], File(description="Files to ingest (.txt .md .html .pdf).")]
) -> DocumentsReport:
    """Ingest uploaded files into the store; files that cannot be ingested get a per-file error."""
    return await anyio.to_thread.run_sync(ingest_uploads, runtime.services, files)


def documents_report(report: IngestReport, names: dict[str, str]) -> DocumentsReport:
    """Convert an ingest report into the API's per-file report."""
    return DocumentsReport(
        files=[
            FileResult(
                filename=names.get(item.path, Path(item.path).name),
                source=item.path,
                status=item.status,
                chunks=item.chunks,
                error=item.error,
            )
            for item in report.files
        ],
        summary=report.summary(),
    )


def safe_filename(name: str | None) -> str:
    """Return a file name that cannot leave the uploads folder or hide itself."""
    base = Path((name or "").replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    return base or "upload.txt"


def ingest_uploads(services: Services, files: Sequence[UploadFile]) -> DocumentsReport:
    """Check each upload in a scratch folder, move the good ones into `<data_dir>/uploads/` and ingest them."""
    uploads = services.settings.data_dir.expanduser().resolve() / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    max_bytes = int(services.settings.max_file_mb * 2**20)
    rejected = IngestReport()
    accepted: list[Path] = []
    accepted_names: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=uploads, prefix=".incoming-") as scratch:
        for number, upload in enumerate(files):
            name = safe_filename(upload.filename)
            staged = Path(scratch) / str(number) / name
            staged.parent.mkdir()
            with staged.open("wb") as handle:
                shutil.copyfileobj(upload.file, handle)
            # Validating before the move keeps a bad upload from overwriting a good file of the same name.
            try:
                if staged.stat().st_size == 0:
                    raise UserInputError(f"{name}: is empty; nothing to ingest")
                load_document(staged, max_bytes)
            except UserInputError as error:
                message = str(error).replace(str(staged), name)
                rejected.files.append(FileReport(str(uploads / name), "failed", error=message))
                accepted_names[str(uploads / name)] = upload.filename or name
                continue
            target = uploads / name
            staged.replace(target)
            accepted.append(target)
            accepted_names[str(target)] = upload.filename or name
    report = services.ingest(accepted) if accepted else IngestReport()
    report.files = rejected.files + report.files
    return documents_report(report, accepted_names)


# --- /v1 (OpenAI-compatible) --------------------------------------------------------------------------

openai_router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(require_token)])


def split_messages(messages: Sequence[ChatMessage]) -> tuple[str, list[Turn]]:
    """Return (question, history): the last user message and the user/assistant turns before it."""
    turns = [Turn(role=m.role, content=m.text()) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise UserInputError("the last message must be a user message with the question")
    return turns[-1].content, turns[:-1]


@openai_router.get("/models", response_model=ModelList, responses=ERROR_RESPONSES)
async def list_models() -> ModelList:
    """List the one model, `citechat`."""
    return ModelList(data=[ModelCard()])


@openai_router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**ERROR_RESPONSES, 200: {"content": {"text/event-stream": {}}}},
    dependencies=[Depends(require_json)],
)
async def chat_completions(body: ChatCompletionRequest, runtime: RuntimeDep) -> ChatCompletion | StreamingResponse:
    """Answer the last user message, OpenAI-style; `stream: true` sends `chat.completion.chunk` events."""
    question, history = split_messages(body.messages)
    question = checked_question(runtime, question, history)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.stream:
        answer = await runtime.run(runtime.services.engine.ask, question, history)
        return ChatCompletion(
            id=completion_id,
            created=created,
            choices=[ChatChoice(message=AssistantMessage(content=answer.answer + sources_footer(answer)))],
            citations=answer.citations,
            abstained=answer.abstained,
        )
    events = await open_answer_stream(runtime, question, history, None)
    return StreamingResponse(
        encode_openai_chunks(events, completion_id, created), media_type="text/event-stream", headers=SSE_HEADERS
    )


def openai_chunk(completion_id: str, created: int, delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    """Return one `chat.completion.chunk` object."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def encode_openai_chunks(
    events: AsyncIterator[AnswerEvent], completion_id: str, created: int
) -> AsyncIterator[str]:
    """Yield OpenAI-style SSE chunks for the answer events, the sources footer, then `[DONE]`."""

    def emit(payload: dict[str, Any]) -> str:
        return format_sse(json.dumps(payload, ensure_ascii=False))

    yield emit(openai_chunk(completion_id, created, {"role": "assistant", "content": ""}))
    try:
        async for event in events:
            if isinstance(event, AnswerDelta):
                yield emit(openai_chunk(completion_id, created, {"content": event.text}))
            elif isinstance(event, AnswerDone):
                answer = event.answer
                if footer := sources_footer(answer):
                    yield emit(openai_chunk(completion_id, created, {"content": footer}))
                final = openai_chunk(completion_id, created, {}, finish="stop")
                final["citations"] = [citation.model_dump() for citation in answer.citations]
                final["abstained"] = answer.abstained
                yield emit(final)
    except Exception as error:  # the status is sent already; OpenAI clients read an `error` object
        yield format_sse(error_payload(error))
    yield format_sse("[DONE]")


# Unknown paths under /api and /v1 get the JSON envelope instead of falling through to the web UI.
fallback_router = APIRouter(include_in_schema=False)


@fallback_router.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@fallback_router.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown_path(request: Request) -> JSONResponse:
    """Answer 405 for a known path with the wrong method, else 404, in the JSON envelope."""
    path = request.url.path
    for route in request.app.router.routes:
        if route.matches(dict(request.scope))[0] is Match.PARTIAL:
            return error_response(405, "method_not_allowed", f"{request.method} is not allowed on {path}")
    return error_response(404, "not_found", f"no endpoint {request.method} {path}; see /docs")
