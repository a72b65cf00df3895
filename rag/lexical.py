"""BM25 over Snowball stems, derived from the chunks in the store (never a second source of truth)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath

import bm25s
import numpy as np

from rag.abstention import PREFIX_CHARS, match_strength
from rag.text import detect_language, extract_terms

# A stem in fewer chunks than this is never the corpus's topic, however small the corpus.
MIN_TOPIC_CHUNKS = 3
# A stem in a third of the documents (and in at least three) is the corpus's topic too: a product's name
# across its help pages, each of many chunks that do not repeat it. (A quarter, measured on all corpora:
# gimp-ru +0.03, mixed-ru-en -0.03 and fewer correct refusals on doublecmd-ru.)
TOPIC_DOCUMENT_SHARE = 1 / 3
MIN_TOPIC_DOCUMENTS = 3
# A line (or a sentence of one) written word for word in this many documents is template text: a caption
# ("Исходное изображение" on every filter page), a cross-reference ("These parameters are described in
# Section 2"), a label. It says nothing of the page it is on, so it is quoted as no sentence's context.
BOILERPLATE_DOCUMENTS = 5
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")


def line_keys(text: str) -> set[str]:
    """Return the case- and space-folded lines of `text` and the sentences they hold (a line's parts)."""
    keys: set[str] = set()
    for line in text.splitlines():
        keys.add(fold_line(line))
        keys.update(fold_line(part) for part in _SENTENCE_END.split(line))
    keys.discard("")
    return keys


def fold_line(text: str) -> str:
    """Return `text` lowercased with runs of white space as one space (how copies of a line are compared)."""
    return " ".join(text.lower().split())


class LexicalIndex:
    """An in-memory BM25 index plus document frequencies, rebuilt from the store when it changes."""

    def __init__(self, chunks: Sequence[tuple[str, str]]) -> None:
        self._build([(chunk_id, extract_terms(text)) for chunk_id, text in chunks])

    @classmethod
    def from_terms(
        cls,
        chunks: Sequence[tuple[str, list[str]]],
        sources: Mapping[str, str] | None = None,
        lines: Mapping[str, Iterable[str]] | None = None,
    ) -> LexicalIndex:
        """Build from chunks already split into stems (stemming is most of a build; callers keep the stems).

        `sources` maps chunk ids to their documents (for `widespread`), `lines` to their `line_keys`
        (for `boilerplate`).
        """
        index = cls.__new__(cls)
        index._build(chunks, sources, lines)
        return index

    def _build(
        self,
        chunks: Sequence[tuple[str, list[str]]],
        sources: Mapping[str, str] | None = None,
        lines: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        # The store lists chunks in no fixed order; sorted, equal BM25 scores rank the same in every process.
        chunks = sorted(chunks, key=lambda chunk: chunk[0])
        self.chunk_ids = [chunk_id for chunk_id, _ in chunks]
        tokenized = [terms for _, terms in chunks]
        # A chunk's language is its stems' script ("ru" where Cyrillic ones are at least as many).
        self._languages = np.array([detect_language(" ".join(terms)) for terms in tokenized])
        self._bm25: bm25s.BM25 | None = None
        if chunks:
            self._bm25 = bm25s.BM25()
            self._bm25.index(tokenized, show_progress=False)
        frequencies: Counter[str] = Counter()
        for terms in tokenized:
            frequencies.update(set(terms))
        self._document_frequency = frequencies
        self._size = len(chunks)
        # How many documents hold each stem (not only chunks).
        owners = sources or {}
        self._source_count = len(set(owners.values()))
        holders: dict[str, set[str]] = {}
        for chunk_id, terms in chunks:
            if chunk_id in owners:
                for term in set(terms):
                    holders.setdefault(term, set()).add(owners[chunk_id])
        # A document's file name says what it is about too ("gimp-tool-crop.html" in the GIMP help, whose
        # short pages seldom repeat the product's name).
        for source in set(owners.values()):
            for term in set(extract_terms(re.sub(r"[-_.]+", " ", PurePath(source).stem))):
                holders.setdefault(term, set()).add(source)
        self._source_frequency = {term: len(found) for term, found in holders.items()}
        copies: dict[str, set[str]] = {}
        for chunk_id, keys in (lines or {}).items():
            if chunk_id in owners:
                for key in keys:
                    copies.setdefault(key, set()).add(owners[chunk_id])
        self._boilerplate = {key for key, found in copies.items() if len(found) >= BOILERPLATE_DOCUMENTS}
        # A chunk that repeats another word for word (the same page in two packages, a footer on every page)
        # is one passage: the first of its copies by id stands for all.
        first: dict[tuple[str, ...], str] = {}
        self._canonical: dict[str, str] = {}
        for chunk_id, terms in chunks:
            if terms:
                self._canonical[chunk_id] = first.setdefault(tuple(terms), chunk_id)
        self._by_prefix: dict[str, set[str]] = {}
        for term in frequencies:
            self._by_prefix.setdefault(term[:PREFIX_CHARS], set()).add(term)

    def __len__(self) -> int:
        return self._size

    def canonical(self, chunk_id: str) -> str:
        """Return the chunk that stands for `chunk_id` and its word-for-word copies (itself if it has none)."""
        return self._canonical.get(chunk_id, chunk_id)

    def distinct(self, chunk_ids: Iterable[str]) -> list[str]:
        """Return a ranking with each chunk's copies replaced by the chunk that stands for them, once."""
        return list(dict.fromkeys(self.canonical(chunk_id) for chunk_id in chunk_ids))

    def boilerplate(self, text: str) -> bool:
        """Tell whether a line or sentence is written word for word in BOILERPLATE_DOCUMENTS documents."""
        return fold_line(text) in self._boilerplate

    def language_share(self, language: str) -> float:
        """Return the share of chunks written in `language`'s script (0 in an empty index)."""
        return float(np.mean(self._languages == language)) if self._size else 0.0

    def idf(self, term: str) -> float:
        """Return the smoothed inverse document frequency of a stem (high for rare and unseen stems)."""
        return self._idf_at(self._document_frequency.get(term, 0))

    def topic_idf(self) -> float:
        """Return the idf below which a stem is the corpus's topic: in a tenth of the chunks, and in
        at least MIN_TOPIC_CHUNKS (in a corpus of five chunks, one mention is not a topic)."""
        return self._idf_at(max(self._size / 10, MIN_TOPIC_CHUNKS))

    def widespread(self, term: str) -> bool:
        """Tell whether a stem is in a third of the documents, and in at least MIN_TOPIC_DOCUMENTS."""
        needed = max(MIN_TOPIC_DOCUMENTS, TOPIC_DOCUMENT_SHARE * self._source_count)
        return self._source_count >= MIN_TOPIC_DOCUMENTS and self._source_frequency.get(term, 0) >= needed

    def _idf_at(self, frequency: float) -> float:
        return math.log(1.0 + (self._size + 1) / (frequency + 0.5))

    def presence(self, term: str) -> float:
        """Return how well the corpus vocabulary matches a stem (1 exact, 0.5 shared prefix, 0 none)."""
        return match_strength(term, self._by_prefix.get(term[:PREFIX_CHARS], set()))

    def search(self, terms: Sequence[str], top_k: int, language: str | None = None) -> list[tuple[str, float]]:
        """Return (chunk id, BM25 score) of the best `top_k` chunks with a positive score (of `language` only)."""
        known = [term for term in terms if term in self._document_frequency]
        if self._bm25 is None or not known or top_k <= 0:
            return []
        scores = np.asarray(self._bm25.get_scores(known), dtype=np.float32)
        if language is not None:
            scores[self._languages != language] = 0.0
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [(self.chunk_ids[i], float(scores[i])) for i in order if scores[i] > 0]
