"""Optional cross-encoder reranking through sentence-transformers."""

from __future__ import annotations

from collections.abc import Sequence

from rag.errors import BackendUnavailableError
from rag.models import Passage


class Reranker:
    """Reorders passages by a sentence-transformers CrossEncoder score."""

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as error:
            raise BackendUnavailableError(
                "reranking needs sentence-transformers; run: pip install -c constraints.txt -e '.[st]'"
            ) from error
        try:
            self._model = CrossEncoder(model, device="cpu", local_files_only=True)
        except Exception as error:
            raise BackendUnavailableError(
                f"cannot load reranker {model!r} ({error}); point CITECHAT_RERANKER_MODEL at a local folder"
            ) from error

    def rerank(self, query: str, passages: Sequence[Passage]) -> list[Passage]:
        """Return the passages best-first by cross-encoder score (stored as `score`)."""
        scores = self._model.predict([(query, passage.text) for passage in passages])
        for passage, score in zip(passages, scores, strict=True):
            passage.score = float(score)
        return sorted(passages, key=lambda passage: -passage.score)
