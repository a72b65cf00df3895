"""One writer per data directory: `citechat serve` holds it while it runs, a CLI ingest while it writes.

Embedded Chroma keeps each process's vector index in memory: a server never sees vectors another
process adds (reads of the metadata do see them, so the two silently disagree), and a writer whose
in-memory index is stale overwrites the other's vectors when it next persists. So one process writes
at a time. A CLI ingest that finds a server holding the directory sends its work to that server
(`ui/local_ingest.py`), the one process that both writes and answers.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from rag.store import make_data_directory

LOCK_FILE = "writer.lock"
RECORD_FILE = "writer.json"
# A request carrying the key proves its sender can read the data directory (the record is 0600), so it
# may name local paths for the server to read: the server's user could read them anyway.
KEY_HEADER = "X-Citechat-Writer-Key"
POLL_SECONDS = 0.5


class WriterRecord(BaseModel):
    """Who holds a data directory's writer lock: a server (with its URL and key) or a CLI ingest."""

    kind: Literal["serve", "ingest"]
    pid: int
    url: str = ""
    key: str = ""

    def describe(self) -> str:
        """Return a short description for messages, e.g. `citechat serve (pid 12, http://127.0.0.1:7860)`."""
        where = f", {self.url}" if self.url else ""
        return f"citechat {self.kind} (pid {self.pid}{where})"


class ServerHoldsDataDir(Exception):
    """A running `citechat serve` holds the data directory's writer lock."""

    def __init__(self, record: WriterRecord) -> None:
        super().__init__(record.describe())
        self.record = record


def serve_record(host: str, port: int) -> WriterRecord:
    """Return the record a server writes: its pid, a URL this machine can reach it at, a fresh key."""
    reachable = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in reachable:
        reachable = f"[{reachable}]"
    return WriterRecord(kind="serve", pid=os.getpid(), url=f"http://{reachable}:{port}", key=secrets.token_urlsafe(32))


def is_running(pid: int) -> bool:
    """Tell whether a process with this id exists (a record left by a killed server names a dead one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_writer(data_dir: Path) -> WriterRecord | None:
    """Return the record of the lock's holder, or None when there is none (or it is being written)."""
    try:
        return WriterRecord.model_validate_json((data_dir.expanduser() / RECORD_FILE).read_bytes())
    except (OSError, ValidationError):
        return None


def _write_record(data_dir: Path, record: WriterRecord) -> None:
    temporary = data_dir / f".{RECORD_FILE}.{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(record.model_dump()))
    os.replace(temporary, data_dir / RECORD_FILE)


@contextmanager
def hold_writer_lock(data_dir: Path, record: WriterRecord, notify: Callable[[str], None]) -> Iterator[None]:
    """Hold the writer lock of `data_dir` and record who holds it; wait while a CLI ingest holds it.

    Raise ServerHoldsDataDir at once when a running server holds it. The lock is the kernel's (flock),
    so it is released when the holder exits, however it exits; a leftover record without it means nothing.
    """
    data_dir = data_dir.expanduser()
    make_data_directory(data_dir)
    with (data_dir / LOCK_FILE).open("a") as handle:
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = read_writer(data_dir)
                if holder is not None and holder.kind == "serve" and is_running(holder.pid):
                    raise ServerHoldsDataDir(holder) from None
                if not waited:
                    who = holder.describe() if holder else "another citechat process"
                    notify(f"citechat: waiting for {who} to finish writing to {data_dir}")
                    waited = True
                time.sleep(POLL_SECONDS)
        try:
            _write_record(data_dir, record)
            yield
        finally:
            (data_dir / RECORD_FILE).unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)
