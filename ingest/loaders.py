"""Read .txt, .md, .html and .pdf files (also gzip-compressed) into plain text; refuse what cannot be read."""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.structure import (
    SHELL_PROMPT,
    SHORT_LINE_WORDS,
    Block,
    BlockKind,
    count_words,
    is_short_line,
    mark_edge_matter,
    segment_text,
)
from rag.errors import UserInputError

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
# Debian compresses documentation ("FAQ.txt.gz", "manual.pdf.gz"): such a file is read as its inner type.
COMPRESSED_SUFFIX = ".gz"
ACCEPTED_SUFFIXES = SUPPORTED_SUFFIXES | {COMPRESSED_SUFFIX}


def document_suffix(name: str | Path) -> str:
    """Return the suffix a file is read by: "FAQ.html.gz" is read as .html once gzip is undone."""
    path = Path(name)
    suffix = path.suffix.lower()
    return Path(path.stem).suffix.lower() if suffix == COMPRESSED_SUFFIX else suffix


def is_supported(name: str | Path) -> bool:
    """Tell whether citechat reads a file of this name (a supported type, or one compressed with gzip)."""
    return document_suffix(name) in SUPPORTED_SUFFIXES


def unsupported_type(name: str | Path) -> UserInputError:
    """Return the error for a file of a type citechat does not read, naming the types it does."""
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    return UserInputError(
        f"{name}: unsupported file type {Path(name).suffix.lower() or '(none)'}; supported: {supported} "
        f"(also compressed as {COMPRESSED_SUFFIX})"
    )


@dataclass
class Document:
    """A source's text exactly as citechat read it; citation offsets point into `text`."""

    source: str
    title: str
    text: str
    blocks: list[Block] = field(default_factory=list)

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


# Titles that say nothing: a browser's print of a blank tab, tools' placeholders.
_EMPTY_TITLES = {"about:blank", "untitled", "untitled document", "document", "microsoft word", "title"}
_ATTRIBUTION = re.compile(r"^(?:источник|оригинал|original|source)\s*:\s*(.{8,160})$", re.IGNORECASE)


def choose_title(candidates: Sequence[str], path: Path) -> str:
    """Return the first candidate that is a real title (not empty, a placeholder or the file name)."""
    for candidate in candidates:
        title = " ".join((candidate or "").split()).strip(" #")
        lowered = title.lower()
        placeholder = lowered in _EMPTY_TITLES or lowered.startswith(("about:", "file:", "http:", "https:"))
        # The file's name is no title, but "KiCad" in kicad.html is: the author wrote it, with its capitals.
        file_name = lowered == path.name.lower() or title == path.stem
        if title and not placeholder and not file_name and len(title) <= 160:
            return title
    return path.stem.replace("_", " ")


def titles_from_text(text: str, blocks: Sequence[Block]) -> list[str]:
    """Return title candidates of a plain text: a leading heading, else an attribution line's title."""
    candidates = [text[block.start : block.end] for block in blocks[:1] if block.kind == "heading"]
    for block in blocks:
        match = _ATTRIBUTION.match(text[block.start : block.end].strip()) if block.kind == "meta" else None
        if match:
            candidates.append(match.group(1))
    return candidates


_SKIPPED_TAGS = [
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "footer",
    "header",
    "aside",
    "form",
    "button",
    "select",
    "svg",
    "head",
]
_SKIPPED_CLASSES = re.compile(r"\bnav|breadcrumb|\btoc\b|skip-?link|\bfooter\b", re.IGNORECASE)
_META_CLASSES = re.compile(r"author|byline|credit|copyright|legalnotice|pubdate|revhistory", re.IGNORECASE)
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCK_TAGS = {
    "p",
    "li",
    "blockquote",
    "pre",
    "td",
    "th",
    "dd",
    "dt",
    "caption",
    "figcaption",
    "div",
    "section",
    "article",
    "main",
    "body",
    "table",
    "tr",
    "tbody",
    "thead",
    "ul",
    "ol",
    "dl",
    "figure",
    "center",
    "address",
    "details",
    "summary",
    "hr",
    "br",
} | _HEADINGS
# A short block whose words are nearly all link text is navigation (a table of contents, "Prev/Next").
_LINK_SHARE = 0.8
# The class DocBook and asciidoctor give a figure's, example's, table's or admonition's title.
_BLOCK_TITLE = "title"
# A figure's or table's short caption ("Исходное изображение", "After applying the filter") speaks of a
# picture the reader of a quote cannot see: never an answer, like a block title, but it titles nothing
# that follows it. (A long one explains; it is prose.)
_CAPTION_TAGS = ("figcaption", "caption")
_CAPTION_CLASS = "caption"
# A table row longer than this is a layout row holding paragraphs, not one line of a table.
MAX_ROW_CHARS = 600


# Characters that render as nothing (zero-width spaces after asciidoctor's "…", soft hyphens, BOMs): left in,
# they split words and make a quote typed by a person never match.
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")


def _fold(text: str) -> str:
    """Fold runs of white space as a browser does, dropping invisible characters."""
    return " ".join(_INVISIBLE.sub("", text).split())


def _raw_text(element: Any) -> tuple[str, int]:
    """Return an element's text with its own white space (not folded) and its link characters."""
    from bs4 import NavigableString

    parts: list[str] = []
    linked = 0
    for piece in element.descendants:
        if isinstance(piece, NavigableString) and type(piece).__name__ in ("NavigableString", "CData"):
            parts.append(str(piece))
            if piece.find_parent("a") is not None:
                linked += len(str(piece).strip())
        elif getattr(piece, "name", None) == "br":
            parts.append("\n")
    return "".join(parts), linked


def _inline_text(element: Any) -> tuple[str, int]:
    """Return an element's text as a browser shows it (runs of space folded) and its link characters."""
    text, linked = _raw_text(element)
    return _fold(text), linked


class _HtmlBlocks:
    """Collects the blocks of an HTML body in reading order."""

    def __init__(self, root: Any) -> None:
        # (kind, text, level, link characters, describes a definition term)
        self.blocks: list[tuple[BlockKind, str, int, int, bool]] = []
        # How many definition descriptions (<dd>) the walk is inside.
        self._descriptions = 0
        self._inline: list[Any] = []
        # How many captions the walk is inside: their short blocks are captions.
        self._captions = 0
        # The elements holding a block element (any; other than <br>), found in one pass: asking each
        # element in turn searched its whole subtree again, a third of a page's parsing time.
        self._holds_blocks: set[int] = set()
        self._holds_breaking_blocks: set[int] = set()
        for block in root.find_all(list(_BLOCK_TAGS)):
            for parent in block.parents:
                self._holds_blocks.add(id(parent))
                if block.name != "br":
                    self._holds_breaking_blocks.add(id(parent))

    def add(self, kind: BlockKind, element: Any, level: int = 0) -> None:
        if element.name == "pre":
            text = _INVISIBLE.sub("", element.get_text()).strip("\n").rstrip()
            if text.strip():
                self.blocks.append(("code", text, 0, 0, self._descriptions > 0))
            return
        text, linked = _inline_text(element)
        if not text:
            return
        if (
            kind not in ("heading", "term", "title")
            and count_words(text) <= SHORT_LINE_WORDS
            and linked >= _LINK_SHARE * len(text.replace(" ", ""))
        ):
            return
        self._append(kind, text, level, linked)

    def add_row(self, row: Any) -> None:
        """A table row is one line, its cells joined: a command stays beside what it does; a header row is a
        title."""
        found = row.find_all(["td", "th"], recursive=False)
        cells = [_inline_text(cell) for cell in found]
        text = " | ".join(cell for cell, _ in cells if cell)
        # A row of header cells names the columns ("file | permission | user"), or labels a note ("Подсказка"
        # beside an icon's empty cell): a title of the rows below.
        headers = [cell.name == "th" for cell, (piece, _) in zip(found, cells, strict=True) if piece]
        kind: BlockKind = "title" if headers and all(headers) else "item"
        if text:
            self._append(kind, text, 0, sum(linked for _, linked in cells))

    def _append(self, kind: BlockKind, text: str, level: int, linked: int) -> None:
        if self._captions and kind in ("text", "item") and count_words(text) <= SHORT_LINE_WORDS:
            kind = "caption"
        self.blocks.append((kind, text, level, linked, self._descriptions > 0 and kind != "term"))

    @staticmethod
    def _is_caption(element: Any) -> bool:
        return element.name in _CAPTION_TAGS or _CAPTION_CLASS in (element.get("class") or [])

    @staticmethod
    def _is_simple_row(row: Any) -> bool:
        """Tell whether a table row reads as one line: no nested tables, code or lists, and short.

        Generators wrap every cell's text in a paragraph (asciidoctor's `<td><p class="tableblock">`); such
        a row is still one line, so a hotkey stays beside its action.
        """
        if row.find(["table", "pre", "ul", "ol", "dl"]):
            return False
        return len(_inline_text(row)[0]) <= MAX_ROW_CHARS

    def flush_inline(self) -> None:
        if not self._inline:
            return
        # Pieces are joined as written: "Bullseye</a>, the" stays "Bullseye, the", not "Bullseye , the".
        pieces = [(node, 0) if isinstance(node, str) else _raw_text(node) for node in self._inline]
        text = _fold("".join(piece for piece, _ in pieces))
        self._inline.clear()
        if text:
            self._append("text", text, 0, sum(linked for _, linked in pieces))

    def walk(self, element: Any) -> None:
        from bs4 import NavigableString, Tag

        for child in element.children:
            if isinstance(child, NavigableString):
                if type(child).__name__ == "NavigableString":
                    self._inline.append(str(child))
                continue
            if not isinstance(child, Tag) or child.name in _SKIPPED_TAGS:
                continue
            classes = " ".join(child.get("class") or []) + " " + str(child.get("id") or "")
            # A page footer (<div class="footer" role="contentinfo">) is skipped like <footer>.
            if _SKIPPED_CLASSES.search(classes) or child.get("role") in ("navigation", "contentinfo"):
                continue
            if child.name not in _BLOCK_TAGS and id(child) not in self._holds_blocks:
                self._inline.append(child)
                continue
            self.flush_inline()
            # Inside a caption, however nested, short prose blocks are captions (`_append`).
            caption = self._is_caption(child)
            self._captions += caption
            self._add_block(child, classes)
            self._captions -= caption
        self.flush_inline()

    def _add_block(self, child: Any, classes: str) -> None:
        """Add a block element: as one block of its kind, or walked when it holds other blocks."""
        # What a definition's description (<dd>) holds, however many paragraphs, describes the term before.
        describing = child.name == "dd"
        self._descriptions += describing
        if _META_CLASSES.search(classes) and child.name not in ("body", "main", "article"):
            self.add("meta", child)
        elif child.name in _HEADINGS:
            self.add("heading", child, int(child.name[1]))
        elif child.name == "pre":
            self.add("code", child)
        elif child.name == "dt":
            self.add("term", child)
        elif _BLOCK_TITLE in (child.get("class") or []) and child.name != "table":
            # A block's own title ("Figure 9.3. …", "Example 6.1. …", an admonition's "TIP …") is context for
            # what follows, like a definition's term, never an answer by itself; unlike a term, it names no
            # command or option the block describes, and is not quoted with it.
            self.add("title", child)
        elif child.name == "tr" and self._is_simple_row(child):
            self.add_row(child)
        elif id(child) in self._holds_breaking_blocks:
            self.walk(child)
            self.flush_inline()
        else:
            self.add("item" if child.name in ("li", "td", "th", "dd") else "text", child)
        self._descriptions -= describing


def _load_html(data: bytes, path: Path) -> tuple[str, list[Block], list[str]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data, path), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    root = soup.body or soup
    collector = _HtmlBlocks(root)
    collector.walk(root)
    text_parts: list[str] = []
    blocks: list[Block] = []
    offset = 0
    for kind, piece, level, linked, describes in collector.blocks:
        if text_parts:
            offset += 2
        blocks.append(Block(offset, offset + len(piece), kind, level, linked, describes))
        text_parts.append(piece)
        offset += len(piece)
    text = "\n\n".join(text_parts)
    first_heading = next((text[b.start : b.end] for b in blocks if b.kind == "heading" and b.level == 1), "")
    return text, mark_edge_matter(text, blocks), [title, first_heading]


def strip_page_furniture(pages: Sequence[str]) -> list[list[str]]:
    """Return each page's lines without running headers, footers and page numbers.

    A line that recurs (digits aside) on at least 3 pages and 30% of them is furniture, not content; so is
    a short first or last line of a page that shares three words in a row with such lines of as many pages
    ("1.4. Создание пакетов Ubuntu Packaging Guide": the section title changes, the book title does not).
    """
    lines = [[line.strip() for line in page.splitlines() if line.strip()] for page in pages]
    limit = max(3, 0.3 * len(lines))
    recurring = Counter(key for page in lines for key in {_furniture_key(line) for line in page})
    edge_trigrams = Counter(
        trigram for page in lines for trigram in set().union(*(_trigrams(page[i]) for i in _edge_indices(page)))
    )
    running = {trigram for trigram, count in edge_trigrams.items() if count >= limit}
    kept = []
    for page in lines:
        titles = {i for i in _edge_indices(page) if running & _trigrams(page[i])}
        kept.append(
            [
                line
                for i, line in enumerate(page)
                if i not in titles and recurring[_furniture_key(line)] < limit and not re.fullmatch(r"[\d\s/–-]+", line)
            ]
        )
    return kept


def _furniture_key(line: str) -> str:
    return re.sub(r"\d+", "#", line)


def _edge_indices(page: list[str]) -> set[int]:
    """Return the indices of a page's first and last two lines that are short (where running titles sit)."""
    return {
        i
        for i in (0, 1, len(page) - 2, len(page) - 1)
        if 0 <= i < len(page) and count_words(page[i]) <= SHORT_LINE_WORDS
    }


def _trigrams(line: str) -> set[tuple[str, ...]]:
    words = [word.lower() for word in re.findall(r"[^\W\d_]+", line)]
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


# Lines that begin a block of their own in a PDF: list marks and numbered headings (and shell prompts).
_PDF_BLOCK_START = re.compile(r"^(?:[-•◦▪*–]\s|\d{1,3}(?:\.\d+)*[.)]?\s)")


def reflow_lines(lines: Sequence[str]) -> str:
    """Join a PDF's lines, all pages in order, into paragraphs; a closed short line or a standalone line ends one."""
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[list[str]] = []
    for line in lines:
        previous = paragraphs[-1][-1] if paragraphs else ""
        ends_paragraph = not previous or (previous.endswith((".", "!", "?", ":", "…")) and len(previous) < 0.8 * width)
        standalone = bool(_PDF_BLOCK_START.match(line) or SHELL_PROMPT.match(line) or SHELL_PROMPT.match(previous))
        # A short line that stops well before the margin without closing its sentence is a heading or label.
        after_label = (
            is_short_line(previous) and len(previous) < 0.6 * width and not previous.endswith((",", "-", "–", "—"))
        )
        if ends_paragraph or standalone or after_label:
            paragraphs.append([line])
        elif re.search(r"[^\W\d_]-$", previous) and line[:1].islower():
            paragraphs[-1][-1] = previous[:-1] + line  # a word hyphenated at the line end
        else:
            paragraphs[-1].append(line)
    return "\n\n".join("\n".join(paragraph) for paragraph in paragraphs)


# PDFium is not thread-safe, and uploads may be read from several threads at once.
_PDFIUM_LOCK = threading.Lock()


def _load_pdf(data: bytes, path: Path) -> tuple[str, list[str]]:
    """Read a PDF's text layer with PDFium, which keeps the spaces of justified lines (pypdf glues their words)."""
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as error:
            raise UserInputError(f"{path}: is not a readable PDF ({error}); skipped") from None
        try:
            pages = [_page_text(document, index) for index in range(len(document))]
            title = str(document.get_metadata_dict().get("Title", ""))
        except pdfium.PdfiumError as error:
            raise UserInputError(f"{path}: a page of the PDF cannot be read ({error}); skipped") from None
        finally:
            document.close()
    # Pages are reflowed as one stream, so a paragraph broken by a page end is joined again.
    text = reflow_lines([line for page in strip_page_furniture(pages) for line in page])
    if not text.strip():
        raise UserInputError(f"{path}: the PDF has no text layer (scanned?); run OCR (e.g. ocrmypdf) first")
    return text, [title]


def _page_text(document: Any, index: int) -> str:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            text = str(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()
    # PDFium marks a word hyphenated at a line end with U+FFFE (or U+0002) inside the joined word.
    return re.sub("[\ufffe\u0002]", "", text).replace("\r\n", "\n").replace("\r", "\n")


def load_document(path: Path, max_bytes: int) -> Document:
    """Read one file; raise UserInputError with the reason when it cannot be ingested."""
    suffix = document_suffix(path)
    if suffix not in SUPPORTED_SUFFIXES:
        raise unsupported_type(path)
    try:
        data = _read_bytes(path, max_bytes)
        blocks: list[Block] = []
        if suffix in PDF_SUFFIXES:
            text, titles = _load_pdf(data, path)
        elif suffix in HTML_SUFFIXES:
            text, blocks, titles = _load_html(data, path)
        else:
            text, titles = _decode(data, path), []
    except OSError as error:
        raise UserInputError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not text.strip():
        raise UserInputError(f"{path}: is empty; nothing to ingest")
    blocks = blocks or segment_text(text)
    # "FAQ.txt.gz" is titled as FAQ.txt would be: its name is no title either.
    named = path.with_suffix("") if path.suffix.lower() == COMPRESSED_SUFFIX else path
    title = choose_title([*titles, *titles_from_text(text, blocks)], named)
    return Document(source=str(path.resolve()), title=title, text=text, blocks=blocks)


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """Return the file's bytes, gzip undone; a file over `max_bytes` (compressed or not) is refused."""
    size = path.stat().st_size
    if size > max_bytes:
        raise _over_limit(path, size, max_bytes)
    if path.suffix.lower() != COMPRESSED_SUFFIX:
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as stream:
            # One byte more than the limit tells a text that is too long without unpacking all of it.
            data = stream.read(max_bytes + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise UserInputError(f"{path}: is not a readable gzip file ({error}); skipped") from None
    if len(data) > max_bytes:
        raise _over_limit(path, len(data), max_bytes, unpacked=True)
    return data


def _over_limit(path: Path, size: int, max_bytes: int, unpacked: bool = False) -> UserInputError:
    amount = "unpacked, it is" if unpacked else f"{size / 2**20:.1f} MiB is"
    return UserInputError(
        f"{path}: {amount} over the {max_bytes / 2**20:.0f} MiB limit (CITECHAT_MAX_FILE_MB); "
        "split it or raise the limit"
    )
