"""What the web chat and HTTP API share in one process: settings, engine, feedback log, ingestion."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.pipeline import Ingestor, IngestReport, ProgressCallback
from rag.config import Settings
from rag.engine import Engine
from rag.feedback import FeedbackLog
from ui.runtime import build_ingestor, open_engine


@dataclass
class Services:
    """The heavy objects, built once at start and passed to every surface."""

    settings: Settings
    engine: Engine
    feedback: FeedbackLog
    ingestor: Ingestor
    _write_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, settings: Settings) -> Services:
        """Build the engine (seeding an empty store) and the rest from settings."""
        engine = open_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            feedback=FeedbackLog(settings.data_dir.expanduser() / "feedback.jsonl"),
            ingestor=build_ingestor(settings, engine.store, engine.embedder),
        )

    def ingest(self, paths: Sequence[Path], progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest files (one writer at a time) and make answers see them at once."""
        with self._write_lock:
            report = self.ingestor.ingest(paths, progress)
        self.engine.refresh()
        return report

    def remove(self, sources: Sequence[str]) -> IngestReport:
        """Delete documents by stored source path."""
        with self._write_lock:
            report = self.ingestor.remove([Path(source) for source in sources])
        self.engine.refresh()
        return report
