"""When to refuse: signals about how well the retrieved evidence covers the question."""

from __future__ import annotations

from dataclasses import dataclass

from rag.models import Retrieval

# Calibrated on tests/gold_qa.jsonl plus tests/extra_qa.jsonl (see `citechat eval --signals`):
# answerable questions have a best sentence similarity >= 0.83 with multilingual-e5-small, and
# out-of-corpus ones stay below it unless most of their content words occur in the corpus.
MIN_DENSE = 0.83
# Below this dense similarity a question is answered only if its rare words are in the corpus.
STRONG_DENSE = 0.86
MIN_COVERAGE = 0.5


@dataclass
class EvidenceSignals:
    """Question-evidence agreement measures that do not depend on any particular question."""

    best_dense: float
    corpus_coverage: float
    passage_coverage: float
    has_terms: bool


def weighted_coverage(terms: list[str], weights: dict[str, float], present: set[str]) -> float:
    """Return the idf-weighted share of `terms` found in `present` (0 when there are no terms)."""
    total = sum(weights.get(term, 1.0) for term in set(terms))
    if total == 0:
        return 0.0
    return sum(weights.get(term, 1.0) for term in set(terms) if term in present) / total


def measure_signals(retrieval: Retrieval, passage_terms: set[str]) -> EvidenceSignals:
    """Compute the abstention signals of one retrieval."""
    best_dense = 0.0
    for passage in retrieval.passages:
        for sentence in passage.sentences:
            if sentence.embedding is not None:
                best_dense = max(best_dense, float(sentence.embedding @ retrieval.query_embedding))
    terms = retrieval.query_terms
    return EvidenceSignals(
        best_dense=best_dense,
        corpus_coverage=weighted_coverage(terms, retrieval.term_weights, retrieval.known_terms),
        passage_coverage=weighted_coverage(terms, retrieval.term_weights, passage_terms),
        has_terms=bool(terms),
    )


def should_abstain(signals: EvidenceSignals, same_language: bool) -> bool:
    """Decide to refuse when the evidence is semantically distant or misses the question's rare words."""
    if signals.best_dense < MIN_DENSE:
        return True
    if same_language and signals.has_terms and signals.best_dense < STRONG_DENSE:
        return signals.corpus_coverage < MIN_COVERAGE
    return False
