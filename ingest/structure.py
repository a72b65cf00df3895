"""Document structure: the blocks of a text (headings, prose, list items, code, front/back matter).

Loaders that know the markup (HTML) emit blocks directly; plain text, Markdown and PDF text get them
from the form of their lines. Kinds are decided by form and position only, never by word lists tuned
to one corpus, and drive chunking (a heading or lead-in stays with what follows) and answering
(headings, titles, captions and front/back matter are context, not answers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

BlockKind = Literal["heading", "term", "title", "caption", "text", "item", "code", "meta"]

# A line this short with no closing punctuation reads as a heading, a label or a credit, not prose.
SHORT_LINE_WORDS = 12
# Front and back matter (title, byline, date; source, translator and photo credits) sit in the first
# and last few blocks of a document.
EDGE_BLOCKS = 4

_TERMINAL = ".!?…;"
_LIST_MARK = re.compile(r"^\s*(?:[-*+•◦▪–—]|\d{1,3}[.)]|[a-zа-я][.)])\s+\S", re.IGNORECASE)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
# A shell command line as documentation prints it: "$ sudo apt install …", "# apt-get update".
SHELL_PROMPT = re.compile(r"^[$#] \S")
_LABEL_LINE = re.compile(r"^[^\W\d_][\w .-]{0,30}:\s+\S")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CREDIT = re.compile(r"©|\(c\)\s*\d{4}|[\w.+-]+@[\w-]+\.[\w.-]+", re.IGNORECASE)


@dataclass
class Block:
    """A structural unit of a document: `text[start:end]` of the document, with its kind."""

    start: int
    end: int
    kind: BlockKind
    level: int = 0
    # Characters of link text in the block (HTML): a block made of links points elsewhere for its content.
    linked: int = 0
    # The block describes the definition term before it (inside an HTML <dd>).
    describes: bool = False


def link_share(text: str, blocks: Sequence[Block], start: int, end: int) -> float:
    """Return the share of `text[start:end]`'s non-space characters that are link text.

    An index, table of contents or "see also" list is mostly links; a block cut by the span counts in
    proportion to the part inside it.
    """
    letters = len("".join(text[start:end].split()))
    if not letters:
        return 0.0
    linked = 0.0
    for block in blocks:
        inside = min(end, block.end) - max(start, block.start)
        if block.linked and inside > 0:
            linked += block.linked * inside / max(1, block.end - block.start)
    return min(1.0, linked / letters)


def count_words(text: str) -> int:
    """Return the number of letter/digit words in `text`."""
    return len(_WORD.findall(text))


def is_short_line(text: str) -> bool:
    """Tell whether `text` is one short line without closing punctuation (a heading, label or credit)."""
    stripped = text.strip()
    return (
        "\n" not in stripped
        and 0 < count_words(stripped) <= SHORT_LINE_WORDS
        and not stripped.endswith(tuple(_TERMINAL))
    )


def mark_edge_matter(text: str, blocks: list[Block]) -> list[Block]:
    """Mark short label and credit lines in the first and last blocks as front/back matter.

    The very first short line is the title (a heading); short lines after the body ends
    ("Источник: …", "Перевод …", "Photo: …") and "Label: value" lines before it begins are meta.
    """
    if len(blocks) < 3:
        return blocks
    for position, block in enumerate(blocks):
        piece = text[block.start : block.end]
        at_start = position < EDGE_BLOCKS
        at_end = position >= len(blocks) - EDGE_BLOCKS
        if block.kind not in ("text", "heading") or not (at_start or at_end):
            continue
        if position == 0 and is_heading_line(piece) and not _LABEL_LINE.match(piece):
            block.kind = "heading"
            block.level = 1
        elif (
            at_start
            and is_short_line(piece)
            and _LABEL_LINE.match(piece)
            or at_end
            and is_short_line(piece)
            and all(is_short_line(text[later.start : later.end]) or later.kind == "meta" for later in blocks[position:])
            or _is_credit_line(piece)
        ):
            block.kind = "meta"
    return blocks


def _is_credit_line(text: str) -> bool:
    """Tell whether one short line is a credit by its form: a copyright sign or an e-mail address in it
    ("© Copyright 2023, … Created using Sphinx 5.3.0.", "Developer's Reference Team <…@…>")."""
    stripped = text.strip()
    return "\n" not in stripped and count_words(stripped) <= SHORT_LINE_WORDS and _CREDIT.search(stripped) is not None


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in re.finditer(r"[^\n]*", text):
        if match.group().strip():
            leading = len(match.group()) - len(match.group().lstrip())
            spans.append((match.start() + leading, match.start() + len(match.group().rstrip())))
    return spans


def segment_text(text: str) -> list[Block]:
    """Split plain text or Markdown into blocks by the form of its lines.

    Blank lines separate paragraphs; in a text without blank lines every line is a paragraph. Fenced
    or indented code, list items and Markdown headings are blocks of their own; a short line without
    closing punctuation standing alone before prose is a heading.
    """
    lines = _line_spans(text)
    paragraphs_by_blank = re.search(r"\n[ \t]*\n", text) is not None
    blocks: list[Block] = []
    current: list[tuple[int, int]] = []
    fence: list[tuple[int, int]] | None = None

    def flush() -> None:
        if current:
            blocks.append(Block(current[0][0], current[-1][1], "text"))
            current.clear()

    previous_end = 0
    for start, end in lines:
        line = text[start:end]
        gap = text[previous_end:start]
        blank_before = gap.count("\n") >= 2 and not gap.strip("\n \t\r")
        previous_end = end
        if fence is not None:
            fence.append((start, end))
            if _FENCE.match(line):
                blocks.append(Block(fence[0][0], fence[-1][1], "code"))
                fence = None
            continue
        if _FENCE.match(line):
            flush()
            fence = [(start, end)]
            continue
        indented = text[text.rfind("\n", 0, start) + 1 : start].startswith(("    ", "\t"))
        if _MD_HEADING.match(line):
            flush()
            blocks.append(Block(start, end, "heading", level=len(line.strip()) - len(line.strip().lstrip("#"))))
        elif indented and paragraphs_by_blank and (not current or blank_before):
            flush()
            if blocks and blocks[-1].kind == "code" and not blank_before:
                blocks[-1].end = end
            else:
                blocks.append(Block(start, end, "code"))
        elif _LIST_MARK.match(line):
            flush()
            blocks.append(Block(start, end, "item"))
        elif not paragraphs_by_blank or blank_before:
            flush()
            current.append((start, end))
        elif blocks and blocks[-1].kind == "item" and not current:
            blocks[-1].end = end  # a wrapped list item
        else:
            current.append((start, end))
    if fence:
        blocks.append(Block(fence[0][0], fence[-1][1], "code"))
    flush()
    for index, block in enumerate(blocks[:-1]):
        piece = text[block.start : block.end]
        following = text[blocks[index + 1].start : blocks[index + 1].end]
        if block.kind == "text" and SHELL_PROMPT.match(piece):
            block.kind = "code"
        elif is_heading_line(piece) and block.kind == "text" and reads_as_prose(following):
            block.kind = "heading"
            block.level = 2
    return mark_edge_matter(text, blocks)


def is_heading_line(text: str) -> bool:
    """Tell whether a standalone line can be a heading: short, one phrase, not code, not a lead-in ("…:")."""
    stripped = text.strip()
    return (
        is_short_line(stripped)
        and not stripped.endswith(":")
        and not re.search(r"[.!?…]\s+\w", stripped)
        and not looks_like_code(stripped)
    )


def looks_like_code(text: str) -> bool:
    """Tell whether a line reads as a command or code rather than words (options, paths, operators)."""
    return bool(re.search(r"(^|\s)(--?\w|\$ |sudo )|[=|{}<>\\]|/\w|\w\(\)|;\s*$", text))


def reads_as_prose(text: str) -> bool:
    """Tell whether a block is running text: several words, or a closed sentence."""
    stripped = text.strip()
    return count_words(stripped) > SHORT_LINE_WORDS or stripped.endswith(tuple(_TERMINAL))
