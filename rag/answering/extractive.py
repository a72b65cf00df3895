"""The built-in answerer: quotes the one to three retrieved sentences that best answer the question."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.abstention import (
    AbstentionPolicy,
    AnswerContext,
    EvidenceSignals,
    contextual_similarity,
    measure_signals,
    term_strength,
    weighted_coverage,
)
from rag.answering.base import Answerer, AnswerRequest, Draft, DraftDelta, DraftEvent, refuse
from rag.languages import anaphors
from rag.models import Passage, Retrieval, Sentence
from rag.text import (
    ANAPHORS,
    Condition,
    asked_qualifiers,
    asks_about_thing,
    asks_for_reasons,
    condition_of,
    counted_noun,
    counts_shared_words,
    detect_language,
    expected_answer_type,
    extract_terms,
    find_names,
    find_rare_words,
    find_specific_tokens,
    has_answer_type,
    is_addressed_to_assistant,
    is_cjk,
    is_lead_in,
    is_stopword,
    missing_qualifiers,
    normalize,
    split_into_words,
    strip_instructions,
    without_question_words,
    word_language,
    written_language,
)

logger = logging.getLogger("citechat.answering")

# A follow-up asks something new about what was just said: a sentence holding this share of its words
# from the last answer repeats it and loses REPEAT_PENALTY; the other sentences of its passage gain
# FOLLOW_UP_BONUS.
ECHO_SHARE = 0.7
REPEAT_PENALTY = 0.05
FOLLOW_UP_BONUS = 0.03

# Demonstratives inside a sentence point back ("… developed to resolve these issues", "… решает эти проблемы"):
# the sentence needs the one before it. ("это" is also a copula, so it is not one.)
POINTERS = frozenset("этот эта эти этого этой этих этому этим этом эту these those".split())
# Chinese and Japanese demonstratives ("この問題", "这些问题") point back from anywhere in a sentence.
CJK_POINTERS = re.compile(r"この|その|これら|それら|上記|このような|这些|该|此类|上述")
# A sentence opening with "therefore" states a consequence: for "why", its cause is the sentence before.
CONSEQUENCE = re.compile(
    r"(поэтому|именно поэтому|therefore|hence|thus|that is why|this is why|deshalb|daher|darum|deswegen|"
    r"donc|c'est pourquoi|ainsi|por eso|por lo tanto|por ello|así que|quindi|perciò|pertanto|portanto|por isso|"
    r"daarom|dus|dlatego|zatem|stąd|w związku z tym)\b",
    re.IGNORECASE,
)
# A sentence opening its paragraph and pointing back ("The ICE and TURN protocols were developed to resolve
# these issues.") points at the paragraph before: up to this many of its last sentences, this long.
REFERENT_SENTENCES = 2
REFERENT_CHARS = 300
# Chunks of a document are cut at paragraph breaks: one starting within this many characters of another's
# end continues it.
NEXT_CHUNK_GAP = 3
# A command written inside a sentence: a program name followed by an option ("run dpkg --add-architecture").
INLINE_COMMAND = re.compile(r"(?<![\w/.-])[a-z][\w.+-]* --?[a-z][\w-]*")
# Asked values a sentence holds or lacks by its form (see rag.text.has_answer_type).
VALUE_TYPES = ("number", "date", "duration", "port")

# Sentence score = contextual similarity + LEXICAL_WEIGHT * idf-weighted question coverage
#                 + PASSAGE_WEIGHT * normalized passage score - a penalty for fragments. Set by reading the
# per-question signals of bench/calibrate.py; the join margin is swept in bench/sweep.py (0 → 0.93
# dev overall, 0.06 and 0.1 → 0.97; 0.1 also brings a second reason into "why" answers).
LEXICAL_WEIGHT = 0.25
# Table cells are joined by this in a row's line (ingest.loaders).
TABLE_CELLS = " | "
# A question word in the sentence's section heading counts this much of one in the sentence.
HEADING_SHARE = 0.5
PASSAGE_WEIGHT = 0.05
# A further sentence joins the answer only if it scores within this margin of the best one and carries
# question words the answer so far lacks (no padding with a merely related sentence) ...
JOIN_MARGIN = 0.1
# ... and the answer stays short: answers are a few sentences, not a pasted chunk.
MAX_ANSWER_CHARS = 450
# Weight of the words a follow-up borrowed from the earlier question.
TOPIC_WEIGHT = 0.5
# "How much …?" wants a number and "When …?" a date: a sentence that has one gets this bonus.
ANSWER_TYPE_BONUS = 0.03
# Headings and bylines are rarely answers: sentences under SHORT_WORDS words lose up to SHORT_PENALTY.
SHORT_WORDS = 6
SHORT_PENALTY = 0.02
# A sentence this short, or one opening with an anaphor, is quoted together with the one before it.
MIN_STANDALONE_CHARS = 50
# Front/back matter (credits, source lines) is quoted only when it holds this share of the question's words
# ("Кто перевёл статью?" → "Перевод …"), never as a loosely similar line.
META_MIN_COVERAGE = 0.5
# A further reason joins a "why" answer only this close to the best sentence.
WHY_MARGIN = JOIN_MARGIN
# What a lead-in ("выполните:", "the following command:") pulls in after itself.
LEAD_IN_MAX_UNITS = 3
LEAD_IN_MAX_CHARS = 400
# A sentence this short between prose and code is a lead-in ("Наберите", "Run:").
LEAD_IN_WORDS = 3
# Openings of a sentence that qualifies or corrects the one before it.
CONTRAST = re.compile(
    r"(однако|тем не менее|но|впрочем|вместо этого|however|but|nevertheless|nonetheless|instead|still)\b",
    re.IGNORECASE,
)
# Cross-language keyword credit is fitted on at least this many same-language sentences.
MIN_FIT_POINTS = 8
# A "why" answer's sentence holding this share of the question's words (by idf weight) restates the question.
RESTATED_SHARE = 0.5
# A numbered figure, table or example title: a word, then its number ("Figure 13.5.", "Пример 3.2").
CAPTION = re.compile(r"^[^\W\d_]+\.?\s+\d+(?:[.-]\d+)*[.:]?\s")
# Kinds that are context, not answers.
UNQUOTABLE_KINDS = frozenset({"heading", "term", "title", "caption"})


@dataclass
class ScoredSentence:
    """A candidate sentence with the passage it belongs to and its score."""

    sentence: Sentence
    passage: Passage
    index: int
    score: float
    terms: set[str]


@dataclass
class _Candidate:
    """A quotable sentence before scoring: similarity, keyword coverage, whether in the question's language."""

    sentence: Sentence
    passage: Passage
    index: int
    similarity: float
    coverage: float
    terms: set[str]
    native: bool


@dataclass
class Inspection:
    """A candidate answer before the refusal decision: its sentences and the signals about them."""

    chosen: list[ScoredSentence]
    signals: EvidenceSignals
    same_language: bool
    same_names: bool = False


def fit_coverage_by_similarity(points: Sequence[tuple[float, float]]) -> Callable[[float], float] | None:
    """Fit keyword coverage as a rising line of similarity over (similarity, coverage) points, or None.

    None when too few points, or no rising trend, make the fit meaningless.
    """
    if len(points) < MIN_FIT_POINTS:
        return None
    x = np.array([point[0] for point in points])
    y = np.array([point[1] for point in points])
    if float(np.ptp(x)) < 1e-6:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0:
        return None
    return lambda similarity: float(min(1.0, max(0.0, slope * similarity + intercept)))


def _states(text: str, condition: Condition, language: str) -> bool:
    """Tell whether a sentence opens with the question's condition: as often negated, and every word of it one
    of the question's condition ("Если он не подписан, …" for "…, если индекс архива не подписан?")."""
    own = condition_of(text)
    if own is None or own.negated != condition.negated or not own.opens:
        return False
    terms = set(extract_terms(own.text, language))
    return bool(terms) and terms <= set(extract_terms(condition.text, language))


def _opens_with(text: str, things: set[str]) -> bool:
    """Tell whether a sentence opens with one of the named things, its subject ("MultiViews active …", "The
    udev system …")."""
    words = split_into_words(text)[:2]
    return bool(words) and (words[0] in things or (len(words) > 1 and is_stopword(words[0]) and words[1] in things))


def _announces_code(sentences: Sequence[Sentence], index: int) -> bool:
    """Tell whether prose is followed by code, directly or after a short lead-in ("… просто. Наберите" + command)."""
    if sentences[index].kind == "code" or index + 1 >= len(sentences):
        return False
    following = sentences[index + 1]
    if following.kind == "code":
        return True
    short_lead_in = following.kind == "text" and len(split_into_words(following.text)) <= LEAD_IN_WORDS
    return short_lead_in and index + 2 < len(sentences) and sentences[index + 2].kind == "code"


def _follow_up_adjustments(request: AnswerRequest, candidates: Sequence[_Candidate]) -> dict[tuple[str, int], float]:
    """Return score changes for a follow-up: what the last answer said drops, the rest of its passage rises.

    "Who develops it?" after an answer quoting "Debian also contains the Chromium web browser" is
    answered from that passage ("This browser is developed by Google"), not by that sentence again.
    """
    said_turns = [turn.content for turn in request.history if turn.role == "assistant" and turn.content.strip()]
    if not said_turns or request.standalone_question.strip() == strip_instructions(request.question).strip():
        return {}
    said = set(extract_terms(said_turns[-1], request.retrieval.language))
    echoed = {
        (item.passage.chunk_id, item.index)
        for item in candidates
        if item.terms and len(item.terms & said) >= ECHO_SHARE * len(item.terms)
    }
    echoed_passages = {chunk_id for chunk_id, _ in echoed}
    changes: dict[tuple[str, int], float] = {}
    for item in candidates:
        key = (item.passage.chunk_id, item.index)
        if key in echoed:
            changes[key] = -REPEAT_PENALTY
        elif item.passage.chunk_id in echoed_passages:
            changes[key] = FOLLOW_UP_BONUS
    return changes


def _with_heading(
    terms: set[str], heading_terms: set[str], translations: Mapping[str, Sequence[str]]
) -> Callable[[str], float]:
    """Return how well a sentence matches a question stem: by its own words, or (HEADING_SHARE) by those of
    the heading of the section it opens."""
    own = term_strength(terms, translations)
    if not heading_terms:
        return own
    titled = term_strength(heading_terms, translations)
    return lambda term: max(own(term), HEADING_SHARE * titled(term))


def _column_terms(passage: Passage, language: str) -> dict[int, set[str]]:
    """Return, for each table row of a passage under a header row, the header's terms: "permission" of
    "file | permission | user" is what "-rw-r--r--" in "/etc/group | -rw-r--r-- | root" is."""
    columns: dict[int, set[str]] = {}
    header: set[str] = set()
    for index, sentence in enumerate(passage.sentences):
        if sentence.kind == "title" and TABLE_CELLS in sentence.text:
            header = set(extract_terms(sentence.text, language))
        elif sentence.kind == "item" and TABLE_CELLS in sentence.text and header:
            columns[index] = header
        else:
            header = set()
    return columns


def _alike_only(strength: Callable[[str], float], alike: set[str]) -> Callable[[str], float]:
    """Return `strength` for the question stems written `alike` in every language, 0 for the others."""
    return lambda term: strength(term) if term in alike else 0.0


def _named(question: str) -> list[str]:
    """Return what a question names: its capitalized names, rare words and specific tokens ("udev", "--purge")."""
    return find_names(question) + find_rare_words(question) + find_specific_tokens(question)


def _stems(names: Sequence[str], language: str) -> set[str]:
    """Return the stems of the given names (a name of several words has several)."""
    return {term for name in names for term in extract_terms(name, language)}


def _follows(sentence: ScoredSentence, other: ScoredSentence) -> bool:
    """Tell whether `sentence` comes right after `other` in its passage."""
    return sentence.passage.chunk_id == other.passage.chunk_id and sentence.index == other.index + 1


def _next_chunk(passage: Passage, passages: Sequence[Passage]) -> Passage | None:
    """Return the retrieved chunk that continues `passage` in its section (the same source and heading,
    starting right after it), if any."""
    for other in passages:
        if (
            other.source == passage.source
            and other.heading == passage.heading
            and 0 <= other.start - passage.end <= NEXT_CHUNK_GAP
            and other.sentences
        ):
            return other
    return None


def _local_language(passage: Passage, index: int) -> str | None:
    """Return the word language of a sentence with its neighbours: a partly translated page puts an untranslated
    paragraph and the translated one after it in one chunk."""
    return word_language(" ".join(sentence.text for sentence in passage.sentences[max(0, index - 1) : index + 2]))


# An opening phrase before the clause's verb ("W przeciwieństwie do TCP, …", "Im Gegensatz zu TCP, …") is short.
OPENING_PHRASE_CHARS = 40
# Russian subject pronouns; the other languages' come from rag.languages (English puts no subject after its verb).
_RUSSIAN_SUBJECTS = frozenset("он она оно они".split())


def _inverted_pronoun(text: str, language: str | None) -> bool:
    """Tell whether a sentence opens with its verb and then a pronoun in lower case ("Zawiera on …", "Enthält er
    …", "Содержит он …"): the pronoun points back as an opening one would. German's polite "Sie" is capitalized
    ("Geben Sie …" points nowhere)."""
    pronouns = _RUSSIAN_SUBJECTS if language == "ru" else anaphors(language)
    # The verb may follow an opening phrase set off by a comma ("W przeciwieństwie do TCP, jest on …").
    comma = text.find(",", 0, OPENING_PHRASE_CHARS)
    for clause in (text[:80], text[comma + 1 : comma + 81] if comma > 0 else ""):
        words = re.findall(r"[^\W\d_]+", clause)
        if len(words) >= 2 and words[1].islower() and words[1] in pronouns:
            return True
    return False


def _qualifies(passage: Passage, index: int) -> bool:
    """Tell whether the next sentence of the same paragraph qualifies this one ("Однако …", "However, …").

    Quoting "you cannot select text while aptitude uses the mouse" without the "however, hold Shift"
    that follows would misstate the document.
    """
    sentences = passage.sentences
    if index + 1 >= len(sentences):
        return False
    current, following = sentences[index], sentences[index + 1]
    between = passage.text[current.end - passage.start : following.start - passage.start]
    return "\n\n" not in between and CONTRAST.match(following.text.strip()) is not None


def is_quotable(sentence: Sentence) -> bool:
    """Tell whether a sentence can be an answer: not a heading, a question, a bare number or an injection."""
    text = sentence.text.strip()
    if sentence.kind in UNQUOTABLE_KINDS or text.endswith("?"):
        return False
    if sum(1 for word in split_into_words(text) if not word.isdigit()) < 1:
        return False
    return not is_addressed_to_assistant(text)


class ExtractiveAnswerer(Answerer):
    """Deterministic, LLM-free answers built from quoted sentences with [n] markers."""

    name = "extractive"

    def __init__(self, max_sentences: int = 3, policy: AbstentionPolicy | None = None) -> None:
        self._max_sentences = max_sentences
        self._policy = policy or AbstentionPolicy()

    def stream(self, request: AnswerRequest) -> Iterator[DraftEvent]:
        chosen, confidence = self.assess(request)
        if not chosen:
            draft = refuse(request.question)
            draft.confidence = confidence
            yield DraftDelta(draft.text)
            yield draft
            return
        draft, lines = self.compose(chosen, confidence)
        for i, line in enumerate(lines):
            yield DraftDelta(line if i == 0 else " " + line)
        yield draft

    def compose(self, chosen: list[ScoredSentence], confidence: float) -> tuple[Draft, list[str]]:
        """Return the quoted answer of `assess`'s sentences and its lines as streamed."""
        draft, lines = self._render(chosen)
        draft.confidence = confidence
        return draft, lines

    def select(self, request: AnswerRequest) -> list[ScoredSentence]:
        """Return the answer sentences in answer order, or an empty list to refuse."""
        return self.assess(request)[0]

    def assess(self, request: AnswerRequest) -> tuple[list[ScoredSentence], float]:
        """Return the answer sentences (empty to refuse) and the confidence that the documents answer."""
        inspection = self.inspect(request)
        if inspection is None:
            return [], 0.0
        verdict = self._policy.judge(inspection.signals, inspection.same_language, inspection.same_names)
        if verdict.abstain:
            logger.info("refused (%s): %s", ", ".join(verdict.reasons), request.standalone_question[:80])
            return [], verdict.confidence
        causes = asks_for_reasons(strip_instructions(request.standalone_question))
        chosen, explains = inspection.chosen, False
        if causes:
            chosen, explains = self._lead_with_restatement(request, chosen)
        chosen = self._without_padding(chosen, strip_instructions(request.question))
        retrieval = request.retrieval
        answer = self._add_context(chosen, explains, causes, retrieval.passages, retrieval.boilerplate)
        return answer, verdict.confidence

    def inspect(self, request: AnswerRequest) -> Inspection | None:
        """Return the candidate answer and the evidence signals it is judged by (None without candidates)."""
        question = strip_instructions(request.question)
        scored = self._score_sentences(request, question)
        if not scored:
            return None
        chosen = self._choose(scored, question, request.retrieval)
        context = AnswerContext.around([(item.passage, item.index) for item in chosen])
        lead = AnswerContext.of_passage(chosen[0].passage)
        signals = measure_signals(request.retrieval, scored[0].terms, question, context, lead)
        # Word-overlap signals only mean something when the question and the evidence share a language, and
        # one whose words citechat stems, whose stop words it knows and that does not compound them.
        # Names are compared in every language citechat stems, also in those that compound words, and
        # between Chinese or Japanese texts (their Latin capitalized words).
        # The evidence's language is that of the best sentence and its neighbours, not of its whole passage: a
        # partly translated page holds an English paragraph and the translated one after it in one chunk.
        # And only when the retrieved passages are mostly in the question's language: an English question over
        # Russian help with a few English paragraphs is answered across languages, whatever the best one is.
        language = word_language(request.standalone_question)
        passages = [word_language(passage.text) for passage in request.retrieval.passages]
        same_names = (
            language == _local_language(scored[0].passage, scored[0].index)
            and (language is not None or is_cjk(request.standalone_question))
            and 2 * passages.count(language) >= len(passages)
        )
        same_language = same_names and counts_shared_words(language)
        return Inspection(chosen, signals, same_language, same_names)

    def _score_sentences(self, request: AnswerRequest, question: str) -> list[ScoredSentence]:
        retrieval = request.retrieval
        top_passage = max((passage.score for passage in retrieval.passages), default=0.0) or 1.0
        own_terms = set(extract_terms(question, retrieval.language))
        # In a condensed follow-up the earlier topic's words count less than the question's own.
        weights = {
            term: weight * (1.0 if term in own_terms or not own_terms else TOPIC_WEIGHT)
            for term, weight in retrieval.term_weights.items()
        }
        wanted = expected_answer_type(question)
        # A question "по умолчанию / by default" is answered by a sentence that says which is the default.
        qualified = bool(asked_qualifiers(question))
        named = _named(question)
        # "Que fait l'option MultiViews ?": a sentence whose subject is the asked thing.
        things = {normalize(name) for name in named} if asks_about_thing(question) else set()
        # What every language of a script writes alike: the question's names, rare words and options.
        alike = _stems(named, retrieval.language)
        question_language = detect_language(request.standalone_question)
        # Latin-script languages share a script: a German sentence is no native answer to an English question.
        question_words = written_language(request.standalone_question)
        passage_language = {passage.chunk_id: detect_language(passage.text) for passage in retrieval.passages}
        # A section heading says what its sentences are about ("Загрузка вашего ключа SSH на Launchpad").
        section_terms = {
            passage.chunk_id: set(extract_terms(passage.heading.split("›")[-1], retrieval.language))
            for passage in retrieval.passages
        }
        candidates: list[_Candidate] = []
        for passage in retrieval.passages:
            columns = _column_terms(passage, retrieval.language)
            for index, sentence in enumerate(passage.sentences):
                if sentence.embedding is None or not is_quotable(sentence):
                    continue
                terms = set(extract_terms(sentence.text, retrieval.language))
                coverage = 0.0
                language = detect_language(sentence.text)
                written = written_language(sentence.text)
                native = (
                    language == question_language
                    and (question_words is None or written is None or written == question_words)
                ) or sentence.kind == "code"
                # A foreign-language line inside a document (a source title, a quote) shares words
                # with same-language questions by accident, so only native sentences earn keyword credit.
                if language == passage_language[passage.chunk_id] or sentence.kind == "code":
                    opens = index > 0 and passage.sentences[index - 1].kind == "heading"
                    titled = (section_terms[passage.chunk_id] if opens else set()) | columns.get(index, set())
                    strength = _with_heading(terms, titled, retrieval.translations)
                    # A sentence in another language of the same script shares the question's names and
                    # options as they are; another shared word is a cognate, as often as not by chance
                    # ("grafische Version" for "text-only version").
                    if not native and language == question_language:
                        strength = _alike_only(strength, alike)
                    coverage = weighted_coverage(retrieval.query_terms, weights, strength)
                if sentence.kind == "meta" and coverage < META_MIN_COVERAGE:
                    continue
                similarity = contextual_similarity(sentence, passage, retrieval.query_embedding)
                candidates.append(_Candidate(sentence, passage, index, similarity, coverage, terms, native))
        estimate = fit_coverage_by_similarity([(item.similarity, item.coverage) for item in candidates if item.native])
        follow_up = _follow_up_adjustments(request, candidates)
        scored: list[ScoredSentence] = []
        for item in candidates:
            coverage = item.coverage
            if not item.native and estimate is not None:
                # Words cannot match across languages: a sentence in another language than the question
                # gets the keyword credit that the question's own-language sentences of equal
                # similarity get here, so an answer in the other document is not outvoted by its words.
                coverage = max(coverage, estimate(item.similarity))
            words = len(split_into_words(item.sentence.text))
            score = (
                item.similarity
                + LEXICAL_WEIGHT * coverage
                + PASSAGE_WEIGHT * item.passage.score / top_passage
                - SHORT_PENALTY * max(0, SHORT_WORDS - words) / SHORT_WORDS
                + (ANSWER_TYPE_BONUS if wanted and self._has_value(item.passage, item.index, wanted, question) else 0.0)
                + (ANSWER_TYPE_BONUS if qualified and not missing_qualifiers(question, item.sentence.text) else 0.0)
                + (ANSWER_TYPE_BONUS if things and _opens_with(item.sentence.text, things) else 0.0)
                + follow_up.get((item.passage.chunk_id, item.index), 0.0)
            )
            scored.append(ScoredSentence(item.sentence, item.passage, item.index, score, item.terms))
        scored.sort(key=lambda item: (-item.score, item.passage.start, item.sentence.start))
        return scored

    def _choose(self, scored: list[ScoredSentence], question: str, retrieval: Retrieval) -> list[ScoredSentence]:
        """Take the best sentence, then others only where they add question words or the asked value.

        A question word counts as present in a sentence of another language through its counterparts
        there, so an answer across languages can take a second part too.
        """
        wanted = expected_answer_type(question)
        # The words asking for the value ("what year", "何年") are no topic: a sentence sharing only them
        # ("… in the year 2014") answers another question.
        topic_terms = set(extract_terms(without_question_words(question), retrieval.language))
        # What a "how many" question counts is the value's unit: a sentence with a number of those speaks of
        # the question only through another word ("255 characters" of DNS records for a password's length).
        counted = set(extract_terms(counted_noun(question), retrieval.language))
        subject_terms = topic_terms - counted or topic_terms
        # What the question names ("udev"): the asked value joins only from a sentence that names it too, not one
        # sharing another word ("… Debian 8 Jessie (released in 2015)" for "In which year was udev first released?").
        named = topic_terms & _stems(_named(question), retrieval.language)

        def matched(terms: set[str], present: set[str]) -> set[str]:
            strength = term_strength(present, retrieval.translations)
            return {term for term in terms if strength(term)}

        best = scored[0]
        chosen = [best]
        length = len(best.sentence.text)
        covered = matched(subject_terms, best.terms)
        typed = wanted is None or self._has_value(best.passage, best.index, wanted, question)
        # The command is often in the sentence after the one that speaks of the task ("… define foreign
        # architectures." / "To do this, use dpkg --add-architecture.").
        after = best.index + 1
        if (
            not typed
            and wanted == "command"
            and after < len(best.passage.sentences)
            and self._has_value(best.passage, after, wanted, question)
        ):
            following = ScoredSentence(best.passage.sentences[after], best.passage, after, best.score, set())
            chosen.append(following)
            length += len(following.sentence.text)
            typed = True
        asks_why = asks_for_reasons(question)
        # "Что будет, если разорвать цепь?": where the best sentence does not state that condition, a close one
        # that does (not its opposite, "Если цепь не разорвана, …") says what follows from it.
        condition = None if wanted else condition_of(question)
        stated = condition is None or _states(best.sentence.text, condition, retrieval.language)
        for candidate in scored[1 : self._max_sentences * 4]:
            if len(chosen) >= self._max_sentences or candidate.score < best.score - JOIN_MARGIN:
                break
            if length + len(candidate.sentence.text) > MAX_ANSWER_CHARS or candidate.sentence.kind == "meta":
                continue
            if any(candidate.sentence.text == item.sentence.text for item in chosen):
                continue
            adds = matched(subject_terms - covered, candidate.terms)
            holds_value = (
                not typed
                and wanted is not None
                and self._has_value(candidate.passage, candidate.index, wanted, question)
            )
            # The asked value joins only in a sentence that speaks of the question too, not any number nearby.
            adds_type = holds_value and (not topic_terms or bool(matched(subject_terms, candidate.terms)))
            # Nor does it join by another shared word: it would supply the value of something else. (The sentence
            # right after a chosen one goes on speaking of it: "… какую именно версию использовать. Имеет смысл
            # использовать наиболее свежую версию: 9.")
            if (
                holds_value
                and wanted in VALUE_TYPES
                and named
                and not matched(named, candidate.terms)
                and not any(_follows(candidate, item) for item in chosen)
            ):
                continue
            states = (
                condition is not None and not stated and _states(candidate.sentence.text, condition, retrieval.language)
            )
            # A "why" question can have several reasons: another close sentence is a part, not padding.
            if (
                not adds
                and not adds_type
                and not states
                and not (asks_why and candidate.score >= best.score - WHY_MARGIN)
            ):
                continue
            stated = stated or states
            chosen.append(candidate)
            covered |= adds
            typed = typed or adds_type
            length += len(candidate.sentence.text)
        return chosen

    def _without_padding(self, chosen: list[ScoredSentence], question: str) -> list[ScoredSentence]:
        """Drop the further sentences without a number or date once the best one holds the asked one, and all
        further sentences once the best one is the asked command, in code.

        They share the question's topic words, so they count as evidence that the answer is on topic (the
        refusal is judged with them), but they are no part of the answer.
        """
        wanted = expected_answer_type(question)
        # A command in code is the whole answer (its lead-in comes with it as context).
        best = chosen[0]
        if (
            wanted == "command"
            and best.sentence.kind == "code"
            and self._has_value(best.passage, best.index, wanted, question)
        ):
            return chosen[:1]
        if wanted not in VALUE_TYPES:
            return chosen
        valued = [item for item in chosen if self._has_value(item.passage, item.index, wanted, question)]
        # The best sentence may only speak of the topic ("Япония сталкивается с ограничениями как инвестор")
        # while a joined one holds the asked amount: the answer is the sentences with the value.
        return valued or chosen

    @staticmethod
    def _has_value(passage: Passage, index: int, wanted: str, question: str) -> bool:
        """Tell whether a sentence holds the asked value; for a command, whether it is or announces code."""
        if wanted == "command":
            sentences = passage.sentences
            # A definition list of commands or options ("update" / "Эта команда обновляет …") names the
            # command in its term: the description answers "which command", with the term before it.
            described = index > 0 and sentences[index - 1].kind == "term" and sentences[index].kind != "term"
            inline = INLINE_COMMAND.search(sentences[index].text) is not None
            return sentences[index].kind == "code" or described or inline or _announces_code(sentences, index)
        return has_answer_type(passage.sentences[index].text, wanted, question)

    @staticmethod
    def _needs_context(sentence: Sentence, previous: Sentence, language: str | None) -> bool:
        # A definition's term names what it describes; a numbered figure or table title ("Figure 13.5. …",
        # "Таблица 2. …") only stands next to it.
        if (previous.kind == "term" and not CAPTION.match(previous.text)) or (
            sentence.kind == "code" and is_lead_in(previous.text)
        ):
            return True
        # A section's heading is what its first sentence speaks of ("Эта команда …" under "Активация команды"):
        # the citation shows it; quoted, it would read as part of the answer.
        if previous.kind == "heading":
            return False
        return len(sentence.text) < MIN_STANDALONE_CHARS or ExtractiveAnswerer._points_back(sentence, language=language)

    @staticmethod
    def _points_back(sentence: Sentence, demonstrative_only: bool = False, language: str | None = None) -> bool:
        """Tell whether a sentence opens with an anaphor, puts a pronoun of `language` after its verb ("Zawiera on
        …"), or holds a demonstrative ("… these issues")."""
        words = split_into_words(sentence.text)
        if is_cjk(sentence.text):
            return CJK_POINTERS.search(sentence.text) is not None
        opens = not demonstrative_only and (
            bool(words and words[0] in ANAPHORS) or _inverted_pronoun(sentence.text, language)
        )
        return opens or any(word in POINTERS for word in words[1:])

    @staticmethod
    def _referent(item: ScoredSentence) -> list[int]:
        """Return the indexes of the sentences a sentence needing context is read with: the one before it,
        or, for a sentence opening its paragraph and pointing back, the last ones of the paragraph before."""
        sentences, passage, index = item.passage.sentences, item.passage, item.index

        def gap(first: int) -> str:
            return passage.text[sentences[first].end - passage.start : sentences[first + 1].start - passage.start]

        previous = [index - 1]
        if not ExtractiveAnswerer._points_back(item.sentence, demonstrative_only=True) or "\n\n" not in gap(index - 1):
            return previous
        size = len(sentences[index - 1].text)
        while len(previous) < REFERENT_SENTENCES and previous[0] > 0:
            earlier = previous[0] - 1
            size += len(sentences[earlier].text)
            if "\n\n" in gap(earlier) or sentences[earlier].kind not in ("text", "item") or size > REFERENT_CHARS:
                break
            previous.insert(0, earlier)
        return previous

    @staticmethod
    def _lead_with_restatement(
        request: AnswerRequest, chosen: list[ScoredSentence]
    ) -> tuple[list[ScoredSentence], bool]:
        """Put first the sentence that restates a "why" question most (its reason follows it), and tell whether
        one does: "Il est demandé … de maîtriser l'anglais" before "Chaque demande … doit être justifiée"."""
        # A sentence holding RESTATED_SHARE of the question's words, by weight, restates it.
        question = strip_instructions(request.standalone_question)
        terms = set(extract_terms(question, request.retrieval.language))
        weights = {term: request.retrieval.term_weights.get(term, 1.0) for term in terms}
        total = sum(weights.values()) or 1.0

        def share(item: ScoredSentence) -> float:
            strength = term_strength(item.terms, request.retrieval.translations)
            return sum(weight for term, weight in weights.items() if strength(term)) / total

        shares = [share(item) for item in chosen]
        if not terms or max(shares) < RESTATED_SHARE:
            return chosen, False
        restating = chosen[shares.index(max(shares))]
        return [restating] + [item for item in chosen if item is not restating], True

    def _add_context(
        self,
        chosen: list[ScoredSentence],
        explains: bool = False,
        causes: bool = False,
        passages: Sequence[Passage] = (),
        boilerplate: Callable[[str], bool] | None = None,
    ) -> list[ScoredSentence]:
        """Put the preceding line before a fragment, and what a lead-in announces after it.

        `explains`: the question asks why and the best sentence restates it ("… cannot handle high
        traffic"); the reason follows ("The explanation is that …", "Это даст возможность …"), so the best
        sentence brings the next one, also when that one opens the next retrieved chunk of its section
        (`passages`). `causes`: the question asks why; a sentence pointing back from the start of its
        paragraph ("… developed to resolve these issues") brings the paragraph before, which holds the cause.
        A block's title or a figure's caption is not quoted as context, nor is a line copied across many
        documents (`boilerplate`: a label, a cross-reference).
        """
        result: list[ScoredSentence] = []
        taken = {(item.passage.chunk_id, item.index) for item in chosen}

        def take(item: ScoredSentence, index: int) -> None:
            if (item.passage.chunk_id, index) in taken and index != item.index:
                return
            taken.add((item.passage.chunk_id, index))
            result.append(ScoredSentence(item.passage.sentences[index], item.passage, index, item.score, set()))

        for item in chosen:
            sentences = item.passage.sentences
            follows_cause = causes and CONSEQUENCE.match(item.sentence.text) is not None
            language = _local_language(item.passage, item.index)
            if item.index > 0 and (
                follows_cause or self._needs_context(item.sentence, sentences[item.index - 1], language)
            ):
                referents = self._referent(item) if causes else [item.index - 1]
                quotable = [index for index in referents if not self._no_context(sentences[index], boilerplate)]
                # Joined from another document, a sentence pointing back at what only a caption or title there
                # names ("Этот фильтр …" after "После применения фильтра «Масляная краска»") would read as
                # speaking of the best sentence's subject.
                elsewhere = item.passage.source != chosen[0].passage.source
                if not quotable and elsewhere and self._points_back(item.sentence, language=language):
                    continue
                for index in quotable:
                    take(item, index)
            take(item, item.index)
            if is_lead_in(item.sentence.text) or _announces_code(sentences, item.index):
                size = 0
                for index in range(item.index + 1, min(len(sentences), item.index + 1 + LEAD_IN_MAX_UNITS)):
                    following = sentences[index]
                    size += len(following.text)
                    if size > LEAD_IN_MAX_CHARS and index > item.index + 1:
                        break
                    take(item, index)
                    if following.kind not in ("code", "item") and not _announces_code(sentences, index):
                        break
            elif _qualifies(item.passage, item.index) or (
                explains
                and item is chosen[0]
                and item.index + 1 < len(sentences)
                and sentences[item.index + 1].kind in ("text", "item")
            ):
                take(item, item.index + 1)
            elif explains and item is chosen[0] and item.index + 1 == len(sentences):
                continued = _next_chunk(item.passage, passages)
                if continued is not None and continued.sentences[0].kind in ("text", "item"):
                    taken.add((continued.chunk_id, 0))
                    result.append(ScoredSentence(continued.sentences[0], continued, 0, item.score, set()))
        return result

    @staticmethod
    def _no_context(sentence: Sentence, boilerplate: Callable[[str], bool] | None) -> bool:
        return sentence.kind in ("title", "caption") or (boilerplate is not None and boilerplate(sentence.text))

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
