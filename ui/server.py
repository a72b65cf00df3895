"""`citechat serve`: one FastAPI app with the web chat at `/`, the API under `/api` and `/v1`, run by uvicorn."""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from starlette.routing import Mount

from rag.config import SECRET_FIELDS, Settings, load_settings
from ui import local_ingest
from ui.access import AccessMiddleware, AccessPolicy, exposure_problem
from ui.api.errors import WebErrorGuard, install_error_handlers
from ui.api.limits import BodyLimitMiddleware
from ui.api.openai_compat import openai_router
from ui.api.rest import fallback_router, health_router, router
from ui.api.runtime import Runtime
from ui.login import login_router
from ui.logs import choose_level, configure_logging
from ui.services import Services
from ui.writer_lock import ServerHoldsDataDir, hold_writer_lock, serve_record

logger = logging.getLogger("citechat.server")

# Extractive answering is CPU-bound and the embedder serializes its own calls, so one thread per core
# keeps the cores busy (one embeds while another searches Chroma); more threads only queued on the
# GIL and the embedder lock (measured: 2 threads 20 req/s, 4 threads 16, 8 threads 17 on 2 cores).
# An LLM answerer mostly waits on the network, so it gets many threads.
LLM_THREADS = 32


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app: models loaded once here, API routers, JSON errors, web chat mounted at `/`.

    With no arguments, settings come from the environment (the `uvicorn --factory` path of workers > 1).
    """
    if settings is None and services is None:  # a worker process: nothing has configured its logging
        settings = load_settings()
        configure_logging(choose_level(0, settings.log_level, "INFO"))
    settings = settings or (services.settings if services else load_settings())
    policy = AccessPolicy.from_settings(settings)
    if services is None:
        with start_lock(settings.data_dir):
            services = Services.start(settings)
    app = FastAPI(
        title="citechat",
        version="0.1.0",
        summary="Cited answers over your documents.",
        description="`/api/*`: citechat's API. `/v1/*`: OpenAI-compatible chat. Errors: "
        '`{"error": {"code", "message"}}`. With CITECHAT_API_TOKEN set, send `Authorization: Bearer <token>`.',
    )
    limiter = anyio.CapacityLimiter(engine_threads(settings))
    app.state.runtime = Runtime(services=services, engine_limiter=limiter)
    app.state.access = policy
    install_error_handlers(app)
    app.include_router(login_router)
    app.include_router(health_router)
    app.include_router(router)
    app.include_router(openai_router)
    app.include_router(local_ingest.router)
    app.include_router(fallback_router)
    mount_web_ui(app, services)
    app.add_middleware(BodyLimitMiddleware, upload_limit=int(settings.max_upload_mb * 2**20))
    # Added last, so it is the outermost layer: nothing below it runs (or reads a body) for a refused request.
    app.add_middleware(AccessMiddleware, policy=policy)
    return app


def engine_threads(settings: Settings) -> int:
    """Return how many requests may run engine code at once."""
    if settings.answerer == "llm":
        return LLM_THREADS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
    return max(2, cores)


@contextmanager
def start_lock(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the data directory, so parallel workers seed an empty store only once."""
    data_dir = data_dir.expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / ".serve.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mount_web_ui(app: FastAPI, services: Services) -> None:
    """Mount the Gradio chat at `/`; the access middleware guards it like every other route."""
    try:
        from ui.web import build_web_ui
    except ImportError as error:
        logger.warning("web chat not mounted (%s); the API still works", error)
        return
    import gradio

    settings = services.settings
    gradio.mount_gradio_app(
        app,
        build_web_ui(services),
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        footer_links=[],
        run_history=False,
        mcp_server=False,
        max_file_size=int(settings.max_upload_mb * 2**20),
    )
    mount = app.routes[-1]
    assert isinstance(mount, Mount)
    mount.app = WebErrorGuard(mount.app)


def export_settings(settings: Settings) -> None:
    """Put the effective settings into CITECHAT_* variables so worker processes rebuild the same ones."""
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if name in SECRET_FIELDS:
            value = value.get_secret_value()
        os.environ[f"CITECHAT_{name.upper()}"] = str(value)


def serve(settings: Settings, public: bool = False) -> int:
    """Print the effective configuration and URL, then serve until interrupted; return the exit code.

    Without credentials, a non-loopback host is refused (exit code 2) unless `public` says it is meant.
    """
    if problem := exposure_problem(settings, public):
        print(f"citechat: {problem}", file=sys.stderr)
        return 2
    print("citechat: effective configuration", file=sys.stderr)
    for name, value in settings.describe().items():
        print(f"  CITECHAT_{name.upper()}={value}", file=sys.stderr)
    url = f"http://{settings.host}:{settings.port}"
    print(f"citechat: web chat {url}/  API {url}/api  OpenAI-compatible {url}/v1  docs {url}/docs", file=sys.stderr)
    policy = AccessPolicy.from_settings(settings)
    print(f"citechat: {'WARNING: ' if policy.is_open else ''}access {policy.describe()}", file=sys.stderr)
    if settings.chroma_url is not None:  # a Chroma server serializes writers itself
        return _run_uvicorn(settings)
    try:
        record = serve_record(settings.host, settings.port)
        with hold_writer_lock(settings.data_dir, record, lambda message: print(message, file=sys.stderr)):
            return _run_uvicorn(settings)
    except ServerHoldsDataDir as busy:
        print(
            f"citechat: {busy.record.describe()} already serves {settings.data_dir}; stop it first, "
            "or give this server another --data-dir",
            file=sys.stderr,
        )
        return 2


def _run_uvicorn(settings: Settings) -> int:
    import uvicorn

    if settings.workers == 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
        return 0
    if settings.chroma_url is None:
        logger.warning(
            "%d workers share the embedded Chroma store; uploads from several workers at once may conflict. "
            "Use a Chroma server (CITECHAT_CHROMA_URL) for concurrent writes.",
            settings.workers,
        )
    export_settings(settings)
    uvicorn.run(
        "ui.server:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
    )
    return 0
