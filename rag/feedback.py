"""Durable, append-only feedback log (JSONL in the data directory)."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from rag.models import Citation


class Feedback(BaseModel):
    """A person's rating of one answer."""

    question: str = Field(max_length=20000)
    answer: str = Field(max_length=100000)
    rating: Literal["up", "down"]
    citations: list[Citation] = Field(default_factory=list, max_length=50)
    comment: str = Field(default="", max_length=5000)
    channel: str = Field(default="api", max_length=50, description="Where it came from: web, api, slack.")


class FeedbackLog:
    """Appends feedback records, one JSON object a line, with the time they arrived."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, feedback: Feedback) -> dict[str, object]:
        """Write one record durably (flushed and fsynced) and return it."""
        record = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **feedback.model_dump()}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        return record

    def read(self) -> list[dict[str, object]]:
        """Return every stored record (for tests and exports)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
