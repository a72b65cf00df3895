"""What a request body must be before a handler sees it: under its size limit, of the declared type, valid text."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import UserInputError
from ui.api.errors import error_response

JSON_BODY_LIMIT = 2**20


def media_type_of(request: Request) -> str:
    """Return the request's media type, lower-cased, without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def require_json(request: Request) -> None:
    """Reject a body not declared as JSON (415) or holding text that is not valid Unicode (422)."""
    media_type = media_type_of(request)
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(415, f"send the body as application/json (got {media_type or 'no content type'})")
    try:
        body = await request.json()  # FastAPI has parsed it already; this is the cached value
    except ValueError:
        return  # FastAPI reports malformed JSON itself
    if (where := find_invalid_text(body)) is not None:
        # JSON may escape lone UTF-16 surrogates ("\ud800"); no text with one can be encoded, stored or answered.
        raise UserInputError(f"{where or 'body'}: contains a lone surrogate (\\ud800-\\udfff), which is not valid text")


def find_invalid_text(value: Any, where: str = "") -> str | None:
    """Return the location of the first string that cannot be encoded as UTF-8, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
        return None
    items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        key_where = f"{where}.{key}" if where else str(key)
        if (found := find_invalid_text(key, key_where)) is not None:
            return found
        if (found := find_invalid_text(item, key_where)) is not None:
            return found
    return None


def require_multipart(request: Request) -> None:
    """Reject an upload that is not multipart/form-data with 415."""
    media_type = media_type_of(request)
    if media_type != "multipart/form-data":
        raise HTTPException(415, f"upload files as multipart/form-data (got {media_type or 'no content type'})")


class BodyLimitMiddleware:
    """Answer 413 in the JSON envelope when an /api, /v1 or /login request body is over its limit.

    Uploads (POST /api/documents) get `upload_limit`; every other API body is JSON and gets `json_limit`.
    The web UI below `/` is left to Gradio's own limits.
    """

    def __init__(self, app: ASGIApp, json_limit: int = JSON_BODY_LIMIT, upload_limit: int = JSON_BODY_LIMIT) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (scope["path"].startswith(("/api/", "/v1/")) or scope["path"] == "/login"):
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
