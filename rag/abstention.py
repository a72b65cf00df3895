"""When to refuse: signals about how well the retrieved evidence covers the question."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from rag.models import Passage, Retrieval, Sentence
from rag.text import (
    asked_focus,
    category_noun,
    detect_language,
    expected_answer_type,
    extract_terms,
    find_english_nouns,
    find_names,
    find_quoted_labels,
    find_rare_words,
    find_specific_tokens,
    has_answer_type,
    is_everyday_compound,
    is_portable_name,
    is_stopword,
    missing_qualifiers,
    normalize,
    stem_word,
    word_language,
)

# Defaults calibrated with bench/calibrate.py on tests/gold_qa.jsonl + tests/extra_qa.jsonl for
# multilingual-e5-small; another embedder has another cosine scale and needs its own
# (CITECHAT_MIN_SIMILARITY / CITECHAT_STRONG_SIMILARITY). See AbstentionPolicy for how they combine.
MIN_DENSE = 0.79
STRONG_DENSE = 0.84
MIN_COVERAGE = 0.4
# ... and the best sentence itself must hold this share of the question's (idf-weighted) words.
MIN_SENTENCE_COVERAGE = 0.25
# A name in the question (a capitalized word inside it) that the corpus never mentions means the
# question is about something else, unless the evidence is closer than this (a misspelt name). On-topic
# evidence in a single-topic manual is 0.85-0.93 close: 0.88 let "Welche Datei enthält auf einem
# Fedora-Server …" be answered from Debian's file. bench/corpora.py: 0.92 and no gate at all score the same
# on every corpus (handbook-de-dev +1, no other change); 0.92 keeps a misspelt name's near-copy answered.
UNKNOWN_NAME_DENSE = 0.92
# The answer's sentences, their neighbours and headings must hold this idf-weighted share of the
# question's own words (same language, questions of MIN_FOCUS_TERMS words or more). Per-question
# features over five corpora (bench/corpora.py): 0.4 refuses a third of the near-topic unanswerables
# (an attribute the text never states) and one answerable question in 150; 0.5 twice that many.
MIN_ANSWER_COVERAGE = 0.4
MIN_FOCUS_TERMS = 2
# A token the question names ("Debian" in a Debian manual) that a tenth of the chunks mention is the
# corpus's topic, not the specific thing asked about: idf = ln(1 + (N + 1) / (df + 0.5)) at df = N / 10.
TOPIC_WIDE_IDF = math.log(11.0)
# A question naming this many specific tokens may leave one of them out of the answer's passage (see
# measure_signals).
CONTEXT_TOKENS = 3
# Snowball keeps alternations apart ("перевел"/"перевод"); a shared prefix this long, covering
# this share of the shorter stem, counts as half a match.
PREFIX_CHARS = 5
PREFIX_SHARE = 0.7
# A stem this long inside a longer word ("font" in "ttf-mscorefonts") also counts as half a match.
INFIX_CHARS = 4
# A number and the word of its unit, as one token ("64-bit", "32-битный").
_NUMBER_WITH_UNIT = re.compile(r"(\d+)-[^\W\d_]+")


@dataclass
class EvidenceSignals:
    """Question-evidence agreement measures that do not depend on any particular question."""

    best_dense: float
    corpus_coverage: float
    passage_coverage: float
    has_terms: bool
    unknown_names: list[str]
    # What the chosen answer (its sentences, their neighbours and headings) says about the question:
    answer_coverage: float = 1.0
    missing_names: list[str] = field(default_factory=list)
    missing_tokens: list[str] = field(default_factory=list)
    missing_type: str | None = None
    # Names a corpus written mostly in the question's script never mentions, nor a counterpart of them.
    unknown_anywhere: list[str] = field(default_factory=list)
    # The question's names written the same in every Latin-script language (rag.text.is_portable_name).
    portable_names: list[str] = field(default_factory=list)


@dataclass
class AnswerContext:
    """The text around a chosen answer: its sentences with their neighbours, headings and titles."""

    text: str
    script: str
    quoted: str = ""
    quoted_prose: str = ""

    @classmethod
    def around(cls, picks: Sequence[tuple[Passage, int]]) -> AnswerContext:
        """Build the context of sentences given as (passage, sentence index) pairs."""
        parts: list[str] = []
        for passage, index in picks:
            parts.extend([passage.title, passage.heading])
            parts.extend(sentence.text for sentence in passage.sentences[max(0, index - 1) : index + 2])
        text = "\n".join(part for part in parts if part)
        quoted = [passage.sentences[index] for passage, index in picks]
        return cls(
            text=text,
            script=detect_language(text),
            quoted="\n".join(sentence.text for sentence in quoted),
            quoted_prose="\n".join(sentence.text for sentence in quoted if sentence.kind != "code"),
        )

    @classmethod
    def of_passage(cls, passage: Passage) -> AnswerContext:
        """Build the context of a whole passage: its title, heading and text."""
        text = "\n".join(part for part in (passage.title, passage.heading, passage.text) if part)
        return cls(text=text, script=detect_language(text))


def match_strength(term: str, present: set[str]) -> float:
    """Return 1 for an exact stem match, 0.5 for a long shared stem prefix, a stem inside a longer word or a
    compound's parts written apart, else 0."""
    if term in present:
        return 1.0
    # A compound matches its parts written apart ("DNS-сервер" in "DNS сервер", "e-mail" in "e mail").
    if "-" in term:
        parts = [part for part in term.split("-") if part]
        if len(parts) > 1 and all(match_strength(part, present) for part in parts):
            return 0.5
    if len(term) < INFIX_CHARS:
        return 0.0
    if any(len(other) > len(term) and term in other for other in present):
        return 0.5
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


def term_strength(present: set[str], translations: Mapping[str, Sequence[str]]) -> Callable[[str], float]:
    """Return how well a question stem is matched in `present`, by itself or by its other-language counterparts."""

    def strength(term: str) -> float:
        found = match_strength(term, present)
        for other in translations.get(term, ()):
            if found >= 1.0:
                break
            found = max(found, match_strength(other, present))
        return found

    return strength


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


def measure_signals(
    retrieval: Retrieval,
    passage_terms: set[str],
    question: str | None = None,
    context: AnswerContext | None = None,
    lead: AnswerContext | None = None,
) -> EvidenceSignals:
    """Compute the abstention signals of one retrieval and, given one, of the chosen answer's context.

    `lead` is the context of the answer's best sentence (its passage): what the question names must be
    there, not only in a further sentence that joined because it mentions it.
    """
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
    language = retrieval.language

    topic_idf = TOPIC_WIDE_IDF if retrieval.topic_idf is None else retrieval.topic_idf

    def weight(stem: str) -> float:
        if stem in weights:
            return weights[stem]
        return retrieval.idf(stem) if retrieval.idf else topic_idf

    def common(stem: str) -> bool:
        return weight(stem) < topic_idf or bool(retrieval.widespread and retrieval.widespread(stem))

    # What the question names: its capitalized words, its rare lower-case ones ("nginx") and the labels it quotes
    # ("инструмент «Поворот»"), each by its stems; one the corpus never mentions, by any of them, is unknown.
    capitalized = find_names(retrieval.query)
    asked = capitalized + find_rare_words(retrieval.query)
    names = {name: [stem_word(name, language)] for name in asked}
    for label in find_quoted_labels(retrieval.query):
        names.setdefault(label, extract_terms(label, language))
    # German nouns written as in English, also inside a hyphenated word ("Fedora" of "Fedora-Server"), which
    # is no query term of its own: the corpus vocabulary says whether it mentions them.
    presence = dict(retrieval.term_presence)
    for name in find_english_nouns(retrieval.query):
        stem = stem_word(name, language)
        names.setdefault(name, [stem])
        if stem not in presence and retrieval.presence is not None:
            presence[stem] = retrieval.presence(stem)
    signals = EvidenceSignals(
        best_dense=best_dense,
        corpus_coverage=weighted_coverage(terms, weights, lambda term: retrieval.term_presence.get(term, 0.0)),
        passage_coverage=weighted_coverage(terms, weights, lambda term: match_strength(term, passage_terms)),
        has_terms=bool(terms),
        unknown_names=[
            name for name, stems in names.items() if stems and all(presence.get(stem, 1.0) == 0.0 for stem in stems)
        ],
        # Capitalized ones only: a rare lower-case word may be a rare word ("tunneled"), spelled otherwise elsewhere.
        portable_names=[name for name in capitalized if is_portable_name(name, language)],
    )
    if retrieval.native:
        unknown = [
            name for name in signals.unknown_names if not any(retrieval.translations.get(stem) for stem in names[name])
        ]
        # Most of what the question names, not one capitalized word ("Prime Minister of Japan").
        if 2 * len(unknown) > len(names):
            signals.unknown_anywhere = unknown
    if question is None or context is None:
        return signals
    context_terms = set(extract_terms(context.text, language))
    own_terms = extract_terms(question, language)
    # A follow-up's own words ("Как его зовут?") name no topic; its coverage says nothing.
    if len(set(own_terms)) >= MIN_FOCUS_TERMS:
        signals.answer_coverage = weighted_coverage(
            own_terms, weights, lambda term: match_strength(term, context_terms)
        )
        # "В каком городе …" is answered by a city's name: "город" counts when the answer has it ("в меню
        # Файл" for "В каком меню …"), and is not missed when it has not ("в Тбилиси").
        category = category_noun(question)
        if category is not None:
            kind = stem_word(category, language)
            rest = [term for term in own_terms if term != kind]
            signals.answer_coverage = max(
                signals.answer_coverage,
                weighted_coverage(rest, weights, lambda term: match_strength(term, context_terms)),
            )
    # Names are compared only within one script ("Japan" is not looked for in Russian); specific tokens
    # (options, versions, program names) are written the same in every language.
    lead = lead or context
    lead_sequence = extract_terms(lead.text, language)
    lead_terms = set(lead_sequence)
    # A name inside a hyphenated compound is mentioned ("UDP" in "UDP-Port", "OpenVPN" in "OpenVPN-Server").
    lead_terms |= {stem_word(part, language) for term in lead_terms if "-" in term for part in term.split("-") if part}
    signals.missing_names = [
        name
        for name in dict.fromkeys(find_names(question) + find_rare_words(question))
        if detect_language(name) == lead.script
        and not is_stopword(name, language)
        and not any(match_strength(stem, lead_terms) for stem in extract_terms(name, language))
        and not _topic_wide(name, common, language)
    ]
    # A label the question quotes names one thing ("команда «Применить маску слоя»"): the passage must name
    # it as a whole, not only its words apart (a page on "Скрыть маску слоя" is about another command).
    signals.missing_names += [
        label
        for label in find_quoted_labels(question)
        if detect_language(label) == lead.script and not _holds_phrase(lead_sequence, extract_terms(label, language))
    ]
    lowered = normalize(lead.text)
    named = find_specific_tokens(question)
    missing = [token for token in named if not _mentions(lowered, token) and not _topic_wide(token, common, language)]
    # Across languages a compound of everyday words is translated ("text-only" is "reine Textversion").
    if word_language(lead.text) != word_language(question):
        missing = [token for token in missing if not is_everyday_compound(token, word_language(question))]
    # A question naming several options gives context with some ("… при safe-upgrade и full-upgrade"): one
    # of them written in lower case (an option, a file, a command, not a product's name) may sit in the
    # next passage. A swapped product ("Microsoft Access") is capitalized and still refuses.
    if len(named) >= CONTEXT_TOKENS and len(missing) == 1 and missing[0] in question:
        missing = []
    signals.missing_tokens = missing + missing_qualifiers(question, lead.text)
    # The asked value must be in what is quoted, not only next to it.
    wanted = expected_answer_type(question)
    # (Whether a command is quoted says nothing here: a command for another task is one too.)
    # A name answers "who maintains X" only where the evidence speaks of maintaining, and a number "how many
    # users" only where it speaks of users.
    focus = asked_focus(question)
    # Where sentences of another language joined the answer, the best one's passage speaks for it: "Who is
    # the president of France?" is not answered by "Debian France" plus a sentence on another president.
    judged, judged_terms = (context, context_terms)
    if word_language(context.text) != word_language(question):
        judged, judged_terms = (lead, lead_terms)
    # The focus is not found inside the question's other words ("failed" in "fail2ban" for "How many failed
    # attempts does fail2ban allow?").
    others = set(own_terms) - {focus}
    if (
        focus is not None
        and not match_strength(focus, judged_terms - others)
        and word_language(judged.text) == word_language(question)
    ):
        signals.missing_type = wanted or "number"
    if wanted == "person":
        topic = partial(_topic_wide, common=common, language=language)
        if not has_answer_type(context.quoted_prose, wanted, question, topic):
            signals.missing_type = wanted
    elif wanted in ("number", "date", "duration", "key", "option", "address", "port") and not has_answer_type(
        context.quoted or context.text, wanted, question
    ):
        signals.missing_type = wanted
    return signals


def _holds_phrase(sequence: list[str], phrase: list[str]) -> bool:
    """Tell whether the stems of a phrase of two words or more follow one another in `sequence`.

    Each may be inflected otherwise ("Маски в выделение" for «Маска в выделение»): see match_strength.
    """
    if len(phrase) < 2:
        return True
    return any(
        all(match_strength(stem, {sequence[start + offset]}) for offset, stem in enumerate(phrase))
        for start in range(len(sequence) - len(phrase) + 1)
    )


def _mentions(lowered: str, token: str) -> bool:
    """Tell whether normalized text holds a token, its hyphens aside ("64-bit" is "64 bit" or "64bit").

    A number with its unit word ("64-bit", "5-minute") is mentioned by the number: the word is translated
    ("64-битной") or joined to a name ("wine64", "x86_64").
    """
    unit = _NUMBER_WITH_UNIT.fullmatch(token)
    if unit:
        return re.search(rf"(?<!\d){unit.group(1)}(?!\d)", lowered) is not None
    return any(form in lowered for form in {token, token.replace("-", " "), token.replace("-", "")})


def _topic_wide(word: str, common: Callable[[str], bool], language: str) -> bool:
    """Tell whether a word is so common in the corpus (`common` stems) that it is its topic, not the asked thing."""
    stems = extract_terms(word, language) or [stem_word(word, language)]
    return all(common(stem) for stem in stems)


@dataclass
class Verdict:
    """Whether to refuse, and how confident citechat is that the documents answer (0-1)."""

    abstain: bool
    confidence: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class AbstentionPolicy:
    """Refusal thresholds; similarities are on the embedder's own cosine scale."""

    min_dense: float = MIN_DENSE
    strong_dense: float = STRONG_DENSE
    min_coverage: float = MIN_COVERAGE
    min_sentence_coverage: float = MIN_SENTENCE_COVERAGE
    unknown_name_dense: float = UNKNOWN_NAME_DENSE
    min_answer_coverage: float = MIN_ANSWER_COVERAGE

    def should_abstain(self, signals: EvidenceSignals, same_language: bool) -> bool:
        """Refuse when the evidence is distant, misses what the question names or asks for, or its words."""
        return self.judge(signals, same_language).abstain

    def judge(self, signals: EvidenceSignals, same_language: bool, same_names: bool | None = None) -> Verdict:
        """Return the refusal decision with a confidence that rises with the evidence's closeness.

        `same_language`: the word-count rules apply; `same_names` (default: the same): the name rules do,
        which they also do in languages that compound words (German, Dutch), where word counts do not.
        """
        same_names = same_language if same_names is None else same_names
        closeness = (signals.best_dense - self.min_dense) / max(1e-6, self.strong_dense - self.min_dense)
        confidence = min(1.0, max(0.0, 0.5 + 0.5 * closeness))
        reasons = []
        if signals.best_dense < self.min_dense:
            reasons.append("distant")
        if signals.missing_type or signals.missing_tokens:
            reasons.append("missing value")
        unknown = signals.unknown_names if same_names else signals.unknown_anywhere
        # Across languages, the answer must still name what every Latin-script language writes alike ("WireGuard").
        missing = signals.missing_names
        if not same_names:
            missing = [name for name in missing if name in signals.portable_names]
        if signals.has_terms and unknown and signals.best_dense < self.unknown_name_dense:
            reasons.append("unknown name")
        if signals.has_terms and missing:
            reasons.append("other entity")
        if same_language and signals.has_terms:
            if signals.answer_coverage < self.min_answer_coverage:
                reasons.append("question words missing from the answer")
            if signals.best_dense < self.strong_dense and (
                signals.corpus_coverage < self.min_coverage or signals.passage_coverage < self.min_sentence_coverage
            ):
                reasons.append("missing words")
        if reasons:
            return Verdict(abstain=True, confidence=round(min(confidence, 0.49) * 0.5, 3), reasons=tuple(reasons))
        coverage = signals.answer_coverage if same_language and signals.has_terms else 1.0
        return Verdict(abstain=False, confidence=round(0.5 + 0.5 * min(confidence, 0.5 + 0.5 * coverage), 3))
