"""The built-in answerer: quotes the one to three retrieved sentences that best answer the question."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from rag.abstention import (
    AbstentionPolicy,
    contextual_similarity,
    match_strength,
    measure_signals,
    weighted_coverage,
)
from rag.answering.base import Answerer, AnswerRequest, Draft, DraftDelta, DraftEvent, refuse
from rag.models import Passage, Sentence
from rag.text import ANAPHORS, detect_language, extract_terms, split_into_words

# Sentence score = contextual similarity + LEXICAL_WEIGHT * idf-weighted question coverage
#                 + PASSAGE_WEIGHT * normalized passage score - a penalty for fragments. Set by reading the
# per-question signals of bench/calibrate.py; the join margin is swept in bench/sweep.py (0 → 0.93
# dev overall, 0.06 and 0.1 → 0.97; 0.1 also brings a second reason into "why" answers).
LEXICAL_WEIGHT = 0.25
PASSAGE_WEIGHT = 0.05
# A further sentence joins the answer only if it scores within this margin of the best one ...
JOIN_MARGIN = 0.1
# ... and the answer stays short: answers are a few sentences, not a pasted chunk.
MAX_ANSWER_CHARS = 450
# Weight of the words a follow-up borrowed from the earlier question.
TOPIC_WEIGHT = 0.5
# "How much …?" wants a number and "When …?" a date: a sentence that has one gets this bonus
# (own gold set 0.915 -> 0.936 overall, dev set unchanged).
ANSWER_TYPE_BONUS = 0.03
# Headings and bylines are rarely answers: sentences under SHORT_WORDS words lose up to SHORT_PENALTY.
SHORT_WORDS = 6
SHORT_PENALTY = 0.02
# A sentence this short, or one opening with an anaphor, is quoted together with the one before it.
MIN_STANDALONE_CHARS = 50


_NUMBER_QUESTION = re.compile(r"\b(сколько|how (much|many)|what (amount|share|percentage))\b", re.IGNORECASE)
_DATE_QUESTION = re.compile(r"\b(когда|в как(ом|ие) год|what year|when)\b", re.IGNORECASE)
_NUMBER = re.compile(
    r"\d|\b(один|два|три|четыре|пять|шесть|семь|восемь|девять|десять|сто|тысяч\w*|миллион\w*|млрд|млн)\b"
)
_DATE = re.compile(
    r"\b(1[89]|20)\d\d\b|\b(январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр)\w*",
    re.IGNORECASE,
)


def expected_answer_pattern(question: str) -> re.Pattern[str] | None:
    """Return what an answer sentence should contain for a number or date question, else None."""
    if _NUMBER_QUESTION.search(question):
        return _NUMBER
    if _DATE_QUESTION.search(question):
        return _DATE
    return None


@dataclass
class ScoredSentence:
    """A candidate sentence with the passage it belongs to and its score."""

    sentence: Sentence
    passage: Passage
    index: int
    score: float
    terms: set[str]


class ExtractiveAnswerer(Answerer):
    """Deterministic, LLM-free answers built from quoted sentences with [n] markers."""

    name = "extractive"

    def __init__(self, max_sentences: int = 3, policy: AbstentionPolicy | None = None) -> None:
        self._max_sentences = max_sentences
        self._policy = policy or AbstentionPolicy()

    def stream(self, request: AnswerRequest) -> Iterator[DraftEvent]:
        chosen = self.select(request)
        if not chosen:
            draft = refuse(request.language)
            yield DraftDelta(draft.text)
            yield draft
            return
        draft, lines = self._render(chosen)
        for i, line in enumerate(lines):
            yield DraftDelta(line if i == 0 else " " + line)
        yield draft

    def select(self, request: AnswerRequest) -> list[ScoredSentence]:
        """Return the answer sentences in answer order, or an empty list to refuse."""
        scored = self._score_sentences(request)
        if not scored:
            return []
        signals = measure_signals(request.retrieval, scored[0].terms)
        # Word-overlap signals only mean something when the question and the evidence share a language.
        same_language = detect_language(request.standalone_question) == detect_language(scored[0].passage.text)
        if self._policy.should_abstain(signals, same_language):
            return []
        return self._choose(scored)

    def _score_sentences(self, request: AnswerRequest) -> list[ScoredSentence]:
        retrieval = request.retrieval
        top_passage = max((passage.score for passage in retrieval.passages), default=0.0) or 1.0
        own_terms = set(extract_terms(request.question))
        # In a condensed follow-up the earlier topic's words count less than the question's own.
        weights = {
            term: weight * (1.0 if term in own_terms or not own_terms else TOPIC_WEIGHT)
            for term, weight in retrieval.term_weights.items()
        }
        wanted = expected_answer_pattern(request.question)
        scored: list[ScoredSentence] = []
        passage_language = {passage.chunk_id: detect_language(passage.text) for passage in retrieval.passages}
        for passage in retrieval.passages:
            for index, sentence in enumerate(passage.sentences):
                if sentence.embedding is None:
                    continue
                terms = set(extract_terms(sentence.text))
                coverage = 0.0
                # A foreign-language line inside a document (a source title, a quote) shares words
                # with same-language questions by accident, so only native sentences earn keyword credit.
                if detect_language(sentence.text) == passage_language[passage.chunk_id]:
                    coverage = weighted_coverage(retrieval.query_terms, weights, partial(match_strength, present=terms))
                words = len(split_into_words(sentence.text))
                score = (
                    contextual_similarity(sentence, passage, retrieval.query_embedding)
                    + LEXICAL_WEIGHT * coverage
                    + PASSAGE_WEIGHT * passage.score / top_passage
                    - SHORT_PENALTY * max(0, SHORT_WORDS - words) / SHORT_WORDS
                    + (ANSWER_TYPE_BONUS if wanted and wanted.search(sentence.text) else 0.0)
                )
                scored.append(ScoredSentence(sentence, passage, index, score, terms))
        scored.sort(key=lambda item: (-item.score, item.passage.start, item.sentence.start))
        return scored

    def _choose(self, scored: list[ScoredSentence]) -> list[ScoredSentence]:
        best = scored[0]
        chosen = [best]
        length = len(best.sentence.text)
        for candidate in scored[1 : self._max_sentences * 4]:
            if len(chosen) >= self._max_sentences or candidate.score < best.score - JOIN_MARGIN:
                break
            if length + len(candidate.sentence.text) > MAX_ANSWER_CHARS:
                continue
            if any(candidate.sentence.text == item.sentence.text for item in chosen):
                continue
            chosen.append(candidate)
            length += len(candidate.sentence.text)
        return self._add_context(chosen)

    @staticmethod
    def _needs_context(sentence: Sentence) -> bool:
        words = split_into_words(sentence.text)
        return len(sentence.text) < MIN_STANDALONE_CHARS or bool(words and words[0] in ANAPHORS)

    def _add_context(self, chosen: list[ScoredSentence]) -> list[ScoredSentence]:
        """Put the preceding sentence before a fragment that cannot stand alone."""
        result: list[ScoredSentence] = []
        for item in chosen:
            if self._needs_context(item.sentence) and item.index > 0:
                previous = item.passage.sentences[item.index - 1]
                if all(previous.start != other.sentence.start for other in chosen + result):
                    result.append(ScoredSentence(previous, item.passage, item.index - 1, item.score, set()))
            result.append(item)
        return result

    @staticmethod
    def _render(chosen: list[ScoredSentence]) -> tuple[Draft, list[str]]:
        markers: dict[str, int] = {}
        passages: list[Passage] = []
        highlights: dict[str, list[tuple[int, int]]] = {}
        lines: list[str] = []
        for item in chosen:
            passage = item.passage
            if passage.chunk_id not in markers:
                markers[passage.chunk_id] = len(markers) + 1
                passages.append(passage)
            relative = (item.sentence.start - passage.start, item.sentence.end - passage.start)
            highlights.setdefault(passage.chunk_id, []).append(relative)
            lines.append(f"{item.sentence.text.strip()} [{markers[passage.chunk_id]}]")
        draft = Draft(text=" ".join(lines), passages=passages, abstained=False, highlights=highlights)
        return draft, lines
