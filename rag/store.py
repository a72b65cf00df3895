"""The Chroma-backed store: chunk vectors (through LlamaIndex) and sentence vectors, the source of truth."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.chroma import ChromaVectorStore

from rag.config import Settings
from rag.errors import CitechatError, EmbedderMismatchError, StoreError
from rag.models import DocumentInfo, Sentence, StoreStatus

# Vector index settings for new collections. One build thread makes the graph the same in every process
# (several threads insert in a racy order, and answers to borderline questions varied between runs);
# wider construction and search keep recall on help pages that repeat lines. Search stays a few ms.
HNSW = {"hnsw": {"space": "cosine", "ef_construction": 200, "ef_search": 200, "max_neighbors": 32, "num_threads": 1}}
# Chroma's `get` with `$in` and `add` take bounded batches; this stays well inside both limits.
_BATCH = 2000
# A document version is committed by its first chunk (chunk_index 0), written after every other chunk and
# sentence of it; the first chunk records how many chunks the version has and when it was committed.
HEAD_INDEX = 0


@dataclass
class StoredVersion:
    """What the store holds for one source: its committed version, and whether nothing else is stored with it."""

    content_hash: str
    chunks: int
    complete: bool


@dataclass
class ChunkVersion:
    """The document version a stored chunk belongs to (for indexes that must skip unfinished writes)."""

    chunk_id: str
    source: str
    content_hash: str


@dataclass
class SentenceRecord:
    """A sentence to store: its chunk, absolute span, text and vector."""

    chunk_id: str
    source: str
    start: int
    end: int
    text: str
    embedding: np.ndarray
    kind: str = "text"


def _sentence_id(record: SentenceRecord) -> str:
    return f"{record.chunk_id}:{record.start}"


def make_data_directory(path: Path, data_dir: Path | None = None) -> None:
    """Create `path` (inside the data directory), or raise StoreError saying how to fix the setting."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a regular file in the way, a read-only mount, no permission
        raise StoreError(
            f"cannot use data directory {data_dir or path} ({error.strerror or error}); "
            "set CITECHAT_DATA_DIR to a writable directory"
        ) from None


def _make_directory(path: Path, settings: Settings) -> None:
    make_data_directory(path, settings.data_dir)


def _connect(settings: Settings) -> tuple[Any, str]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url:
            from urllib.parse import urlparse

            url = urlparse(settings.chroma_url)
            headers = {}
            if settings.chroma_token:
                headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
            client = chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                headers=headers,
                settings=chroma_settings,
            )
            client.heartbeat()
            return client, settings.chroma_url
        path = settings.data_dir.expanduser().resolve() / "chroma"
        _make_directory(path, settings)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings), str(path)
    except StoreError:
        raise
    except PermissionError as error:
        raise StoreError(
            f"cannot use data directory {settings.data_dir} ({error.strerror}); "
            "set CITECHAT_DATA_DIR to a writable directory"
        ) from None
    except Exception as error:
        where = settings.chroma_url or str(settings.data_dir)
        raise StoreError(
            f"cannot open the Chroma store at {where} ({type(error).__name__}: {error}); "
            + (
                "check that the Chroma server is running (chroma run --path DIR) and CITECHAT_CHROMA_URL is right"
                if settings.chroma_url
                else "if the store is corrupted, move the directory away and re-ingest"
            )
        ) from None


class ChunkStore:
    """Chunks and their sentences in two Chroma collections, tagged with the embedder that built them.

    A document version becomes visible only when its head chunk (chunk_index 0) is stored, and that is
    written last: a write cut short (a crash, a server that stops) leaves a version without a head, which
    `documents()` does not list, `stored_version()` reports as incomplete and the next write replaces.
    """

    def __init__(self, client: Any, prefix: str, embedder_name: str, dim: int, location: str) -> None:
        self._client = client
        self.embedder_name = embedder_name
        self.location = location
        self._dim = dim
        self._remote = location.startswith(("http://", "https://"))
        self._documents_lock = threading.Lock()
        self._documents_cache: tuple[int, list[DocumentInfo]] | None = None
        try:
            self._chunks = client.get_or_create_collection(
                f"{prefix}-chunks",
                embedding_function=None,
                configuration=HNSW,
                metadata={"embedder": embedder_name, "dim": dim, "revision": 0},
            )
            self._sentences = client.get_or_create_collection(
                f"{prefix}-sentences",
                embedding_function=None,
                configuration=HNSW,
            )
            # The corpus's vocabulary, one vector per stem and language: a question's words find their
            # counterparts in the documents' other language through it.
            self._words = client.get_or_create_collection(
                f"{prefix}-words",
                embedding_function=None,
                configuration=HNSW,
            )
        except Exception as error:
            raise StoreError(
                f"cannot open collections in {location} ({type(error).__name__}: {error}); "
                "if the store is corrupted, move it away and re-ingest"
            ) from None
        self.vector_store = ChromaVectorStore(chroma_collection=self._chunks)

    @classmethod
    def open(cls, settings: Settings, embedder_name: str, dim: int) -> ChunkStore:
        """Connect to the configured Chroma (embedded or server) and open the collections."""
        client, location = _connect(settings)
        return cls(client, settings.collection, embedder_name, dim, location)

    @contextmanager
    def _guard(self, action: str, writing: bool = False) -> Iterator[None]:
        """Turn whatever Chroma raises while doing `action` into a StoreError saying what to do."""
        try:
            yield
        except CitechatError:
            raise
        except Exception as error:
            cause = f"{type(error).__name__}: {error}"
            if self._remote:
                fix = "start it again (chroma run --path DIR) or fix CITECHAT_CHROMA_URL"
                happened = f"the Chroma server at {self.location} stopped answering while {action} ({cause})"
            else:
                fix = "check the disk (space, permissions)"
                happened = f"the store at {self.location} failed while {action} ({cause})"
            if writing:
                fix += (
                    ", then run the same ingest or upload again: what was written is kept, unchanged files are skipped"
                )
            raise StoreError(f"{happened}; {fix}") from None

    def built_with(self) -> str:
        """Return the name of the embedder that built the store."""
        return str(self._metadata().get("embedder", self.embedder_name))

    def ensure_compatible(self) -> None:
        """Refuse to mix vectors of two embedding models."""
        built_with = self.built_with()
        if self.count() and built_with != self.embedder_name:
            raise EmbedderMismatchError(
                f"the store at {self.location} was built with {built_with}, but citechat is configured "
                f"with {self.embedder_name}; run `citechat reindex` to re-ingest with the new model, "
                "or switch CITECHAT_EMBEDDER back"
            )

    def _metadata(self) -> dict[str, Any]:
        try:
            return dict(self._client.get_collection(self._chunks.name).metadata or {})
        except Exception as error:
            raise StoreError(f"cannot read the store at {self.location} ({error})") from None

    def revision(self) -> int:
        """Return a counter that changes whenever the store's content changes."""
        return int(self._metadata().get("revision", 0))

    def _bump_revision(self) -> None:
        metadata = self._metadata()
        metadata.update(embedder=self.embedder_name, dim=self._dim, revision=int(metadata.get("revision", 0)) + 1)
        self._chunks.modify(metadata=metadata)

    def count(self) -> int:
        """Return the number of stored chunks."""
        try:
            return int(self._chunks.count())
        except Exception as error:
            raise StoreError(f"cannot read the store at {self.location} ({error})") from None

    def status(self) -> StoreStatus:
        """Return readiness facts; never raises."""
        try:
            return StoreStatus(
                reachable=True,
                chunks=self.count(),
                documents=len(self.documents()),
                embedder=self.built_with(),
                location=self.location,
            )
        except StoreError:
            return StoreStatus(
                reachable=False, chunks=0, documents=0, embedder=self.embedder_name, location=self.location
            )

    def documents(self) -> list[DocumentInfo]:
        """Return every committed document with its chunk count (read again only when the revision changed)."""
        revision = self.revision()
        with self._documents_lock:
            cached = self._documents_cache
        if cached is not None and cached[0] == revision:
            return [document.model_copy() for document in cached[1]]
        with self._guard("listing documents"):
            documents = self._read_documents()
        with self._documents_lock:
            self._documents_cache = (revision, documents)
        return [document.model_copy() for document in documents]

    def _read_documents(self) -> list[DocumentInfo]:
        heads = self._latest_heads(self._chunks.get(where={"chunk_index": HEAD_INDEX}, include=["metadatas"]))
        counted: dict[tuple[str, str], int] = {}
        if any("chunks" not in head for head in heads.values()):
            # Heads written before versions recorded their size: count once from every chunk's metadata.
            counted = self._count_versions()
        return [
            DocumentInfo(
                source=source,
                title=str(head.get("title", "")),
                chunks=int(head.get("chunks", counted.get((source, str(head.get("content_hash", ""))), 0))),
                content_hash=str(head.get("content_hash", "")),
            )
            for source, head in sorted(heads.items())
        ]

    def documents_by_scan(self) -> list[DocumentInfo]:
        """Return the documents by reading every chunk's metadata (what `documents()` did before heads; bench)."""
        counts: dict[str, int] = defaultdict(int)
        first: dict[str, dict[str, Any]] = {}
        for metadata in self._all_chunk_metadata():
            source = str(metadata.get("source", ""))
            counts[source] += 1
            first.setdefault(source, metadata)
        return [
            DocumentInfo(
                source=source,
                title=str(first[source].get("title", "")),
                chunks=counts[source],
                content_hash=str(first[source].get("content_hash", "")),
            )
            for source in sorted(counts)
        ]

    @staticmethod
    def _latest_heads(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Return the newest head per source (two exist when a write stopped before dropping the old version)."""
        heads: dict[str, dict[str, Any]] = {}
        for metadata in found["metadatas"] or []:
            source = str(metadata.get("source", ""))
            known = heads.get(source)
            if known is None or float(metadata.get("committed_at", 0)) > float(known.get("committed_at", 0)):
                heads[source] = dict(metadata)
        return heads

    def _count_versions(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for metadata in self._all_chunk_metadata():
            counts[(str(metadata.get("source", "")), str(metadata.get("content_hash", "")))] += 1
        return counts

    def _all_chunk_metadata(self) -> Iterable[dict[str, Any]]:
        total = self.count()
        for offset in range(0, total, _BATCH):
            batch = self._chunks.get(include=["metadatas"], limit=_BATCH, offset=offset)
            yield from batch["metadatas"] or []

    def committed_versions(self, sources: Sequence[str]) -> dict[str, str]:
        """Return {source: content hash of its committed version} for those of `sources` that have one."""
        if not sources:
            return {}
        with self._guard("reading document versions"):
            found = self._chunks.get(
                where={"$and": [{"source": {"$in": list(sources)}}, {"chunk_index": HEAD_INDEX}]},
                include=["metadatas"],
            )
        return {source: str(head.get("content_hash", "")) for source, head in self._latest_heads(found).items()}

    def stored_version(self, source: str) -> StoredVersion | None:
        """Return the committed version of `source` (None when there is none) and whether it is complete.

        Complete means the head's chunks and the document's sentences are stored and nothing else is: no
        older version or unfinished write left beside it. Anything else is rewritten by the next ingest.
        """
        with self._guard(f"reading {source}", writing=True):
            found = self._chunks.get(
                where={"$and": [{"source": source}, {"chunk_index": HEAD_INDEX}]}, include=["metadatas"]
            )
            head = self._latest_heads(found).get(source)
            if head is None:
                return None
            chunk_ids = self._ids_where(self._chunks, source)
            # A write from before heads came last could stop after the chunks: no sentences, never answerable.
            has_sentences = bool(self._sentences.get(where={"source": source}, limit=1, include=[])["ids"])
        expected = int(head.get("chunks", len(chunk_ids)))
        complete = len(found["ids"]) == 1 and len(chunk_ids) == expected and has_sentences
        return StoredVersion(str(head.get("content_hash", "")), len(chunk_ids), complete)

    def write_document(self, source: str, nodes: Sequence[TextNode], sentences: Sequence[SentenceRecord]) -> None:
        """Store a document's sentences, then its chunks, its head chunk last; then drop any older version.

        `nodes[0]` is the head (chunk_index 0). Until it is stored the new version is invisible, so a write
        cut short leaves the old version (or nothing) to readers, never a document without its sentences.
        """
        if not nodes:
            return
        head = nodes[0]
        rest: list[BaseNode] = list(nodes[1:])
        head.metadata.update(chunk_index=HEAD_INDEX, chunks=len(nodes), committed_at=time.time())
        with self._guard(f"writing {source}", writing=True):
            old_chunk_ids = set(self._ids_where(self._chunks, source))
            old_sentence_ids = set(self._ids_where(self._sentences, source))
            new_chunk_ids = {node.node_id for node in nodes}
            new_sentence_ids = {_sentence_id(record) for record in sentences}
            for start in range(0, len(sentences), _BATCH):
                self._upsert_sentences(sentences[start : start + _BATCH])
            for start in range(0, len(rest), _BATCH):
                self.vector_store.add(rest[start : start + _BATCH])
            self.vector_store.add([head])
            self._delete_ids(self._chunks, sorted(old_chunk_ids - new_chunk_ids))
            self._delete_ids(self._sentences, sorted(old_sentence_ids - new_sentence_ids))
            self._bump_revision()

    def _upsert_sentences(self, batch: Sequence[SentenceRecord]) -> None:
        self._sentences.upsert(
            ids=[_sentence_id(record) for record in batch],
            embeddings=np.stack([record.embedding for record in batch]).tolist(),
            documents=[record.text for record in batch],
            metadatas=[
                {
                    "chunk_id": record.chunk_id,
                    "source": record.source,
                    "start": record.start,
                    "end": record.end,
                    "kind": record.kind,
                }
                for record in batch
            ],
        )

    def delete_document(self, source: str) -> int:
        """Delete a document's chunks and sentences; return how many chunks were removed."""
        with self._guard(f"deleting {source}", writing=True):
            chunk_ids = self._ids_where(self._chunks, source)
            self._delete_ids(self._chunks, chunk_ids)
            self._delete_ids(self._sentences, self._ids_where(self._sentences, source))
            if chunk_ids:
                self._bump_revision()
        return len(chunk_ids)

    def missing_words(self, stems: Sequence[str]) -> list[str]:
        """Return the stems of `stems` that the vocabulary does not hold yet."""
        with self._guard("reading the vocabulary"):
            known: set[str] = set()
            for start in range(0, len(stems), _BATCH):
                known.update(self._words.get(ids=list(stems[start : start + _BATCH]), include=[])["ids"])
        return [stem for stem in stems if stem not in known]

    def add_words(self, words: Sequence[tuple[str, str, str]], vectors: np.ndarray) -> None:
        """Store (stem, written form, language) entries of the vocabulary with their query vectors."""
        with self._guard("writing the vocabulary", writing=True):
            for start in range(0, len(words), _BATCH):
                batch = words[start : start + _BATCH]
                self._words.upsert(
                    ids=[stem for stem, _, _ in batch],
                    embeddings=vectors[start : start + _BATCH].tolist(),
                    documents=[word for _, word, _ in batch],
                    metadatas=[{"language": language} for _, _, language in batch],
                )

    def word_vectors(self, stems: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the stored vectors of those of `stems` the vocabulary holds."""
        if not stems:
            return {}
        with self._guard("reading the vocabulary"):
            found = self._words.get(ids=list(stems), include=["embeddings"])
        if not found["ids"]:
            return {}
        vectors = np.asarray(found["embeddings"], dtype=np.float32).reshape(len(found["ids"]), -1)
        return dict(zip(found["ids"], vectors, strict=True))

    def vocabulary_size(self, language: str, at_least: int) -> int:
        """Return how many stems of `language` the vocabulary holds, counting at most `at_least`."""
        with self._guard("reading the vocabulary"):
            return len(self._words.get(where={"language": language}, limit=at_least, include=[])["ids"])

    def nearest_words(self, vectors: np.ndarray, language: str, top_k: int) -> list[list[tuple[str, float]]]:
        """Return, for each vector, the `top_k` nearest stems of `language` with their cosine similarity."""
        if not len(vectors):
            return []
        with self._guard("searching the vocabulary"):
            result = self._words.query(
                query_embeddings=vectors.tolist(),
                n_results=top_k,
                where={"language": language},
                include=["distances"],
            )
        return [
            [(str(stem), 1.0 - float(distance)) for stem, distance in zip(ids, distances, strict=True)]
            for ids, distances in zip(result["ids"] or [], result["distances"] or [], strict=True)
        ]

    def reset(self) -> None:
        """Drop the collections and recreate them empty for the configured embedder."""
        prefix = self._chunks.name.removesuffix("-chunks")
        for name in (self._chunks.name, self._sentences.name, self._words.name):
            self._client.delete_collection(name)
        self.__init__(self._client, prefix, self.embedder_name, self._dim, self.location)  # type: ignore[misc]

    @staticmethod
    def _ids_where(collection: Any, source: str) -> list[str]:
        return list(collection.get(where={"source": source}, include=[])["ids"])

    @staticmethod
    def _delete_ids(collection: Any, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), _BATCH):
            collection.delete(ids=list(ids[start : start + _BATCH]))

    def all_chunks(self) -> list[tuple[str, str]]:
        """Return (chunk id, text) for every stored chunk, committed or not."""
        pairs: list[tuple[str, str]] = []
        total = self.count()
        for offset in range(0, total, _BATCH):
            batch = self._chunks.get(include=["documents"], limit=_BATCH, offset=offset)
            pairs.extend(zip(batch["ids"], batch["documents"] or [], strict=True))
        return pairs

    def chunk_ids(self) -> list[str]:
        """Return the id of every stored chunk, in the store's order (cheap: no text, no metadata)."""
        ids: list[str] = []
        total = self.count()
        with self._guard("listing chunks"):
            for offset in range(0, total, _BATCH):
                ids.extend(self._chunks.get(include=[], limit=_BATCH, offset=offset)["ids"])
        return ids

    def chunk_texts(self, chunk_ids: Sequence[str]) -> list[tuple[ChunkVersion, str]]:
        """Return each given chunk's version and text (order not guaranteed; missing ids are left out)."""
        found: list[tuple[ChunkVersion, str]] = []
        for start in range(0, len(chunk_ids), _BATCH):
            with self._guard("reading chunks"):
                batch = self._chunks.get(
                    ids=list(chunk_ids[start : start + _BATCH]), include=["documents", "metadatas"]
                )
            for chunk_id, text, metadata in zip(
                batch["ids"], batch["documents"] or [], batch["metadatas"] or [], strict=True
            ):
                version = ChunkVersion(chunk_id, str(metadata.get("source", "")), str(metadata.get("content_hash", "")))
                found.append((version, text))
        return found

    def search_chunks(self, embedding: np.ndarray, top_k: int) -> list[tuple[TextNode, float]]:
        """Return the `top_k` nearest chunks with cosine similarity."""
        if top_k <= 0:
            return []
        result = self.vector_store.query(VectorStoreQuery(query_embedding=embedding.tolist(), similarity_top_k=top_k))
        nodes = result.nodes or []
        # LlamaIndex reports exp(-distance); with cosine distance, 1 + log of it is the cosine again,
        # on the same scale as the sentence similarities.
        similarities = [1.0 + math.log(max(score, 1e-12)) for score in result.similarities or []]
        return [(node, score) for node, score in zip(nodes, similarities, strict=False)]  # type: ignore[misc]

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[TextNode]:
        """Return the chunks with the given ids (order not guaranteed)."""
        if not chunk_ids:
            return []
        result = self.vector_store.get_nodes(node_ids=list(chunk_ids))
        return [node for node in result if isinstance(node, TextNode)]

    def sentences_of(self, chunk_ids: Sequence[str]) -> dict[str, list[Sentence]]:
        """Return the stored sentences (with vectors) of each chunk, in text order."""
        found: dict[str, list[Sentence]] = defaultdict(list)
        for start in range(0, len(chunk_ids), _BATCH):
            batch = self._sentences.get(
                where={"chunk_id": {"$in": list(chunk_ids[start : start + _BATCH])}},
                include=["documents", "metadatas", "embeddings"],
            )
            for text, metadata, vector in zip(
                batch["documents"] or [], batch["metadatas"] or [], batch["embeddings"], strict=True
            ):
                found[str(metadata["chunk_id"])].append(
                    Sentence(
                        text=text,
                        start=int(metadata["start"]),
                        end=int(metadata["end"]),
                        embedding=np.asarray(vector, dtype=np.float32),
                        kind=str(metadata.get("kind", "text")),
                    )
                )
        for sentences in found.values():
            sentences.sort(key=lambda sentence: sentence.start)
        return found

    def chunk_similarities(self, chunk_ids: Sequence[str], embedding: np.ndarray) -> dict[str, float]:
        """Return the cosine similarity of `embedding` to each given chunk."""
        if not chunk_ids:
            return {}
        found = self._chunks.get(ids=list(chunk_ids), include=["embeddings"])
        vectors = np.asarray(found["embeddings"], dtype=np.float32).reshape(len(found["ids"]), -1)
        return {chunk_id: float(score) for chunk_id, score in zip(found["ids"], vectors @ embedding, strict=True)}

    def search_sentences(self, embedding: np.ndarray, top_k: int) -> list[tuple[str, float]]:
        """Return (chunk id, cosine similarity) of the `top_k` nearest sentences."""
        if top_k <= 0:
            return []
        # Repeated lines ("Пример:", "Синтаксис:") have equal vectors, so the index returns one of several
        # equally near copies at random: a wider pool, ties broken by id, gives every process the same list.
        result = self._sentences.query(
            query_embeddings=[embedding.tolist()], n_results=2 * top_k, include=["metadatas", "distances"]
        )
        ids = (result["ids"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        hits = sorted(zip(distances, ids, metadatas, strict=True), key=lambda hit: (round(float(hit[0]), 6), hit[1]))
        return [(str(metadata["chunk_id"]), 1.0 - float(distance)) for distance, _, metadata in hits[:top_k]]
