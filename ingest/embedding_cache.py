"""A disk cache of passage vectors keyed by model and text hash: re-ingest embeds only what changed."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.store import make_data_directory


class EmbeddingCache:
    """Vectors of passages already embedded by one model, in a SQLite file beside the store."""

    def __init__(self, path: Path, model: str) -> None:
        make_data_directory(path.parent)
        self._model = model
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, digest TEXT, vector BLOB, PRIMARY KEY (model, digest))"
        )
        self._db.commit()

    @staticmethod
    def _digest(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def embed(self, texts: Sequence[str], compute: Callable[[Sequence[str]], np.ndarray], dim: int) -> np.ndarray:
        """Return vectors for `texts`, computing (and remembering) only those not cached."""
        digests = [self._digest(text) for text in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(digests), 500):
                batch = digests[start : start + 500]
                rows = self._db.execute(
                    f"SELECT digest, vector FROM vectors WHERE model = ? AND digest IN ({','.join('?' * len(batch))})",
                    [self._model, *batch],
                ).fetchall()
                found.update({digest: np.frombuffer(blob, dtype=np.float32) for digest, blob in rows})
        missing = list(dict.fromkeys(digest for digest in digests if digest not in found))
        if missing:
            first_text = {digest: text for digest, text in zip(digests, texts, strict=True)}
            vectors = compute([first_text[digest] for digest in missing])
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [
                        (self._model, d, np.asarray(v, dtype=np.float32).tobytes())
                        for d, v in zip(missing, vectors, strict=True)
                    ],
                )
                self._db.commit()
            found.update(
                {digest: np.asarray(vector, dtype=np.float32) for digest, vector in zip(missing, vectors, strict=True)}
            )
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([found[digest] for digest in digests])
