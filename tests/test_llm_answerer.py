"""The LLM answerer over real retrieval, against a local OpenAI-compatible server whose replies each test scripts."""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer

from rag.answering.base import REFUSALS
from rag.answering.budget import CircuitBreaker
from rag.answering.llm import (
    CLIENT_TIMEOUT_MARGIN_S,
    PROMPT_PASSAGES,
    LLMAnswerer,
    create_client,
    split_stream_into_sentences,
)
from rag.answering.verification import check_retention, verify_sentence
from rag.config import Settings
from rag.conversation import condense_question
from rag.embeddings import Embedder
from rag.engine import Engine, build_answerer
from rag.errors import BackendUnavailableError
from rag.evaluation import CaseResult, GoldCase, format_modes, summarize_modes
from rag.models import Answer, AnswerDelta, AnswerDone, AnswerMode, AnswerProgress, Timings, Turn
from ui.runtime import build_corpus_engine

TOKYO_QUESTION = "Где прошёл первый диалог «Центральная Азия плюс Япония»?"
TOKYO_EVIDENCE = "в Токио прошел первый диалог"
# The model reorders the quote, keeping its facts (a reply that leaves one out gives the quote instead).
TOKYO_SENTENCE = (
    "Первый диалог «Центральная Азия плюс Япония», представляющий собой обновленную версию механизма "
    "сотрудничества, созданного в 2004 году, прошел в Токио в декабре 2025 года"
)
SUMMIT_EVIDENCE = "главы пяти центральноазиатских стран встретились"
SUMMIT_SENTENCE = (
    "Главы пяти центральноазиатских стран встретились с премьер-министром Японии Санаэ Такаити "
    "19–20 декабря 2025 года в формате C5+1"
)
UNANSWERABLE = "Who is the president of France?"


def prompt_passages(body: dict[str, Any]) -> dict[int, str]:
    """Return the numbered passages of a recorded chat request."""
    user = next(message["content"] for message in body["messages"] if message["role"] == "user")
    return {
        int(number): text
        for number, text in re.findall(r"^\[(\d+)\] (.*?)(?=\n\n\[\d+\] |\n\nQuestion: )", user, re.S | re.M)
    }


def number_of(body: dict[str, Any], evidence: str) -> int:
    """Return the prompt number of the passage that contains `evidence`."""
    return next(number for number, text in prompt_passages(body).items() if evidence in text)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def make_engine(article_engine: Engine, url: str, timeout_s: float = 5.0, **options: Any) -> Engine:
    """An engine sharing the article engine's store, embedder and retriever, answering with the LLM."""
    client = create_client(url, None, timeout_s + CLIENT_TIMEOUT_MARGIN_S)
    answerer = LLMAnswerer(client, "fake-model", url, timeout_s=timeout_s, **options)
    return Engine(article_engine.store, article_engine.embedder, article_engine.retriever, answerer)


@pytest.fixture
def llm_engine(article_engine: Engine, server: FakeOpenAIServer) -> Engine:
    return make_engine(article_engine, server.url)


def stream_answer(engine: Engine, question: str) -> tuple[list[str], Any]:
    """Return the streamed deltas and the final answer."""
    deltas: list[str] = []
    final = None
    for event in engine.stream(question):
        if isinstance(event, AnswerDelta):
            deltas.append(event.text)
        elif isinstance(event, AnswerDone):
            final = event.answer
    assert final is not None
    return deltas, final


def test_grounded_sentence_is_kept_with_its_citation(llm_engine: Engine, server: FakeOpenAIServer) -> None:
    server.reply = lambda body: f"{TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}]."

    answer = llm_engine.ask(TOKYO_QUESTION)

    assert answer.answer == f"{TOKYO_SENTENCE}. [1]"
    assert not answer.abstained
    [citation] = answer.citations
    assert citation.marker == 1 and TOKYO_EVIDENCE in citation.text
    [highlight] = citation.highlights
    assert TOKYO_EVIDENCE in citation.text[highlight.start : highlight.end]


def test_request_carries_numbered_passages_question_and_rules(llm_engine: Engine, server: FakeOpenAIServer) -> None:
    server.reply = lambda body: f"{TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}]."
    retrieval = llm_engine.retriever.search(TOKYO_QUESTION)

    llm_engine.ask(TOKYO_QUESTION)

    [body] = server.requests
    assert body["model"] == "fake-model" and body["stream"] is True and body["temperature"] == 0
    system, user = body["messages"]
    assert system["role"] == "system" and REFUSALS["ru"] in system["content"] and "Russian" in system["content"]
    assert user["content"].endswith(f"Question: {TOKYO_QUESTION}")
    shown = retrieval.passages[:PROMPT_PASSAGES]
    assert len(retrieval.passages) > PROMPT_PASSAGES
    assert prompt_passages(body) == {n: p.text.strip() for n, p in enumerate(shown, start=1)}


def test_the_model_is_told_the_question_language(llm_engine: Engine, server: FakeOpenAIServer) -> None:
    server.reply = lambda body: REFUSALS["de"]

    answer = llm_engine.ask("Welches Unternehmen wird ein medizinisches Zentrum bauen?")

    system = server.requests[0]["messages"][0]["content"]
    assert "Answer in German" in system and REFUSALS["de"] in system
    # The refusal is understood in German; the documents answer, so the quote falls back, noted in German.
    assert answer.mode == "llm-fallback" and not answer.abstained
    assert answer.notice == "Die Antwort zitiert die Quelle in ihrer Sprache: Russisch."


def test_markers_are_renumbered_in_first_mention_order(llm_engine: Engine, server: FakeOpenAIServer) -> None:
    def reply(body: dict[str, Any]) -> str:
        summit, tokyo = number_of(body, SUMMIT_EVIDENCE), number_of(body, TOKYO_EVIDENCE)
        assert summit != tokyo
        return f"{SUMMIT_SENTENCE} [{summit}]. {TOKYO_SENTENCE}. [{tokyo}][{summit}]"

    server.reply = reply
    answer = llm_engine.ask("Когда и где встречались лидеры Центральной Азии с Японией?")

    assert answer.answer == f"{SUMMIT_SENTENCE}. [1] {TOKYO_SENTENCE}. [2]"
    assert [c.marker for c in answer.citations] == [1, 2]
    assert SUMMIT_EVIDENCE in answer.citations[0].text and TOKYO_EVIDENCE in answer.citations[1].text


def test_reply_that_leaves_out_a_fact_of_the_quote_gives_the_quote(
    llm_engine: Engine, article_engine: Engine, server: FakeOpenAIServer
) -> None:
    # Grounded and on the question, but the quoted sentence also dates the mechanism (2004): a shortened
    # rephrasing is never shown, the quote is.
    server.reply = lambda body: f"Первый диалог прошел в Токио в декабре 2025 года [{number_of(body, TOKYO_EVIDENCE)}]."

    deltas, answer = stream_answer(llm_engine, TOKYO_QUESTION)

    assert answer.answer == article_engine.ask(TOKYO_QUESTION).answer == "".join(deltas)
    assert "2004" in answer.answer and answer.mode == "llm-fallback"
    assert "left out what the documents say (2004" in answer.fallback_reason


def test_later_sentence_that_loses_a_fact_of_its_quoted_evidence_is_dropped(
    llm_engine: Engine, server: FakeOpenAIServer
) -> None:
    # Both sentences are grounded; the second draws on the summit sentence citechat quotes for this
    # question but drops its date, so only the first is kept.
    server.reply = lambda body: (
        f"{TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}]. Главы пяти центральноазиатских стран "
        f"встретились с премьер-министром Японии [{number_of(body, SUMMIT_EVIDENCE)}]."
    )

    answer = llm_engine.ask("Когда и где встречались лидеры Центральной Азии с Японией?")

    assert answer.mode == "llm" and answer.answer == f"{TOKYO_SENTENCE}. [1]"
    assert answer.dropped_sentences == 1


def test_invented_sentence_falls_back_to_the_extractive_answer(
    llm_engine: Engine, article_engine: Engine, server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.reply = lambda body: (
        f"Первый диалог прошёл в Осаке при посредничестве ООН [{number_of(body, TOKYO_EVIDENCE)}]."
    )

    with caplog.at_level(logging.INFO, logger="rag.answering.llm"):
        answer = llm_engine.ask(TOKYO_QUESTION)

    assert "Осак" not in answer.answer
    assert answer.answer == article_engine.ask(TOKYO_QUESTION).answer
    assert answer.citations and "[1]" in answer.answer
    assert "names not in the cited passages: Осаке, ООН" in caplog.text
    assert "answering extractively" in caplog.text


def test_out_of_range_markers_are_ignored_and_the_sentence_credited_to_its_passage(
    llm_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = f"{TOKYO_SENTENCE} [0][7]."

    answer = llm_engine.ask(TOKYO_QUESTION)

    assert answer.answer == f"{TOKYO_SENTENCE}. [1]" and answer.mode == "llm"
    [citation] = answer.citations
    assert TOKYO_EVIDENCE in citation.text


def test_unanswerable_question_is_refused_without_calling_the_llm(llm_engine: Engine, server: FakeOpenAIServer) -> None:
    server.reply = "The president of France is Emmanuel Macron [1]."

    deltas, answer = stream_answer(llm_engine, UNANSWERABLE)

    assert answer.abstained and answer.answer == REFUSALS["en"] and answer.citations == []
    assert "".join(deltas) == answer.answer
    assert server.requests == []


@pytest.mark.parametrize(
    "refusal", [REFUSALS["ru"], "В предоставленных документах нет информации о месте проведения диалога [2]."]
)
def test_model_refusal_of_an_answerable_question_gives_the_extractive_answer(
    refusal: str, llm_engine: Engine, article_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = f"{refusal} {TOKYO_SENTENCE} [1]."

    answer = llm_engine.ask(TOKYO_QUESTION)

    extractive = article_engine.ask(TOKYO_QUESTION)
    assert not answer.abstained and answer.answer == extractive.answer and answer.citations
    assert answer.mode == "llm-fallback" and "refused" in answer.fallback_reason
    assert answer.confidence == extractive.confidence >= 0.5
    assert answer.dropped_sentences == 1 and answer.sentence_support == []
    assert len(server.requests) == 1


def test_stream_shows_only_verified_sentences_and_joins_to_the_answer(
    llm_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.chunk_chars = 3
    server.reply = lambda body: (
        f"{SUMMIT_SENTENCE} [{number_of(body, SUMMIT_EVIDENCE)}]. Встреча прошла в Осаке [1]. "
        f"{TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}]."
    )

    deltas, answer = stream_answer(llm_engine, "Когда и где встречались лидеры Центральной Азии с Японией?")

    assert deltas == [f"{SUMMIT_SENTENCE}. [1]", f" {TOKYO_SENTENCE}. [2]"]
    assert "".join(deltas) == answer.answer


@pytest.mark.parametrize("failure", ["status 500", "timeout", "stall mid-stream", "malformed stream", "server down"])
def test_server_failure_falls_back_to_extractive_and_pauses_the_llm(
    failure: str,
    article_engine: Engine,
    server: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.reply = lambda body: f"{TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}]."
    url = server.url
    if failure == "status 500":
        server.status = 500
    elif failure == "timeout":
        server.delay_s = 30
    elif failure == "stall mid-stream":
        server.stall_after_chunks = 2
    elif failure == "malformed stream":
        server.malformed = True
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    engine = make_engine(article_engine, url, timeout_s=0.5, retry_after_s=600)
    started = time.perf_counter()

    with caplog.at_level(logging.WARNING, logger="rag.answering.llm"):
        deltas, answer = stream_answer(engine, TOKYO_QUESTION)

    assert time.perf_counter() - started < 5
    assert answer.answer == article_engine.ask(TOKYO_QUESTION).answer and answer.citations
    assert "".join(deltas) == answer.answer
    assert f"the LLM server at {url} is not answering" in caplog.text
    requests_made = len(server.requests)
    assert engine.ask(TOKYO_QUESTION).answer == answer.answer
    assert len(server.requests) == requests_made


def test_failure_after_a_shown_sentence_keeps_it(article_engine: Engine, server: FakeOpenAIServer) -> None:
    server.chunk_chars = 20
    server.stall_after_chunks = 11  # the first sentence and the start of the second
    server.reply = lambda body: (
        f"{TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}]. {SUMMIT_SENTENCE} [{number_of(body, SUMMIT_EVIDENCE)}]."
    )
    engine = make_engine(article_engine, server.url, timeout_s=0.5)

    deltas, answer = stream_answer(engine, TOKYO_QUESTION)

    assert answer.answer == f"{TOKYO_SENTENCE}. [1]" == "".join(deltas)


def test_settings_build_the_llm_answerer(server: FakeOpenAIServer) -> None:
    settings = Settings(answerer="llm", llm_url=server.url, llm_model="fake-model")
    assert isinstance(build_answerer(settings), LLMAnswerer)


def test_missing_openai_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(BackendUnavailableError, match=re.escape("pip install -e '.[llm]'")):
        create_client("http://127.0.0.1:9/v1", None, 1.0)


def test_fake_server_answers_non_streaming_requests(server: FakeOpenAIServer) -> None:
    server.reply = "Ответ [1]."
    client = create_client(server.url, "secret", 5.0)
    completion = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "?"}])
    assert completion.choices[0].message.content == "Ответ [1]."
    assert json.dumps(server.requests[0]["messages"]) == json.dumps([{"role": "user", "content": "?"}])


def test_markers_after_the_full_stop_stay_with_their_sentence() -> None:
    reply = "Первое предложение. [1] Второе предложение [2]. Третье. [1, 3]"
    assert list(split_stream_into_sentences(iter(reply))) == [
        "Первое предложение. [1]",
        "Второе предложение [2].",
        "Третье. [1, 3]",
    ]


# Hand-written answer sentences for real retrievals: faithful ones must pass, invented ones must not.
# These cases calibrated the thresholds in rag/answering/verification.py.
INVEST_QUESTION = "Сколько Япония обещала инвестировать?"
ROUTES_QUESTION = "Есть ли прямые маршруты, связывающие Японию с Центральной Азией?"
ROUTES_EVIDENCE = "нет прямых наземных или морских маршрутов"
MEETING_QUESTION = "When did the Central Asian leaders meet the Japanese prime minister?"
GROUNDING_CASES = [
    (TOKYO_QUESTION, TOKYO_EVIDENCE, f"{TOKYO_SENTENCE}.", True),
    (TOKYO_QUESTION, TOKYO_EVIDENCE, "Диалог прошел в Токио и стал обновленной версией механизма 2004 года.", True),
    (TOKYO_QUESTION, TOKYO_EVIDENCE, "Он состоялся в Токио.", True),
    (TOKYO_QUESTION, TOKYO_EVIDENCE, "Первый диалог «Центральная Азия плюс Япония» прошёл в Осаке.", False),
    (TOKYO_QUESTION, TOKYO_EVIDENCE, "Первый диалог прошёл в Астане при посредничестве ООН.", False),
    (TOKYO_QUESTION, TOKYO_EVIDENCE, "Встреча была организована Всемирным банком в Женеве.", False),
    ("Какая компания построит медицинский центр?", "Sojitz", "Медицинский центр построит компания Sojitz.", True),
    ("Какая компания построит медицинский центр?", "Sojitz", "Медицинский центр построит компания Toyota.", False),
    (
        "Сколько Япония обещала инвестировать?",
        "19 млрд",
        "Япония обещала инвестировать около 19 млрд долларов США.",
        True,
    ),
    (INVEST_QUESTION, "19 млрд", "Япония обещала инвестировать 25 млрд долларов.", False),
    (
        "Сколько Япония обещала инвестировать?",
        "19 млрд",
        "Япония вложит деньги в сельское хозяйство и туризм.",
        False,
    ),
    (
        MEETING_QUESTION,
        SUMMIT_EVIDENCE,
        "The leaders of the five Central Asian countries met Prime Minister Sanae Takaichi on 19–20 December 2025.",
        True,
    ),
    (
        MEETING_QUESTION,
        SUMMIT_EVIDENCE,
        "The leaders met the prime minister in Moscow to discuss military cooperation.",
        False,
    ),
    (ROUTES_QUESTION, ROUTES_EVIDENCE, "Нет, прямых наземных или морских маршрутов между ними нет.", True),
    (ROUTES_QUESTION, ROUTES_EVIDENCE, "Да, есть прямые наземные и морские маршруты между ними.", False),
    ("What is gallium used for?", "галлия", "Gallium is used mainly to make jewelry and cosmetics.", False),
    ("What is gallium used for?", "галлия", "Gallium is used as rocket fuel in Japanese space programs.", False),
]


@pytest.mark.parametrize(("question", "evidence", "sentence", "supported"), GROUNDING_CASES)
def test_grounding_check_on_real_retrievals(
    article_engine: Engine, question: str, evidence: str, sentence: str, supported: bool
) -> None:
    passages = article_engine.retriever.search(question).passages
    number = next(n for n, passage in enumerate(passages, start=1) if evidence in passage.text)

    verdict = verify_sentence(f"{sentence} [{number}]", passages, article_engine.embedder)

    assert verdict.supported is supported, verdict.reason


def test_extractive_answers_say_so(article_engine: Engine) -> None:
    answer = article_engine.ask(TOKYO_QUESTION)

    assert answer.mode == "extractive" and answer.fallback_reason == "" and answer.sentence_support == []
    dumped = json.loads(answer.model_dump_json())
    assert {"question", "answer", "abstained", "confidence", "citations", "timings_ms"} < dumped.keys()
    assert dumped["mode"] == "extractive"


def test_model_answer_reports_its_mode_and_support(llm_engine: Engine, server: FakeOpenAIServer) -> None:
    server.reply = lambda body: (
        f"{SUMMIT_SENTENCE} [{number_of(body, SUMMIT_EVIDENCE)}]. {TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}]."
    )

    answer = llm_engine.ask("Когда и где встречались лидеры Центральной Азии с Японией?")

    assert answer.mode == "llm" and answer.fallback_reason == "" and answer.dropped_sentences == 0
    assert len(answer.sentence_support) == 2 and all(0.5 <= score <= 1.0 for score in answer.sentence_support)
    assert answer.confidence >= 0.5


def test_sentence_without_a_marker_is_credited_to_the_passage_that_supports_it(
    llm_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = lambda body: f"{SUMMIT_SENTENCE} [{number_of(body, SUMMIT_EVIDENCE)}]. {TOKYO_SENTENCE}."

    answer = llm_engine.ask("Когда и где встречались лидеры Центральной Азии с Японией?")

    assert answer.answer == f"{SUMMIT_SENTENCE}. [1] {TOKYO_SENTENCE}. [2]"
    assert TOKYO_EVIDENCE in answer.citations[1].text
    [highlight] = answer.citations[1].highlights
    assert TOKYO_EVIDENCE in answer.citations[1].text[highlight.start : highlight.end]


def test_leading_markers_belong_to_the_sentence_they_precede(llm_engine: Engine, server: FakeOpenAIServer) -> None:
    server.chunk_chars = 2
    server.reply = lambda body: (
        f"[{number_of(body, TOKYO_EVIDENCE)}] {TOKYO_SENTENCE}. [{number_of(body, SUMMIT_EVIDENCE)}] {SUMMIT_SENTENCE}."
    )

    deltas, answer = stream_answer(llm_engine, "Когда и где встречались лидеры Центральной Азии с Японией?")

    assert deltas == [f"{TOKYO_SENTENCE}. [1]", f" {SUMMIT_SENTENCE}. [2]"]
    assert TOKYO_EVIDENCE in answer.citations[0].text and SUMMIT_EVIDENCE in answer.citations[1].text


URANIUM_QUOTE = (
    "Узбекистан и Япония уделили приоритетное внимание сотрудничеству в области зеленой энергетики, "
    "ИТ-сектора и разработки минеральных ресурсов, включая поставки урана."
)


@pytest.mark.parametrize(
    ("answer", "kept", "lost"),
    [
        # Reordered, every fact kept.
        (
            "Приоритетное внимание уделено ИТ-сектору, зеленой энергетике и разработке минеральных ресурсов в "
            "области сотрудничества, включая поставки урана [1].",
            True,
            [],
        ),
        # A list cut before its last item.
        (
            "Узбекистан и Япония уделили приоритетное внимание сотрудничеству в области зеленой энергетики, "
            "ИТ-сектора и разработки минеральных ресурсов [1].",
            False,
            ["поставк"],
        ),
        # Across languages only numbers can be compared: none here, so kept.
        ("Green energy, IT and minerals, including uranium supplies [1].", True, []),
    ],
)
def test_an_answer_must_keep_the_facts_of_the_quote_it_draws_on(answer: str, kept: bool, lost: list[str]) -> None:
    question = "Каким направлениям сотрудничества Узбекистан и Япония уделили приоритетное внимание?"

    retention = check_retention(answer, [URANIUM_QUOTE], question)

    assert retention.kept is kept and set(lost) <= set(retention.lost)


def test_a_number_of_the_quote_must_be_kept_in_any_language() -> None:
    quote = "Япония обещала инвестировать 3 млрд долларов США в течение пяти лет."

    assert not check_retention("Japan pledged billions of dollars [1].", [quote], "How much did Japan pledge?").kept
    assert check_retention("Japan pledged 3 billion dollars over five years [1].", [quote], "How much?").kept
    # A number the question gives need not be repeated.
    asked = "Япония обещала 3 млрд долларов США?"
    assert check_retention("Да, Япония обещала их инвестировать в течение пяти лет [1].", [quote], asked).kept


def test_leading_and_trailing_marker_styles_are_split_apart() -> None:
    leading = "[1] Первое предложение. [2] Второе предложение. [3]"
    assert list(split_stream_into_sentences(iter(leading))) == [
        "[1] Первое предложение.",
        "[2] Второе предложение. [3]",
    ]
    trailing = "Первое предложение. [1] Второе предложение. [2]"
    assert list(split_stream_into_sentences(iter(trailing))) == ["Первое предложение. [1]", "Второе предложение. [2]"]


def test_grounded_sentence_off_the_question_is_dropped(
    llm_engine: Engine, server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.reply = lambda body: (
        f"{TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}]. {SUMMIT_SENTENCE} [{number_of(body, SUMMIT_EVIDENCE)}]."
    )

    with caplog.at_level(logging.INFO, logger="rag.answering.llm"):
        answer = llm_engine.ask(TOKYO_QUESTION)

    assert answer.answer == f"{TOKYO_SENTENCE}. [1]" and answer.mode == "llm"
    assert answer.dropped_sentences == 1 and len(answer.sentence_support) == 1
    assert "off the question" in caplog.text


def test_marker_only_reply_gives_the_extractive_answer(
    llm_engine: Engine, article_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = "[1]"

    answer = llm_engine.ask(TOKYO_QUESTION)

    assert answer.answer == article_engine.ask(TOKYO_QUESTION).answer
    assert answer.mode == "llm-fallback" and answer.fallback_reason


@pytest.mark.parametrize("finish_reason", [None, "length"])
@pytest.mark.parametrize("sentences", [1, 2])
def test_stream_cut_without_finish_reason_never_shows_its_last_sentence(
    sentences: int, finish_reason: str | None, llm_engine: Engine, article_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.finish_reason = finish_reason
    server.reply = lambda body: " ".join(
        [f"{TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}].", "Диалог прошел в Токио и стал обновленной версией"][
            -sentences:
        ]
    )

    deltas, answer = stream_answer(llm_engine, TOKYO_QUESTION)

    if sentences == 1:
        assert answer.answer == article_engine.ask(TOKYO_QUESTION).answer and answer.mode == "llm-fallback"
        assert "finish_reason" in answer.fallback_reason
    else:
        assert answer.answer == f"{TOKYO_SENTENCE}. [1]" == "".join(deltas) and answer.mode == "llm"
    llm_engine.ask(TOKYO_QUESTION)
    assert len(server.requests) == 2  # a cut reply is not a broken server: the breaker stays closed


def test_reply_is_abandoned_once_its_first_two_sentences_are_dropped(
    llm_engine: Engine, article_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.chunk_chars = 10
    server.chunk_delay_s = 0.01
    invented = (
        "Первый диалог прошёл в Осаке при посредничестве ООН [1]. Встреча была организована Всемирным банком [2]."
    )
    server.reply = invented + f" {TOKYO_SENTENCE} [1]." * 40

    answer = llm_engine.ask(TOKYO_QUESTION)

    assert answer.answer == article_engine.ask(TOKYO_QUESTION).answer
    assert answer.mode == "llm-fallback" and "first 2 sentences were dropped" in answer.fallback_reason
    assert answer.dropped_sentences == 2
    deadline = time.monotonic() + 5
    while not server.stream_ends and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.stream_ends == ["abandoned"]


def test_hung_server_releases_every_waiting_request_once_one_waited_past_the_budget(
    article_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.delay_s = 60
    engine = make_engine(article_engine, server.url, timeout_s=3.0)
    answers: dict[str, Any] = {}

    def ask(name: str) -> None:
        started = time.monotonic()
        answers[name] = (engine.ask(TOKYO_QUESTION), time.monotonic() - started)

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    time.sleep(1.5)
    second = threading.Thread(target=ask, args=("second",))
    second.start()
    first.join(10)
    second.join(10)

    answer, waited = answers["second"]
    assert answer.mode == "llm-fallback" and "budget" in answer.fallback_reason
    assert waited < 2.7  # it gave up when the first request passed the budget, before its own 3 s
    assert answers["first"][0].mode == "llm-fallback"
    assert len(server.requests) == 2
    assert engine.ask(TOKYO_QUESTION).mode == "llm-fallback" and len(server.requests) == 2


def test_circuit_breaker_opens_while_a_request_still_waits_and_closes_after_the_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker(budget_s=10, cooldown_s=30, clock=lambda: now[0])
    ticket = breaker.begin()
    now[0] = 9.9
    assert breaker.open_reason() is None
    now[0] = 10.5
    assert "waited 10.5 s" in (breaker.open_reason() or "")
    breaker.end(ticket)
    now[0] = 40.0
    assert breaker.open_reason() is not None
    now[0] = 40.6
    assert breaker.open_reason() is None
    breaker.trip("status 500")
    assert breaker.open_reason() == "status 500"


def test_two_dropped_sentences_after_kept_ones_end_the_reply(llm_engine: Engine, server: FakeOpenAIServer) -> None:
    server.chunk_chars = 10
    server.chunk_delay_s = 0.01
    invented = (
        "Первый диалог прошёл в Осаке при посредничестве ООН [1]. Встреча была организована Всемирным банком [2]."
    )
    server.reply = lambda body: (
        f"{TOKYO_SENTENCE} [{number_of(body, TOKYO_EVIDENCE)}]. {invented}" + f" {TOKYO_SENTENCE} [1]." * 40
    )

    answer = llm_engine.ask(TOKYO_QUESTION)

    assert answer.answer == f"{TOKYO_SENTENCE}. [1]" and answer.mode == "llm" and answer.dropped_sentences == 2
    deadline = time.monotonic() + 5
    while not server.stream_ends and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.stream_ends == ["abandoned"]


def test_eval_reports_mode_shares_dropped_sentences_and_latency() -> None:
    def result(mode: AnswerMode, support: list[float], dropped: int, total_ms: float) -> CaseResult:
        answer = Answer(
            question="q",
            standalone_question="q",
            answer="a [1]",
            abstained=False,
            citations=[],
            timings_ms=Timings(total=total_ms),
            mode=mode,
            sentence_support=support,
            dropped_sentences=dropped,
        )
        return CaseResult(GoldCase(id=mode, question="q"), answer, [])

    results = [
        result("llm", [0.9, 0.7], 1, 100),
        result("llm-fallback", [], 3, 300),
        result("extractive", [], 0, 10),
        result("llm", [1.0], 0, 200),
    ]

    summary = summarize_modes(results)

    assert summary["mode llm"] == 0.5 and summary["mode llm-fallback"] == 0.25 and summary["mode extractive"] == 0.25
    assert summary["dropped sentences"] == round(4 / 7, 3)
    assert summary["p50 ms"] == 150
    assert "mode llm 0.5 | mode extractive 0.25 | mode llm-fallback 0.25" in format_modes(results)


CORRIDOR_HISTORY = [
    Turn(role="user", content="Что такое Средний коридор?"),
    Turn(role="assistant", content="Торговый маршрут, соединяющий Черное море с западным регионом Китая Синьцзян."),
]
CORRIDOR_FOLLOW_UP = "Почему Япония его поддерживает?"


def gives_a_reason(answer: str) -> bool:
    """Tell whether a quote answers CORRIDOR_FOLLOW_UP with one of the article's reasons: weakening Russia's
    hold on the region's infrastructure, or Moscow's and Beijing's monopoly in minerals (the two sentences
    score 0.1 apart, at the join margin, so either may be the one quoted)."""
    return any(reason in answer.lower() for reason in ("росси", "москв"))


def condensing_reply(rewrite: str) -> Any:
    """Reply `rewrite` to the condensing prompt and refuse the answer prompt (the quote is then given)."""

    def reply(body: dict[str, Any]) -> str:
        user = body["messages"][-1]["content"]
        if user.startswith("Rewrite the user's last question"):
            return rewrite
        return "В документах нет ответа на этот вопрос."

    return reply


def test_a_follow_up_is_condensed_by_the_model_when_its_rewrite_only_names_the_topic(
    llm_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = condensing_reply("Почему Япония поддерживает Средний коридор?")

    events = list(llm_engine.stream(CORRIDOR_FOLLOW_UP, CORRIDOR_HISTORY))

    answer = next(event.answer for event in events if isinstance(event, AnswerDone))
    assert answer.standalone_question == "Почему Япония поддерживает Средний коридор?"
    assert [event.stage for event in events if isinstance(event, AnswerProgress)] == ["condensing", "writing"]
    condense_request = server.requests[0]["messages"][-1]["content"]
    assert "Что такое Средний коридор?" in condense_request and "Russian" in condense_request
    assert gives_a_reason(answer.answer)  # the model refused the answer: the quote is given


@pytest.mark.parametrize(
    "rewrite",
    [
        "Почему Япония поддерживает Средний коридор в Африке?",  # a word from nowhere
        "Почему поддерживает Средний коридор?",  # a word of the question lost
        "Why does Japan support the Middle Corridor?",  # another language
        "Почему Япония его поддерживает?",  # still points back
        "Вот вопрос:\nПочему Япония поддерживает Средний коридор?",  # not one line
    ],
)
def test_a_rewrite_that_changes_the_question_is_not_used(
    llm_engine: Engine, server: FakeOpenAIServer, rewrite: str
) -> None:
    server.reply = condensing_reply(rewrite)

    answer = llm_engine.ask(CORRIDOR_FOLLOW_UP, CORRIDOR_HISTORY)

    assert answer.standalone_question == condense_question(CORRIDOR_FOLLOW_UP, CORRIDOR_HISTORY)


def test_a_dead_server_while_condensing_keeps_the_heuristic_and_asks_no_more(
    article_engine: Engine, server: FakeOpenAIServer
) -> None:
    engine = make_engine(article_engine, server.url)
    server.stop()

    answer = engine.ask(CORRIDOR_FOLLOW_UP, CORRIDOR_HISTORY)

    assert answer.standalone_question == condense_question(CORRIDOR_FOLLOW_UP, CORRIDOR_HISTORY)
    assert answer.mode == "llm-fallback" and "not asked" in answer.fallback_reason


def test_the_extractive_answerer_condenses_without_a_condensing_stage(article_engine: Engine) -> None:
    events = list(article_engine.stream(CORRIDOR_FOLLOW_UP, CORRIDOR_HISTORY))

    assert [event.stage for event in events if isinstance(event, AnswerProgress)] == ["writing"]


def test_a_follow_up_answered_by_repeating_the_previous_answer_gives_the_quote(
    llm_engine: Engine, server: FakeOpenAIServer
) -> None:
    # Grounded, and on the condensed question's words (it holds the earlier topic), but no answer to "why".
    def reply(body: dict[str, Any]) -> str:
        if body["messages"][-1]["content"].startswith("Rewrite the user's last question"):
            return "Почему Япония поддерживает Средний коридор?"
        corridor = number_of(body, "Черное море с западным регионом Китая")
        return f"Средний коридор — торговый маршрут, соединяющий Черное море с западным регионом Китая [{corridor}]."

    server.reply = reply

    answer = llm_engine.ask(CORRIDOR_FOLLOW_UP, CORRIDOR_HISTORY)

    assert answer.mode == "llm-fallback" and "repeats the conversation" in answer.fallback_reason
    assert gives_a_reason(answer.answer)


def test_a_sentence_is_credited_to_the_passage_that_says_it_not_to_its_loose_markers(
    llm_engine: Engine, server: FakeOpenAIServer
) -> None:
    # Copied from one passage, marked with the others: their shared words ("Токио", "стремится",
    # "региональной") would ground it, yet the reader must be sent to the passage that holds it.
    evidence = "позиционировать себя как посредник"
    sentence = (
        "Вместо того чтобы стремиться к доминированию, Токио стремится позиционировать себя как посредник "
        "в существующей региональной динамике"
    )

    def reply(body: dict[str, Any]) -> str:
        own = number_of(body, evidence)
        return sentence + " " + "".join(f"[{number}]" for number in prompt_passages(body) if number != own) + "."

    server.reply = reply

    answer = llm_engine.ask("Какую роль стремится играть Токио в региональной динамике?")

    assert answer.mode == "llm" and [evidence in citation.text for citation in answer.citations] == [True]


def test_a_heading_or_a_bare_number_is_never_an_answer_sentence(
    tmp_path: Path, embedder: Embedder, server: FakeOpenAIServer
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "security.md").write_text(
        "# Security notes\n\n## 4.3. Good passwords\n\nA good password should be at least twelve characters "
        "long and mix letters, digits and symbols.\n\n## 4.4. Updates\n\nInstall security updates every week.\n"
    )
    corpus = build_corpus_engine(Settings(data_dir=tmp_path / "data"), [docs], embedder)
    engine = make_engine(corpus, server.url)
    question = "What should a good password mix?"
    # Grounded and on the question's words, but only the section heading says it.
    server.reply = lambda body: f"4.3. [{number_of(body, 'twelve')}] Good passwords [{number_of(body, 'twelve')}]."

    answer = engine.ask(question)

    assert answer.mode == "llm-fallback" and "twelve" in answer.answer
    assert "only a heading" in answer.fallback_reason


def test_a_bare_number_is_never_an_answer_sentence(
    llm_engine: Engine, article_engine: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = lambda body: f"2025 [{number_of(body, TOKYO_EVIDENCE)}]."

    answer = llm_engine.ask(TOKYO_QUESTION)

    assert answer.mode == "llm-fallback" and "no content words" in answer.fallback_reason
    assert answer.answer == article_engine.ask(TOKYO_QUESTION).answer
