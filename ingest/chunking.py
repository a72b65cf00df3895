"""Structure-respecting chunks with exact character spans, their heading path and typed sentences."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.structure import Block, segment_text
from rag.text import is_lead_in, split_into_sentences

# A heading path longer than this is cut: it is context for the embedding, not content.
MAX_HEADING_CHARS = 200
# A definition term heads the chunks that open inside its description, cut to this length, below every heading.
MAX_TERM_CHARS = 80
TERM_LEVEL = 7
# A code block up to this size is one quotable unit; a longer one is split into line runs.
MAX_CODE_SENTENCE_CHARS = 400
# A new section starts a new chunk unless the current one is still this small (tiny sections merge).
MIN_SECTION_CHARS = 150
# Blocks that name or label what is around them, each one quotable unit and never a chunk's only content.
LABEL_KINDS = frozenset({"heading", "term", "title", "caption"})


@dataclass
class SentenceSpan:
    """A quotable unit of a chunk: a sentence, a list item, a code block or a heading line."""

    start: int
    end: int
    kind: str = "text"


@dataclass
class Chunk:
    """A contiguous span of a document: `text == document_text[start:end]`."""

    text: str
    start: int
    end: int
    paragraph_index: int
    sentences: list[SentenceSpan]
    heading: str = ""


@dataclass
class _Unit:
    """Blocks that must stay together (a heading or lead-in with what it introduces)."""

    blocks: list[Block] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.blocks[-1].end


def _line_runs(text: str, block: Block, max_chars: int) -> list[SentenceSpan]:
    """Split a long code block into runs of whole lines of at most `max_chars`."""
    spans: list[SentenceSpan] = []
    run_start = block.start
    position = block.start
    for line in text[block.start : block.end].split("\n"):
        line_end = position + len(line)
        if line_end - run_start > max_chars and position > run_start:
            spans.append(SentenceSpan(run_start, position - 1, "code"))
            run_start = position
        position = line_end + 1
    spans.append(SentenceSpan(run_start, block.end, "code"))
    return [span for span in spans if text[span.start : span.end].strip()]


def split_block(text: str, block: Block) -> list[SentenceSpan]:
    """Return the quotable units of one block."""
    if block.kind in LABEL_KINDS or block.kind == "meta":
        return [SentenceSpan(block.start, block.end, block.kind)]
    if block.kind == "code":
        if block.end - block.start <= MAX_CODE_SENTENCE_CHARS:
            return [SentenceSpan(block.start, block.end, "code")]
        return _line_runs(text, block, MAX_CODE_SENTENCE_CHARS)
    spans = split_into_sentences(text[block.start : block.end], block.start) or [(block.start, block.end)]
    return [SentenceSpan(start, end, block.kind) for start, end in spans]


def _units(text: str, blocks: list[Block]) -> list[_Unit]:
    """Group blocks so a heading or a lead-in ("выполните:") is never cut from the block it introduces."""
    units: list[_Unit] = []
    pending: list[Block] = []
    for block in blocks:
        pending.append(block)
        glues_forward = block.kind in ("heading", "term", "title") or (
            block.kind == "text" and is_lead_in(text[block.start : block.end])
        )
        if not glues_forward:
            units.append(_Unit(pending))
            pending = []
    if pending:
        units.append(_Unit(pending))
    return units


def _heading_path(stack: list[tuple[int, str]]) -> str:
    path = " › ".join(title for _, title in stack)
    return path if len(path) <= MAX_HEADING_CHARS else "…" + path[-MAX_HEADING_CHARS:]


def chunk_text(text: str, max_chars: int, blocks: list[Block] | None = None) -> list[Chunk]:
    """Pack whole blocks into chunks of about `max_chars`, starting a new chunk at each section.

    bench/sweep.py on the dev and own gold sets: answers are the same for 400-1000 characters and
    worse at 1500; 700 is the default because it keeps most paragraphs whole. A block longer than
    a chunk is split between sentences (code between lines), never inside one.
    """
    blocks = blocks if blocks is not None else segment_text(text)
    chunks: list[Chunk] = []
    stack: list[tuple[int, str]] = []
    current: list[SentenceSpan] = []
    current_heading = ""
    first_block = 0
    # The definition term the blocks after it describe ("why" before "Эта команда возвращает 0 …").
    term = ""

    def flush() -> None:
        if current:
            start, end = current[0].start, current[-1].end
            chunks.append(Chunk(text[start:end], start, end, first_block, list(current), current_heading))
            current.clear()

    block_index = 0
    for unit in _units(text, blocks):
        opens_section = unit.blocks[0].kind == "heading"
        size = current[-1].end - current[0].start if current else 0
        if current and (unit.end - current[0].start > max_chars or (opens_section and size >= MIN_SECTION_CHARS)):
            flush()
        for block in unit.blocks:
            if block.kind == "heading":
                level = block.level or 6
                stack = [(lvl, title) for lvl, title in stack if lvl < level]
                stack.append((level, " ".join(text[block.start : block.end].split())))
                term = ""
            elif block.kind == "term":
                term = " ".join(text[block.start : block.end].split())[:MAX_TERM_CHARS]
            for span in split_block(text, block):
                if current and span.end - current[0].start > max_chars and not _only_headings(current):
                    flush()
                if not current:
                    first_block = block_index
                    # A chunk opening inside a definition's description is under its term, as under a heading.
                    described = block.describes and term
                    current_heading = _heading_path([*stack, (TERM_LEVEL, term)] if described else stack)
                current.append(span)
            block_index += 1
    flush()
    return chunks


def _only_headings(spans: list[SentenceSpan]) -> bool:
    return all(span.kind in LABEL_KINDS for span in spans)
