"""The engine every surface talks to: validate, condense, retrieve, answer, cite."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.abstention import AbstentionPolicy
from rag.answering.base import Answerer, AnswerRequest, Draft, DraftDelta
from rag.config import Settings
from rag.conversation import SmallTalk, classify_small_talk, condense_question, reply_to_small_talk
from rag.embeddings import Embedder, build_embedder
from rag.errors import UserInputError
from rag.models import (
    Answer,
    AnswerDelta,
    AnswerDone,
    AnswerEvent,
    AnswerProgress,
    Citation,
    DocumentInfo,
    Highlight,
    StoreStatus,
    Timings,
    Turn,
)
from rag.replies import quote_notice
from rag.retrieval import HybridRetriever
from rag.store import ChunkStore
from rag.text import reply_language, strip_instructions, written_language

logger = logging.getLogger("citechat.engine")


@dataclass
class Limits:
    """Bounds on what one request may carry."""

    max_question_chars: int = 2000
    max_history_turns: int = 20
    max_turn_chars: int = 20000


def validate_question(question: str, history: Sequence[Turn], limits: Limits) -> str:
    """Return the stripped question, or raise UserInputError saying what is wrong."""
    if not isinstance(question, str) or not question.strip():
        raise UserInputError("the question is empty; ask something about the documents")
    question = question.strip()
    if "\x00" in question:
        raise UserInputError("the question contains a NUL character; send plain text")
    if len(question) > limits.max_question_chars:
        raise UserInputError(
            f"the question has {len(question)} characters; the limit is {limits.max_question_chars}. "
            "Ask a shorter question"
        )
    if len(history) > limits.max_history_turns:
        raise UserInputError(
            f"the history has {len(history)} turns; the limit is {limits.max_history_turns}. Send fewer turns"
        )
    for turn in history:
        if len(turn.content) > limits.max_turn_chars:
            raise UserInputError(f"a history turn is longer than {limits.max_turn_chars} characters")
    return question


class Engine:
    """Answers questions over the store with cited passages; thread-safe for concurrent requests."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        retriever: HybridRetriever,
        answerer: Answerer,
        limits: Limits | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.retriever = retriever
        self.answerer = answerer
        self.limits = limits or Limits()

    def ask(self, question: str, history: Sequence[Turn] = (), top_k: int | None = None) -> Answer:
        """Return the complete answer (the joined stream)."""
        for event in self.stream(question, history, top_k):
            if isinstance(event, AnswerDone):
                return event.answer
        raise RuntimeError("the answerer ended without a final answer")

    def stream(self, question: str, history: Sequence[Turn] = (), top_k: int | None = None) -> Iterator[AnswerEvent]:
        """Yield answer text as it is produced, then one AnswerDone with the full answer."""
        started = time.perf_counter()
        question = validate_question(question, history, self.limits)
        small_talk = classify_small_talk(question)
        if small_talk:
            yield from self._reply_to_small_talk(question, small_talk, started)
            return
        # "Ответь кратко." says how to answer, not what about: it is not searched for.
        asked = strip_instructions(question)
        standalone = condense_question(asked, history)
        if standalone != asked.strip() and self.answerer.condenses_with_model:
            # A follow-up: a configured LLM may name what it points back to (checked, else the heuristic's).
            yield AnswerProgress("condensing")
            standalone = self.answerer.condense(asked, history) or standalone
        retrieval = self.retriever.search(standalone, top_k=top_k)
        retrieved = time.perf_counter()
        # The passages are found; an LLM may now take seconds before its first checked sentence.
        yield AnswerProgress("writing")
        request = AnswerRequest(
            question=question,
            standalone_question=standalone,
            language=reply_language(question),
            retrieval=retrieval,
            history=history,
        )
        for event in self.answerer.stream(request):
            if isinstance(event, DraftDelta):
                yield AnswerDelta(event.text)
            else:
                finished = time.perf_counter()
                timings = Timings(
                    retrieve=round((retrieved - started) * 1000, 2),
                    answer=round((finished - retrieved) * 1000, 2),
                    total=round((finished - started) * 1000, 2),
                )
                yield AnswerDone(self._finish(question, standalone, event, timings))

    def _reply_to_small_talk(self, question: str, small_talk: SmallTalk, started: float) -> Iterator[AnswerEvent]:
        """Answer a greeting, thanks or "what can you do" without quoting a random passage."""
        titles = [document.title for document in self.store.documents()]
        text = reply_to_small_talk(small_talk, titles)
        yield AnswerDelta(text)
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        draft = Draft(text=text, passages=[], abstained=True, confidence=0.0, mode="reply")
        yield AnswerDone(self._finish(question, question, draft, Timings(answer=elapsed, total=elapsed)))

    @staticmethod
    def _finish(question: str, standalone: str, draft: Draft, timings: Timings) -> Answer:
        citations = [
            Citation(
                marker=marker,
                text=passage.text,
                source=passage.source,
                title=passage.title,
                start=passage.start,
                end=passage.end,
                score=round(passage.score, 6),
                highlights=[Highlight(start=s, end=e) for s, e in draft.highlights.get(passage.chunk_id, [])],
            )
            for marker, passage in enumerate(draft.passages, start=1)
        ]
        confidence = draft.confidence if draft.confidence is not None else (0.0 if draft.abstained else 1.0)
        return Answer(
            question=question,
            standalone_question=standalone,
            answer=draft.text,
            abstained=draft.abstained,
            confidence=confidence,
            notice=quote_language_notice(question, draft),
            citations=citations,
            timings_ms=timings,
            mode=draft.mode,
            fallback_reason=draft.fallback_reason,
            sentence_support=draft.sentence_support,
            dropped_sentences=draft.dropped_sentences,
        )

    def documents(self) -> list[DocumentInfo]:
        """Return the ingested documents with chunk counts."""
        return self.store.documents()

    def status(self) -> StoreStatus:
        """Return store readiness facts."""
        return self.store.status()

    def refresh(self) -> None:
        """Pick up store changes (after an ingest) right away."""
        self.retriever.refresh(force=True)


def quote_language_notice(question: str, draft: Draft) -> str:
    """Say, in the question's language, that the quoted answer is in its source's other language."""
    if draft.abstained or not draft.passages or draft.mode not in ("extractive", "llm-fallback"):
        return ""
    asked = reply_language(question)
    quoted = written_language(draft.text)
    if quoted is None or quoted == asked:
        return ""
    return quote_notice(quoted, asked)


def build_answerer(settings: Settings, embedder: Embedder | None = None) -> Answerer:
    """Create the answerer the settings name; the LLM one refuses and falls back like the extractive one."""
    from rag.answering.extractive import ExtractiveAnswerer

    extractive = ExtractiveAnswerer(max_sentences=settings.max_answer_sentences, policy=abstention_policy(settings))
    if settings.answerer == "llm":
        from rag.answering.llm import LLMAnswerer

        return LLMAnswerer.from_settings(settings, embedder=embedder, fallback=extractive)
    return extractive


def abstention_policy(settings: Settings) -> AbstentionPolicy:
    """Return the refusal thresholds: the configured ones, else the calibrated multilingual-e5 defaults."""
    defaults = AbstentionPolicy()
    return AbstentionPolicy(
        min_dense=settings.min_similarity if settings.min_similarity is not None else defaults.min_dense,
        strong_dense=settings.strong_similarity if settings.strong_similarity is not None else defaults.strong_dense,
    )


def open_store(settings: Settings, embedder: Embedder) -> ChunkStore:
    """Open the configured store for `embedder`."""
    return ChunkStore.open(settings, embedder.name, embedder.dim)


def build_engine(settings: Settings, embedder: Embedder | None = None, store: ChunkStore | None = None) -> Engine:
    """Build the engine and its heavy parts (embedder, store, reranker, answerer) from settings."""
    embedder = embedder or build_embedder(settings)
    store = store or open_store(settings, embedder)
    store.ensure_compatible()
    if store.count() and not store.vocabulary_size("ru", 1) and not store.vocabulary_size("en", 1):
        logger.warning(
            "the store at %s has no word vocabulary (it was made by an older citechat): questions are not "
            "matched across languages until you run `citechat reindex`",
            store.location,
        )
    reranker = None
    if settings.reranker_model:
        from rag.rerank import Reranker

        reranker = Reranker(settings.reranker_model)
    retriever = HybridRetriever(store, embedder, top_k=settings.top_k, reranker=reranker)
    limits = Limits(max_question_chars=settings.max_question_chars, max_history_turns=settings.max_history_turns)
    return Engine(store, embedder, retriever, build_answerer(settings, embedder), limits)
