"""How a stored document source is shown to users of the server: relative, never the server's absolute path.

The store keeps absolute paths (reindex re-reads them, `ingest --remove` matches them); every surface of
`citechat serve` shows `uploads/notes.txt`, `sample/article.txt` or `folder/file.txt` instead and maps those
names back when a client deletes a document.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath

from ingest.pipeline import BUNDLED_CORPUS
from rag.models import Answer, DocumentInfo


class SourceNames:
    """Translate between stored (absolute) sources and the relative names users see."""

    def __init__(self, data_dir: Path, working_dir: Path | None = None) -> None:
        # Most specific root first: uploads live inside the data directory.
        self.roots: list[tuple[Path, PurePath]] = [
            (data_dir.expanduser().resolve(), PurePath()),
            (BUNDLED_CORPUS.resolve(), PurePath(BUNDLED_CORPUS.name)),
        ]
        working_dir = (working_dir or Path.cwd()).resolve()
        if working_dir != Path(working_dir.anchor):  # relative to `/` would be the absolute path again
            self.roots.append((working_dir, PurePath()))

    def display(self, source: str) -> str:
        """Return the name shown for a stored source: relative to a known root, else its folder and file name."""
        path = PurePath(source)
        if not path.is_absolute():
            return source
        for root, prefix in self.roots:
            if path.is_relative_to(root) and path != root:
                return str(prefix / path.relative_to(root))
        return str(PurePath(*path.parts[-2:]))

    def resolve(self, names: Iterable[str], stored: Sequence[str]) -> tuple[list[str], list[str]]:
        """Return (stored sources the names denote, names that denote none): a shown name or a stored path."""
        found: list[str] = []
        unknown: list[str] = []
        for name in names:
            matches = [source for source in stored if name in (source, self.display(source))]
            if matches:
                found.extend(matches)
            else:
                unknown.append(name)
        return list(dict.fromkeys(found)), unknown

    def answer(self, answer: Answer) -> Answer:
        """Return the answer with its citations' sources shown relative."""
        citations = [c.model_copy(update={"source": self.display(c.source)}) for c in answer.citations]
        return answer.model_copy(update={"citations": citations})

    def documents(self, documents: Iterable[DocumentInfo]) -> list[DocumentInfo]:
        """Return the documents with their sources shown relative."""
        return [doc.model_copy(update={"source": self.display(doc.source)}) for doc in documents]
