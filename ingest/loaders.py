"""Read .txt, .md, .html and .pdf files into plain text; refuse what cannot be read, saying why."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import UserInputError

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


@dataclass
class Document:
    """A source's text exactly as citechat read it; citation offsets point into `text`."""

    source: str
    title: str
    text: str

    @property
    def content_hash(self) -> str:
        """Return the SHA-256 of the text, the key of idempotent re-ingestion."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _decode(data: bytes, path: Path) -> str:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserInputError(f"{path}: looks like a binary file, not text; skipped")
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
                continue
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UserInputError(f"{path}: is not UTF-8 text; convert it (e.g. iconv -t UTF-8) and ingest again")


def _title_from_text(text: str, path: Path) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 120 else path.stem
    return path.stem


def _load_html(data: bytes, path: Path) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data, path), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "footer"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    blocks = []
    for element in soup.find_all(["p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "dd"]):
        if element.find(["p", "li", "blockquote", "pre", "td"]):
            continue  # its children are collected on their own
        block = " ".join(element.get_text(" ", strip=True).split())
        if block:
            blocks.append(block)
    if not blocks:
        blocks = [line.strip() for line in soup.get_text("\n").splitlines() if line.strip()]
    return "\n\n".join(blocks), title


def _load_pdf(path: Path) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    # pypdf logs every repair it attempts; the one-line reason below is what a user needs.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.title or "") if reader.metadata else ""
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        raise UserInputError(f"{path}: is not a readable PDF ({error}); skipped") from None
    text = "\n\n".join(re.sub(r"[ \t]+\n", "\n", page).strip() for page in pages if page.strip())
    if not text.strip():
        raise UserInputError(f"{path}: the PDF has no text layer (scanned?); run OCR (e.g. ocrmypdf) first")
    return text, title


def load_document(path: Path, max_bytes: int) -> Document:
    """Read one file; raise UserInputError with the reason when it cannot be ingested."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UserInputError(
            f"{path}: unsupported file type {suffix or '(none)'}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UserInputError(
                f"{path}: {size / 2**20:.1f} MiB is over the {max_bytes / 2**20:.0f} MiB limit "
                "(CITECHAT_MAX_FILE_MB); split it or raise the limit"
            )
        if suffix in PDF_SUFFIXES:
            text, title = _load_pdf(path)
        else:
            data = path.read_bytes()
            if suffix in HTML_SUFFIXES:
                text, title = _load_html(data, path)
            else:
                text, title = _decode(data, path), ""
    except OSError as error:
        raise UserInputError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not text.strip():
        raise UserInputError(f"{path}: is empty; nothing to ingest")
    return Document(source=str(path.resolve()), title=title or _title_from_text(text, path), text=text)
