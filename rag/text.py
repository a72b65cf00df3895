"""Language-aware text primitives shared by ingestion and retrieval: sentences, terms, stems."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from razdel import sentenize

from rag.languages import default_patterns, interrogatives, question_patterns, value_pattern

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
# Chinese and Japanese write words without spaces: a run of these characters is read as its overlapping
# character pairs (the usual unit of CJK keyword search), and ends a sentence at 。！？.
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK_SENTENCE_END = re.compile(r"[。！？]+[」』）)]*")
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)
# Longer "words" are base64, hashes or junk: the cut keeps stemming, the stem cache and prefix
# matching bounded per word, and no real word is this long.
MAX_WORD_CHARS = 40

# Function words carry no topic; standard stop lists, not tuned to any question set.
_STOPWORDS_RU = frozenset(
    """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее её мне
    было вот от меня еще ещё нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был
    него до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней
    для мы тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того
    потому этого какой совсем ним здесь этом один почти мой тем чтобы нее неё сейчас были куда зачем
    всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про всего
    них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя
    такой им более всегда конечно всю между это каком каким какие каких какое какую каков какова
    каковы чему чём кем кому сколько ль почему либо также такие таких этих эта свой своей своих своё
    свое который которая которые которых которой котором ими оно такое скольких скольким сколькими какого
    какому какими которого которому которым которыми которую""".split()
)
# Words that name the document itself ("в статье", "the article"): every question about a text may
# use them, and the text rarely does, so they are no evidence either way.
_DOCUMENT_WORDS = frozenset(
    """статья статьи статье статью статьей статьёй текст текста тексте документ документа документе
    article articles text document""".split()
)
_STOPWORDS_EN = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being do does did
    done have has had having it its this that these those there here what which who whom whose when where
    why how i you he she we they me him her us them my your his our their not no yes so than then too very
    can could will would shall should may might must about into over under again further once all any both
    each few more most other some such only own same just also up down out off much many s t""".split()
)

ANAPHORS = frozenset(
    """его её ее их он она оно они него неё нее них ним ней ими этот эта это эти этого этой этих этому этим
    этом эту тот та те того той тех том там тогда такой такая такие таких it its they them their
    this these those he she him her his""".split()
)


def detect_language(text: str) -> str:
    """Return "ru" when Cyrillic letters dominate the text, else "en"."""
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    return "ru" if cyrillic >= latin and cyrillic > 0 else "en"


# Function words of other Latin-script languages (German, French, Spanish, Italian, Portuguese, Dutch,
# Polish) that English does not use: a question with more of these than English ones is not English.
_OTHER_FUNCTION_WORDS = frozenset(
    """der die das und ist nicht ein eine einen mit von zu für auf den dem des sich auch wie wird werden kann
    oder wenn welche welcher welches warum wo wer was ich sie es gibt man muss le la les et est une des du
    pour pas que qui dans sur avec ce cette quel quelle quels comment pourquoi où el los las y es una del por
    para con cómo qué cuál dónde il lo gli della delle che è per non sono come perché quale dove os uma
    não em como qual onde het een van en is niet met voor op wat hoe waarom welke jest nie się na że jak
    który która które którego którym jaki jaka jakie jakim jakich czy gdzie kiedy dlaczego ile przez dla od
    przy oraz lub są być można czym za po jako jeśli także też tylko już bez pod przed aby może""".split()
) - {"is", "en", "a", "in", "die"}

# Function words of English and of another of these languages ("In welchem Jahr …", "Was macht …", "Wat is
# …", Polish "to", "on", "do") count for neither side.
_SHARED_FUNCTION_WORDS = frozenset({"a", "in", "is", "was", "to", "on", "do"})

# Snowball languages written in Latin script with spaces, beside English, whose words citechat stems with
# their own stemmer and filters with the standard stop-word list of the stop-words package. A text whose
# function words fit two of them equally ("Que signifie …" is French, Spanish or Portuguese by them) goes to
# the earlier one: the order is the languages' share of the web's pages.
SNOWBALL_LANGUAGES = {
    "es": "spanish",
    "de": "german",
    "fr": "french",
    "pt": "portuguese",
    "it": "italian",
    "nl": "dutch",
    "pl": "polish",
}
# German capitalizes every noun: there a capital letter does not mark a name.
NOUN_CAPITALIZING = frozenset({"de"})
# German and Dutch write compounds as one word ("Standarddateisystem" holds "Dateisystem", and Snowball does
# not split it): a question's words need not be the evidence's words, whatever the stems.
COMPOUNDING = frozenset({"de", "nl"})


def counts_shared_words(language: str | None) -> bool:
    """Tell whether refusal rules that count the words a question shares with its evidence apply to a language."""
    return language is not None and language not in COMPOUNDING


@lru_cache(maxsize=len(SNOWBALL_LANGUAGES))
def stopwords(language: str) -> frozenset[str]:
    """Return the normalized standard stop words of a language of SNOWBALL_LANGUAGES (empty for others)."""
    if language not in SNOWBALL_LANGUAGES:
        return frozenset()
    from stop_words import get_stop_words

    return frozenset(normalize(word) for word in get_stop_words(language))


@lru_cache(maxsize=1)
def _distinctive_stopwords() -> dict[str, frozenset[str]]:
    """Return each language's stop words that no other language of SNOWBALL_LANGUAGES, nor English, lists
    ("und", "dans"; not Polish "to")."""
    lists = {language: stopwords(language) for language in SNOWBALL_LANGUAGES}
    return {
        language: words
        - _STOPWORDS_EN
        - frozenset().union(*(other for name, other in lists.items() if name != language))
        for language, words in lists.items()
    }


def _opens_question(word: str, language: str) -> bool:
    """Tell whether a word opens a question in `language`: a question word, or a verb with its subject
    pronoun hyphenated after it ("est-il", "peut-on")."""
    head, *pronouns = word.split("-")
    inverted = (
        bool(head)
        and all(part in stopwords(language) for part in pronouns)
        and any(part not in _STOPWORDS_EN for part in pronouns)  # "plug-in" is English
    )
    return word in interrogatives(language) or inverted


def _latin_language(words: list[str], strict: bool = False) -> str | None:
    """Return the language of SNOWBALL_LANGUAGES whose function words the words use most, None if none.

    Stop words only one language lists, and a question word opening the text ("Combien …", "Mit welchem …"),
    decide first; the full stop lists break their ties, the order of SNOWBALL_LANGUAGES theirs. Elided
    articles and hyphenated pronouns count as words ("l'option" holds "l'", "est-il" "est" and "il").
    `strict`: only the first kind of evidence counts, and one stop word is not enough.
    """
    # A question word may follow a preposition ("In welchem Jahr …", "Avec quelle commande …", "En qué …").
    openings = words[:2]
    words = words + [word[: word.index("'") + 1] for word in words if "'" in word]
    words = words + [part for word in words if "-" in word for part in word.split("-")]
    full = {language: stopwords(language) for language in SNOWBALL_LANGUAGES}
    distinctive = _distinctive_stopwords()
    asks = {language: any(_opens_question(word, language) for word in openings) for language in SNOWBALL_LANGUAGES}
    counts = {
        language: sum(word in distinctive[language] for word in words) + asks[language]
        for language in SNOWBALL_LANGUAGES
    }
    top = max(counts.values())
    best = [language for language in SNOWBALL_LANGUAGES if counts[language] == top]
    # One stop word is no evidence in a text with none of either kind ("Man pages" is English).
    if strict and not any(asks[language] for language in best) and top < 2:
        return None
    if len(best) > 1:
        counts = {language: sum(word in full[language] for word in words) for language in best}
        best = [language for language in best if counts[language] == max(counts.values())]
    return best[0] if top or max(counts.values()) else None


@lru_cache(maxsize=1024)
def word_language(text: str) -> str | None:
    """Return the language whose words `text` is analyzed in: "ru", "en", a key of SNOWBALL_LANGUAGES, or None.

    Latin-script text is English unless it has more German, French, Spanish, Italian, Portuguese or Dutch
    function words than English ones (or, having neither, opens with another language's question word or
    uses a stop word only that language has); then it is the language whose function words it uses most.
    Chinese and Japanese text, and text whose other language is undecided, get None: their words are not
    stemmed in their own language and rules that count words do not apply to them.
    """
    language, _ = _decide_language(text)
    return language


def _decide_language(text: str) -> tuple[str | None, bool]:
    """Return word_language's answer and whether the text's own words decided it (not the English default)."""
    if detect_language(text) == "ru":
        return "ru", True
    if is_cjk(text):
        return None, True
    words = split_into_words(text)
    english = sum(1 for word in words if word in _STOPWORDS_EN and word not in _SHARED_FUNCTION_WORDS)
    other = sum(1 for word in words if word in _OTHER_FUNCTION_WORDS and word not in _SHARED_FUNCTION_WORDS)
    if english == other == 0:
        language = _latin_language(words, strict=True)
        return language or "en", language is not None
    # A tie goes to English, unless another language's question word opens the text ("Wie zeigt er die
    # Pakete an?": "an" and "wie" count one each).
    opens_other = (
        bool(words)
        and words[0] not in _STOPWORDS_EN
        and any(_opens_question(words[0], language) for language in SNOWBALL_LANGUAGES)
    )
    if english > other or (english == other and not opens_other):
        return "en", True
    return _latin_language(words), True


_KANA = re.compile(r"[\u3040-\u30ff]")


def reply_language(text: str) -> str:
    """Return the language to reply to `text` in: its `written_language`, else "en"."""
    return written_language(text) or "en"


def written_language(text: str) -> str | None:
    """Return the language `text` is written in: "ru", "ja", "zh", or "en" or a key of SNOWBALL_LANGUAGES that
    its own words decide; None when they decide nothing (a command line, a name)."""
    if detect_language(text) == "ru":
        return "ru"
    if is_cjk(text):
        return "ja" if _KANA.search(text) else "zh"
    language, decided = _decide_language(text)
    return language if decided else None


def is_cjk(text: str) -> bool:
    """Tell whether `text` is Chinese or Japanese: its characters (a word's worth each two) outweigh its Latin
    letters ("Mandriva Linux は何年に消えましたか?" is Japanese)."""
    return bool(_CJK_RUN.search(text)) and 2 * len("".join(_CJK_RUN.findall(text))) > len(_LATIN.findall(text))


# Chinese and Japanese text writes Latin letters and digits full width ("Ｕ盘", "返回０") beside the ASCII ones
# ("U 盘") a question types: one character each, folded to ASCII.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def normalize(text: str) -> str:
    """Lower-case, unify ё/е, dashes and full-width Latin letters and digits, and fold white space."""
    text = text.translate(_FULL_WIDTH).lower().replace("ё", "е").replace("\u00a0", " ")
    text = re.sub(r"[\u2010-\u2015]", "-", text)
    return " ".join(text.split())


def split_into_words(text: str) -> list[str]:
    """Return the normalized word tokens of `text` (letters and digits, hyphenated words kept, long ones cut).

    Chinese and Japanese runs become their overlapping character pairs ("アドレス" → "アド", "ドレ", "レス").
    """
    words = []
    for word in _WORD.findall(normalize(text)):
        if _CJK_RUN.search(word) is None:
            words.append(word[:MAX_WORD_CHARS])
            continue
        for piece in re.split(f"({_CJK_RUN.pattern})", word):
            if _CJK_RUN.fullmatch(piece):
                words.extend([piece] if len(piece) == 1 else [piece[i : i + 2] for i in range(len(piece) - 1)])
            elif piece:
                words.append(piece[:MAX_WORD_CHARS])
    return words


def is_stopword(word: str, language: str | None = None) -> bool:
    """Tell whether a normalized word is a function word in Russian, English or the text's `language`."""
    return (
        word in _STOPWORDS_RU
        or word in _STOPWORDS_EN
        or word in _DOCUMENT_WORDS
        or (language in SNOWBALL_LANGUAGES and word in stopwords(language))
    )


@lru_cache(maxsize=len(SNOWBALL_LANGUAGES) + 2)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


@lru_cache(maxsize=65536)
def stem_word(word: str, language: str | None = None) -> str:
    """Stem one normalized word: Cyrillic in Russian, Latin in `language` if it is one of SNOWBALL_LANGUAGES,
    else in English."""
    if _CYRILLIC.search(word):
        return str(_stemmer("russian").stemWord(word))
    if _LATIN.search(word):
        return str(_stemmer(SNOWBALL_LANGUAGES.get(language or "", "english")).stemWord(word))
    return word


# French and Italian write articles and pronouns into the next word ("l'option", "qu'il", "dell'host").
_ELIDING = frozenset({"fr", "it"})
MAX_ELIDED_CHARS = 5


def _drop_elision(word: str) -> str:
    head, _, tail = word.partition("'")
    return tail if tail and len(head) <= MAX_ELIDED_CHARS else word


def _drop_clitics(word: str, language: str) -> str:
    # A pronoun hyphenated to its verb ("écoute-t-il", "prend-on") is a stop word, not part of a compound.
    parts = word.split("-")
    while len(parts) > 1 and parts[-1] in stopwords(language):
        parts.pop()
    return "-".join(parts)


def split_into_content_words(text: str, language: str | None) -> list[str]:
    """Return the words of `text` that are not stop words in `language`.

    In the languages of SNOWBALL_LANGUAGES hyphenated pronouns ("prend-il") and, in French and Italian,
    elided articles ("l'option") are dropped first.
    """
    words = split_into_words(text)
    if language in _ELIDING:
        words = [_drop_elision(word) for word in words]
    if language in SNOWBALL_LANGUAGES:
        words = [_drop_clitics(word, language) for word in words]
    # In Japanese, pairs of hiragana are grammar ("した", "まし" of "ました"), not content; a word of function
    # words joined by hyphens is one too ("что-то", "какой-либо").
    return [
        word
        for word in words
        if not is_stopword(word, language)
        and not _HIRAGANA.fullmatch(word)
        and not ("-" in word and all(is_stopword(part, language) for part in word.split("-")))
    ]


_HIRAGANA = re.compile(r"[\u3040-\u309f]+")


def extract_terms(text: str, language: str | None = None) -> list[str]:
    """Return the content-word stems of `text`, in order, for lexical matching.

    Words are analyzed in `language`, by default each line's own (`word_language`; the whole text's where a
    line does not tell): a German question and a German chunk give the same stems. Pass the language of the
    surrounding text for a single word.
    """
    if language is None:
        return _extract_terms_by_line(text, word_language(text))
    stemming = language if language in SNOWBALL_LANGUAGES else None
    return [stem_word(word, stemming) for word in split_into_content_words(text, language)]


def extract_terms_and_language(text: str) -> tuple[list[str], str | None]:
    """Return `extract_terms(text)` and the text's `word_language`, which it decides on the way."""
    whole = word_language(text)
    return _extract_terms_by_line(text, whole), whole


def _extract_terms_by_line(text: str, whole: str | None) -> list[str]:
    # A chunk of a partly translated manual holds lines of both languages ("Das Passwort …" beside an English
    # sidebar): each line is stemmed in its own language, and lines too short to tell in the chunk's (`whole`).
    terms: list[str] = []
    for line in text.splitlines() or [text]:
        if line.strip():
            terms.extend(_short_line_terms(line, whole) if len(line) <= SHORT_LINE_CHARS else _line_terms(line, whole))
    return terms


def _line_terms(line: str, whole: str | None) -> tuple[str, ...]:
    language, decided = _decide_language(line)
    # (None: Chinese or Japanese, whose Latin words are stemmed in English as an English text's.)
    return tuple(extract_terms(line, (language if decided else whole) or "en"))


# Help pages repeat short lines ("Пример:", "Синтаксис:", menu paths) thousands of times: their terms
# are computed once per process (they depend only on the line and, when it is too short to tell its
# language, the chunk's). Long lines seldom repeat and are not kept.
SHORT_LINE_CHARS = 200
_short_line_terms = lru_cache(maxsize=2**15)(_line_terms)


# Words shorter than this, or with digits, are not looked up in the other language ("ext4", "-nc", "of").
MIN_VOCABULARY_CHARS = 3


def is_vocabulary_word(word: str) -> bool:
    """Tell whether a normalized word is a content word worth matching across languages."""
    latin_or_cyrillic = _CJK_RUN.search(word) is None and bool(_LATIN.search(word) or _CYRILLIC.search(word))
    return len(word) >= MIN_VOCABULARY_CHARS and word.isalpha() and latin_or_cyrillic and not is_stopword(word)


def vocabulary(text: str) -> dict[str, str]:
    """Return the content-word stems of `text`, each with its most frequent written form.

    One form per stem is enough to find the word's counterpart in another language ("пакетов" and
    "пакет" share the stem "пакет").
    """
    counts: dict[tuple[str, str], int] = {}
    for word in split_into_words(text):
        if is_vocabulary_word(word):
            key = (stem_word(word), word)
            counts[key] = counts.get(key, 0) + 1
    forms: dict[str, str] = {}
    for (stem, word), count in counts.items():
        if stem not in forms or count > counts[(stem, forms[stem])]:
            forms[stem] = word
    return forms


def split_into_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Return (start, end) spans, shifted by `offset`, of the sentences of one paragraph."""
    spans = []
    for sentence in sentenize(text):
        if not sentence.text.strip():
            continue
        start = sentence.start
        # razdel knows Russian and English punctuation; Chinese and Japanese sentences end at 。！？.
        for end in _CJK_SENTENCE_END.finditer(sentence.text):
            stop = sentence.start + end.end()
            if text[start:stop].strip() and stop < sentence.stop:
                spans.append((start, stop))
                start = stop + len(text[stop : sentence.stop]) - len(text[stop : sentence.stop].lstrip())
        spans.append((start, sentence.stop))
    return [(offset + start, offset + stop) for start, stop in _join_parentheses(text, spans)]


def _join_parentheses(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join a sentence ending inside an open parenthesis to the next one when that one closes it: an
    abbreviation's period is no sentence end ("… to UDP (ang. User Datagram Protocol).")."""
    joined: list[tuple[int, int]] = []
    for start, stop in spans:
        if joined:
            before, piece = text[joined[-1][0] : joined[-1][1]], text[start:stop]
            closes = piece.find(")")
            if before.count("(") > before.count(")") and closes >= 0 and "(" not in piece[:closes]:
                joined[-1] = (joined[-1][0], stop)
                continue
        joined.append((start, stop))
    return joined


# A footnote mark ("[9]", "[12]") standing right before a word.
_FOOTNOTE_BEFORE = re.compile(r"\[\d{1,3}\]\s*$")
FOOTNOTE_CHARS = 6


def _last_visible(text: str, index: int) -> int:
    """Return the index of the last character at or before `index` that is not white space (-1 if none)."""
    while index >= 0 and text[index].isspace():
        index -= 1
    return index


def find_names(text: str) -> list[str]:
    """Return the normalized capitalized words that do not open a sentence (names, places, acronyms).

    In German, which capitalizes every noun, only words or parts of compounds with a capital after their
    first letter ("NRPE", "MultiViews", "WireGuard" in "WireGuard-VPN") are names, wherever they stand.
    """
    nouns_capitalized = word_language(text) in NOUN_CAPITALIZING
    # Chinese and Japanese have no capitals: a capitalized Latin word there is a name wherever it stands.
    cjk = is_cjk(text)
    names: list[str] = []
    for match in re.finditer(r"[^\W\d_][\w-]*", text):
        # Look back over white space only, not at a copy of the text before: linear in the text's length.
        before = _last_visible(text, match.start() - 1)
        # A footnote mark closes the sentence before ("… было создано.[9] Подпись …").
        mark = _FOOTNOTE_BEFORE.search(text, max(0, before - FOOTNOTE_CHARS), before + 1)
        if mark:
            before = _last_visible(text, mark.start() - 1)
        # A table cell or a list item opens with a capital too ("libpam-cracklib | Pluggable …", "• Ubuntu …").
        opens_sentence = before < 0 or text[before] in '.!?:;«"(–—-|•¿¡'
        word = match.group()
        if nouns_capitalized:
            # A compound joins a name to nouns ("WireGuard-VPN-Verbindung"): its named parts are the names.
            parts = [part for part in word.split("-") if any(letter.isupper() for letter in part[1:])]
            names.extend(normalize(part)[:MAX_WORD_CHARS] for part in parts if len(parts) > 1 or not opens_sentence)
            continue
        if word[0].isupper() and (cjk or not opens_sentence) and not _CJK_RUN.search(word):
            names.append(normalize(word)[:MAX_WORD_CHARS])
    return names


# A label quoted in a question («Поворот», "Delete cropped pixels", „Speichern“): a few words, one thing.
_QUOTED_LABEL = re.compile(r"«([^«»]{1,60})»|“([^“”]{1,60})”|„([^„“”]{1,60})[“”]|\"([^\"]{1,60})\"")
MAX_LABEL_WORDS = 5


def find_quoted_labels(text: str) -> list[str]:
    """Return the short quoted labels of a text (a menu item, a tool, an option's name): names of one thing."""
    labels = ("".join(groups).strip() for groups in _QUOTED_LABEL.findall(text))
    return [label for label in labels if label and len(split_into_words(label)) <= MAX_LABEL_WORDS]


# A Latin-script word this rare (Zipf frequency: log10 of uses per billion words) in the question's language
# and in English may be a name or identifier ("nginx", "lighttpd", "strongswan") ...
RARE_ZIPF = 2.5
MIN_RARE_CHARS = 4
# ... unless one word in RARE_SHARE of the question or more is that rare.
RARE_SHARE = 3


def _name_like(own: float, english: float) -> bool:
    """Tell whether a word's Zipf frequencies in the question's language and in English make it a name.

    A name is rare in both and is written the same in English text ("nginx", "lighttpd"), or in none
    ("strongswan"); a rare word of the language only ("lauschenden", "enmascaramiento") is no name.
    """
    return own < RARE_ZIPF and english < RARE_ZIPF and (english > 0 or own == 0)


def find_rare_words(text: str) -> list[str]:
    """Return the normalized Latin-script words of a question that its language and English hardly use.

    Program and package names are often written in lower case, so `find_names` misses them; a word list
    of the language (wordfreq) tells them from its words. Russian questions are left out: there every
    Latin-script word is already a specific token (`find_specific_tokens`).
    """
    if detect_language(text) == "ru" or is_cjk(text):
        return []
    from wordfreq import zipf_frequency

    language = word_language(text) or "en"
    # Words written in lower case: capitalized ones are find_names' (and nouns, in German).
    words = [normalize(word) for word in _WORD.findall(text) if word.islower() and _LATIN.search(word)]
    words = [word for word in words if not is_stopword(word, language)]
    rare = [
        word
        for word in dict.fromkeys(words)
        if len(word) >= MIN_RARE_CHARS
        and not any(char.isdigit() for char in word)
        and _name_like(zipf_frequency(word, language), zipf_frequency(word, "en"))
    ]
    # Where many of its words are rare, the question is in a language citechat does not tell (Swedish read as
    # English): its rare words are no names. One rare word is a name even in a short question ("What does
    # pbuilder let you do?").
    return rare if len(rare) < 2 or RARE_SHARE * len(rare) <= len(set(words)) else []


def is_portable_name(name: str, language: str | None) -> bool:
    """Tell whether a name of a question in `language` is written the same in every Latin-script language: a
    program's or product's, rare in English and in the question's language ("WireGuard", "OpenVPN", "Falcot"),
    not a place's that translations spell their own way ("Japan", "Japon")."""
    from wordfreq import zipf_frequency

    if not _LATIN.search(name) or _CYRILLIC.search(name):
        return False
    return zipf_frequency(name, "en") < RARE_ZIPF and zipf_frequency(name, language or "en") < RARE_ZIPF


# A capitalized German word that English uses about as much (Zipf at most this lower) and German not often
# is written as in English: a name ("Fedora", "Kerberos") or a loanword ("Proxy"), not a German noun ("Datei").
ENGLISH_MARGIN = 0.2
COMMON_ZIPF = 3.5


def find_english_nouns(text: str) -> list[str]:
    """Return the capitalized words (and parts of hyphenated compounds) of a German text that English
    writes the same: the names among its nouns, which capitals do not tell ("Fedora-Server" → "fedora").

    Empty for other languages, whose capitals `find_names` reads.
    """
    language = word_language(text)
    if language not in NOUN_CAPITALIZING:
        return []
    from wordfreq import zipf_frequency

    parts = (part for word in _WORD.findall(text) if word[:1].isupper() for part in word.split("-"))
    found = []
    for part in dict.fromkeys(normalize(part) for part in parts if len(part) >= MIN_RARE_CHARS):
        own, english = zipf_frequency(part, language), zipf_frequency(part, "en")
        if not is_stopword(part, language) and own < COMMON_ZIPF and english > 0 and own - english <= ENGLISH_MARGIN:
            found.append(part)
    return found


# Two capitalized words in a row, neither a function word: a person's or an organisation's name in German
# ("James Yonan", "Klaus Müller", "Wireshark Foundation"), where a noun is followed by a lower-case word.
_CAPITALIZED_PAIR = re.compile(r"(?<![\w-])([^\W\d_][\w-]*)[ \u00a0]+(?=([^\W\d_][\w-]*))")


def find_name_pairs(text: str) -> list[str]:
    """Return the words of a German text that stand in a pair of capitalized words: first and last names."""
    language = word_language(text)
    if language not in NOUN_CAPITALIZING:
        return []
    found: list[str] = []
    for match in _CAPITALIZED_PAIR.finditer(text):
        pair = [match.group(1), match.group(2)]
        if all(word[0].isupper() and not is_stopword(normalize(word), language) for word in pair):
            found.extend(normalize(word) for word in pair)
    return list(dict.fromkeys(found))


# Sentences of a question that tell the assistant how to answer ("Ответь кратко.", "Answer in two
# sentences.") say nothing about the topic; they are dropped before the question's words are weighed.
_INSTRUCTION = re.compile(
    r"^\s*(?:пожалуйста,?\s+)?(?:please,?\s+)?(?:ответь|отвечай|ответьте|объясни|объясните|расскажи|расскажите|"
    r"перечисли|перечислите|напиши|напишите|дай|дайте|приведи|будь|используй|answer|reply|respond|explain|tell me|"
    r"list|write|give|be|use|keep|summari[sz]e)\b[^?]*[.!]?\s*$",
    re.IGNORECASE,
)


def strip_instructions(question: str) -> str:
    """Return the question without trailing sentences that only say how to answer (kept if nothing else is left)."""
    spans = split_into_sentences(question)
    kept = [question[start:end] for start, end in spans if not _INSTRUCTION.match(question[start:end])]
    if not kept or len(kept) == len(spans):
        return question.strip()
    return " ".join(kept).strip()


# Text addressed to an assistant ("Ignore previous instructions …") is an injection attempt, never evidence.
_ADDRESSED_TO_ASSISTANT = re.compile(
    r"\b(?:игнорируй|игнорируйте|забудь|забудьте|ignore|disregard|forget)\b.{0,40}\b(?:инструкц\w*|указани\w*|"
    r"правил\w*|instructions?|prompts?|rules)\b|\b(?:системн\w+ промпт\w*|system prompt|you are now|ты теперь)\b|"
    r"\b(?:отвечай|answer|respond|reply)\s+(?:только|only)\b",
    re.IGNORECASE,
)


def is_addressed_to_assistant(text: str) -> bool:
    """Tell whether a text gives orders to an AI assistant (prompt injection) rather than stating facts."""
    return _ADDRESSED_TO_ASSISTANT.search(text) is not None


_QUESTION_WORD = {
    # A duration is a number of time units ("за три месяца", "30 days"); "How long is a password?" is a length.
    "duration": re.compile(
        r"\b(сколько (?:длится|длятся|длилось|продолжается|времени)|как долго|за какой срок|"
        r"в течение какого (?:срока|времени)|how long (?:does|do|did|will|would|can)|for how long)\b",
        re.IGNORECASE,
    ),
    "number": re.compile(
        r"\b(сколько|скольких|как часто|"
        r"как(?:ая|ую|ой|ие|ого) (?:верси|размер|объ[её]м|процент|дол[яю]|длин|ширин|высот|глубин|вес|скорост)\w*|"
        r"how (?:much|many|long|big|large|old|often|wide|high|deep|heavy|fast)|"
        r"(?:what|which) (?:amount|share|percentage|number|size|version|length|width|height|depth|weight|speed))\b",
        re.IGNORECASE,
    ),
    # "What should I run …", "Что нужно выполнить …" ask for a command too.
    "command": re.compile(
        r"\b(как(?:ой|ую|ими) команд\w*|(?:what|which) commands?|"
        r"что (?:нужно|надо|следует|необходимо) (?:выполнить|запустить|ввести)|"
        r"what (?:should|do|can|must) (?:i|you|we|one) (?:run|execute|type))\b",
        re.IGNORECASE,
    ),
    "date": re.compile(
        r"\b(когда|в как(?:ом|ие|ой) (?:год|месяц|день)\w*|(?:what|which) (?:year|date|month)|when)\b",
        re.IGNORECASE,
    ),
    # "Кто руководит …", "Who maintains …": a person or an organisation, i.e. a name ("Кому …" asks for anything).
    # "Как зовут …" asks for a person's name only ("как называется" for a thing's).
    "person": re.compile(r"\b(кто|who|как (?:(?:его|её|ее|их) )?(?:зов[уё]т|звали))\b", re.IGNORECASE),
}
# The bare "when" of each language, and the words that make it ask for a case: useful, needed, allowed, available.
_WHEN = re.compile(r"\b(?:когда|when|wann|quand|cu[áa]ndo|quando|wanneer|kiedy)\b", re.IGNORECASE)
_SITUATION = re.compile(
    r"\b(?:(?:полезн|нужн|необходим|доступн|недоступн|useful|necessar|nützlich|notwendig|verfügbar|nécessaire|"
    r"disponibl|útil|necesari|necessari|disponibil|nuttig|beschikbaar|przydatn|potrzebn|dostępn)\w*|надо|следует|"
    r"стоит|можно|нельзя|требуется|should|need|needs|needed|available|unavailable|recommended|must|can|nötig|sollte|"
    r"muss|kann|utile|faut|doit|peut|debe|puede|deve|può|nodig|moet|kan|należy|można)\b",
    re.IGNORECASE,
)
# A question asking for a key or key combination, anywhere in it ("Как с клавиатуры открыть …", "What is the
# keyboard shortcut for …", "Quel raccourci clavier …"): GUI help answers it with keys.
_KEY_QUESTION = re.compile(
    r"\b(комбинаци\w* клавиш|сочетани\w* клавиш|горяч\w* клавиш\w*|клавиш\w* быстрого доступа|с клавиатуры|"
    r"как(?:ую|ой|ие|ая) клавиш\w*|как(?:ую|ой|ие|ая) комбинаци\w*|keyboard shortcuts?|shortcut keys?|shortcuts?|"
    r"hotkeys?|key (?:combination|binding)s?|keystrokes?|(?:which|what) keys?|from the keyboard|"
    r"tastenkombination\w*|tastenkürzel\w*|tastaturkürzel\w*|welche tasten?|mit der tastatur|"
    r"raccourcis? clavier|quelles? touches?|combinaison de touches|au clavier|atajos? de teclado|qué teclas?|"
    r"combinación de teclas|con el teclado|scorciatoi\w* da tastiera|quali? tast[oi]|combinazione di tasti|"
    r"atalhos? de teclado|quais? teclas?|combinação de teclas|sneltoets\w*|toetsencombinatie|welke toetsen?)\b",
    re.IGNORECASE,
)
# A question asking for a command-line or configuration option ("Which nmap option …", "Welche Option von
# netstat …", "Какую опцию настройки …"), and the options text writes ("-n", "--numeric", "Aptitude::Get-Root",
# "PermitRootLogin", "ssl=on").
_OPTION_QUESTION = re.compile(
    r"\b((?:which|what) (?:\w+ )?(?:option|flag|switch)s?|как(?:ой|ая|ую|им|ого) (?:\w+ )?опци\w*|"
    r"welche[rnms]? (?:\w+ )?option\w*|mit welche[rmn] (?:\w+ )?option\w*|quelle (?:\w+ )?option|"
    r"qu[ée] opci[oó]n|quale opzione|qual opç[aã]o|welke optie|jak(?:a|ą|iej) opcj\w*)\b",
    re.IGNORECASE,
)
_OPTION = re.compile(
    r"(?<![\w-])--?[A-Za-z][\w-]*|\b\w+(?:::[\w-]+)+|\b[A-Za-z]+=\S+|(?-i:\b[A-Z]?[a-z]+(?:[A-Z][a-z0-9]+)+\b)"
)
# A question asking for an address ("Какой IP-адрес у …", "Which address does … listen on", "Welche IP-Adresse …"),
# and the addresses text writes: IPv4 and IPv6 literals, host names with a domain, URLs and e-mail addresses.
_ADDRESS_QUESTION = re.compile(
    r"\b((?:which|what) (?:\w+ ){0,2}(?:ip |mac |e-?mail |web |network )?address(?:es)?|"
    r"как(?:ой|ие|ого|им|ому) (?:\w+ )?(?:ip-|mac-)?адрес\w*|"
    r"welche[rnms]? (?:\w+ )?(?:ip-|mac-)?adresse\w*|quelle (?:\w+ )?adresse\w*|qu[ée] direcci[oó]n|"
    r"quale indirizzo|qual (?:o )?endereço|welk (?:\w+ )?(?:ip-)?adres|jak(?:i|iego|im) (?:\w+ )?adres\w*)\b",
    re.IGNORECASE,
)
_ADDRESS = re.compile(
    r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?!\w|\.\d)|(?<![\w:])[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])|"
    r"\b[a-z][\w+.-]*://\S+|[\w.+-]+@[\w-]+\.[\w.]+|\blocalhost\b|"
    r"\b(?:[a-z0-9-]+\.)+(?:com|org|net|edu|gov|info|io|de|fr|ru|uk|eu|lan|local|localdomain)\b",
    re.IGNORECASE,
)
# A question asking which file ("В каком файле …", "In which file …", "Dans quel fichier …"), and file names as
# text writes them: a path, or a name with a configuration, list or log suffix. The type ranks sentences naming a
# file higher; an answer without one is not refused ("the passwd file" names one in words).
_FILE_QUESTION = re.compile(
    r"\b((?:in |from )?(?:which|what) (?:\w+ )?files?|(?:в|из) как(?:ом|их|ой) (?:\w+ )?файл\w*|"
    r"как(?:ой|ие) (?:\w+ )?файл\w*|(?:in |aus )?welche[rnms]? (?:\w+ )?datei\w*|"
    r"(?:dans |de )?quels? (?:\w+ )?fichiers?|(?:en )?qu[ée] (?:archivo|fichero)s?|(?:in )?quali? file|"
    r"(?:em )?qu(?:e|al) arquivos?|(?:in )?welk (?:\w+ )?bestand|(?:w )?(?:jaki\w*|który\w*) (?:\w+ )?plik\w*|"
    # ... or directory, which text names by its path.
    r"(?:in |from )?(?:which|what) (?:\w+ )?director(?:y|ies)|(?:в|из) как(?:ом|их|ой) (?:\w+ )?(?:каталог|папк)\w*|"
    r"(?:in |aus )?welche[mnrs]? (?:\w+ )?(?:verzeichnis|ordner)\w*|(?:dans )?quels? (?:\w+ )?(?:répertoire|dossier)s?|"
    r"(?:en )?qu[ée] (?:directorio|carpeta)|(?:in )?quale (?:directory|cartella)|(?:em )?qual (?:diretório|pasta)|"
    r"(?:in )?welke (?:map|directory)|(?:w )?(?:jaki\w*|który\w*) (?:\w+ )?katalog\w*)\b",
    re.IGNORECASE,
)
_FILE = re.compile(
    r"(?<![\w/.-])~?/(?:[\w.+-]+/?)+|(?<![\w/.-])[\w+-]+(?:\.[\w+-]+)*\.(?:conf|cfg|ini|list|log|rules|txt|xml|json|ya?ml|"
    r"service|socket|timer|sh|py|pl|db|d|deb|dsc|changes|gz|xz|bz2|tar|zip|html?|pem|key|crt|desktop|local)\b",
    re.IGNORECASE,
)
# "Which port …" asks for a port number wherever it stands in the question ("On which TCP port …", "Какой порт …"),
# written alone, as a setting's value or after a host ("Port 22", "ListenStream=22", "localhost:8080").
_PORT_QUESTION = re.compile(
    r"\b(?:(?:which|what) (?:\w+ )?ports?|как(?:ой|ом|ие|им) (?:\w+ )?порт(?:а|у|ом|е|ы|ов)?|"
    r"welche[nmrs]? (?:\w+ )?port(?:s|e|en|nummer\w*)?|quels? (?:\w+ )?ports?|qu[ée] puertos?|quale porta|"
    r"qual porta|welke (?:\w+ )?poort|(?:jaki|który)\w* (?:\w+ )?port(?:u|em|y|ów)?)\b",
    re.IGNORECASE,
)
_PORT_NUMBER = re.compile(r"(?:(?<![\w.:/-])|(?<=[=:]))(\d{1,5})(?![\w:/-]|\.\d)")
_CJK_KEY_QUESTION = re.compile(r"ショートカット|どのキー|何キー|キーボード|快捷键|哪个键|组合键")
# Keys as help texts write them: a modifier combination ("Ctrl+Shift+E", "Strg-S"), a function or named key,
# or a key named right after the word for key ("клавишу u", "the q key", "la touche Échap").
_KEY = re.compile(
    r"\b(?:ctrl|strg|control|shift|umschalt|alt|altgr|meta|super|cmd)\s*[+-]\s*\S|"
    r"\b(?:ctrl|strg|shift|alt|esc|f(?:[1-9]|1[0-2])|pgup|pgdn|backspace)\b|"
    r"(?-i:\b(?:Enter|Return|Tab|Space|Delete|Del|Insert|Ins|Home|End|Escape|Page ?Up|Page ?Down|Пробел|Ввод)\b)|"
    r"\b(?:клавиш\w*|key|taste|touche|tecla|tasto|toets)\s+[^\s,.;:!?()](?![^\s,.;:!?()])|(?<!\S)(?!a\s)\S\s+key\b",
    re.IGNORECASE,
)
# Chinese and Japanese questions put the question word anywhere ("… は何年に消えましたか?"): searched whole.
_CJK_QUESTION_WORD = {
    "duration": re.compile(
        r"何(?:日|時間|週|カ月|ヶ月|か月|年)間|どの(?:くらい|ぐらい)の期間|どれ(?:くらい|ぐらい)の期間|多长时间|多久"
    ),
    "number": re.compile(
        r"何(?:個|人|社|回|台|つ|本|件|種類|カ月|ヶ月|か月|日|時間|分|秒|ビット|バイト|文字|番|倍|パーセント|%)|"
        r"いくら|いくつ|どの(?:くらい|ぐらい)|どれ(?:くらい|ぐらい)|どの(?:ポート)?番号|多少|几"
    ),
    "date": re.compile(r"何年|何月|いつ|什么时候|哪一年|何时"),
    "command": re.compile(r"どの(?:ような)?コマンド|何という(?:コマンド)|什么命令|哪个命令"),
    "person": re.compile(r"誰|だれ|谁"),
}
# Values in Chinese and Japanese text: digits stand apart from the characters around them.
_CJK_AMOUNT = re.compile(r"\d+(?=\s*[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff])(?!\s*[年月日号])")
_CJK_MONTH_DAY = re.compile(r"(\d+)\s*(?:月|日(?!間)|号)")
_CJK_TIME_UNIT = re.compile(r"\d\s*(?:秒|分|時間|日|週間?|カ月|ヶ月|か月|年|天|小时|周|个月)")
_NUMBER = re.compile(
    r"\d|\b(один|одна|одно|два|две|три|четыре|пять|шесть|семь|восемь|девять|десять|сто|тысяч\w*|миллион\w*|"
    r"двух|тр[её]х|четыр[её]х|пяти|шести|семи|восьми|девяти|десяти|(?:один|две|три|четыр|пят|шест|сем|восем|девят)"
    r"надцат\w*|двадцат\w*|тридцат\w*|сорок\w*|(?:пят|шест|сем|восем)ь?(?:и|ью)?десят\w*|девяност\w*|двест\w*|"
    r"трист\w*|четырест\w*|(?:пят|шест|сем|восем|девят)ь?сот\w*|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)"
    r"teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"миллиард\w*|трлн|млрд|млн|половин\w*|треть|четверть|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"hundred|thousand|million|billion|dozen|half)\b",
    re.IGNORECASE,
)
# A date written with dots or slashes has a four-digit year: "1.2.12" is a section's number. The month May is
# capitalized: "may" is the verb.
_DATE = re.compile(
    r"\b(1[5-9]|20)\d\d\b|\b(январ|феврал|март|апрел|ма[йяе]|июн|июл|август|сентябр|октябр|ноябр|декабр|"
    r"january|february|march|april|june|july|august|september|october|november|december)\w*|\b(?-i:May)\b|"
    r"\b(век\w*|столети\w*|century|centuries|decade|десятилети\w*)\b|\b\d{1,2}[./]\d{1,2}[./](?:1[5-9]|20)\d\d\b",
    re.IGNORECASE,
)


# A year written as a date ("в 2025 году", "in December 2025", "since 2004") is when, not how much.
_YEAR_AS_DATE = re.compile(
    r"(?:\b(?:in|since|until|by|from|of|в|с|до|к|от|по)\s+|\b(?:январ|феврал|март|апрел|ма[йя]|июн|июл|август|"
    r"сентябр|октябр|ноябр|декабр|january|february|march|april|may|june|july|august|september|october|"
    r"november|december)\w*\s+)(?:1[5-9]|20)\d\d\b|\b(?:1[5-9]|20)\d\d\s*(?:г\.|гг\b|год\w*)",
    re.IGNORECASE,
)
_TIME_UNIT = re.compile(
    r"\b(секунд|минут|час|сут(?:ок|ки)|дн[яе]й|день|дня|недел|месяц|полугоди|квартал|год|лет|"
    r"seconds?|minutes?|hours?|days?|weeks?|months?|quarters?|years?)\w*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


# Kinds asked for wherever their words stand in the question ("Mit welcher Option …", "On which TCP port …"), in
# this order.
_ASKED_ANYWHERE = (
    ("key", _KEY_QUESTION),
    ("option", _OPTION_QUESTION),
    ("address", _ADDRESS_QUESTION),
    ("file", _FILE_QUESTION),
    ("port", _PORT_QUESTION),
)


def expected_answer_type(question: str) -> str | None:
    """Return the kind of value a question asks for, else None.

    "duration" ("сколько длится"), "number" ("сколько", "which version"), "command", "date" ("когда"),
    "person" ("кто", "who"), "key" ("какой комбинацией клавиш", "keyboard shortcut"), "option" ("which
    nmap option", "welche Option"), "address" ("какой IP-адрес", "which address"), "file" ("в каком файле",
    "which directory") or "port" ("which port").

    Pass the question without instructions about the answer (`strip_instructions`), as the answerer does.
    """
    # The question word opens the question ("When …", "В каком году …"), not a clause inside it ("… when A1 …").
    if is_cjk(question):
        if _CJK_KEY_QUESTION.search(question):
            return "key"
        return next((kind for kind, pattern in _CJK_QUESTION_WORD.items() if pattern.search(question)), None)
    asked = next((kind for kind, pattern in _ASKED_ANYWHERE if pattern.search(question)), None)
    if asked:
        return asked
    opening = " ".join(split_into_words(question)[:4])
    patterns = [*_QUESTION_WORD.items(), *question_patterns(word_language(question)).items()]
    kind = next((kind for kind, pattern in patterns if pattern.search(opening)), None)
    # "Когда она полезна?", "When should I use it?": a bare "when" of what is useful, needed or allowed asks
    # in which case, not on what date.
    if kind == "date" and _WHEN.search(opening) and _SITUATION.search(question):
        return None
    return kind


def without_question_words(question: str) -> str:
    """Return the question without the words that ask for its value ("In welchem Jahr", "何年", "how many"):
    what is left names the topic ("何年" would otherwise match any "2014 年に")."""
    kind = expected_answer_type(question)
    if kind is None:
        return question
    # "Комбинация клавиш", "keyboard shortcut" are what the answer speaks of ("комбинацией клавиш Shift+S").
    if kind in ("key", "option", "address", "file", "port"):
        return question
    if is_cjk(question):
        return _CJK_QUESTION_WORD[kind].sub(" ", question, count=1)
    patterns = [_QUESTION_WORD.get(kind), question_patterns(word_language(question)).get(kind)]
    for pattern in patterns:
        if pattern is not None and pattern.search(question):
            return pattern.sub(" ", question, count=1)
    return question


# "How many X" in the languages citechat analyses, and the counted X: the unit of the asked value
# ("How many characters …", "Сколько дней …", "Combien de jours …", "多少个字符").
_HOW_MANY_WORDS = r"сколько|скольких|how (?:many|much)|wie ?viele?|combien de|cu[áa]nt[oa]s?|quant[ioea]s?|hoeveel|ile"
_HOW_MANY = re.compile(rf"\b(?:{_HOW_MANY_WORDS})\s+([^\W\d_][\w-]*)", re.IGNORECASE)
_CJK_HOW_MANY = re.compile(r"(?:多少|几)\s*([个種种次条條位名台本件]?\s*[\u3400-\u4dbf\u4e00-\u9fff]{1,2})")


def counted_noun(question: str) -> str:
    """Return what a "how many" question counts ("characters" of "How many characters …"), else "".

    A capitalized word there is the subject, a name ("Сколько Япония пообещала …"), except in a language that
    capitalizes every noun ("Wie viele Pakete …").
    """
    match = (_CJK_HOW_MANY if is_cjk(question) else _HOW_MANY).search(question)
    if match is None:
        return ""
    counted = match.group(1)
    if counted[:1].isupper() and word_language(question) not in NOUN_CAPITALIZING:
        return ""
    return counted


# Digits glued to Latin letters, paths, options or keys are names ("ext4", "x86_64", "V:111",
# "aptitude-0.8.13"), not quantities.
_IDENTIFIER = re.compile(r"[a-z_]\d|\d[a-z_]|[a-z]-\d|[a-z]\(\d|[/:=@\\]", re.IGNORECASE)
# A reference to a part of the document ("see Section 12.3.3", "см. раздел 4.2", "Sekcja 8.2.5", "第 8.2.5 节")
# numbers the document's structure, not a value it states.
_CROSS_REFERENCE = re.compile(
    r"(?:\b(?:sections?|chapters?|figures?|tables?|examples?|appendix|appendices|sect|fig|"
    r"раздел\w*|глав[аеуыой]\w*|рисун\w*|таблиц\w*|пример\w*|приложени\w*|разд|рис|табл|"
    r"abschnitt\w*|kapitel\w*|abbildung\w*|tabelle\w*|beispiel\w*|anhang\w*|"
    r"chapitre\w*|tableau\w*|exemple\w*|annexe\w*|sección|secciones|capítulo\w*|figura\w*|tabla\w*|"
    r"ejemplo\w*|apéndice\w*|sezion[ei]|capitol[oi]|tabell[ae]|esempi[o]?|appendice|seção|secção|tabela\w*|"
    r"exemplo\w*|sectie\w*|hoofdstuk\w*|figuur|tabel\w*|voorbeeld\w*|bijlage\w*|sekcj\w*|rozdzia\w*|"
    r"rysun\w*|przykład\w*|dodat\w*)\.?\s+(?:№\s*|no\.\s*)?\d+(?:\.\d+)*\.?"
    r"|第\s*\d+(?:\.\d+)*\s*[章节節]|\d+(?:\.\d+)+\s*[章节節]"
    # ... with the title of the part it refers to (“Simple-CDD: The All-In-One Solution”).
    r")(?:,?\s*[“\"«„「][^”\"»“」\n]{1,120}[”\"»“」])?",
    re.IGNORECASE,
)


# A bare "when" of something that happens ("When does dirvish run?", "Когда запускается cron?") is answered by
# a time of day, a weekday or a frequency ("22:00", "on Sundays", "ежедневно", "jeden Montag"), not only a date.
# A question naming the year, month or date it asks for wants a date.
_ASKS_CALENDAR = re.compile(
    r"\b(?:year|month|date|год\w*|месяц\w*|дат\w*|jahr\w*|monat\w*|datum|année|mois|año|mes|fecha|anno|mese|"
    r"ano|mês|jaar|maand|rok\w*|miesiąc\w*)\b|年|月|日付",
    re.IGNORECASE,
)
_TIMES = (
    r"day|week|month|year|hour|minute|night|morning|evening|день|неделю|месяц|год|час|минуту|ночь|утро|вечер|"
    r"tag|woche|monat|jahr|stunde|minute|nacht|jour|semaine|mois|année|heure|nuit|jours|semaines|heures|minutes|"
    r"día|semana|mes|año|hora|minuto|noche|giorno|settimana|mese|anno|minuto|notte|dia|ano|noite|"
    r"dag|week|maand|jaar|uur|nacht|dnia|dzień|tydzień|tygodnia|miesiąca|roku|godziny|minuty|nocy"
)
_WEEKDAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|понедельник|вторник|четверг|пятниц|суббот|"
    r"воскресень|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|"
    r"samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo|lunedì|martedì|mercoledì|giovedì|"
    r"venerdì|sabato|domenica|segunda-feira|terça-feira|quarta-feira|quinta-feira|sexta-feira|maandag|dinsdag|"
    r"woensdag|donderdag|vrijdag|zaterdag|zondag|poniedział|wtor(?:ek|ki)|środ[aęy]|czwart(?:ek|ki)|piąt(?:ek|ki)|"
    r"sobot[aęy]|niedziel[aęi]"
)
# ... or by the release it happened in: "Since Debian Buster, …", "начиная с Debian 10", "seit Version 2.4".
_RELEASE_MOMENT = re.compile(
    r"\b(?i:since|until|till|before|after|starting (?:with|from)|as of|beginning with|prior to|начиная со?|"
    r"вплоть до|до|после|с версии|seit|ab|bis|vor|nach|depuis|à partir de|jusqu'à|avant|après|desde|a partir de|"
    r"hasta|antes de|después de|a partire da|fino a|prima di|dopo|até|depois de|sinds|vanaf|od|przed|po)"
    r"\s+(?i:(?:la|le|l'|der|die|das|dem|den|el|il|lo|o|a|de|het)\s*)?"
    r"((?i:version|versionen|versión|versione|versão|versie|wersji|версии)\s+\d[\w.]*"
    r"|[A-Z]\w+(?:[\s-]+(?:\d[\w.]*|[A-Z]\w+))?)",
)
_MOMENT = re.compile(
    rf"(?<![\d.:])\d{{1,2}}:\d{{2}}(?![\d.:])|\b(?:{_WEEKDAYS})\w*"
    r"|\b(?:daily|weekly|monthly|hourly|nightly|yearly|annually|ежедневно|еженедельно|ежемесячно|ежечасно|ежегодно|"
    r"täglich|wöchentlich|monatlich|stündlich|jährlich|quotidiennement|hebdomadairement|mensuellement|"
    r"diariamente|semanalmente|mensualmente|quotidianamente|settimanalmente|mensilmente|dagelijks|wekelijks|"
    r"maandelijks|codziennie|co tydzień|co miesiąc)\b"
    r"|\b(?:(?:once|twice|\d+ times)\s+(?:an?|per)|every|each|per|каждый|каждую|каждое|каждые|раз в|jeden|jede|"
    rf"jedes|chaque|tous les|toutes les|cada|ogni|elke|iedere|każdego|każdy|co)\s+(?:{_TIMES}|{_WEEKDAYS})",
    re.IGNORECASE,
)


_ONE_OF = re.compile(
    r"\b(?:one|один|одна|одно|одной|одного|одним|одну|одном|ein|eine|einer|eines|einem|un|une|uno|una|um|uma|"
    r"jeden|jedna|jedno|jednym|jednej|jednego|één)\s+(?:of|из|их|von|der|des|de|dei|degli|delle|dos|das|van|z)\b",
    re.IGNORECASE,
)
_LABELLED_NUMBER = re.compile(
    r"(?:\b(?:номер\w*|number|nummer|numéro|número|numero|numer\w*|no|nr|id|uid|gid|pid)\.?|№|#)\s*\d[\d.]*",
    re.IGNORECASE,
)


# The kinds whose values a text writes in a form of their own, each not named by the question.
_WRITTEN_VALUES = {"key": _KEY, "address": _ADDRESS, "file": _FILE}


def has_answer_type(text: str, kind: str, question: str = "", common: Callable[[str], bool] | None = None) -> bool:
    """Tell whether `text` holds a value of the asked kind that the question does not name.

    Kinds are those of `expected_answer_type` but "command". "Когда вышла версия 0.8.13?" is not answered
    by a sentence whose only number is 0.8.13, nor "How much …?" by a year ("в декабре 2025 года");
    "Кто сопровождает gedit?" needs a name (a capitalized word inside a sentence, or an e-mail address)
    besides gedit that `common` does not call the corpus's topic; a duration needs a time unit.
    """
    asked = set(split_into_words(question))
    named = normalize(question)
    asked_numbers = set(re.findall(r"\d+", question))
    if kind == "option":
        options = {normalize(option) for option in _OPTION.findall(question)}
        return any(normalize(option) not in options for option in _OPTION.findall(text))
    if kind == "port":
        return any(number not in asked_numbers for number in _PORT_NUMBER.findall(text))
    if kind in _WRITTEN_VALUES:
        return any(normalize(match.group(0)) not in named for match in _WRITTEN_VALUES[kind].finditer(text))
    if kind == "person":
        own = set(find_names(question)) | asked
        return bool(_EMAIL.search(text)) or any(
            name not in own and not (common and common(name)) for name in [*find_names(text), *find_name_pairs(text)]
        )
    # Value words of the question's language, when it is one of rag.languages, count too ("trois mois").
    native = value_pattern(word_language(question), kind) if question else None
    if _CJK_RUN.search(text):
        if kind == "duration" and any(match.group(0) not in question for match in _CJK_TIME_UNIT.finditer(text)):
            return True
        if kind == "date":
            # Chinese and Japanese write a date with 年, 月, 日 ("2014 年に", "4月30日"): digits before another
            # word are an amount with its unit ("2048 字节", "2048 ビット").
            text = _CJK_AMOUNT.sub(" ", text)
            if any(match.group(1) not in asked_numbers for match in _CJK_MONTH_DAY.finditer(text)):
                return True
        # "2004年", "18カ月": the digits are a token of their own.
        text = _CJK_RUN.sub(lambda match: f" {match.group(0)} ", text)
    if kind == "duration":
        units = [*_TIME_UNIT.finditer(text), *(native.finditer(text) if native else ())]
        return any(normalize(match.group(0)) not in asked for match in units)
    if kind == "date" and question and not _ASKS_CALENDAR.search(question):
        if any(normalize(match.group(0)) not in named for match in _MOMENT.finditer(text)):
            return True
        # The release must be another than the one asked about ("Before GIMP-2.10, …" for "When was 2.10 out?").
        for match in _RELEASE_MOMENT.finditer(text):
            numbers = set(re.findall(r"\d+", match.group(1)))
            if not (numbers and numbers <= asked_numbers) and not set(split_into_words(match.group(1))) <= asked:
                return True
    pattern = _NUMBER if kind == "number" else _DATE
    text = _CROSS_REFERENCE.sub(" ", text)
    if kind == "number":
        # "One of them" picks, it does not count; a labelled number ("номер 1002", "uid 1000") counts nothing asked
        # by "how many".
        text = _ONE_OF.sub(" ", text)
        if _HOW_MANY.search(question):
            text = _LABELLED_NUMBER.sub(" ", text)
        text = _YEAR_AS_DATE.sub(" ", text)
    for token in (word.strip(".,;:!?()[]«»\"'") for word in text.split()):
        if _IDENTIFIER.search(token):
            continue
        numbers = set(re.findall(r"\d+", token))
        if numbers and numbers <= asked_numbers:
            continue
        if any(normalize(match.group(0)) not in asked for match in pattern.finditer(token)):
            return True
        if native and any(normalize(match.group(0)) not in asked for match in native.finditer(token)):
            return True
    return False


# "В каком городе …", "In which file …", "Dans quel fichier …": a preposition, then "which", then the kind of
# thing the answer names. The answer names the thing (Тбилиси, /etc/hosts), rarely its kind. Without the
# preposition the noun is what is asked about ("Какое население …", "Which packages …").
_CATEGORY = re.compile(
    r"\b(?:в|во|на|с|со|из|до|по|к|ко|от|у|за|при|о|об|под|над|через)\s+как(?:ой|ом|ая|ую|ое|ие|их|им|ими|ого|ому)\s+"
    r"|\b(?:in|on|at|from|to|for|with|under|into|by)\s+(?:which|what)\s+"
    r"|\b(?:in|an|auf|aus|mit|bei|unter|seit|von|zu|nach|für)\s+welche[mrns]?\s+"
    r"|\b(?:dans|en|sur|à|de|avec|pour|par|sous|depuis)\s+quel(?:le)?s?\s+"
    r"|\b(?:en|a|de|con|desde|para|por|sobre)\s+(?:qu[ée]|cu[áa]l(?:es)?)\s+"
    r"|\b(?:in|a|da|di|con|su|per)\s+(?:quale|quali|che)\s+"
    r"|\b(?:em|no|na|de|com|desde|para|por)\s+(?:qual|quais|que)\s+"
    r"|\b(?:in|op|aan|uit|met|bij|onder|sinds|van|naar|voor)\s+welke?\s+"
    r"|\b(?:w|we|na|z|ze|do|od|przy|po|dla|za|o|pod|nad|przez)\s+(?:jaki|któr)\w*\s+",
    re.IGNORECASE,
)


def category_noun(question: str) -> str | None:
    """Return the noun a prepositional "which" names the answer's kind with ("В каком городе" → "городе")."""
    match = _CATEGORY.search(question)
    if match is None:
        return None
    following = split_into_words(question[match.end() :])
    return following[0] if following else None


# "Кто является …" asks who is …: the copula says nothing about the asked role.
_COPULAS = frozenset("является являются являлся являлась являлись".split())
# Question words whose next content word is what the answer must speak of: the role of a person
# ("Кто руководит …", "Who maintains …") or the things counted ("Сколько пользователей …", "How many users …").
_FOCUSED = re.compile(rf"\b(кто|who|{_HOW_MANY_WORDS}|qui|qui[ée]n(?:es)?|chi|quem)\b")


def asked_focus(question: str) -> str | None:
    """Return the stem of what a "кто / who / сколько / how many" question is about ("руковод", "user").

    The first content word after the question word: "Кто сейчас руководит разработкой?" → "руковод".
    """
    words = split_into_words(question)
    language = word_language(question)
    opening = " ".join(words[:5])
    # "How long / combien de temps" asks for a duration, which needs no word for time beside it.
    match = _FOCUSED.search(opening)
    if match is None or expected_answer_type(question) == "duration":
        return None
    position = len(opening[: match.end()].split())
    for following in words[position:]:
        if not is_stopword(following, language) and following not in _COPULAS:
            return stem_word(following, language)
    return None


# Words that narrow what is asked to one setting: "Какой шрифт используется по умолчанию?" is not answered
# by a sentence about fonts that never says which is the default. (asked in the question, stated in the text)
_QUALIFIERS = {
    "default": (re.compile(r"по умолчанию|\bdefault", re.IGNORECASE), re.compile(r"умолчани|default", re.IGNORECASE)),
}


# A path or option holding the word ("/etc/default/openvpn", "--default-release") neither asks nor states it.
_PATH_LIKE = re.compile(r"\S*[/=]\S*|(?<!\S)--?[\w-]+")


def asked_qualifiers(question: str) -> list[str]:
    """Return the qualifiers a question asks about ("по умолчанию", "by default")."""
    own = default_patterns(word_language(question))
    question = _PATH_LIKE.sub(" ", question)
    asked = [name for name, (pattern, _) in _QUALIFIERS.items() if pattern.search(question)]
    return asked or (["default"] if own and own[0].search(question) else [])


def missing_qualifiers(question: str, text: str) -> list[str]:
    """Return the qualifiers the question asks about that `text` never states."""
    own = default_patterns(word_language(question))
    text = _PATH_LIKE.sub(" ", text)
    return [
        name
        for name in asked_qualifiers(question)
        if not _QUALIFIERS[name][1].search(text) and not (own and own[1].search(text))
    ]


# A condition ("если …", "if …", "wenn …"), up to the end of its clause, and the words that negate it.
_CONDITION = re.compile(r"\b(?:если|if|wenn|falls|si|jeśli|jeżeli)\s+([^,;:?!]+)", re.IGNORECASE)
# Words that may come before a condition opening its sentence ("Но если …", "And if …").
CONDITION_OPENING_WORDS = 1
_NEGATION = re.compile(
    r"\b(?:не|нет|без|not|no|never|without|nicht|kein\w*|ohne|ne|pas|sans|sin|nie|bez)\b|n't\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Condition:
    """A condition clause: what it says, and whether it says it is not so ("если он не подписан")."""

    text: str
    negated: bool
    # The condition opens its text ("Если цепь разорвать, …", "But if …"): the rest is what follows from it.
    opens: bool = False


def condition_of(text: str) -> Condition | None:
    """Return the first condition a text states ("Что будет, если разорвать цепь?": "разорвать цепь"), else None."""
    match = _CONDITION.search(text)
    if match is None:
        return None
    clause = match.group(1)
    opens = len(split_into_words(text[: match.start()])) <= CONDITION_OPENING_WORDS
    return Condition(clause, _NEGATION.search(clause) is not None, opens)


# Words joined by hyphens, no digits ("Firmware-Paket", "easy-to-configure").
_HYPHENATED_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")


def find_specific_tokens(text: str) -> list[str]:
    """Return the tokens that name one specific thing: numbers, options, paths, versions, identifiers.

    A question that names such a token ("--purge", "2019", "apt-get", "libc6") is about that thing;
    evidence that never mentions it answers another question.
    """
    if detect_language(text) == "ru":
        # In a Russian question a Latin-script word names a program, option or product ("synaptic").
        tokens = [word for word in split_into_words(text) if _LATIN.search(word) and not _CYRILLIC.search(word)]
        return list(dict.fromkeys([token for token in tokens if len(token) >= 2] + _specific(text)))
    language = word_language(text)
    if language != "en":
        # German and French join words with hyphens ("Firmware-Paket", "prend-il"): there only digits, options,
        # paths and dotted or underscored identifiers name a specific thing; in German the nouns a compound
        # adds to one ("64-bit-Prozessoren", "i386-Software") are words, not part of it.
        if language in NOUN_CAPITALIZING:
            text = re.sub(r"(?<=[\w.])(?:-[A-ZÄÖÜ][^\W\d_]+)+\b", "", text)
        return [token for token in _specific(text) if not _HYPHENATED_WORDS.fullmatch(token)]
    return _specific(text)


def _specific(text: str) -> list[str]:
    tokens = re.findall(
        r"(?<![\w-])(?:--?[a-z][\w-]*|[\w.-]*\d[\w.-]*|[a-z]+(?:[-_.][a-z0-9]+)+|/[\w./-]+)", text.lower()
    )
    tokens = [token.strip(".-") for token in tokens if len(token.strip(".-")) >= 2]
    # A phrase joined by hyphens around a function word ("easy-to-configure", "up-to-date") is words, not a name.
    return [token for token in tokens if not (_HYPHENATED_WORDS.fullmatch(token) and _has_function_part(token))]


# Parts used at least this often (Zipf) are everyday words: "text-only", "read-only", "command-line", not
# "apt-get" or "safe-upgrade".
EVERYDAY_ZIPF = 4.5


def is_everyday_compound(token: str, language: str | None) -> bool:
    """Tell whether a hyphenated token joins everyday words of `language` ("text-only"): another language
    translates it ("reine Textversion"), where a name or option ("apt-get", "cruft-ng") is written alike."""
    from wordfreq import zipf_frequency

    return bool(_HYPHENATED_WORDS.fullmatch(token)) and all(
        zipf_frequency(part, language or "en") >= EVERYDAY_ZIPF for part in token.split("-")
    )


def _has_function_part(token: str) -> bool:
    parts = token.split("-")
    return any(part in _STOPWORDS_EN for part in parts[1:-1])


def is_lead_in(text: str) -> bool:
    """Tell whether a sentence or block announces what follows it ("run:", "the following command:")."""
    return text.rstrip().endswith(":")


_WHY = re.compile(
    r"^(почему|зачем|отчего|по какой причине|why|for what reason|what for|warum|wieso|weshalb|pourquoi|"
    r"por qu[eé]|perch[eé]|waarom|dlaczego|czemu|po co|z jakiego powodu)\b",
    re.IGNORECASE,
)
_CJK_WHY = re.compile(r"なぜ|何故|どうして|为什么|為什麼")


def asks_for_reasons(question: str) -> bool:
    """Tell whether a question asks why (its answer may be several reasons)."""
    if is_cjk(question):
        return bool(_CJK_WHY.search(question))
    return bool(_WHY.search(" ".join(split_into_words(question))))


# "Что такое X?", "Что делает X?", "What does X do?", "Que fait X ?": the answer is a sentence about X as its
# subject ("MultiViews active la négociation de contenu …"), not one that mentions X in passing.
_ABOUT_THING = re.compile(
    r"^(?:что такое|что делает|что означает|что значит|для чего (?:нужен|нужна|нужно|нужны|служит|используется)|"
    r"what (?:is|are|does)|what do|was (?:ist|sind|macht|bedeutet|bewirkt)|qu'est-ce que|qu'est-ce qu'|que fait|"
    r"que (?:signifie|veut dire)|qu[ée] (?:es|son|hace|significa)|cos'è|che cos'è|cosa (?:fa|sono|significa)|"
    r"o que (?:é|são|faz|significa)|wat (?:is|zijn|doet|betekent)|czym (?:jest|są)|co to (?:jest|są)|co robi|"
    r"co oznacza|do czego służy)\b",
    re.IGNORECASE,
)


def asks_about_thing(question: str) -> bool:
    """Tell whether a question asks what a thing is or does ("Que fait l'option MultiViews ?")."""
    return _ABOUT_THING.search(question.strip()) is not None
