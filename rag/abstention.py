"""When to refuse: signals about how well the retrieved evidence covers the question."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.models import Passage, Retrieval, Sentence
from rag.text import find_names, stem_word

# Defaults calibrated with bench/calibrate.py on tests/gold_qa.jsonl + tests/extra_qa.jsonl for
# multilingual-e5-small; another embedder has another cosine scale and needs its own
# (CITECHAT_MIN_SIMILARITY / CITECHAT_STRONG_SIMILARITY). See AbstentionPolicy for how they combine.
MIN_DENSE = 0.79
STRONG_DENSE = 0.84
MIN_COVERAGE = 0.4
# ... and the best sentence itself must hold this share of the question's (idf-weighted) words.
MIN_SENTENCE_COVERAGE = 0.25
# A name in the question (a capitalized word inside it) that the corpus never mentions means the
# question is about something else, unless the evidence is closer than this.
UNKNOWN_NAME_DENSE = 0.88
# Snowball keeps alternations apart ("перевел"/"перевод"); a shared prefix this long, covering
# this share of the shorter stem, counts as half a match.
PREFIX_CHARS = 5
PREFIX_SHARE = 0.7


@dataclass
class EvidenceSignals:
    """Question-evidence agreement measures that do not depend on any particular question."""

    best_dense: float
    corpus_coverage: float
    passage_coverage: float
    has_terms: bool
    unknown_names: list[str]


def match_strength(term: str, present: set[str]) -> float:
    """Return 1 for an exact stem match, 0.5 for a long shared stem prefix, else 0."""
    if term in present:
        return 1.0
    if len(term) < PREFIX_CHARS:
        return 0.0
    for other in present:
        shared = 0
        for a, b in zip(term, other, strict=False):
            if a != b:
                break
            shared += 1
        if shared >= PREFIX_CHARS and shared >= PREFIX_SHARE * min(len(term), len(other)):
            return 0.5
    return 0.0


def weighted_coverage(terms: list[str], weights: dict[str, float], strength: Callable[[str], float]) -> float:
    """Return the idf-weighted share of `terms` matched, each counted by `strength` (0 with no terms)."""
    unique = set(terms)
    total = sum(weights.get(term, 1.0) for term in unique)
    if total == 0:
        return 0.0
    return sum(weights.get(term, 1.0) * strength(term) for term in unique) / total


def contextual_similarity(sentence: Sentence, passage: Passage, query_embedding: np.ndarray) -> float:
    """Return the query's similarity to a sentence read in its passage: the mean of the two cosines.

    Short lines ("Перевод ...", "Фото ...") are near every query in e5 space; averaging with the
    passage's similarity keeps such hubs from outranking the sentence that answers.
    """
    assert sentence.embedding is not None
    return 0.5 * float(sentence.embedding @ query_embedding) + 0.5 * passage.dense_score


def measure_signals(retrieval: Retrieval, passage_terms: set[str]) -> EvidenceSignals:
    """Compute the abstention signals of one retrieval."""
    best_dense = max(
        (
            contextual_similarity(sentence, passage, retrieval.query_embedding)
            for passage in retrieval.passages
            for sentence in passage.sentences
            if sentence.embedding is not None
        ),
        default=0.0,
    )
    terms = retrieval.query_terms
    weights = retrieval.term_weights
    return EvidenceSignals(
        best_dense=best_dense,
        corpus_coverage=weighted_coverage(terms, weights, lambda term: retrieval.term_presence.get(term, 0.0)),
        passage_coverage=weighted_coverage(terms, weights, lambda term: match_strength(term, passage_terms)),
        has_terms=bool(terms),
        unknown_names=[
            name for name in find_names(retrieval.query) if retrieval.term_presence.get(stem_word(name), 1.0) == 0.0
        ],
    )


@dataclass(frozen=True)
class AbstentionPolicy:
    """Refusal thresholds; similarities are on the embedder's own cosine scale."""

    min_dense: float = MIN_DENSE
    strong_dense: float = STRONG_DENSE
    min_coverage: float = MIN_COVERAGE
    min_sentence_coverage: float = MIN_SENTENCE_COVERAGE
    unknown_name_dense: float = UNKNOWN_NAME_DENSE

    def should_abstain(self, signals: EvidenceSignals, same_language: bool) -> bool:
        """Refuse when the evidence is semantically distant, or close but missing the question's rare words."""
        if signals.best_dense < self.min_dense:
            return True
        if not same_language or not signals.has_terms:
            return False
        if signals.unknown_names and signals.best_dense < self.unknown_name_dense:
            return True
        if signals.best_dense < self.strong_dense:
            return signals.corpus_coverage < self.min_coverage or signals.passage_coverage < self.min_sentence_coverage
        return False
