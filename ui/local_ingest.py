"""`POST /api/local/ingest`: `citechat ingest` on this machine hands its work to the running server.

The server holds the data directory's writer lock (ui/writer_lock.py), so it is the one process that
may write the embedded store, and writing in-process is what makes its answers see the new documents
at once. The request names local paths, so besides the usual API access it must carry the key the
server wrote into its 0600 record in the data directory: only a user who can read that directory can
ask the server to read files.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Header
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException

from ingest.pipeline import FileReport, IngestReport
from rag.errors import BackendUnavailableError, CitechatError, ConfigurationError, StoreError
from ui.api.runtime import RuntimeDep
from ui.writer_lock import KEY_HEADER, WriterRecord, is_running, read_writer

PATH = "/api/local/ingest"
# A server that has just taken the lock is still loading its models (~10 s; more on a busy machine).
START_WAIT_SECONDS = 180.0

router = APIRouter(prefix="/api/local", include_in_schema=False)


class LocalIngestRequest(BaseModel):
    """Absolute paths on the server's machine, to ingest or (with `remove`) to delete from the store."""

    paths: list[str] = Field(min_length=1, max_length=10_000)
    remove: bool = False


class LocalFileResult(BaseModel):
    """What happened to one file (stored source path as the CLI prints it)."""

    path: str
    status: Literal["added", "updated", "unchanged", "removed", "failed"]
    chunks: int = 0
    error: str = ""


class LocalIngestResponse(BaseModel):
    """Per-file results of one local ingest or removal."""

    files: list[LocalFileResult]


@router.post("/ingest", response_model=LocalIngestResponse)
async def ingest_local_paths(
    body: LocalIngestRequest,
    runtime: RuntimeDep,
    key: Annotated[str, Header(alias=KEY_HEADER)] = "",
) -> LocalIngestResponse:
    """Ingest or remove local files as `citechat ingest` would, in the serving process."""
    services = runtime.services
    record = read_writer(services.settings.data_dir)
    if record is None or record.kind != "serve" or not key or not secrets.compare_digest(key, record.key):
        raise HTTPException(403, f"send the key of this server's {KEY_HEADER} record from its data directory")
    paths = [Path(path) for path in body.paths]
    if not all(path.is_absolute() for path in paths):
        raise HTTPException(422, "paths must be absolute")
    if body.remove:
        report: IngestReport = await runtime.run(services.remove, [str(path) for path in paths])
    else:
        report = await runtime.run(services.ingest, paths)
    return LocalIngestResponse(
        files=[
            LocalFileResult(path=item.path, status=item.status, chunks=item.chunks, error=item.error)
            for item in report.files
        ]
    )


def ingest_through_server(
    server: WriterRecord,
    paths: Sequence[Path],
    remove: bool,
    api_token: str | None,
    notify: Callable[[str], None],
) -> IngestReport:
    """Have the running server ingest (or remove) local paths; return its per-file report."""
    headers = {KEY_HEADER: server.key}
    if api_token:
        headers["Authorization"] = f"Bearer {api_token}"
    body = {"paths": [str(path.expanduser().absolute()) for path in paths], "remove": remove}
    deadline = time.monotonic() + START_WAIT_SECONDS
    waiting = False
    while True:
        try:
            # No read timeout: a large folder takes as long to embed there as it would here.
            response = httpx.post(server.url + PATH, json=body, headers=headers, timeout=httpx.Timeout(10.0, read=None))
            break
        except httpx.TransportError as error:
            if time.monotonic() > deadline or not is_running(server.pid):
                raise BackendUnavailableError(
                    f"{server.describe()} holds the data directory but does not answer ({error}); "
                    "wait until it has started, or stop it and run this command again"
                ) from None
            if not waiting:
                notify(f"citechat: waiting for {server.describe()} to start")
                waiting = True
            time.sleep(1.0)
    if response.status_code == 401:
        raise ConfigurationError(
            f"{server.describe()} needs its API token for this: set CITECHAT_API_TOKEN as the server has it"
        )
    if response.status_code == 503:  # the server's store failed: its message says what to do
        raise StoreError(_error_message(response))
    try:
        if response.status_code != 200:
            raise ValueError(response.text[:300])
        files = LocalIngestResponse.model_validate_json(response.content).files
    except (ValueError, ValidationError):
        raise CitechatError(
            f"{server.describe()} refused the ingest (HTTP {response.status_code}: {response.text[:300]})"
        ) from None
    return IngestReport(files=[FileReport(f.path, f.status, f.chunks, f.error) for f in files])


def _error_message(response: httpx.Response) -> str:
    """Return the message of a JSON error envelope, or the start of the body."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300]
