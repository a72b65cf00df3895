"""Logging: every command configures citechat's loggers (citechat.*, rag.*, ingest.*) through one function."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer

from rag.answering.base import REFUSALS
from ui.cli import main
from ui.logs import configure_logging

TOKYO_QUESTION = "Где прошёл первый диалог «Центральная Азия плюс Япония»?"


@pytest.fixture(autouse=True)
def restore_levels() -> Iterator[None]:
    """Leave the logger levels as they were, so other modules' caplog checks see the defaults."""
    yield
    configure_logging("WARNING")


@pytest.mark.parametrize(
    ("argv", "env", "shown"),
    [
        (["config"], None, {"WARNING"}),
        (["config", "-v"], None, {"WARNING", "INFO"}),
        (["config", "-vv"], "ERROR", {"WARNING", "INFO", "DEBUG"}),
        (["config"], "debug", {"WARNING", "INFO", "DEBUG"}),
        (["config"], "ERROR", set()),
    ],
)
def test_flag_and_variable_set_the_level_of_citechat_loggers(
    argv: list[str], env: str | None, shown: set[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    if env:
        monkeypatch.setenv("CITECHAT_LOG_LEVEL", env)
    assert main(argv) == 0
    capsys.readouterr()

    for level in ("DEBUG", "INFO", "WARNING"):
        logging.getLogger("rag.answering.llm").log(getattr(logging, level), "probe %s", level)
    logging.getLogger("httpx").info("library chatter")

    err = capsys.readouterr().err
    assert {
        level for level in ("DEBUG", "INFO", "WARNING") if f"{level} rag.answering.llm: probe {level}" in err
    } == shown
    assert "library chatter" not in err


def test_invalid_log_level_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("CITECHAT_LOG_LEVEL", "loud")
    assert main(["config"]) == 2
    assert "log_level" in capsys.readouterr().err


def test_ask_verbose_shows_why_the_llm_answer_fell_back(
    article_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    with FakeOpenAIServer(REFUSALS["ru"]) as server:
        monkeypatch.setenv("CITECHAT_ANSWERER", "llm")
        monkeypatch.setenv("CITECHAT_LLM_URL", server.url)
        monkeypatch.setenv("CITECHAT_LLM_MODEL", "fake-model")
        code = main(["ask", TOKYO_QUESTION, "--json", "--data-dir", str(article_data_dir), "-v"])

    captured = capsys.readouterr()
    answer = json.loads(captured.out)
    assert code == 0 and answer["mode"] == "llm-fallback" and not answer["abstained"]
    assert "WARNING rag.answering.llm: answering extractively: the model refused" in captured.err
