"""Loading files, and ingesting them idempotently into a real store with the bundled embedder."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from pypdf import PdfWriter

from ingest.loaders import load_document
from ingest.pipeline import PROGRESS_CHUNKS, Ingestor, IngestProgress, IngestStopped, discover_files, format_duration
from rag.config import Settings
from rag.embeddings import Embedder
from rag.engine import open_store
from rag.errors import UserInputError
from rag.retrieval import HybridRetriever
from rag.store import ChunkStore

MAX_BYTES = 10 * 2**20

ENGLISH = (
    "# The Solar Garden Project\n\n"
    "The Solar Garden Project was started in 2019 in the town of Brindlecombe by the engineer Martha Quill.\n\n"
    "It covers twelve hectares of former farmland and produces about forty megawatts of electricity.\n\n"
    "The project is funded by a cooperative of four hundred local households.\n"
)


def write_text_pdf(path: Path, lines: list[str], title: str = "") -> Path:
    """Write a minimal valid one-page PDF whose text layer holds `lines` (ASCII, Helvetica)."""
    escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
    text_ops = " ".join(f"({line}) Tj T*" for line in escaped)
    stream = f"BT /F1 12 Tf 14 TL 72 720 Td {text_ops} ET".encode("latin-1")
    info = f"<< /Title ({title}) >>" if title else "<< >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        info.encode("latin-1"),
    ]
    output = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(output)
    output += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    output += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    output += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(output))
    return path


def write_blank_pdf(path: Path) -> Path:
    """Write a PDF with one blank page: no text layer, like a scan."""
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


@pytest.fixture
def store(settings: Settings, embedder: Embedder) -> ChunkStore:
    """An empty store in this test's data directory."""
    return open_store(settings, embedder)


@pytest.fixture
def ingestor(store: ChunkStore, embedder: Embedder) -> Ingestor:
    """An ingestor over the empty store."""
    return Ingestor(store, embedder, chunk_chars=700)


def chunk_records(store: ChunkStore, source: str) -> dict[str, dict]:
    """Return {chunk id: metadata} of a stored document."""
    found = store.vector_store._collection.get(where={"source": source}, include=["metadatas"])
    return dict(zip(found["ids"], found["metadatas"], strict=True))


def sentence_ids(store: ChunkStore, source: str) -> list[str]:
    """Return the ids of a document's stored sentences."""
    return list(store._sentences.get(where={"source": source}, include=[])["ids"])


# --- loaders -------------------------------------------------------------------------------------------


def test_text_file_keeps_exact_text_and_titles_from_first_line(tmp_path: Path) -> None:
    path = tmp_path / "solar.md"
    path.write_text(ENGLISH, encoding="utf-8")
    document = load_document(path, MAX_BYTES)
    assert document.text == ENGLISH
    assert document.title == "The Solar Garden Project"
    assert document.source == str(path.resolve())
    assert len(document.content_hash) == 64


def test_utf8_bom_and_utf16_are_decoded(tmp_path: Path) -> None:
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffПривет, мир.".encode())
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("Привет, мир.".encode("utf-16"))
    assert load_document(bom, MAX_BYTES).text == "Привет, мир."
    assert load_document(utf16, MAX_BYTES).text == "Привет, мир."


def block_kinds(path: Path) -> dict[str, str]:
    """Return {block text: kind} of a loaded file."""
    document = load_document(path, MAX_BYTES)
    return {document.text[block.start : block.end]: block.kind for block in document.blocks}


def test_html_drops_scripts_and_navigation_and_keeps_blocks(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Page title</title><style>p{}</style><script>var secret = 1;</script></head>"
        "<body><nav>Menu link</nav><h1>Heading</h1><p>First   paragraph <b>bold</b>.</p>"
        "<ul><li>Item one</li><li>Item two</li></ul><footer>Footer text</footer>"
        # A page footer as Sphinx writes it is skipped like <footer>.
        "<div class='footer' role='contentinfo'>&#169; Copyright 2023. Created using Sphinx 5.3.0.</div></body></html>",
        encoding="utf-8",
    )
    document = load_document(path, MAX_BYTES)
    assert document.title == "Page title"
    assert document.text == "Heading\n\nFirst paragraph bold.\n\nItem one\n\nItem two"
    assert "secret" not in document.text and "Menu" not in document.text and "Footer" not in document.text


def test_credit_lines_at_the_edges_are_front_and_back_matter(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "Porting notes\n\nReference Team <reference@lists.example.org>\n\n"
        "Porters build packages for every architecture the archive supports.\n\n"
        "Each build runs in a clean chroot, so missing build dependencies show up at once.\n\n"
        "A failed build is retried after its dependencies reach the archive.\n\n"
        "(c) 2023 the porters. Built with DocTool 5.3.\n",
        encoding="utf-8",
    )
    kinds = block_kinds(notes)
    assert kinds["Reference Team <reference@lists.example.org>"] == "meta"
    assert kinds["(c) 2023 the porters. Built with DocTool 5.3."] == "meta"
    assert kinds["Porters build packages for every architecture the archive supports."] == "text"


def test_html_inline_pieces_join_as_written_and_invisible_characters_go(tmp_path: Path) -> None:
    path = tmp_path / "inline.html"
    path.write_text(
        "<html><body><div>Debian 11 <a href='#'>Bullseye</a>, the codename, uses "
        "<code>deb.debian.org</code>.<div class='url'>https://deb.debian.org/</div></div>"
        "<p>Создать проект…\u200b из меню</p></body></html>",
        encoding="utf-8",
    )
    text = load_document(path, MAX_BYTES).text
    assert "Debian 11 Bullseye, the codename, uses deb.debian.org." in text
    assert "Создать проект… из меню" in text and "\u200b" not in text


def test_html_table_rows_with_paragraph_cells_stay_one_line(tmp_path: Path) -> None:
    cell = "<td class='tableblock'><p class='tableblock'>{}</p></td>"
    rows = "".join(
        "<tr>" + "".join(cell.format(value) for value in row) + "</tr>"
        for row in [("New Project…", "Ctrl+N", "Create new blank project"), ("Open", "Ctrl+O", "Open a project")]
    )
    path = tmp_path / "hotkeys.html"
    path.write_text(f"<html><body><table><tbody>{rows}</tbody></table></body></html>", encoding="utf-8")
    document = load_document(path, MAX_BYTES)
    assert document.text.split("\n\n") == [
        "New Project… | Ctrl+N | Create new blank project",
        "Open | Ctrl+O | Open a project",
    ]
    assert [block.kind for block in document.blocks] == ["item", "item"]


def test_html_block_titles_are_context_not_answers(tmp_path: Path) -> None:
    path = tmp_path / "figure.html"
    path.write_text(
        "<html><body><p>SSH can forward a local port to a remote machine so that traffic goes through it.</p>"
        "<div class='figure'><p class='title'><strong>Figure 9.3. Forwarding a local port with SSH</strong></p>"
        "<img src='x.png'></div><p>The next paragraph explains the options in detail.</p>"
        "<dl><dt>update</dt><dd>Updates the list of available packages.</dd></dl></body></html>",
        encoding="utf-8",
    )
    kinds = block_kinds(path)
    assert kinds["Figure 9.3. Forwarding a local port with SSH"] == "title"
    # A definition's term names what it describes (a command, an option): a kind of its own.
    assert kinds["update"] == "term"


def test_html_short_captions_are_context_and_long_ones_prose(tmp_path: Path) -> None:
    long_caption = (
        "The left image shows the layer before the filter; the right one shows how the edges were raised "
        "and the flat areas turned grey."
    )
    path = tmp_path / "emboss.html"
    path.write_text(
        "<html><body><p>The Emboss filter stamps the image into a metal-like relief.</p>"
        "<div class='mediaobject'><img src='a.jpg'><div class='caption'><p>Original image</p></div></div>"
        "<figure><img src='b.jpg'><figcaption>After applying the filter</figcaption></figure>"
        f"<figure><img src='c.jpg'><figcaption>{long_caption}</figcaption></figure>"
        "<table><caption>Filter parameters</caption><tr><td>Azimuth</td><td>Light direction</td></tr></table>"
        "</body></html>",
        encoding="utf-8",
    )
    kinds = block_kinds(path)
    # A picture's caption tells what the reader of a quote cannot see: no answer by itself.
    assert kinds["Original image"] == kinds["After applying the filter"] == kinds["Filter parameters"] == "caption"
    assert kinds[long_caption] == "text"
    assert kinds["The Emboss filter stamps the image into a metal-like relief."] == "text"


@pytest.mark.parametrize(
    ("name", "title", "expected"),
    [
        ("kicad.html", "KiCad", "KiCad"),
        ("field_notes.html", "field_notes", "field notes"),
        ("field_notes.html", "Field_Notes.HTML", "field notes"),
    ],
)
def test_html_title_is_kept_unless_it_is_the_file_name(tmp_path: Path, name: str, title: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(f"<html><head><title>{title}</title></head><body><p>Some text here.</p></body></html>")
    assert load_document(path, MAX_BYTES).title == expected


def test_pdf_with_a_text_layer_is_read(tmp_path: Path) -> None:
    path = write_text_pdf(
        tmp_path / "report.pdf", ["The reactor was built in 1987.", "It was closed in 2011."], title="Reactor report"
    )
    document = load_document(path, MAX_BYTES)
    assert "The reactor was built in 1987." in document.text
    assert "It was closed in 2011." in document.text
    assert document.title == "Reactor report"


def gzip_copy(path: Path) -> Path:
    """Write `path` compressed with gzip next to it, as Debian ships documentation ("FAQ.txt.gz")."""
    packed = path.with_name(path.name + ".gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    return packed


def test_gzipped_files_read_as_their_inner_type(tmp_path: Path) -> None:
    text = tmp_path / "solar.md"
    text.write_text(ENGLISH, encoding="utf-8")
    html = tmp_path / "page.html"
    html.write_text("<html><head><title>Garden</title></head><body><h1>Garden</h1><p>It grows.</p></body></html>")
    pdf = write_text_pdf(tmp_path / "report.pdf", ["The reactor was built in 1987."], title="Reactor report")
    for path in (text, html, pdf):
        plain, packed = load_document(path, MAX_BYTES), load_document(gzip_copy(path), MAX_BYTES)
        assert (packed.text, packed.title, packed.blocks) == (plain.text, plain.title, plain.blocks)
        assert packed.source.endswith(".gz")
    # With no title inside, the name without .gz is used, as for the plain file.
    untitled = tmp_path / "release_notes.txt"
    untitled.write_text("one two three four five six seven eight nine ten eleven twelve.\n", encoding="utf-8")
    assert load_document(gzip_copy(untitled), MAX_BYTES).title == "release notes"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.txt.gz", b"\x1f\x8b not really gzip", "not a readable gzip file"),
        ("cut.txt.gz", gzip.compress("Текст, обрезанный посередине. ".encode() * 50)[:40], "not a readable gzip file"),
        ("table.csv.gz", gzip.compress(b"a,b\n1,2\n"), "unsupported file type"),
        ("bomb.txt.gz", gzip.compress(b"a" * (MAX_BYTES + 10)), "unpacked, it is over the 10 MiB limit"),
        ("binary.txt.gz", gzip.compress(b"\x00\x01\x02\x03 binary \x00"), "binary"),
    ],
)
def test_unreadable_gzipped_files_are_refused_with_the_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert path.stat().st_size < MAX_BYTES
    with pytest.raises(UserInputError, match=reason) as caught:
        load_document(path, MAX_BYTES)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "is empty"),
        ("blank.md", b" \n\n\t\n", "is empty"),
        ("binary.txt", b"\x00\x01\x02\x03 binary \x00", "binary"),
        ("latin1.txt", "café au lait, crème brûlée".encode("latin-1"), "not UTF-8"),
        ("fake.pdf", b"this is not a pdf at all", "not a readable PDF"),
        ("table.csv", b"a,b\n1,2\n", "unsupported file type"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UserInputError, match=reason) as caught:
        load_document(path, MAX_BYTES)
    assert "\n" not in str(caught.value)


def test_pdf_without_a_text_layer_says_to_run_ocr(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no text layer.*OCR"):
        load_document(write_blank_pdf(tmp_path / "scan.pdf"), MAX_BYTES)


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("слово " * 1000, encoding="utf-8")
    with pytest.raises(UserInputError, match="CITECHAT_MAX_FILE_MB"):
        load_document(path, max_bytes=100)


def test_discovery_recurses_skips_hidden_and_unsupported_and_reports_missing(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    names = ("a.txt", "sub/b.md", "sub/c.HTML", "sub/d.pdf", ".git/e.txt", "sub/f.csv", "sub/.g.txt")
    for name in (*names, "sub/h.txt.gz", "sub/i.tar.gz", "sub/j.gz"):
        (folder / name).write_text("x", encoding="utf-8")
    found, missing = discover_files([folder, folder / "a.txt", tmp_path / "nope.txt"])
    assert [path.relative_to(folder).as_posix() for path in found] == [
        "a.txt",
        "sub/b.md",
        "sub/c.HTML",
        "sub/d.pdf",
        "sub/h.txt.gz",
    ]
    assert [report.status for report in missing] == ["failed"]
    assert "no such file" in missing[0].error


# --- ingestion into the store --------------------------------------------------------------------------


def test_ingest_stores_metadata_and_exact_spans(tmp_path: Path, ingestor: Ingestor, store: ChunkStore) -> None:
    path = tmp_path / "solar.md"
    path.write_text(ENGLISH, encoding="utf-8")
    report = ingestor.ingest([path])
    assert [(r.status, r.chunks) for r in report.files] == [("added", 1)]
    source = str(path.resolve())
    records = chunk_records(store, source)
    assert len(records) == 1
    (metadata,) = records.values()
    assert metadata["source"] == source
    assert metadata["title"] == "The Solar Garden Project"
    assert metadata["content_hash"] == load_document(path, MAX_BYTES).content_hash
    assert metadata["paragraph_index"] == 0
    (node,) = store.get_chunks(list(records))
    assert ENGLISH[metadata["start"] : metadata["end"]] == node.get_content()
    sentences = store.sentences_of(list(records))[next(iter(records))]
    assert len(sentences) == 4
    assert all(ENGLISH[s.start : s.end] == s.text for s in sentences)
    assert store.documents()[0].model_dump() == {
        "source": source,
        "title": "The Solar Garden Project",
        "chunks": 1,
        "content_hash": metadata["content_hash"],
    }
    assert store.built_with() == ingestor.embedder.name


HELP_PAGES = {
    "emboss": (
        "Барельеф",
        "Фильтр «Барельеф» придаёт изображению рельеф: светлые участки выглядят приподнятыми, "
        "тёмные — вдавленными. Направление освещения задаётся азимутом и высотой.",
    ),
    "airbrush": (
        "Аэрограф",
        "Инструмент «Аэрограф» имитирует распылитель краски: чем дольше держать кнопку мыши, "
        "тем плотнее слой краски. Нажим и скорость задаются в параметрах инструмента.",
    ),
    "blur": (
        "Размывание",
        "Фильтр «Размывание» смешивает каждую точку с соседними и сглаживает переходы. Радиус "
        "задаёт, насколько далеко берутся соседи.",
    ),
    "lens": (
        "Блик линзы",
        "Фильтр «Блик линзы» добавляет на изображение блик, как при съёмке против солнца. Центр "
        "блика выбирается щелчком по предпросмотру.",
    ),
}


def test_an_index_page_of_links_ranks_below_the_pages_it_points_to(
    tmp_path: Path, ingestor: Ingestor, store: ChunkStore, embedder: Embedder
) -> None:
    # A help site's subject index names every topic (and wins dense search on it) but explains none.
    site = tmp_path / "help"
    site.mkdir()
    entries = []
    for name, (title, body) in HELP_PAGES.items():
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{body}</p></body></html>"
        (site / f"{name}.html").write_text(page, encoding="utf-8")
        links = f'<a href="{name}.html">Фильтр {title}</a>, <a href="{name}.html#options">Параметры: {title}</a>'
        entries.append(f"<dt>{title}, {links}</dt>")
    index = f"<html><body><h1>Предметный указатель</h1><dl>{''.join(entries)}</dl></body></html>"
    (site / "index.html").write_text(index, encoding="utf-8")
    ingestor.ingest([site])

    shares = {
        Path(metadata["source"]).stem: metadata["link_share"]
        for document in store.documents()
        for metadata in chunk_records(store, document.source).values()
    }
    assert shares.pop("index") > 0.6
    assert set(shares.values()) == {0.0}
    retriever = HybridRetriever(store, embedder, top_k=4)
    for name, question in [("emboss", "Что делает фильтр Барельеф?"), ("lens", "Что такое блик линзы?")]:
        ranked = [Path(passage.source).stem for passage in retriever.search(question).passages]
        assert ranked[0] == name, (question, ranked)
        assert "index" not in ranked[:2], (question, ranked)


def test_reingesting_an_unchanged_file_changes_nothing(tmp_path: Path, ingestor: Ingestor, store: ChunkStore) -> None:
    path = tmp_path / "doc.txt"
    path.write_text("\n\n".join(f"Абзац {i}. В нём говорится о теме {i}." for i in range(30)), encoding="utf-8")
    first = ingestor.ingest([path])
    source = str(path.resolve())
    ids, sentences, revision = (
        sorted(chunk_records(store, source)),
        sorted(sentence_ids(store, source)),
        store.revision(),
    )
    second = ingestor.ingest([path])
    assert first.files[0].status == "added" and second.files[0].status == "unchanged"
    assert second.files[0].chunks == first.files[0].chunks == len(ids) > 1
    assert sorted(chunk_records(store, source)) == ids
    assert sorted(sentence_ids(store, source)) == sentences
    assert store.revision() == revision
    assert store.count() == len(ids)


def test_a_changed_file_replaces_its_chunks(tmp_path: Path, ingestor: Ingestor, store: ChunkStore) -> None:
    path = tmp_path / "doc.txt"
    other = tmp_path / "other.txt"
    other.write_text("Другой документ. Он не меняется.", encoding="utf-8")
    path.write_text("\n\n".join(f"Старый абзац {i}. Текст версии один." for i in range(20)), encoding="utf-8")
    ingestor.ingest([path, other])
    source = str(path.resolve())
    old_ids = set(chunk_records(store, source))
    old_sentences = set(sentence_ids(store, source))
    new_text = "Новая версия. Совсем короткая."
    path.write_text(new_text, encoding="utf-8")
    report = ingestor.ingest([path])
    assert [(r.status, r.chunks) for r in report.files] == [("updated", 1)]
    records = chunk_records(store, source)
    assert len(records) == 1 and not set(records) & old_ids
    assert not set(sentence_ids(store, source)) & old_sentences
    assert len(sentence_ids(store, source)) == 2
    (node,) = store.get_chunks(list(records))
    assert node.get_content() == new_text
    assert store.count() == 2  # the new version plus the untouched other document
    assert {doc.source for doc in store.documents()} == {source, str(other.resolve())}


def test_remove_deletes_a_document_or_a_folder(tmp_path: Path, ingestor: Ingestor, store: ChunkStore) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Первый файл. О Японии.", encoding="utf-8")
    (folder / "sub" / "b.txt").write_text("Второй файл. О Казахстане.", encoding="utf-8")
    (tmp_path / "keep.txt").write_text("Оставить. Этот файл.", encoding="utf-8")
    ingestor.ingest([folder, tmp_path / "keep.txt"])
    assert store.count() == 3
    report = ingestor.remove([folder / "sub" / "b.txt"])
    assert [(r.status, r.chunks) for r in report.files] == [("removed", 1)]
    assert not sentence_ids(store, str((folder / "sub" / "b.txt").resolve()))
    report = ingestor.remove([folder, tmp_path / "never.txt"])
    assert [r.status for r in report.files] == ["removed", "failed"]
    assert [doc.source for doc in store.documents()] == [str((tmp_path / "keep.txt").resolve())]


def test_bad_files_are_skipped_and_the_rest_ingested(tmp_path: Path, ingestor: Ingestor, store: ChunkStore) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Хороший файл. Его можно прочитать.", encoding="utf-8")
    ingestor.ingest([good])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02")
    (bad / "empty.md").write_bytes(b"")
    (bad / "latin1.txt").write_bytes("crème".encode("latin-1"))
    write_blank_pdf(bad / "scan.pdf")
    (bad / "page.html").write_text("<p>Страница в HTML. Её тоже читают.</p>", encoding="utf-8")
    write_text_pdf(bad / "text.pdf", ["A real PDF line."])
    report = ingestor.ingest([bad, tmp_path / "missing.txt"])
    statuses = {Path(r.path).name: r.status for r in report.files}
    assert statuses == {
        "missing.txt": "failed",
        "binary.txt": "failed",
        "empty.md": "failed",
        "latin1.txt": "failed",
        "scan.pdf": "failed",
        "page.html": "added",
        "text.pdf": "added",
    }
    assert {Path(doc.source).name for doc in store.documents()} == {"good.txt", "page.html", "text.pdf"}


def test_progress_is_reported_per_file(tmp_path: Path, ingestor: Ingestor) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"Файл {name}. Текст.", encoding="utf-8")
    seen = []
    ingestor.ingest([tmp_path], progress=lambda number, total, report: seen.append((number, total, report.status)))
    assert seen == [(1, 2, "added"), (2, 2, "added")]


def test_each_file_is_read_once_unless_the_kept_text_is_over_its_bound(
    tmp_path: Path, ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.pipeline

    for name in ("a.html", "b.html", "c.html"):
        (tmp_path / name).write_text(f"<html><body><p>Страница {name}. Текст страницы.</p></body></html>")
    reads: list[str] = []

    def counting_load(path: Path, max_bytes: int) -> object:
        reads.append(path.name)
        return load_document(path, max_bytes)

    monkeypatch.setattr(ingest.pipeline, "load_document", counting_load)
    ingestor.ingest([tmp_path])
    # The reading pass parses each file; the writing pass reuses what it read.
    assert sorted(reads) == ["a.html", "b.html", "c.html"]
    # Past the bound on kept text, the files beyond it are read again when written.
    reads.clear()
    monkeypatch.setattr(ingest.pipeline, "KEPT_PLAN_CHARS", 1)
    for name in ("a.html", "b.html", "c.html"):
        (tmp_path / name).write_text(f"<html><body><p>Новая страница {name}.</p></body></html>")
    report = ingestor.ingest([tmp_path])
    assert [file.status for file in report.files] == ["updated"] * 3
    assert sorted(reads) == ["a.html", "a.html", "b.html", "b.html", "c.html", "c.html"]


def test_reindex_rebuilds_from_recorded_sources(tmp_path: Path, ingestor: Ingestor, store: ChunkStore) -> None:
    path = tmp_path / "doc.txt"
    path.write_text("Документ для переиндексации. Второе предложение.", encoding="utf-8")
    ingestor.ingest([path])
    ids = sorted(chunk_records(store, str(path.resolve())))
    report = ingestor.reindex()
    assert [r.status for r in report.files] == ["added"]
    assert sorted(chunk_records(store, str(path.resolve()))) == ids
    assert store.count() == 1


# --- writes cut short ------------------------------------------------------------------------------------

FILLER = "\n\n".join(f"Абзац {i} рассказывает о погоде в горах и о дорогах между сёлами." for i in range(24))


def meeting_text(city: str) -> str:
    """A several-chunk document whose one fact (where the meeting was) differs between versions."""
    return f"{FILLER}\n\nВстреча министров прошла в городе {city}.\n\n{FILLER}"


def fail_on_call(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, call: int) -> None:
    """Make the `call`-th call of `owner.name` raise, as if the process died there; earlier calls go through."""
    original = getattr(owner, name)
    calls = []

    def failing(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == call:
            raise ConnectionError("simulated crash")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


def cut_short(monkeypatch: pytest.MonkeyPatch, store: ChunkStore, where: str) -> None:
    """Break the next document write at `where`: its sentence write, or its head chunk after the other chunks."""
    if where == "sentences":
        fail_on_call(monkeypatch, store._sentences, "upsert", 1)
    else:
        fail_on_call(monkeypatch, store._chunks, "add", 2)  # the rest of the chunks first, the head last


def retrieved_hashes(store: ChunkStore, embedder: Embedder, question: str) -> set[str]:
    """Return the content hashes of the chunks retrieval finds for `question`."""
    retriever = HybridRetriever(store, embedder, top_k=4)
    passages = retriever.search(question).passages
    return {str(node.metadata["content_hash"]) for node in store.get_chunks([p.chunk_id for p in passages])}


@pytest.mark.parametrize("where", ["sentences", "head"])
def test_a_changed_file_cut_short_keeps_the_old_version_until_reingested(
    tmp_path: Path,
    ingestor: Ingestor,
    store: ChunkStore,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    path = tmp_path / "meeting.txt"
    path.write_text(meeting_text("Алматы"), encoding="utf-8")
    (first,) = ingestor.ingest([path]).files
    old = load_document(path, MAX_BYTES).content_hash
    path.write_text(meeting_text("Астана"), encoding="utf-8")
    new = load_document(path, MAX_BYTES).content_hash
    with monkeypatch.context() as patch:
        cut_short(patch, store, where)
        with pytest.raises(IngestStopped) as stopped:
            ingestor.ingest([path])
    assert stopped.value.report.not_attempted == [str(path)]
    if where == "head":  # the other chunks of the new version are stored, but nobody reads them
        assert {m["content_hash"] for m in chunk_records(store, str(path.resolve())).values()} == {old, new}
    assert [(d.content_hash, d.chunks) for d in store.documents()] == [(old, first.chunks)]
    assert retrieved_hashes(store, embedder, "Где прошла встреча министров?") == {old}

    (again,) = ingestor.ingest([path]).files
    assert again.status == "updated"
    records = chunk_records(store, str(path.resolve()))
    assert {m["content_hash"] for m in records.values()} == {new} and len(records) == again.chunks
    assert set(store.sentences_of(list(records))) == set(records)  # every chunk has its sentences
    assert [(d.content_hash, d.chunks) for d in store.documents()] == [(new, again.chunks)]
    assert retrieved_hashes(store, embedder, "Где прошла встреча министров?") == {new}
    assert ingestor.ingest([path]).files[0].status == "unchanged"


def test_a_new_file_cut_short_is_not_listed_and_is_added_by_the_next_ingest(
    tmp_path: Path, ingestor: Ingestor, store: ChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "meeting.txt"
    path.write_text(meeting_text("Бишкек"), encoding="utf-8")
    with monkeypatch.context() as patch:
        cut_short(patch, store, "head")
        with pytest.raises(IngestStopped):
            ingestor.ingest([path])
    assert store.count() > 0 and store.documents() == []
    assert [r.status for r in ingestor.ingest([path]).files] == ["added"]
    assert [d.source for d in store.documents()] == [str(path.resolve())]


def test_a_document_without_its_sentences_is_rewritten_not_unchanged(
    tmp_path: Path, ingestor: Ingestor, store: ChunkStore
) -> None:
    # What a crash between the chunk and the sentence write left before the head chunk came last.
    path = tmp_path / "meeting.txt"
    path.write_text(meeting_text("Душанбе"), encoding="utf-8")
    ingestor.ingest([path])
    source = str(path.resolve())
    store._sentences.delete(where={"source": source})
    assert [r.status for r in ingestor.ingest([path]).files] == ["updated"]
    records = chunk_records(store, source)
    assert set(store.sentences_of(list(records))) == set(records)


# --- progress ---------------------------------------------------------------------------------------------


def test_progress_counts_chunks_across_files_with_a_rate_and_an_eta(
    tmp_path: Path, store: ChunkStore, embedder: Embedder
) -> None:
    (tmp_path / "a-small.txt").write_text("Короткий файл. Всего две фразы.", encoding="utf-8")
    (tmp_path / "b-large.txt").write_text(meeting_text("Ташкент"), encoding="utf-8")
    seen: list[IngestProgress] = []
    report = Ingestor(store, embedder, chunk_chars=200).ingest([tmp_path], watch=seen.append)
    written = sum(item.chunks for item in report.files)
    assert written > PROGRESS_CHUNKS  # the large file alone spans several progress steps
    reading = [event for event in seen if event.reading]
    assert [(event.files_read, event.files_total) for event in reading] == [(1, 2), (2, 2)]
    assert reading[0].describe() == "ingest: reading 1/2 files · a-small.txt"
    writing = [event for event in seen if not event.reading]
    assert writing[-1].chunks_done == writing[-1].chunks_total == written
    assert all(event.chunks_total == written for event in writing)
    done = [event.chunks_done for event in writing]
    assert done == sorted(done) and len([event for event in writing if event.path.endswith("b-large.txt")]) >= 2
    assert all(event.rate > 0 and event.eta_s is not None for event in writing)
    assert re.fullmatch(
        rf"ingest: {written}/{written} chunks · \d+\.\d chunks/s · ETA 0s · b-large\.txt", writing[-1].describe()
    )


@pytest.mark.parametrize(("seconds", "shown"), [(0.4, "0s"), (7, "7s"), (92, "1m32s"), (3725, "1h02m")])
def test_durations_are_short(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown
