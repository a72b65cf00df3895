"""Paragraphs, sentences and chunks: exact spans into the source text, sizes within bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_text
from ingest.structure import segment_text
from rag.text import split_into_sentences

ARTICLE = Path(__file__).resolve().parents[1] / "ingest" / "sample" / "japan-central-asia.ru.txt"
ARTICLE_TEXT = ARTICLE.read_text(encoding="utf-8")


def test_paragraphs_are_blank_line_blocks_trimmed_of_white_space() -> None:
    text = "  First line.\nStill the first.  \n\n\n  Second one.\n \nThird."
    blocks = segment_text(text)
    assert [text[block.start : block.end] for block in blocks] == [
        "First line.\nStill the first.",
        "Second one.",
        "Third.",
    ]


def test_paragraphs_fall_back_to_lines_without_blank_lines() -> None:
    text = "line a\nline b\n  line c  \n"
    assert [text[block.start : block.end] for block in segment_text(text)] == ["line a", "line b", "line c"]


@pytest.mark.parametrize("text", ["", "   ", "\n\n \n"])
def test_blank_text_has_no_paragraphs(text: str) -> None:
    assert segment_text(text) == []


def test_sentences_keep_russian_abbreviations_and_shift_by_offset() -> None:
    paragraph = "Встреча прошла в Токио. Т. е. это был первый диалог, напр. в формате C5+1. Что дальше?"
    text = "Заголовок\n\n" + paragraph
    offset = text.index(paragraph)
    spans = split_into_sentences(paragraph, offset)
    assert [text[start:end] for start, end in spans] == [
        "Встреча прошла в Токио.",
        "Т. е. это был первый диалог, напр. в формате C5+1.",
        "Что дальше?",
    ]


def test_a_period_inside_parentheses_ends_no_sentence() -> None:
    text = "Kolejny protokół to UDP (ang. User Datagram Protocol). Jest on zorientowany na pakiety. (Zob. niżej."
    assert [text[start:end] for start, end in split_into_sentences(text)] == [
        "Kolejny protokół to UDP (ang. User Datagram Protocol).",
        "Jest on zorientowany na pakiety.",
        "(Zob. niżej.",
    ]


def test_article_chunks_are_exact_ordered_spans_within_the_size_limit() -> None:
    chunks = chunk_text(ARTICLE_TEXT, 700)
    assert len(chunks) > 5
    for chunk in chunks:
        assert ARTICLE_TEXT[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert len(chunk.text) <= 700 or len(chunk.sentences) == 1
        assert chunk.sentences[0].start == chunk.start and chunk.sentences[-1].end == chunk.end
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert [c.paragraph_index for c in chunks] == sorted(c.paragraph_index for c in chunks)


def test_chunks_cover_every_sentence_of_every_paragraph_once() -> None:
    chunks = chunk_text(ARTICLE_TEXT, 700)
    expected = [
        span
        for block in segment_text(ARTICLE_TEXT)
        for span in split_into_sentences(ARTICLE_TEXT[block.start : block.end], block.start)
    ]
    assert [(span.start, span.end) for chunk in chunks for span in chunk.sentences] == expected


def test_chunks_never_split_a_sentence_and_respect_paragraph_starts() -> None:
    text = "A short first paragraph.\n\nSecond paragraph, first sentence. Second sentence here.\n\nThird."
    chunks = chunk_text(text, 200)
    assert len(chunks) == 1
    assert chunks[0].text == text and chunks[0].paragraph_index == 0
    small = chunk_text(text, 60)
    assert [chunk.text for chunk in small] == [
        "A short first paragraph.",
        "Second paragraph, first sentence. Second sentence here.",
        "Third.",
    ]
    assert [chunk.paragraph_index for chunk in small] == [0, 1, 2]


def test_long_paragraph_is_split_at_sentence_boundaries() -> None:
    paragraph = " ".join(f"Предложение номер {i} рассказывает о сотрудничестве." for i in range(40))
    chunks = chunk_text(paragraph, 300)
    assert len(chunks) > 1
    assert all(len(chunk.text) <= 300 for chunk in chunks)
    assert all(chunk.text.endswith("сотрудничестве.") for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks) == paragraph


def test_a_sentence_longer_than_the_limit_is_one_chunk() -> None:
    sentence = "Слово " * 200 + "конец."
    chunks = chunk_text(sentence, 200)
    assert [(chunk.start, chunk.end) for chunk in chunks] == [(0, len(sentence))]


def test_chunking_is_deterministic() -> None:
    assert chunk_text(ARTICLE_TEXT, 700) == chunk_text(ARTICLE_TEXT, 700)


def test_empty_text_has_no_chunks() -> None:
    assert chunk_text("", 700) == []
    assert chunk_text(" \n\n ", 700) == []
