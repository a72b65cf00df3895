"""The JSON error envelope `{"error": {"code", "message"}}` and the mapping of every failure onto it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import BackendUnavailableError, CitechatError, StoreError, UserInputError

logger = logging.getLogger("citechat.api")

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    """What went wrong, machine- and human-readable."""

    code: str = Field(description="Stable error code, e.g. invalid_input, unauthorized, payload_too_large.")
    message: str = Field(description="What happened and what to do.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": code.replace("_", " ")}
    for status, code in {401: "unauthorized", 422: "invalid_input", 503: "unavailable"}.items()
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


# Exceptions a malformed request makes Gradio raise (an unknown fn_index, a body of the wrong shape).
CLIENT_FAULTS = (LookupError, ValueError, TypeError)


class WebErrorGuard:
    """Wrap the mounted web chat so a request it chokes on gets a JSON 4xx/5xx and one log line, no traceback.

    Gradio answers an exception with a plain-text 500 and re-raises it (the server then logs a traceback per
    call, which anyone could trigger); this holds back 5xx responses until the app returns, and replaces them
    when an exception follows.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        started = finished = False

        async def send_unless_failed(message: Message) -> None:
            nonlocal started, finished
            if held or (message["type"] == "http.response.start" and message["status"] >= 500):
                held.append(message)
                return
            started = started or message["type"] == "http.response.start"
            finished = message["type"] == "http.response.body" and not message.get("more_body", False)
            await send(message)

        try:
            await self.app(scope, receive, send_unless_failed)
        except Exception as error:
            status = 400 if isinstance(error, CLIENT_FAULTS) else 500
            where = f"{scope['method']} {scope['path']}"
            logger.warning("web chat: %s failed (%d): %s: %s", where, status, type(error).__name__, error)
            if not started:
                message = "the web chat could not handle this request" + (
                    "" if status == 400 else "; the server log has the details"
                )
                await error_response(status, STATUS_CODES.get(status, "internal_error"), message)(scope, receive, send)
            elif not finished:  # a stream that failed midway: end it properly rather than drop the connection
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        for held_message in held:
            await send(held_message)
