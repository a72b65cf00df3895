"""Start-up shared by every surface: build the engine once, seeding an empty store with the sample article."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest.embedding_cache import EmbeddingCache
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


def build_corpus_engine(
    settings: Settings,
    paths: Sequence[Path],
    embedder: Embedder | None = None,
    notify: Callable[[str], None] | None = None,
    cache_path: Path | None = None,
) -> Engine:
    """Ingest `paths` into the settings' store (unchanged files are skipped) and return an engine over it."""
    say = notify or (lambda message: print(message, file=sys.stderr))
    embedder = embedder or build_embedder(settings)
    store = open_store(settings, embedder)
    report = build_ingestor(settings, store, embedder, cache_path).ingest(paths)
    for failed in report.failed:
        say(f"citechat: skipped {failed.error}")
    say(f"citechat: {report.summary()}")
    return build_engine(settings, embedder=embedder, store=store)


def build_ingestor(
    settings: Settings, store: ChunkStore, embedder: Embedder, cache_path: Path | None = None
) -> Ingestor:
    """Create an ingestor over a store and embedder with the configured chunking, limits and vector cache."""
    # With a Chroma server nothing is kept on the local disk; the cache lives beside an embedded store.
    if cache_path is None and settings.chroma_url is None:
        cache_path = settings.data_dir.expanduser() / "embedding-cache.sqlite"
    cache = EmbeddingCache(cache_path, embedder.name) if cache_path else None
    return Ingestor(store, embedder, settings.chunk_chars, settings.max_file_mb, cache)
