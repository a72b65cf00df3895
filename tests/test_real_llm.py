"""The LLM answerer against a real model (marker `llm`): run by `make test-llm`, skipped without a server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.answering.verification import split_answer
from rag.config import Settings
from rag.conversation import condense_question, is_follow_up
from rag.engine import Engine, build_answerer
from rag.evaluation import load_gold

# Read at import: the autouse fixture strips CITECHAT_* variables before each test.
URL = os.environ.get("CITECHAT_TEST_LLM_URL")
MODEL = os.environ.get("CITECHAT_TEST_LLM_MODEL", "qwen05")
GOLD = Path(__file__).resolve().parent / "gold_qa.jsonl"

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(not URL, reason="no real LLM: `make test-llm` starts one (or set CITECHAT_TEST_LLM_URL)"),
]


@pytest.fixture(scope="module")
def real_engine(article_engine: Engine) -> Engine:
    """The article engine answering with the real model."""
    settings = Settings(answerer="llm", llm_url=URL, llm_model=MODEL, llm_timeout_s=120)
    answerer = build_answerer(settings, article_engine.embedder)
    return Engine(article_engine.store, article_engine.embedder, article_engine.retriever, answerer)


@pytest.mark.parametrize("case_id", ["d02", "d06", "d14"])
def test_real_model_answers_answerable_questions_with_checked_sentences(real_engine: Engine, case_id: str) -> None:
    case = next(case for case in load_gold(GOLD) if case.id == case_id)

    answer = real_engine.ask(case.question, case.history)

    assert not answer.abstained and answer.citations  # citechat decided: the documents answer
    assert answer.mode in ("llm", "llm-fallback")
    assert bool(answer.fallback_reason) == (answer.mode == "llm-fallback")
    if answer.mode == "llm":
        assert len(answer.sentence_support) == len(split_answer(answer.answer))
        assert all(sentence.rstrip().endswith("]") for sentence in _sentences(answer.answer))


@pytest.mark.parametrize("case_id", [case.id for case in load_gold(GOLD) if case.history])
def test_real_model_condenses_a_follow_up_or_citechat_does(real_engine: Engine, case_id: str) -> None:
    case = next(case for case in load_gold(GOLD) if case.id == case_id)

    answer = real_engine.ask(case.question, case.history)

    heuristic = condense_question(case.question, case.history)
    assert answer.standalone_question == heuristic or not is_follow_up(answer.standalone_question)
    assert not answer.abstained and answer.mode in ("llm", "llm-fallback")


def test_real_model_is_not_asked_an_unanswerable_question(real_engine: Engine) -> None:
    answer = real_engine.ask("Who is the president of France?")

    assert answer.abstained and answer.mode == "extractive" and answer.citations == []


def _sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_answer(text)]
