"""When to refuse: signals about how well the retrieved evidence covers the question."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.models import Passage, Retrieval, Sentence

# Thresholds calibrated with bench/calibrate.py on tests/gold_qa.jsonl + tests/extra_qa.jsonl
# (multilingual-e5-small). See should_abstain for how they combine.
MIN_DENSE = 0.80
STRONG_DENSE = 0.85
MIN_COVERAGE = 0.4
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
    )


def should_abstain(signals: EvidenceSignals, same_language: bool) -> bool:
    """Decide to refuse when the evidence is semantically distant or misses the question's rare words."""
    if signals.best_dense < MIN_DENSE:
        return True
    if same_language and signals.has_terms and signals.best_dense < STRONG_DENSE:
        return signals.corpus_coverage < MIN_COVERAGE
    return False
