"""Paragraph-respecting chunks with exact character spans and their sentences."""

from __future__ import annotations

from dataclasses import dataclass

from rag.text import split_into_paragraphs, split_into_sentences


@dataclass
class Chunk:
    """A contiguous span of a document: `text == document_text[start:end]`."""

    text: str
    start: int
    end: int
    paragraph_index: int
    sentences: list[tuple[int, int]]


def _pieces(text: str, max_chars: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """Split paragraphs into pieces no longer than max_chars (whole sentences), keeping paragraph ids."""
    pieces: list[tuple[int, list[tuple[int, int]]]] = []
    for index, (start, end) in enumerate(split_into_paragraphs(text)):
        sentences = split_into_sentences(text[start:end], start) or [(start, end)]
        group: list[tuple[int, int]] = []
        for sentence in sentences:
            if group and sentence[1] - group[0][0] > max_chars:
                pieces.append((index, group))
                group = []
            group.append(sentence)
        pieces.append((index, group))
    return pieces


def chunk_text(text: str, max_chars: int) -> list[Chunk]:
    """Pack whole paragraphs (or sentence runs of long ones) into chunks of at most `max_chars`.

    bench/sweep.py on the dev and own gold sets: answers are the same for 400-1000 characters and
    worse at 1500 (own overall 0.88 -> 0.80); retrieval hit@1 is 0.89/0.90 at 400, 0.92/0.83 at 700.
    700 is the default because it keeps most paragraphs whole, which reads better as a cited passage.
    """
    chunks: list[Chunk] = []
    current: list[tuple[int, list[tuple[int, int]]]] = []

    def flush() -> None:
        if not current:
            return
        sentences = [span for _, group in current for span in group]
        start, end = sentences[0][0], sentences[-1][1]
        chunks.append(Chunk(text[start:end], start, end, current[0][0], sentences))
        current.clear()

    for piece in _pieces(text, max_chars):
        if current and piece[1][-1][1] - current[0][1][0][0] > max_chars:
            flush()
        current.append(piece)
    flush()
    return chunks
