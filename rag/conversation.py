"""Follow-up questions made standalone from the conversation history, without an LLM."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.abstention import match_strength
from rag.languages import anaphors
from rag.models import Turn
from rag.replies import SMALL_TALK_REPLIES, TITLE_QUOTES
from rag.text import ANAPHORS, detect_language, extract_terms, split_into_words, word_language

# A question with fewer content words than this cannot name its own topic ("А почему?").
# bench/sweep.py: condensing lifts dev overall from 0.90 to 0.97; any minimum from 0 to 3 scored the
# same there (every follow-up in our sets has an anaphor), so 2 is kept for elliptical questions.
MIN_OWN_TERMS = 2
# History turns may hold 20,000 characters each; chaining them into the standalone question made one
# follow-up cost seconds (bench/hostile.py). A topic is named within its first sentences.
MAX_TOPIC_CHARS = 500
_CONTINUATIONS = ("а ", "и ", "and ", "what about", "how about", "а что", "а как", "а кто")


def is_follow_up(question: str) -> bool:
    """Tell whether a question leans on earlier turns: an anaphor, a continuation, or too few own terms."""
    words = split_into_words(question)
    lowered = " ".join(words)
    own = anaphors(word_language(question))
    if any(word in ANAPHORS or word in own for word in words):
        return True
    if lowered.startswith(_CONTINUATIONS):
        return True
    return len(extract_terms(question)) < MIN_OWN_TERMS


def condense_question(question: str, history: Sequence[Turn]) -> str:
    """Return a standalone version of `question`: the topic of the previous user turn plus the question."""
    previous = [turn.content for turn in history if turn.role == "user" and turn.content.strip()]
    if not previous or not is_follow_up(question):
        return question.strip()
    # The previous user turn may itself be a follow-up: condense it against its own history first.
    earlier = list(history)
    last_user = max(i for i, turn in enumerate(earlier) if turn.role == "user" and turn.content.strip())
    topic = condense_question(earlier[last_user].content[:MAX_TOPIC_CHARS], earlier[:last_user])
    return f"{clip_topic(topic)} {question.strip()}"


def accept_rewrite(rewrite: str, question: str, history: Sequence[Turn]) -> str | None:
    """Return a model's standalone version of a follow-up if it may replace the heuristic one, else None.

    It must stand alone (no anaphor, enough own words), be written in the question's script, keep every
    content word of the question, and take every other content word from the conversation: a model may
    name the topic the question points back to, never add one.
    """
    lines = [line for line in rewrite.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        return None
    rewrite = " ".join(lines[0].strip().strip("\"'«»").split())
    if not rewrite or len(rewrite) > MAX_TOPIC_CHARS + len(question):
        return None
    if detect_language(rewrite) != detect_language(question) or is_follow_up(rewrite):
        return None
    own = set(extract_terms(rewrite))
    if any(not match_strength(term, own) for term in extract_terms(question)):
        return None
    known = set(extract_terms(question + " " + " ".join(turn.content for turn in history)))
    if any(not match_strength(term, known) for term in own):
        return None
    return rewrite


def clip_topic(topic: str) -> str:
    """Return the topic's first MAX_TOPIC_CHARS characters, cut at a word boundary."""
    topic = topic.strip()
    if len(topic) <= MAX_TOPIC_CHARS:
        return topic
    return topic[:MAX_TOPIC_CHARS].rsplit(" ", 1)[0]


# Conversation moves that are not questions about the documents, by kind and language. Matched against the
# whole message, so "Привет, где прошёл саммит?" is still a question; the reply is in the matched language.
_SMALL_TALK = {
    "greeting": {
        "ru": r"привет\w*|здравствуй\w*|добр\w+ (день|утро|вечер)|доброго времени суток|хай",
        "en": r"hi|hello|hey|good (morning|afternoon|evening)|greetings",
        "de": r"hallo|guten (tag|morgen|abend)|servus|moin",
        "fr": r"bonjour|bonsoir|salut",
        "es": r"hola|buen(os|as) (d[ií]as|tardes|noches)",
        "it": r"ciao|buongiorno|buonasera|salve",
        "pt": r"ol[aá]|bom dia|boa (tarde|noite)",
        "nl": r"hoi|goedemorgen|goedemiddag|goedenavond|dag",
        "pl": r"cześć|dzień dobry|witaj\w*",
        "ja": r"こんにちは|おはよう(ございます)?|こんばんは",
        "zh": r"你好|您好",
    },
    "thanks": {
        "ru": r"(большое |огромное )?спасибо( большое)?|благодарю|ок спасибо",
        "en": r"thanks?( you)?( very much| a lot)?|thx|ok thanks",
        "de": r"danke( schön| sehr)?|vielen dank",
        "fr": r"merci( beaucoup| bien)?",
        "es": r"(muchas )?gracias",
        "it": r"grazie( mille)?",
        "pt": r"obrigad[oa]|muito obrigad[oa]",
        "nl": r"bedankt|dank (je|u)( wel)?",
        "pl": r"dziękuję|dzięki",
        "ja": r"ありがとう\w*",
        "zh": r"谢谢|多谢",
    },
    "capabilities": {
        "ru": r"что ты (умеешь|можешь)( делать)?|кто ты|ты кто|как (тобой|этим) пользоваться|помощь",
        "en": r"help|what can you do|who are you|how do i use (you|this)|what are you",
        "de": r"hilfe|was kannst du( tun)?|wer bist du",
        "fr": r"aide|que (sais|peux) tu faire|qui es tu",
        "es": r"ayuda|qu[eé] puedes hacer|qui[eé]n eres",
        "it": r"aiuto|cosa (sai|puoi) fare|chi sei",
        "pt": r"ajuda|o que (voc[eê] pode|podes) fazer|quem [eé] (voc[eê]|tu)",
        "nl": r"hulp|wat kun je( doen)?|wie ben je",
        "pl": r"pomoc|co potrafisz|co umiesz|kim jesteś",
        "ja": r"何ができますか|あなたは誰(ですか)?",
        "zh": r"你能做什么|你是谁",
    },
    "overview": {
        "ru": r"о ч[её]м (эти |все )?(документы|тексты|статьи|статья)|какие (есть )?документы( есть)?|"
        r"что (есть )?в (документах|базе)",
        "en": r"what (are|is) (these|the) (documents?|texts?|articles?) about|"
        r"what documents (do you have|are there)|which documents do you have",
        "de": r"worum geht es( in den dokumenten)?|welche dokumente (gibt es|hast du)",
        "fr": r"de quoi parlent (les|ces) documents|quels documents (as tu|avez vous|y a t il)",
        "es": r"de qu[eé] (tratan|hablan) (los|estos) documentos|qu[eé] documentos (tienes|hay)",
        "it": r"di cosa parlano (i|questi) documenti|quali documenti (hai|ci sono)",
        "pt": r"sobre o que (s[aã]o|falam) (os|estes|esses) documentos|que documentos (voc[eê] tem|h[aá])",
        "nl": r"waar gaan (de|deze) documenten over|welke documenten (heb je|zijn er)",
        "pl": r"o czym są (te )?dokumenty|jakie (masz )?dokumenty( masz)?",
        "ja": r"どんな資料がありますか|何の資料ですか",
        "zh": r"有哪些文档|这些文档是关于什么的",
    },
}
_SMALL_TALK_PATTERNS = {
    kind: {language: re.compile(rf"^({pattern})$") for language, pattern in languages.items()}
    for kind, languages in _SMALL_TALK.items()
}
MAX_TITLES_LISTED = 8


@dataclass(frozen=True)
class SmallTalk:
    """A conversational message that is no question about the documents, and the language it is in."""

    kind: str  # greeting, thanks, capabilities, overview
    language: str


def classify_small_talk(message: str) -> SmallTalk | None:
    """Return what kind of conversational message `message` is, in which language; None for a question."""
    words = " ".join(re.findall(r"[^\W_]+", message.lower().replace("ё", "е")))
    if not words or len(words.split()) > 8:
        return None
    for kind, languages in _SMALL_TALK_PATTERNS.items():
        for language, pattern in languages.items():
            if pattern.match(words):
                return SmallTalk(kind, language)
    return None


def reply_to_small_talk(small_talk: SmallTalk, titles: Sequence[str]) -> str:
    """Return a short reply in the message's language that says what the documents cover."""
    kind, language = small_talk.kind, small_talk.language
    replies = SMALL_TALK_REPLIES[language]
    unique = list(dict.fromkeys(title for title in titles if title))
    if not unique:
        return f"{replies[kind]} {replies['empty']}"
    opening, closing = TITLE_QUOTES.get(language, ('"', '"'))
    listed = "; ".join(f"{opening}{title}{closing}" for title in unique[:MAX_TITLES_LISTED])
    if len(unique) > MAX_TITLES_LISTED:
        listed += f" (+{len(unique) - MAX_TITLES_LISTED})"
    return f"{replies[kind]} {replies['documents'].format(titles=listed)}"
