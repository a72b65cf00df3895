"""Slack rendering of answers: mrkdwn escaping, Block Kit messages within Slack's limits, feedback references."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from rag.models import Answer, Citation

# Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks): a section's text and a context
# element's text hold at most 3000 characters, a message at most 50 blocks, a context block at most
# 10 elements, a button value at most 2000 characters. The top-level `text` is cut by Slack at 40,000.
SECTION_TEXT_LIMIT = 3000
MAX_BLOCKS = 50
MAX_CONTEXT_ELEMENTS = 10
BUTTON_VALUE_LIMIT = 2000
FALLBACK_TEXT_LIMIT = 39000
EXCERPT_CHARS = 320
EXCERPT_LEAD_CHARS = 80
TITLE_CHARS = 150

ANSWER_BLOCK_PREFIX = "citechat-answer"
NOTICE_BLOCK_ID = "citechat-notice"
FEEDBACK_BLOCK_ID = "citechat-feedback"
FEEDBACK_ACTION_UP = "citechat_feedback_up"
FEEDBACK_ACTION_DOWN = "citechat_feedback_down"

REFUSAL_HINT = "Попробуйте переформулировать вопрос или спросить о том, что есть в загруженных статьях."
USAGE_HINT = (
    "Задайте вопрос о документах, например: _Где прошёл первый диалог «Центральная Азия плюс Япония»?_ "
    "Я отвечу в треде и приведу источники. В канале упомяните меня, в личных сообщениях просто напишите "
    "вопрос; команда `/ask вопрос` тоже работает."
)
FILE_HINT = "Я пока не читаю вложения: напишите вопрос текстом, и я найду ответ в загруженных документах."
APOLOGY = "Извините, сервис ответов сейчас недоступен или не успел ответить. Попробуйте ещё раз чуть позже."
FEEDBACK_THANKS = "Спасибо за оценку!"
FEEDBACK_FAILED = "Не удалось сохранить оценку, попробуйте позже."

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
_CHANNEL_LINK = re.compile(r"<#[CG][A-Z0-9]+(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


@dataclass
class SlackMessage:
    """A message ready for chat.postMessage / respond(): the notification `text` and the Block Kit `blocks`."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


class FeedbackReference(BaseModel):
    """What a feedback button carries back: the question, the answer if it fits, and compact citation refs."""

    q: str
    a: str = ""
    c: list[tuple[int, str, str, int, int, float]] = []


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape_mrkdwn(text: str) -> str:
    """Undo `escape_mrkdwn`, as Slack returns message text escaped."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def extract_question(text: str) -> str:
    """Return a message's plain question: mentions removed, links and channels as their labels, unescaped."""
    text = _MENTION.sub(" ", text)
    text = _SPECIAL.sub(" ", text)
    text = _CHANNEL_LINK.sub(lambda match: f"#{match.group(1)}" if match.group(1) else " ", text)
    text = _LINK.sub(lambda match: match.group(2) or match.group(1), text)
    return " ".join(unescape_mrkdwn(text).split())


def split_text(text: str, limit: int) -> list[str]:
    """Split text into pieces of at most `limit` characters, preferring paragraph, line, sentence, word breaks."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind(sep) for sep in ("\n\n", "\n", ". ", " "))
        cut = cut + 1 if cut > limit // 2 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def format_excerpt(citation: Citation, limit: int = EXCERPT_CHARS) -> str:
    """Return a one-line mrkdwn excerpt of the passage around its first highlight, answering sentences bold."""
    text = citation.text
    spans = sorted((h.start, h.end) for h in citation.highlights if 0 <= h.start < h.end <= len(text))
    begin = max(0, spans[0][0] - EXCERPT_LEAD_CHARS) if spans else 0
    end = min(len(text), begin + limit)
    pieces: list[str] = []
    cursor = begin
    for start, stop in spans:
        start, stop = max(start, cursor), min(stop, end)
        if start >= stop:
            continue
        pieces.append(_flatten(text[cursor:start]))
        pieces.append(_bold(text[start:stop]))
        cursor = stop
    pieces.append(_flatten(text[cursor:end]))
    excerpt = re.sub(r" {2,}", " ", "".join(pieces)).strip()
    return ("…" if begin > 0 else "") + excerpt + ("…" if end < len(text) else "")


def _flatten(text: str) -> str:
    return escape_mrkdwn(re.sub(r"\s+", " ", text))


def _bold(text: str) -> str:
    # Slack bold must not start or end with whitespace nor contain '*', and needs a word boundary around it.
    core = re.sub(r"\s+", " ", text).strip().replace("*", "∗")
    return f" *{escape_mrkdwn(core)}* " if core else _flatten(text)


def format_source_line(citation: Citation) -> str:
    """Return the mrkdwn heading of a source: marker, title and document name."""
    title = citation.title.strip() or citation.source
    if len(title) > TITLE_CHARS:
        title = title[: TITLE_CHARS - 1] + "…"
    source = citation.source.replace("`", "'")
    return f"*[{citation.marker}]* *{escape_mrkdwn(title)}* · `{escape_mrkdwn(source)}`"


# Who wrote an LLM-mode answer (quoted answers need no remark).
WRITTEN_BY = {
    "llm": "сформулировано моделью и сверено с источниками / phrased by the model, checked against sources",
    "llm-fallback": "цитаты: ответ модели не подошёл / quotes: the model's reply was not usable",
}


def build_answer_message(answer: Answer, question: str, notice: str | None = None) -> SlackMessage:
    """Return the answer as Block Kit (answer sections, numbered sources, feedback buttons); `text` is the answer."""
    head: list[dict[str, Any]] = []
    if notice:
        head.append(_context(NOTICE_BLOCK_ID, [notice]))
    refused = answer.abstained and answer.mode != "reply"
    body = f":grey_question: {answer.answer}" if refused else answer.answer
    tail: list[dict[str, Any]] = []
    if refused:
        tail.append(_context("citechat-refusal-hint", [REFUSAL_HINT]))
    elif answer.citations:
        facts = [f"Уверенность / confidence: {answer.confidence:.0%}"] + ([answer.notice] if answer.notice else [])
        if answer.mode in WRITTEN_BY:
            facts.append(WRITTEN_BY[answer.mode])
        tail.append(_context("citechat-confidence", [" · ".join(facts)]))
        tail.append({"type": "divider"})
        tail.extend(_source_blocks(answer.citations, MAX_BLOCKS - len(head) - 4))
    tail.append(build_feedback_block(answer, question))
    room = MAX_BLOCKS - len(head) - len(tail)
    sections = split_text(escape_mrkdwn(body), SECTION_TEXT_LIMIT) or [escape_mrkdwn(body) or " "]
    if len(sections) > room:
        sections = sections[:room]
        sections[-1] = sections[-1][: SECTION_TEXT_LIMIT - 1] + "…"
    answer_blocks = [
        {"type": "section", "block_id": f"{ANSWER_BLOCK_PREFIX}-{index}", "text": {"type": "mrkdwn", "text": piece}}
        for index, piece in enumerate(sections)
    ]
    return SlackMessage(text=answer.answer[:FALLBACK_TEXT_LIMIT] or " ", blocks=head + answer_blocks + tail)


def _source_blocks(citations: list[Citation], room: int) -> list[dict[str, Any]]:
    shown = citations if len(citations) <= room else citations[: max(room - 1, 0)]
    blocks = [
        _context(f"citechat-source-{index}", [format_source_line(citation), format_excerpt(citation)])
        for index, citation in enumerate(shown)
    ]
    if len(shown) < len(citations):
        blocks.append(_context("citechat-source-more", [f"…и ещё источников: {len(citations) - len(shown)}"]))
    return blocks


def _context(block_id: str, texts: list[str]) -> dict[str, Any]:
    elements = [{"type": "mrkdwn", "text": text[:SECTION_TEXT_LIMIT]} for text in texts[:MAX_CONTEXT_ELEMENTS] if text]
    return {"type": "context", "block_id": block_id, "elements": elements}


def build_feedback_block(answer: Answer, question: str) -> dict[str, Any]:
    """Return the actions block with the helpful / not helpful buttons carrying a feedback reference."""
    value = encode_feedback_reference(question, answer)
    buttons = [
        (FEEDBACK_ACTION_UP, ":thumbsup: Полезно", "primary"),
        (FEEDBACK_ACTION_DOWN, ":thumbsdown: Не помогло", None),
    ]
    elements = []
    for action_id, label, style in buttons:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "value": value,
        }
        if style:
            button["style"] = style
        elements.append(button)
    return {"type": "actions", "block_id": FEEDBACK_BLOCK_ID, "elements": elements}


def encode_feedback_reference(question: str, answer: Answer) -> str:
    """Return a JSON button value of at most BUTTON_VALUE_LIMIT characters; what does not fit is dropped."""
    refs = [(c.marker, c.source[:200], c.title[:80], c.start, c.end, round(c.score, 4)) for c in answer.citations[:10]]
    reference = FeedbackReference(q=question[:600], a="", c=refs)

    def size() -> int:
        return len(_dump(reference))

    while size() > BUTTON_VALUE_LIMIT and reference.c:
        reference.c.pop()
    room = BUTTON_VALUE_LIMIT - size()
    if room > 0:
        # JSON escaping may lengthen the answer (quotes, newlines), so shrink until it fits.
        reference.a = answer.answer[:room]
        while size() > BUTTON_VALUE_LIMIT:
            reference.a = reference.a[: len(reference.a) - max(1, size() - BUTTON_VALUE_LIMIT)]
    return _dump(reference)


def decode_feedback_reference(value: str) -> FeedbackReference | None:
    """Parse a button value made by `encode_feedback_reference`; None when it is not one."""
    try:
        return FeedbackReference.model_validate_json(value)
    except ValidationError:
        return None


def _dump(reference: FeedbackReference) -> str:
    return json.dumps(reference.model_dump(), ensure_ascii=False, separators=(",", ":"))


def build_notice_message(text: str) -> SlackMessage:
    """Return a short bot notice (hint, apology) that is not an answer, so history skips it."""
    return SlackMessage(
        text=text, blocks=[{"type": "section", "block_id": NOTICE_BLOCK_ID, "text": {"type": "mrkdwn", "text": text}}]
    )


def is_answer_message(message: dict[str, Any]) -> bool:
    """Whether a Slack message (from conversations.replies) is one of the bot's answers."""
    return any(str(block.get("block_id", "")).startswith(ANSWER_BLOCK_PREFIX) for block in message.get("blocks") or [])
