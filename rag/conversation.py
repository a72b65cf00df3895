"""Follow-up questions made standalone from the conversation history, without an LLM."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.abstention import match_strength
from rag.languages import anaphors
from rag.models import Turn
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


# Conversation moves that are not questions about the documents. Matched against the whole message,
# so "Привет, где прошёл саммит?" is still a question.
_SMALL_TALK = {
    "greeting": re.compile(
        r"^(привет\w*|здравствуй\w*|добр\w+ (день|утро|вечер)|доброго времени суток|хай|hi|hello|hey|"
        r"good (morning|afternoon|evening)|greetings|hallo|guten (tag|morgen|abend)|bonjour|salut|hola|ciao|"
        r"こんにちは|你好|您好)$"
    ),
    "thanks": re.compile(
        r"^((большое |огромное )?спасибо( большое)?|благодарю|thanks?( you)?( very much| a lot)?|"
        r"thx|ок спасибо|ok thanks|danke( schön| sehr)?|merci( beaucoup)?|gracias|grazie|ありがとう\w*|谢谢)$"
    ),
    "capabilities": re.compile(
        r"^(что ты (умеешь|можешь)( делать)?|кто ты|ты кто|как (тобой|этим) пользоваться|помощь|help|"
        r"what can you do|who are you|how do i use (you|this)|what are you)$"
    ),
    "overview": re.compile(
        r"^(о ч[её]м (эти |все )?(документы|тексты|статьи|статья)|какие (есть )?документы( есть)?|"
        r"что (есть )?в (документах|базе)|what (are|is) (these|the) (documents?|texts?|articles?) about|"
        r"what documents (do you have|are there)|which documents do you have)$"
    ),
}
_REPLIES = {
    "ru": {
        "greeting": "Здравствуйте! Я отвечаю на вопросы по документам и цитирую источники.",
        "thanks": "Пожалуйста! Задайте следующий вопрос по документам.",
        "capabilities": "Я отвечаю на вопросы по загруженным документам, цитируя фрагменты, "
        "и говорю, когда в документах нет ответа.",
        "overview": "Вот документы, по которым я отвечаю.",
        "documents": "Документы: {titles}.",
        "empty": "Документов пока нет: загрузите их, и я отвечу на вопросы по ним.",
    },
    "en": {
        "greeting": "Hello! I answer questions about the documents and cite my sources.",
        "thanks": "You're welcome! Ask another question about the documents.",
        "capabilities": "I answer questions about the uploaded documents with quoted passages, "
        "and say so when they hold no answer.",
        "overview": "These are the documents I answer from.",
        "documents": "Documents: {titles}.",
        "empty": "There are no documents yet: upload some and ask about them.",
    },
}
MAX_TITLES_LISTED = 8


def classify_small_talk(message: str) -> str | None:
    """Return the kind of conversational message (greeting, thanks, capabilities, overview), else None."""
    words = " ".join(re.findall(r"[^\W_]+", message.lower().replace("ё", "е")))
    if not words or len(words.split()) > 8:
        return None
    return next((kind for kind, pattern in _SMALL_TALK.items() if pattern.match(words)), None)


def reply_to_small_talk(kind: str, language: str, titles: Sequence[str]) -> str:
    """Return a short reply in the question's language that says what the documents cover."""
    replies = _REPLIES.get(language, _REPLIES["en"])
    unique = list(dict.fromkeys(title for title in titles if title))
    if not unique:
        return f"{replies[kind]} {replies['empty']}"
    listed = "; ".join(f"«{title}»" if language == "ru" else f'"{title}"' for title in unique[:MAX_TITLES_LISTED])
    if len(unique) > MAX_TITLES_LISTED:
        listed += f" (+{len(unique) - MAX_TITLES_LISTED})"
    return f"{replies[kind]} {replies['documents'].format(titles=listed)}"
