"""The answerer interface: every backend streams text deltas, then one final draft with its citations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from rag.models import AnswerMode, Passage, Retrieval, Turn
from rag.replies import REFUSALS
from rag.text import reply_language


@dataclass
class AnswerRequest:
    """Everything an answerer may use: the question as asked and as searched, and what was retrieved."""

    question: str
    standalone_question: str
    language: str
    retrieval: Retrieval
    history: Sequence[Turn] = ()


@dataclass
class Draft:
    """An answerer's result: text with [n] markers, the cited passages in marker order, quoted spans."""

    text: str
    passages: list[Passage]
    abstained: bool
    highlights: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    confidence: float | None = None
    mode: AnswerMode = "extractive"
    fallback_reason: str = ""
    sentence_support: list[float] = field(default_factory=list)
    dropped_sentences: int = 0


@dataclass
class DraftDelta:
    """A piece of the draft's text, streamed as soon as it is known."""

    text: str


DraftEvent = DraftDelta | Draft


def refuse(question: str) -> Draft:
    """Return the refusal draft in the question's language (`reply_language`)."""
    return Draft(text=REFUSALS.get(reply_language(question), REFUSALS["en"]), passages=[], abstained=True)


class Answerer(ABC):
    """Turns retrieved passages into a cited answer; streaming is the only code path."""

    name: str
    # Whether `condense` asks a model (the engine then reports a "condensing" stage while it waits).
    condenses_with_model = False

    @abstractmethod
    def stream(self, request: AnswerRequest) -> Iterator[DraftEvent]:
        """Yield DraftDelta pieces, then exactly one Draft whose text is their concatenation."""

    def condense(self, question: str, history: Sequence[Turn]) -> str | None:
        """Return a standalone version of a follow-up written by a model, or None to keep citechat's own."""
        return None
