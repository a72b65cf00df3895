"""Development corpora other than the article (tests/corpora/*): gold sets valid, quality floors hold.

The floors are regressions guards measured with bench/corpora.py, not targets: they only ever go up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.loaders import load_document
from ingest.pipeline import discover_files
from rag.config import Settings
from rag.embeddings import Embedder
from rag.engine import Engine
from rag.evaluation import format_table, load_gold, normalize_for_scoring, run_gold, summarize
from rag.retrieval import keep_in_pool
from ui.runtime import build_corpus_engine

CORPORA = Path(__file__).resolve().parent / "corpora"
# name: (overall, correct refusals, most false refusals), measured 2026-12-07 and 2026-12-08 (bench/corpora.py)
# less about one question's worth.
FLOORS = {
    "aptitude-ru": (0.83, 0.81, 0.09),
    "debian-reference-en": (0.86, 0.66, 0.02),
    "mixed-ru-en": (0.85, 0.71, 0.03),
    "packaging-ru-pdf": (0.86, 0.72, 0.03),
    # The development corpora for other Latin-script languages (measured 0.917, 1, 0; 0.894, 0.91, 0;
    # 0.967, 0.86, 0).
    "handbook-fr": (0.88, 0.85, 0.04),
    "handbook-de-dev": (0.87, 0.81, 0.03),
    "handbook-es": (0.93, 0.71, 0.05),
    # Chinese and Japanese handling (measured 0.967, 0.86, 0), and partly translated Russian help (0.854,
    # 1, 0.05).
    "handbook-ja-dev": (0.90, 0.71, 0.04),
    "gimp-ru": (0.83, 0.87, 0.09),
    # Polish, most of its paragraphs still English (measured 0.769, 0.67, 0.1; now 0.885, 0.83, 0.05): a guard, not
    # a level; the Polish questions answered from an English paragraph have only the embedder's closeness and names
    # to refuse by.
    "handbook-pl": (0.84, 0.66, 0.1),
    # Italian and Chinese, written by reading two more translations of the handbook after the rules they
    # measure (first measured 0.786, 0.67, 0.09; 0.75, 0.5, 0.14). Italian stays untuned; Chinese then showed
    # two faults (full-width letters, amounts read as years) and measures 0.821, 0.67, 0.05.
    "handbook-it": (0.75, 0.5, 0.14),
    "handbook-zh": (0.78, 0.5, 0.1),
    # English handbook pages no other corpus uses (syslog, backup, firewall), written fresh on 2026-12-08: first
    # measured 0.80, 0.86, 0.03; now 0.85, 1, 0.03.
    "handbook-en-dev": (0.82, 0.85, 0.06),
    # Held out: no rule was written or tuned while looking at their questions; the floors only guard them.
    # (handbook-en is held out too, but its answers are over the 300-character bound: not a CI floor yet. So is
    # the development corpus handbook-ru-dev, partly translated Russian pages whose English sentences run long.)
    "doublecmd-ru": (0.78, 0.62, 0.09),
    "kicad-ru": (0.57, 0.75, 0.22),
}
# Each floor ingests its corpus with the real embedder from an empty cache (a minute or two on two cores):
# these run with CITECHAT_ALL_CORPORA=1, so the CI run stays well under its 30 minutes. Their gold sets
# are still checked against the documents.
OUTSIDE_CI = frozenset({"kicad-ru", "handbook-de-dev", "handbook-es", "handbook-pl", "handbook-it", "handbook-zh"})
# Read at import: the autouse fixture strips CITECHAT_* variables before each test runs.
ALL_CORPORA = bool(os.environ.get("CITECHAT_ALL_CORPORA"))


@pytest.mark.parametrize("name", sorted(folder.parent.name for folder in CORPORA.glob("*/gold.jsonl")))
def test_gold_evidence_is_in_the_documents(name: str) -> None:
    files, _ = discover_files([CORPORA / name / "docs"])
    texts = [normalize_for_scoring(load_document(path, 50 * 2**20).text) for path in files]
    cases = load_gold(CORPORA / name / "gold.jsonl")
    assert len(cases) >= 25 and sum(case.must_abstain for case in cases) >= 6
    for case in cases:
        for evidence in case.evidence:
            assert any(normalize_for_scoring(evidence) in text for text in texts), (case.id, evidence)


@pytest.fixture(scope="module")
def corpus_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Callable[[str], Engine]:
    """Return a function that gives each corpus's engine, ingested once per module."""
    built: dict[str, Engine] = {}

    def engine(name: str) -> Engine:
        if name not in built:
            settings = Settings(data_dir=tmp_path_factory.mktemp(name) / "data")
            built[name] = build_corpus_engine(settings, [CORPORA / name / "docs"], embedder)
        return built[name]

    return engine


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FLOORS))
def test_corpus_quality_floor(name: str, corpus_engine: Callable[[str], Engine]) -> None:
    if name in OUTSIDE_CI and not ALL_CORPORA:
        pytest.skip(f"{name}: set CITECHAT_ALL_CORPORA=1 (or run bench/corpora.py); kept out of CI for its time")
    engine = corpus_engine(name)
    results = run_gold(engine, load_gold(CORPORA / name / "gold.jsonl"))
    print(f"\n{name}\n" + format_table(results))
    metrics = summarize(results)
    overall, refusals, false_refusals = FLOORS[name]
    assert metrics["overall_ok"] >= overall, metrics
    assert metrics["abstain_ok"] >= refusals, metrics
    assert metrics["false_abstain"] <= false_refusals, metrics
    assert metrics["mean_answer_chars"] <= 300, metrics


@pytest.mark.slow
def test_the_chunk_holding_the_rare_question_words_is_retrieved(corpus_engine: Callable[[str], Engine]) -> None:
    """Fusion favours chunks that dense, sentence and keyword search all find; the one chunk with the
    question's rare words ("l'anglais") is found by keywords alone, and keeps a place among the passages."""
    question = "Pourquoi l'anglais est-il nécessaire pour devenir développeur Debian ?"
    passages = corpus_engine("handbook-fr").retriever.search(question).passages
    assert any("maîtriser un minimum l'anglais" in passage.text for passage in passages)
    assert keep_in_pool(list("abcdef"), "e", 3) == list("abecdf")
    assert keep_in_pool(list("abcdef"), "b", 3) == list("abcdef")
    assert keep_in_pool(list("abcdef"), None, 3) == list("abcdef")


@pytest.mark.slow
def test_when_something_runs_is_answered_by_how_often_it_runs(corpus_engine: Callable[[str], Engine]) -> None:
    """A "when" of something that happens is answered by a frequency, a time of day or a release, which are no
    dates; an absent date asked by its year is still refused."""
    engine = corpus_engine("handbook-en-dev")
    answer = engine.ask("When is the rsync command run?")
    assert not answer.abstained and "daily" in answer.answer
    # ... or by the release since which it happens.
    answer = engine.ask("When did nftables become the default in Debian?")
    assert not answer.abstained and "Buster" in answer.answer
    assert engine.ask("In which year was the rsync command first run at Falcot?").abstained


@pytest.mark.slow
def test_a_quoted_label_the_documents_never_mention_is_refused(corpus_engine: Callable[[str], Engine]) -> None:
    """A quoted label names one thing, even capitalized after its quote mark: a tool the help never
    mentions is not answered with the shortcut of another one; a tool it describes is."""
    engine = corpus_engine("gimp-ru")
    assert engine.ask("Какой комбинацией клавиш вызывается инструмент «Лассо»?").abstained
    described = engine.ask("Какой комбинацией клавиш вызывается инструмент «Кадрирование»?")
    assert not described.abstained and "Shift+C" in described.answer


@pytest.mark.slow
def test_a_number_with_its_unit_is_found_in_names_that_carry_the_number(
    corpus_engine: Callable[[str], Engine],
) -> None:
    """A number with its unit ("64-bit") is mentioned by names that carry it ("wine64", "x86_64"); another number
    is not."""
    engine = corpus_engine("mixed-ru-en")
    found = engine.ask("Which command can I run by hand when winecfg fails on a 64-bit machine?")
    assert not found.abstained and "wine64" in found.answer
    assert engine.ask("Which command can I run by hand when winecfg fails on a 128-bit machine?").abstained


@pytest.mark.slow
def test_a_section_heading_is_not_quoted_before_the_sentence_that_opens_the_section(
    corpus_engine: Callable[[str], Engine],
) -> None:
    """ "Эта команда находится в меню …" opens the section "7.24.1. Активация команды": the heading is shown
    by the citation, not quoted as part of the answer."""
    answer = corpus_engine("gimp-ru").ask("В каком меню находится команда «Применить маску слоя»?")
    assert not answer.abstained and "Слой → Маска → Применить маску слоя" in answer.answer
    assert "Активация команды" not in answer.answer
    assert "Активация команды" in answer.citations[0].text


@pytest.mark.slow
def test_a_sidebar_title_is_not_quoted_before_its_first_sentence(corpus_engine: Callable[[str], Engine]) -> None:
    """ "TIP Working around a winecfg failure" titles a sidebar: context for its sentences, not an answer line
    (a definition's term, which names the command it describes, still is; see tests/test_quality.py)."""
    answer = corpus_engine("mixed-ru-en").ask("What can I do when winecfg fails?")
    assert not answer.abstained and "winecfg (which is just a wrapper) might fail" in answer.answer
    assert "Working around a winecfg failure" not in answer.answer


@pytest.mark.slow
def test_a_name_a_corpus_in_the_question_language_never_mentions_refuses_in_that_language(
    corpus_engine: Callable[[str], Engine],
) -> None:
    """Most of the French handbook is French: "Paris", which it never mentions, is unknown to it even where the
    closest passage is an English configuration block; the refusal is in French."""
    from rag.answering.base import REFUSALS

    engine = corpus_engine("handbook-fr")
    answer = engine.ask("Quel temps fait-il à Paris aujourd'hui ?")
    assert answer.abstained and answer.answer == REFUSALS["fr"]
    # A name it mentions is no reason to refuse.
    assert not engine.ask("Que fait l'option Indexes d'Apache ?").abstained


@pytest.mark.slow
def test_a_program_named_in_lower_case_is_a_name_the_answer_must_mention(
    corpus_engine: Callable[[str], Engine],
) -> None:
    """ "lighttpd" and "nginx" are names though written in lower case (French hardly uses them): Apache's
    a2enmod answers neither the one the handbook never mentions nor the one it names elsewhere."""
    engine = corpus_engine("handbook-fr")
    assert engine.ask("Quelle commande active un site dans lighttpd ?").abstained
    assert engine.ask("Quelle commande désactive un module dans nginx ?").abstained
    answer = engine.ask("Quelle commande désactive un module Apache ?")
    assert not answer.abstained and "a2dismod" in answer.answer
