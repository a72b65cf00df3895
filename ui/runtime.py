"""Start-up shared by every surface: build the engine once, seeding an empty store with the sample article."""

from __future__ import annotations

import sys
from collections.abc import Callable

from ingest.pipeline import BUNDLED_CORPUS, Ingestor
from rag.config import Settings
from rag.embeddings import Embedder, build_embedder
from rag.engine import Engine, build_engine, open_store
from rag.store import ChunkStore


def open_engine(settings: Settings, notify: Callable[[str], None] | None = None) -> Engine:
    """Build the engine; if the store is empty, ingest the bundled article first and say so."""
    say = notify or (lambda message: print(message, file=sys.stderr))
    embedder = build_embedder(settings)
    store = open_store(settings, embedder)
    if store.count() == 0:
        say(f"citechat: the store is empty; ingesting the bundled article from {BUNDLED_CORPUS}")
        report = build_ingestor(settings, store, embedder).ingest([BUNDLED_CORPUS])
        say(f"citechat: {report.summary()}")
    return build_engine(settings, embedder=embedder, store=store)


def build_ingestor(settings: Settings, store: ChunkStore, embedder: Embedder) -> Ingestor:
    """Create an ingestor over a store and embedder with the configured chunking and limits."""
    return Ingestor(store, embedder, settings.chunk_chars, settings.max_file_mb)
