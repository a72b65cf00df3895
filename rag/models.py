"""Data that crosses module boundaries: turns, passages, citations, answers and stream events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field


class Turn(BaseModel):
    """One earlier message of a conversation."""

    role: Literal["user", "assistant"]
    content: str


class Highlight(BaseModel):
    """A span, relative to the citation text, of a sentence the answer used."""

    start: int
    end: int


class Citation(BaseModel):
    """A cited passage: `text` equals `source_text[start:end]` of its source document."""

    marker: int = Field(description="The [n] marker used in the answer text.")
    text: str = Field(description="The cited passage.")
    source: str = Field(description="Path or name of the source document.")
    title: str = Field(description="Title of the source document.")
    start: int = Field(description="Character offset of the passage in its source text.")
    end: int = Field(description="End offset (exclusive) of the passage in its source text.")
    score: float = Field(description="Retrieval score of the passage (higher is better).")
    highlights: list[Highlight] = Field(
        default_factory=list, description="Spans within `text` of the sentences the answer quotes."
    )


class Timings(BaseModel):
    """Wall-clock milliseconds spent per stage."""

    retrieve: float = 0.0
    answer: float = 0.0
    total: float = 0.0


AnswerMode = Literal["llm", "extractive", "llm-fallback", "reply"]


class Answer(BaseModel):
    """The answer object every surface returns (`citechat ask --json`, `/api/ask`)."""

    question: str
    standalone_question: str
    answer: str
    abstained: bool
    confidence: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="How sure citechat is that the documents answer the question (0-1; refusals are low).",
    )
    notice: str = Field(
        default="", description="A remark for the reader, e.g. that the quotes are in another language."
    )
    citations: list[Citation]
    timings_ms: Timings
    mode: AnswerMode = Field(
        default="extractive",
        description="Who wrote the text: `llm` (the model, every sentence checked), `extractive` (quoted by "
        "citechat), `llm-fallback` (quoted by citechat because the model's reply was unusable or late), "
        "`reply` (citechat's own reply to a greeting, thanks or 'what can you do': no document is quoted).",
    )
    fallback_reason: str = Field(default="", description="Why an `llm-fallback` answer did not use the model.")
    sentence_support: list[float] = Field(
        default_factory=list,
        description="Grounding score (0-1) of each model sentence shown, in order; empty for quoted answers.",
    )
    dropped_sentences: int = Field(
        default=0, ge=0, description="Model sentences left out as unsupported, off-topic or cut off."
    )


@dataclass
class Sentence:
    """A sentence of a passage, with absolute offsets in the source text."""

    text: str
    start: int
    end: int
    embedding: np.ndarray | None = None
    kind: str = "text"


@dataclass
class Passage:
    """A retrieved chunk with its scores and sentences."""

    chunk_id: str
    text: str
    source: str
    title: str
    start: int
    end: int
    score: float = 0.0
    dense_score: float = 0.0
    sentences: list[Sentence] = field(default_factory=list)
    heading: str = ""


@dataclass
class Retrieval:
    """What retrieval hands the answerer: the question as searched and the ranked passages."""

    query: str
    query_embedding: np.ndarray
    query_terms: list[str]
    passages: list[Passage]
    term_weights: dict[str, float] = field(default_factory=dict)
    term_presence: dict[str, float] = field(default_factory=dict)
    # The corpus's inverse document frequency of any stem (term_weights holds the query's own).
    idf: Callable[[str], float] | None = None
    # How well the corpus vocabulary matches any stem, as term_presence does the query's own (None: unknown).
    presence: Callable[[str], float] | None = None
    # Stems with an idf below this are the corpus's topic (None: a tenth of the chunks).
    topic_idf: float | None = None
    # Whether a stem is in so many of the documents that it is the corpus's topic (None: no such test).
    widespread: Callable[[str], bool] | None = None
    # Whether a sentence is a line copied word for word across many documents (None: no such test).
    boilerplate: Callable[[str], bool] | None = None
    # A query stem's counterparts in the documents' other language ("packag" -> ("пакет",)).
    translations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The language the query's words were analyzed in (rag.text.word_language, "en" when it has none):
    # evidence compared with them is analyzed in it too, so the same word gives the same stem.
    language: str = "en"
    # Whether the corpus is written, mostly, in the query's (non-Latin) script: a name it never mentions,
    # in that script or through a counterpart, is then unknown to it, whatever the passages' language.
    native: bool = False


@dataclass
class AnswerDelta:
    """A piece of answer text as it is produced."""

    text: str


@dataclass
class AnswerProgress:
    """What the engine is doing before any text exists: "condensing" a follow-up with an LLM, "writing" once
    the passages are found."""

    stage: str


@dataclass
class AnswerDone:
    """The final, complete answer (the joined deltas plus citations)."""

    answer: Answer


AnswerEvent = AnswerDelta | AnswerProgress | AnswerDone


class DocumentInfo(BaseModel):
    """One ingested document as the store knows it."""

    source: str
    title: str
    chunks: int
    content_hash: str


class StoreStatus(BaseModel):
    """Readiness facts about the store."""

    reachable: bool
    chunks: int
    documents: int
    embedder: str
    location: str
