"""citechat's own API under `/api`: ask (plain and streamed), feedback, documents, health and readiness."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from ingest.pipeline import FileReport, IngestReport
from rag.feedback import Feedback
from rag.models import Answer, AnswerDelta, AnswerProgress, DocumentInfo, StoreStatus
from ui.api.errors import ERROR_RESPONSES, ErrorBody, ErrorResponse, classify_error, error_response, log_failure
from ui.api.limits import require_json, require_multipart
from ui.api.runtime import RuntimeDep, bearer
from ui.api.schemas import AskRequest, DocumentsReport, FeedbackRecord, FileResult, Health
from ui.services import Services
from ui.sources import SourceNames
from ui.uploads import IncomingFile

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

health_router = APIRouter(prefix="/api", tags=["health"])
router = APIRouter(prefix="/api", tags=["citechat"], dependencies=[Depends(bearer)])


def format_sse(data: str, event: str | None = None) -> str:
    """Return one server-sent event."""
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


def error_payload(error: Exception) -> str:
    """Return the JSON error envelope of a mid-stream failure (and log unexpected ones)."""
    status, code, message = classify_error(error)
    log_failure("answer stream", status, error)
    return ErrorResponse(error=ErrorBody(code=code, message=message)).model_dump_json()


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
    """Answer a question with cited passages (the same JSON as `citechat ask --json`, sources relative)."""
    question = runtime.checked_question(body.question, body.history)
    answer = await runtime.run(runtime.services.engine.ask, question, body.history, body.top_k)
    return runtime.services.sources.answer(answer)


@router.post(
    "/ask/stream",
    responses={**ERROR_RESPONSES, 200: {"content": {"text/event-stream": {}}, "description": "SSE events"}},
    dependencies=[Depends(require_json)],
)
async def ask_stream(body: AskRequest, runtime: RuntimeDep) -> StreamingResponse:
    """Stream the answer as server-sent events: `progress` {"stage"} ("condensing" while an LLM rewrites a
    follow-up, "writing" once the passages are found), `delta` {"text"} events, then `done` (the Answer JSON)."""
    question = runtime.checked_question(body.question, body.history)
    events = await runtime.open_answer_stream(question, body.history, body.top_k)

    async def encode() -> AsyncIterator[str]:
        try:
            async for event in events:
                if isinstance(event, AnswerDelta):
                    yield format_sse(json.dumps({"text": event.text}, ensure_ascii=False), "delta")
                elif isinstance(event, AnswerProgress):
                    yield format_sse(json.dumps({"stage": event.stage}), "progress")
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
    """List the ingested documents with their chunk counts (sources relative, e.g. uploads/notes.txt)."""
    documents = await anyio.to_thread.run_sync(runtime.services.engine.documents)
    return runtime.services.sources.documents(documents)


@router.delete(
    "/documents", response_model=DocumentsReport, responses={**ERROR_RESPONSES, 404: {"model": ErrorResponse}}
)
async def remove_documents(
    runtime: RuntimeDep,
    source: Annotated[list[str], Query(min_length=1, description="Source(s) as /api/documents lists them.")],
) -> DocumentsReport:
    """Delete documents by their listed source (404 when none of them is stored); uploaded files go too."""
    report = await anyio.to_thread.run_sync(remove_by_name, runtime.services, source)
    if not [item for item in report.files if item.status != "failed"]:
        raise HTTPException(404, "; ".join(item.error for item in report.files))
    return documents_report(report, runtime.services.sources, {})


def remove_by_name(services: Services, names: list[str]) -> IngestReport:
    """Remove the documents the names denote; names that denote none become failed entries."""
    stored = [doc.source for doc in services.engine.documents()]
    sources, unknown = services.sources.resolve(names, stored)
    report = services.remove(sources) if sources else IngestReport()
    report.files += [FileReport(name, "failed", error=f"{name}: not in the store") for name in unknown]
    return report


@router.post(
    "/documents",
    response_model=DocumentsReport,
    responses={**ERROR_RESPONSES, 413: {"model": ErrorResponse}},
    dependencies=[Depends(require_multipart)],
)
async def upload_documents(
    runtime: RuntimeDep, files: Annotated[list[UploadFile], File(description="Files to ingest (.txt .md .html .pdf).")]
) -> DocumentsReport:
    """Ingest uploaded files; a file that cannot be stored or read gets a per-file error, the rest go on.

    A file named like a stored upload replaces it (status `updated`, or `unchanged` for the same content).
    """
    incoming = [IncomingFile(upload.filename or "", upload.file) for upload in files]
    uploaded = await anyio.to_thread.run_sync(runtime.services.add_uploads, incoming)
    return documents_report(uploaded.report, runtime.services.sources, uploaded.client_names)


def documents_report(report: IngestReport, sources: SourceNames, client_names: dict[str, str]) -> DocumentsReport:
    """Convert an ingest report into the API's per-file report, sources shown relative."""
    return DocumentsReport(
        files=[
            FileResult(
                filename=client_names.get(item.path) or sources.display(item.path),
                source=sources.display(item.path),
                status=item.status,
                chunks=item.chunks,
                error=item.error.replace(item.path, sources.display(item.path)),
            )
            for item in report.files
        ],
        summary=report.summary(),
    )


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
