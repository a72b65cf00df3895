"""Grounding checks for generated answers: split into sentences, read [n] markers, test support by cited passages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from rag.abstention import match_strength
from rag.embeddings import Embedder
from rag.models import Passage, Sentence
from rag.text import detect_language, extract_terms, split_into_sentences

# "[1]", "[1][3]", "[1, 3]"; other citation styles are not recognized, so such sentences count as uncited.
MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_NUMBER = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)

# Thresholds measured on the bundled article with hand-written answer sentences for real retrievals
# (GROUNDING_CASES in tests/test_llm_answerer.py). Same-language sentences: the share of their
# content-word stems found in the cited passages (exact stem 1, long shared prefix 0.5, as in
# rag.abstention). Faithful sentences scored 0.5-1.0 (a synonym-heavy paraphrase 0.33, rejected);
# off-topic inventions 0.1-0.36; inventions that swap one name ("прошёл в Осаке") 0.5-0.88, which is
# why names and numbers are checked on their own and this share only screens out unrelated text.
MIN_LEXICAL_SUPPORT = 0.5
# Stems cannot be compared across languages, so a sentence in another language than its passages is
# compared by embedding to their sentences instead. With multilingual-e5-small faithful translations
# scored 0.80-0.91 and same-topic inventions 0.76-0.82: the threshold sits above the inventions and
# lets through only close translations, so most cross-lingual answers fall back to quoting.
MIN_SEMANTIC_SUPPORT = 0.85


@dataclass
class Verdict:
    """The outcome of checking one answer sentence against the passages it cites."""

    claim: str
    supported: bool
    reason: str
    cited: list[int] = field(default_factory=list)
    support: dict[int, Sentence] = field(default_factory=dict)
    score: float = 0.0


def split_answer(text: str) -> list[tuple[int, int]]:
    """Return sentence spans of an answer, each marker group kept with the sentence before it.

    Models write both "... Токио [1]." and "... Токио. [1]"; a sentence splitter gives the second form's
    marker to the next sentence, so marker-only prefixes are moved back.
    """
    spans: list[tuple[int, int]] = []
    for start, end in split_into_sentences(text):
        while spans:
            lead = re.match(r"(?:\s*" + MARKER.pattern + r")+", text[start:end])
            if not lead:
                break
            spans[-1] = (spans[-1][0], start + lead.end())
            start += lead.end()
            while start < end and text[start].isspace():
                start += 1
            if start >= end:
                break
        if start < end:
            spans.append((start, end))
    return spans


def has_letters(text: str) -> bool:
    """Tell whether `text` holds any letter outside [n] markers (i.e. a sentence has begun)."""
    return bool(_LETTER.search(MARKER.sub(" ", text)))


def find_markers(sentence: str) -> list[int]:
    """Return the marker numbers of a sentence in order of appearance, without repeats."""
    numbers: list[int] = []
    for group in MARKER.findall(sentence):
        for number in re.split(r"\s*[,;]\s*", group):
            if int(number) not in numbers:
                numbers.append(int(number))
    return numbers


def strip_markers(sentence: str) -> str:
    """Return the sentence without markers, with the space they leave before punctuation removed."""
    text = MARKER.sub("", sentence)
    text = re.sub(r"\s+([.,;:!?…])", r"\1", text)
    return " ".join(text.split())


def find_unknown_names(claim: str, texts: list[str]) -> list[str]:
    """Return the claim's names (capitalized words after the first, Latin words in Cyrillic text) absent from `texts`.

    Swapping one name is the invention a stem-overlap share cannot see ("прошёл в Осаке" instead of
    "в Токио" keeps most words), so every name must itself occur in the cited passages.
    """
    present = {term for text in texts for term in extract_terms(text)}
    cyrillic_claim = bool(_CYRILLIC.search(claim))
    unknown: list[str] = []
    for position, match in enumerate(_WORD.finditer(claim)):
        word = match.group()
        is_name = (position > 0 and word[0].isupper()) or (cyrillic_claim and not _CYRILLIC.search(word))
        if not is_name or not _LETTER.search(word):
            continue
        stems = extract_terms(word)
        if stems and not any(match_strength(stem, present) for stem in stems):
            unknown.append(word)
    return unknown


def _lexical_support(claim_terms: set[str], texts: list[str]) -> float:
    """Return the share of claim stems found in `texts` (exact 1, long shared prefix 0.5)."""
    present = {term for text in texts for term in extract_terms(text)}
    return sum(match_strength(term, present) for term in claim_terms) / len(claim_terms)


def _best_sentence(claim_terms: set[str], claim_vector: np.ndarray | None, passage: Passage) -> Sentence | None:
    """Return the passage sentence that best supports the claim (by embedding when given, else by stems)."""
    best, best_score = None, -1.0
    for sentence in passage.sentences:
        if claim_vector is not None and sentence.embedding is not None:
            score = float(sentence.embedding @ claim_vector)
        else:
            score = _lexical_support(claim_terms, [sentence.text])
        if score > best_score:
            best, best_score = sentence, score
    return best


def verify_sentence(sentence: str, passages: list[Passage], embedder: Embedder | None = None) -> Verdict:
    """Check that a sentence cites valid passages and that they support it (see the thresholds above).

    `cited` keeps, in order of mention, the valid cited passages that share content with the claim;
    `support` maps each to its best supporting sentence.
    """
    claim = strip_markers(sentence)
    cited = [number - 1 for number in find_markers(sentence) if 1 <= number <= len(passages)]
    if not cited:
        return Verdict(claim, False, "no valid [n] marker")
    terms = set(extract_terms(claim))
    if not terms:
        return Verdict(claim, False, "no content words", cited)
    passage_numbers = set(_NUMBER.findall(" ".join(passages[index].text for index in cited)))
    invented = [number for number in _NUMBER.findall(claim) if number not in passage_numbers]
    if invented:
        return Verdict(claim, False, f"numbers not in the cited passages: {', '.join(invented)}", cited)
    if all(detect_language(claim) != detect_language(passages[index].text) for index in cited):
        # Names and wording cannot be compared across languages; only meaning can.
        if embedder is None:
            return Verdict(claim, False, "another language than its passages and no embedder to compare", cited)
        vector = embedder.embed_passages([claim])[0]
        support = _collect_support(terms, vector, passages, cited)
        score = max((float(s.embedding @ vector) for s in support.values() if s.embedding is not None), default=0.0)
        threshold = MIN_SEMANTIC_SUPPORT
    else:
        unknown = find_unknown_names(claim, [passages[index].text for index in cited])
        if unknown:
            return Verdict(claim, False, f"names not in the cited passages: {', '.join(unknown)}", cited)
        useful = _necessary_passages(terms, passages, cited)
        support = _collect_support(terms, None, passages, useful)
        score = _lexical_support(terms, [passages[index].text for index in useful])
        threshold = MIN_LEXICAL_SUPPORT
        cited = useful
    if score < threshold:
        return Verdict(claim, False, f"support {score:.2f} < {threshold}", cited, support, score)
    return Verdict(claim, True, "supported", cited, support, score)


def _necessary_passages(terms: set[str], passages: list[Passage], cited: list[int]) -> list[int]:
    """Return, in citation order, the cited passages that each add claim words the better ones lack.

    Models cite generously ("[2][1]" where [2] alone says it); a marker whose passage adds nothing
    would send the reader to a passage that does not support the sentence, so it is dropped.
    """
    ranked = sorted(cited, key=lambda index: -_lexical_support(terms, [passages[index].text]))
    kept: list[int] = []
    covered = 0.0
    for index in ranked:
        coverage = _lexical_support(terms, [passages[other].text for other in [*kept, index]])
        if coverage > covered:
            kept.append(index)
            covered = coverage
    return [index for index in cited if index in kept] or cited[:1]


def _collect_support(
    terms: set[str], vector: np.ndarray | None, passages: list[Passage], cited: list[int]
) -> dict[int, Sentence]:
    support: dict[int, Sentence] = {}
    for index in cited:
        best = _best_sentence(terms, vector, passages[index])
        if best is not None:
            support[index] = best
    return support
