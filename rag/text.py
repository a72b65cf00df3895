"""Language-aware text primitives shared by ingestion and retrieval: sentences, terms, stems."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer
from razdel import sentenize

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)

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
    свое который которая которые которых которой котором ими оно такое""".split()
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
    each few more most other some such only own same just also up down out off s t""".split()
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


def normalize(text: str) -> str:
    """Lower-case, unify ё/е and dashes, and fold white space."""
    text = text.lower().replace("ё", "е").replace("\u00a0", " ")
    text = re.sub(r"[\u2010-\u2015]", "-", text)
    return " ".join(text.split())


def split_into_words(text: str) -> list[str]:
    """Return the normalized word tokens of `text` (letters and digits, hyphenated words kept)."""
    return _WORD.findall(normalize(text))


def is_stopword(word: str) -> bool:
    """Tell whether a normalized word is a function word in Russian or English."""
    return word in _STOPWORDS_RU or word in _STOPWORDS_EN or word in _DOCUMENT_WORDS


@lru_cache(maxsize=2)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


@lru_cache(maxsize=65536)
def stem_word(word: str) -> str:
    """Stem one normalized word with the Snowball stemmer of its script."""
    if _CYRILLIC.search(word):
        return str(_stemmer("russian").stemWord(word))
    if _LATIN.search(word):
        return str(_stemmer("english").stemWord(word))
    return word


def extract_terms(text: str) -> list[str]:
    """Return the content-word stems of `text`, in order, for lexical matching."""
    return [stem_word(word) for word in split_into_words(text) if not is_stopword(word)]


def split_into_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Return (start, end) spans, shifted by `offset`, of the sentences of one paragraph."""
    return [(offset + sentence.start, offset + sentence.stop) for sentence in sentenize(text) if sentence.text.strip()]


def split_into_paragraphs(text: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of paragraphs: blank-line separated blocks, or lines if there are none."""
    pattern = r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*$)" if re.search(r"\n[ \t]*\n", text) else r"[^\n]*\S[^\n]*"
    spans = []
    for match in re.finditer(pattern, text, flags=re.DOTALL if "(?=" in pattern else 0):
        leading = len(match.group()) - len(match.group().lstrip())
        trailing = len(match.group().rstrip())
        spans.append((match.start() + leading, match.start() + trailing))
    return spans


def find_names(text: str) -> list[str]:
    """Return the normalized capitalized words that do not open a sentence (names, places, acronyms)."""
    names = []
    for match in re.finditer(r"[^\W\d_][\w-]*", text):
        before = text[: match.start()].rstrip()
        opens_sentence = not before or before[-1] in '.!?:;«"(–—-'
        if match.group()[0].isupper() and not opens_sentence:
            names.append(normalize(match.group()))
    return names
