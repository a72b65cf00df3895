"""Ingest progress on a terminal: a line per file, and a rate/ETA line at most once a second."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO

from ingest.pipeline import FileReport, IngestProgress

# A person reading along needs no more; a file of one line a second stays readable in CI logs too.
PRINT_INTERVAL_SECONDS = 1.0


class ProgressPrinter:
    """Writes ingest progress to a stream: rewritten in place on a terminal, plain lines otherwise."""

    def __init__(
        self,
        stream: TextIO,
        interval_s: float = PRINT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._terminal = stream.isatty()
        self._interval = interval_s
        self._clock = clock
        # Nothing in the first interval: an ingest that quick shows only its files.
        self._printed_at = clock()
        self._line_shown = False
        self.shown: set[int] = set()  # ids of the file reports printed

    def watch(self, progress: IngestProgress) -> None:
        """Show the ingest's progress, unless a line was shown less than an interval ago."""
        now = self._clock()
        if now - self._printed_at < self._interval:
            return
        self._printed_at = now
        line = progress.describe()
        if self._terminal:
            width = shutil.get_terminal_size().columns - 1
            self._stream.write("\r" + line[:width] + "\033[K")
            self._line_shown = True
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def file_done(self, number: int, total: int, report: FileReport) -> None:
        """Print one finished file on its own line."""
        self.close()
        self.shown.add(id(report))
        line = f"skipped {report.error}" if report.error else f"{report.status}: {report.path} ({report.chunks} chunks)"
        self._stream.write(f"[{number}/{total}] {line}\n")
        self._stream.flush()

    def close(self) -> None:
        """Clear the in-place line on a terminal, so the next output starts on a clean line."""
        if self._line_shown:
            self._stream.write("\r\033[K")
            self._stream.flush()
            self._line_shown = False
