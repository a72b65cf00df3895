"""What the web chat and HTTP API share in one process: settings, engine, feedback log, ingestion."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ingest.pipeline import Ingestor, IngestReport, IngestStopped, ProgressCallback
from rag.config import Settings
from rag.engine import Engine
from rag.errors import StoreError
from rag.feedback import FeedbackLog
from ui.runtime import build_ingestor, open_engine
from ui.sources import SourceNames
from ui.uploads import IncomingFile, check_uploads, uploads_folder


@dataclass
class UploadReport:
    """What happened to each file of an upload, and the name each stored path was uploaded as."""

    report: IngestReport
    client_names: dict[str, str]


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

    @cached_property
    def sources(self) -> SourceNames:
        """The translation between stored sources and the relative names users see."""
        return SourceNames(self.settings.data_dir)

    @property
    def uploads(self) -> Path:
        """The folder uploaded files are kept in (reindex re-reads them from here)."""
        return uploads_folder(self.settings.data_dir)

    def ingest(self, paths: Sequence[Path], progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest files (one writer at a time) and make answers see them at once."""
        with self._write_lock:
            report = self.ingestor.ingest(paths, progress)
        self.engine.refresh()
        return report

    def add_uploads(self, files: Sequence[IncomingFile], progress: ProgressCallback | None = None) -> UploadReport:
        """Validate uploads, store the valid ones in the uploads folder and ingest them; bad ones get a reason."""
        max_upload = int(self.settings.max_upload_mb * 2**20)
        max_file = int(self.settings.max_file_mb * 2**20)
        # Storing and ingesting happen under one lock, so the file on disk and the store agree for every name.
        with check_uploads(files, self.uploads, max_upload, max_file) as checked, self._write_lock:
            stored = checked.store()
            try:
                report = self.ingestor.ingest(stored, progress) if stored else IngestReport()
            except IngestStopped as stopped:
                # An upload the store never got must not linger in uploads/ (reindex would read it back).
                checked.restore(stopped.report.not_attempted)
                names = {
                    path: checked.client_names.get(path) or self.sources.display(path)
                    for path in stopped.report.not_attempted
                }
                raise StoreError(stopped.describe(lambda path: names.get(path, path))) from None
        if stored:
            self.engine.refresh()
        report.files = checked.rejected + report.files
        return UploadReport(report, checked.client_names)

    def remove(self, sources: Sequence[str]) -> IngestReport:
        """Delete documents by stored source path; an uploaded document's file is deleted with it."""
        uploads = self.uploads
        with self._write_lock:
            report = self.ingestor.remove([Path(source) for source in sources])
            for item in report.files:
                path = Path(item.path)
                if item.status == "removed" and path.parent == uploads:
                    path.unlink(missing_ok=True)
        self.engine.refresh()
        return report
