"""Uploaded files, from the web chat or the REST API: validated in a scratch folder, then stored atomically.

A file reaches `<data_dir>/uploads/` only after it has been read as a document, so a broken upload never
overwrites a good stored file of the same name; the move is an atomic rename inside one folder.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ingest.loaders import is_supported, load_document, unsupported_type
from ingest.pipeline import FileReport
from rag.errors import UserInputError

logger = logging.getLogger("citechat.uploads")

# File systems cap a name at 255 bytes; a longer one cannot be stored under the name the user knows.
MAX_NAME_BYTES = 255


@dataclass
class IncomingFile:
    """One uploaded file as received: the name the client gave and its bytes (an open file or a path)."""

    name: str
    content: BinaryIO | Path


@dataclass
class CheckedUploads:
    """Uploads after validation: valid ones staged for storing, the rest with a one-line reason each."""

    folder: Path
    staged: list[tuple[Path, Path]] = field(default_factory=list)
    rejected: list[FileReport] = field(default_factory=list)
    client_names: dict[str, str] = field(default_factory=dict)
    previous: dict[str, Path | None] = field(default_factory=dict)

    def store(self) -> list[Path]:
        """Move every valid upload into the uploads folder (atomically replacing an older one); return them.

        A replaced file is kept in the scratch folder until the context ends, so `restore` can put it back.
        """
        stored = []
        for staged, target in self.staged:
            kept = None
            if target.exists():
                kept = staged.with_name(f".previous-{staged.name}")
                try:
                    os.link(target, kept)
                except OSError:  # a file system without hard links
                    shutil.copy2(target, kept)
            os.replace(staged, target)
            self.previous[str(target)] = kept
            stored.append(target)
        return stored

    def restore(self, targets: Sequence[str]) -> None:
        """Put back what the uploads folder held before `store` for these paths (the store never got them)."""
        for target in targets:
            if target not in self.previous:
                continue
            kept = self.previous.pop(target)
            if kept is None:
                Path(target).unlink(missing_ok=True)
            else:
                os.replace(kept, target)


def safe_filename(name: str | None) -> str:
    """Return a file name that cannot leave the uploads folder or hide itself."""
    base = Path((name or "").replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    return base or "upload.txt"


def uploads_folder(data_dir: Path) -> Path:
    """Return `<data_dir>/uploads`, created if missing."""
    folder = data_dir.expanduser().resolve() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def check_uploads(
    files: Sequence[IncomingFile], folder: Path, max_upload_bytes: int, max_file_bytes: int
) -> Iterator[CheckedUploads]:
    """Copy each upload into a scratch folder inside `folder` and read it as a document; yield the outcome.

    The scratch folder (and anything not stored) is deleted when the context ends.
    """
    checked = CheckedUploads(folder)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".incoming-") as scratch:
        for number, upload in enumerate(files):
            name = safe_filename(upload.name)
            target = folder / name
            checked.client_names[str(target)] = upload.name or name
            try:
                staged = stage_upload(upload, name, Path(scratch) / str(number), max_upload_bytes)
                load_document(staged, max_file_bytes)
            except UserInputError as error:
                message = str(error).replace(str(Path(scratch) / str(number)) + os.sep, "")
                checked.rejected.append(FileReport(str(target), "failed", error=message))
                continue
            checked.staged.append((staged, target))
        yield checked


def stage_upload(upload: IncomingFile, name: str, scratch: Path, max_bytes: int) -> Path:
    """Copy one upload into `scratch/<name>` after the checks that need no parsing; raise UserInputError."""
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise UserInputError(f"{name[:40]}…: the file name is longer than {MAX_NAME_BYTES} bytes; rename the file")
    if not is_supported(name):
        raise unsupported_type(name)
    scratch.mkdir()
    staged = scratch / name
    try:
        if isinstance(upload.content, Path):
            shutil.copyfile(upload.content, staged)
        else:
            with staged.open("wb") as handle:
                shutil.copyfileobj(upload.content, handle)
    except OSError as error:
        logger.warning("upload %r could not be staged: %s", name, error)
        raise UserInputError(f"{name}: could not be saved ({error.strerror or error})") from error
    size = staged.stat().st_size
    if size == 0:
        raise UserInputError(f"{name}: is empty; nothing to ingest")
    if size > max_bytes:
        raise UserInputError(f"{name}: is larger than the {max_bytes / 2**20:g} MiB upload limit")
    return staged
