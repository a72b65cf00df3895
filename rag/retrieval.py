"""Hybrid retrieval: dense chunk and sentence search in Chroma plus BM25 over stems, fused by rank."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.abstention import weighted_coverage
from rag.embeddings import Embedder
from rag.errors import StoreError
from rag.lexical import LexicalIndex, line_keys
from rag.models import Passage, Retrieval
from rag.rerank import Reranker
from rag.store import ChunkStore, ChunkVersion
from rag.text import (
    detect_language,
    extract_terms,
    extract_terms_and_language,
    is_vocabulary_word,
    split_into_words,
    stem_word,
    word_language,
)

logger = logging.getLogger("citechat.retrieval")

# Reciprocal rank fusion constant from Cormack et al.; bench/sweep.py found no difference from 10 to 100.
RRF_K = 60
# How far down each ranking fusion looks.
CANDIDATES = 20
# BM25's best chunk is always among the passages when the corpus holds this share of the question's words.
KEYWORD_SLOT_COVERAGE = 0.5
# A question word's counterparts in the documents' other language are the vocabulary stems at least this
# close to it (query-to-query cosine of multilingual-e5-small: a word and its translation sit at 0.90-0.97,
# unrelated words mostly below) and within the spread of the nearest one (inflected forms with other stems).
TRANSLATION_MIN = 0.90
TRANSLATION_SPREAD = 0.02
TRANSLATIONS_PER_WORD = 3
# The other language is looked up only when the vocabulary has this many of its stems: a few foreign
# words (a source line) answer nothing and are not worth a lookup per question.
MIN_OTHER_VOCABULARY = 100
# A chunk whose text is all links ranks as if fusion had given it this much less (half links: half of it).
LINK_PENALTY = 0.5
# Another process (a CLI ingest) may change the store; its revision is checked at most this often.
REVISION_CHECK_SECONDS = 1.0


def keep_in_pool(ranked: Sequence[str], chunk_id: str | None, size: int) -> list[str]:
    """Return `ranked` with `chunk_id` (if ranked at all) among its first `size`: in the last place of them."""
    ranked = list(ranked)
    if chunk_id in ranked and chunk_id not in ranked[:size]:
        ranked.remove(chunk_id)
        ranked.insert(size - 1, chunk_id)
    return ranked


def fuse_rankings(
    rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> dict[str, float]:
    """Return weighted reciprocal-rank-fusion scores of ids over several best-first rankings."""
    fused: dict[str, float] = defaultdict(float)
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking):
            fused[item] += weight / (k + rank + 1)
    return dict(fused)


def link_weight(node: TextNode) -> float:
    """Return the ranking weight of a chunk by its share of link text (1 for a chunk with no links)."""
    return 1.0 - LINK_PENALTY * float(node.metadata.get("link_share") or 0.0)


def passage_from_node(node: TextNode, score: float = 0.0) -> Passage:
    """Build a Passage from a stored chunk node."""
    metadata = node.metadata
    return Passage(
        chunk_id=node.node_id,
        text=node.get_content(),
        source=str(metadata.get("source", "")),
        title=str(metadata.get("title", "")),
        start=int(metadata.get("start", node.start_char_idx or 0)),
        end=int(metadata.get("end", node.end_char_idx or 0)),
        score=score,
        heading=str(metadata.get("heading", "")),
    )


def other_language(text: str) -> str:
    """Return the language a text's words are looked up in: the other one of Russian and English."""
    return "en" if detect_language(text) == "ru" else "ru"


class HybridRetriever(BaseRetriever):
    """A LlamaIndex retriever over the citechat store: dense + lexical, fused, optionally reranked."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        top_k: int = 6,
        reranker: Reranker | None = None,
    ) -> None:
        super().__init__()
        self._store = store
        self._embedder = embedder
        self._top_k = top_k
        self._reranker = reranker
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._lexical = LexicalIndex([])
        self._committed: dict[str, str] = {}
        self._revision = -1
        self._checked_at = 0.0
        self._rebuilding = False
        # Stems of every stored chunk by id, kept between rebuilds: a new revision stems only new chunks.
        # (And the chunk's word language and its lines, for `LexicalIndex.boilerplate`.)
        self._terms: dict[str, tuple[ChunkVersion, list[str], str | None, set[str]]] = {}
        # The word language of most of the searched chunks, if most share one (rag.text.word_language).
        self._main_language: str | None = None
        # Whether the vocabulary holds enough of a language, at the revision it was counted at.
        self._languages_revision = -1
        self._has_languages: dict[str, bool] = {}

    @property
    def lexical(self) -> LexicalIndex:
        """The current lexical index (refreshed from the store when it changed)."""
        self.refresh()
        return self._lexical

    def refresh(self, force: bool = False) -> None:
        """Bring the lexical index up to the store's revision, at most once per revision.

        The first build and a forced one (after this process wrote) happen here; a change seen while
        answering is picked up by a background rebuild, so no request waits for it meanwhile.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < REVISION_CHECK_SECONDS:
            return
        revision = self._store.revision()
        if revision != self._revision:
            if force or self._revision < 0:
                self._rebuild(revision)
            else:
                self._start_rebuild(revision)
        self._checked_at = now

    def _start_rebuild(self, revision: int) -> None:
        with self._lock:
            if self._rebuilding:
                return
            self._rebuilding = True
        threading.Thread(target=self._rebuild_in_background, args=(revision,), daemon=True).start()

    def _rebuild_in_background(self, revision: int) -> None:
        try:
            self._rebuild(revision)
        except StoreError as error:  # the next check tries again; answers go on with the old index
            logger.warning("lexical index not rebuilt: %s", error)
        finally:
            with self._lock:
                self._rebuilding = False

    def _rebuild(self, revision: int) -> None:
        with self._build_lock:
            if revision == self._revision:
                return
            committed = {document.source: document.content_hash for document in self._store.documents()}
            ids = self._store.chunk_ids()
            known = self._terms
            for version, text in self._store.chunk_texts([chunk_id for chunk_id in ids if chunk_id not in known]):
                known[version.chunk_id] = (version, *extract_terms_and_language(text), line_keys(text))
            stored = set(ids)
            for gone in [chunk_id for chunk_id in known if chunk_id not in stored]:
                del known[gone]
            # Chunks of a write that never finished (no head chunk) are not searched.
            visible = [
                (chunk_id, known[chunk_id][1])
                for chunk_id in ids
                if chunk_id in known and committed.get(known[chunk_id][0].source) == known[chunk_id][0].content_hash
            ]
            index = LexicalIndex.from_terms(
                visible,
                {chunk_id: known[chunk_id][0].source for chunk_id, _ in visible},
                {chunk_id: known[chunk_id][3] for chunk_id, _ in visible},
            )
            main, count = (Counter(known[chunk_id][2] for chunk_id, _ in visible).most_common(1) or [(None, 0)])[0]
            with self._lock:
                self._lexical, self._committed, self._revision = index, committed, revision
                self._main_language = main if 2 * count > len(visible) else None

    def _committed_ids(self, nodes: Iterable[TextNode]) -> set[str]:
        """Return the ids of the nodes that belong to committed document versions.

        A version committed since the last rebuild (by another process, say) is looked up in the store.
        """
        nodes = list(nodes)
        committed = self._committed

        def version(node: TextNode) -> tuple[str, str]:
            return str(node.metadata.get("source", "")), str(node.metadata.get("content_hash", ""))

        unknown = sorted({source for source, digest in map(version, nodes) if committed.get(source) != digest})
        if unknown:
            committed = {**committed, **self._store.committed_versions(unknown)}
        return {node.node_id for node in nodes if committed.get(version(node)[0]) == version(node)[1]}

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        retrieval = self.search(query_bundle.query_str, query_bundle.embedding)
        nodes = self._store.get_chunks([passage.chunk_id for passage in retrieval.passages])
        by_id = {node.node_id: node for node in nodes}
        return [
            NodeWithScore(node=by_id[passage.chunk_id], score=passage.score)
            for passage in retrieval.passages
            if passage.chunk_id in by_id
        ]

    def search(self, query: str, embedding: Sequence[float] | Any = None, top_k: int | None = None) -> Retrieval:
        """Return the best passages for `query`, with their sentences and per-signal scores."""
        top_k = top_k or self._top_k
        lexical = self.lexical
        query_embedding = (
            self._embedder.embed_query(query) if embedding is None else np.asarray(embedding, dtype=np.float32)
        )
        asked = word_language(query)
        language = asked or "en"
        script = detect_language(query)
        terms = extract_terms(query, language)
        translations = self.translate(query)
        idf = {term: lexical.idf(term) for term in terms}
        presence = {term: lexical.presence(term) for term in terms}
        dense = self._store.search_chunks(query_embedding, CANDIDATES)
        committed = self._committed_ids(node for node, _ in dense)
        dense = [(node, score) for node, score in dense if node.node_id in committed]
        lexical_hits = lexical.search(terms, CANDIDATES)
        sentence_hits = self._store.search_sentences(query_embedding, CANDIDATES)
        sentence_ranking = list(dict.fromkeys(chunk_id for chunk_id, _ in sentence_hits))
        # BM25 is trusted as far as the corpus vocabulary covers the question: fully for a question in
        # the documents' language, little for a cross-lingual one whose few matches are stray loanwords.
        lexical_weight = weighted_coverage(terms, idf, lambda term: presence[term])
        # The question's words in the other language search that language's chunks, trusted as far as
        # they have counterparts there.
        translated = list(dict.fromkeys(other for term in terms for other in translations.get(term, ())))
        translated_hits = lexical.search(translated, CANDIDATES, language=other_language(query))
        translated_weight = weighted_coverage(
            terms, idf, lambda term: max((lexical.presence(other) for other in translations.get(term, ())), default=0.0)
        )
        keyword_ranking = lexical.distinct(chunk_id for chunk_id, _ in lexical_hits)
        fused = fuse_rankings(
            [
                lexical.distinct(node.node_id for node, _ in dense),
                keyword_ranking,
                lexical.distinct(sentence_ranking),
                lexical.distinct(chunk_id for chunk_id, _ in translated_hits),
            ],
            weights=[1.0, lexical_weight, 1.0, translated_weight],
        )
        ranked = sorted(fused, key=lambda chunk_id: -fused[chunk_id])
        size = max(top_k * 2, top_k) if self._reranker else top_k
        # Fusion favours chunks every ranking finds; the one chunk holding all the rare question words
        # (BM25's first) may be found by no other ranking. It keeps the last place in the pool.
        if lexical_weight >= KEYWORD_SLOT_COVERAGE:
            ranked = keep_in_pool(ranked, next(iter(keyword_ranking), None), size)

        nodes = {node.node_id: node for node, _ in dense}
        # Twice the pool is fetched: a sentence hit may belong to a write that never finished.
        missing = [chunk_id for chunk_id in ranked[: 2 * size] if chunk_id not in nodes]
        fetched = self._store.get_chunks(missing)
        committed = self._committed_ids(fetched)
        nodes.update({node.node_id: node for node in fetched if node.node_id in committed})
        # A chunk made of links (an index, a table of contents) names topics whose content is elsewhere:
        # it wins dense search on a topic's words without saying anything about it, so it ranks lower.
        available = sorted(
            (chunk_id for chunk_id in ranked if chunk_id in nodes),
            key=lambda chunk_id: -fused[chunk_id] * link_weight(nodes[chunk_id]),
        )
        if lexical_weight >= KEYWORD_SLOT_COVERAGE:
            available = keep_in_pool(available, next(iter(keyword_ranking), None), size)
        pool = available[:size]
        dense_scores = {node.node_id: score for node, score in dense}
        unscored = [chunk_id for chunk_id in pool if chunk_id not in dense_scores]
        dense_scores.update(self._store.chunk_similarities(unscored, query_embedding))

        passages = []
        for chunk_id in pool:
            if chunk_id not in nodes:
                continue
            passage = passage_from_node(nodes[chunk_id], fused[chunk_id])
            passage.dense_score = dense_scores.get(chunk_id, 0.0)
            passages.append(passage)
        if self._reranker and passages:
            passages = self._reranker.rerank(query, passages)[:top_k]
        sentences = self._store.sentences_of([passage.chunk_id for passage in passages])
        for passage in passages:
            passage.sentences = sentences.get(passage.chunk_id, [])
        return Retrieval(
            query=query,
            query_embedding=query_embedding,
            query_terms=terms,
            language=language,
            passages=passages,
            term_weights=idf,
            term_presence=presence,
            idf=lexical.idf,
            presence=lexical.presence,
            topic_idf=lexical.topic_idf(),
            widespread=lexical.widespread,
            boilerplate=lexical.boilerplate,
            translations=translations,
            # Latin script is shared by many languages ("Germany" is "Allemagne"): a Latin-script question is the
            # corpus's own when most of its chunks are in the question's language, a Cyrillic one by script.
            native=(script != "en" and 2 * lexical.language_share(script) > 1)
            or (script == "en" and asked is not None and asked == self._main_language),
        )

    def translate(self, query: str) -> dict[str, tuple[str, ...]]:
        """Return the query's content stems mapped to their nearest stems in the documents' other language.

        Words cannot match across languages, so an English question over a Russian document would get no
        keyword evidence at all: each of its words is looked up in the store's vocabulary instead.
        """
        language = word_language(query)
        other = other_language(query)
        # Only Russian and English words are stored in the vocabulary.
        if language not in ("ru", "en") or not self._has_language(other):
            return {}
        words: dict[str, str] = {}
        for word in split_into_words(query):
            if is_vocabulary_word(word) and detect_language(word) == language:
                words.setdefault(stem_word(word), word)
        if not words:
            return {}
        # Words of the corpus have their vectors stored; only the others are encoded.
        known = self._store.word_vectors(list(words))
        unknown = [stem for stem in words if stem not in known]
        if unknown:
            known.update(zip(unknown, self._embedder.embed_recent([words[stem] for stem in unknown]), strict=True))
        vectors = np.stack([known[stem] for stem in words])
        translations = {}
        for stem, hits in zip(words, self._store.nearest_words(vectors, other, TRANSLATIONS_PER_WORD), strict=True):
            if hits and hits[0][1] >= TRANSLATION_MIN:
                best = hits[0][1]
                translations[stem] = tuple(found for found, score in hits if score >= best - TRANSLATION_SPREAD)
        return translations

    def _has_language(self, language: str) -> bool:
        if self._languages_revision != self._revision:
            self._languages_revision, self._has_languages = self._revision, {}
        if language not in self._has_languages:
            found = self._store.vocabulary_size(language, MIN_OTHER_VOCABULARY) >= MIN_OTHER_VOCABULARY
            self._has_languages[language] = found
        return self._has_languages[language]
